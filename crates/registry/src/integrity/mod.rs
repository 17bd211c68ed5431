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
use std::sync::{Arc, Mutex, RwLock};

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
}

impl Default for IntegritySection {
    fn default() -> Self {
        IntegritySection {
            hash_budget_bytes: DEFAULT_HASH_BUDGET,
            backfill_at_boot: true,
        }
    }
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
    /// Serialises rotations in this process.
    rotation: tokio::sync::Mutex<()>,
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
        let ring = keys::load_or_create(meta, enc, &instance_id).await?;
        let budget = match meta.setting(HASH_BUDGET_SETTING).await? {
            Some(v) => v.parse().unwrap_or(cfg.hash_budget_bytes),
            None => cfg.hash_budget_bytes,
        };
        Ok(Integrity {
            instance_id,
            ring,
            rotation: tokio::sync::Mutex::new(()),
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

    /// The current private key.
    pub(crate) fn signing_key(&self) -> Arc<RegistrySigningKey> {
        Arc::clone(&self.ring().signing)
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

    fn install(&self, ring: keys::Ring) {
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
    }
}

/// After the state exists: `--dev` writes an administrator token file, and the
/// backfill starts in the background when records lag releases or versions.
pub async fn start(state: &Arc<AppState>) -> Result<(), BootError> {
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
