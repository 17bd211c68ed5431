//! `VerifyPool`: runs entry checks (JSON parsing and signature verification) on the blocking pool, a bounded number at a time, with a bounded queue and cancellation when the client goes away.
//!
//! Signature checks are CPU work: on the async workers they would stall every other
//! request (a `GET /log/checkpoint` waited 24.8 s behind two crafted DSSE entries
//! before the counts were capped). Here at most `workers` checks run at once, at most
//! `queue` more wait (past that the request is refused at once with `REKOR_E012` and
//! `Retry-After`), and a request whose future is dropped stops: a waiting one never
//! starts, and a running one sees its cancellation flag before its next signature.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::entry::Accepted;
use super::{CreateEntryRequest, RekorError};

/// A bounded pool for entry checks.
#[derive(Debug)]
pub struct VerifyPool {
    /// One permit per check allowed to run.
    running: Arc<Semaphore>,
    /// One permit per request allowed in the pool at all (running or waiting).
    admitted: Arc<Semaphore>,
    capacity: usize,
}

impl VerifyPool {
    /// `workers` checks run at once and `queue` more may wait (both at least 1).
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let capacity = workers + queue.max(1);
        VerifyPool {
            running: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Parses and checks `body` off the async workers. Dropping the returned future
    /// cancels the work.
    pub async fn check(&self, body: bytes::Bytes) -> Result<Accepted, RekorError> {
        self.check_with(body, |b, cancel| {
            CreateEntryRequest::from_json(b)?.accept(cancel)
        })
        .await
    }

    /// [`Self::check`] with another parser and checker (Rekor v1 entries).
    pub async fn check_with(
        &self,
        body: bytes::Bytes,
        accept: fn(&[u8], &AtomicBool) -> Result<Accepted, RekorError>,
    ) -> Result<Accepted, RekorError> {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| RekorError::Busy {
                waiting: self.capacity,
            })?;
        // Waiting here is cancel-safe: a dropped future gives up its place in the queue.
        let running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| RekorError::Abandoned)?;
        let cancel = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(Arc::clone(&cancel));
        let task = tokio::task::spawn_blocking(move || {
            // The permits live as long as the work, not the request: a client that
            // leaves cannot free a slot while its checks still burn a core.
            let _permits = (admitted, running);
            if cancel.load(Ordering::Relaxed) {
                return Err(RekorError::Abandoned);
            }
            accept(&body, &cancel)
        });
        task.await.map_err(|_| RekorError::Abandoned)?
    }
}

/// Sets the flag when the request future is dropped (the client went away).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_pool_refuses_with_busy() {
        let pool = VerifyPool::new(1, 1);
        // Hold every admission permit, as two slow requests would.
        let _held = Arc::clone(&pool.admitted)
            .try_acquire_many_owned(2)
            .unwrap();
        let err = pool
            .check(bytes::Bytes::from_static(b"{}"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "REKOR_E012");
    }

    #[tokio::test]
    async fn a_dropped_request_never_starts_and_frees_its_place() {
        let pool = Arc::new(VerifyPool::new(1, 1));
        let running = Arc::clone(&pool.running).acquire_owned().await.unwrap();
        let p = Arc::clone(&pool);
        let waiting = tokio::spawn(async move { p.check(bytes::Bytes::from_static(b"{}")).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(pool.admitted.available_permits(), 1);
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(pool.admitted.available_permits(), 2);
        drop(running);
    }
}
