//! Errors of the registry service: `ServeError` for startup (coded for the CLI) and `ApiError`, the one HTTP error type that becomes `(status, code, detail)` JSON.

use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vouch_log::LogError;
use vouch_tlog::WitnessError;

/// Why `vouch serve` could not start. Each variant has a stable code ([`ServeError::code`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot read config file {path}")]
    ConfigRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {reason}")]
    ConfigInvalid { path: PathBuf, reason: String },
    #[error("--config FILE is required without --dev (nothing is created implicitly)")]
    ConfigMissing,
    #[error("environment variable {var} is not set")]
    SecretMissing { var: String },
    #[error("environment variable {var} does not hold a valid {what}")]
    SecretInvalid { var: String, what: &'static str },
    #[error(
        "environment variable {var} holds a {found} key where a {expected} key is expected \
         (`vouch keygen log` and `vouch keygen witness` make one of each)"
    )]
    SecretWrongType {
        var: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("cannot prepare the --dev data directory {path}")]
    DevSetup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("storage is not usable")]
    Storage(#[from] vouch_store::StoreError),
    #[error("the transparency log could not be opened")]
    Log(#[from] LogError),
    #[error("the metadata database is not usable")]
    Meta(#[from] vouch_store::meta::MetaError),
    #[error(
        "TOKEN_ENC_KEY in {var} must be 64 hexadecimal characters (found {found}); \
         make one with `vouch keygen token-enc-key --out FILE` and keep it safe: it seals \
         the registry's keys"
    )]
    EncKeyInvalid { var: String, found: usize },
    #[error("the Sigstore services could not start: {0}")]
    Sigstore(#[from] crate::sigstore::SetupError),
    #[error("the registry integrity service could not start: {0}")]
    Integrity(#[from] crate::integrity::BootError),
    /// `[log] origin` disagrees with the origin the public URL implies.
    #[error(
        "[log] origin {configured:?} does not match the public URL {public_url}, which \
         implies origin {derived:?}: Sigstore clients (sigstore-js) find a log by its \
         origin appearing in the trusted root's baseUrl; remove [log] origin to derive \
         it, or set it to {derived:?} (the log key's name must be the same)"
    )]
    OriginMismatch {
        configured: String,
        public_url: String,
        derived: String,
    },
    /// Another process serves the same SQLite lock database.
    #[error(
        "another `vouch serve` uses this SQLite lock database ({holder}); SQLite is the \
         single-node setup, one server per database file (stop that one first, give this \
         one its own data, or put the lock database in PostgreSQL to run several nodes)"
    )]
    NotSequencer { holder: String },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

impl ServeError {
    /// The stable code (README, "Error codes"). Never renumbered.
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::ConfigRead { .. }
            | ServeError::ConfigInvalid { .. }
            | ServeError::ConfigMissing => "SERVE_E101",
            ServeError::SecretMissing { .. }
            | ServeError::SecretInvalid { .. }
            | ServeError::SecretWrongType { .. } => "SERVE_E102",
            ServeError::DevSetup { .. } | ServeError::Storage(_) => "SERVE_E103",
            ServeError::Log(_) => "SERVE_E104",
            ServeError::Meta(_) => "SERVE_E106",
            ServeError::EncKeyInvalid { .. } => "SERVE_E107",
            ServeError::Listen { .. } => "SERVE_E105",
            ServeError::NotSequencer { .. } => "SERVE_E111",
            ServeError::OriginMismatch { .. } => "SERVE_E110",
            ServeError::Sigstore(e) => e.code(),
            ServeError::Integrity(e) => e.code(),
        }
    }
}

/// An HTTP error: status, stable code, and a detail safe to show a client. Internal
/// causes are logged where the error is made, never sent. The one error every route of
/// the router answers with: `{"status", "code", "detail"}` JSON (plus `message` on the
/// Sigstore routes, see [`ApiError::with_message`]).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
    /// tlog-witness 409 answers carry the latest size as `text/x.tlog.size`.
    pub witness_size: Option<u64>,
    /// The body also carries `message` (`"CODE: detail"`).
    pub message: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
            witness_size: None,
            message: false,
        }
    }

    /// The same error with `message` (`"CODE: detail"`) in its body: Sigstore clients
    /// (sigstore-python's Fulcio client) print that field when a request fails, so the
    /// Sigstore routes (`crate::sigstore`) answer with it.
    pub fn with_message(mut self) -> Self {
        self.message = true;
        self
    }

    /// SERVE_E001: the request path or body is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "SERVE_E001", detail)
    }

    /// SERVE_E002: no such resource, or beyond the committed tree.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "SERVE_E002", detail)
    }

    /// SERVE_E006: missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "SERVE_E006",
            "a valid bearer token is required",
        )
    }

    /// SERVE_E007: something failed on our side; the cause is in the server log.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SERVE_E007",
            "internal error; see the server log",
        )
    }
}

/// Formats an error with its sources, for logs.
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(c) = cur {
            write!(f, ": {c}")?;
            cur = c.source();
        }
        Ok(())
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::EntryTooLarge { size, max } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SERVE_E004",
                format!("entry of {size} bytes is over the {max}-byte limit of entry bundles"),
            ),
            LogError::PoolFull { retry_after_ms } => ApiError {
                retry_after: Some(retry_after_ms.div_ceil(1000).max(1)),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "SERVE_E003",
                    "the log's sequencing pool is full; retry later",
                )
            },
            LogError::OutOfRange { what, value, size } => {
                ApiError::not_found(format!("{what} {value} is beyond tree size {size}"))
            }
            LogError::Closed
            | LogError::BatchFailed { .. }
            | LogError::LostLock { .. }
            | LogError::SteppedDown { .. } => {
                tracing::warn!(error = %ErrorChain(&e), "log unavailable");
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "SERVE_E005",
                        "the transparency log is unavailable; the entry was not logged",
                    )
                }
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<WitnessError> for ApiError {
    fn from(e: WitnessError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let code = match status.as_u16() {
            403 => "WITNESS_E002",
            404 => "WITNESS_E003",
            409 => "WITNESS_E004",
            422 => "WITNESS_E005",
            _ => "WITNESS_E001",
        };
        ApiError {
            witness_size: e.latest_size(),
            ..ApiError::new(status, code, e.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    #[allow(
        clippy::indexing_slicing,
        reason = "IndexMut on a json! object literal built in this function never panics"
    )]
    fn into_response(self) -> Response {
        let mut resp = match self.witness_size {
            // tlog-witness: "the response body MUST be the latest size as ASCII decimal".
            Some(size) => (
                self.status,
                [(header::CONTENT_TYPE, "text/x.tlog.size")],
                format!("{size}\n"),
            )
                .into_response(),
            None => {
                let mut body = serde_json::json!({
                    "status": self.status.as_u16(),
                    "code": self.code,
                    "detail": self.detail,
                });
                if self.message {
                    body["message"] = format!("{}: {}", self.code, self.detail).into();
                }
                (self.status, axum::Json(body)).into_response()
            }
        };
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // For the metrics middleware: outcomes are counted by code, not by parsing bodies.
        resp.extensions_mut()
            .insert(crate::ops::ErrorCode(self.code));
        resp
    }
}

/// The largest framework-made error body [`envelope`] reads back (axum's rejection
/// texts are a sentence or two).
const MAX_REJECTION_TEXT: usize = 1024;

/// Puts every error answer into the one `{status, code, detail}` envelope (issue 13,
/// item 13): axum's own rejections (a body over a route's `DefaultBodyLimit`, a bad
/// path parameter, a wrong method or content type) are plain text or empty, and a
/// client reading `code` found nothing. Error answers that are not plain text or empty
/// (our JSON, the witness's `text/x.tlog.size`, HTML pages) pass untouched.
pub async fn envelope(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let plain = match resp.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(ct) => ct.to_str().is_ok_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/plain")
        }),
    };
    if !plain {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, MAX_REJECTION_TEXT).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).trim().to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_ascii_lowercase(),
    };
    let (code, detail) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "SERVE_E020",
            format!("the request body is over this route's size limit: {text}"),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "SERVE_E021",
            "this route does not accept that HTTP method".to_owned(),
        ),
        s if s.is_server_error() => {
            tracing::error!(status = s.as_u16(), body = %text, "framework error answer");
            (
                "SERVE_E007",
                "internal error; see the server log".to_owned(),
            )
        }
        _ => ("SERVE_E001", text),
    };
    let mut out = ApiError::new(status, code, detail).into_response();
    // Keep what the framework said about the request (`Allow` on a 405, say).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ServeError;

    /// `vouch serve` prints a start-up failure as the cause chain on one line
    /// (`vouch_api_client::error_chain`): a cause the message already quotes is not
    /// repeated.
    #[test]
    fn causes_are_not_repeated() {
        let e = ServeError::Sigstore(crate::sigstore::SetupError::Material {
            what: "CA key material",
            reason: "disk full".into(),
        });
        let msg = vouch_api_client::error_chain(&e);
        assert_eq!(
            msg,
            "the Sigstore services could not start: cannot prepare the CA key material: disk full"
        );
        assert_eq!(msg.matches("disk full").count(), 1);
    }
}
