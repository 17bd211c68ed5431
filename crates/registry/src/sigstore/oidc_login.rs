//! The `--dev` email issuer's HTTP side (`/oidc/email/...`): discovery, JWKS, the sign-in
//! page (an email field and a button), the authorization redirect and the token endpoint.
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

fn json(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        body,
    )
        .into_response()
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

/// `POST /oidc/email/token`: exchanges a code (with its PKCE verifier) for an ID token.
pub async fn token(
    State(app): State<Arc<AppState>>,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Response, ApiError> {
    let l = login(&app)?;
    let Form(req) = form.map_err(|e| bad(e.body_text()))?;
    let id_token = l.exchange(&req, now(&app))?;
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
