//! `CargoError`: every refusal of the Cargo routes, answered as cargo reads it (`{"errors":[{"detail":"CODE: ..."}]}`) with a stable `CARGO_E…` (or a reused `PUB_E…`) code.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// A refusal of a Cargo route: status, stable code, and a detail naming what was
/// expected and what was found.
#[derive(Debug, Clone)]
pub struct CargoError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// `www-authenticate` of a 401 (cargo's `Cargo login_url="..."`).
    pub www_authenticate: Option<String>,
}

impl CargoError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        CargoError {
            status,
            code,
            detail: detail.into(),
            www_authenticate: None,
        }
    }

    /// CARGO_E001: the publish body is not cargo's framing or its JSON is not the
    /// expected metadata.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "CARGO_E001", detail)
    }

    /// CARGO_E002: the `.crate` cannot be read as a gzip'd tar holding its manifest.
    pub fn bad_crate(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "CARGO_E002", detail)
    }

    /// CARGO_E003: the manifest inside the `.crate` disagrees with the metadata JSON.
    pub fn disagree(field: &str, json: &str, manifest: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "CARGO_E003",
            format!(
                "the publish metadata says {field} {json:?} but Cargo.toml inside the .crate says {manifest:?}"
            ),
        )
    }

    /// CARGO_E004: an invalid crate name or version.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "CARGO_E004", detail)
    }

    /// CARGO_E005: no token on a route that needs one.
    pub fn no_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "CARGO_E005",
            "this request needs a token in the Authorization header (cargo sends the one of `cargo login --registry NAME` or CARGO_REGISTRIES_NAME_TOKEN)",
        )
    }

    /// CARGO_E006: the token is unknown, expired, revoked or its user disabled.
    pub fn bad_token(why: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "CARGO_E006", why)
    }

    /// CARGO_E007: the token may not act on this crate.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "CARGO_E007", detail)
    }

    /// CARGO_E008: no such crate or version.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "CARGO_E008", detail)
    }

    /// CARGO_E009: an anonymous request to a registry that requires authentication.
    pub fn auth_required(login_url: &str) -> Self {
        CargoError {
            www_authenticate: Some(format!("Cargo login_url=\"{login_url}\"")),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "CARGO_E009",
                format!(
                    "this registry requires authentication for every request: expected a read token (a vouch API token, see {login_url}), found none"
                ),
            )
        }
    }

    /// CARGO_E010: the trusted-publishing identity token was refused.
    pub fn jwt(code: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "CARGO_E010",
            format!("the identity token was refused ({code}): {detail}"),
        )
    }

    /// CARGO_E011: the name normalises like an existing crate's other spelling.
    pub fn name_conflict(name: &str, existing: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "CARGO_E011",
            format!(
                "crate name {name:?} is the existing crate {existing:?} under cargo's rules ('-' and '_' alike, case ignored): use {existing:?}"
            ),
        )
    }

    /// CARGO_E012: an owners change that cannot be made.
    pub fn owners(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "CARGO_E012", detail)
    }

    /// CARGO_E013: a trusted-publisher configuration that is not valid.
    pub fn binding(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "CARGO_E013", detail)
    }

    /// CARGO_E014: a body over the route's limit.
    pub fn too_large(what: &str, max: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "CARGO_E014",
            format!("the {what} is over this registry's limit of {max} bytes"),
        )
    }

    /// CARGO_E015: an index path outside cargo's layout.
    pub fn bad_index_path(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "CARGO_E015",
            format!(
                "index path {path:?} is not config.json or cargo's layout (1/NAME, 2/NAME, 3/C/NAME, AB/CD/NAME, lowercase)"
            ),
        )
    }

    /// A publish refused for its identity, with the publish pipeline's code
    /// (PUB_E001: nothing registered for it; PUB_E006: a claim differs).
    pub fn identity(e: &vouch_package::PublishError) -> Self {
        Self::new(StatusCode::FORBIDDEN, e.code(), e.to_string())
    }

    /// The same refusal with another status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// An internal failure: logged, answered with SERVE_E007.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        let e = ApiError::internal(cause);
        Self::new(e.status, e.code, e.detail)
    }
}

impl From<ApiError> for CargoError {
    fn from(e: ApiError) -> Self {
        Self::new(e.status, e.code, e.detail)
    }
}

impl From<vouch_store::meta::MetaError> for CargoError {
    fn from(e: vouch_store::meta::MetaError) -> Self {
        Self::internal(&e)
    }
}

impl IntoResponse for CargoError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{"detail": format!("{}: {}", self.code, self.detail)}],
            "code": self.code,
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(v) = self
            .www_authenticate
            .and_then(|w| HeaderValue::from_str(&w).ok())
        {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp.extensions_mut()
            .insert(crate::ops::ErrorCode(self.code));
        resp
    }
}
