//! The `CheckpointLock` trait (the compare-and-swap table of committed checkpoints) and an in-memory implementation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::StoreError;

/// The lock backend: one row per log holding the latest committed checkpoint
/// (the signed note bytes), changed only by compare-and-swap.
///
/// This row, not the `checkpoint` object, is the log's commit point: a tree size is
/// committed exactly when a `compare_and_swap` to a checkpoint of that size returns
/// `Ok`. Two sequencers racing (a zombie and its replacement) cannot both extend the
/// same checkpoint.
///
/// Durability: when `create` or `compare_and_swap` returns `Ok`, the new checkpoint
/// survives a crash of the process and of the machine (SQLite runs in WAL mode with
/// `synchronous=FULL`; PostgreSQL commits are durable by default). On `Err` other than
/// [`StoreError::Conflict`] / [`StoreError::AlreadyExists`] the swap may or may not have
/// happened: callers re-read with `load` before deciding anything (the sequencer treats
/// such an error as fatal and recovers from the stored row on restart).
///
/// Concurrency: all calls may run concurrently, from any number of processes sharing
/// the database; compare-and-swap is atomic.
///
/// Idempotence: `load` is. A repeated `compare_and_swap(old, new)` after a success
/// returns `Conflict { found: new }`, which tells the caller its first try committed.
#[async_trait]
pub trait CheckpointLock: Send + Sync + std::fmt::Debug + 'static {
    /// The committed checkpoint of `log`, or `None` if the log has none yet.
    async fn load(&self, log: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores the first checkpoint of `log`; [`StoreError::AlreadyExists`] if there is one.
    async fn create(&self, log: &str, checkpoint: &[u8]) -> Result<(), StoreError>;

    /// Replaces `old` by `new` if and only if `old` is what is stored; otherwise
    /// [`StoreError::Conflict`] with what was found.
    async fn compare_and_swap(&self, log: &str, old: &[u8], new: &[u8]) -> Result<(), StoreError>;

    /// Replaces `old` by `new` if and only if `old` is what is stored AND the sequencer
    /// lease still has `epoch` and has not expired by the database's clock, checked in
    /// one statement (the epoch is the fencing token: a sequencer paused past its lease
    /// cannot commit after another took over). [`StoreError::Fenced`] if the lease moved
    /// on or expired; otherwise as [`CheckpointLock::compare_and_swap`].
    async fn compare_and_swap_fenced(
        &self,
        log: &str,
        old: &[u8],
        new: &[u8],
        epoch: i64,
    ) -> Result<(), StoreError>;

    /// Takes the sequencer lease for `holder` (reachable by the other nodes at
    /// `address`) for `ttl`, if nobody holds it or it has expired by the database's
    /// clock: the epoch goes up by one (1 for the first lease ever). If `holder`
    /// already holds an unexpired lease it is returned unchanged (same epoch, same
    /// expiry). `None` if another holder has an unexpired lease. Atomic: of two
    /// callers racing for an expired lease, one gets it.
    async fn acquire_lease(
        &self,
        holder: &str,
        address: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError>;

    /// Extends `lease` to `ttl` from now (database clock) if it is still the current
    /// lease (same epoch and holder) and has not expired. `false` means it is lost:
    /// the holder must stop committing (its fenced swaps are refused anyway).
    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError>;

    /// Expires `lease` now, if its epoch is still current, so another node can take
    /// over at once (hand-over on shutdown). A no-op for a lease already lost.
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError>;

    /// The current unexpired lease (who sequences, where to reach it, its epoch), or
    /// `None` if there is no leader right now.
    async fn current_lease(&self) -> Result<Option<Lease>, StoreError>;
}

/// The sequencer lease, as read from the lock database.
///
/// One lease covers every log of the lock database. Its epoch is the fencing token of
/// [`CheckpointLock::compare_and_swap_fenced`]; it only ever grows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it (a node's description: host, process id, start time).
    pub holder: String,
    /// Where the holder takes internal requests (a URL, given by the holder).
    pub address: String,
    /// The fencing token: one more than the previous lease's.
    pub epoch: i64,
    /// When it expires, in milliseconds since the Unix epoch by the DATABASE's clock.
    pub expires_at_ms: i64,
    /// How long it still had to run when it was read (database clock). A holder
    /// counts its own deadline from before the call that returned this, so that its
    /// idea of the expiry is never later than the database's.
    pub remaining: Duration,
}

/// Milliseconds of `ttl`, as the SQL backends bind it (saturating; a TTL of
/// centuries is as good as infinite).
/// The in-memory compare-and-swap of one log's row (plain and fenced alike).
fn swap_row(
    rows: &mut HashMap<String, Vec<u8>>,
    log: &str,
    old: &[u8],
    new: &[u8],
) -> Result<(), StoreError> {
    match rows.get_mut(log) {
        Some(cur) if cur.as_slice() == old => {
            *cur = new.to_vec();
            Ok(())
        }
        other => Err(StoreError::Conflict {
            log: log.into(),
            found: other.map(|v| v.clone()),
        }),
    }
}

/// Why a fenced swap that changed no row was refused, given the lease row read after it
/// (and whether it was unexpired): if `epoch` still holds the lease, another writer
/// changed the checkpoint (`Conflict`, with what is stored now); otherwise the epoch
/// was fenced out (`Fenced`, naming the current one). Shared by the SQL backends.
pub(crate) async fn refused_swap<L: CheckpointLock + ?Sized>(
    lock: &L,
    log: &str,
    epoch: i64,
    lease: Option<(Lease, bool)>,
) -> StoreError {
    match lease {
        Some((l, true)) if l.epoch == epoch => match lock.load(log).await {
            Ok(found) => StoreError::Conflict {
                log: log.into(),
                found,
            },
            Err(e) => e,
        },
        row => StoreError::Fenced {
            log: log.into(),
            epoch,
            current: row.map(|(l, _)| l.epoch),
        },
    }
}

pub(crate) fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4)
}

/// A non-negative millisecond count read from the database, as a `Duration`.
pub(crate) fn remaining(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Shared locks are locks (see the same impl for [`crate::Objects`]).
#[async_trait]
impl<T: CheckpointLock + ?Sized> CheckpointLock for std::sync::Arc<T> {
    async fn load(&self, log: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).load(log).await
    }

    async fn create(&self, log: &str, checkpoint: &[u8]) -> Result<(), StoreError> {
        (**self).create(log, checkpoint).await
    }

    async fn compare_and_swap(&self, log: &str, old: &[u8], new: &[u8]) -> Result<(), StoreError> {
        (**self).compare_and_swap(log, old, new).await
    }

    async fn compare_and_swap_fenced(
        &self,
        log: &str,
        old: &[u8],
        new: &[u8],
        epoch: i64,
    ) -> Result<(), StoreError> {
        (**self).compare_and_swap_fenced(log, old, new, epoch).await
    }

    async fn acquire_lease(
        &self,
        holder: &str,
        address: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        (**self).acquire_lease(holder, address, ttl).await
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        (**self).renew_lease(lease, ttl).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        (**self).release_lease(lease).await
    }

    async fn current_lease(&self) -> Result<Option<Lease>, StoreError> {
        (**self).current_lease().await
    }
}

/// A process-local lock table, for tests and the in-memory benchmark. Not durable.
/// Its lease expires by this process's monotonic clock.
#[derive(Debug, Default)]
pub struct MemoryLock {
    /// Guards every row and the lease; held only for the map operation.
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    rows: HashMap<String, Vec<u8>>,
    lease: Option<MemoryLease>,
}

#[derive(Debug, Clone)]
struct MemoryLease {
    holder: String,
    address: String,
    epoch: i64,
    expires: Instant,
}

impl MemoryLease {
    fn live(&self, now: Instant) -> bool {
        self.expires > now
    }

    fn to_lease(&self, now: Instant) -> Lease {
        let left = self.expires.saturating_duration_since(now);
        let wall = SystemTime::now()
            .checked_add(left)
            .unwrap_or_else(SystemTime::now)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Lease {
            holder: self.holder.clone(),
            address: self.address.clone(),
            epoch: self.epoch,
            expires_at_ms: i64::try_from(wall.as_millis()).unwrap_or(i64::MAX),
            remaining: left,
        }
    }
}

impl MemoryLock {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic while holding this lock cannot leave the state half-updated (each
        // operation is a single assignment), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl CheckpointLock for MemoryLock {
    async fn load(&self, log: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().rows.get(log).cloned())
    }

    async fn create(&self, log: &str, checkpoint: &[u8]) -> Result<(), StoreError> {
        let rows = &mut self.state().rows;
        if rows.contains_key(log) {
            return Err(StoreError::AlreadyExists { log: log.into() });
        }
        rows.insert(log.into(), checkpoint.to_vec());
        Ok(())
    }

    async fn compare_and_swap(&self, log: &str, old: &[u8], new: &[u8]) -> Result<(), StoreError> {
        swap_row(&mut self.state().rows, log, old, new)
    }

    async fn compare_and_swap_fenced(
        &self,
        log: &str,
        old: &[u8],
        new: &[u8],
        epoch: i64,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let now = Instant::now();
        match &state.lease {
            Some(l) if l.epoch == epoch && l.live(now) => {}
            other => {
                return Err(StoreError::Fenced {
                    log: log.into(),
                    epoch,
                    current: other.as_ref().map(|l| l.epoch),
                })
            }
        }
        swap_row(&mut state.rows, log, old, new)
    }

    async fn acquire_lease(
        &self,
        holder: &str,
        address: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let mut state = self.state();
        let now = Instant::now();
        let epoch = match &state.lease {
            Some(l) if l.live(now) && l.holder == holder => return Ok(Some(l.to_lease(now))),
            Some(l) if l.live(now) => return Ok(None),
            Some(l) => l.epoch + 1,
            None => 1,
        };
        let lease = MemoryLease {
            holder: holder.into(),
            address: address.into(),
            epoch,
            expires: now + ttl,
        };
        let out = lease.to_lease(now);
        state.lease = Some(lease);
        Ok(Some(out))
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let mut state = self.state();
        let now = Instant::now();
        match &mut state.lease {
            Some(l) if l.epoch == lease.epoch && l.holder == lease.holder && l.live(now) => {
                l.expires = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(l) = &mut state.lease {
            if l.epoch == lease.epoch && l.holder == lease.holder {
                l.expires = Instant::now();
            }
        }
        Ok(())
    }

    async fn current_lease(&self) -> Result<Option<Lease>, StoreError> {
        let state = self.state();
        let now = Instant::now();
        Ok(state
            .lease
            .as_ref()
            .filter(|l| l.live(now))
            .map(|l| l.to_lease(now)))
    }
}

/// The behaviour every [`CheckpointLock`] must show; run by each backend's tests.
#[cfg(test)]
pub(crate) async fn exercise(lock: &dyn CheckpointLock) {
    assert_eq!(lock.load("a").await.unwrap(), None);
    assert!(matches!(
        lock.compare_and_swap("a", b"x", b"y").await,
        Err(StoreError::Conflict { found: None, .. })
    ));
    lock.create("a", b"one").await.unwrap();
    assert!(matches!(
        lock.create("a", b"other").await,
        Err(StoreError::AlreadyExists { .. })
    ));
    lock.compare_and_swap("a", b"one", b"two").await.unwrap();
    match lock.compare_and_swap("a", b"one", b"three").await {
        Err(StoreError::Conflict { found, .. }) => assert_eq!(found.as_deref(), Some(&b"two"[..])),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(lock.load("a").await.unwrap().as_deref(), Some(&b"two"[..]));
    assert_eq!(lock.load("b").await.unwrap(), None);
}

/// `acquire_lease` for "node X" at `http://x.internal:7000`.
#[cfg(test)]
async fn take(lock: &dyn CheckpointLock, node: char, ttl: Duration) -> Option<Lease> {
    let address = format!("http://{}.internal:7000", node.to_ascii_lowercase());
    lock.acquire_lease(&format!("node {node}"), &address, ttl)
        .await
        .unwrap()
}

/// A fenced swap of row "a" from `old` with `epoch` that must be refused as `Fenced`:
/// the current epoch it names.
#[cfg(test)]
async fn fenced(lock: &dyn CheckpointLock, old: &[u8], epoch: i64) -> Option<i64> {
    match lock.compare_and_swap_fenced("a", old, b"x", epoch).await {
        Err(
            e @ StoreError::Fenced {
                epoch: got,
                current,
                ..
            },
        ) => {
            assert_eq!((e.code(), got), ("STORE_E012", epoch));
            current
        }
        other => panic!("expected Fenced for epoch {epoch}, got {other:?}"),
    }
}

/// The lease contract every [`CheckpointLock`] must show (run on a lock whose
/// `"a"` row is `b"two"` from [`exercise`]): take, hold, renew, expiry then takeover
/// with epoch + 1, the fenced swap refused after takeover, release.
#[cfg(test)]
pub(crate) async fn exercise_lease(lock: &dyn CheckpointLock) {
    let ttl = Duration::from_millis(1500);
    assert!(lock.current_lease().await.unwrap().is_none());
    // Without any lease, a fenced swap is refused.
    assert_eq!(fenced(lock, b"two", 1).await, None);
    let first = take(lock, 'A', ttl).await.expect("a free lease is taken");
    assert_eq!(first.epoch, 1);
    assert_eq!(first.holder, "node A");
    assert_eq!(first.address, "http://a.internal:7000");
    assert!(first.remaining > Duration::ZERO && first.remaining <= ttl);
    // Held: another holder is refused, the same holder gets it back unchanged.
    assert!(take(lock, 'B', ttl).await.is_none());
    let again = take(lock, 'A', ttl).await.expect("its own lease");
    assert_eq!((again.epoch, again.expires_at_ms), (1, first.expires_at_ms));
    let cur = lock.current_lease().await.unwrap().expect("a leader");
    assert_eq!(
        (cur.epoch, cur.address.as_str()),
        (1, "http://a.internal:7000")
    );
    // The fenced swap with the current epoch works; with another epoch it is fenced,
    // and the checkpoint is unchanged.
    lock.compare_and_swap_fenced("a", b"two", b"three", 1)
        .await
        .unwrap();
    assert_eq!(fenced(lock, b"three", 7).await, Some(1));
    // A stale `old` with the right epoch is an ordinary conflict.
    assert!(matches!(
        lock.compare_and_swap_fenced("a", b"two", b"x", 1).await,
        Err(StoreError::Conflict { .. })
    ));
    // Renewal keeps it past the first TTL.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(lock.renew_lease(&first, ttl).await.unwrap());
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(take(lock, 'B', ttl).await.is_none());
    lock.compare_and_swap_fenced("a", b"three", b"four", 1)
        .await
        .unwrap();
    // Expiry: not renewed for a TTL, the epoch-1 swap is fenced even before anyone
    // takes over, and B then takes it with epoch 2.
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert!(lock.current_lease().await.unwrap().is_none());
    assert_eq!(fenced(lock, b"four", 1).await, Some(1));
    let second = take(lock, 'B', ttl)
        .await
        .expect("an expired lease is taken over");
    assert_eq!(second.epoch, 2);
    // The old holder cannot renew, cannot swap, and cannot release B's lease.
    assert!(!lock.renew_lease(&first, ttl).await.unwrap());
    assert_eq!(fenced(lock, b"four", 1).await, Some(2));
    lock.release_lease(&first).await.unwrap();
    assert_eq!(
        lock.current_lease().await.unwrap().map(|l| l.epoch),
        Some(2)
    );
    assert_eq!(lock.load("a").await.unwrap().as_deref(), Some(&b"four"[..]));
    lock.compare_and_swap_fenced("a", b"four", b"five", 2)
        .await
        .unwrap();
    // Release hands over at once: no leader, swaps fenced, the next taker gets epoch 3.
    lock.release_lease(&second).await.unwrap();
    assert!(lock.current_lease().await.unwrap().is_none());
    fenced(lock, b"five", 2).await;
    assert!(!lock.renew_lease(&second, ttl).await.unwrap());
    let third = take(lock, 'A', ttl)
        .await
        .expect("a released lease is free");
    assert_eq!(third.epoch, 3);
    assert_eq!(lock.load("a").await.unwrap().as_deref(), Some(&b"five"[..]));
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_lock_contract() {
        let lock = super::MemoryLock::new();
        super::exercise(&lock).await;
        super::exercise_lease(&lock).await;
    }
}
