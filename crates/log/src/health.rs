//! What the sequencer reports about itself: a readiness snapshot ([`Health`]) for `/readyz`, and a per-batch hook ([`BatchObserver`]) for metrics, so this crate needs no metrics library.

use std::time::Duration;

/// One batch as the sequencer saw it, reported after its commit attempt.
#[derive(Debug, Clone, Copy)]
pub struct BatchReport {
    /// Entries in the batch.
    pub entries: usize,
    /// From taking the batch out of the pool to the end of its commit attempt
    /// (integration, tile writes, the swap and the checkpoint publication).
    pub elapsed: Duration,
    /// Whether the batch was committed (its entries acknowledged with indexes).
    pub committed: bool,
}

/// Receives every batch report. Called on the sequencer task: implementations must be
/// cheap and must not block (counters and histograms, nothing that waits).
pub trait BatchObserver: Send + Sync + std::fmt::Debug {
    fn batch(&self, report: BatchReport);
}

/// A snapshot of the sequencer's liveness, taken without waiting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The sequencer task is alive and the log accepts entries (false after a fatal
    /// error, a lost lock, `shutdown` or `abort`).
    pub running: bool,
    /// Entries waiting for a batch.
    pub pooled: usize,
    /// Time since the last committed batch (or since the log was opened, when none has
    /// been committed by this process).
    pub since_commit: Duration,
    /// How long the batch being committed now has been in flight, if one is.
    pub in_flight: Option<Duration>,
    /// Why the most recent batch failed, when it did; cleared by the next commit.
    pub last_failure: Option<String>,
}

impl Health {
    /// Whether the sequencer is committing: running, the last batch did not fail, and
    /// no batch has been in flight for longer than `stall`. An idle log with nothing
    /// pooled is committing (it has nothing to commit).
    pub fn committing(&self, stall: Duration) -> bool {
        self.running && self.last_failure.is_none() && self.in_flight.is_none_or(|d| d <= stall)
    }
}
