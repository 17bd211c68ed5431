//! The `Objects` trait: the storage contract for tiles, entry bundles, checkpoints and blobs.

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ObjectKey, StoreError};

/// A flat object store.
///
/// Durability: when `put` or `put_many` returns `Ok`, every object written survives a
/// crash of this process or of the machine (local backends fsync the file and its
/// directory; remote backends return only after the service acknowledged the write).
/// When they return `Err`, any subset of the objects may have been written, each
/// either entirely or not at all: a reader never sees a torn object.
///
/// Concurrency: any calls may run concurrently. Two concurrent writes of the same key
/// leave one of the two values, whole. A `get` concurrent with a `put` of the same key
/// returns the old or the new value, whole.
///
/// Idempotence: `put` and `put_many` with the same bytes may be retried freely;
/// `delete` of a missing key succeeds.
///
/// Create-if-absent: `put_many_if_absent` never replaces an object. Several nodes that
/// write the same committed tile race harmlessly (identical bytes are accepted), and a
/// writer holding different bytes for an existing key is refused
/// ([`StoreError::Differs`]) instead of overwriting what readers may already have seen.
#[async_trait]
pub trait Objects: Send + Sync + std::fmt::Debug + 'static {
    /// Stores one object, durably.
    async fn put(&self, key: &ObjectKey, value: Bytes) -> Result<(), StoreError> {
        self.put_many(vec![(key.clone(), value)]).await
    }

    /// Stores many objects, all durable on return. Backends batch the expensive part
    /// (fsyncs, requests) across the objects, which is why the sequencer hands over a
    /// whole group commit at once.
    async fn put_many(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError>;

    /// Stores every object whose key does not exist yet, durably, and never replaces
    /// one: the existence check and the write are one atomic step in the backend (a
    /// hard link on local disk, `If-None-Match: *` on S3). A key that already holds
    /// exactly `value` counts as written; one that holds other bytes fails the call
    /// with [`StoreError::Differs`] (the other objects may or may not have been
    /// written, each whole).
    async fn put_many_if_absent(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError>;

    /// [`Objects::put_many_if_absent`] for one object.
    async fn put_if_absent(&self, key: &ObjectKey, value: Bytes) -> Result<(), StoreError> {
        self.put_many_if_absent(vec![(key.clone(), value)]).await
    }

    /// Reads one object; `Ok(None)` if it does not exist.
    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError>;

    /// Removes one object. Not guaranteed durable on return: only garbage (staging
    /// bundles already applied) is ever deleted, so a resurrected object is harmless.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;
}

/// Shared stores are stores: lets wrappers such as [`crate::faulty::Faulty`] take an
/// `Arc<dyn Objects>`.
#[async_trait]
impl<T: Objects + ?Sized> Objects for std::sync::Arc<T> {
    async fn put_many(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        (**self).put_many(objects).await
    }

    async fn put_many_if_absent(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        (**self).put_many_if_absent(objects).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        (**self).get(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
}

/// The basic contract, run by each backend's tests: a missing key reads as `None`, a
/// put is read back, a second put replaces the first, and deleting twice succeeds.
#[doc(hidden)]
pub async fn check_round_trip(store: std::sync::Arc<dyn Objects>) {
    let k = ObjectKey::new("tile/0/x001/234.p/7").expect("valid key");
    assert_eq!(store.get(&k).await.expect("get"), None);
    store
        .put(&k, Bytes::from_static(b"one"))
        .await
        .expect("first put");
    store
        .put(&k, Bytes::from_static(b"two"))
        .await
        .expect("second put");
    assert_eq!(
        store.get(&k).await.expect("get").as_deref(),
        Some(&b"two"[..])
    );
    store.delete(&k).await.expect("delete");
    store.delete(&k).await.expect("delete of a missing key");
    assert_eq!(store.get(&k).await.expect("get"), None);
    // The empty object is an object.
    let empty = ObjectKey::new("blobs/empty").expect("valid key");
    store.put(&empty, Bytes::new()).await.expect("empty put");
    assert_eq!(
        store.get(&empty).await.expect("get").as_deref(),
        Some(&b""[..])
    );
}

/// `put_many` of 100 objects of different sizes (up to 1 MiB) stores every one.
#[doc(hidden)]
pub async fn check_put_many(store: std::sync::Arc<dyn Objects>) {
    let objs: Vec<_> = (0..100usize)
        .map(|i| {
            let size = if i == 99 { 1 << 20 } else { i };
            (
                ObjectKey::new(format!("tile/entries/x{:03}/{:03}", i / 10, i)).expect("valid key"),
                Bytes::from(vec![u8::try_from(i).expect("below 256"); size]),
            )
        })
        .collect();
    store.put_many(objs.clone()).await.expect("put_many");
    for (k, v) in objs {
        assert_eq!(store.get(&k).await.expect("get"), Some(v), "{k:?}");
    }
}

/// The create-if-absent contract, run by each backend's tests: the first write wins,
/// an identical retry is accepted, different bytes are refused with `STORE_E011` and
/// leave the stored object unchanged, and of 16 writers racing for one key with
/// different bytes exactly one succeeds.
#[doc(hidden)]
#[allow(
    clippy::indexing_slicing,
    reason = "winners.len() == 1 is asserted just above"
)]
pub async fn check_create_if_absent(store: std::sync::Arc<dyn Objects>) {
    let key = ObjectKey::new("race/tile").expect("valid key");
    store
        .put_if_absent(&key, Bytes::from_static(b"first"))
        .await
        .expect("the first write creates the key");
    store
        .put_if_absent(&key, Bytes::from_static(b"first"))
        .await
        .expect("identical bytes are accepted");
    let err = store
        .put_if_absent(&key, Bytes::from_static(b"other"))
        .await
        .expect_err("different bytes are refused");
    assert_eq!(err.code(), "STORE_E011", "{err}");
    assert_eq!(
        store.get(&key).await.expect("read back").as_deref(),
        Some(&b"first"[..])
    );

    let raced = ObjectKey::new("race/contended").expect("valid key");
    let writers = (0..16u8).map(|i| {
        let store = std::sync::Arc::clone(&store);
        let raced = raced.clone();
        tokio::spawn(async move {
            store
                .put_if_absent(&raced, Bytes::from(vec![i; 64]))
                .await
                .map(|()| i)
        })
    });
    let mut winners = Vec::new();
    for w in writers {
        match w.await.expect("writer task") {
            Ok(i) => winners.push(i),
            Err(e) => assert_eq!(e.code(), "STORE_E011", "{e}"),
        }
    }
    let [winner] = winners[..] else {
        panic!("exactly one writer wins: {winners:?}");
    };
    let stored = store.get(&raced).await.expect("read back").expect("stored");
    assert_eq!(stored.as_ref(), &[winner; 64][..]);
}
