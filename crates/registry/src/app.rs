//! The axum application: shared state, the router, and opening everything a configuration names.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use vouch_ca::EncryptionKey;
use vouch_log::{Candidate, Clock, Election, Leadership, LeaseKeeper, Log};
use vouch_store::blobs::BlobStore;
use vouch_store::meta::{MetaStore, PostgresMeta, SqliteMeta};
use vouch_store::{
    CheckpointLock, LocalDir, Objects, PostgresLock, RemoteObjects, S3Options, SqliteLock,
};
use vouch_tlog::{KeyType, Signer, Verifier, Witness};

use tokio::sync::watch;

use crate::cache::TileCache;
use crate::cluster::{LogWriter, Role, WriterParts};
use crate::config::{secret_env, DatabaseConfig, LockConfig, ObjectsConfig, ServeConfig};
use crate::witness::WitnessService;
use crate::{internal, tiles, witness, ApiError, ServeError};

/// Bytes of full tiles kept in memory by the read endpoints.
const TILE_CACHE_BYTES: usize = 64 << 20;

/// What every handler shares. `Debug` prints no secret (see its impl).
pub struct AppState {
    /// With a SQLite lock database, this process's claim on the file, held while the
    /// state lives: a second server on the same file is refused at start (SERVE_E111).
    /// PostgreSQL lock databases are shared by several nodes: the sequencer lease
    /// decides which one sequences. `None` on a follower.
    pub sequencer: Option<vouch_store::SequencerClaim>,
    /// The main log: local on the leader, forwarded to it on a follower.
    pub log: LogWriter,
    /// This node's role for the main log (the CT log's is `sigstore.ct_role`).
    pub main_role: watch::Sender<Role>,
    /// What opening the main log takes, for a follower that wins the lead.
    pub main_kit: MainKit,
    /// The sequencer lease this node took at start and renews (`None` on a follower);
    /// the logs step down if it is lost. Released by [`serve`] at shutdown (hand-over).
    pub lease: tokio::sync::Mutex<Option<LeaseKeeper>>,
    /// The run-time election of a node on a shared (PostgreSQL) lock database; resigned
    /// on shutdown so another node takes over at once.
    pub election: tokio::sync::Mutex<Option<Election<Vec<Arc<Log>>>>>,
    pub cache: TileCache,
    pub witness: Option<WitnessService>,
    /// Bearer token of the internal add-entry endpoint; `None` disables it.
    pub internal_token: Option<String>,
    /// Registry metadata (users, packages, versions, bindings, replay, audit).
    pub meta: Arc<dyn MetaStore>,
    /// Package archives and bundles, content-addressed, on the log's object store.
    pub blobs: BlobStore,
    /// TOKEN_ENC_KEY: seals the CA, TSA and registry signing keys at rest.
    pub enc_key: EncryptionKey,
    /// The base URL clients use to reach this server, without a trailing slash.
    pub public_url: String,
    /// `--dev`: development-only routes (the dev OIDC issuer) are mounted.
    pub dev: bool,
    /// The data directory (`--data`).
    pub data_dir: PathBuf,
    /// OIDC verification, CA and CT log, TSA, trust config (issue #4).
    pub sigstore: crate::sigstore::SigstoreServices,
    /// Registry signing key, integrity records, backfill, admin auth (issue #6).
    pub integrity: crate::integrity::Integrity,
    /// Packages: publish limits, bundle trust, the key-rotation gate (issue #5).
    pub packages: crate::packages::Packages,
    /// The Python index: its trusted-publishing token verifier (issue 18).
    pub pypi: crate::pypi::PyIndex,
    /// The web UI: administrator sessions (in the metadata database), sign-in throttle.
    pub web: crate::web::WebState,
    /// Prometheus metric families served at `/metrics`.
    pub metrics: crate::ops::Metrics,
    /// `[limits]`: connection, body and queue bounds.
    pub limits: crate::limits::LimitsSection,
    /// The instance's TUF repository under `/tuf/` (`None`: not published yet).
    pub tuf: Option<Arc<crate::tuf::TufRepo>>,
    /// The Cargo registry: `[cargo]` settings and the index cache (issue 19).
    pub cargo: crate::cargo::CargoState,
}

/// Names the parts and the public facts only: the internal token, TOKEN_ENC_KEY and
/// whatever the services hold (sessions, keys, forge tokens) are never printed, so a
/// `{state:?}` in a log line or a panic message leaks nothing.
impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("origin", &self.log.origin())
            .field("public_url", &self.public_url)
            .field("dev", &self.dev)
            .field("data_dir", &self.data_dir)
            .field(
                "internal_token",
                &self.internal_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The secrets a server needs, read from the environment (production) or from files
/// in the data directory (`--dev`). `Debug` never prints them.
pub struct Secrets {
    pub log_key: Signer,
    pub witness_key: Option<Signer>,
    pub internal_token: Option<String>,
    pub postgres_url: Option<String>,
    /// TOKEN_ENC_KEY.
    pub enc_key: EncryptionKey,
    /// The metadata database URL when `[database]` is PostgreSQL (or `--database`).
    pub database_url: Option<String>,
    /// The API tokens and webhook secrets the `[[forges]]` sections name.
    pub forges: crate::integrity::ingest::ForgeSecrets,
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
        expect_key_type(var, &log_key, KeyType::Ed25519)?;
        let witness_key = if cfg.witness.enabled {
            let var = &cfg.witness.signing_key_env;
            let key =
                Signer::parse(secret_env(var)?.trim()).map_err(|_| ServeError::SecretInvalid {
                    var: var.clone(),
                    what: "cosignature private key",
                })?;
            expect_key_type(var, &key, KeyType::Cosignature)?;
            Some(key)
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
        let var = &cfg.registry.token_enc_key_env;
        let enc_key = parse_enc_key(var, &secret_env(var)?)?;
        let database_url = match &cfg.database {
            DatabaseConfig::Postgres { url_env } => Some(secret_env(url_env)?),
            DatabaseConfig::Sqlite { .. } => None,
        };
        let forges = crate::integrity::ingest::ForgeSecrets::from_env(&cfg.forges)?;
        Ok(Secrets {
            log_key,
            witness_key,
            internal_token,
            postgres_url,
            enc_key,
            database_url,
            forges,
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
        let enc_path = data.join("token_enc.key");
        let enc_key = match std::fs::read_to_string(&enc_path) {
            Ok(t) => parse_enc_key(&enc_path.display().to_string(), &t)?,
            Err(_) => {
                let t = hex::encode(random32(&enc_path)?);
                write_secret(&enc_path, &t)?;
                parse_enc_key(&enc_path.display().to_string(), &t)?
            }
        };
        let database_url = match &cfg.database {
            DatabaseConfig::Postgres { url_env } => Some(secret_env(url_env)?),
            DatabaseConfig::Sqlite { .. } => None,
        };
        // Forges read their secrets from the environment in --dev too.
        let forges = crate::integrity::ingest::ForgeSecrets::from_env(&cfg.forges)?;
        Ok(Secrets {
            log_key,
            witness_key: Some(witness_key),
            internal_token: Some(token),
            postgres_url: None,
            enc_key,
            database_url,
            forges,
        })
    }
}

/// Refuses a signed-note key of the wrong type (a witness key where the log key is
/// expected, or the reverse): either would only fail later, at the first signature.
fn expect_key_type(var: &str, key: &Signer, expected: KeyType) -> Result<(), ServeError> {
    let found = key.verifier().key_type();
    if found == expected {
        return Ok(());
    }
    let name = |t: KeyType| match t {
        KeyType::Ed25519 => "log (Ed25519, type 0x01)",
        KeyType::Cosignature => "witness (cosignature, type 0x04)",
        _ => "signed-note",
    };
    Err(ServeError::SecretWrongType {
        var: var.to_owned(),
        expected: name(expected),
        found: name(found),
    })
}

/// How this process describes itself in the sequencer claim, for the one it refuses.
fn sequencer_holder(public_url: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "this host".into());
    let since = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
    format!(
        "vouch serve pid {} on {host} at {public_url} since {since}",
        std::process::id()
    )
}

/// Parses TOKEN_ENC_KEY (64 hex characters), naming where it came from on failure.
pub fn parse_enc_key(source: &str, text: &str) -> Result<EncryptionKey, ServeError> {
    EncryptionKey::from_hex(text).map_err(|_| ServeError::EncKeyInvalid {
        var: source.to_owned(),
        found: text.trim().chars().count(),
    })
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
    crate::keygen::create_secret_file(path, text).map_err(|source| ServeError::DevSetup {
        path: path.to_owned(),
        source,
    })
}

/// What opening the main log takes (its key is a secret: `Debug` prints the origin only).
#[derive(Clone)]
pub struct MainKit {
    pub config: vouch_log::LogConfig,
    pub objects: Arc<dyn Objects>,
    pub lock: Arc<dyn CheckpointLock>,
    pub signer: Signer,
}

impl std::fmt::Debug for MainKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainKit")
            .field("origin", &self.config.origin)
            .finish_non_exhaustive()
    }
}

/// How a node takes part in its logs when it opens.
#[derive(Debug, Clone, Default)]
pub enum Membership {
    /// Claim the sequencer and lead both logs (one node; refused with SERVE_E111 when
    /// another process holds the claim).
    #[default]
    Sequencer,
    /// Open no log and claim nothing: forward every write to the leader at this
    /// internal base URL (`None`: no leader known yet, writes answer 503 SERVE_E011)
    /// until [`lead`] or [`follow`] switches the role.
    Follower { leader_address: Option<String> },
    /// Take part in the run-time election (several nodes on a PostgreSQL lock
    /// database): follow whichever node holds the sequencer lease, lead while this one
    /// holds it. What [`open`] chooses for a PostgreSQL lock database.
    Elect,
}

/// Switches this node to lead both logs at run time (it won the lease): opens them from
/// the committed state (recovering whatever the previous leader left) and routes every
/// later add to them. The caller holds whatever makes this node the only sequencer.
pub async fn lead(state: &AppState) -> Result<(), ServeError> {
    if state.log.is_leader() && state.sigstore.ct_log.is_leader() {
        return Ok(());
    }
    let k = &state.main_kit;
    let main = Log::open(
        k.config.clone(),
        Arc::clone(&k.objects),
        Arc::clone(&k.lock),
        k.signer.clone(),
        false,
    )
    .await?;
    let ct = state.sigstore.ct_kit.open(false, None).await?;
    main.observe(state.metrics.batch_observer("main"));
    ct.observe(state.metrics.batch_observer("ct"));
    state.main_role.send_replace(Role::Leader(Arc::new(main)));
    state
        .sigstore
        .ct_role
        .send_replace(Role::Leader(Arc::new(ct)));
    tracing::info!(origin = state.log.origin(), "this node now leads the logs");
    Ok(())
}

/// Switches this node to follow `leader_address` (`None`: unknown) at run time (it lost
/// the lease or learnt the leader moved). Adds already pooled locally are committed or
/// refused by the old sequencer's shutdown; new ones are forwarded.
pub async fn follow(state: &AppState, leader_address: Option<String>) {
    let role = || Role::Follower {
        leader_address: leader_address.clone(),
    };
    let old_main = state.main_role.send_replace(role());
    let old_ct = state.sigstore.ct_role.send_replace(role());
    for old in [old_main, old_ct] {
        if let Role::Leader(log) = old {
            log.shutdown().await;
        }
    }
}

/// A running application: its state and router.
#[derive(Debug, Clone)]
pub struct App {
    pub state: Arc<AppState>,
    pub router: Router,
}

/// Where and how a server runs, besides its configuration file.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// `--dev`: create what is missing and mount development-only routes.
    pub dev: bool,
    /// Apply metadata migrations at start (always true with `--dev`).
    pub migrate: bool,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The base URL clients use, without a trailing slash.
    pub public_url: String,
    /// Where the other nodes of the instance reach this one (its internal base URL,
    /// recorded in the sequencer lease while it leads); `None`: the public URL.
    pub advertise_url: Option<String>,
}

impl Runtime {
    /// `--dev` in `data_dir`, reached at `public_url` (tests pass their bound address).
    pub fn dev(data_dir: &Path, public_url: &str) -> Self {
        Runtime {
            dev: true,
            migrate: true,
            data_dir: data_dir.to_owned(),
            public_url: public_url.to_owned(),
            advertise_url: None,
        }
    }
}

/// The object store `cfg` names; with `create` a missing local directory is made.
pub fn open_objects(cfg: &ServeConfig, create: bool) -> Result<Arc<dyn Objects>, ServeError> {
    Ok(match &cfg.storage.objects {
        ObjectsConfig::Local { path } if create => Arc::new(LocalDir::create(path)?),
        ObjectsConfig::Local { path } => Arc::new(LocalDir::open(path)?),
        ObjectsConfig::S3 {
            bucket,
            endpoint,
            region,
            prefix,
            allow_http,
            max_retries,
            retry_timeout_secs,
            request_timeout_secs,
            connect_timeout_secs,
        } => {
            let mut opts = S3Options::new(bucket.as_str());
            opts.endpoint.clone_from(endpoint);
            opts.region.clone_from(region);
            opts.prefix.clone_from(prefix);
            opts.allow_http = *allow_http;
            if let Some(n) = max_retries {
                opts.max_retries = *n;
            }
            if let Some(s) = retry_timeout_secs {
                opts.retry_timeout = Duration::from_secs(*s);
            }
            if let Some(s) = request_timeout_secs {
                opts.request_timeout = Duration::from_secs(*s);
            }
            if let Some(s) = connect_timeout_secs {
                opts.connect_timeout = Duration::from_secs(*s);
            }
            Arc::new(RemoteObjects::s3(&opts)?)
        }
        ObjectsConfig::Memory => Arc::new(RemoteObjects::memory()),
    })
}

/// The checkpoint lock table `cfg` names; with `create` a missing SQLite file and the
/// table are made.
pub async fn open_lock(
    cfg: &ServeConfig,
    secrets: &Secrets,
    create: bool,
) -> Result<Arc<dyn CheckpointLock>, ServeError> {
    Ok(match &cfg.storage.lock {
        LockConfig::Sqlite { path } => Arc::new(SqliteLock::open(path, create).await?),
        LockConfig::Postgres { url_env } => {
            let url = match &secrets.postgres_url {
                Some(u) => u.clone(),
                None => secret_env(url_env)?,
            };
            Arc::new(PostgresLock::connect(&url, create).await?)
        }
    })
}

/// The metadata database `cfg` (or `secrets.database_url`) names; with `create` a
/// missing SQLite file is made (no table: see [`MetaStore::migrate`]).
pub async fn open_meta(
    cfg: &ServeConfig,
    secrets: &Secrets,
    create: bool,
) -> Result<Arc<dyn MetaStore>, ServeError> {
    Ok(match (&cfg.database, &secrets.database_url) {
        (_, Some(url)) => Arc::new(PostgresMeta::connect(url).await?),
        (DatabaseConfig::Sqlite { path }, None) => Arc::new(SqliteMeta::open(path, create).await?),
        (DatabaseConfig::Postgres { url_env }, None) => {
            Arc::new(PostgresMeta::connect(&secret_env(url_env)?).await?)
        }
    })
}

/// Opens storage, metadata and the log as `cfg` says and builds the router.
/// `rt.dev` creates missing directories, tables and the log; otherwise they must exist
/// (the metadata schema is migrated only with `rt.migrate`).
pub async fn open(
    cfg: &ServeConfig,
    secrets: Secrets,
    rt: Runtime,
    clock: Arc<dyn Clock>,
) -> Result<App, ServeError> {
    let membership = match cfg.storage.lock {
        LockConfig::Postgres { .. } => Membership::Elect,
        LockConfig::Sqlite { .. } => Membership::Sequencer,
    };
    open_as(cfg, secrets, rt, clock, membership).await
}

/// As [`open`], taking part in the logs as `membership` says.
pub async fn open_as(
    cfg: &ServeConfig,
    secrets: Secrets,
    rt: Runtime,
    clock: Arc<dyn Clock>,
    membership: Membership,
) -> Result<App, ServeError> {
    let create = rt.dev;
    let objects = open_objects(cfg, create)?;
    let lock = open_lock(cfg, &secrets, create).await?;
    let meta = open_meta(cfg, &secrets, create).await?;
    if rt.dev || rt.migrate {
        meta.migrate().await?;
    } else {
        meta.check_schema().await?;
    }
    // Production: the origin must be the one the public URL implies (the binary settles
    // it; library callers are held to it here). `--dev` keeps the origin of an existing
    // data directory's log key, so a restart on another port still finds its log.
    if !rt.dev {
        let derived = crate::config::origin_for_public_url(&rt.public_url)?;
        if cfg.log.origin != derived {
            return Err(ServeError::OriginMismatch {
                configured: cfg.log.origin.clone(),
                public_url: rt.public_url.clone(),
                derived,
            });
        }
    }
    let blobs = BlobStore::new(Arc::clone(&objects), cfg.registry.max_blob_bytes);
    let node_logs = NodeLogs::default();
    let main_kit = MainKit {
        config: cfg.log_config(),
        objects: Arc::clone(&objects),
        lock: Arc::clone(&lock),
        signer: secrets.log_key.clone(),
    };
    // Several nodes (a PostgreSQL lock database): this node starts as a follower and
    // an election ([`elect_roles`]) makes it the leader when it wins the lease, and a
    // follower again when it loses it, at run time.
    let elect = matches!(membership, Membership::Elect);
    let (sequencer, role, follow, keeper) = match membership {
        Membership::Sequencer => {
            // Before any log is opened: SQLite is single-node, a second server on the
            // same file is refused here, naming the holder. (PostgreSQL: the lease.)
            let claim = match &cfg.storage.lock {
                LockConfig::Sqlite { path } => Some(
                    SqliteLock::open(path, false)
                        .await?
                        .claim_process(&sequencer_holder(&rt.public_url))
                        .await
                        .map_err(|e| match e {
                            vouch_store::StoreError::SequencerHeld { holder } => {
                                ServeError::NotSequencer { holder }
                            }
                            other => other.into(),
                        })?,
                ),
                LockConfig::Postgres { .. } => None,
            };
            // Holding the file claim proves every earlier server on this SQLite file has
            // exited: a lease it left unexpired (a crash) is expired now rather than
            // waited out, so a single node restarts at once.
            if claim.is_some() {
                if let Some(dead) = lock.current_lease().await? {
                    tracing::info!(holder = %dead.holder, "expiring the lease of a server that exited");
                    lock.release_lease(&dead).await?;
                }
            }
            // The sequencer lease: every log of this node commits fenced by its epoch. A
            // node started while another leads waits here for the lease.
            let candidate = Candidate {
                holder: sequencer_holder(&rt.public_url),
                address: rt.public_url.trim_end_matches('/').to_owned(),
                ttl: cfg.lease_ttl(),
            };
            let (lease, deadline) = LeaseKeeper::acquire(&*lock, &candidate).await?;
            let epoch = lease.epoch;
            tracing::info!(epoch, "holding the sequencer lease");
            let keeper = LeaseKeeper::keep(
                Arc::clone(&lock),
                candidate,
                lease,
                deadline,
                node_logs.clone(),
            );
            let log = Arc::new(
                Log::open_fenced(
                    main_kit.config.clone(),
                    Arc::clone(&objects),
                    Arc::clone(&lock),
                    secrets.log_key.clone(),
                    create,
                    epoch,
                )
                .await?,
            );
            node_logs.add(Arc::clone(&log));
            (claim, Role::Leader(log), None, Some(keeper))
        }
        // Starts as a follower of no known leader; the election takes over once the
        // state exists (below).
        Membership::Elect => (
            None,
            Role::Follower {
                leader_address: None,
            },
            None,
            None,
        ),
        Membership::Follower { leader_address } => (
            None,
            Role::Follower {
                leader_address: leader_address.clone(),
            },
            leader_address,
            None,
        ),
    };
    let lead = matches!(role, Role::Leader(_));
    let (main_role, role_rx) = watch::channel(role);
    let log = LogWriter::new(WriterParts {
        origin: cfg.log.origin.clone(),
        verifier: secrets.log_key.verifier(),
        objects: Arc::clone(&objects),
        lock: Arc::clone(&lock),
        role: role_rx,
        internal_token: secrets.internal_token.clone(),
    });
    let public_url = rt.public_url.trim_end_matches('/').to_owned();
    let sigstore = crate::sigstore::SigstoreServices::open(crate::sigstore::Deps {
        cfg,
        meta: Arc::clone(&meta),
        main_log: &log,
        lead,
        follow,
        internal_token: secrets.internal_token.clone(),
        lock: Arc::clone(&lock),
        enc_key: &secrets.enc_key,
        public_url: &public_url,
        dev: rt.dev,
        data_dir: &rt.data_dir,
        clock: Arc::clone(&clock),
    })
    .await?;
    let tuf = crate::tuf::TufRepo::open(
        Arc::clone(&objects),
        &secrets.enc_key,
        &sigstore.trust_config,
        rt.dev,
        &rt.data_dir,
        Arc::clone(&clock),
    )
    .await?;
    if let Some(t) = &tuf {
        t.spawn_freshener();
    }
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
    let integrity =
        crate::integrity::Integrity::open(meta.as_ref(), &secrets.enc_key, &cfg.integrity)
            .await?
            .with_forge_sections(&cfg.forges, &secrets.forges)?;
    let packages =
        crate::packages::Packages::open(cfg, &sigstore, meta.as_ref(), rt.dev, &rt.data_dir)
            .await?;
    match crate::packages::publish::sweep_uploads(
        &rt.data_dir,
        crate::packages::publish::STALE_UPLOAD_AGE,
    ) {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "swept upload leftovers of crashed publishes"),
        Err(e) => tracing::warn!(error = %e, "could not sweep DATA/tmp"),
    }
    if let Some(ct) = sigstore.ct_log.local() {
        node_logs.add(ct);
    }
    let metrics = crate::ops::Metrics::new();
    if let Some(l) = log.local() {
        l.observe(metrics.batch_observer("main"));
    }
    if let Some(l) = sigstore.ct_log.local() {
        l.observe(metrics.batch_observer("ct"));
    }
    let pypi = crate::pypi::PyIndex::open(cfg, &sigstore, Arc::clone(&meta), &public_url)?;
    let web = crate::web::WebState::new(Arc::clone(&meta));
    let state = Arc::new(AppState {
        sequencer,
        lease: tokio::sync::Mutex::new(keeper),
        election: tokio::sync::Mutex::new(None),
        log,
        main_role,
        main_kit,
        cache: TileCache::new(TILE_CACHE_BYTES),
        witness,
        internal_token: secrets.internal_token,
        meta,
        blobs,
        enc_key: secrets.enc_key,
        public_url,
        dev: rt.dev,
        data_dir: rt.data_dir,
        sigstore,
        integrity,
        packages,
        pypi,
        web,
        metrics,
        limits: cfg.limits.clone(),
        tuf,
        cargo: crate::cargo::CargoState::new(cfg.cargo.clone()),
    });
    if elect {
        let candidate = Candidate {
            holder: sequencer_holder(&state.public_url),
            address: rt
                .advertise_url
                .clone()
                .unwrap_or_else(|| state.public_url.clone()),
            ttl: cfg.lease_ttl(),
        };
        *state.election.lock().await = Some(elect_roles(&state, candidate));
    }
    crate::integrity::start(&state).await?;
    let router = router(Arc::clone(&state), &cfg.log.prefix);
    Ok(App { state, router })
}

/// Starts this node's election: while it holds the lease it leads both logs, opened
/// fenced with the lease's epoch; when it loses the lease (or its logs stop after a
/// fenced swap) it follows whichever node holds it, at the address that node recorded.
/// A watcher task turns the election's role into the roles the [`LogWriter`]s read.
fn elect_roles(state: &Arc<AppState>, me: Candidate) -> Election<Vec<Arc<Log>>> {
    let weak = Arc::downgrade(state);
    let election = Election::start(Arc::clone(&state.main_kit.lock), me, move |epoch| {
        let weak = weak.clone();
        async move {
            let Some(state) = weak.upgrade() else {
                return Err(vouch_log::LogError::Closed);
            };
            open_led(&state, epoch).await
        }
    });
    let mut roles = election.role();
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            let role = roles.borrow_and_update().clone();
            let Some(state) = weak.upgrade() else { return };
            match role {
                vouch_log::Role::Leader(logs) => {
                    if let [main, ct] = logs.as_slice() {
                        main.observe(state.metrics.batch_observer("main"));
                        ct.observe(state.metrics.batch_observer("ct"));
                        state.main_role.send_replace(Role::Leader(Arc::clone(main)));
                        state
                            .sigstore
                            .ct_role
                            .send_replace(Role::Leader(Arc::clone(ct)));
                        tracing::info!(origin = state.log.origin(), "this node leads the logs");
                    }
                }
                vouch_log::Role::Follower { leader_address } => {
                    follow(&state, leader_address).await;
                }
            }
            drop(state);
            if roles.changed().await.is_err() {
                return;
            }
        }
    });
    election
}

/// Opens both logs fenced with `epoch` (this node just took the lease), recovering what
/// the previous leader left.
async fn open_led(state: &AppState, epoch: i64) -> Result<Vec<Arc<Log>>, vouch_log::LogError> {
    let k = &state.main_kit;
    let main = Log::open_fenced(
        k.config.clone(),
        Arc::clone(&k.objects),
        Arc::clone(&k.lock),
        k.signer.clone(),
        false,
        epoch,
    )
    .await?;
    let ct = match state.sigstore.ct_kit.open(false, Some(epoch)).await {
        Ok(ct) => ct,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the CT log as leader");
            main.step_down();
            return Err(match e {
                crate::sigstore::SetupError::CtLog(e) => e,
                _ => vouch_log::LogError::Closed,
            });
        }
    };
    Ok(vec![Arc::new(main), Arc::new(ct)])
}

/// The logs this node opened under its lease (main and CT), stepped down together
/// when the lease is lost.
#[derive(Debug, Clone, Default)]
struct NodeLogs(Arc<std::sync::Mutex<Vec<Arc<Log>>>>);

impl NodeLogs {
    fn logs(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Log>>> {
        // Pushes and reads only: a panic cannot leave the list torn.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, log: Arc<Log>) {
        self.logs().push(log);
    }
}

impl Leadership for NodeLogs {
    fn step_down(&self) {
        self.logs().iter().for_each(|l| l.step_down());
    }

    fn is_sequencing(&self) -> bool {
        self.logs().iter().all(|l| l.is_sequencing())
    }
}

/// The routes: log reads and internal add-entry under `prefix`, the witness at the root.
pub fn router(state: Arc<AppState>, prefix: &str) -> Router {
    let limits = state.limits.clone();
    Router::new()
        .route(&format!("{prefix}/checkpoint"), get(tiles::checkpoint))
        .route(&format!("{prefix}/tile/{{*rest}}"), get(tiles::tile))
        .route(
            &format!("{prefix}/internal/add-entry"),
            post(internal::add_entry).layer(DefaultBodyLimit::max(128 << 10)),
        )
        // Followers' forwarded batches (token-gated, never to be routed publicly).
        .route(
            "/internal/log/add",
            post(internal::add_batch).layer(DefaultBodyLimit::max(crate::cluster::MAX_BATCH_BODY)),
        )
        .route(
            "/add-checkpoint",
            post(witness::add_checkpoint).layer(DefaultBodyLimit::max(64 << 10)),
        )
        .merge(crate::rekor::routes(
            limits.rekor_workers(),
            limits.rekor_verify_queue,
        ))
        .merge(crate::sigstore::routes())
        .merge(crate::tuf::routes())
        .merge(crate::integrity::routes())
        .merge(crate::accounts::routes())
        .merge(crate::packages::routes())
        .merge(crate::pypi::routes())
        .merge(crate::cargo::routes())
        .merge(crate::web::routes(prefix))
        .route("/healthz", get(crate::ops::healthz))
        .route("/readyz", get(crate::ops::readyz))
        .route("/metrics", get(crate::ops::metrics))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(axum::middleware::map_response(crate::error::envelope))
        .layer(axum::middleware::from_fn_with_state(
            limits.body_timeout(),
            crate::deadline::body_deadline,
        ))
        // Outermost, so every route (and the fallback, as `unmatched`) is counted.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::ops::track,
        ))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains the log's pool.
/// Connections are admitted under `[limits]` ([`crate::conn`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = app.state.limits.clone();
    crate::conn::serve(listener, None, app.router, &limits, shutdown).await?;
    hand_over(&app.state).await;
    Ok(())
}

/// As [`serve`], over TLS: each admitted connection completes its handshake with
/// `tls` (bounded in number and time by `[limits]`) before the router sees it.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = app.state.limits.clone();
    crate::conn::serve(listener, Some(tls), app.router, &limits, shutdown).await?;
    hand_over(&app.state).await;
    Ok(())
}

/// Shutdown: the logs commit what they pooled, then the lease is released so another
/// node takes over without waiting for it to expire.
async fn hand_over(state: &AppState) {
    state.log.shutdown().await;
    state.sigstore.shutdown().await;
    if let Some(e) = state.election.lock().await.take() {
        e.resign().await;
    }
    if let Some(k) = state.lease.lock().await.take() {
        k.release().await;
    }
}
