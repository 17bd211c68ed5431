//! `vouch admin init`: the one step that creates a production instance: schema and lock table, the log's and the CT log's first checkpoints, the sealed CA/TSA/CT/registry keys, and the first administrator.
//!
//! It looks before it writes. Everything already there is checked against the
//! configuration and the secrets (the checkpoints must verify under the configured log
//! key, sealed material must open with TOKEN_ENC_KEY, the metadata database must have
//! been set up for this log key); anything belonging to another instance, or a
//! leftover it cannot complete safely, is refused before the first write
//! ([`InitError::Foreign`], [`InitError::Partial`]). Then it creates only what is
//! missing, in an order a crash can resume from: re-running `init` completes an
//! interrupted run, and on a complete instance it changes nothing
//! ([`InitReport::created`] is empty). It never replaces a key or a checkpoint.

use std::sync::Arc;

use vouch_log::{Clock, Log};
use vouch_store::meta::{MetaError, MetaStore, NewToken, Timestamp, TokenScope, TokenSecret};
use vouch_store::{CheckpointLock, ObjectKey, Objects, StoreError};
use vouch_tlog::checkpoint::open_checkpoint;
use vouch_tlog::Verifier;

use crate::app::{open_lock, open_meta, open_objects};
use crate::config::ServeConfig;
use crate::sigstore::{ct, keys};
use crate::{Secrets, ServeError};

/// Setting recording the log key an instance was initialised for (its verifier key).
pub const LOG_KEY_SETTING: &str = "instance.log_vkey";
/// Setting recording the first administrator's user name, once created.
pub const FIRST_ADMIN_SETTING: &str = "instance.first_admin";

/// Who the first administrator is.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// User name of the first administrator.
    pub admin_name: String,
    pub admin_email: Option<String>,
}

/// The first administrator and its token: the only time the token is shown.
#[derive(Debug)]
pub struct FirstAdmin {
    pub name: String,
    pub token: TokenSecret,
}

/// What `init` found and did.
#[derive(Debug)]
pub struct InitReport {
    /// What this run created, in order; empty when the instance was complete.
    pub created: Vec<&'static str>,
    pub log_origin: String,
    /// The log's verifier key (what clients pin).
    pub log_vkey: String,
    /// Set only when this run created the first administrator.
    pub admin: Option<FirstAdmin>,
}

impl InitReport {
    /// True when nothing was missing and nothing was written.
    pub fn already_initialised(&self) -> bool {
        self.created.is_empty()
    }
}

/// Why `init` refused or failed. Refusals happen before anything is written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The target holds another instance's state.
    #[error("the {place} belongs to another instance: {reason}; nothing was written")]
    Foreign { place: &'static str, reason: String },
    /// The target holds a leftover `init` cannot complete safely.
    #[error("the {place} is half-initialised and cannot be completed safely: {reason}; nothing was written")]
    Partial { place: &'static str, reason: String },
    /// Opening storage, reading secrets, or a write failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

impl InitError {
    /// The stable code (README, "Error codes"). Never renumbered.
    pub fn code(&self) -> &'static str {
        match self {
            InitError::Foreign { .. } => "INIT_E001",
            InitError::Partial { .. } => "INIT_E002",
            InitError::Serve(e) => e.code(),
        }
    }
}

impl From<MetaError> for InitError {
    fn from(e: MetaError) -> Self {
        InitError::Serve(e.into())
    }
}

impl From<StoreError> for InitError {
    fn from(e: StoreError) -> Self {
        InitError::Serve(e.into())
    }
}

impl From<vouch_log::LogError> for InitError {
    fn from(e: vouch_log::LogError) -> Self {
        InitError::Serve(e.into())
    }
}

impl From<crate::sigstore::SetupError> for InitError {
    fn from(e: crate::sigstore::SetupError) -> Self {
        InitError::Serve(e.into())
    }
}

impl From<crate::integrity::BootError> for InitError {
    fn from(e: crate::integrity::BootError) -> Self {
        InitError::Serve(e.into())
    }
}

/// What is there before anything is written.
struct Seen {
    main_row: Option<Vec<u8>>,
    ct_row: Option<Vec<u8>>,
    material: keys::ExistingMaterial,
    schema_current: bool,
    log_key_marker: Option<String>,
    first_admin: Option<String>,
    registry_keys: usize,
    users: usize,
    /// The sealed objects' generation a TOKEN_ENC_KEY rotation recorded (1: none).
    generation: u32,
}

fn checkpoint_key(prefix: &str) -> ObjectKey {
    // "checkpoint" and "ct/checkpoint" are valid keys (a unit test below checks them).
    ObjectKey::new(format!("{prefix}checkpoint"))
        .unwrap_or_else(|_| unreachable!("checkpoint object keys are valid"))
}

async fn look(
    cfg: &ServeConfig,
    secrets: &Secrets,
    objects: Option<&Arc<dyn Objects>>,
    lock: Option<&Arc<dyn CheckpointLock>>,
    meta: Option<&Arc<dyn MetaStore>>,
) -> Result<Seen, InitError> {
    let (main_row, ct_row) = match lock {
        Some(l) => (
            l.load(&cfg.log.origin).await?,
            l.load(&ct::origin(cfg)).await?,
        ),
        None => (None, None),
    };
    // A rotated instance's sealed objects are the generation its database records.
    let generation = match meta {
        Some(m) if m.check_schema().await.is_ok() => keys::generation(m.as_ref()).await?,
        _ => 1,
    };
    let (material, main_object, ct_object) = match objects {
        Some(o) => (
            keys::existing_material(&**o, &secrets.enc_key, generation)
                .await
                .map_err(|e| match e {
                    crate::sigstore::SetupError::Unseal { what, key, .. } => InitError::Foreign {
                        place: "object store",
                        reason: format!(
                            "the sealed {what} at {key} does not open with this TOKEN_ENC_KEY"
                        ),
                    },
                    e => e.into(),
                })?,
            o.get(&checkpoint_key("")).await?.is_some(),
            o.get(&checkpoint_key(ct::OBJECT_PREFIX)).await?.is_some(),
        ),
        None => (
            keys::ExistingMaterial {
                ca: false,
                tsa: false,
                ct_note: None,
            },
            false,
            false,
        ),
    };
    if main_row.is_none() && main_object {
        return Err(InitError::Partial {
            place: "object store",
            reason: format!(
                "it holds a log checkpoint but the lock database has none for {:?} \
                 (another instance's objects, or a lost lock database)",
                cfg.log.origin
            ),
        });
    }
    if ct_row.is_none() && ct_object {
        return Err(InitError::Partial {
            place: "object store",
            reason: "it holds a CT log checkpoint but the lock database has none".into(),
        });
    }
    let (mut schema_current, mut log_key_marker, mut first_admin) = (false, None, None);
    let (mut registry_keys, mut users) = (0, 0);
    if let Some(m) = meta {
        match m.check_schema().await {
            Ok(()) => schema_current = true,
            Err(MetaError::SchemaOutdated { found: 0, .. }) => {}
            // An older schema: `init` migrates it like `serve --migrate` would.
            Err(MetaError::SchemaOutdated { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if schema_current {
            log_key_marker = m.setting(LOG_KEY_SETTING).await?;
            first_admin = m.setting(FIRST_ADMIN_SETTING).await?;
            registry_keys = m.registry_keys().await?.len();
            users = m.list_users().await?.len();
        }
    }
    Ok(Seen {
        main_row,
        ct_row,
        material,
        schema_current,
        log_key_marker,
        first_admin,
        registry_keys,
        users,
        generation,
    })
}

/// Refuses anything that is not this instance's, before any write.
fn judge(cfg: &ServeConfig, log_key: &Verifier, seen: &Seen) -> Result<(), InitError> {
    let origin = &cfg.log.origin;
    let vkey = log_key.to_string();
    if let Some(row) = &seen.main_row {
        if open_checkpoint(row, origin, std::slice::from_ref(log_key)).is_err() {
            return Err(InitError::Foreign {
                place: "lock database",
                reason: format!(
                    "its checkpoint of {origin:?} is not signed by the configured log key {vkey}"
                ),
            });
        }
    }
    match (&seen.ct_row, &seen.material.ct_note) {
        (Some(row), Some(key))
            if open_checkpoint(row, &ct::origin(cfg), &[key.verifier()]).is_err() =>
        {
            return Err(InitError::Foreign {
                place: "lock database",
                reason: "its CT log checkpoint is not signed by the sealed CT log key".into(),
            });
        }
        (Some(_), None) => {
            return Err(InitError::Partial {
                place: "object store",
                reason: "the lock database has a CT log checkpoint but the object store has \
                         no sealed CT log key to continue it"
                    .into(),
            })
        }
        _ => {}
    }
    match &seen.log_key_marker {
        Some(marker) if *marker != vkey => Err(InitError::Foreign {
            place: "metadata database",
            reason: format!("it was initialised for log key {marker}, not {vkey}"),
        }),
        Some(_) => Ok(()),
        // Users or keys but no marker: a database set up another way. Adopt it only
        // when the log it goes with is provably this one.
        None if (seen.users > 0 || seen.registry_keys > 0) && seen.main_row.is_none() => {
            Err(InitError::Foreign {
                place: "metadata database",
                reason: "it already holds users or registry keys, and the lock database has \
                         no checkpoint of this log to tie them to it"
                    .into(),
            })
        }
        None => Ok(()),
    }
}

/// Initialises (or completes, or confirms) the instance `cfg` describes. `cfg`'s
/// relative paths must already be resolved.
pub async fn init(
    cfg: &ServeConfig,
    secrets: Secrets,
    opts: &InitOptions,
    clock: Arc<dyn Clock>,
) -> Result<InitReport, InitError> {
    let log_key = secrets.log_key.verifier();
    // Look with nothing created: missing files and tables read as empty.
    let objects = open_objects(cfg, false).ok();
    let lock = open_lock(cfg, &secrets, false).await.ok();
    let meta = open_meta(cfg, &secrets, false).await.ok();
    let seen = look(
        cfg,
        &secrets,
        objects.as_ref(),
        lock.as_ref(),
        meta.as_ref(),
    )
    .await?;
    judge(cfg, &log_key, &seen)?;
    if let Some(m) = &meta {
        // A current registry key must open here (a foreign one is refused by Integrity).
        if seen.registry_keys > 0 {
            crate::integrity::keys::check_current(m.as_ref(), &secrets.enc_key)
                .await
                .map_err(|e| InitError::Foreign {
                    place: "metadata database",
                    reason: format!("its registry signing key does not open here: {e}"),
                })?;
        }
    }
    drop((objects, lock, meta));

    // Write what is missing. Order: schema and marker first (so a crash leaves a
    // database recognisably ours), then sealed keys, the checkpoints, the registry key
    // and the first administrator.
    let mut created = Vec::new();
    let objects = open_objects(cfg, true)?;
    let meta = open_meta(cfg, &secrets, true).await?;
    if !seen.schema_current {
        meta.migrate().await?;
        created.push("metadata schema");
    }
    let now = Timestamp(i64::try_from(clock.unix_seconds()).unwrap_or(i64::MAX));
    if seen.log_key_marker.is_none() {
        meta.put_setting(LOG_KEY_SETTING, &log_key.to_string(), now)
            .await?;
        created.push("instance marker");
    }
    let lock = open_lock(cfg, &secrets, true).await?;
    if !seen.material.ca {
        keys::ca_material(
            &*objects,
            &secrets.enc_key,
            &cfg.ca,
            &*clock,
            seen.generation,
        )
        .await?;
        created.push("CA keys");
    }
    if !seen.material.tsa {
        keys::tsa_material(
            &*objects,
            &secrets.enc_key,
            &cfg.tsa,
            &*clock,
            seen.generation,
        )
        .await?;
        created.push("TSA keys");
    }
    let ct_key = keys::ct_note_key(
        &*objects,
        &secrets.enc_key,
        &ct::origin(cfg),
        seen.generation,
    )
    .await?;
    if seen.material.ct_note.is_none() {
        created.push("CT log key");
    }
    // Created if absent (an instance from before Rekor v1 gets it here or at start).
    keys::rekor_v1_key(&*objects, &secrets.enc_key, seen.generation).await?;
    if seen.main_row.is_none() {
        let log = Log::open(
            cfg.log_config(),
            Arc::clone(&objects),
            Arc::clone(&lock),
            secrets.log_key.clone(),
            true,
        )
        .await?;
        log.shutdown().await;
        created.push("log checkpoint");
    }
    if seen.ct_row.is_none() {
        let ct_log = ct::open(cfg, &objects, Arc::clone(&lock), ct_key, true, None).await?;
        ct_log.shutdown().await;
        created.push("CT log checkpoint");
    }
    if seen.registry_keys == 0 {
        let instance = meta.instance_id().await?;
        crate::integrity::keys::load_or_create(meta.as_ref(), &secrets.enc_key, &instance).await?;
        created.push("registry signing key");
    }
    let admin = if seen.first_admin.is_none() {
        let admin = first_admin(meta.as_ref(), opts, now).await?;
        created.push("first administrator");
        Some(admin)
    } else {
        None
    };
    if !created.is_empty() {
        let details = serde_json::json!({"created": created, "logKey": log_key.to_string()});
        meta.append_audit(
            "instance.init",
            Some("cli:admin init"),
            None,
            &details.to_string(),
            now,
        )
        .await?;
    }
    Ok(InitReport {
        created,
        log_origin: cfg.log.origin.clone(),
        log_vkey: log_key.to_string(),
        admin,
    })
}

/// Creates (or, after an interrupted run, finds) the first administrator and issues
/// its admin token; records that it exists so a second run never issues another.
async fn first_admin(
    meta: &dyn MetaStore,
    opts: &InitOptions,
    now: Timestamp,
) -> Result<FirstAdmin, InitError> {
    let user = match meta.user_by_name(&opts.admin_name).await? {
        Some(u) => u,
        None => {
            let u = meta
                .create_user(&opts.admin_name, opts.admin_email.as_deref(), now)
                .await?;
            let details = serde_json::json!({"name": u.name, "id": u.id.0});
            meta.append_audit(
                "user.create",
                Some("cli:admin init"),
                Some(&format!("user:{}", u.name)),
                &details.to_string(),
                now,
            )
            .await?;
            u
        }
    };
    let (token, secret) = meta
        .issue_token(
            &NewToken {
                user: user.id,
                label: "first administrator (vouch admin init)",
                scope: TokenScope::Admin,
                packages: None,
                expires_at: None,
            },
            now,
        )
        .await?;
    let details = serde_json::json!({"tokenId": token.id.0, "user": user.name, "scope": "admin"});
    meta.append_audit(
        "token.issue",
        Some("cli:admin init"),
        Some(&format!("user:{}", user.name)),
        &details.to_string(),
        now,
    )
    .await?;
    meta.put_setting(FIRST_ADMIN_SETTING, &user.name, now)
        .await?;
    Ok(FirstAdmin {
        name: user.name,
        token: secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_tlog::{KeyType, Signer};

    #[test]
    fn checkpoint_keys_are_valid() {
        checkpoint_key("");
        checkpoint_key(ct::OBJECT_PREFIX);
    }

    fn secrets(cfg: &ServeConfig, log_seed: u8, enc: &str) -> Secrets {
        Secrets {
            log_key: Signer::from_seed(&cfg.log.origin, KeyType::Ed25519, &[log_seed; 32]).unwrap(),
            witness_key: None,
            internal_token: None,
            postgres_url: None,
            enc_key: vouch_ca::EncryptionKey::from_hex(enc).unwrap(),
            database_url: None,
            forges: Default::default(),
        }
    }

    fn opts() -> InitOptions {
        InitOptions {
            admin_name: "admin".into(),
            admin_email: None,
        }
    }

    async fn run(cfg: &ServeConfig, s: Secrets) -> Result<InitReport, InitError> {
        init(cfg, s, &opts(), Arc::new(vouch_log::SystemClock)).await
    }

    const ENC: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const OTHER_ENC: &str = "0202020202020202020202020202020202020202020202020202020202020202";

    #[tokio::test]
    async fn init_creates_then_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig::dev(dir.path());
        let first = run(&cfg, secrets(&cfg, 1, ENC)).await.unwrap();
        assert!(!first.already_initialised());
        for step in [
            "metadata schema",
            "log checkpoint",
            "CT log checkpoint",
            "CA keys",
            "TSA keys",
            "registry signing key",
            "first administrator",
        ] {
            assert!(first.created.contains(&step), "{:?}", first.created);
        }
        assert!(first.admin.unwrap().token.expose().starts_with("vouch_"));
        let cp = std::fs::read(dir.path().join("tiles/checkpoint")).unwrap();
        let ca = std::fs::read(dir.path().join("tiles/sigstore/ca.sealed")).unwrap();
        let second = run(&cfg, secrets(&cfg, 1, ENC)).await.unwrap();
        assert!(second.already_initialised(), "{:?}", second.created);
        assert!(second.admin.is_none(), "a second admin token was issued");
        assert_eq!(
            std::fs::read(dir.path().join("tiles/checkpoint")).unwrap(),
            cp
        );
        assert_eq!(
            std::fs::read(dir.path().join("tiles/sigstore/ca.sealed")).unwrap(),
            ca
        );
    }

    #[tokio::test]
    async fn init_refuses_another_instances_storage() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig::dev(dir.path());
        run(&cfg, secrets(&cfg, 1, ENC)).await.unwrap();
        // Another log key on the same storage.
        let err = run(&cfg, secrets(&cfg, 2, ENC)).await.unwrap_err();
        assert_eq!(err.code(), "INIT_E001", "{err}");
        assert!(err.to_string().contains("lock database"), "{err}");
        // Another TOKEN_ENC_KEY: the sealed keys do not open.
        let err = run(&cfg, secrets(&cfg, 1, OTHER_ENC)).await.unwrap_err();
        assert_eq!(err.code(), "INIT_E001", "{err}");
        assert!(err.to_string().contains("TOKEN_ENC_KEY"), "{err}");
        // The metadata database of another log, next to a fresh lock and objects.
        let other = tempfile::tempdir().unwrap();
        let mut cfg2 = ServeConfig::dev(other.path());
        cfg2.database = cfg.database.clone();
        let err = run(&cfg2, secrets(&cfg2, 3, ENC)).await.unwrap_err();
        assert_eq!(err.code(), "INIT_E001", "{err}");
        assert!(err.to_string().contains("metadata database"), "{err}");
        assert!(
            !other.path().join("lock.db").exists() && !other.path().join("tiles").exists(),
            "a refused init wrote something"
        );
        // The rightful owner still finds everything.
        assert!(run(&cfg, secrets(&cfg, 1, ENC))
            .await
            .unwrap()
            .already_initialised());
    }

    /// Production serve opens what init made, creates nothing itself, and says to run
    /// init when the Sigstore keys are missing.
    #[tokio::test]
    async fn production_open_needs_init_and_works_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ServeConfig::dev(dir.path());
        // Production derives the origin from the public URL.
        cfg.log.origin = "127.0.0.1:1".into();
        let rt = crate::Runtime {
            dev: false,
            ..crate::Runtime::dev(dir.path(), "http://127.0.0.1:1")
        };
        let clock: Arc<dyn Clock> = Arc::new(vouch_log::SystemClock);
        let err = crate::open(&cfg, secrets(&cfg, 1, ENC), rt.clone(), Arc::clone(&clock))
            .await
            .unwrap_err();
        assert!(!dir.path().join("tiles").exists(), "{err}");
        run(&cfg, secrets(&cfg, 1, ENC)).await.unwrap();
        let app = crate::open(&cfg, secrets(&cfg, 1, ENC), rt.clone(), Arc::clone(&clock))
            .await
            .unwrap();
        assert_eq!(app.state.log.local().unwrap().latest().size, 0);
        app.state.log.shutdown().await;
        app.state.sigstore.shutdown().await;
        drop(app);
        std::fs::remove_file(dir.path().join("tiles/sigstore/tsa.sealed")).unwrap();
        let err = crate::open(&cfg, secrets(&cfg, 1, ENC), rt, clock)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "SIGSTORE_E021", "{err}");
        assert!(err.to_string().contains("TSA keys"), "{err}");
    }

    #[tokio::test]
    async fn init_refuses_objects_without_their_lock_database() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig::dev(dir.path());
        std::fs::create_dir_all(dir.path().join("tiles")).unwrap();
        std::fs::write(dir.path().join("tiles/checkpoint"), b"someone's checkpoint").unwrap();
        let err = run(&cfg, secrets(&cfg, 1, ENC)).await.unwrap_err();
        assert_eq!(err.code(), "INIT_E002", "{err}");
        assert!(
            !dir.path().join("lock.db").exists(),
            "lock database created"
        );
        assert!(
            !dir.path().join("meta.db").exists(),
            "metadata database created"
        );
    }
}
