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

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        (**self).get(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
}
