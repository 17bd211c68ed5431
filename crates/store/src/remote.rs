//! `RemoteObjects`: the [`Objects`] contract over any `object_store` backend (in-memory for tests, S3-compatible for scale).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::{ObjectKey, Objects, StoreError};

/// Requests one `put_many` keeps in flight.
const PUT_CONCURRENCY: usize = 32;

/// Where an S3-compatible bucket is and how hard to try each request.
///
/// Retries: a request answered 5xx, 429 or 408, or that could not be sent, is retried
/// with exponential backoff (from `init_backoff`, doubling, at most 2 s apart) until
/// `max_retries` retries or `retry_timeout` since the first attempt, whichever comes
/// first. A request that was sent and then timed out is retried only when it is
/// idempotent (reads, deletes, plain puts of the same bytes). Each attempt is bounded by
/// `request_timeout` (the whole request, body included) and `connect_timeout`. So a
/// call fails, with `STORE_E003`, after at most about
/// `retry_timeout + request_timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Options {
    pub bucket: String,
    /// `None`: AWS's endpoint for `region`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Keys are stored under this prefix when it is not empty.
    pub prefix: String,
    /// Allow a plain-HTTP endpoint (tests, a server on loopback).
    pub allow_http: bool,
    /// Access key id and secret; `None` reads the standard `AWS_*` environment
    /// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, ...).
    pub credentials: Option<(String, String)>,
    pub max_retries: usize,
    pub retry_timeout: Duration,
    pub init_backoff: Duration,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl S3Options {
    /// Defaults for `bucket`: credentials from the environment, 5 retries within 30 s,
    /// 30 s per request, 5 s to connect.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Options {
            bucket: bucket.into(),
            endpoint: None,
            region: None,
            prefix: String::new(),
            allow_http: false,
            credentials: None,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_timeout: Duration::from_secs(DEFAULT_RETRY_TIMEOUT_SECS),
            init_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS),
        }
    }
}

/// Defaults of [`S3Options`] (and of `[storage.objects]` for `kind = "s3"`).
pub const DEFAULT_MAX_RETRIES: usize = 5;
pub const DEFAULT_RETRY_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 5;

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

    /// An S3-compatible bucket, described by `opts`. Requests are retried and timed out
    /// as `opts` says (see [`S3Options`]); a request that still fails is
    /// [`StoreError::Object`] (`STORE_E003`).
    pub fn s3(opts: &S3Options) -> Result<Self, StoreError> {
        let mut b = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&opts.bucket)
            .with_allow_http(opts.allow_http)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: opts.init_backoff,
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: opts.max_retries,
                retry_timeout: opts.retry_timeout,
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(opts.request_timeout)
                    .with_connect_timeout(opts.connect_timeout)
                    .with_allow_http(opts.allow_http),
            );
        if let Some(e) = &opts.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &opts.region {
            b = b.with_region(r);
        }
        if let Some((id, secret)) = &opts.credentials {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        let s3 = b.build().map_err(|e| StoreError::Config {
            reason: e.to_string(),
        })?;
        let store: Arc<dyn ObjectStore> = if opts.prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(
                s3,
                opts.prefix.as_str(),
            ))
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
        crate::objects::check_round_trip(Arc::new(RemoteObjects::memory())).await;
    }

    #[tokio::test]
    async fn memory_put_many() {
        crate::objects::check_put_many(Arc::new(RemoteObjects::memory())).await;
    }
}
