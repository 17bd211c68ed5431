//! The one error type of `vouch-store`.

use std::path::PathBuf;

/// Everything a storage call can fail with. Callers match on the variant: a
/// [`StoreError::Conflict`] means another writer won, anything else is an outage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key is not a valid relative object path.
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// A local file operation failed.
    #[error("i/o error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A remote (or in-memory) object store call failed.
    #[error("object store error on {key}")]
    Object {
        key: String,
        #[source]
        source: object_store::Error,
    },
    /// The lock database failed or was unreachable.
    #[error("lock database error during {op}")]
    Database {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The stored checkpoint is not the one the caller expected: another writer
    /// committed first. `found` is what is stored now.
    #[error("checkpoint of log {log:?} changed under us (compare-and-swap lost)")]
    Conflict { log: String, found: Option<Vec<u8>> },
    /// Another process has this SQLite lock database open as a server
    /// ([`crate::SqliteLock::claim_process`]). `holder` is what it recorded about
    /// itself (process id, host, start time).
    #[error(
        "another process serves this SQLite lock database ({holder}); SQLite is the \
         single-node backend, one `vouch serve` per database file: stop that one, give \
         this one its own data, or move the lock database to PostgreSQL to run several \
         nodes"
    )]
    SequencerHeld { holder: String },
    /// A fenced compare-and-swap was refused: the sequencer lease no longer has the
    /// caller's epoch (another node took over) or it expired by the database's clock.
    /// Nothing was changed; the caller is no longer the sequencer.
    #[error(
        "sequencer epoch {epoch} no longer holds the lease (current epoch: {current:?}, or \
         it expired): the checkpoint of log {log:?} was not changed"
    )]
    Fenced {
        log: String,
        epoch: i64,
        current: Option<i64>,
    },
    /// `create` found a checkpoint already stored for this log.
    #[error("log {log:?} already has a checkpoint")]
    AlreadyExists { log: String },
    /// The lock table does not exist and this process may not create it (not `--dev`).
    #[error(
        "lock table {table} does not exist: initialise the deployment with \
         `vouch admin init --config FILE` (it runs every migration, the lock table included)"
    )]
    MissingSchema { table: &'static str },
    /// The configuration names a backend that cannot be built.
    #[error("bad object store configuration: {reason}")]
    Config { reason: String },
    /// A create-if-absent write found the key holding different bytes: another writer
    /// put something else there first, and nothing was replaced.
    #[error(
        "object {key} already exists with different bytes ({existing} bytes stored, \
         {offered} offered); create-if-absent writes never replace an object"
    )]
    Differs {
        key: String,
        existing: usize,
        offered: usize,
    },
    /// A fault injected by [`crate::faulty`]; only tests see this.
    #[error("injected fault in {op} ({when})")]
    Injected {
        op: &'static str,
        when: crate::faulty::FaultPoint,
    },
}

impl StoreError {
    /// The stable code of this error (`STORE_E…`, owned by this crate with the
    /// metadata store's `META_E…` and the blob store's `BLOB_E…`). Never renumbered or
    /// reused.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::InvalidKey { .. } => "STORE_E001",
            StoreError::Io { .. } => "STORE_E002",
            StoreError::Object { .. } => "STORE_E003",
            StoreError::Database { .. } => "STORE_E004",
            StoreError::Conflict { .. } => "STORE_E005",
            StoreError::SequencerHeld { .. } => "STORE_E006",
            StoreError::AlreadyExists { .. } => "STORE_E007",
            StoreError::MissingSchema { .. } => "STORE_E008",
            StoreError::Config { .. } => "STORE_E009",
            StoreError::Injected { .. } => "STORE_E010",
            StoreError::Differs { .. } => "STORE_E011",
            StoreError::Fenced { .. } => "STORE_E012",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    /// A key that escapes the store is refused with its code.
    #[test]
    fn errors_have_stable_codes() {
        let e = crate::ObjectKey::new("../escape").unwrap_err();
        assert_eq!(e.code(), "STORE_E001");
        let e = crate::StoreError::Config { reason: "x".into() };
        assert_eq!(e.code(), "STORE_E009");
    }
}
