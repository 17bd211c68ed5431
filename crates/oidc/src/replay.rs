//! The `jti` replay store: a token id is remembered until its token could no longer be accepted
//! (`exp` + leeway) and a second presentation within that window is refused.

use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use crate::clock::UnixTime;

/// A boxed, sendable future, so the store and fetcher traits stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A backend failure of a [`ReplayStore`].
pub type ReplayStoreError = Box<dyn Error + Send + Sync>;

/// Identifies one token: `jti` is only unique per issuer (RFC 7519 §4.1.7), so the key is both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    /// The `iss` claim.
    pub issuer: String,
    /// The `jti` claim.
    pub jti: String,
}

/// The result of [`ReplayStore::insert_if_absent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// The key was not present (or only as an expired entry) and is now recorded.
    Inserted,
    /// An unexpired entry for the key exists: the token is a replay.
    AlreadyPresent,
}

/// Remembers token ids until they expire.
///
/// # Contract (for every implementation, including a database one)
/// - **Atomic insert-if-absent.** `insert_if_absent` checks and records in one atomic step:
///   of any number of concurrent calls with the same key, across processes sharing the
///   store, exactly one returns [`Insertion::Inserted`]. A database implementation uses a
///   primary key on `(issuer, jti)` with `INSERT … ON CONFLICT DO NOTHING` (or the unique
///   violation) and reports the affected-row count, never a separate SELECT-then-INSERT.
/// - **Expiry.** An entry whose `expires_at` is at or before `now` counts as absent: an
///   insert over it succeeds and replaces it. Expired entries may be deleted at any time;
///   the verifier refuses the token itself by then, because `expires_at` is `exp` plus
///   the leeway on the same clock.
/// - **Durability.** When `Inserted` is returned, the record must survive a crash of the
///   caller (for a database: committed). A failure to record is an error, never `Inserted`:
///   the verifier refuses the token (fail closed) rather than accept it unrecorded.
/// - **Idempotence.** None: the second call with the same key is the replay being detected.
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` until `expires_at` unless an unexpired entry exists.
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<Insertion, ReplayStoreError>>;
}

/// A process-local [`ReplayStore`]: correct for one `vouch serve` node; several nodes need a
/// shared (database) store.
#[derive(Debug, Default)]
pub struct InMemoryReplayStore {
    /// Guards the map of key → expiry and the sweep counter; held only for map operations.
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<ReplayKey, UnixTime>,
    inserts_since_sweep: usize,
}

/// Sweep expired entries after this many inserts, so memory follows the live-token count.
const SWEEP_EVERY: usize = 1024;

impl InMemoryReplayStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries held, expired ones included until the next sweep.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-updated (each operation is
        // a single insert or retain), so a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert_now(&self, key: &ReplayKey, expires_at: UnixTime, now: UnixTime) -> Insertion {
        let mut inner = self.lock();
        if let Some(existing) = inner.entries.get(key) {
            if *existing > now {
                return Insertion::AlreadyPresent;
            }
        }
        inner.entries.insert(key.clone(), expires_at);
        inner.inserts_since_sweep += 1;
        if inner.inserts_since_sweep >= SWEEP_EVERY {
            inner.inserts_since_sweep = 0;
            inner.entries.retain(|_, exp| *exp > now);
        }
        Insertion::Inserted
    }
}

impl ReplayStore for InMemoryReplayStore {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<Insertion, ReplayStoreError>> {
        let outcome = self.insert_now(key, expires_at, now);
        Box::pin(async move { Ok(outcome) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(jti: &str) -> ReplayKey {
        ReplayKey {
            issuer: "https://issuer.example".into(),
            jti: jti.into(),
        }
    }

    #[tokio::test]
    async fn second_insert_is_a_replay_until_expiry() {
        let store = InMemoryReplayStore::new();
        let k = key("a");
        assert_eq!(
            store
                .insert_if_absent(&k, UnixTime(100), UnixTime(10))
                .await
                .ok(),
            Some(Insertion::Inserted)
        );
        assert_eq!(
            store
                .insert_if_absent(&k, UnixTime(100), UnixTime(99))
                .await
                .ok(),
            Some(Insertion::AlreadyPresent)
        );
        assert_eq!(
            store
                .insert_if_absent(&k, UnixTime(200), UnixTime(100))
                .await
                .ok(),
            Some(Insertion::Inserted)
        );
    }

    #[tokio::test]
    async fn jti_is_scoped_by_issuer() {
        let store = InMemoryReplayStore::new();
        let a = key("same");
        let b = ReplayKey {
            issuer: "https://other.example".into(),
            jti: "same".into(),
        };
        assert_eq!(
            store
                .insert_if_absent(&a, UnixTime(100), UnixTime(0))
                .await
                .ok(),
            Some(Insertion::Inserted)
        );
        assert_eq!(
            store
                .insert_if_absent(&b, UnixTime(100), UnixTime(0))
                .await
                .ok(),
            Some(Insertion::Inserted)
        );
    }

    #[tokio::test]
    async fn concurrent_inserts_admit_exactly_one() {
        let store = std::sync::Arc::new(InMemoryReplayStore::new());
        let mut handles = Vec::new();
        for _ in 0..16 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                store
                    .insert_if_absent(&key("race"), UnixTime(100), UnixTime(0))
                    .await
                    .ok()
            }));
        }
        let mut inserted = 0;
        for h in handles {
            if h.await.ok().flatten() == Some(Insertion::Inserted) {
                inserted += 1;
            }
        }
        assert_eq!(inserted, 1);
    }

    #[tokio::test]
    async fn sweep_drops_expired_entries() {
        let store = InMemoryReplayStore::new();
        for i in 0..SWEEP_EVERY {
            let _ = store
                .insert_if_absent(&key(&i.to_string()), UnixTime(5), UnixTime(0))
                .await;
        }
        // The sweep ran at the last insert with now = 0: nothing had expired yet.
        assert_eq!(store.len(), SWEEP_EVERY);
        for i in 0..SWEEP_EVERY {
            let _ = store
                .insert_if_absent(&key(&format!("late{i}")), UnixTime(50), UnixTime(10))
                .await;
        }
        assert_eq!(store.len(), SWEEP_EVERY);
    }
}
