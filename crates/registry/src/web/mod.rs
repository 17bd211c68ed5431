//! The server-rendered web UI: administrator sign-in with sessions and CSRF tokens, the Security and Audit log pages, and public package, version and release pages showing verification status.
//!
//! No JavaScript: every page is HTML from the server, every action a form POST
//! carrying the session's CSRF token, and the rotate button leads to a confirmation
//! page before anything changes. Administrative actions call the integrity service's
//! own handlers ([`crate::integrity::admin`]) so the web UI and the JSON API share one
//! implementation (publish gate, serialisation, audit entries).
//!
//! - [`session`]: the session table, cookies, the signed-in extractor, CSRF checks.
//! - [`html`]: escaping, the page frame, the stylesheet.
//! - [`auth`]: `GET|POST /admin/login`, `POST /admin/logout`.
//! - [`security`]: `/admin/security` and its rotate, hash-budget and backfill forms.
//! - [`audit`]: `/admin/audit` with an action filter and paging.
//! - [`home`]: the landing page `/` and the package list `/packages`.
//! - [`public`]: `/packages/@scope/name[/VERSION]` and `/releases/{id}`.
//!
//! Every response of these routes carries the security headers of [`security_headers`]
//! (CSP `default-src 'self'; frame-ancestors 'none'`, `nosniff`, `no-referrer`).
//!
//! # Error codes
//!
//! | code | status | meaning |
//! |---|---|---|
//! | WEB_E001 | 403 | a form POST without the session's (or sign-in form's) CSRF token |
//! | WEB_E002 | 403 | a cross-site POST (`Sec-Fetch-Site: cross-site`) |
//! | WEB_E003 | 401 | no live session (signed out, expired, or the server restarted) |
//! | WEB_E004 | 401 | sign-in refused: unknown or revoked administrator token |
//! | WEB_E005 | 400 | a malformed form field (says which) |
//! | WEB_E006 | 404 | no such package, version or release |
//! | WEB_E007 | 500 | the operating system random number generator failed |
//! | WEB_E008 | 500 | metadata database failure |
//! | WEB_E009 | 429 | too many failed sign-ins from this address in this minute ([`throttle`]) |
//!
//! Failures of the actions themselves keep the integrity service's codes
//! (ADMIN_E004 hash budget out of range, ADMIN_E005 rotation in progress, ...).

pub mod audit;
pub mod auth;
pub mod home;
pub mod html;
pub mod public;
pub mod security;
pub mod session;
pub mod throttle;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::{ApiError, AppState};

/// The web UI's state inside [`AppState`].
#[derive(Debug)]
pub struct WebState {
    /// Administrator sessions, in the metadata database (shared by every node).
    pub sessions: session::Sessions,
    /// Failed administrator sign-ins per client address (web form and bearer API).
    pub sign_ins: throttle::SignInThrottle,
}

impl WebState {
    /// The web UI's state with its sessions in `meta`.
    pub fn new(meta: std::sync::Arc<dyn vouch_store::meta::MetaStore>) -> Self {
        WebState {
            sessions: session::Sessions::new(meta),
            sign_ins: throttle::SignInThrottle::default(),
        }
    }
}

/// The Content-Security-Policy of every page: nothing but this origin, no framing,
/// forms post only here.
pub const CSP: &str =
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// Every route of the web UI; `log_prefix` is where the log's checkpoint is served.
pub fn routes(log_prefix: &str) -> Router<Arc<AppState>> {
    let prefix = log_prefix.to_owned();
    Router::new()
        .route("/", get(move |state| home::landing(state, prefix.clone())))
        .route("/packages", get(home::list))
        .route("/static/vouch.css", get(stylesheet))
        .route("/admin", get(|| async { Redirect::to("/admin/security") }))
        .route("/admin/login", get(auth::login_form).post(auth::login))
        .route("/admin/logout", post(auth::logout))
        .route("/admin/security", get(security::page))
        .route(
            "/admin/security/rotate",
            get(security::rotate_confirm).post(security::rotate),
        )
        .route("/admin/security/hash-budget", post(security::hash_budget))
        .route("/admin/security/backfill", post(security::backfill))
        .route("/admin/audit", get(audit::page))
        .route("/packages/{scope}/{name}", get(public::package))
        .route("/packages/{scope}/{name}/{version}", get(public::version))
        .route("/releases/{id}", get(public::release))
        .layer(axum::middleware::from_fn(security_headers))
}

/// Adds the security headers to every web response; pages (not the stylesheet)
/// are never cached, since they carry CSRF tokens and change with every action.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        html::STYLESHEET,
    )
        .into_response()
}

/// An HTML response with status `status`.
pub fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// Why a web request failed: a redirect to the sign-in page, or a coded error page.
#[derive(Debug, Clone)]
pub enum WebError {
    /// A GET without a session: 303 to `/admin/login`.
    SignIn,
    /// An error page showing the stable code and detail.
    Coded {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
}

impl WebError {
    fn coded(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        WebError::Coded {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// WEB_E001.
    pub fn csrf() -> Self {
        Self::coded(
            StatusCode::FORBIDDEN,
            "WEB_E001",
            "the form's CSRF token is missing or does not match this session; \
             reload the page and submit the form again",
        )
    }

    /// WEB_E002.
    pub fn cross_site() -> Self {
        Self::coded(
            StatusCode::FORBIDDEN,
            "WEB_E002",
            "cross-site form submissions are refused (Sec-Fetch-Site: cross-site)",
        )
    }

    /// WEB_E003.
    pub fn not_signed_in() -> Self {
        Self::coded(
            StatusCode::UNAUTHORIZED,
            "WEB_E003",
            "no live session: sign in at /admin/login (sessions end after an hour idle, \
             eight hours in all, or when the server restarts)",
        )
    }

    /// WEB_E005.
    pub fn bad_field(field: &str, expected: &str, found: &str) -> Self {
        Self::coded(
            StatusCode::BAD_REQUEST,
            "WEB_E005",
            format!("form field {field}: expected {expected}, found {found:?}"),
        )
    }

    /// WEB_E006.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::coded(StatusCode::NOT_FOUND, "WEB_E006", what)
    }

    /// WEB_E007.
    pub fn random() -> Self {
        Self::coded(
            StatusCode::INTERNAL_SERVER_ERROR,
            "WEB_E007",
            "the operating system random number generator failed",
        )
    }

    /// WEB_E009: too many failed sign-ins from this address in this window.
    pub fn sign_in_throttled(retry_after: u64) -> Self {
        Self::coded(
            StatusCode::TOO_MANY_REQUESTS,
            "WEB_E009",
            format!("too many failed sign-ins from this address: try again in {retry_after} s"),
        )
    }

    /// WEB_E008 (the cause is logged, not shown).
    pub fn meta(e: vouch_store::meta::MetaError) -> Self {
        tracing::error!(error = %e, "web UI: metadata database failure");
        Self::coded(
            StatusCode::INTERNAL_SERVER_ERROR,
            "WEB_E008",
            "metadata database failure; see the server log",
        )
    }

    /// The stable code, if this is an error page.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            WebError::SignIn => None,
            WebError::Coded { code, .. } => Some(code),
        }
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError::Coded {
            status: e.status,
            code: e.code,
            detail: e.detail,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn => Redirect::to("/admin/login").into_response(),
            WebError::Coded {
                status,
                code,
                detail,
            } => {
                let body = format!(
                    "{}<p><a href=\"/admin/security\">Back to the Security page</a></p>",
                    html::notice("error", Some(code), &detail)
                );
                html_response(
                    status,
                    html::page(
                        status.canonical_reason().unwrap_or("Error"),
                        &html::Viewer::Public,
                        &body,
                    ),
                )
            }
        }
    }
}

/// The POST guard shared by every form: refuses cross-site submissions outright
/// (WEB_E002), before any token is looked at.
pub fn same_site(headers: &axum::http::HeaderMap) -> Result<(), WebError> {
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(v) if v.eq_ignore_ascii_case("cross-site") => Err(WebError::cross_site()),
        _ => Ok(()),
    }
}
