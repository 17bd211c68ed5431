//! The `--dev` email issuer's HTTP side (`/oidc/email/...`): discovery, JWKS, the sign-in
//! page (an email field and a button), the authorization redirect, the device
//! authorization endpoint with its verification page (RFC 8628), and the token endpoint.
//! The flow's rules (loopback redirects, PKCE S256, single-use codes) are
//! [`vouch_oidc::DevLogin`]'s; this file only speaks HTTP.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vouch_oidc::{AuthorizationRequest, DevLogin, OidcError, TokenRequest, UnixTime};

use super::error;
use super::oidc::json;
use crate::app::AppState;
use crate::web::html::{esc, page, Viewer};
use crate::ApiError;

/// The sign-in page may post to itself and then redirect to a loopback listener.
const CSP: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; \
                   form-action 'self' http://127.0.0.1:* http://[::1]:*";

fn login(app: &AppState) -> Result<&DevLogin, ApiError> {
    app.sigstore
        .dev_login
        .as_deref()
        .ok_or_else(error::dev_disabled)
}

fn now(app: &AppState) -> UnixTime {
    UnixTime(i64::try_from(app.sigstore.clock.unix_seconds()).unwrap_or(i64::MAX))
}

fn bad(problem: String) -> ApiError {
    ApiError::from(OidcError::AuthorizationRequest { problem })
}

/// `GET /oidc/email/.well-known/openid-configuration`.
pub async fn discovery(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    Ok(json(login(&app)?.discovery_document()))
}

/// `GET /oidc/email/.well-known/jwks.json`.
pub async fn jwks(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    Ok(json(login(&app)?.issuer().jwks()))
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        r#"<input type="hidden" name="{}" value="{}">"#,
        esc(name),
        esc(value)
    )
}

/// `GET /oidc/email/authorize`: checks the request, then shows the sign-in form.
pub async fn authorize_form(
    State(app): State<Arc<AppState>>,
    query: Result<Query<AuthorizationRequest>, QueryRejection>,
) -> Result<Response, ApiError> {
    let l = login(&app)?;
    let Query(req) = query.map_err(|e| bad(e.body_text()))?;
    l.check(&req)?;
    let mut fields = String::new();
    for (name, value) in [
        ("response_type", Some(&req.response_type)),
        ("client_id", Some(&req.client_id)),
        ("redirect_uri", Some(&req.redirect_uri)),
        ("code_challenge", Some(&req.code_challenge)),
        ("code_challenge_method", Some(&req.code_challenge_method)),
        ("state", req.state.as_ref()),
        ("nonce", req.nonce.as_ref()),
    ] {
        if let Some(v) = value {
            fields.push_str(&hidden(name, v));
        }
    }
    let body = format!(
        r#"<h1>Sign in to the development issuer</h1>
<p>This <code>vouch serve --dev</code> issuer vouches for any address you type: it is for
testing the laptop signing flow, never for production. The signing certificate will name
this email; the program waiting at <code>{}</code> receives the sign-in.</p>
<form method="post" action="/oidc/email/authorize">{fields}
<label for="email">Email</label>
<input id="email" name="email" type="email" required autofocus autocomplete="email">
<button type="submit" id="sign-in">Sign in</button>
</form>"#,
        esc(&req.redirect_uri)
    );
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page("Sign in", &Viewer::Public, &body),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(resp)
}

/// The sign-in form: the authorization request plus the email.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(flatten)]
    request: AuthorizationRequest,
    #[serde(default)]
    email: String,
}

/// `POST /oidc/email/authorize`: issues a code and redirects to the loopback listener.
pub async fn authorize(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let l = login(&app)?;
    if crate::web::same_site(&headers).is_err() {
        return Err(bad("a cross-site sign-in form was posted".to_owned()));
    }
    let Form(form) = form.map_err(|e| bad(e.body_text()))?;
    let target = l.grant(&form.request, form.email.trim(), now(&app))?;
    let location = HeaderValue::from_str(&target)
        .map_err(|_| bad("redirect_uri is not a valid header value".to_owned()))?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// A token-endpoint refusal as OAuth 2.0 clients read it (RFC 6749 §5.2, RFC 8628 §3.5:
/// `error`, `error_description`) and as vouch's clients do (`code`, `detail`).
fn token_refusal(e: &OidcError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        axum::Json(serde_json::json!({
            "error": e.oauth_error(),
            "error_description": e.to_string(),
            "code": e.code(),
            "detail": e.to_string(),
        })),
    )
        .into_response()
}

/// `POST /oidc/email/token`: exchanges a code (with its PKCE verifier), or polls a device
/// code (RFC 8628), for an ID token.
pub async fn token(
    State(app): State<Arc<AppState>>,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Response, ApiError> {
    let l = login(&app)?;
    let Form(req) = form.map_err(|e| bad(e.body_text()))?;
    let issued = if req.grant_type == vouch_oidc::DEVICE_GRANT_TYPE {
        l.poll_device(&req, now(&app))
    } else {
        l.exchange(&req, now(&app))
    };
    let id_token = match issued {
        Ok(t) => t,
        Err(e) => return Ok(token_refusal(&e)),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        axum::Json(serde_json::json!({
            "id_token": id_token,
            "access_token": id_token,
            "token_type": "Bearer",
            "expires_in": vouch_oidc::DEV_TOKEN_LIFETIME_SECS,
        })),
    )
        .into_response())
}

/// The form of `POST /oidc/email/device/code`.
#[derive(Debug, Deserialize)]
pub struct DeviceCodeForm {
    #[serde(default)]
    client_id: String,
}

/// `POST /oidc/email/device/code`: the device authorization endpoint (RFC 8628 §3.1).
pub async fn device_code(
    State(app): State<Arc<AppState>>,
    form: Result<Form<DeviceCodeForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let l = login(&app)?;
    let Form(form) = form.map_err(|e| bad(e.body_text()))?;
    let auth = l.device_authorize(&form.client_id, now(&app))?;
    Ok((
        StatusCode::OK,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        axum::Json(auth.to_json()),
    )
        .into_response())
}

/// A sign-in page with the headers every one of them carries.
fn html_page(title: &str, body: &str) -> Response {
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page(title, &Viewer::Public, body),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; \
             form-action 'self'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The query of `GET /oidc/email/device`.
#[derive(Debug, Default, Deserialize)]
pub struct DeviceQuery {
    #[serde(default)]
    user_code: Option<String>,
}

/// `GET /oidc/email/device`: the verification page, where the user types the code the
/// program showed and an email (prefilled from `verification_uri_complete`).
pub async fn device_form(
    State(app): State<Arc<AppState>>,
    query: Result<Query<DeviceQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    login(&app)?;
    let Query(q) = query.map_err(|e| bad(e.body_text()))?;
    let code = q.user_code.unwrap_or_default();
    let body = format!(
        r#"<h1>Sign in a device to the development issuer</h1>
<p>Type the code the program shows (for example <code>vouch sign --device</code>) and the
email to sign in as. This <code>vouch serve --dev</code> issuer vouches for any address you
type: it is for testing, never for production.</p>
<form method="post" action="/oidc/email/device">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" value="{}" required autocomplete="off" autofocus>
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email">
<button type="submit" id="sign-in" name="action" value="approve">Sign in</button>
<button type="submit" id="deny" name="action" value="deny" formnovalidate>Deny</button>
</form>"#,
        esc(&code)
    );
    Ok(html_page("Sign in a device", &body))
}

/// The verification form.
#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    email: String,
    /// `approve` or `deny`.
    #[serde(default)]
    action: String,
}

/// `POST /oidc/email/device`: records the user's decision; the polling program gets the
/// token (or `access_denied`) on its next poll.
pub async fn device_decide(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<DeviceForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let l = login(&app)?;
    if crate::web::same_site(&headers).is_err() {
        return Err(bad("a cross-site device sign-in form was posted".to_owned()));
    }
    let Form(form) = form.map_err(|e| bad(e.body_text()))?;
    let (decision, message) = match form.action.as_str() {
        "deny" => (
            vouch_oidc::DeviceDecision::Deny,
            "Sign-in denied: the program that asked will stop.",
        ),
        _ => (
            vouch_oidc::DeviceDecision::Approve {
                email: form.email.trim().to_owned(),
            },
            "Signed in: you can close this tab and return to the program.",
        ),
    };
    l.decide(form.user_code.trim(), decision, now(&app))?;
    Ok(html_page(
        "Device sign-in",
        &format!(r#"<p id="result">{}</p>"#, esc(message)),
    ))
}
