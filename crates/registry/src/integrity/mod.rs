//! Registry integrity (DESIGN.md flow 2): the registry's Ed25519 signing key and key set, integrity records signed once and logged, the backfill, forge ingest wiring, the audit API and administrator authentication.
//!
//! - [`keys`]: loading/creating the key sealed under TOKEN_ENC_KEY and bound to this
//!   instance, rotation, the offline reset, the JWKS.
//! - [`records`]: [`record_package`] (called by the publish path after the version
//!   commits), the one signer `sign_and_log`, and the read endpoints with proofs.
//! - [`admin`]: administrator tokens (hashed at rest, constant-time compare), the
//!   security endpoints (rotate, hash budget, backfill, status).
//! - [`audit`]: appending audit events and `GET /api/admin/audit`.
//! - [`backfill`]: records every release and version that has none, in the background.
//! - [`ingest`]: forge sync and webhooks (crate `vouch-ingest`), release reads, attestations.
//!
//! Routes:
//!
//! | route | auth | does |
//! |---|---|---|
//! | `GET /.well-known/registry-key.json` | - | JWKS, current key first, cacheable (5 min, ETag) |
//! | `GET /api/v1/releases/{id}/integrity` | - | record JWS, payload, inclusion proof, checkpoint |
//! | `GET /api/v1/packages/@s/n/{version}/integrity` | - | the same for a package version |
//! | `GET /api/admin/instance/security` | admin | current and retired keys, hash budget, backfill state |
//! | `POST /api/admin/instance/security/rotate` | admin, JSON | new current key; audit `registry.signing_key.rotate` |
//! | `PUT /api/admin/instance/security/hash-budget` | admin, JSON | `{"bytes":N}`; audit `settings.hash_budget` |
//! | `POST /api/admin/instance/security/backfill` | admin, JSON | 202; runs in the background; audit `release.backfill_run` |
//! | `GET /api/admin/audit?action=&since=&until=&limit=&cursor=` | admin | audit events, paged by id |
//! | `POST /api/admin/forges/{id}/sync` | admin, JSON | `{"tag":..}` or every release: ingest through the API |
//! | `POST /api/v1/webhooks/{forge_id}` | forge signature | verified release events start an ingest (202) |
//! | `GET /api/v1/releases/{id}` | - | the release and its assets as indexed |
//! | `GET /api/v1/releases/{id}/assets/{name}/attestations` | - | verified relayed attestation bundles |
//!
//! # Error codes
//!
//! | code | status | meaning |
//! |---|---|---|
//! | INTEGRITY_E002 | 500 / start | the current signing key does not decrypt under TOKEN_ENC_KEY (see `vouch admin keys reset`) |
//! | INTEGRITY_E101 | start | the key row was sealed for another instance (a copied table) |
//! | INTEGRITY_E102 | start | no current signing key (hand-edited database) |
//! | INTEGRITY_E103 | 409 | a concurrent rotation changed the current key first |
//! | INTEGRITY_E104 | 500 | the OS random number generator failed |
//! | INTEGRITY_E105 | 500 | metadata database failure |
//! | INTEGRITY_E106 | 404 | no integrity record for this subject |
//! | INTEGRITY_E107 | 422 | the record is larger than one log entry |
//! | INTEGRITY_E108 | 503 | the transparency log did not take the record |
//! | INTEGRITY_E109 | start | a `[[forges]]` entry is unusable (bad kind, URL, repo or missing secret variable) |
//! | INTEGRITY_E110 | 503 | this node has not confirmed its key current within twice `key_refresh_secs` (signs nothing until it has) |
//! | ADMIN_E001 | 401 | no administrator bearer token (cookies are not accepted) |
//! | ADMIN_E002 | 401 | unknown or revoked administrator token |
//! | ADMIN_E003 | 415 | state-changing request not `application/json` (CSRF guard) |
//! | ADMIN_E004 | 400 | setting outside its range (hash budget 0..=16 GiB) |
//! | ADMIN_E005 | 409 | a key rotation is already in progress |
//! | ADMIN_E006 | 400 | malformed query or body |

pub mod admin;
pub mod audit;
pub mod backfill;
mod error;
pub mod ingest;
pub mod keys;
pub mod records;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use axum::routing::{get, post, put};
use axum::Router;
use serde::Deserialize;
use vouch_ca::EncryptionKey;
use vouch_integrity::RegistrySigningKey;
use vouch_store::meta::MetaStore;

pub use error::{BootError, ADMIN_TOKEN_MISSING};
pub use keys::{Jwks, KeyInfo};
pub use records::{archive_file_name, manifest_sha256, record_package, RecordRef};

use crate::AppState;

/// Default asset hash budget: 500 MiB.
pub const DEFAULT_HASH_BUDGET: u64 = 500 << 20;
/// Largest hash budget an administrator may set: 16 GiB.
pub const MAX_HASH_BUDGET: u64 = 16 << 30;
/// The settings row holding the hash budget (bytes, decimal).
pub const HASH_BUDGET_SETTING: &str = "hash_budget_bytes";
/// `--dev` writes an administrator token here, in the data directory (0600).
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// `[integrity]` in the server configuration.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IntegritySection {
    /// Hash budget used until an administrator sets one (bytes; at most 16 GiB).
    #[serde(default = "default_budget")]
    pub hash_budget_bytes: u64,
    /// Run the backfill at start when releases or versions lack integrity records.
    #[serde(default = "yes")]
    pub backfill_at_boot: bool,
    /// Every this many seconds each node re-reads the registry key rows and swaps in
    /// a rotation made elsewhere (1 to 300). A node that has not confirmed its key
    /// current for twice this long signs nothing (INTEGRITY_E110, PUB_E008).
    #[serde(default = "default_key_refresh")]
    pub key_refresh_secs: u64,
}

impl Default for IntegritySection {
    fn default() -> Self {
        IntegritySection {
            hash_budget_bytes: DEFAULT_HASH_BUDGET,
            backfill_at_boot: true,
            key_refresh_secs: DEFAULT_KEY_REFRESH_SECS,
        }
    }
}

/// Default of `[integrity] key_refresh_secs`.
pub const DEFAULT_KEY_REFRESH_SECS: u64 = 5;

fn default_key_refresh() -> u64 {
    DEFAULT_KEY_REFRESH_SECS
}

fn default_budget() -> u64 {
    DEFAULT_HASH_BUDGET
}
fn yes() -> bool {
    true
}

/// The integrity service's state inside [`AppState`].
#[derive(Debug)]
pub struct Integrity {
    instance_id: String,
    /// The key ring; a std lock held only to clone an `Arc` or swap the ring.
    ring: RwLock<keys::Ring>,
    /// When the ring was last confirmed to hold the database's current key: taken
    /// before the read that confirmed it. A std lock held only to read or set it.
    confirmed: Mutex<Instant>,
    /// How often the ring is re-read (`[integrity] key_refresh_secs`).
    refresh: Duration,
    /// Serialises rotations in this process (a second one is refused, ADMIN_E005).
    rotation: tokio::sync::Mutex<()>,
    /// Held by a rotation while it writes and installs, and by a refresh: a refresh
    /// that read the rows before a local rotation committed must not install the
    /// older ring after it.
    swap: tokio::sync::Mutex<()>,
    hash_budget: AtomicU64,
    pub(crate) backfill_running: AtomicBool,
    pub(crate) reads: records::ReadCache,
    /// Group commit for the records of fresh publishes.
    pub(crate) recorder: records::Recorder,
    /// Administrator tokens whose first use this process already audited.
    admin_seen: Mutex<HashSet<String>>,
    backfill_at_boot: bool,
    /// The configured forges (`[[forges]]`).
    forges: Vec<ingest::Forge>,
    /// Webhook-triggered ingests running at once (issue 13: each delivery spawned one
    /// with no cap); past [`ingest::WEBHOOK_INGESTS_MAX`] a delivery gets 503.
    pub(crate) webhook_ingests: Arc<tokio::sync::Semaphore>,
}

impl Integrity {
    /// Loads (or, on an empty database, creates) the signing key and the settings.
    /// Fails closed with a coded [`BootError`] when the key does not open.
    pub async fn open(
        meta: &dyn MetaStore,
        enc: &EncryptionKey,
        cfg: &IntegritySection,
    ) -> Result<Self, BootError> {
        let instance_id = meta.instance_id().await?;
        let read_at = Instant::now();
        let ring = keys::load_or_create(meta, enc, &instance_id).await?;
        let budget = match meta.setting(HASH_BUDGET_SETTING).await? {
            Some(v) => v.parse().unwrap_or(cfg.hash_budget_bytes),
            None => cfg.hash_budget_bytes,
        };
        Ok(Integrity {
            instance_id,
            ring,
            confirmed: Mutex::new(read_at),
            // The configuration check refuses values outside 1..=300.
            refresh: Duration::from_secs(cfg.key_refresh_secs.clamp(1, 300)),
            rotation: tokio::sync::Mutex::new(()),
            swap: tokio::sync::Mutex::new(()),
            hash_budget: AtomicU64::new(budget.min(MAX_HASH_BUDGET)),
            backfill_running: AtomicBool::new(false),
            reads: records::ReadCache::default(),
            recorder: records::Recorder::default(),
            admin_seen: Mutex::new(HashSet::new()),
            backfill_at_boot: cfg.backfill_at_boot,
            forges: Vec::new(),
            webhook_ingests: Arc::new(tokio::sync::Semaphore::new(ingest::WEBHOOK_INGESTS_MAX)),
        })
    }

    /// The same service ingesting from these `[[forges]]` sections, with the secrets
    /// read for them ([`ingest::ForgeSecrets`], part of `crate::Secrets`).
    pub fn with_forge_sections(
        self,
        sections: &[ingest::ForgeSection],
        secrets: &ingest::ForgeSecrets,
    ) -> Result<Self, BootError> {
        let forges = sections
            .iter()
            .map(|s| ingest::Forge::from_section(s, secrets))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.with_forges(forges))
    }

    /// The same service ingesting from these forges.
    pub fn with_forges(mut self, forges: Vec<ingest::Forge>) -> Self {
        self.forges = forges;
        self
    }

    /// The configured forges.
    pub fn forges(&self) -> &[ingest::Forge] {
        &self.forges
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, keys::Ring> {
        // Only whole rings are swapped in: a poisoned lock still holds a whole ring.
        self.ring.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The current private key, if this node confirmed it current within the bound
    /// ([`Integrity::stale_after`]); [`BootError::KeyRingStale`] otherwise, so a node
    /// that cannot see a rotation made elsewhere stops signing instead of signing
    /// with a superseded key.
    pub(crate) fn signing_key(&self) -> Result<Arc<RegistrySigningKey>, BootError> {
        self.check_fresh()?;
        Ok(Arc::clone(&self.ring().signing))
    }

    /// Twice the refresh interval: the longest a node signs with a key it has not
    /// confirmed current (one missed refresh is tolerated, a second stops signing).
    pub fn stale_after(&self) -> Duration {
        self.refresh.saturating_mul(2)
    }

    /// How often this node re-reads the key rows.
    pub fn refresh_interval(&self) -> Duration {
        self.refresh
    }

    fn confirmed(&self) -> std::sync::MutexGuard<'_, Instant> {
        // An Instant is replaced whole: a poisoned lock still holds a valid one.
        self.confirmed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ok while the ring was confirmed current within [`Integrity::stale_after`].
    pub fn check_fresh(&self) -> Result<(), BootError> {
        let age = self.confirmed().elapsed();
        let bound = self.stale_after();
        if age > bound {
            return Err(BootError::KeyRingStale {
                age_ms: age.as_millis(),
                bound_ms: bound.as_millis(),
            });
        }
        Ok(())
    }

    /// Re-reads the key rows: a rotation made on another node (or by an offline
    /// command) is swapped in, and the ring is marked confirmed as of the moment
    /// before the read. Skipped (Ok(false)) while a rotation runs in this process.
    /// Returns whether the ring changed. On an error the ring and its confirmation
    /// time are left as they were, so signing stops once the bound passes.
    pub async fn refresh(
        &self,
        meta: &dyn MetaStore,
        enc: &EncryptionKey,
    ) -> Result<bool, BootError> {
        let Ok(_swap) = self.swap.try_lock() else {
            return Ok(false);
        };
        let read_at = Instant::now();
        let rows = meta.registry_keys().await?;
        let unchanged = {
            let ring = self.ring();
            rows.len() == ring.info.len()
                && rows
                    .iter()
                    .zip(&ring.info)
                    .all(|(r, i)| r.kid == i.kid && r.retired_at == i.retired_at)
        };
        if !unchanged {
            let current = rows.first().ok_or(BootError::NoKey)?;
            if current.retired_at.is_some() {
                return Err(BootError::NoKey);
            }
            let signing = keys::open_row(current, enc, &self.instance_id)?;
            let ring = keys::Ring::build(signing, &rows)?;
            tracing::info!(
                new_kid = %current.kid,
                "registry signing key changed in the database (rotated elsewhere); swapped in"
            );
            *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
        }
        *self.confirmed() = read_at;
        Ok(!unchanged)
    }

    /// Rotates the registry key: a fresh key becomes current in the database, the
    /// previous one is retired (never removed), and this node's ring is swapped.
    /// Other nodes swap within [`Integrity::refresh_interval`]. Returns (old kid, new
    /// kid), or `None` when another rotation is running in this process. Holds
    /// `gate` (this node's publish gate) throughout: it waits for publishes in flight
    /// and refuses new ones (PUB_E008) until the new key is installed.
    pub async fn rotate(
        &self,
        meta: &dyn MetaStore,
        enc: &EncryptionKey,
        gate: &crate::packages::RotationGate,
    ) -> Result<Option<(String, String)>, BootError> {
        let Ok(_serial) = self.rotation.try_lock() else {
            return Ok(None);
        };
        let _gate = gate.begin_rotation().await;
        let _swap = self.swap.lock().await;
        let expected = self.current_kid();
        let read_at = Instant::now();
        let (old, new, ring) = keys::rotate(meta, enc, &self.instance_id, &expected).await?;
        self.install(ring, read_at);
        Ok(Some((old, new.to_string())))
    }

    /// The current kid.
    pub fn current_kid(&self) -> String {
        self.ring().signing.kid().to_string()
    }

    /// The served key set.
    pub fn jwks(&self) -> Jwks {
        self.ring().jwks.clone()
    }

    /// The public key set (current first, every retired key kept).
    pub fn key_set(&self) -> vouch_integrity::KeySet {
        self.ring().set.clone()
    }

    /// Every key, current first.
    pub fn key_info(&self) -> Vec<KeyInfo> {
        self.ring().info.clone()
    }

    /// This database's instance id.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Whether a backfill is running in this process.
    pub fn backfill_running(&self) -> bool {
        self.backfill_running.load(Ordering::Acquire)
    }

    /// The asset hash budget in bytes.
    pub fn hash_budget(&self) -> u64 {
        self.hash_budget.load(Ordering::Relaxed)
    }

    pub(crate) fn set_hash_budget(&self, bytes: u64) {
        self.hash_budget.store(bytes, Ordering::Relaxed);
    }

    fn install(&self, ring: keys::Ring, read_at: Instant) {
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
        *self.confirmed() = read_at;
    }
}

/// Re-reads the key rows (and the hash budget setting) every
/// [`Integrity::refresh_interval`] while the state lives: a rotation or a budget change
/// made on another node reaches this one within that interval.
fn spawn_key_refresh(state: Weak<AppState>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = state.upgrade() else { return };
            // The hash budget an administrator set through another node.
            match state.meta.setting(HASH_BUDGET_SETTING).await {
                Ok(Some(v)) => {
                    if let Ok(bytes) = v.parse::<u64>() {
                        state.integrity.set_hash_budget(bytes.min(MAX_HASH_BUDGET));
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not re-read the hash budget"),
            }
            if let Err(e) = state
                .integrity
                .refresh(state.meta.as_ref(), &state.enc_key)
                .await
            {
                tracing::error!(
                    code = e.code(),
                    error = %e,
                    "could not re-read the registry key rows; signing stops once the \
                     key is unconfirmed for twice key_refresh_secs"
                );
            }
        }
    });
}

/// After the state exists: `--dev` writes an administrator token file, and the
/// backfill starts in the background when records lag releases or versions.
pub async fn start(state: &Arc<AppState>) -> Result<(), BootError> {
    spawn_key_refresh(Arc::downgrade(state), state.integrity.refresh);
    if state.dev {
        admin::write_dev_token(state).await?;
    }
    if state.integrity.backfill_at_boot && backfill::lagging(state).await? {
        backfill::spawn(Arc::clone(state), "boot".into());
    }
    Ok(())
}

/// Every route of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/.well-known/registry-key.json", get(admin::jwks))
        .route(
            "/api/v1/releases/{id}/integrity",
            get(records::release_integrity),
        )
        .route(
            "/api/v1/packages/{scope}/{name}/{version}/integrity",
            get(records::package_integrity),
        )
        .route("/api/admin/instance/security", get(admin::status))
        .route("/api/admin/instance/security/rotate", post(admin::rotate))
        .route(
            "/api/admin/instance/security/hash-budget",
            put(admin::hash_budget),
        )
        .route(
            "/api/admin/instance/security/backfill",
            post(admin::backfill),
        )
        .route("/api/admin/audit", get(audit::list))
        .route("/api/admin/scopes/{scope}/owners", post(admin::grant_scope))
        .route("/api/admin/forges/{id}/sync", post(ingest::sync))
        .route("/api/v1/webhooks/{forge_id}", post(ingest::webhook))
        .route("/api/v1/releases/{id}", get(ingest::release))
        .route(
            "/api/v1/releases/{id}/assets/{name}/attestations",
            get(ingest::attestations),
        )
}
