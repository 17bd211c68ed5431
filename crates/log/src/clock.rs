//! `Clock`: wall-clock time as an injectable dependency (witness cosignature timestamps, status output).
//!
//! The sequencer's batch timer is tokio's clock, which tests pause and advance with
//! `tokio::time::pause`/`advance`; this trait covers the wall-clock readings that
//! end up in signed data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, from somewhere.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn unix_seconds(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock tests set by hand.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(unix_seconds: u64) -> Self {
        ManualClock(AtomicU64::new(unix_seconds))
    }

    pub fn set(&self, unix_seconds: u64) {
        self.0.store(unix_seconds, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix_seconds(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
