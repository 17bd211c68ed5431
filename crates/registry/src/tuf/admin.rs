//! `vouch admin tuf`: the operator's commands for the instance's TUF repository. The file-only steps (keygen, init, rotate-root, targets, sign) run on any machine, offline, through `vouch_trust::ceremony`; `online-keys`, `publish` and `status` open the instance as the other offline admin commands do (its config and TOKEN_ENC_KEY, or a `--dev` data directory) and work on its object store.
//!
//! `publish` checks the staging directory with the TUF client's own code against the
//! root the server publishes now (each new root signed by both thresholds, the targets
//! by the final root's targets keys, the timestamp and snapshot roles naming the keys
//! this server holds), writes the new files create-if-absent, then signs a new
//! snapshot and timestamp with the server's online keys. A running server serves the
//! new versions at once (it reads `timestamp.json` on every request) and keeps them
//! fresh; the command may run with the server up or down.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use vouch_ca::{EncryptedKeyMaterial, EncryptionKey};
use vouch_log::Clock;
use vouch_store::Objects;
use vouch_trust::ceremony::{self, RootRoles, SignatureCount};
use vouch_trust::repo::{self, KeyPair, RoleKeys};

use super::{err, key, purpose, terr, TufRepo, INSTANCE_TRUST_CONFIG};
use crate::offline::{Answer, OfflineError};
use crate::sigstore::SetupError;

/// What `vouch admin tuf` refuses: a TUF refusal (its `TUF_E` code) or a failure of
/// the repository's storage or keys (`SIGSTORE_E…`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    #[error(transparent)]
    Tuf(#[from] vouch_trust::Error),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

impl AdminError {
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Tuf(e) => e.code(),
            AdminError::Setup(e) => e.code(),
        }
    }
}

fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn days(n: u32) -> i64 {
    i64::from(n) * 24 * 3600
}

fn tuf(e: vouch_trust::Error) -> OfflineError {
    OfflineError::Tuf(AdminError::Tuf(e))
}

/// `vouch admin tuf keygen --out FILE`.
pub fn keygen(out: &Path) -> Result<Answer, OfflineError> {
    let k = ceremony::keygen(out).map_err(tuf)?;
    Ok(Answer {
        lines: vec![
            format!(
                "private key {} (0600: keep it offline)",
                k.private.display()
            ),
            format!("public key  {}", k.public.display()),
            format!("key id      {}", k.keyid),
        ],
        json: json!(k),
    })
}

/// A role's key files and threshold, as the command line names them.
pub struct RoleFiles<'a> {
    pub keys: &'a [PathBuf],
    pub threshold: u32,
}

fn role(files: &RoleFiles<'_>) -> Result<Option<RoleKeys>, OfflineError> {
    if files.keys.is_empty() {
        return Ok(None);
    }
    let keys = files
        .keys
        .iter()
        .map(|p| ceremony::read_public(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(tuf)?;
    Ok(Some(RoleKeys {
        keys,
        threshold: files.threshold,
    }))
}

/// The four roles of `init` / `rotate-root`.
pub struct Roles<'a> {
    pub root: RoleFiles<'a>,
    pub targets: RoleFiles<'a>,
    pub snapshot: RoleFiles<'a>,
    pub timestamp: RoleFiles<'a>,
}

impl<'a> Roles<'a> {
    /// The roles as `init` / `rotate-root` take them: the root keys with their threshold
    /// (default 1), the targets keys with theirs, and the server's snapshot and timestamp
    /// keys (threshold 1 each).
    pub fn new(
        root: (&'a [PathBuf], Option<u32>),
        targets: (&'a [PathBuf], u32),
        snapshot: &'a [PathBuf],
        timestamp: &'a [PathBuf],
    ) -> Self {
        let files = |keys, threshold| RoleFiles { keys, threshold };
        Roles {
            root: files(root.0, root.1.unwrap_or(1)),
            targets: files(targets.0, targets.1),
            snapshot: files(snapshot, 1),
            timestamp: files(timestamp, 1),
        }
    }
}

fn roles(r: &Roles<'_>) -> Result<RootRoles, OfflineError> {
    Ok(RootRoles {
        root: role(&r.root)?,
        targets: role(&r.targets)?,
        snapshot: role(&r.snapshot)?,
        timestamp: role(&r.timestamp)?,
    })
}

fn unsigned_answer(path: &Path, what: &str) -> Answer {
    Answer {
        lines: vec![
            format!("wrote {what} {} (unsigned)", path.display()),
            format!(
                "next: each key holder runs `vouch admin tuf sign --key KEY.pem {}`",
                path.display()
            ),
        ],
        json: json!({ "path": path, "signed": false }),
    }
}

/// `vouch admin tuf init`: `DIR/1.root.json`.
pub fn init(dir: &Path, r: &Roles<'_>, expires_days: u32) -> Result<Answer, OfflineError> {
    let path =
        ceremony::init_root(dir, &roles(r)?, now_unix() + days(expires_days)).map_err(tuf)?;
    Ok(unsigned_answer(&path, "root version 1"))
}

/// `vouch admin tuf rotate-root`: `DIR/<N+1>.root.json`.
pub fn rotate_root(dir: &Path, r: &Roles<'_>, expires_days: u32) -> Result<Answer, OfflineError> {
    let path =
        ceremony::rotate_root(dir, &roles(r)?, now_unix() + days(expires_days)).map_err(tuf)?;
    let mut a = unsigned_answer(&path, "the next root version");
    a.lines.push(
        "it needs a threshold of signatures by the previous root's keys AND by its own".into(),
    );
    Ok(a)
}

/// `vouch admin tuf targets`: the next targets version of DIR.
pub fn targets(dir: &Path, trust_config: &Path, expires_days: u32) -> Result<Answer, OfflineError> {
    let tc = std::fs::read(trust_config).map_err(|e| {
        tuf(vouch_trust::Error::File {
            path: trust_config.display().to_string(),
            detail: e.to_string(),
        })
    })?;
    let now = now_unix();
    let path = ceremony::write_targets(dir, &tc, now + days(expires_days), now).map_err(tuf)?;
    Ok(unsigned_answer(&path, "targets"))
}

fn counts_lines(counts: &[SignatureCount]) -> Vec<String> {
    counts
        .iter()
        .map(|c| {
            format!(
                "{} keys of root version {}: {} of {} signature(s){}",
                c.role,
                c.root_version,
                c.valid,
                c.threshold,
                if c.met() { "" } else { " (more needed)" }
            )
        })
        .collect()
}

/// `vouch admin tuf sign --key FILE META.json`.
pub fn sign(key_file: &Path, meta: &Path) -> Result<Answer, OfflineError> {
    let k = ceremony::read_private(key_file).map_err(tuf)?;
    let counts = ceremony::sign_file(meta, &k).map_err(tuf)?;
    let mut lines = vec![format!(
        "signed {} with key {}",
        meta.display(),
        k.public().id()
    )];
    lines.extend(counts_lines(&counts));
    let complete = counts.iter().all(SignatureCount::met);
    Ok(Answer {
        json: json!({ "path": meta, "keyid": k.public().id(), "counts": counts, "complete": complete }),
        lines,
    })
}

async fn open_repo(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
) -> Result<(Arc<dyn Objects>, TufRepo, EncryptionKey), OfflineError> {
    let o = crate::offline::open(config, dev, data)?;
    let objects = crate::app::open_objects(&o.cfg, false)?;
    let clock: Arc<dyn Clock> = Arc::new(vouch_log::SystemClock);
    let repo = TufRepo::load(Arc::clone(&objects), &o.enc, dev, &o.data, clock)
        .await
        .map_err(|e| OfflineError::Tuf(e.into()))?;
    Ok((objects, repo, o.enc))
}

/// `vouch admin tuf online-keys`: the timestamp and snapshot keys this server signs
/// with, created sealed under TOKEN_ENC_KEY if absent (never replaced), and their
/// public key files written into `out` for the root.
pub async fn online_keys(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    out: &Path,
) -> Result<Answer, OfflineError> {
    let (objects, repo, enc) = open_repo(config, dev, data).await?;
    let mut created = Vec::new();
    let mut lines = Vec::new();
    let mut files = serde_json::Map::new();
    std::fs::create_dir_all(out).map_err(|e| OfflineError::KeyFile {
        path: out.to_owned(),
        source: e,
    })?;
    for role in ["timestamp", "snapshot"] {
        let held = match role {
            "timestamp" => repo.keys.timestamp.as_ref(),
            _ => repo.keys.snapshot.as_ref(),
        };
        let public = match held {
            Some(k) => k.public().clone(),
            None if dev => {
                return Err(OfflineError::Tuf(AdminError::Setup(err(format!(
                    "a --dev data directory with DATA/tuf-keys/{role}.pem (start `vouch serve --dev` once)"
                )))))
            }
            None => {
                let pair = KeyPair::generate().map_err(tuf)?;
                let sealed = EncryptedKeyMaterial::seal(&enc, &purpose(role), pair.pkcs8())
                    .map_err(|e| {
                        OfflineError::Tuf(AdminError::Setup(err(format!(
                            "sealing the {role} key: {}: {e}",
                            e.code()
                        ))))
                    })?;
                let name = format!("tuf/keys/{role}.sealed");
                objects
                    .put_if_absent(
                        &key(&name).map_err(|e| OfflineError::Tuf(e.into()))?,
                        Bytes::from(sealed.as_bytes().to_vec()),
                    )
                    .await
                    .map_err(|e| {
                        OfflineError::Tuf(AdminError::Setup(err(format!("writing {name}: {e}"))))
                    })?;
                created.push(role);
                pair.public().clone()
            }
        };
        let path = out.join(format!("{role}.pub.json"));
        let mut body = serde_json::to_vec_pretty(&public.to_json()).unwrap_or_default();
        body.push(b'\n');
        std::fs::write(&path, body).map_err(|e| OfflineError::KeyFile {
            path: path.clone(),
            source: e,
        })?;
        lines.push(format!(
            "{role:<9} key {} -> {}{}",
            public.id(),
            path.display(),
            if created.contains(&role) {
                " (new, sealed under TOKEN_ENC_KEY)"
            } else {
                ""
            }
        ));
        files.insert(
            role.to_owned(),
            json!({ "keyid": public.id(), "public": path }),
        );
    }
    lines.push(
        "give these public key files to `vouch admin tuf init --timestamp-key ... --snapshot-key ...`"
            .into(),
    );
    Ok(Answer {
        json: json!({ "keys": files, "created": created }),
        lines,
    })
}

/// What a publish wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    pub roots: Vec<u64>,
    pub targets: Option<u64>,
    pub snapshot: u64,
    pub timestamp: u64,
}

impl TufRepo {
    /// The latest root version published, with its bytes (`None`: no repository yet).
    async fn latest_root(&self) -> Result<Option<(u64, Bytes)>, SetupError> {
        let Some(mut bytes) = self.get("1.root.json").await? else {
            return Ok(None);
        };
        let mut v = 1;
        while let Some(next) = self.get(&format!("{}.root.json", v + 1)).await? {
            v += 1;
            bytes = next;
        }
        Ok(Some((v, bytes)))
    }

    /// Publishes what the staging directory `dir` adds (see the module comment).
    pub async fn publish_staged(&self, dir: &Path) -> Result<Published, AdminError> {
        let _w = self.write.lock().await;
        let now =
            jiff::Timestamp::from_second(self.now()).unwrap_or_else(|_| jiff::Timestamp::now());
        let server_root = self.latest_root().await?;
        let staged = ceremony::check_staged(dir, server_root.as_ref().map(|(_, b)| &b[..]), now)?;
        let published = if self.get("timestamp.json").await?.is_some() {
            Some(self.current().await?)
        } else {
            None
        };
        // The server signs timestamp and snapshot: the final root must name its keys.
        for (role, held) in [
            ("timestamp", self.keys.timestamp.as_ref()),
            ("snapshot", self.keys.snapshot.as_ref()),
        ] {
            let named = ceremony::role_keyids(&staged.final_root, role)?;
            let held = held.ok_or_else(|| {
                err(format!(
                    "this server holds no {role} key: run `vouch admin tuf online-keys` first"
                ))
            })?;
            if !named.iter().any(|id| id == held.public().id()) {
                return Err(vouch_trust::Error::Repository {
                    expected: format!(
                        "a root whose {role} role names this server's {role} key {}",
                        held.public().id()
                    ),
                    found: format!("{named:?}"),
                }
                .into());
            }
        }
        let current_targets = published.map(|c| c.targets);
        let new_targets = match (&staged.targets, current_targets) {
            (Some(t), Some(c)) if t.version <= c => None,
            (Some(t), _) => Some(t),
            (None, _) => None,
        };
        let targets_version = match (new_targets, current_targets) {
            (Some(t), _) => t.version,
            (None, Some(c)) => {
                // A root rotation that replaced the targets keys needs new targets.
                let t = self
                    .get(&format!("{c}.targets.json"))
                    .await?
                    .ok_or_else(|| err(format!("{c}.targets.json is missing")))?;
                ceremony::check_targets_signed(&staged.final_root, &t)?;
                c
            }
            (None, None) => {
                return Err(vouch_trust::Error::Repository {
                    expected: format!(
                        "a signed targets version in {} for the first publish",
                        dir.display()
                    ),
                    found: "none (`vouch admin tuf targets`)".into(),
                }
                .into())
            }
        };
        if staged.roots.is_empty() && new_targets.is_none() {
            return Err(vouch_trust::Error::Repository {
                expected: format!(
                    "a root or targets version in {} newer than the published ones",
                    dir.display()
                ),
                found: format!(
                    "root {}, targets {}",
                    server_root.as_ref().map_or(0, |(v, _)| *v),
                    current_targets.unwrap_or(0)
                ),
            }
            .into());
        }
        // Targets first (nothing pins them yet), then roots, then the snapshot and
        // timestamp that make them current.
        if let Some(t) = new_targets {
            for (name, body) in &t.files {
                self.put_new(&format!("targets/{name}"), body.clone())
                    .await?;
            }
            self.put_new(&format!("{}.targets.json", t.version), t.bytes.clone())
                .await?;
        }
        for (v, bytes) in &staged.roots {
            self.put_new(&format!("{v}.root.json"), bytes.clone())
                .await?;
        }
        let (snapshot, timestamp) = match published {
            Some(c) => (c.snapshot.0 + 1, c.timestamp.0 + 1),
            None => (1, 1),
        };
        self.write_snapshot_and_timestamp(snapshot, targets_version, timestamp)
            .await?;
        Ok(Published {
            roots: staged.roots.iter().map(|(v, _)| *v).collect(),
            targets: new_targets.map(|t| t.version),
            snapshot,
            timestamp,
        })
    }

    /// Logs `TUF_E018` for a root or targets version (signed offline) that expires
    /// within [`EXPIRY_WARNING`]; the server checks at start and whenever it re-signs
    /// the snapshot.
    pub(super) async fn warn_expiring(&self) -> Result<(), SetupError> {
        let now = self.now();
        let root = match self.latest_root().await? {
            Some((v, b)) => Some((v, repo::version_and_expiry(&b).map_err(terr)?.1)),
            None => None,
        };
        let targets = match self.get("timestamp.json").await? {
            Some(_) => {
                let tv = self.current().await?.targets;
                match self.get(&format!("{tv}.targets.json")).await? {
                    Some(b) => Some((tv, repo::version_and_expiry(&b).map_err(terr)?.1)),
                    None => None,
                }
            }
            None => None,
        };
        for (role, v) in [("root", root), ("targets", targets)] {
            if let Some(e) = v.and_then(|v| expiring(role, v, now)) {
                tracing::warn!(code = e.code(), "{e}");
            }
        }
        Ok(())
    }

    /// What `vouch admin tuf status` reports.
    pub async fn status(&self) -> Result<Status, AdminError> {
        let now = self.now();
        let trust_config = self
            .objects
            .get(&key(INSTANCE_TRUST_CONFIG)?)
            .await
            .map_err(|e| err(format!("reading {INSTANCE_TRUST_CONFIG}: {e}")))?;
        let held: Vec<&str> = [
            ("root", self.keys.root.is_some()),
            ("targets", self.keys.targets.is_some()),
            ("snapshot", self.keys.snapshot.is_some()),
            ("timestamp", self.keys.timestamp.is_some()),
        ]
        .into_iter()
        .filter_map(|(r, h)| h.then_some(r))
        .collect();
        let mut st = Status {
            published: false,
            root: None,
            targets: None,
            snapshot: None,
            timestamp: None,
            online_keys: held.iter().map(|r| (*r).to_owned()).collect(),
            stale: None,
            expiring: Vec::new(),
            trust_config: trust_config.as_ref().map(|b| b.to_vec()),
        };
        let Some((rv, root)) = self.latest_root().await? else {
            return Ok(st);
        };
        st.root = Some((rv, repo::version_and_expiry(&root).map_err(terr)?.1));
        if self.get("timestamp.json").await?.is_none() {
            return Ok(st);
        }
        st.published = true;
        let cur = self.current().await?;
        let t = self
            .get(&format!("{}.targets.json", cur.targets))
            .await?
            .ok_or_else(|| err(format!("{}.targets.json is missing", cur.targets)))?;
        st.targets = Some((cur.targets, repo::version_and_expiry(&t).map_err(terr)?.1));
        st.snapshot = Some(cur.snapshot);
        st.timestamp = Some(cur.timestamp);
        st.expiring = [("root", st.root), ("targets", st.targets)]
            .into_iter()
            .filter_map(|(role, v)| v.and_then(|v| expiring(role, v, now)))
            .collect();
        if let Some(tc) = &trust_config {
            let (old_root, old_sc) = self.published_trust_material(cur.targets).await?;
            st.stale =
                repo::trust_material_differs(old_root.as_deref(), old_sc.as_deref(), tc, now)?.map(
                    |detail| vouch_trust::Error::StaleTargets {
                        targets_version: cur.targets,
                        detail,
                    },
                );
        }
        Ok(st)
    }
}

/// How long before an offline-signed role expires `status` and the server warn.
pub const EXPIRY_WARNING: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// `TUF_E018` when `role` version `v.0` expires (unix `v.1`) within [`EXPIRY_WARNING`] of `now`.
pub(super) fn expiring(role: &str, v: (u64, i64), now: i64) -> Option<vouch_trust::Error> {
    let window = i64::try_from(EXPIRY_WARNING.as_secs()).unwrap_or(i64::MAX);
    (v.1 - now < window).then(|| vouch_trust::Error::Expiring {
        role: role.to_owned(),
        version: v.0,
        expires: repo::tuf_time(v.1),
    })
}

/// The published repository's versions and expiries, the keys this server holds, and
/// whether the targets still match the instance's trust material.
#[derive(Debug)]
pub struct Status {
    pub published: bool,
    /// (version, expires unix seconds) of the latest root.
    pub root: Option<(u64, i64)>,
    pub targets: Option<(u64, i64)>,
    pub snapshot: Option<(u64, i64)>,
    pub timestamp: Option<(u64, i64)>,
    /// The roles whose keys this server holds.
    pub online_keys: Vec<String>,
    /// `TUF_E017` when the published targets no longer match.
    pub stale: Option<vouch_trust::Error>,
    /// `TUF_E018` for the root and targets versions expiring within
    /// [`EXPIRY_WARNING`] (or expired).
    pub expiring: Vec<vouch_trust::Error>,
    /// The trust configuration the instance serves now (recorded at its last start).
    pub trust_config: Option<Vec<u8>>,
}

/// `vouch admin tuf publish --repo DIR`.
pub async fn publish(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    dir: &Path,
) -> Result<Answer, OfflineError> {
    let (_, repo, _) = open_repo(config, dev, data).await?;
    let p = repo.publish_staged(dir).await?;
    let mut lines = Vec::new();
    if !p.roots.is_empty() {
        lines.push(format!("published root version(s) {:?}", p.roots));
    }
    if let Some(t) = p.targets {
        lines.push(format!("published targets version {t}"));
    }
    lines.push(format!(
        "signed snapshot version {} and timestamp version {} with this server's online keys",
        p.snapshot, p.timestamp
    ));
    Ok(Answer {
        json: json!(p),
        lines,
    })
}

/// `vouch admin tuf status`: the answer, and whether it warns (stale targets, or an
/// offline-signed role expiring; the command then exits 1). With `trust_config_out`, the instance's current trust
/// configuration is written there, for `vouch admin tuf targets --trust-config`.
pub async fn status(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    trust_config_out: Option<&Path>,
) -> Result<(Answer, bool), OfflineError> {
    let (_, repo, _) = open_repo(config, dev, data).await?;
    let st = repo.status().await?;
    if let (Some(out), Some(tc)) = (trust_config_out, &st.trust_config) {
        std::fs::write(out, tc).map_err(|e| OfflineError::KeyFile {
            path: out.to_owned(),
            source: e,
        })?;
    }
    let warnings: Vec<&vouch_trust::Error> = st.stale.iter().chain(&st.expiring).collect();
    let when = |(v, e): (u64, i64)| json!({ "version": v, "expires": repo::tuf_time(e) });
    let json = json!({
        "published": st.published,
        "root": st.root.map(when),
        "targets": st.targets.map(when),
        "snapshot": st.snapshot.map(when),
        "timestamp": st.timestamp.map(when),
        "online_keys": st.online_keys,
        "stale": st.stale.is_some(),
        "warnings": warnings.iter().map(|e| json!({"code": e.code(), "message": e.to_string()})).collect::<Vec<_>>(),
    });
    let line = |name: &str, v: Option<(u64, i64)>| match v {
        Some((v, e)) => format!("{name:<10} version {v}, expires {}", repo::tuf_time(e)),
        None => format!("{name:<10} -"),
    };
    let mut lines = vec![format!(
        "repository {}",
        if st.published {
            "published under /tuf/"
        } else {
            "not published (/tuf/ answers 404): `vouch admin tuf publish`"
        }
    )];
    lines.push(line("root", st.root));
    lines.push(line("targets", st.targets));
    lines.push(line("snapshot", st.snapshot));
    lines.push(line("timestamp", st.timestamp));
    lines.push(format!(
        "keys held  {}",
        if st.online_keys.is_empty() {
            "none".to_owned()
        } else {
            st.online_keys.join(", ")
        }
    ));
    for e in &warnings {
        lines.push(format!("warning[{}]: {e}", e.code()));
    }
    let warned = !warnings.is_empty();
    Ok((Answer { json, lines }, warned))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;
    use vouch_log::ManualClock;
    use vouch_store::ObjectKey;

    const TC: &[u8] = br#"{"trustedRoot":{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]},"signingConfig":{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}}"#;

    async fn get(objects: &Arc<dyn Objects>, name: &str) -> Vec<u8> {
        objects
            .get(&ObjectKey::new(format!("tuf/meta/{name}")).unwrap())
            .await
            .unwrap()
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn a_key_left_sealed_under_the_retired_key_is_read_from_its_resealed_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let objects: Arc<dyn Objects> = Arc::new(vouch_store::RemoteObjects::memory());
        let (old, new) = (
            EncryptionKey::from_bytes([1; 32]),
            EncryptionKey::from_bytes([2; 32]),
        );
        let pair = KeyPair::generate().unwrap();
        let (name, next) = super::super::sealed_names("timestamp");
        for (n, k) in [(&name, &old), (&next, &new)] {
            let sealed =
                EncryptedKeyMaterial::seal(k, &purpose("timestamp"), pair.pkcs8()).unwrap();
            objects
                .put(
                    &ObjectKey::new(n.as_str()).unwrap(),
                    Bytes::from(sealed.as_bytes().to_vec()),
                )
                .await
                .unwrap();
        }
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_800_000_000));
        // A rotation committed but crashed before the copy: the new key reads `.next`.
        let repo = TufRepo::load(Arc::clone(&objects), &new, false, tmp.path(), clock.clone())
            .await
            .unwrap();
        assert_eq!(repo.keys.timestamp.unwrap().public(), pair.public());
        // A key that opens neither is refused, naming the role.
        let other = EncryptionKey::from_bytes([3; 32]);
        let e = TufRepo::load(objects, &other, false, tmp.path(), clock)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "SIGSTORE_E001");
        assert!(e.to_string().contains("tuf/keys/timestamp.sealed"), "{e}");
    }

    #[tokio::test]
    async fn a_production_repository_signed_offline_is_published_kept_fresh_and_verifies() {
        let tmp = tempfile::tempdir().unwrap();
        let objects: Arc<dyn Objects> = Arc::new(vouch_store::RemoteObjects::memory());
        let enc = EncryptionKey::from_bytes([9; 32]);
        let start = 1_800_000_000;
        let clock = Arc::new(ManualClock::new(start));
        // The server's sealed online keys, as `online-keys` makes them.
        let mut online = Vec::new();
        for role in ["timestamp", "snapshot"] {
            let pair = KeyPair::generate().unwrap();
            let sealed = EncryptedKeyMaterial::seal(&enc, &purpose(role), pair.pkcs8()).unwrap();
            objects
                .put(
                    &ObjectKey::new(format!("tuf/keys/{role}.sealed")).unwrap(),
                    Bytes::from(sealed.as_bytes().to_vec()),
                )
                .await
                .unwrap();
            online.push(pair.public().clone());
        }
        let repo = TufRepo::load(Arc::clone(&objects), &enc, false, tmp.path(), clock.clone())
            .await
            .unwrap();
        // The offline side: one root key, one targets key.
        let dir = tmp.path().join("repo");
        let root_key = KeyPair::generate().unwrap();
        let targets_key = KeyPair::generate().unwrap();
        let one = |k: &vouch_trust::repo::PublicKey| Some(RoleKeys::single(k));
        let roles = RootRoles {
            root: one(root_key.public()),
            targets: one(targets_key.public()),
            timestamp: one(&online[0]),
            snapshot: one(&online[1]),
        };
        let far = start as i64 + 400 * 24 * 3600;
        let r1 = ceremony::init_root(&dir, &roles, far).unwrap();
        ceremony::sign_file(&r1, &root_key).unwrap();
        // No targets yet: nothing a client could use is published.
        let e = repo.publish_staged(&dir).await.unwrap_err();
        assert_eq!(e.code(), "TUF_E015");
        let t1 = ceremony::write_targets(&dir, TC, far, start as i64).unwrap();
        ceremony::sign_file(&t1, &targets_key).unwrap();
        let p = repo.publish_staged(&dir).await.unwrap();
        assert_eq!(
            (p.roots.clone(), p.targets, p.snapshot, p.timestamp),
            (vec![1], Some(1), 1, 1)
        );
        // Publishing the same directory again adds nothing: refused.
        assert_eq!(
            repo.publish_staged(&dir).await.unwrap_err().code(),
            "TUF_E015"
        );

        // What a client checks, with the client's code.
        let check = |now: i64| {
            let objects = Arc::clone(&objects);
            async move {
                let now = jiff::Timestamp::from_second(now).unwrap();
                let mut set = sigstore_tuf::TrustedMetadataSet::from_root(
                    &get(&objects, "1.root.json").await,
                )
                .unwrap();
                let ts = get(&objects, "timestamp.json").await;
                set.update_timestamp(&ts, now).unwrap();
                let sv = set.timestamp().unwrap().meta["snapshot.json"].version;
                set.update_snapshot(&get(&objects, &format!("{sv}.snapshot.json")).await, now)
                    .unwrap();
                let tv = set.snapshot().unwrap().meta["targets.json"].version;
                set.update_targets(&get(&objects, &format!("{tv}.targets.json")).await, now)
                    .unwrap();
                (set.timestamp().unwrap().version, sv, tv)
            }
        };
        assert_eq!(check(start as i64).await, (1, 1, 1));
        // The server keeps the timestamp and snapshot fresh with its online keys.
        clock.advance(super::super::TIMESTAMP_LIFETIME.as_secs() / 2 + 1);
        repo.freshen().await.unwrap();
        assert_eq!(check(clock.unix_seconds() as i64).await, (2, 1, 1));
        clock.set(start + 4 * 24 * 3600);
        repo.freshen().await.unwrap();
        assert_eq!(check(clock.unix_seconds() as i64).await, (3, 2, 1));
        let st = repo.status().await.unwrap();
        assert!(st.published);
        assert_eq!(st.online_keys, vec!["snapshot", "timestamp"]);
        // No instance trust configuration recorded (no server start here): not stale.
        assert!(st.stale.is_none());
        assert!(st.expiring.is_empty(), "{:?}", st.expiring);
        // Root and targets (signed offline, 400 days) are close to expiry: warned.
        clock.set(far as u64 - 10 * 24 * 3600);
        let codes: Vec<_> = repo
            .status()
            .await
            .unwrap()
            .expiring
            .iter()
            .map(|e| e.code())
            .collect();
        assert_eq!(codes, vec!["TUF_E018", "TUF_E018"]);
        clock.set(start + 4 * 24 * 3600);

        // A root that drops the server's timestamp key is refused before anything is written.
        let other = KeyPair::generate().unwrap();
        let r2 = ceremony::rotate_root(
            &dir,
            &RootRoles {
                timestamp: one(other.public()),
                ..RootRoles::default()
            },
            far,
        )
        .unwrap();
        ceremony::sign_file(&r2, &root_key).unwrap();
        assert_eq!(
            repo.publish_staged(&dir).await.unwrap_err().code(),
            "TUF_E015"
        );
        assert!(objects
            .get(&ObjectKey::new("tuf/meta/2.root.json").unwrap())
            .await
            .unwrap()
            .is_none());
    }
}
