//! The instance's TUF repository under `/tuf/`: root, timestamp, snapshot and targets (with `trusted_root.json` and `signing_config.v0.2.json`) with consistent snapshots, kept fresh by the server.
//!
//! Objects (under the main log's object store, served only through this module):
//!
//! - `tuf/meta/<N>.root.json`, `tuf/meta/<N>.targets.json`, `tuf/meta/<N>.snapshot.json`,
//!   `tuf/meta/timestamp.json`, and `tuf/meta/targets/<sha256>.<name>` for each target:
//!   exactly the paths a TUF client asks for below `/tuf/`;
//! - `tuf/keys/<role>.sealed`: the role keys a production server holds, sealed under
//!   TOKEN_ENC_KEY: the online `timestamp` and `snapshot` keys and, only if the operator
//!   put it there, `targets` (root and targets are otherwise signed offline).
//!   `--dev` creates all four as files, `DATA/tuf-keys/<role>.pem`.
//!
//! At start the targets are compared with the instance's current trust material: when
//! the CA, TSA or log keys changed (`vouch admin keys reset-sigstore`), a new targets
//! version is published whose trusted root keeps every retired key with its validity
//! closed (so old bundles keep verifying), then a new snapshot and timestamp. A task
//! re-signs the timestamp (and the snapshot) once half their lifetime has passed.
//! Versioned files are written create-if-absent and never change.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use vouch_ca::{EncryptedKeyMaterial, EncryptionKey};
use vouch_log::Clock;
use vouch_store::{ObjectKey, Objects};
use vouch_trust::repo::{self, KeyPair, RoleKeys};

use crate::app::AppState;
use crate::error::ApiError;
use crate::sigstore::SetupError;

/// Lifetime of the timestamp role.
pub const TIMESTAMP_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Lifetime of the snapshot role.
pub const SNAPSHOT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Lifetime of targets and root versions the server signs itself (`--dev`).
pub const LONG_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// How often the freshness task looks at the timestamp and snapshot.
const FRESHEN_EVERY: Duration = Duration::from_secs(300);

const ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// The trust configuration this instance serves now, recorded at every start.
const INSTANCE_TRUST_CONFIG: &str = "tuf/instance/trust-config.json";

pub mod admin;
pub use admin::AdminError;

pub(crate) fn purpose(role: &str) -> String {
    format!("vouch tuf {role} key")
}

/// The roles whose keys a production server may hold sealed, `tuf/keys/<role>.sealed`.
pub(crate) const SEALED_ROLES: [&str; 4] = ROLES;

/// The object of `role`'s sealed key, and the one `vouch admin rotate-token-enc-key`
/// writes under the new TOKEN_ENC_KEY before its commit (used if a crash left the
/// first one sealed under the retired key).
pub(crate) fn sealed_names(role: &str) -> (String, String) {
    (
        format!("tuf/keys/{role}.sealed"),
        format!("tuf/keys/{role}.sealed.next"),
    )
}

/// `role`'s sealed key opened with `enc`: the object, else (a rotation that crashed
/// after its commit) the re-sealed `.next` one; `None` when the server holds none.
async fn sealed_key(
    objects: &dyn Objects,
    enc: &EncryptionKey,
    role: &str,
) -> Result<Option<KeyPair>, SetupError> {
    let (name, next) = sealed_names(role);
    let read = |n: String| async move {
        objects
            .get(&key(&n)?)
            .await
            .map_err(|e| err(format!("reading {n}: {e}")))
    };
    let Some(bytes) = read(name).await? else {
        return Ok(None);
    };
    match open_key(&bytes, enc, role) {
        Ok(k) => Ok(Some(k)),
        Err(first) => match read(next).await? {
            Some(b) => open_key(&b, enc, role).map(Some).map_err(|_| first),
            None => Err(first),
        },
    }
}

fn key(name: &str) -> Result<ObjectKey, SetupError> {
    ObjectKey::new(name).map_err(|e| err(format!("object name {name}: {e}")))
}

fn err(reason: String) -> SetupError {
    SetupError::Material {
        what: "TUF repository",
        reason,
    }
}

fn terr(e: vouch_trust::Error) -> SetupError {
    err(format!("{}: {e}", e.code()))
}

/// The repository this node publishes.
pub struct TufRepo {
    objects: Arc<dyn Objects>,
    keys: Keys,
    clock: Arc<dyn Clock>,
    /// Serialises this node's re-signing.
    write: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TufRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TufRepo").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Keys {
    root: Option<KeyPair>,
    targets: Option<KeyPair>,
    snapshot: Option<KeyPair>,
    timestamp: Option<KeyPair>,
}

impl Keys {
    /// Every role's key this node holds: with `--dev` (`dev_dir`) what `dev_key` finds
    /// for it in that data directory, otherwise the one sealed under `enc`.
    async fn read(
        objects: &dyn Objects,
        enc: &EncryptionKey,
        dev_dir: Option<&std::path::Path>,
        dev_key: fn(&std::path::Path, &str) -> Result<Option<KeyPair>, SetupError>,
    ) -> Result<Keys, SetupError> {
        let mut keys = Keys::default();
        for role in ROLES {
            let pair = match dev_dir {
                Some(dir) => dev_key(dir, role)?,
                None => sealed_key(objects, enc, role).await?,
            };
            match role {
                "root" => keys.root = pair,
                "targets" => keys.targets = pair,
                "snapshot" => keys.snapshot = pair,
                _ => keys.timestamp = pair,
            }
        }
        Ok(keys)
    }
}

/// The current top-level versions, read back from the repository's own files.
#[derive(Debug, Clone, Copy)]
struct Current {
    root: u64,
    timestamp: (u64, i64),
    snapshot: (u64, i64),
    targets: u64,
}

impl TufRepo {
    /// Opens the repository (creating it under `--dev`), publishes new targets if
    /// the trust material changed, and freshens timestamp and snapshot. `None` when a
    /// production instance has no repository yet (`/tuf/` then answers 404).
    pub async fn open(
        objects: Arc<dyn Objects>,
        enc: &EncryptionKey,
        trust_config: &[u8],
        dev: bool,
        data_dir: &std::path::Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Arc<TufRepo>>, SetupError> {
        let keys = Keys::read(
            objects.as_ref(),
            enc,
            dev.then_some(data_dir),
            |dir, role| dev_key(dir, role).map(Some),
        )
        .await?;
        let repo = TufRepo {
            objects,
            keys,
            clock,
            write: tokio::sync::Mutex::new(()),
        };
        // What this instance would publish now: `vouch admin tuf status` compares it
        // with the published targets, and exports it for the offline targets signing.
        repo.objects
            .put(
                &key(INSTANCE_TRUST_CONFIG)?,
                Bytes::from(trust_config.to_vec()),
            )
            .await
            .map_err(|e| err(format!("writing {INSTANCE_TRUST_CONFIG}: {e}")))?;
        if repo.get("1.root.json").await?.is_none() {
            if !dev {
                if repo.keys.timestamp.is_none() && repo.keys.snapshot.is_none() {
                    tracing::info!("no TUF repository and no online TUF keys: /tuf/ answers 404 (see `vouch admin tuf online-keys`)");
                    return Ok(None);
                }
                tracing::info!("no TUF repository yet: /tuf/ answers 404 until `vouch admin tuf publish` publishes one");
                return Ok(Some(Arc::new(repo)));
            }
            repo.create(trust_config).await?;
        }
        repo.publish_targets_if_changed(trust_config).await?;
        repo.freshen().await?;
        repo.warn_expiring().await?;
        Ok(Some(Arc::new(repo)))
    }

    /// The repository as an offline command sees it: the same keys the server would
    /// hold (sealed under `enc`, or the `--dev` files), nothing created or re-signed.
    pub async fn load(
        objects: Arc<dyn Objects>,
        enc: &EncryptionKey,
        dev: bool,
        data_dir: &std::path::Path,
        clock: Arc<dyn Clock>,
    ) -> Result<TufRepo, SetupError> {
        let keys = Keys::read(
            objects.as_ref(),
            enc,
            dev.then_some(data_dir),
            |dir, role| {
                let path = dir.join("tuf-keys").join(format!("{role}.pem"));
                match std::fs::read_to_string(&path) {
                    Ok(text) => KeyPair::from_pem(&text).map(Some).map_err(terr),
                    Err(_) => Ok(None),
                }
            },
        )
        .await?;
        Ok(TufRepo {
            objects,
            keys,
            clock,
            write: tokio::sync::Mutex::new(()),
        })
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.unix_seconds()).unwrap_or(i64::MAX)
    }

    async fn get(&self, name: &str) -> Result<Option<Bytes>, SetupError> {
        self.objects
            .get(&key(&format!("tuf/meta/{name}"))?)
            .await
            .map_err(|e| err(format!("reading tuf/meta/{name}: {e}")))
    }

    async fn put_new(&self, name: &str, bytes: Vec<u8>) -> Result<(), SetupError> {
        self.objects
            .put_if_absent(&key(&format!("tuf/meta/{name}"))?, Bytes::from(bytes))
            .await
            .map_err(|e| err(format!("writing tuf/meta/{name}: {e}")))
    }

    fn need<'a>(&self, k: &'a Option<KeyPair>, role: &str) -> Result<&'a KeyPair, SetupError> {
        k.as_ref()
            .ok_or_else(|| err(format!("this server holds no {role} key")))
    }

    async fn create(&self, trust_config: &[u8]) -> Result<(), SetupError> {
        let root_key = self.need(&self.keys.root, "root")?;
        let pk = |k: &Option<KeyPair>, r| self.need(k, r).map(|k| RoleKeys::single(k.public()));
        let signed = repo::root(
            1,
            self.now() + LONG_LIFETIME.as_secs() as i64,
            &pk(&self.keys.root, "root")?,
            &pk(&self.keys.targets, "targets")?,
            &pk(&self.keys.snapshot, "snapshot")?,
            &pk(&self.keys.timestamp, "timestamp")?,
        )
        .map_err(terr)?;
        let root = repo::sign(&signed, &[root_key]).map_err(terr)?;
        let (trusted_root, signing_config) = split_trust_config(trust_config)?;
        self.write_targets(1, &trusted_root, &signing_config)
            .await?;
        self.write_snapshot_and_timestamp(1, 1, 1).await?;
        self.put_new("1.root.json", root).await?;
        tracing::info!("created the instance's TUF repository (root v1)");
        Ok(())
    }

    async fn write_targets(
        &self,
        version: u64,
        trusted_root: &[u8],
        signing_config: &[u8],
    ) -> Result<(), SetupError> {
        let k = self.need(&self.keys.targets, "targets")?;
        let files: [(&str, &[u8]); 2] = [
            (vouch_trust::client::TRUSTED_ROOT_TARGET, trusted_root),
            (vouch_trust::client::SIGNING_CONFIG_TARGET, signing_config),
        ];
        for (name, bytes) in files {
            let file = format!("targets/{}", repo::target_file_name(name, bytes));
            self.put_new(&file, bytes.to_vec()).await?;
        }
        let signed = repo::targets(version, self.now() + LONG_LIFETIME.as_secs() as i64, &files);
        self.put_new(
            &format!("{version}.targets.json"),
            repo::sign(&signed, &[k]).map_err(terr)?,
        )
        .await
    }

    async fn write_snapshot_and_timestamp(
        &self,
        snapshot_version: u64,
        targets_version: u64,
        timestamp_version: u64,
    ) -> Result<(), SetupError> {
        let now = self.now();
        let sk = self.need(&self.keys.snapshot, "snapshot")?;
        let snap = repo::sign(
            &repo::snapshot(
                snapshot_version,
                now + SNAPSHOT_LIFETIME.as_secs() as i64,
                targets_version,
            ),
            &[sk],
        )
        .map_err(terr)?;
        let name = format!("{snapshot_version}.snapshot.json");
        self.put_new(&name, snap).await?;
        // Read back: of two nodes writing the same version, the stored one is pinned.
        let stored = self
            .get(&name)
            .await?
            .ok_or_else(|| err(format!("{name} vanished")))?;
        self.write_timestamp(timestamp_version, snapshot_version, &stored)
            .await
    }

    async fn write_timestamp(
        &self,
        version: u64,
        snapshot_version: u64,
        snapshot: &[u8],
    ) -> Result<(), SetupError> {
        let tk = self.need(&self.keys.timestamp, "timestamp")?;
        let ts = repo::sign(
            &repo::timestamp(
                version,
                self.now() + TIMESTAMP_LIFETIME.as_secs() as i64,
                snapshot_version,
                snapshot,
            ),
            &[tk],
        )
        .map_err(terr)?;
        self.objects
            .put(&key("tuf/meta/timestamp.json")?, Bytes::from(ts))
            .await
            .map_err(|e| err(format!("writing tuf/meta/timestamp.json: {e}")))
    }

    async fn current(&self) -> Result<Current, SetupError> {
        let ts = self
            .get("timestamp.json")
            .await?
            .ok_or_else(|| err("no timestamp.json".into()))?;
        let timestamp = repo::version_and_expiry(&ts).map_err(terr)?;
        let doc: serde_json::Value =
            serde_json::from_slice(&ts).map_err(|e| err(format!("timestamp.json: {e}")))?;
        let sv = doc
            .pointer("/signed/meta/snapshot.json/version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| err("timestamp.json pins no snapshot".into()))?;
        let snap = self
            .get(&format!("{sv}.snapshot.json"))
            .await?
            .ok_or_else(|| err(format!("{sv}.snapshot.json is missing")))?;
        let snapshot = repo::version_and_expiry(&snap).map_err(terr)?;
        let sdoc: serde_json::Value =
            serde_json::from_slice(&snap).map_err(|e| err(format!("snapshot: {e}")))?;
        let targets = sdoc
            .pointer("/signed/meta/targets.json/version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| err("snapshot pins no targets".into()))?;
        let mut root = 1;
        while self
            .get(&format!("{}.root.json", root + 1))
            .await?
            .is_some()
        {
            root += 1;
        }
        Ok(Current {
            root,
            timestamp,
            snapshot,
            targets,
        })
    }

    /// The trusted root and the signing config as targets version `targets_version`
    /// lists them.
    async fn published_trust_material(
        &self,
        targets_version: u64,
    ) -> Result<(Option<Bytes>, Option<Bytes>), SetupError> {
        let root = self
            .published_target(targets_version, vouch_trust::client::TRUSTED_ROOT_TARGET)
            .await?;
        let signing_config = self
            .published_target(targets_version, vouch_trust::client::SIGNING_CONFIG_TARGET)
            .await?;
        Ok((root, signing_config))
    }

    /// The target `name` as the current targets version lists it.
    async fn published_target(
        &self,
        targets_version: u64,
        name: &str,
    ) -> Result<Option<Bytes>, SetupError> {
        let Some(t) = self.get(&format!("{targets_version}.targets.json")).await? else {
            return Ok(None);
        };
        let doc: serde_json::Value =
            serde_json::from_slice(&t).map_err(|e| err(format!("targets: {e}")))?;
        let Some(hash) = doc
            .get("signed")
            .and_then(|s| s.get("targets"))
            .and_then(|t| t.get(name))
            .and_then(|t| t.pointer("/hashes/sha256"))
            .and_then(serde_json::Value::as_str)
        else {
            return Ok(None);
        };
        self.get(&format!("targets/{hash}.{name}")).await
    }

    /// Publishes a new targets version when the instance's trust material differs
    /// from what the current one lists (keys rotated or reset).
    async fn publish_targets_if_changed(&self, trust_config: &[u8]) -> Result<(), SetupError> {
        let _w = self.write.lock().await;
        if self.get("timestamp.json").await?.is_none() {
            return Ok(());
        }
        let cur = self.current().await?;
        let (trusted_root, signing_config) = split_trust_config(trust_config)?;
        let (old_root, old_sc) = self.published_trust_material(cur.targets).await?;
        let Some(change) = repo::trust_material_differs(
            old_root.as_deref(),
            old_sc.as_deref(),
            trust_config,
            self.now(),
        )
        .map_err(terr)?
        else {
            return Ok(());
        };
        let merged = match &old_root {
            Some(old) => repo::merge_trusted_root(old, &trusted_root, self.now()).map_err(terr)?,
            None => trusted_root.clone(),
        };
        if self.keys.targets.is_none() {
            let stale = vouch_trust::Error::StaleTargets {
                targets_version: cur.targets,
                detail: change,
            };
            tracing::warn!(code = stale.code(), "{stale}");
            return Ok(());
        }
        let tv = cur.targets + 1;
        self.write_targets(tv, &merged, &signing_config).await?;
        self.write_snapshot_and_timestamp(cur.snapshot.0 + 1, tv, cur.timestamp.0 + 1)
            .await?;
        tracing::info!(
            targets_version = tv,
            "published new TUF targets: the trust material changed"
        );
        Ok(())
    }

    /// Re-signs the snapshot and/or timestamp once half their lifetime has passed.
    pub async fn freshen(&self) -> Result<(), SetupError> {
        let _w = self.write.lock().await;
        if self.get("timestamp.json").await?.is_none() {
            // Nothing published yet (`vouch admin tuf publish` signs the first one).
            return Ok(());
        }
        let cur = self.current().await?;
        let now = self.now();
        let half = |life: Duration| (life.as_secs() / 2) as i64;
        if cur.snapshot.1 - now < half(SNAPSHOT_LIFETIME) {
            self.write_snapshot_and_timestamp(cur.snapshot.0 + 1, cur.targets, cur.timestamp.0 + 1)
                .await?;
            tracing::info!(
                snapshot_version = cur.snapshot.0 + 1,
                "re-signed the TUF snapshot"
            );
            self.warn_expiring().await?;
        } else if cur.timestamp.1 - now < half(TIMESTAMP_LIFETIME) {
            let snap = self
                .get(&format!("{}.snapshot.json", cur.snapshot.0))
                .await?
                .ok_or_else(|| err("snapshot vanished".into()))?;
            self.write_timestamp(cur.timestamp.0 + 1, cur.snapshot.0, &snap)
                .await?;
            tracing::info!(
                timestamp_version = cur.timestamp.0 + 1,
                "re-signed the TUF timestamp"
            );
        }
        let _ = cur.root;
        Ok(())
    }

    /// Runs [`TufRepo::freshen`] every few minutes for the life of the process.
    pub fn spawn_freshener(self: &Arc<Self>) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FRESHEN_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = me.freshen().await {
                    tracing::error!(error = %e, "could not freshen the TUF timestamp/snapshot");
                }
            }
        });
    }
}

/// A `--dev` role key: `DATA/tuf-keys/<role>.pem`, created once (0600, never
/// overwritten). Kept as files rather than sealed under TOKEN_ENC_KEY so that a dev
/// instance recovering from a lost TOKEN_ENC_KEY (`vouch admin keys reset-sigstore`)
/// keeps its TUF root, and clients follow the new CA through new targets.
fn dev_key(data_dir: &std::path::Path, role: &str) -> Result<KeyPair, SetupError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = data_dir.join("tuf-keys");
    let path = dir.join(format!("{role}.pem"));
    match std::fs::read_to_string(&path) {
        Ok(text) => return KeyPair::from_pem(&text).map_err(terr),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(format!("reading {}: {e}", path.display()))),
    }
    std::fs::create_dir_all(&dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
    let pair = KeyPair::generate().map_err(terr)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| err(format!("creating {}: {e}", path.display())))?;
    f.write_all(pair.to_pem().as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| err(format!("writing {}: {e}", path.display())))?;
    Ok(pair)
}

fn open_key(sealed: &[u8], enc: &EncryptionKey, role: &str) -> Result<KeyPair, SetupError> {
    let sealed = EncryptedKeyMaterial::from_bytes(sealed.to_vec())
        .map_err(|e| err(format!("{role} key: {}: {e}", e.code())))?;
    let plain = sealed
        .open(enc, &purpose(role))
        .map_err(|e| SetupError::Unseal {
            what: "TUF role key",
            key: sealed_names(role).0,
            code: e.code(),
            reason: e.to_string(),
        })?;
    KeyPair::from_pkcs8(&plain).map_err(terr)
}

/// The trusted root and signing config of a client trust configuration, each as
/// its own pretty-printed file.
fn split_trust_config(trust_config: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SetupError> {
    repo::split_trust_config(trust_config).map_err(terr)
}

/// `GET /tuf/{*path}`: the repository's files, as stored.
async fn serve_file(State(app): State<Arc<AppState>>, Path(path): Path<String>) -> Response {
    let Some(_repo) = app.tuf.as_ref() else {
        return ApiError::not_found("this instance publishes no TUF repository").into_response();
    };
    let Ok(k) = ObjectKey::new(format!("tuf/meta/{path}")) else {
        return ApiError::not_found(format!("no TUF file {path}")).into_response();
    };
    if path.starts_with("keys/") {
        return ApiError::not_found(format!("no TUF file {path}")).into_response();
    }
    match app.log.objects().get(&k).await {
        Ok(Some(bytes)) => {
            let cache = if path == "timestamp.json" || path == "root.json" {
                "no-cache"
            } else {
                "public, max-age=31536000, immutable"
            };
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, cache),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(None) => ApiError::not_found(format!("no TUF file {path}")).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The `/tuf/` routes, for [`crate::app::router`] to merge.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/tuf/{*path}", get(serve_file))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;
    use vouch_log::ManualClock;

    fn config(ca: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "trustedRoot": {
                "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                "tlogs": [],
                "certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": ca}]},
                                            "validFor": {"start": "2026-01-01T00:00:00Z"}}],
                "ctlogs": [], "timestampAuthorities": [],
            },
            "signingConfig": {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"},
        }))
        .unwrap()
    }

    async fn versions(objects: &Arc<dyn Objects>) -> (u64, u64, u64) {
        let get = |n: String| async move {
            objects
                .get(&ObjectKey::new(format!("tuf/meta/{n}")).unwrap())
                .await
                .unwrap()
                .unwrap()
        };
        let ts: serde_json::Value =
            serde_json::from_slice(&get("timestamp.json".into()).await).unwrap();
        let sv = ts["signed"]["meta"]["snapshot.json"]["version"]
            .as_u64()
            .unwrap();
        let snap: serde_json::Value =
            serde_json::from_slice(&get(format!("{sv}.snapshot.json")).await).unwrap();
        (
            ts["signed"]["version"].as_u64().unwrap(),
            sv,
            snap["signed"]["meta"]["targets.json"]["version"]
                .as_u64()
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn timestamp_and_snapshot_are_resigned_before_expiry_and_new_material_publishes_targets()
    {
        let dir = tempfile::tempdir().unwrap();
        let objects: Arc<dyn Objects> = Arc::new(vouch_store::RemoteObjects::memory());
        let enc = EncryptionKey::from_bytes([7; 32]);
        let start = 1_800_000_000;
        let clock = Arc::new(ManualClock::new(start));
        let open = |cfg: Vec<u8>| {
            let objects = Arc::clone(&objects);
            let clock: Arc<dyn Clock> = clock.clone();
            let enc = &enc;
            let dir = dir.path().to_owned();
            async move {
                TufRepo::open(objects, enc, &cfg, true, &dir, clock)
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        let repo = open(config("CA1")).await;
        assert_eq!(versions(&objects).await, (1, 1, 1));
        // Nothing to do well inside the lifetimes.
        repo.freshen().await.unwrap();
        assert_eq!(versions(&objects).await, (1, 1, 1));
        // Past half the timestamp's lifetime: a new timestamp, same snapshot.
        clock.advance(TIMESTAMP_LIFETIME.as_secs() / 2 + 1);
        repo.freshen().await.unwrap();
        assert_eq!(versions(&objects).await, (2, 1, 1));
        // Past half the snapshot's lifetime: a new snapshot and timestamp.
        clock.set(start + SNAPSHOT_LIFETIME.as_secs() / 2 + 1);
        repo.freshen().await.unwrap();
        assert_eq!(versions(&objects).await, (3, 2, 1));
        // Reopened with the same material: no new targets; with a new CA: targets 2.
        drop(open(config("CA1")).await);
        assert_eq!(versions(&objects).await, (3, 2, 1));
        drop(open(config("CA2")).await);
        assert_eq!(versions(&objects).await, (4, 3, 2));
        // A production start finds the sealed keys absent: it holds no key and signs nothing.
        let prod = TufRepo::open(
            Arc::clone(&objects),
            &enc,
            &config("CA2"),
            false,
            dir.path(),
            clock.clone(),
        )
        .await
        .unwrap()
        .unwrap();
        clock.advance(SNAPSHOT_LIFETIME.as_secs());
        assert_eq!(prod.freshen().await.unwrap_err().code(), "SIGSTORE_E003");
    }
}
