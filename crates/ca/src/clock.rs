//! Injectable wall clock, so validity windows, SCT timestamps and TSA `genTime` can be
//! tested at fixed instants (expired, not yet valid) without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Source of the current time for everything that stamps or checks a time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to: for tests.
///
/// Stores milliseconds since the Unix epoch in an atomic, so it can be shared behind an
/// `Arc` and advanced while a CA or TSA holds it.
#[derive(Debug)]
pub struct FixedClock {
    unix_millis: AtomicU64,
}

impl FixedClock {
    /// A clock stopped at `at` (truncated to whole milliseconds; before 1970 becomes 1970).
    pub fn new(at: SystemTime) -> Self {
        Self {
            unix_millis: AtomicU64::new(millis_since_epoch(at)),
        }
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: SystemTime) {
        self.unix_millis
            .store(millis_since_epoch(at), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.unix_millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.unix_millis.load(Ordering::SeqCst))
    }
}

/// Milliseconds since the Unix epoch, saturating at 0 for earlier times.
pub(crate) fn millis_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = FixedClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), start + Duration::from_secs(5));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
