//! The certificate-transparency log behind the CA's SCTs: a second log on vouch's own engine (origin `<log origin>/ct`, objects under `ct/`, same checkpoint lock table), holding one RFC 6962 `MerkleTreeLeaf` per issued precertificate; plus its read routes `GET /ct/checkpoint` and `GET /ct/tile/...`.
//!
//! The SCT is signed by the CA's CT key (its log id is the SHA-256 of that key's DER
//! SubjectPublicKeyInfo, as in the trusted root's `ctlogs`); the tree's checkpoints are
//! C2SP signed notes under a separate Ed25519 key ([`super::keys::ct_note_key`]). The
//! CT log is created by `vouch admin init` (or `--dev`) like the rest of the CA.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use vouch_log::{Log, LogConfig};
use vouch_store::{CheckpointLock, ObjectKey, Objects, StoreError};
use vouch_tlog::{Signer, TilePath, TILE_WIDTH};

use super::error::ServiceError;
use super::SetupError;
use crate::app::AppState;
use crate::config::ServeConfig;

/// Object-key prefix of the CT log's tiles, bundles and checkpoint.
pub const OBJECT_PREFIX: &str = "ct/";

/// The CT log's origin line.
pub fn origin(cfg: &ServeConfig) -> String {
    format!("{}/ct", cfg.log.origin)
}

/// An [`Objects`] view that puts every key under a fixed prefix, so a second log shares
/// the store without sharing a key. Same durability, concurrency and idempotence as the
/// wrapped store (each call maps one to one).
#[derive(Debug)]
pub struct PrefixedObjects {
    inner: Arc<dyn Objects>,
    prefix: &'static str,
}

impl PrefixedObjects {
    /// Wraps `inner`; `prefix` ends with `/`.
    pub fn new(inner: Arc<dyn Objects>, prefix: &'static str) -> Self {
        PrefixedObjects { inner, prefix }
    }

    fn key(&self, key: &ObjectKey) -> Result<ObjectKey, StoreError> {
        ObjectKey::new(format!("{}{}", self.prefix, key.as_str()))
    }
}

#[async_trait]
impl Objects for PrefixedObjects {
    async fn put_many(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        let mut mapped = Vec::with_capacity(objects.len());
        for (k, v) in objects {
            mapped.push((self.key(&k)?, v));
        }
        self.inner.put_many(mapped).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.inner.get(&self.key(key)?).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.inner.delete(&self.key(key)?).await
    }
}

/// Opens the CT log with the main log's batching; with `create` (`vouch admin init`,
/// `--dev`) a missing one is created empty, otherwise it must exist.
pub async fn open(
    cfg: &ServeConfig,
    objects: &Arc<dyn Objects>,
    lock: Arc<dyn CheckpointLock>,
    signer: Signer,
    create: bool,
) -> Result<Log, SetupError> {
    let main = cfg.log_config();
    let config = LogConfig::new(origin(cfg))
        .with_batch_interval(main.batch_interval)
        .with_batch_max_entries(main.batch_max_entries)
        .with_pool_limits(main.pool_max_entries, main.pool_max_bytes);
    let prefixed: Arc<dyn Objects> =
        Arc::new(PrefixedObjects::new(Arc::clone(objects), OBJECT_PREFIX));
    Log::open(config, prefixed, lock, signer, create)
        .await
        .map_err(SetupError::CtLog)
}

/// `GET /ct/checkpoint`: the CT log's latest signed checkpoint.
pub async fn checkpoint(State(app): State<Arc<AppState>>) -> Response {
    let note = match app.sigstore.ct_log.current() {
        Ok(p) => p.note.clone(),
        Err(_) => return crate::tiles::sequencer_stopped().into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response()
}

/// `GET /ct/tile/...`: tiles and entry bundles of the CT log that exist at exactly the
/// requested width inside the committed tree (full tiles, and partial ones at a
/// checkpoint size).
pub async fn tile(
    State(app): State<Arc<AppState>>,
    Path(rest): Path<String>,
) -> Result<Response, ServiceError> {
    let not_found =
        |d: String| ServiceError::new(axum::http::StatusCode::NOT_FOUND, "SERVE_E002", d);
    let path = format!("tile/{rest}");
    let parsed = TilePath::parse(&path).map_err(|e| {
        ServiceError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "SERVE_E001",
            format!("not a tile path: {e}"),
        )
    })?;
    let log = &app.sigstore.ct_log;
    let size = log.latest().size;
    let (end, available) = match parsed {
        TilePath::Hash(t) => (
            t.index * u64::from(TILE_WIDTH) + u64::from(t.width),
            vouch_tlog::tile::hashes_at_level(t.level, size),
        ),
        TilePath::Entries(b) => (b.index * u64::from(TILE_WIDTH) + u64::from(b.width), size),
    };
    if end > available {
        return Err(not_found(format!(
            "{path} is beyond the tree of size {size}"
        )));
    }
    let key =
        ObjectKey::new(parsed.path()).map_err(|e| ServiceError::internal("SERVE_E007", &e))?;
    let body = log
        .objects()
        .get(&key)
        .await
        .map_err(|e| ServiceError::internal("SERVE_E007", &e))?
        .ok_or_else(|| not_found(format!("{path} is not stored at this width")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        body,
    )
        .into_response())
}
