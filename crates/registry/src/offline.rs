//! The offline administration of an instance, with the server STOPPED: opening what
//! `vouch admin keys reset`, `keys reset-sigstore` and `rotate-token-enc-key` work on
//! (its config, the TOKEN_ENC_KEY in force, the metadata database, the checkpoint
//! lock) and running each of them.
//!
//! A `--dev` data directory keeps its TOKEN_ENC_KEY in `DATA/token_enc.key`; a
//! production instance in the environment variable its config names. Nothing here
//! creates a key an offline command would seal under, except `keys reset --dev`, which
//! starts a new key file when none exists (recovery after it was lost).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use vouch_ca::EncryptionKey;
use vouch_store::meta::{MetaError, MetaStore, PostgresMeta, SqliteMeta};
use vouch_store::CheckpointLock;

use crate::config::{DatabaseConfig, LockConfig};
use crate::reseal::{ResealError, RotateOutcome, SigstoreResetOutcome};
use crate::{ServeConfig, ServeError};

/// ADMIN_E007: `admin keys reset` without `--yes` ([`reset_registry_key`] refuses before
/// anything is read or written).
pub const RESET_KEY_UNCONFIRMED: &str = "ADMIN_E007";
/// ADMIN_E035: `admin keys reset-sigstore` without `--yes` (nothing is written).
pub const RESET_SIGSTORE_UNCONFIRMED: &str = "ADMIN_E035";

/// Why an offline command could not run; [`OfflineError::code`] is its stable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OfflineError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Reseal(#[from] ResealError),
    #[error(transparent)]
    Keys(#[from] crate::integrity::BootError),
    #[error(transparent)]
    Keygen(#[from] crate::keygen::KeygenError),
    #[error(transparent)]
    Init(#[from] crate::init::InitError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// `vouch admin tuf`: a TUF refusal (`TUF_E…`) or the repository's storage.
    #[error(transparent)]
    Tuf(#[from] crate::tuf::AdminError),
    /// SERVE_E101: `--config` is required without `--dev`.
    #[error("--config FILE is required without --dev")]
    NeedsConfig,
    /// SERVE_E101: the log origin is not known offline.
    #[error("the log origin is not known offline: set [registry] public_url (or [log] origin) in the config")]
    NoOrigin,
    /// SERVE_E102: an environment variable the config names is not set.
    #[error("environment variable {var} is not set{hint}")]
    VarMissing { var: String, hint: &'static str },
    /// SERVE_E102: the dev key file cannot be read.
    #[error("cannot read the instance's TOKEN_ENC_KEY at {}: {source}", path.display())]
    DevKey {
        path: PathBuf,
        source: std::io::Error,
    },
    /// ADMIN_E034: the checkpoint lock failed.
    #[error("checkpoint lock: {0}")]
    Lock(vouch_store::StoreError),
    /// KEYGEN_E002: `admin init --admin-token-out` names an existing file.
    #[error("{} already exists; the admin token is never written over a file", path.display())]
    TokenFileExists { path: PathBuf },
    /// The admin token file could not be written (the key writer's code, its message
    /// without the I/O cause).
    #[error("{0}")]
    TokenFile(crate::keygen::KeygenError),
    /// ADMIN_E007 / ADMIN_E035: a key reset not confirmed with `--yes`; nothing is
    /// written.
    #[error("{message}")]
    Unconfirmed {
        code: &'static str,
        message: &'static str,
    },
    /// KEYGEN_E003: a key file could not be written.
    #[error("writing {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl OfflineError {
    pub fn code(&self) -> &'static str {
        match self {
            OfflineError::Serve(e) => e.code(),
            OfflineError::Meta(e) => e.code(),
            OfflineError::Reseal(e) => e.code(),
            OfflineError::Keys(e) => e.code(),
            OfflineError::Keygen(e) | OfflineError::TokenFile(e) => e.code(),
            OfflineError::TokenFileExists { .. } => "KEYGEN_E002",
            OfflineError::Init(e) => e.code(),
            OfflineError::Backup(e) => e.code(),
            OfflineError::Tuf(e) => e.code(),
            OfflineError::NeedsConfig | OfflineError::NoOrigin => "SERVE_E101",
            OfflineError::VarMissing { .. } | OfflineError::DevKey { .. } => "SERVE_E102",
            OfflineError::Lock(_) => "ADMIN_E034",
            OfflineError::KeyFile { .. } => "KEYGEN_E003",
            OfflineError::Unconfirmed { code, .. } => code,
        }
    }
}

/// What an offline command did: the object its `--json` prints, and its lines of text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub json: serde_json::Value,
    pub lines: Vec<String>,
}

const NEW_KEY_HINT: &str = " (make a new key with `vouch keygen token-enc-key --out FILE`)";

/// An instance opened offline: its config, the TOKEN_ENC_KEY it uses now, and where
/// that key lives.
pub struct Instance {
    pub cfg: ServeConfig,
    pub data: PathBuf,
    pub enc: EncryptionKey,
    /// DATA/token_enc.key with --dev; None: the config's environment variable.
    pub dev_key_file: Option<PathBuf>,
}

/// Opens the instance of `--config`/`--dev --data`; the dev key file must exist (an
/// offline command on a missing key would seal under a key nobody else has).
pub fn open(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
) -> Result<Instance, OfflineError> {
    let data = match data {
        Some(d) => std::path::absolute(d).map_err(|source| OfflineError::DevKey {
            path: d.to_owned(),
            source,
        })?,
        None => PathBuf::from("."),
    };
    if dev {
        let cfg = match config {
            Some(p) => ServeConfig::load(p)?,
            None => ServeConfig::dev_existing(&data),
        };
        let path = data.join("token_enc.key");
        let text = std::fs::read_to_string(&path).map_err(|source| OfflineError::DevKey {
            path: path.clone(),
            source,
        })?;
        let enc = crate::app::parse_enc_key(&path.display().to_string(), &text)?;
        return Ok(Instance {
            cfg,
            data,
            enc,
            dev_key_file: Some(path),
        });
    }
    let cfg = ServeConfig::load(config.ok_or(OfflineError::NeedsConfig)?)?;
    let enc = enc_from_env(&cfg.registry.token_enc_key_env)?;
    Ok(Instance {
        cfg,
        data,
        enc,
        dev_key_file: None,
    })
}

fn var(name: &str, hint: &'static str) -> Result<String, OfflineError> {
    std::env::var(name).map_err(|_| OfflineError::VarMissing {
        var: name.to_owned(),
        hint,
    })
}

/// The TOKEN_ENC_KEY in the environment variable `name`.
pub fn enc_from_env(name: &str) -> Result<EncryptionKey, OfflineError> {
    Ok(crate::app::parse_enc_key(name, &var(name, NEW_KEY_HINT)?)?)
}

fn under(data: &Path, p: &Path) -> PathBuf {
    if p.is_relative() {
        data.join(p)
    } else {
        p.to_owned()
    }
}

/// The metadata database, its schema checked (never migrated offline).
pub async fn meta(cfg: &ServeConfig, data: &Path) -> Result<Box<dyn MetaStore>, OfflineError> {
    let meta: Box<dyn MetaStore> = match &cfg.database {
        DatabaseConfig::Sqlite { path } => {
            Box::new(SqliteMeta::open(&under(data, path), false).await?)
        }
        DatabaseConfig::Postgres { url_env } => {
            Box::new(PostgresMeta::connect(&var(url_env, "")?).await?)
        }
    };
    meta.check_schema().await?;
    Ok(meta)
}

/// The checkpoint lock, never created offline.
pub async fn lock(cfg: &ServeConfig, data: &Path) -> Result<Arc<dyn CheckpointLock>, OfflineError> {
    Ok(match &cfg.storage.lock {
        LockConfig::Sqlite { path } => Arc::new(
            vouch_store::SqliteLock::open(&under(data, path), false)
                .await
                .map_err(OfflineError::Lock)?,
        ),
        LockConfig::Postgres { url_env } => Arc::new(
            vouch_store::PostgresLock::connect(&var(url_env, "")?, false)
                .await
                .map_err(OfflineError::Lock)?,
        ),
    })
}

/// `vouch admin keys reset`: a new registry signing key sealed under the TOKEN_ENC_KEY
/// given now (with `dev`, DATA/token_enc.key, made if missing); says the old and the
/// new key id. Refused unless `confirmed` (`--yes`).
pub async fn reset_registry_key(
    config: Option<&Path>,
    dev: bool,
    data: &Path,
    confirmed: bool,
) -> Result<Answer, OfflineError> {
    if !confirmed {
        return Err(OfflineError::Unconfirmed {
            code: RESET_KEY_UNCONFIRMED,
            message: "`vouch admin keys reset` starts a new registry signing key; stop the \
                      server, then re-run with --yes to confirm",
        });
    }
    let (cfg, enc) = if dev {
        let cfg = match config {
            Some(p) => ServeConfig::load(p)?,
            None => ServeConfig::dev_existing(data),
        };
        let path = data.join("token_enc.key");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(_) => {
                let t = crate::keygen::token_enc_key()?;
                write_secret(&path, &t)?;
                t.to_string()
            }
        };
        let enc = crate::app::parse_enc_key(&path.display().to_string(), &text)?;
        (cfg, enc)
    } else {
        let cfg = ServeConfig::load(config.ok_or(OfflineError::NeedsConfig)?)?;
        let enc = enc_from_env(&cfg.registry.token_enc_key_env)?;
        (cfg, enc)
    };
    let meta = meta(&cfg, data).await?;
    let (old, new) =
        crate::integrity::keys::reset(meta.as_ref(), &enc, "cli:admin keys reset").await?;
    Ok(Answer {
        lines: vec![format!(
            "reset: new current key {new} (retired {}); old public keys stay in the key set",
            old.as_deref().unwrap_or("none")
        )],
        json: json!({"old_kid": old, "new_kid": new}),
    })
}

/// `vouch admin rotate-token-enc-key`: re-seals every sealed key under the key in
/// `new_key_env`; with --dev the key file is replaced (atomically) only after the
/// commit. Says the outcome and what the instance opens with now.
pub async fn rotate_token_enc_key(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    new_key_env: &str,
) -> Result<Answer, OfflineError> {
    let o = open(config, dev, data)?;
    let new = enc_from_env(new_key_env)?;
    let new_text = std::env::var(new_key_env).unwrap_or_default();
    let meta = meta(&o.cfg, &o.data).await?;
    let objects = crate::app::open_objects(&o.cfg, false)?;
    let outcome = crate::reseal::rotate_token_enc_key(
        meta.as_ref(),
        &*objects,
        &o.enc,
        &new,
        "cli:admin rotate-token-enc-key",
    )
    .await?;
    // Committed (or already done): the new key opens the instance. Only now does the
    // dev key file change, atomically (temp file, then rename).
    let opens_with = match &o.dev_key_file {
        Some(path) => {
            replace_secret(path, new_text.trim())?;
            path.display().to_string()
        }
        None => format!(
            "the key in {new_key_env} (set {} to it before `vouch serve`)",
            o.cfg.registry.token_enc_key_env
        ),
    };
    Ok(rotated(&outcome, &opens_with))
}

#[allow(
    clippy::indexing_slicing,
    reason = "json is an object (a struct serialized) or Null (the default), and IndexMut on either never panics"
)]
fn rotated(o: &RotateOutcome, opens_with: &str) -> Answer {
    let mut json = serde_json::to_value(o).unwrap_or_default();
    json["opens_with"] = json!(opens_with);
    let lines = if o.already_rotated {
        vec![
            format!(
                "already rotated: generation {} opens with the new key; nothing changed",
                o.generation
            ),
            format!("the instance now opens with {opens_with}"),
        ]
    } else {
        let resealed = format!(
            "re-sealed {} objects (generation {} -> {}) and {} registry key(s) under the new key",
            o.objects.len(),
            o.from_generation,
            o.generation,
            o.registry_keys.len()
        );
        let left = (!o.left_sealed.is_empty()).then(|| {
            format!(
                "left as they were (retired, sealed under a key lost before): {}",
                o.left_sealed.join(", ")
            )
        });
        let opens =
            format!("the instance now opens with {opens_with}; the old key no longer opens it");
        std::iter::once(resealed)
            .chain(left)
            .chain([opens])
            .collect()
    };
    Answer { json, lines }
}

/// `vouch admin keys reset-sigstore`: new CA, TSA and CT-log keys and a new CT log.
/// Refused unless `confirmed` (`--yes`): every verifier then needs the new root.
pub async fn reset_sigstore(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    confirmed: bool,
) -> Result<Answer, OfflineError> {
    if !confirmed {
        return Err(OfflineError::Unconfirmed {
            code: RESET_SIGSTORE_UNCONFIRMED,
            message: "`vouch admin keys reset-sigstore` replaces the CA, TSA and CT-log keys, \
                      so every verifier needs the new trusted root; stop the server, then \
                      re-run with --yes to confirm",
        });
    }
    // The new CT log is named after the log's origin, settled as `vouch serve` settles
    // it: a `--dev` directory's log key name (`ServeConfig::dev_existing`), else the
    // config (with its public URL).
    let o = open(config, dev, data)?;
    if o.cfg.log.origin.is_empty() {
        return Err(OfflineError::NoOrigin);
    }
    let meta = meta(&o.cfg, &o.data).await?;
    let objects = crate::app::open_objects(&o.cfg, false)?;
    let lock = lock(&o.cfg, &o.data).await?;
    let outcome = crate::reseal::reset_sigstore_keys(
        &o.cfg,
        meta.as_ref(),
        &objects,
        lock,
        &o.enc,
        &vouch_log::SystemClock,
        "cli:admin keys reset-sigstore",
    )
    .await?;
    Ok(sigstore_reset(&outcome))
}

fn sigstore_reset(o: &SigstoreResetOutcome) -> Answer {
    let lines = vec![
        format!(
            "new CA, TSA and CT-log keys sealed under the current TOKEN_ENC_KEY (generation {} -> {}); new CT log {}",
            o.from_generation, o.generation, o.ct_origin
        ),
        format!("kept (evidence, not used): {}", o.kept.join(", ")),
        "next: `vouch admin keys reset` if the registry key was sealed under the lost key, start the server, \
         and redistribute the NEW trust root (`vouch trust-config --server URL --out FILE`)"
            .to_owned(),
        "bundles signed before this verify only against the OLD trusted root: keep a copy of it".to_owned(),
    ];
    Answer {
        json: serde_json::to_value(o).unwrap_or_default(),
        lines,
    }
}

/// `vouch admin init`: creates the production instance `config` describes (relative
/// paths under `data`), secrets from the variables it names; see [`crate::init`]. The
/// first administrator's token goes to the new 0600 file `token_out` (refused up front
/// if it exists), else into the answer, shown once.
pub async fn init(
    config: &Path,
    data: &Path,
    opts: &crate::init::InitOptions,
    token_out: Option<&Path>,
) -> Result<Answer, OfflineError> {
    if let Some(p) = token_out.filter(|p| p.exists()) {
        return Err(OfflineError::TokenFileExists { path: p.to_owned() });
    }
    let mut cfg = ServeConfig::load(config)?;
    crate::launch::resolve_paths(&mut cfg, data);
    let secrets = crate::Secrets::from_env(&cfg)?;
    let report = crate::init::init(&cfg, secrets, opts, Arc::new(vouch_log::SystemClock)).await?;
    let mut token_file = None;
    if let (Some(admin), Some(p)) = (&report.admin, token_out) {
        crate::keygen::write_new_secret(p, admin.token.expose())
            .map_err(OfflineError::TokenFile)?;
        token_file = Some(p.display().to_string());
    }
    let shown_token = match (&report.admin, &token_file) {
        (Some(admin), None) => Some(admin.token.expose().to_owned()),
        _ => None,
    };
    let json = json!({
        "already_initialised": report.already_initialised(),
        "created": report.created,
        "log_origin": report.log_origin,
        "log_key": report.log_vkey,
        "admin": report.admin.as_ref().map(|x| x.name.clone()),
        "admin_token": shown_token,
        "admin_token_file": token_file,
    });
    if report.already_initialised() {
        let line = format!(
            "already initialised: log {} (key {}); nothing changed",
            report.log_origin, report.log_vkey
        );
        return Ok(Answer {
            json,
            lines: vec![line],
        });
    }
    let mut lines = vec![
        format!("initialised: created {}", report.created.join(", ")),
        format!("log origin {}", report.log_origin),
        format!("log key {}", report.log_vkey),
    ];
    if let Some(admin) = &report.admin {
        lines.push(format!("first administrator: {}", admin.name));
        match (&token_file, &shown_token) {
            (Some(f), _) => lines.push(format!("admin token written to {f} (mode 0600)")),
            (None, Some(t)) => lines.push(format!("admin token (shown once): {t}")),
            _ => {}
        }
    }
    Ok(Answer { json, lines })
}

/// `vouch admin backup`: backs the registry [`backup_place`] finds up into `out`.
pub async fn backup(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    database: Option<&str>,
    out: &Path,
) -> Result<Answer, OfflineError> {
    let place = backup_place(config, dev, data, database, None)?;
    let m = crate::backup::backup(&place, out).await?;
    Ok(manifest_answer(&m, "backed up to", out))
}

/// `vouch admin restore`: restores the backup in `from` into the empty place
/// [`backup_place`] finds.
pub async fn restore(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    database: Option<&str>,
    from: &Path,
) -> Result<Answer, OfflineError> {
    let dev_keys = from.join(crate::backup::DEV_DIR);
    let place = backup_place(config, dev, data, database, Some(&dev_keys))?;
    let m = crate::backup::restore(&place, from).await?;
    Ok(manifest_answer(&m, "restored from", from))
}

fn manifest_answer(m: &crate::backup::Manifest, verb: &str, dir: &Path) -> Answer {
    let logs: Vec<_> = m
        .logs
        .iter()
        .map(|l| json!({"origin": l.origin, "size": l.size, "root": l.root.to_hex()}))
        .collect();
    let json = json!({
        "dir": dir.display().to_string(),
        "format": crate::backup::MANIFEST_FORMAT,
        "vouch_version": m.vouch_version,
        "created_at": m.created_at,
        "meta": format!("{:?}", m.meta).to_lowercase(),
        "logs": logs,
        "files": m.files.len(),
    });
    let head = format!("{verb} {} ({} files)", dir.display(), m.files.len());
    let lines = std::iter::once(head)
        .chain(
            m.logs
                .iter()
                .map(|l| format!("  log {} at size {} root {}", l.origin, l.size, l.root)),
        )
        .collect();
    Answer { json, lines }
}

/// Where `vouch admin backup`/`restore` find the registry: `--config` (relative paths
/// under `data`), or a `--dev` data directory; `database` as `vouch serve --database`.
/// `dev_keys`: where a restore finds the dev key files when the (empty) data directory
/// has none yet, so the log's origin is the backed-up key's.
pub fn backup_place(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    database: Option<&str>,
    dev_keys: Option<&Path>,
) -> Result<crate::backup::Place, OfflineError> {
    let mut cfg = match (config, dev, data) {
        (Some(p), _, _) => ServeConfig::load(p)?,
        (None, true, Some(d)) => {
            let mut cfg = ServeConfig::dev_existing(d);
            if let Some(keys) = dev_keys.filter(|_| !d.join("log.key").exists()) {
                cfg.log.origin = ServeConfig::dev_existing(keys).log.origin;
            }
            cfg
        }
        _ => return Err(OfflineError::NeedsConfig),
    };
    let mut database_url = None;
    match database {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            database_url = Some(u.to_owned());
        }
        Some(path) => cfg.database = DatabaseConfig::Sqlite { path: path.into() },
        None => {}
    }
    // Only a config file's relative paths are relative to --data: the --dev config
    // already names paths under it (joining again would double a relative --data).
    if let (Some(_), Some(d)) = (config, data) {
        crate::launch::resolve_paths(&mut cfg, d);
    }
    let dev_data = data.filter(|_| dev).map(Path::to_owned);
    Ok(crate::backup::Place::from_config(
        &cfg,
        database_url,
        None,
        dev_data,
    )?)
}

/// Replaces a secret file atomically: a 0600 temp file beside it, synced, renamed over.
fn replace_secret(path: &Path, text: &str) -> Result<(), OfflineError> {
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    write_secret(&tmp, text)?;
    std::fs::rename(&tmp, path).map_err(|source| OfflineError::KeyFile {
        path: path.to_owned(),
        source,
    })
}

/// Writes a new 0600 file holding `text` and a newline, synced.
fn write_secret(path: &Path, text: &str) -> Result<(), OfflineError> {
    crate::keygen::create_secret_file(path, text).map_err(|source| OfflineError::KeyFile {
        path: path.to_owned(),
        source,
    })
}
