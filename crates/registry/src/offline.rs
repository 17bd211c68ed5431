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

use vouch_ca::EncryptionKey;
use vouch_store::meta::{MetaError, MetaStore, PostgresMeta, SqliteMeta};
use vouch_store::CheckpointLock;

use crate::config::{DatabaseConfig, LockConfig};
use crate::reseal::{ResealError, RotateOutcome, SigstoreResetOutcome};
use crate::{ServeConfig, ServeError};

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
            OfflineError::Keygen(e) => e.code(),
            OfflineError::Init(e) => e.code(),
            OfflineError::Backup(e) => e.code(),
            OfflineError::NeedsConfig | OfflineError::NoOrigin => "SERVE_E101",
            OfflineError::VarMissing { .. } | OfflineError::DevKey { .. } => "SERVE_E102",
            OfflineError::Lock(_) => "ADMIN_E034",
            OfflineError::KeyFile { .. } => "KEYGEN_E003",
        }
    }
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
/// given now (with `dev`, DATA/token_enc.key, made if missing). Returns the old and the
/// new key id.
pub async fn reset_registry_key(
    config: Option<&Path>,
    dev: bool,
    data: &Path,
) -> Result<(Option<String>, String), OfflineError> {
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
    Ok(crate::integrity::keys::reset(meta.as_ref(), &enc, "cli:admin keys reset").await?)
}

/// `vouch admin rotate-token-enc-key`: re-seals every sealed key under the key in
/// `new_key_env`; with --dev the key file is replaced (atomically) only after the
/// commit. Returns the outcome and what the instance opens with now.
pub async fn rotate_token_enc_key(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
    new_key_env: &str,
) -> Result<(RotateOutcome, String), OfflineError> {
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
    Ok((outcome, opens_with))
}

/// `vouch admin keys reset-sigstore`: new CA, TSA and CT-log keys and a new CT log.
pub async fn reset_sigstore(
    config: Option<&Path>,
    dev: bool,
    data: Option<&Path>,
) -> Result<SigstoreResetOutcome, OfflineError> {
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
    Ok(crate::reseal::reset_sigstore_keys(
        &o.cfg,
        meta.as_ref(),
        &objects,
        lock,
        &o.enc,
        &vouch_log::SystemClock,
        "cli:admin keys reset-sigstore",
    )
    .await?)
}

/// `vouch admin init`: creates the production instance `config` describes (relative
/// paths under `data`), secrets from the variables it names; see [`crate::init`].
pub async fn init(
    config: &Path,
    data: &Path,
    opts: &crate::init::InitOptions,
) -> Result<crate::init::InitReport, OfflineError> {
    let mut cfg = ServeConfig::load(config)?;
    crate::launch::resolve_paths(&mut cfg, data);
    let secrets = crate::Secrets::from_env(&cfg)?;
    Ok(crate::init::init(&cfg, secrets, opts, Arc::new(vouch_log::SystemClock)).await?)
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
