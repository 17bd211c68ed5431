//! A storage double for tests: wraps a real [`Objects`] or [`CheckpointLock`] and fails a chosen write before, halfway through, or after persisting it.
//!
//! A [`FaultPlan`] is shared by every wrapper in one test, so "the 7th write of the
//! run" can land in the object store or in the lock table alike. After a fault fires
//! the plan stays tripped and every later write fails before persisting, which is how a
//! crashed process looks to storage; the test then reopens the log from the inner
//! stores and checks what survived.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{CheckpointLock, ObjectKey, Objects, StoreError};

/// When, relative to persisting, the injected failure happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultPoint {
    /// Nothing of this write is stored.
    BeforePersist,
    /// For `put_many`, the first half of the objects is stored; otherwise as `BeforePersist`.
    Partial,
    /// Everything is stored, and the caller still sees an error.
    AfterPersist,
}

impl fmt::Display for FaultPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultPoint::BeforePersist => "before persisting",
            FaultPoint::Partial => "partway through persisting",
            FaultPoint::AfterPersist => "after persisting",
        })
    }
}

/// Which write fails, shared between wrappers.
#[derive(Debug, Default)]
pub struct FaultPlan {
    /// Writes seen so far (all wrappers together).
    writes: AtomicU64,
    /// The armed fault: fail the write numbered `.0` (0-based) at `.1`.
    armed: Mutex<Option<(u64, FaultPoint)>>,
    tripped: AtomicBool,
}

impl FaultPlan {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Fails the `n`-th write from now (0 = the next one) at `point`.
    pub fn fail_write(&self, n: u64, point: FaultPoint) {
        let at = self.writes.load(Ordering::SeqCst) + n;
        *self.armed.lock().unwrap_or_else(|p| p.into_inner()) = Some((at, point));
    }

    /// Whether a fault has fired (the "process" is dead).
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    /// Writes performed or attempted so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Decides the fate of the next write: `None` to run it normally.
    fn next(&self) -> Option<FaultPoint> {
        if self.tripped() {
            return Some(FaultPoint::BeforePersist);
        }
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        match *armed {
            Some((at, point)) if at == n => {
                *armed = None;
                self.tripped.store(true, Ordering::SeqCst);
                Some(point)
            }
            _ => None,
        }
    }
}

/// Wraps a store or a lock with a [`FaultPlan`].
#[derive(Debug, Clone)]
pub struct Faulty<T> {
    inner: T,
    plan: Arc<FaultPlan>,
}

impl<T> Faulty<T> {
    pub fn new(inner: T, plan: Arc<FaultPlan>) -> Self {
        Faulty { inner, plan }
    }
}

fn injected(op: &'static str, when: FaultPoint) -> StoreError {
    StoreError::Injected { op, when }
}

#[async_trait]
impl<T: Objects> Objects for Faulty<T> {
    async fn put_many(&self, mut objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        match self.plan.next() {
            None => self.inner.put_many(objects).await,
            Some(p @ FaultPoint::BeforePersist) => Err(injected("put_many", p)),
            Some(p @ FaultPoint::Partial) => {
                objects.truncate(objects.len() / 2);
                self.inner.put_many(objects).await?;
                Err(injected("put_many", p))
            }
            Some(p @ FaultPoint::AfterPersist) => {
                self.inner.put_many(objects).await?;
                Err(injected("put_many", p))
            }
        }
    }

    async fn put_many_if_absent(
        &self,
        mut objects: Vec<(ObjectKey, Bytes)>,
    ) -> Result<(), StoreError> {
        match self.plan.next() {
            None => self.inner.put_many_if_absent(objects).await,
            Some(p @ FaultPoint::BeforePersist) => Err(injected("put_many_if_absent", p)),
            Some(p @ FaultPoint::Partial) => {
                objects.truncate(objects.len() / 2);
                self.inner.put_many_if_absent(objects).await?;
                Err(injected("put_many_if_absent", p))
            }
            Some(p @ FaultPoint::AfterPersist) => {
                self.inner.put_many_if_absent(objects).await?;
                Err(injected("put_many_if_absent", p))
            }
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.inner.get(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self.plan.next() {
            None => self.inner.delete(key).await,
            Some(p @ FaultPoint::AfterPersist) => {
                self.inner.delete(key).await?;
                Err(injected("delete", p))
            }
            Some(p) => Err(injected("delete", p)),
        }
    }
}

#[async_trait]
impl<T: CheckpointLock> CheckpointLock for Faulty<T> {
    async fn load(&self, log: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.load(log).await
    }

    async fn create(&self, log: &str, checkpoint: &[u8]) -> Result<(), StoreError> {
        match self.plan.next() {
            None => self.inner.create(log, checkpoint).await,
            Some(p @ FaultPoint::AfterPersist) => {
                self.inner.create(log, checkpoint).await?;
                Err(injected("create", p))
            }
            Some(p) => Err(injected("create", p)),
        }
    }

    async fn compare_and_swap(&self, log: &str, old: &[u8], new: &[u8]) -> Result<(), StoreError> {
        match self.plan.next() {
            None => self.inner.compare_and_swap(log, old, new).await,
            Some(p @ FaultPoint::AfterPersist) => {
                self.inner.compare_and_swap(log, old, new).await?;
                Err(injected("compare_and_swap", p))
            }
            Some(p) => Err(injected("compare_and_swap", p)),
        }
    }

    async fn compare_and_swap_fenced(
        &self,
        log: &str,
        old: &[u8],
        new: &[u8],
        epoch: i64,
    ) -> Result<(), StoreError> {
        match self.plan.next() {
            None => {
                self.inner
                    .compare_and_swap_fenced(log, old, new, epoch)
                    .await
            }
            Some(p @ FaultPoint::AfterPersist) => {
                self.inner
                    .compare_and_swap_fenced(log, old, new, epoch)
                    .await?;
                Err(injected("compare_and_swap_fenced", p))
            }
            Some(p) => Err(injected("compare_and_swap_fenced", p)),
        }
    }

    // The lease is not a commit: faults are injected where durability is at stake.
    async fn acquire_lease(
        &self,
        holder: &str,
        address: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<crate::Lease>, StoreError> {
        self.inner.acquire_lease(holder, address, ttl).await
    }

    async fn renew_lease(
        &self,
        lease: &crate::Lease,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        self.inner.renew_lease(lease, ttl).await
    }

    async fn release_lease(&self, lease: &crate::Lease) -> Result<(), StoreError> {
        self.inner.release_lease(lease).await
    }

    async fn current_lease(&self) -> Result<Option<crate::Lease>, StoreError> {
        self.inner.current_lease().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryLock, RemoteObjects};

    #[tokio::test]
    async fn faults_fire_once_then_everything_fails() {
        let plan = FaultPlan::new();
        let inner = RemoteObjects::memory();
        let s = Faulty::new(inner.clone(), Arc::clone(&plan));
        let k = |i: u32| ObjectKey::new(format!("o/{i}")).unwrap();
        plan.fail_write(1, FaultPoint::AfterPersist);
        s.put(&k(0), Bytes::from_static(b"a")).await.unwrap();
        assert!(s.put(&k(1), Bytes::from_static(b"b")).await.is_err());
        assert!(
            inner.get(&k(1)).await.unwrap().is_some(),
            "after-persist must persist"
        );
        assert!(plan.tripped());
        assert!(s.put(&k(2), Bytes::from_static(b"c")).await.is_err());
        assert!(inner.get(&k(2)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn lock_faults() {
        let plan = FaultPlan::new();
        let lock = Faulty::new(MemoryLock::new(), Arc::clone(&plan));
        plan.fail_write(0, FaultPoint::BeforePersist);
        assert!(lock.create("l", b"x").await.is_err());
        assert_eq!(lock.load("l").await.unwrap(), None);
    }
}
