//! `ServiceError`: how the Sigstore routes refuse, as `(status, code, detail)` JSON with the library's own code (`OIDC_E…`, `CA_E…`, `TSA_E…`) or a `SIGSTORE_E0xx` one.
//!
//! The body is the registry's error envelope plus `message` (`"CODE: detail"`), which
//! Sigstore clients (sigstore-python's Fulcio client) print when a request fails.
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

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vouch_ca::CaError;
use vouch_log::LogError;
use vouch_oidc::{ErrorKind, OidcError};
use vouch_timestamp::TsaError;

use crate::ApiError;

/// One refusal of a Sigstore route.
#[derive(Debug, Clone)]
pub struct ServiceError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub retry_after: Option<u64>,
}

impl ServiceError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ServiceError {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// SIGSTORE_E020: a dev-only route on a server without `--dev`.
    pub fn dev_disabled() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SIGSTORE_E020",
            "the development OIDC issuer is disabled: the server must run with `vouch serve --dev`",
        )
    }

    /// SIGSTORE_E013: the body is over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "SIGSTORE_E013",
            format!("request body is over the {limit}-byte limit of this route"),
        )
    }

    /// A failure on our side: logged, and a generic detail for the client.
    pub fn internal(code: &'static str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(code, error = %cause, "sigstore service failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code,
            "internal error; see the server log",
        )
    }
}

/// A body extractor rejection: over the cap, or unreadable.
pub fn body_rejection(e: axum::extract::rejection::BytesRejection, limit: usize) -> ServiceError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ServiceError::too_large(limit)
    } else {
        ServiceError::new(
            StatusCode::BAD_REQUEST,
            "SIGSTORE_E014",
            format!("unreadable request body: {}", e.body_text()),
        )
    }
}

impl From<OidcError> for ServiceError {
    fn from(e: OidcError) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorKind::Identity | ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            _ => return Self::internal(e.code(), &e),
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<CaError> for ServiceError {
    fn from(e: CaError) -> Self {
        match &e {
            CaError::RequestTooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, e.code(), e.to_string())
            }
            _ if e.is_client_error() => Self::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()),
            _ => Self::internal(e.code(), &e),
        }
    }
}

impl From<TsaError> for ServiceError {
    fn from(e: TsaError) -> Self {
        match &e {
            TsaError::RequestTooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, e.code(), e.to_string())
            }
            _ if e.is_client_error() => Self::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()),
            _ => Self::internal(e.code(), &e),
        }
    }
}

impl From<LogError> for ServiceError {
    fn from(e: LogError) -> Self {
        // The log's own mapping (503 with Retry-After for an unavailable log, 429 for a
        // full pool) applies to the CT log too.
        let api = ApiError::from(e);
        ServiceError {
            status: api.status,
            code: api.code,
            detail: format!("certificate-transparency log: {}", api.detail),
            retry_after: api.retry_after,
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
            "message": format!("{}: {}", self.code, self.detail),
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}
