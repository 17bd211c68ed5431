//! The registry API's error codes and the `ApiError`s that carry them (README table, never renumbered).
//!
//! The `PUB_E…` codes of a publish belong to `vouch_package::PublishError` (its docs
//! list them); `From<PublishError> for ApiError` below gives each its status:
//! 403 for PUB_E001, E006 and E014; 409 for E007 and E013 (E013 with `Retry-After: 1`);
//! 503 for E008 (`Retry-After: 5`); 413 for E010; 400 for E005, E009, E011.
//!
//! | code | status | when |
//! |---|---|---|
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
use vouch_package::PublishError;
use vouch_store::meta::MetaError;

use crate::ApiError;

/// The HTTP answer to a refused publish: the code and message are the package crate's
/// ([`PublishError`] owns every `PUB_E…` code); the status and `Retry-After` are ours.
impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        let (status, retry_after) = match &e {
            PublishError::NoBinding { .. }
            | PublishError::IdentityMismatch { .. }
            | PublishError::ScopeNotOwned { .. } => (StatusCode::FORBIDDEN, None),
            PublishError::VersionExists { .. } | PublishError::VersionBuildConflict { .. } => {
                (StatusCode::CONFLICT, None)
            }
            PublishError::RotationInProgress => (StatusCode::SERVICE_UNAVAILABLE, Some(5)),
            PublishError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, None),
            PublishError::BindingsChanged { .. } => (StatusCode::CONFLICT, Some(1)),
            // PUB_E005, E009, E011 and the archive's PKG_E codes, and whatever a later
            // version of the package crate adds: the client sent something wrong.
            _ => (StatusCode::BAD_REQUEST, None),
        };
        ApiError {
            retry_after,
            ..ApiError::new(status, e.code(), e.to_string())
        }
    }
}

pub fn rotation_in_progress() -> ApiError {
    PublishError::RotationInProgress.into()
}

pub fn bad_upload(detail: impl Into<String>) -> ApiError {
    PublishError::BadUpload {
        detail: detail.into(),
    }
    .into()
}

pub fn too_large(what: &'static str, limit: u64) -> ApiError {
    PublishError::TooLarge { what, limit }.into()
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
        MetaError::VersionExists { package, version } => {
            PublishError::VersionExists { package, version }.into()
        }
        MetaError::VersionBuildConflict {
            package,
            version,
            existing,
        } => PublishError::VersionBuildConflict {
            package,
            version,
            existing,
        }
        .into(),
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
