//! How the Sigstore routes refuse: the registry's one [`ApiError`], with the library's own code (`OIDC_E…`, `CA_E…`, `TSA_E…`) or a `SIGSTORE_E0xx` one.
//!
//! The body is the registry's error envelope plus `message` (`"CODE: detail"`,
//! [`ApiError::with_message`]), which Sigstore clients (sigstore-python's Fulcio
//! client) print when a request fails.
//!
//! HTTP-side codes of this module:
//!
//! | code | status | when |
//! |---|---|---|
//! | SIGSTORE_E010 | 401 | no identity token: neither `Authorization: Bearer` nor `credentials.oidcIdentityToken` |
//! | SIGSTORE_E011 | 400 | the body and the header carry two different tokens |
//! | SIGSTORE_E012 | 415 | wrong `Content-Type` (timestamp: `application/timestamp-query`; JSON routes: `application/json`) |
//! | SIGSTORE_E013 | 413 | request body over the route's cap |
//! | SIGSTORE_E014 | 400 | unreadable body or malformed JSON (dev token request) |
//! | SIGSTORE_E020 | 404 | the development issuer is off: the server must run with `--dev` |

use axum::http::StatusCode;
use vouch_ca::CaError;
use vouch_oidc::{ErrorKind, OidcError};
use vouch_timestamp::TsaError;

use crate::ApiError;

/// A refusal of a Sigstore route: `code` and `detail`, with `message` in the body.
pub fn refuse(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(status, code, detail).with_message()
}

/// SIGSTORE_E020: a dev-only route on a server without `--dev`.
pub fn dev_disabled() -> ApiError {
    refuse(
        StatusCode::NOT_FOUND,
        "SIGSTORE_E020",
        "the development OIDC issuer is disabled: the server must run with `vouch serve --dev`",
    )
}

/// SIGSTORE_E013: the body is over `limit` bytes.
pub fn too_large(limit: usize) -> ApiError {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        "SIGSTORE_E013",
        format!("request body is over the {limit}-byte limit of this route"),
    )
}

/// A failure on our side under a library's code: logged, and a generic detail for
/// the client.
pub fn internal(code: &'static str, cause: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(code, error = %cause, "sigstore service failure");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        code,
        "internal error; see the server log",
    )
}

/// A body extractor rejection: over the cap, or unreadable.
pub fn body_rejection(e: axum::extract::rejection::BytesRejection, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        refuse(
            StatusCode::BAD_REQUEST,
            "SIGSTORE_E014",
            format!("unreadable request body: {}", e.body_text()),
        )
    }
}

impl From<OidcError> for ApiError {
    fn from(e: OidcError) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorKind::Identity | ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            _ => return internal(e.code(), &e),
        };
        refuse(status, e.code(), e.to_string())
    }
}

impl From<CaError> for ApiError {
    fn from(e: CaError) -> Self {
        match &e {
            CaError::RequestTooLarge { .. } => {
                refuse(StatusCode::PAYLOAD_TOO_LARGE, e.code(), e.to_string())
            }
            _ if e.is_client_error() => refuse(StatusCode::BAD_REQUEST, e.code(), e.to_string()),
            _ => internal(e.code(), &e),
        }
    }
}

impl From<TsaError> for ApiError {
    fn from(e: TsaError) -> Self {
        match &e {
            TsaError::RequestTooLarge { .. } => {
                refuse(StatusCode::PAYLOAD_TOO_LARGE, e.code(), e.to_string())
            }
            _ if e.is_client_error() => refuse(StatusCode::BAD_REQUEST, e.code(), e.to_string()),
            _ => internal(e.code(), &e),
        }
    }
}

/// The CT log refused or failed: the log's own mapping (503 with Retry-After for an
/// unavailable log, 429 for a full pool), its detail naming the CT log.
pub fn ct_log(e: crate::cluster::WriteError) -> ApiError {
    let api = ApiError::from(e);
    ApiError {
        detail: format!("certificate-transparency log: {}", api.detail),
        ..api
    }
    .with_message()
}
