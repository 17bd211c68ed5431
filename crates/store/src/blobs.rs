//! Content-addressed blobs on an [`Objects`] store: stream in, hash with BLAKE3 and SHA-256 in one pass, store at `blobs/<blake3 hex>`.
//!
//! Contract of [`BlobStore`]:
//!
//! - Durability: when `put_*` returns `Ok`, the blob is durable under its key (the
//!   [`Objects`] contract). On `Err` nothing under `blobs/` changed, or the whole blob
//!   was written (the objects store never exposes a torn object).
//! - Idempotence: the key is the BLAKE3 of the content, so storing the same bytes
//!   again writes the same object at the same key and succeeds; concurrent puts of
//!   the same content leave one whole copy.
//! - Concurrency: every call may run concurrently.
//! - Visibility and orphans: a blob becomes visible to clients only through an index
//!   entry (the server checks [`crate::meta::MetaStore::blob_referenced`] before
//!   serving `/blobs/<b3>`). A publish stores blob and bundle first and commits the
//!   version row last, so a crash in between leaves an unreferenced blob that no
//!   client can see and that a later publish of the same bytes reuses. There is no
//!   staged write-then-promote: [`Objects`] has no rename, so "promote" would be a
//!   second full copy without making anything safer than the index-entry rule.
//! - Size: [`Objects::put`] takes the whole value, so a blob is held in memory while
//!   it is stored; `max_size` (default [`DEFAULT_MAX_BLOB_SIZE`]) bounds that, and
//!   reading stops as soon as the input exceeds it.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};

use crate::{ObjectKey, Objects, StoreError};

/// Default size cap: the ingest budget's default (DESIGN.md, flow 2).
pub const DEFAULT_MAX_BLOB_SIZE: u64 = 500 * 1024 * 1024;

/// Read chunk size while streaming.
const CHUNK: usize = 256 * 1024;

/// A failed blob operation; `code()` gives the stable `BLOB_E***` code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The input is larger than the store's cap; nothing was stored.
    #[error("blob exceeds the size cap of {limit} bytes (read at least {read})")]
    TooLarge { limit: u64, read: u64 },
    /// Reading the input stream failed; nothing was stored.
    #[error("reading the blob failed")]
    Read {
        #[source]
        source: io::Error,
    },
    /// The input file could not be opened.
    #[error("cannot open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The object store failed.
    #[error("blob storage failed")]
    Store(#[from] StoreError),
    /// A stored blob does not hash to its key (disk corruption or tampering).
    #[error("stored blob {blake3} does not match its BLAKE3")]
    Corrupt { blake3: String },
}

impl BlobError {
    /// The stable code; documented, never renumbered or reused.
    pub fn code(&self) -> &'static str {
        match self {
            BlobError::TooLarge { .. } => "BLOB_E001",
            BlobError::Read { .. } => "BLOB_E002",
            BlobError::Open { .. } => "BLOB_E003",
            BlobError::Store(_) => "BLOB_E004",
            BlobError::Corrupt { .. } => "BLOB_E005",
        }
    }
}

/// What storing a blob measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    pub blake3: [u8; 32],
    pub sha256: [u8; 32],
    pub size: u64,
}

impl BlobInfo {
    /// The object key the blob is stored at.
    pub fn key(&self) -> ObjectKey {
        blob_key(&self.blake3)
    }
}

/// `blobs/<blake3 hex>`.
pub fn blob_key(blake3: &[u8; 32]) -> ObjectKey {
    // Invariant: 64 lowercase hex digits under a fixed prefix is a valid key.
    ObjectKey::new(format!("blobs/{}", hex::encode(blake3))).expect("hex blob key is valid")
}

/// `blobs/<blake3 hex>.sigstore`: where the blob's Sigstore bundle goes.
pub fn bundle_key(blake3: &[u8; 32]) -> ObjectKey {
    // Invariant: as for `blob_key`, plus a fixed `[a-z.]` suffix.
    ObjectKey::new(format!("blobs/{}.sigstore", hex::encode(blake3)))
        .expect("hex bundle key is valid")
}

/// `bundles/<blake3 hex of the bundle>.sigstore.json`: where a Sigstore bundle is
/// stored, under its own content address. Keying bundles by their artifact's BLAKE3
/// (`bundle_key`) would let a second signing of the same bytes (a re-run CI job whose
/// publish then fails with "version exists") overwrite the bundle a committed index
/// entry points to; keyed by their own hash, stored bundles never change.
pub fn content_bundle_key(bundle: &[u8]) -> ObjectKey {
    // Invariant: as for `blob_key`.
    ObjectKey::new(format!(
        "bundles/{}.sigstore.json",
        hex::encode(blake3::hash(bundle).as_bytes())
    ))
    .expect("hex bundle key is valid")
}

/// Content-addressed blobs over any [`Objects`] backend (see the module docs for the
/// contract).
#[derive(Debug, Clone)]
pub struct BlobStore {
    objects: Arc<dyn Objects>,
    max_size: u64,
}

impl BlobStore {
    pub fn new(objects: Arc<dyn Objects>, max_size: u64) -> Self {
        BlobStore { objects, max_size }
    }

    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Streams `reader` to the end, hashing as it goes, and stores the blob.
    #[allow(
        clippy::indexing_slicing,
        reason = "n is what read_some read into chunk, at most chunk.len()"
    )]
    pub async fn put_reader<R>(&self, mut reader: R) -> Result<BlobInfo, BlobError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let mut hasher = vouch_digest::Hasher::new();
        let mut data = BytesMut::new();
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let n = read_some(&mut reader, &mut chunk)
                .await
                .map_err(|source| BlobError::Read { source })?;
            if n == 0 {
                break;
            }
            let read = data.len() as u64 + n as u64;
            if read > self.max_size {
                return Err(BlobError::TooLarge {
                    limit: self.max_size,
                    read,
                });
            }
            hasher.update(&chunk[..n]);
            data.extend_from_slice(&chunk[..n]);
        }
        let d = hasher.finalize();
        let info = BlobInfo {
            blake3: d.blake3,
            sha256: d.sha256,
            size: d.size,
        };
        self.objects.put(&info.key(), data.freeze()).await?;
        Ok(info)
    }

    /// Stores the file at `path`.
    pub async fn put_file(&self, path: &Path) -> Result<BlobInfo, BlobError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| BlobError::Open {
                path: path.into(),
                source,
            })?;
        self.put_reader(file).await
    }

    /// Stores bytes already in memory.
    pub async fn put_bytes(&self, bytes: &[u8]) -> Result<BlobInfo, BlobError> {
        self.put_reader(bytes).await
    }

    /// Stores a blob held in memory together with its Sigstore bundle (as
    /// [`BlobStore::put_bundle`]) in one durable batch: the two objects are written
    /// and fsynced in parallel. Returns the blob's digests and the bundle's key.
    pub async fn put_bytes_with_bundle(
        &self,
        bytes: Bytes,
        bundle: &[u8],
    ) -> Result<(BlobInfo, ObjectKey), BlobError> {
        for read in [bytes.len() as u64, bundle.len() as u64] {
            if read > self.max_size {
                return Err(BlobError::TooLarge {
                    limit: self.max_size,
                    read,
                });
            }
        }
        let d = vouch_digest::of_bytes(&bytes);
        let info = BlobInfo {
            blake3: d.blake3,
            sha256: d.sha256,
            size: d.size,
        };
        let key = content_bundle_key(bundle);
        self.objects
            .put_many(vec![
                (info.key(), bytes),
                (key.clone(), Bytes::copy_from_slice(bundle)),
            ])
            .await?;
        Ok((info, key))
    }

    /// Reads a blob, checking it still hashes to its key; `Ok(None)` if absent.
    pub async fn get(&self, blake3: &[u8; 32]) -> Result<Option<Bytes>, BlobError> {
        let Some(bytes) = self.objects.get(&blob_key(blake3)).await? else {
            return Ok(None);
        };
        if blake3::hash(&bytes).as_bytes() != blake3 {
            return Err(BlobError::Corrupt {
                blake3: hex::encode(blake3),
            });
        }
        Ok(Some(bytes))
    }

    /// Stores a Sigstore bundle at [`content_bundle_key`] and returns that key. Same
    /// contract as the blobs: durable on `Ok`, idempotent, never torn.
    pub async fn put_bundle(&self, bundle: &[u8]) -> Result<ObjectKey, BlobError> {
        let read = bundle.len() as u64;
        if read > self.max_size {
            return Err(BlobError::TooLarge {
                limit: self.max_size,
                read,
            });
        }
        let key = content_bundle_key(bundle);
        self.objects
            .put(&key, Bytes::copy_from_slice(bundle))
            .await?;
        Ok(key)
    }

    /// Reads a bundle stored by [`BlobStore::put_bundle`]; `Ok(None)` if absent. A
    /// key of the `bundles/<blake3>.sigstore.json` form is checked against the bytes.
    pub async fn get_bundle(&self, key: &ObjectKey) -> Result<Option<Bytes>, BlobError> {
        let Some(bytes) = self.objects.get(key).await? else {
            return Ok(None);
        };
        let expected = key
            .as_str()
            .strip_prefix("bundles/")
            .and_then(|k| k.strip_suffix(".sigstore.json"));
        if let Some(expected) = expected {
            if hex::encode(blake3::hash(&bytes).as_bytes()) != expected {
                return Err(BlobError::Corrupt {
                    blake3: expected.to_owned(),
                });
            }
        }
        Ok(Some(bytes))
    }

    /// Whether the blob is stored. [`Objects`] has no metadata call, so this reads
    /// the object; prefer the index ([`crate::meta::MetaStore::blob_referenced`]) on
    /// hot paths.
    pub async fn exists(&self, blake3: &[u8; 32]) -> Result<bool, BlobError> {
        Ok(self.objects.get(&blob_key(blake3)).await?.is_some())
    }
}

/// One `poll_read` as a future (tokio's `AsyncReadExt` needs a feature this crate
/// does not enable).
async fn read_some<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut *reader).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
