//! The registry API's error codes and the `ApiError`s that carry them (README table, never renumbered).
//!
//! | code | status | when |
//! |---|---|---|
//! | PUB_E001 | 403 | no publisher binding registered for this package and identity |
//! | PUB_E005 | 400 | bundle verification failed at the registry (the failing check is named) |
//! | PUB_E006 | 403 | the identity does not match the binding (the claim is named) |
//! | PUB_E007 | 409 | the version already exists: bump and retry |
//! | PUB_E008 | 503 | a key rotation is in progress: retry later |
//! | PUB_E009 | 400 | the upload is not a well-formed `multipart/form-data` body with exactly one `archive` and one `bundle` part |
//! | PUB_E010 | 413 | the archive or the bundle is over the registry's size limit |
//! | PUB_E011 | 400 | the archive has no readable `vouch.toml` at its root |
//! | PUB_E012 | — | retired: never answered (the registry cannot run without its trust configuration) |
//! | PUB_E013 | 409 | the package's bindings changed while the publish committed (retry) |
//! | PUB_E014 | 403 | the pending binding's registrant does not own the package's scope |
//! | AUTH_E001 | 401 | no `Authorization: Bearer` token |
//! | AUTH_E002 | 401 | the token is unknown, revoked or expired |
//! | AUTH_E003 | 403 | the token's user does not own the package |
//! | AUTH_E004 | 401 | the token's user is disabled |
//! | AUTH_E005 | 401 | the token was revoked |
//! | AUTH_E006 | 401 | the token expired |
//! | AUTH_E007 | 403 | the token's scope does not allow this (admin vs owner, or another package) |
//! | BIND_E001 | 400 | invalid publisher binding request (the field is named) |
//! | BIND_E002 | 409 | an identical binding is already registered |
//! | BIND_E003 | 409 | the package already has the maximum number of bindings |
//! | BIND_E004 | 409 | the package was created or removed while the binding was registered (retry) |
//! | BIND_E005 | 403 | the scope is claimed by another user (names nobody) |
//! | BIND_E006 | 409 | the name normalises (PEP 503 plus case) like an existing package's |
//!
//! Archive problems keep their `PKG_E*` code from `vouch-package` (400).

use axum::http::StatusCode;
use vouch_store::meta::MetaError;

use crate::ApiError;

pub fn no_binding(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "PUB_E001", detail)
}

pub fn scope_not_owned(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "PUB_E014", detail)
}

pub fn bundle_invalid(check: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "PUB_E005",
        format!("bundle verification failed: {check}: {detail}"),
    )
}

pub fn identity_mismatch(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "PUB_E006", detail)
}

pub fn version_exists(package: &str, version: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "PUB_E007",
        format!("{package} version {version} already exists: versions are immutable, bump the version and retry"),
    )
}

pub fn rotation_in_progress() -> ApiError {
    ApiError {
        retry_after: Some(5),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "PUB_E008",
            "a registry key rotation is in progress: retry later",
        )
    }
}

pub fn bad_upload(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "PUB_E009", detail)
}

pub fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PUB_E010",
        format!("the {what} is over the registry's limit of {limit} bytes"),
    )
}

pub fn no_manifest(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "PUB_E011", detail)
}

pub fn no_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_E001",
        "an `Authorization: Bearer vouch_...` API token is required",
    )
}

pub fn bad_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_E002",
        "the API token is unknown, revoked or expired",
    )
}

pub fn user_disabled(user: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_E004",
        format!("user {user:?} is disabled: none of its tokens is accepted"),
    )
}

pub fn token_revoked(at: vouch_store::meta::Timestamp) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_E005",
        format!(
            "the token was revoked at {}",
            super::publishers::rfc3339(at)
        ),
    )
}

pub fn token_expired(at: vouch_store::meta::Timestamp) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_E006",
        format!("the token expired at {}", super::publishers::rfc3339(at)),
    )
}

pub fn wrong_scope(
    found: vouch_store::meta::TokenScope,
    expected: vouch_store::meta::TokenScope,
) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "AUTH_E007",
        format!(
            "this is an {} token; this route takes an {} token",
            found.as_str(),
            expected.as_str()
        ),
    )
}

pub fn not_owner(user: &str, package: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "AUTH_E003",
        format!("user {user:?} is not an owner of {package}"),
    )
}

/// BIND_E005: the scope belongs to other users. Deliberately names nobody.
pub fn scope_claimed(scope: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "BIND_E005",
        format!(
            "scope @{scope} is claimed: only its owners can create packages or pending publishers in it; ask an owner, or a registry administrator, to grant you the scope"
        ),
    )
}

pub fn bad_binding(field: &str, expected: &str, found: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "BIND_E001",
        format!("`{field}`: expected {expected}, found {found:?}"),
    )
}

/// Archive and manifest problems keep the package crate's code.
pub fn package_error(e: &vouch_package::Error) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
}

/// Metadata-store errors that reach a handler unexpectedly: conflicts get their own
/// code, everything else is an internal error (logged, not shown).
pub fn meta(e: MetaError) -> ApiError {
    match e {
        MetaError::BindingExists { package } => ApiError::new(
            StatusCode::CONFLICT,
            "BIND_E002",
            format!("an identical publisher binding is already registered for {package}"),
        ),
        MetaError::TooManyBindings { package, max } => ApiError::new(
            StatusCode::CONFLICT,
            "BIND_E003",
            format!("{package} already has the maximum of {max} publisher bindings"),
        ),
        MetaError::VersionExists { package, version } => version_exists(&package, &version),
        MetaError::VersionBuildConflict {
            package,
            version,
            existing,
        } => ApiError::new(
            StatusCode::CONFLICT,
            "PUB_E007",
            format!(
                "{package} version {version} equals the existing version {existing} but for build metadata, which SemVer ignores: bump the version and retry"
            ),
        ),
        MetaError::ScopeClaimed { scope } => scope_claimed(&scope),
        MetaError::NameConflict { name, existing } => ApiError::new(
            StatusCode::CONFLICT,
            "BIND_E006",
            format!(
                "{name} is too similar to the existing package {existing}: names are compared lowercased with runs of '-', '_' and '.' as one '-' (PEP 503)"
            ),
        ),
        other => ApiError::internal(&other),
    }
}
