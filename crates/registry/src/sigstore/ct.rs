//! The certificate-transparency log behind the CA's SCTs: a second log on vouch's own engine (origin `<log origin>/ct`, objects under `ct/`, same checkpoint lock table; after `vouch admin keys reset-sigstore`, `<log origin>/ct-g<N>` under `ct-g<N>/`), holding one RFC 6962 `MerkleTreeLeaf` per issued precertificate; plus its read routes `GET /ct/checkpoint` and `GET /ct/tile/...`.
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

use super::error;
use super::SetupError;
use crate::app::AppState;
use crate::config::ServeConfig;
use crate::ApiError;

/// Object-key prefix of the first CT log's tiles, bundles and checkpoint.
pub const OBJECT_PREFIX: &str = "ct/";

/// The first CT log's origin line (generation 1).
pub fn origin(cfg: &ServeConfig) -> String {
    format!("{}/ct", cfg.log.origin)
}

// CT log generations. A CT log cannot outlive its checkpoint key: every checkpoint is a
// signed note under it, so when that key is lost (TOKEN_ENC_KEY lost, `vouch admin keys
// reset-sigstore`) the log cannot be continued, and re-signing its history under a new
// key would forge what it committed to. The reset therefore starts a NEW CT log: origin
// `<log origin>/ct-g<N>`, objects under `ct-g<N>/`, its own lock row (the lock table is
// keyed by origin), where N is the sealed generation the reset creates. The old log's
// objects stay as they were (old SCTs name the old CT key, in the old trusted root).
//
// Which CT log is active is read from the name of the active CT checkpoint key (its
// signed-note key name IS the origin), not from a separate setting: the key and the log
// can then never disagree, and the reset's single commit point (the sealed generation)
// switches both at once. A rotation of TOKEN_ENC_KEY re-seals the key with its name, so
// it keeps its CT log. Generation 1 is `<log origin>/ct` under `ct/`, byte for byte as
// before generations existed.

/// The origin of CT log generation `ct_generation` (1: [`origin`]).
pub fn origin_for(cfg: &ServeConfig, ct_generation: u32) -> String {
    if ct_generation <= 1 {
        origin(cfg)
    } else {
        format!("{}/ct-g{ct_generation}", cfg.log.origin)
    }
}

/// The object prefix of CT log generation `ct_generation` (1: [`OBJECT_PREFIX`]).
pub fn object_prefix(ct_generation: u32) -> String {
    if ct_generation <= 1 {
        OBJECT_PREFIX.to_owned()
    } else {
        format!("ct-g{ct_generation}/")
    }
}

/// The CT log generation a checkpoint key belongs to, from its key name: `<log
/// origin>/ct` is 1, `<log origin>/ct-g<N>` (N >= 2) is N; any other name is refused
/// (a key for another origin must never sign this instance's CT log).
pub fn generation_of(cfg: &ServeConfig, key_name: &str) -> Result<u32, SetupError> {
    if key_name == origin(cfg) {
        return Ok(1);
    }
    key_name
        .strip_prefix(&format!("{}/ct-g", cfg.log.origin))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n >= 2 && origin_for(cfg, *n) == key_name)
        .ok_or_else(|| SetupError::Material {
            what: "CT log checkpoint key",
            reason: format!(
                "the key is named {key_name:?}, expected {:?} or \"{}/ct-g<N>\"",
                origin(cfg),
                cfg.log.origin
            ),
        })
}

/// An [`Objects`] view that puts every key under a fixed prefix, so a second log shares
/// the store without sharing a key. Same durability, concurrency and idempotence as the
/// wrapped store (each call maps one to one).
#[derive(Debug)]
pub struct PrefixedObjects {
    inner: Arc<dyn Objects>,
    prefix: String,
}

impl PrefixedObjects {
    /// Wraps `inner`; `prefix` ends with `/`.
    pub fn new(inner: Arc<dyn Objects>, prefix: impl Into<String>) -> Self {
        PrefixedObjects {
            inner,
            prefix: prefix.into(),
        }
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

    async fn put_many_if_absent(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        let mut mapped = Vec::with_capacity(objects.len());
        for (k, v) in objects {
            mapped.push((self.key(&k)?, v));
        }
        self.inner.put_many_if_absent(mapped).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        self.inner.get(&self.key(key)?).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.inner.delete(&self.key(key)?).await
    }
}

/// Opens the CT log `signer` signs (its generation from the key name, see
/// [`generation_of`]) with the main log's batching; with `create` (`vouch admin init`,
/// `--dev`, `vouch admin keys reset-sigstore`) a missing one is created empty, otherwise
/// it must exist.
pub async fn open(
    cfg: &ServeConfig,
    objects: &Arc<dyn Objects>,
    lock: Arc<dyn CheckpointLock>,
    signer: Signer,
    create: bool,
    epoch: Option<i64>,
) -> Result<Log, SetupError> {
    kit(cfg, objects, lock, signer)?.open(create, epoch).await
}

/// What opening the CT log takes, kept by every node so a follower that wins the lead
/// opens it ([`CtKit::open`]) and a follower reads it (origin, key, objects) meanwhile.
#[derive(Clone)]
pub struct CtKit {
    pub config: LogConfig,
    pub objects: Arc<dyn Objects>,
    pub lock: Arc<dyn CheckpointLock>,
    pub signer: Signer,
}

impl std::fmt::Debug for CtKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtKit")
            .field("origin", &self.config.origin)
            .finish_non_exhaustive()
    }
}

impl CtKit {
    /// Opens (with `create`, creates) the CT log and starts its sequencer; with an
    /// `epoch` (the main log's lease covers the CT log) every commit is fenced by it.
    pub async fn open(&self, create: bool, epoch: Option<i64>) -> Result<Log, SetupError> {
        let (config, objects, lock, signer) = (
            self.config.clone(),
            Arc::clone(&self.objects),
            Arc::clone(&self.lock),
            self.signer.clone(),
        );
        match epoch {
            Some(epoch) => Log::open_fenced(config, objects, lock, signer, create, epoch).await,
            None => Log::open(config, objects, lock, signer, create).await,
        }
        .map_err(SetupError::CtLog)
    }
}

/// The [`CtKit`] of the CT log `signer` signs (its generation from the key name).
pub fn kit(
    cfg: &ServeConfig,
    objects: &Arc<dyn Objects>,
    lock: Arc<dyn CheckpointLock>,
    signer: Signer,
) -> Result<CtKit, SetupError> {
    let ct_generation = generation_of(cfg, signer.name())?;
    let main = cfg.log_config();
    let config = LogConfig::new(origin_for(cfg, ct_generation))
        .with_batch_interval(main.batch_interval)
        .with_batch_max_entries(main.batch_max_entries)
        .with_pool_limits(main.pool_max_entries, main.pool_max_bytes);
    let prefixed: Arc<dyn Objects> = Arc::new(PrefixedObjects::new(
        Arc::clone(objects),
        object_prefix(ct_generation),
    ));
    Ok(CtKit {
        config,
        objects: prefixed,
        lock,
        signer,
    })
}

/// `GET /ct/checkpoint`: the CT log's latest signed checkpoint.
pub async fn checkpoint(State(app): State<Arc<AppState>>) -> Response {
    let note = match app.sigstore.ct_log.committed().await {
        Ok(p) => p.note.clone(),
        Err(e) => return crate::tiles::unknown_checkpoint(e).into_response(),
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
) -> Result<Response, ApiError> {
    let not_found = |d: String| error::refuse(axum::http::StatusCode::NOT_FOUND, "SERVE_E002", d);
    let path = format!("tile/{rest}");
    let parsed = TilePath::parse(&path).map_err(|e| {
        error::refuse(
            axum::http::StatusCode::BAD_REQUEST,
            "SERVE_E001",
            format!("not a tile path: {e}"),
        )
    })?;
    let log = &app.sigstore.ct_log;
    let size = log.committed().await.map_err(ApiError::from)?.size;
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
    let key = ObjectKey::new(parsed.path()).map_err(|e| error::internal("SERVE_E007", &e))?;
    let body = log
        .objects()
        .get(&key)
        .await
        .map_err(|e| error::internal("SERVE_E007", &e))?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_one_keeps_the_original_origin_and_prefix() {
        let cfg = ServeConfig::dev(std::path::Path::new("/d"));
        assert_eq!(origin_for(&cfg, 1), format!("{}/ct", cfg.log.origin));
        assert_eq!(origin_for(&cfg, 1), origin(&cfg));
        assert_eq!(object_prefix(1), OBJECT_PREFIX);
        assert_eq!(generation_of(&cfg, &origin(&cfg)).unwrap(), 1);
    }

    #[test]
    fn later_generations_get_their_own_origin_and_prefix() {
        let cfg = ServeConfig::dev(std::path::Path::new("/d"));
        assert_eq!(origin_for(&cfg, 3), format!("{}/ct-g3", cfg.log.origin));
        assert_eq!(object_prefix(3), "ct-g3/");
        assert_eq!(generation_of(&cfg, &origin_for(&cfg, 3)).unwrap(), 3);
    }

    #[test]
    fn a_checkpoint_key_for_another_origin_is_refused() {
        let cfg = ServeConfig::dev(std::path::Path::new("/d"));
        let o = &cfg.log.origin;
        for name in [
            "elsewhere/ct".to_owned(),
            format!("{o}/ct-g1"),
            format!("{o}/ct-g02"),
            format!("{o}/ct-gx"),
            format!("{o}/ct2"),
        ] {
            let err = generation_of(&cfg, &name).unwrap_err();
            assert_eq!(err.code(), "SIGSTORE_E003", "{name}");
        }
    }
}
