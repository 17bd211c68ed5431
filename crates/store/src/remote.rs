//! `RemoteObjects`: the [`Objects`] contract over any `object_store` backend (in-memory for tests, S3-compatible for scale).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::{ObjectKey, Objects, StoreError};

/// Requests one `put_many` keeps in flight.
const PUT_CONCURRENCY: usize = 32;

/// Wraps an `object_store` backend. Durability is the backend's: S3 acknowledges a PUT
/// only once stored redundantly, which is the guarantee [`Objects`] asks for. Do not
/// wrap `object_store::local::LocalFileSystem` here: it does not fsync (use
/// [`crate::LocalDir`]).
#[derive(Debug, Clone)]
pub struct RemoteObjects {
    store: Arc<dyn ObjectStore>,
}

impl RemoteObjects {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        RemoteObjects { store }
    }

    /// A fresh in-memory store, for tests and benchmarks of everything but the disk.
    pub fn memory() -> Self {
        Self::new(Arc::new(object_store::memory::InMemory::new()))
    }

    /// An S3-compatible bucket. Credentials come from the standard `AWS_*`
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, ...); the
    /// bucket, endpoint and region from the typed configuration. Keys are stored under
    /// `prefix` when it is not empty.
    pub fn s3(
        bucket: &str,
        endpoint: Option<&str>,
        region: Option<&str>,
        prefix: &str,
        allow_http: bool,
    ) -> Result<Self, StoreError> {
        let mut b = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_allow_http(allow_http);
        if let Some(e) = endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = region {
            b = b.with_region(r);
        }
        let s3 = b.build().map_err(|e| StoreError::Config {
            reason: e.to_string(),
        })?;
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
        };
        Ok(Self::new(store))
    }

    async fn put_one(&self, key: ObjectKey, value: Bytes) -> Result<(), StoreError> {
        self.store
            .put(&Path::from(key.as_str()), PutPayload::from(value))
            .await
            .map(|_| ())
            .map_err(|source| StoreError::Object {
                key: key.to_string(),
                source,
            })
    }

    /// Creates `key` only if absent (`PutMode::Create`: `If-None-Match: *` on S3); on
    /// a conflict the stored bytes are read back and compared.
    async fn create_one(&self, key: ObjectKey, value: Bytes) -> Result<(), StoreError> {
        let path = Path::from(key.as_str());
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(value.clone()), opts)
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => {
                match self.get(&key).await? {
                    Some(existing) if existing == value => Ok(()),
                    Some(existing) => Err(StoreError::Differs {
                        key: key.to_string(),
                        existing: existing.len(),
                        offered: value.len(),
                    }),
                    // Deleted between the refusal and the read: only garbage is ever
                    // deleted, so try once more.
                    None => self
                        .store
                        .put_opts(
                            &path,
                            PutPayload::from(value),
                            PutOptions {
                                mode: PutMode::Create,
                                ..PutOptions::default()
                            },
                        )
                        .await
                        .map(|_| ())
                        .map_err(|source| StoreError::Object {
                            key: key.to_string(),
                            source,
                        }),
                }
            }
            Err(source) => Err(StoreError::Object {
                key: key.to_string(),
                source,
            }),
        }
    }
}

#[async_trait]
impl Objects for RemoteObjects {
    async fn put_many(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        futures::stream::iter(objects)
            .map(|(k, v)| self.put_one(k, v))
            .buffer_unordered(PUT_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    async fn put_many_if_absent(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        futures::stream::iter(objects)
            .map(|(k, v)| self.create_one(k, v))
            .buffer_unordered(PUT_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        let err = |source| StoreError::Object {
            key: key.to_string(),
            source,
        };
        match self.store.get(&Path::from(key.as_str())).await {
            Ok(r) => r.bytes().await.map(Some).map_err(err),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self.store.delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StoreError::Object {
                key: key.to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_create_if_absent_never_replaces() {
        crate::objects::check_create_if_absent(Arc::new(RemoteObjects::memory())).await;
    }

    #[tokio::test]
    async fn memory_round_trip() {
        let s = RemoteObjects::memory();
        let k = ObjectKey::new("tile/entries/000.p/3").unwrap();
        assert_eq!(s.get(&k).await.unwrap(), None);
        s.put_many(vec![(k.clone(), Bytes::from_static(b"abc"))])
            .await
            .unwrap();
        assert_eq!(s.get(&k).await.unwrap().unwrap(), &b"abc"[..]);
        s.delete(&k).await.unwrap();
        s.delete(&k).await.unwrap();
        assert_eq!(s.get(&k).await.unwrap(), None);
    }
}
