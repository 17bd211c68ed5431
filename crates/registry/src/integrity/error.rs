//! Errors of the integrity service: [`BootError`] (key loading, rotation, recording; coded) and the coded HTTP answers of the integrity and admin routes.

use axum::http::StatusCode;
use vouch_integrity::{codes, IntegrityError};
use vouch_store::meta::MetaError;

use crate::ApiError;

/// Why the integrity service could not load, rotate or record. Stable codes
/// ([`BootError::code`]), listed in the module documentation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The current key's sealed seed does not open under TOKEN_ENC_KEY.
    #[error(
        "registry signing key {kid} does not decrypt under TOKEN_ENC_KEY (wrong TOKEN_ENC_KEY, \
         or the stored key was modified); if TOKEN_ENC_KEY is lost for good, stop the server \
         and run `vouch admin keys reset` to start a new key (old public keys stay published)"
    )]
    KeyDoesNotOpen { kid: String },
    /// The key row belongs to another instance (a copied table).
    #[error(
        "registry signing key {kid} was sealed for instance {row_instance}, but this database \
         is instance {instance}: key rows copied from another instance are refused"
    )]
    ForeignKey {
        kid: String,
        row_instance: String,
        instance: String,
    },
    /// Keys exist but none is current (a hand-edited database).
    #[error("the registry has no current signing key")]
    NoKey,
    /// Another rotation changed the current key first.
    #[error("another key rotation changed the current key first; reload and retry")]
    RotationRaced,
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Random,
    #[error("metadata database: {0}")]
    Meta(#[from] MetaError),
    /// The record could not be signed (a field outside its format).
    #[error("integrity record refused: {0}")]
    Record(#[from] vouch_integrity::IntegrityError),
    /// The compact JWS is larger than one transparency-log entry.
    #[error("integrity record of {size} bytes is over the log's {max}-byte entry limit")]
    RecordTooLarge { size: usize, max: usize },
    /// A `[[forges]]` entry is unusable.
    #[error("{0}")]
    Forge(#[from] super::ingest::ForgeConfigError),
    /// The transparency log did not take the record.
    #[error("the transparency log did not accept the record: {0}")]
    Log(#[from] crate::cluster::WriteError),
    /// This node's key ring was last confirmed current longer ago than the bound
    /// (`[integrity] key_refresh_secs`, twice): another node may have rotated the key,
    /// so nothing is signed until a refresh confirms the current key again.
    #[error(
        "the registry signing key was last confirmed current {age_ms} ms ago, over the \
         {bound_ms} ms bound; retry once this node has re-read the key rows"
    )]
    KeyRingStale { age_ms: u128, bound_ms: u128 },
    /// A forge's webhook secret is too short to start with (every delivery would be
    /// refused, telling the caller the expected length).
    #[error(
        "forge {forge:?}: the webhook secret in {var} has {found} characters, expected at \
         least {min}; make one with `openssl rand -hex 32`"
    )]
    WeakWebhookSecret {
        forge: String,
        var: String,
        found: usize,
        min: usize,
    },
}

impl From<vouch_log::LogError> for BootError {
    fn from(e: vouch_log::LogError) -> Self {
        BootError::Log(e.into())
    }
}

impl BootError {
    /// The stable code. INTEGRITY_E002 is shared with `vouch-integrity` (same meaning).
    pub fn code(&self) -> &'static str {
        match self {
            BootError::KeyDoesNotOpen { .. } => IntegrityError::KeyDecryptionFailed.code(),
            BootError::ForeignKey { .. } => codes::FOREIGN_KEY,
            BootError::NoKey => codes::NO_CURRENT_KEY,
            BootError::RotationRaced => codes::ROTATION_RACED,
            BootError::Random => codes::SERVICE_RANDOM,
            BootError::Meta(_) => codes::METADATA,
            BootError::Record(e) => e.code(),
            BootError::RecordTooLarge { .. } => codes::RECORD_TOO_LARGE,
            BootError::Log(_) => codes::LOG_REFUSED,
            BootError::KeyRingStale { .. } => codes::KEY_RING_STALE,
            BootError::Forge(_) => codes::FORGE_CONFIG,
            BootError::WeakWebhookSecret { .. } => "SERVE_E109",
        }
    }
}

impl From<BootError> for ApiError {
    fn from(e: BootError) -> Self {
        match &e {
            BootError::RotationRaced => {
                ApiError::new(StatusCode::CONFLICT, e.code(), e.to_string())
            }
            BootError::Log(_) | BootError::KeyRingStale { .. } => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string())
            },
            BootError::Record(_) | BootError::RecordTooLarge { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
            }
            _ => {
                tracing::error!(code = e.code(), error = %e, "integrity service failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.code(),
                    "integrity service failure; see the server log",
                )
            }
        }
    }
}

/// A metadata failure on a request path.
pub(crate) fn meta(e: MetaError) -> ApiError {
    ApiError::from(BootError::Meta(e))
}

/// INTEGRITY_E106: no integrity record for this subject.
pub(crate) fn no_record(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        codes::NO_RECORD,
        format!("no integrity record for {what}"),
    )
}

/// ADMIN_E001: no administrator credentials (the admin API, and the command line before
/// it sends a request).
pub const ADMIN_TOKEN_MISSING: &str = "ADMIN_E001";

/// ADMIN_E001: no administrator credentials.
pub(crate) fn admin_missing() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ADMIN_TOKEN_MISSING,
        "an administrator token is required: `Authorization: Bearer vouch_admin_...` \
         (cookies are not accepted by the JSON API)",
    )
}

/// ADMIN_E002: the presented administrator token is unknown or revoked.
pub(crate) fn admin_invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "ADMIN_E002",
        "the administrator token is unknown or revoked",
    )
}

/// ADMIN_E003: a state-changing request without a JSON body type (CSRF guard).
pub(crate) fn admin_not_json(found: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "ADMIN_E003",
        format!(
            "state-changing admin requests must be `Content-Type: application/json`, found {found:?} \
             (a cross-site form cannot send that type)"
        ),
    )
}

/// ADMIN_E004: a setting value outside its range.
pub(crate) fn admin_bad_setting(detail: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "ADMIN_E004", detail)
}

/// ADMIN_E005: a key rotation is already running.
pub(crate) fn admin_busy() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "ADMIN_E005",
        "a key rotation is already in progress; retry when it has finished",
    )
}

/// ADMIN_E006: a malformed query or body.
pub(crate) fn admin_bad_request(detail: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "ADMIN_E006", detail)
}
