//! The `CheckpointLock` trait (the compare-and-swap table of committed checkpoints) and an in-memory implementation.

use std::collections::HashMap;
use std::sync::Mutex;

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

    /// Claims the right to sequence the logs of this lock database for as long as the
    /// returned [`SequencerClaim`] lives; [`StoreError::SequencerHeld`] naming the holder
    /// if another process (or another claim in this one) has it.
    ///
    /// Until several nodes share one log (a fenced lease, a separate piece of work), a
    /// second `vouch serve` on the same lock database would lose its first swap and then
    /// serve a stale checkpoint; it is refused at start instead. The claim is released
    /// when the holder exits, however it exits (an OS file lock for SQLite, a
    /// session advisory lock for PostgreSQL), so a crash never leaves it stuck.
    async fn claim_sequencer(&self, holder: &str) -> Result<SequencerClaim, StoreError>;
}

/// Proof of a [`CheckpointLock::claim_sequencer`]: the claim is held until this is dropped.
pub struct SequencerClaim {
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

impl SequencerClaim {
    /// Wraps whatever keeps the claim alive (a locked file, a database session).
    pub fn new(guard: impl std::any::Any + Send + Sync) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for SequencerClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SequencerClaim")
    }
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

    async fn claim_sequencer(&self, holder: &str) -> Result<SequencerClaim, StoreError> {
        (**self).claim_sequencer(holder).await
    }
}

/// A process-local lock table, for tests and the in-memory benchmark. Not durable.
#[derive(Debug, Default)]
pub struct MemoryLock {
    /// Guards every row; held only for the map operation.
    rows: Mutex<HashMap<String, Vec<u8>>>,
    /// The holder of the sequencer claim, cleared when its [`SequencerClaim`] drops.
    claimed: std::sync::Arc<Mutex<Option<String>>>,
}

/// Releases a [`MemoryLock`] sequencer claim on drop.
struct MemoryClaim(std::sync::Arc<Mutex<Option<String>>>);

impl Drop for MemoryClaim {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl MemoryLock {
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        // A panic while holding this lock cannot leave the map half-updated (each
        // operation is a single insert), so a poisoned lock is still consistent.
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl CheckpointLock for MemoryLock {
    async fn load(&self, log: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.rows().get(log).cloned())
    }

    async fn create(&self, log: &str, checkpoint: &[u8]) -> Result<(), StoreError> {
        let mut rows = self.rows();
        if rows.contains_key(log) {
            return Err(StoreError::AlreadyExists { log: log.into() });
        }
        rows.insert(log.into(), checkpoint.to_vec());
        Ok(())
    }

    async fn compare_and_swap(&self, log: &str, old: &[u8], new: &[u8]) -> Result<(), StoreError> {
        let mut rows = self.rows();
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

    async fn claim_sequencer(&self, holder: &str) -> Result<SequencerClaim, StoreError> {
        let mut claimed = self.claimed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = claimed.as_ref() {
            return Err(StoreError::SequencerHeld { holder: h.clone() });
        }
        *claimed = Some(holder.to_owned());
        Ok(SequencerClaim::new(MemoryClaim(std::sync::Arc::clone(
            &self.claimed,
        ))))
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
    // One sequencer claim at a time; released on drop.
    let claim = lock.claim_sequencer("first holder").await.unwrap();
    match lock.claim_sequencer("second holder").await {
        Err(StoreError::SequencerHeld { holder }) => {
            assert!(holder.contains("first holder"), "{holder}")
        }
        other => panic!("expected SequencerHeld, got {other:?}"),
    }
    drop(claim);
    let again = lock.claim_sequencer("second holder").await.unwrap();
    drop(again);
    assert_eq!(lock.load("a").await.unwrap().as_deref(), Some(&b"two"[..]));
    assert_eq!(lock.load("b").await.unwrap(), None);
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_lock_contract() {
        super::exercise(&super::MemoryLock::new()).await;
    }
}
