//! The axum application: shared state, the router, and opening everything a configuration names.

use std::path::Path;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use vouch_log::{Clock, Log};
use vouch_store::{CheckpointLock, LocalDir, Objects, PostgresLock, RemoteObjects, SqliteLock};
use vouch_tlog::{KeyType, Signer, Verifier, Witness};

use crate::cache::TileCache;
use crate::config::{secret_env, LockConfig, ObjectsConfig, ServeConfig};
use crate::witness::WitnessService;
use crate::{internal, tiles, witness, ApiError, ServeError};

/// Bytes of full tiles kept in memory by the read endpoints.
const TILE_CACHE_BYTES: usize = 64 << 20;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub log: Arc<Log>,
    pub cache: TileCache,
    pub witness: Option<WitnessService>,
    /// Bearer token of the internal add-entry endpoint; `None` disables it.
    pub internal_token: Option<String>,
}

/// The secrets a server needs, read from the environment (production) or from files
/// in the data directory (`--dev`). `Debug` never prints them.
pub struct Secrets {
    pub log_key: Signer,
    pub witness_key: Option<Signer>,
    pub internal_token: Option<String>,
    pub postgres_url: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").finish_non_exhaustive()
    }
}

impl Secrets {
    /// Reads every secret the configuration names from its environment variable.
    pub fn from_env(cfg: &ServeConfig) -> Result<Self, ServeError> {
        let var = &cfg.log.signing_key_env;
        let log_key =
            Signer::parse(secret_env(var)?.trim()).map_err(|_| ServeError::SecretInvalid {
                var: var.clone(),
                what: "signed-note private key",
            })?;
        let witness_key = if cfg.witness.enabled {
            let var = &cfg.witness.signing_key_env;
            Some(
                Signer::parse(secret_env(var)?.trim()).map_err(|_| ServeError::SecretInvalid {
                    var: var.clone(),
                    what: "cosignature private key",
                })?,
            )
        } else {
            None
        };
        let internal_token = match &cfg.internal.token_env {
            Some(v) => Some(secret_env(v)?),
            None => None,
        };
        let postgres_url = match &cfg.storage.lock {
            LockConfig::Postgres { url_env } => Some(secret_env(url_env)?),
            LockConfig::Sqlite { .. } => None,
        };
        Ok(Secrets {
            log_key,
            witness_key,
            internal_token,
            postgres_url,
        })
    }

    /// `--dev`: loads the keys and token kept in `data`, generating any that are missing.
    pub fn dev(data: &Path, cfg: &ServeConfig) -> Result<Self, ServeError> {
        let log_key = dev_key(&data.join("log.key"), &cfg.log.origin, KeyType::Ed25519)?;
        let witness_key = dev_key(
            &data.join("witness.key"),
            &format!("{}-witness", cfg.log.origin),
            KeyType::Cosignature,
        )?;
        let token_path = data.join("internal.token");
        let token = match std::fs::read_to_string(&token_path) {
            Ok(t) => t.trim().to_owned(),
            Err(_) => {
                let t = hex::encode(random32(&token_path)?);
                write_secret(&token_path, &t)?;
                t
            }
        };
        Ok(Secrets {
            log_key,
            witness_key: Some(witness_key),
            internal_token: Some(token),
            postgres_url: None,
        })
    }
}

fn random32(path: &Path) -> Result<[u8; 32], ServeError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| ServeError::DevSetup {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(seed)
}

fn dev_key(path: &Path, name: &str, kind: KeyType) -> Result<Signer, ServeError> {
    let invalid = || ServeError::DevSetup {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a signed-note key"),
    };
    if let Ok(text) = std::fs::read_to_string(path) {
        return Signer::parse(text.trim()).map_err(|_| invalid());
    }
    let signer = Signer::from_seed(name, kind, &random32(path)?).map_err(|_| invalid())?;
    write_secret(path, &signer.to_key_string())?;
    Ok(signer)
}

fn write_secret(path: &Path, text: &str) -> Result<(), ServeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| ServeError::DevSetup {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.write_all(b"\n").map_err(err)?;
    f.sync_all().map_err(err)
}

/// A running application: its state and router.
#[derive(Debug, Clone)]
pub struct App {
    pub state: Arc<AppState>,
    pub router: Router,
}

/// Opens storage and the log as `cfg` says and builds the router. `create` (`--dev`)
/// creates missing directories, tables and the log; otherwise they must exist.
pub async fn open(
    cfg: &ServeConfig,
    secrets: Secrets,
    create: bool,
    clock: Arc<dyn Clock>,
) -> Result<App, ServeError> {
    let objects: Arc<dyn Objects> = match &cfg.storage.objects {
        ObjectsConfig::Local { path } if create => Arc::new(LocalDir::create(path)?),
        ObjectsConfig::Local { path } => Arc::new(LocalDir::open(path)?),
        ObjectsConfig::S3 {
            bucket,
            endpoint,
            region,
            prefix,
            allow_http,
        } => Arc::new(RemoteObjects::s3(
            bucket,
            endpoint.as_deref(),
            region.as_deref(),
            prefix,
            *allow_http,
        )?),
        ObjectsConfig::Memory => Arc::new(RemoteObjects::memory()),
    };
    let lock: Arc<dyn CheckpointLock> = match &cfg.storage.lock {
        LockConfig::Sqlite { path } => Arc::new(SqliteLock::open(path, create).await?),
        LockConfig::Postgres { url_env } => {
            let url = match &secrets.postgres_url {
                Some(u) => u.clone(),
                None => secret_env(url_env)?,
            };
            Arc::new(PostgresLock::connect(&url, create).await?)
        }
    };
    let log = Log::open(
        cfg.log_config(),
        objects,
        Arc::clone(&lock),
        secrets.log_key,
        create,
    )
    .await?;
    let witness = match secrets.witness_key {
        Some(key) if cfg.witness.enabled => {
            let var = cfg.witness.signing_key_env.clone();
            let mut w = Witness::new(key).map_err(|_| ServeError::SecretInvalid {
                var,
                what: "cosignature (type 0x04) key",
            })?;
            w.add_log(log.origin(), vec![log.verifier()]);
            for l in &cfg.witness.logs {
                let v = Verifier::parse(&l.vkey).map_err(|e| ServeError::ConfigInvalid {
                    path: "witness.logs".into(),
                    reason: format!("bad vkey for {}: {e}", l.origin),
                })?;
                w.add_log(&l.origin, vec![v]);
            }
            Some(WitnessService {
                witness: w,
                lock,
                clock,
                serial: tokio::sync::Mutex::new(()),
            })
        }
        _ => None,
    };
    let state = Arc::new(AppState {
        log: Arc::new(log),
        cache: TileCache::new(TILE_CACHE_BYTES),
        witness,
        internal_token: secrets.internal_token,
    });
    let router = router(Arc::clone(&state), &cfg.log.prefix);
    Ok(App { state, router })
}

/// The routes: log reads and internal add-entry under `prefix`, the witness at the root.
pub fn router(state: Arc<AppState>, prefix: &str) -> Router {
    Router::new()
        .route(&format!("{prefix}/checkpoint"), get(tiles::checkpoint))
        .route(&format!("{prefix}/tile/{{*rest}}"), get(tiles::tile))
        .route(
            &format!("{prefix}/internal/add-entry"),
            post(internal::add_entry).layer(DefaultBodyLimit::max(128 << 10)),
        )
        .route(
            "/add-checkpoint",
            post(witness::add_checkpoint).layer(DefaultBodyLimit::max(64 << 10)),
        )
        .fallback(|| async { ApiError::not_found("no such route") })
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains the log's pool.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown)
        .await?;
    app.state.log.shutdown().await;
    Ok(())
}
