//! The package registry's HTTP side: trusted-publisher bindings, token-less publish, the index, blobs and the OpenAPI document.
//!
//! - [`auth`]: owners' bearer API tokens (hashed at rest in the metadata store).
//! - [`publishers`]: `POST /api/v1/publishers`, `GET /api/v1/packages/@s/n/publishers`.
//! - [`identity`]: what a verified certificate presents, and matching it to bindings
//!   the way PyPI and crates.io match trusted publishers.
//! - [`multipart`]: the streaming `multipart/form-data` reader of the upload.
//! - [`publish`]: `POST /api/v1/publish`: inspect, verify, match, store, commit.
//! - [`index`]: `GET /api/v1/packages/@s/n[/VERSION]`.
//! - [`blobs`]: `GET /blobs/<b3>` and `GET /blobs/<b3>.sigstore`, served only through
//!   committed index entries, so what a crashed publish left behind stays invisible.
//! - [`openapi`]: `GET /api/v1/openapi.json`.
//! - [`bootstrap`]: the `--dev` owner `dev` and its token file.
//!
//! The error codes this module adds are listed in [`codes`].

pub mod auth;
pub mod blobs;
pub mod bootstrap;
pub mod codes;
pub mod identity;
pub mod index;
pub mod multipart;
pub mod openapi;
pub mod publish;
pub mod publishers;

use std::sync::{Arc, RwLock};

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard};
use vouch_oidc::IssuerConfig;
use vouch_verify::{TrustRoot, VerifyError};

use vouch_store::meta::MetaStore;

use crate::config::ServeConfig;
use crate::sigstore::SigstoreServices;
use crate::{AppState, ServeError};

pub use bootstrap::{bootstrap_dev_owner, OWNER_TOKEN_FILE};

/// Default cap on the whole upload body besides the archive itself (the bundle and
/// the multipart framing).
pub const UPLOAD_OVERHEAD_BYTES: u64 = vouch_verify::limits::MAX_BUNDLE_BYTES + (64 << 10);

/// Size limits of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishLimits {
    /// Largest archive accepted (`[registry] max_blob_bytes`, default 256 MiB).
    pub max_archive_bytes: u64,
    /// Largest bundle accepted.
    pub max_bundle_bytes: u64,
    /// Caps applied while inspecting the archive (size, ratio, entries).
    pub archive: vouch_package::Limits,
}

impl Default for PublishLimits {
    fn default() -> Self {
        PublishLimits {
            max_archive_bytes: 256 << 20,
            max_bundle_bytes: vouch_verify::limits::MAX_BUNDLE_BYTES,
            archive: vouch_package::Limits::default(),
        }
    }
}

/// What a bundle is verified against: the instance's trusted root, and the OIDC
/// issuers whose certificate claims this registry knows how to read.
pub struct Trust {
    pub(crate) verifier: vouch_verify::Verifier,
    pub(crate) issuers: Vec<IssuerConfig>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

impl Trust {
    /// Prepares a verifier for `root` (parse once, share across requests).
    pub fn new(root: &TrustRoot, issuers: Vec<IssuerConfig>) -> Result<Self, VerifyError> {
        Ok(Trust {
            verifier: vouch_verify::Verifier::new(root)?,
            issuers,
        })
    }
}

/// Held by a key rotation for as long as it runs; publishes arriving meanwhile are
/// refused with PUB_E008 (and publishes in flight finish before it is granted).
///
/// Scope: one process. Nodes sharing a database each have their own gate; the others
/// keep signing with the previous key until their next key refresh (`[integrity]
/// key_refresh_secs`), and refuse publishes (PUB_E008) once their key has gone
/// unconfirmed for twice that ([`crate::integrity::Integrity::check_fresh`]).
#[derive(Debug, Clone, Default)]
pub struct RotationGate(Arc<tokio::sync::RwLock<()>>);

impl RotationGate {
    /// Waits for in-flight publishes to finish, then blocks new ones until the guard
    /// is dropped.
    pub async fn begin_rotation(&self) -> OwnedRwLockWriteGuard<()> {
        Arc::clone(&self.0).write_owned().await
    }

    /// A publish's pass, or `None` while a rotation holds (or waits for) the gate.
    pub fn try_publish(&self) -> Option<OwnedRwLockReadGuard<()>> {
        Arc::clone(&self.0).try_read_owned().ok()
    }
}

/// The registry's own state inside [`AppState`].
pub struct Packages {
    /// What bundles are verified against: always present (the registry cannot be
    /// built without it, so the retired `PUB_E012` "no trust configuration yet" has no
    /// state to describe). Guarded by a std lock held only to clone or swap the `Arc`.
    trust: RwLock<Arc<Trust>>,
    /// The key-rotation hook (PUB_E008).
    pub rotation: RotationGate,
    pub limits: PublishLimits,
    /// Where the log's routes are mounted (for the OpenAPI document).
    pub log_prefix: String,
    /// Test seam: run between a publish's context read and its commit. Only Rust code
    /// in the same process sets it ([`Packages::set_before_commit`]); no route, no
    /// configuration key and no `vouch serve` path does. Guarded by a std lock held
    /// only to clone or swap the `Arc`.
    before_commit: RwLock<Option<BeforeCommit>>,
}

/// What [`Packages::set_before_commit`] installs: called with the package's name.
pub type BeforeCommit =
    Arc<dyn Fn(String) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

impl std::fmt::Debug for Packages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packages")
            .field("trust", &self.trust)
            .field("rotation", &self.rotation)
            .field("limits", &self.limits)
            .field("log_prefix", &self.log_prefix)
            .finish_non_exhaustive()
    }
}

impl Packages {
    pub fn new(limits: PublishLimits, log_prefix: &str, trust: Trust) -> Self {
        Packages {
            trust: RwLock::new(Arc::new(trust)),
            rotation: RotationGate::default(),
            limits,
            log_prefix: log_prefix.to_owned(),
            before_commit: RwLock::new(None),
        }
    }

    /// Test seam: `hook` runs in every publish between reading the package's bindings
    /// and committing the version (each round of the commit), so a test can change the
    /// bindings exactly there (issue 14, PUB_E013). `None` removes it.
    #[doc(hidden)]
    pub fn set_before_commit(&self, hook: Option<BeforeCommit>) {
        *self
            .before_commit
            .write()
            .unwrap_or_else(|p| p.into_inner()) = hook;
    }

    pub(crate) fn before_commit(&self) -> Option<BeforeCommit> {
        self.before_commit
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Installs (or replaces) what bundles are verified against.
    pub fn set_trust(&self, trust: Trust) {
        // A poisoned lock only means a panic elsewhere while swapping an `Arc`; the
        // value inside is still whole.
        let mut slot = self.trust.write().unwrap_or_else(|p| p.into_inner());
        *slot = Arc::new(trust);
    }

    pub(crate) fn trust(&self) -> Arc<Trust> {
        Arc::clone(&self.trust.read().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Packages {
    /// Builds the registry's state at server start: limits from `[registry]`, trust
    /// from this server's own trust configuration (its `trustedRoot`) and `[oidc]`
    /// issuers (plus the dev issuer), and with `--dev` the `dev` owner and its token.
    pub async fn open(
        cfg: &ServeConfig,
        sigstore: &SigstoreServices,
        meta: &dyn MetaStore,
        dev: bool,
        data_dir: &std::path::Path,
    ) -> Result<Self, ServeError> {
        let limits = PublishLimits {
            max_archive_bytes: cfg.registry.max_blob_bytes,
            ..PublishLimits::default()
        };
        let packages = Packages::new(limits, &cfg.log.prefix, instance_trust(cfg, sigstore)?);
        if dev {
            bootstrap_dev_owner(meta, data_dir).await?;
        }
        Ok(packages)
    }
}

/// The trusted root inside this server's client trust configuration, and the issuers
/// its CA accepts tokens from.
pub fn instance_trust(cfg: &ServeConfig, sigstore: &SigstoreServices) -> Result<Trust, ServeError> {
    let invalid = |reason: String| ServeError::ConfigInvalid {
        path: "trust-config".into(),
        reason,
    };
    let doc: serde_json::Value = serde_json::from_slice(&sigstore.trust_config)
        .map_err(|e| invalid(format!("the trust configuration is not JSON: {e}")))?;
    let root = doc
        .get("trustedRoot")
        .ok_or_else(|| invalid("the trust configuration has no trustedRoot".into()))?;
    let root = serde_json::to_vec(root).map_err(|e| invalid(e.to_string()))?;
    let root = TrustRoot::from_json(&root).map_err(|e| invalid(format!("{}: {e}", e.code())))?;
    let mut issuers = Vec::new();
    for spec in &cfg.oidc.issuers {
        issuers.push(
            spec.to_issuer_config(&cfg.oidc.audience)
                .map_err(|e| invalid(format!("{}: {e}", e.code())))?,
        );
    }
    if let Some(dev) = &sigstore.dev_issuer {
        issuers.push(dev.issuer_config(cfg.oidc.audience.clone()));
    }
    // The `--dev` email issuer of the laptop sign-in: its certificates name an email,
    // which an email binding can accept (`vouch publish` from a laptop).
    if let Some(login) = &sigstore.dev_login {
        issuers.push(login.issuer_config());
    }
    Trust::new(&root, issuers).map_err(|e| invalid(format!("{}: {e}", e.code())))
}

/// Every route of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/publishers", post(publishers::register))
        .route(
            "/api/v1/packages/{scope}/{name}/publishers",
            get(publishers::list),
        )
        .route("/api/v1/publish", post(publish::publish))
        .route("/api/v1/packages/{scope}/{name}", get(index::package))
        .route(
            "/api/v1/packages/{scope}/{name}/{version}",
            get(index::version),
        )
        .route("/blobs/{file}", get(blobs::blob))
        .route("/api/v1/openapi.json", get(openapi::document_route))
}
