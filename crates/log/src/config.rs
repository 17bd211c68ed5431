//! `LogConfig`: the tuning knobs of one log, with the defaults the benchmarks were run with.

use std::time::Duration;

/// How one log sequences. All fields have defaults ([`LogConfig::new`]); `origin` is the
/// checkpoint origin line and the log's key in the lock table.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogConfig {
    /// Checkpoint origin, e.g. `log.example.org/vouch`.
    pub origin: String,
    /// A batch is sequenced at most this long after the previous one started, unless
    /// `batch_max_entries` fill up first.
    pub batch_interval: Duration,
    /// Most entries in one batch (one commit).
    pub batch_max_entries: usize,
    /// Most entries waiting in the pool; past this `add` answers [`crate::LogError::PoolFull`].
    pub pool_max_entries: usize,
    /// Most bytes waiting in the pool (entries are up to 64 KiB, so entries alone do not
    /// bound memory).
    pub pool_max_bytes: usize,
    /// How long a superseded partial tile or bundle stays after the batch that
    /// superseded it committed, for reads already in flight (see [`crate::sweep`]).
    /// Matches the partial tiles' `max-age`.
    pub partial_grace: Duration,
}

impl LogConfig {
    pub fn new(origin: impl Into<String>) -> Self {
        LogConfig {
            origin: origin.into(),
            batch_interval: Duration::from_millis(25),
            batch_max_entries: 32 * 1024,
            pool_max_entries: 128 * 1024,
            pool_max_bytes: 256 << 20,
            partial_grace: Duration::from_secs(60),
        }
    }

    pub fn with_batch_interval(mut self, d: Duration) -> Self {
        self.batch_interval = d;
        self
    }

    pub fn with_batch_max_entries(mut self, n: usize) -> Self {
        self.batch_max_entries = n.max(1);
        self
    }

    pub fn with_partial_grace(mut self, d: Duration) -> Self {
        self.partial_grace = d;
        self
    }

    pub fn with_pool_limits(mut self, entries: usize, bytes: usize) -> Self {
        self.pool_max_entries = entries.max(1);
        self.pool_max_bytes = bytes.max(1);
        self
    }
}
