//! vouch's own Sigstore services on `vouch serve`: OIDC token verification (and the `--dev` issuer), the Fulcio-compatible CA with its certificate-transparency log, the RFC 3161 timestamp authority, and the client trust configuration.
//!
//! Routes (CONTRACT.md, "Server URLs"):
//!
//! | route | module |
//! |---|---|
//! | `GET /oidc/.well-known/openid-configuration`, `GET /oidc/jwks`, `GET /oidc/.well-known/jwks.json`, `POST /oidc/dev/token` (only `--dev`) | [`oidc`] |
//! | `POST /api/v2/signingCert`, `GET /api/v2/trustBundle` | [`ca`] |
//! | `GET /ct/checkpoint`, `GET /ct/tile/...` (the CT log's tiles) | [`ct`] |
//! | `POST /api/v1/timestamp`, `GET /api/v1/timestamp/certchain` | [`tsa`] |
//! | `GET /api/v1/trust-config` | [`trust_config`] |
//!
//! Key material (CA root and intermediate, CT log keys, TSA keys) is generated at first
//! start and kept only sealed under TOKEN_ENC_KEY ([`keys`]); a server whose key cannot
//! open it refuses to start ([`SetupError::Unseal`], `SIGSTORE_E001`).
//!
//! **Architecture invariant:** a certificate is issued only for the identity of a token
//! the [`vouch_oidc::Verifier`] accepted, and it is returned only after its precertificate
//! is durable in the CT log; every refusal happens before either.

pub mod ca;
pub mod ct;
mod error;
pub mod keys;
pub mod oidc;
pub mod settings;
pub mod trust_config;
pub mod tsa;

use std::path::Path;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use vouch_ca::CertificateAuthority;
use vouch_log::{Clock, Log};
use vouch_oidc::DevIssuer;
use vouch_store::meta::MetaStore;
use vouch_store::CheckpointLock;
use vouch_timestamp::TimestampAuthority;

pub use error::ServiceError;
pub use settings::{CaSection, IssuerSpec, OidcSection, TsaSection};

use crate::app::AppState;
use crate::config::ServeConfig;

/// The Sigstore services of one server, built once at start by [`SigstoreServices::open`].
#[derive(Debug)]
pub struct SigstoreServices {
    /// Verifies identity tokens from the configured issuers (and the dev issuer).
    pub verifier: Arc<vouch_oidc::Verifier>,
    /// The development issuer, only with `--dev`.
    pub dev_issuer: Option<Arc<DevIssuer>>,
    /// The certificate authority.
    pub ca: Arc<CertificateAuthority>,
    /// The certificate-transparency log every precertificate is appended to.
    pub ct_log: Arc<Log>,
    /// The timestamp authority.
    pub tsa: Arc<TimestampAuthority>,
    /// The client trust configuration, serialised once (it changes only with the keys).
    pub trust_config: bytes::Bytes,
    /// Clock of every time check and stamp (the server's clock).
    pub clock: Arc<dyn Clock>,
}

/// Why the Sigstore services could not start. Each variant has a stable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Sealed material exists but does not open with this TOKEN_ENC_KEY.
    #[error("the sealed {what} at object {key} cannot be opened with this TOKEN_ENC_KEY ({code}: {reason}); start with the key it was sealed under")]
    Unseal {
        what: &'static str,
        key: String,
        code: &'static str,
        reason: String,
    },
    /// `[oidc]`, `[ca]` or `[tsa]` is invalid.
    #[error("invalid Sigstore configuration: {reason}")]
    Config { reason: String },
    /// Generating, sealing or storing key material failed.
    #[error("cannot prepare the {what}: {reason}")]
    Material { what: &'static str, reason: String },
    /// The CT log could not be opened.
    #[error("the certificate-transparency log could not be opened: {0}")]
    CtLog(#[source] vouch_log::LogError),
    /// The development issuer's key file in the data directory.
    #[error("the dev OIDC issuer key {path}: {reason}")]
    DevIssuerKey {
        path: std::path::PathBuf,
        reason: String,
    },
}

impl SetupError {
    /// The stable code (README, "Error codes"). Never renumbered.
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::Unseal { .. } => "SIGSTORE_E001",
            SetupError::Config { .. } => "SIGSTORE_E002",
            SetupError::Material { .. } | SetupError::DevIssuerKey { .. } => "SIGSTORE_E003",
            SetupError::CtLog(_) => "SIGSTORE_E004",
        }
    }
}

/// What [`SigstoreServices::open`] needs from the server being opened.
pub struct Deps<'a> {
    pub cfg: &'a ServeConfig,
    pub meta: Arc<dyn MetaStore>,
    /// The main log: its objects hold the sealed material, its key goes in the trust config.
    pub main_log: &'a Log,
    pub lock: Arc<dyn CheckpointLock>,
    pub enc_key: &'a vouch_ca::EncryptionKey,
    pub public_url: &'a str,
    pub dev: bool,
    pub data_dir: &'a Path,
    pub clock: Arc<dyn Clock>,
}

impl SigstoreServices {
    /// Opens (or on first start generates) the key material, the CT log and the
    /// verifier, and serialises the trust configuration.
    pub async fn open(deps: Deps<'_>) -> Result<Self, SetupError> {
        let objects = Arc::clone(deps.main_log.objects());
        // The generation a TOKEN_ENC_KEY rotation committed (1 before any).
        let generation = keys::generation(&*deps.meta).await?;
        let ca_material = keys::ca_material(
            &*objects,
            deps.enc_key,
            &deps.cfg.ca,
            &*deps.clock,
            generation,
        )
        .await?;
        let ca = CertificateAuthority::with_leaf_validity(
            ca_material.clone(),
            keys::ca_clock(&deps.clock),
            std::time::Duration::from_secs(deps.cfg.ca.leaf_validity_secs),
        )
        .map_err(|e| SetupError::Material {
            what: "certificate authority",
            reason: format!("{}: {e}", e.code()),
        })?;
        let ct_note_key =
            keys::ct_note_key(&*objects, deps.enc_key, &ct::origin(deps.cfg), generation).await?;
        let ct_log = ct::open(deps.cfg, &objects, deps.lock, ct_note_key).await?;
        let tsa_material = keys::tsa_material(
            &*objects,
            deps.enc_key,
            &deps.cfg.tsa,
            &*deps.clock,
            generation,
        )
        .await?;
        let tsa =
            TimestampAuthority::new(tsa_material, keys::ca_clock(&deps.clock)).map_err(|e| {
                SetupError::Material {
                    what: "timestamp authority",
                    reason: format!("{}: {e}", e.code()),
                }
            })?;
        let dev_issuer = if deps.dev {
            Some(Arc::new(oidc::dev_issuer(deps.data_dir, deps.public_url)?))
        } else {
            None
        };
        let verifier = oidc::verifier(
            &deps.cfg.oidc,
            dev_issuer.as_deref(),
            deps.meta,
            Arc::clone(&deps.clock),
        )?;
        let trust_config = trust_config::build(&trust_config::Inputs {
            public_url: deps.public_url,
            main_log: deps.main_log,
            ca: &ca,
            ct_origin: ct_log.origin(),
            tsa: &tsa,
            dev_issuer: dev_issuer.as_deref(),
        })
        .map_err(|reason| SetupError::Material {
            what: "trust configuration",
            reason,
        })?;
        Ok(SigstoreServices {
            verifier: Arc::new(verifier),
            dev_issuer,
            ca: Arc::new(ca),
            ct_log: Arc::new(ct_log),
            tsa: Arc::new(tsa),
            trust_config,
            clock: deps.clock,
        })
    }

    /// Stops the CT log's sequencer after it committed what is pooled.
    pub async fn shutdown(&self) {
        self.ct_log.shutdown().await;
    }
}

/// The Sigstore routes, for [`crate::app::router`] to merge.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/oidc/.well-known/openid-configuration",
            get(oidc::discovery),
        )
        .route("/oidc/.well-known/jwks.json", get(oidc::jwks))
        .route("/oidc/jwks", get(oidc::jwks))
        .route(
            "/oidc/dev/token",
            post(oidc::mint).layer(DefaultBodyLimit::max(oidc::MAX_MINT_BODY)),
        )
        .route(
            "/api/v2/signingCert",
            post(ca::signing_cert).layer(DefaultBodyLimit::max(vouch_ca::api::MAX_REQUEST_BYTES)),
        )
        .route("/api/v2/trustBundle", get(ca::trust_bundle))
        .route("/ct/checkpoint", get(ct::checkpoint))
        .route("/ct/tile/{*rest}", get(ct::tile))
        .route(
            "/api/v1/timestamp",
            post(tsa::timestamp).layer(DefaultBodyLimit::max(vouch_timestamp::MAX_REQUEST_BYTES)),
        )
        .route("/api/v1/timestamp/certchain", get(tsa::certchain))
        .route("/api/v1/trust-config", get(trust_config::serve))
}
