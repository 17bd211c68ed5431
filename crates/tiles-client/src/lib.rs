//! Reading any C2SP tlog-tiles log over HTTP: checkpoints, tiles, proofs, witnesses, monitoring state.
//!
//! - [`tiles`]: [`TileClient`], a read-only client for any tlog-tiles log: the
//!   checkpoint, hash tiles (partial tiles with a full-tile fallback), entry bundles, and
//!   inclusion / consistency proofs computed from fetched tiles.
//! - [`witness`]: [`WitnessClient`], the tlog-witness `add-checkpoint` call.
//! - [`monitor`]: [`MonitorState`], what a monitor has seen of a log, checked and
//!   persisted atomically (temp file, fsync, rename, fsync of the directory).
//! - [`ops`]: the `vouch log` operations (checkpoint, inclusion, consistency, proof
//!   files, monitoring) as calls that return what they verified, with coded errors;
//!   each result renders itself as the command's `--json` object and text lines.
//!
//! All cryptographic decisions are made by `vouch-tlog`; this crate only moves bytes and
//! bounds how many it accepts.

pub mod monitor;
pub mod ops;
mod render;
pub mod tiles;
pub mod witness;

pub use monitor::{MonitorState, Observation};
pub use tiles::TileClient;
pub use witness::WitnessClient;

/// Errors of the HTTP clients and the monitor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be made or the response not read.
    #[error("request to {url} failed: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an unexpected status.
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    /// The response body exceeded what the resource may hold.
    #[error("{url} returned more than {max} bytes")]
    TooLarge { url: String, max: usize },
    /// A base URL that cannot be used.
    #[error("invalid log url {url:?}: {reason}")]
    Url { url: String, reason: &'static str },
    /// A format or verification error from the tlog core.
    #[error(transparent)]
    Tlog(#[from] vouch_tlog::Error),
    /// The log showed two different roots for one size: a fork.
    #[error("fork: tree size {size} had root {seen} and now {found}")]
    Fork {
        size: u64,
        seen: vouch_tlog::Hash,
        found: vouch_tlog::Hash,
    },
    /// The log's checkpoint is smaller than one already seen.
    #[error("rollback: tree size {found} is smaller than the {seen} already seen")]
    Rollback { seen: u64, found: u64 },
    /// The log's new checkpoint is not consistent with the one seen before.
    #[error("checkpoint of size {new} is not consistent with size {old} seen before: {source}")]
    Inconsistent {
        old: u64,
        new: u64,
        #[source]
        source: vouch_tlog::Error,
    },
    /// A witness reported a different latest size (409).
    #[error("witness has size {latest} as latest cosigned checkpoint")]
    WitnessConflict { latest: u64 },
    /// A witness refused the checkpoint.
    #[error("witness refused the checkpoint with status {status}: {body}")]
    WitnessRefused { status: u16, body: String },
    /// The monitor state file could not be read or written.
    #[error("monitor state {path}: {source}")]
    State {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The monitor state file is not valid.
    #[error("monitor state {path} is invalid: {reason}")]
    StateFormat { path: String, reason: String },
}

impl Error {
    /// The stable code of this error (`TILES_E…`, owned by this crate; a core error
    /// keeps its `TLOG_E…` code). Never renumbered or reused.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Http { .. } => "TILES_E001",
            Error::Status { .. } => "TILES_E002",
            Error::TooLarge { .. } => "TILES_E003",
            Error::Url { .. } => "TILES_E004",
            Error::Tlog(e) => e.code(),
            Error::Fork { .. } => "TILES_E005",
            Error::Rollback { .. } => "TILES_E006",
            Error::Inconsistent { .. } => "TILES_E007",
            Error::WitnessConflict { .. } => "TILES_E008",
            Error::WitnessRefused { .. } => "TILES_E009",
            Error::State { .. } => "TILES_E010",
            Error::StateFormat { .. } => "TILES_E011",
        }
    }

    /// Whether the error shows the log misbehaving (fork, rollback, inconsistency), as
    /// opposed to a network or input problem.
    pub fn is_log_misbehaviour(&self) -> bool {
        matches!(
            self,
            Error::Fork { .. } | Error::Rollback { .. } | Error::Inconsistent { .. }
        )
    }
}

#[cfg(test)]
mod code_tests {
    use super::*;

    /// Client failures carry `TILES_E` codes; a core error keeps its `TLOG_E` one.
    #[test]
    fn errors_have_stable_codes() {
        let e = TileClient::new("ftp://log.example").unwrap_err();
        assert_eq!(e.code(), "TILES_E004");
        let core = Error::from(vouch_tlog::Error::Hex);
        assert_eq!(core.code(), "TLOG_E002");
        assert_eq!(Error::Rollback { seen: 2, found: 1 }.code(), "TILES_E006");
    }
}
