//! The one error type of `vouch-log`.

use std::sync::Arc;

use vouch_store::StoreError;

/// Why an append, a recovery or a proof failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The entry cannot be stored: an entry bundle prefixes each entry with a uint16
    /// length, so 65,535 bytes is the hard limit (tlog-tiles). vouch refuses, it never
    /// truncates or splits.
    #[error("entry of {size} bytes is over the {max}-byte limit of entry bundles")]
    EntryTooLarge { size: usize, max: usize },
    /// The pool of entries waiting for the next commit is full; retry after the hint.
    #[error("the log's sequencing pool is full; retry in {retry_after_ms} ms")]
    PoolFull { retry_after_ms: u64 },
    /// The log was shut down (or its sequencer stopped after a fatal error).
    #[error("the log is not accepting entries (shut down or failed)")]
    Closed,
    /// The batch this entry was in could not be committed; the entry is not logged.
    #[error("the batch holding this entry failed to commit")]
    BatchFailed {
        #[source]
        cause: Arc<LogError>,
    },
    /// Another sequencer committed a checkpoint we did not expect: this process is no
    /// longer the log's sequencer and stopped.
    #[error("another sequencer committed tree size {found_size} while we held {ours}")]
    LostLock { ours: u64, found_size: u64 },
    /// This node is no longer the log's sequencer: its lease epoch was fenced out (another
    /// node took the lease, or it expired) or it lost the checkpoint swap. It commits and
    /// publishes nothing more; entries go to the current leader.
    #[error(
        "this node is no longer the log's sequencer (lease epoch {epoch:?} fenced out or \
         the checkpoint swap lost); send entries to the current leader"
    )]
    SteppedDown { epoch: Option<i64> },
    /// There is no checkpoint for this origin and this process may not create one.
    #[error(
        "log {origin:?} has no checkpoint in the lock database: initialise the deployment \
         with `vouch admin init --config FILE` (it creates the log and its first checkpoint)"
    )]
    NotInitialized { origin: String },
    /// Stored state contradicts itself (e.g. the tiles do not hash to the checkpoint's root).
    #[error("stored log state is inconsistent: {what} (expected {expected}, found {found})")]
    Inconsistent {
        what: &'static str,
        expected: String,
        found: String,
    },
    /// A tile or bundle the tree size implies is missing from the object store.
    #[error("object {key} is missing from the object store")]
    Missing { key: String },
    /// An index or size past the committed tree.
    #[error("{what} {value} is out of range for tree size {size}")]
    OutOfRange {
        what: &'static str,
        value: u64,
        size: u64,
    },
    /// The integration task panicked (a bug); the batch was not committed.
    #[error("the integration task panicked")]
    TaskPanicked,
    /// Storage failed.
    #[error("storage failed")]
    Store(#[from] StoreError),
    /// Parsing, signing or proof computation failed in the tlog core.
    #[error("transparency log core")]
    Tlog(#[from] vouch_tlog::Error),
}

impl LogError {
    /// The stable code of this error (`SEQ_E…`, owned by this crate; the CLI's `vouch
    /// log` owns `LOG_E…`). Never renumbered or reused. The HTTP edge answers with its
    /// own `SERVE_E…` codes for these (`vouch_registry::ApiError`).
    pub fn code(&self) -> &'static str {
        match self {
            LogError::EntryTooLarge { .. } => "SEQ_E001",
            LogError::PoolFull { .. } => "SEQ_E002",
            LogError::Closed => "SEQ_E003",
            LogError::BatchFailed { .. } => "SEQ_E004",
            LogError::LostLock { .. } => "SEQ_E005",
            LogError::NotInitialized { .. } => "SEQ_E006",
            LogError::Inconsistent { .. } => "SEQ_E007",
            LogError::Missing { .. } => "SEQ_E008",
            LogError::OutOfRange { .. } => "SEQ_E009",
            LogError::TaskPanicked => "SEQ_E010",
            LogError::Store(_) => "SEQ_E011",
            LogError::Tlog(_) => "SEQ_E012",
            LogError::SteppedDown { .. } => "SEQ_E013",
        }
    }

    /// Whether retrying the same request later may succeed (pool full, transient batch
    /// failure) as opposed to a request that will never be accepted.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LogError::PoolFull { .. } | LogError::BatchFailed { .. } | LogError::SteppedDown { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are `SEQ_E`, distinct per variant, and a wrapped storage failure
    /// keeps its own code in the source.
    #[test]
    fn errors_have_stable_codes() {
        let store = vouch_store::ObjectKey::new("../x").unwrap_err();
        assert_eq!(store.code(), "STORE_E001");
        assert_eq!(LogError::from(store).code(), "SEQ_E011");
        assert_eq!(LogError::Closed.code(), "SEQ_E003");
        assert_eq!(LogError::PoolFull { retry_after_ms: 1 }.code(), "SEQ_E002");
        assert_eq!(LogError::TaskPanicked.code(), "SEQ_E010");
    }
}
