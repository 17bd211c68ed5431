//! Administrator sign-in and sign-out: the sign-in form (double-submit CSRF token), token verification through the metadata store (hashed at rest, constant-time comparison), the session cookie, and the audit entries `admin.sign_in`, `admin.sign_in_failed` and `admin.sign_out`.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::html::{self, esc, Viewer};
use super::session::{self, AdminSession, LOGIN_CSRF_COOKIE};
use super::{html_response, WebError};
use crate::integrity::audit;
use crate::AppState;

/// How long the sign-in form's CSRF cookie lives (seconds).
const LOGIN_FORM_SECONDS: u64 = 3600;

fn login_page(csrf: &str, error: Option<(&'static str, &str)>) -> String {
    let error = error
        .map(|(code, text)| html::notice("error", Some(code), text))
        .unwrap_or_default();
    let body = format!(
        r#"{error}
<p>Sign in with an administrator token (<code>vouch_admin_...</code>). With <code>vouch serve --dev</code> it is in <code>DATA/admin.token</code>.</p>
<form method="post" action="/admin/login" class="stack">
<input type="hidden" name="csrf" value="{csrf}">
<label for="token">Administrator token</label>
<input type="password" id="token" name="token" autocomplete="off" required>
<button type="submit" id="sign-in">Sign in</button>
</form>"#,
        csrf = esc(csrf)
    );
    html::page("Sign in", &Viewer::Public, &body)
}

/// The sign-in form with a fresh double-submit token (cookie and hidden field).
fn login_response(
    state: &AppState,
    status: StatusCode,
    error: Option<(&'static str, &str)>,
) -> Result<Response, WebError> {
    let csrf = session::random_token()?;
    let cookie = session::set_cookie(
        state,
        LOGIN_CSRF_COOKIE,
        &csrf,
        "/admin/login",
        Some(LOGIN_FORM_SECONDS),
    );
    let mut resp = html_response(status, login_page(&csrf, error));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `GET /admin/login`.
pub async fn login_form(State(state): State<Arc<AppState>>) -> Result<Response, WebError> {
    login_response(&state, StatusCode::OK, None)
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

/// `POST /admin/login`: verifies the token, starts a session, audits the attempt.
pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, WebError> {
    super::same_site(&headers)?;
    let client = super::throttle::client_of(&extensions);
    state
        .web
        .sign_ins
        .check(client)
        .map_err(WebError::sign_in_throttled)?;
    let Form(form) =
        form.map_err(|e| WebError::bad_field("body", "a sign-in form", &e.body_text()))?;
    let expected = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if !session::tokens_match(&form.csrf, expected) {
        return Err(WebError::csrf());
    }
    let secret = form.token.trim();
    let found = if secret.is_empty() {
        None
    } else {
        state
            .meta
            .authenticate_admin(secret)
            .await
            .map_err(WebError::meta)?
    };
    let Some(token) = found else {
        // Audited without the presented secret; a failure to audit fails the request.
        // One row for the first failure of a client's window and one when it reaches
        // the limit, not one per attempt (the audit log is never pruned).
        if let Some((event, details)) = super::throttle::audit_row(
            state.web.sign_ins.failed(client),
            json!({"via": "web", "reason": "unknown or revoked token"}),
        ) {
            audit::record(&state, event, None, None, details)
                .await
                .map_err(WebError::meta)?;
        }
        return login_response(
            &state,
            StatusCode::UNAUTHORIZED,
            Some((
                "WEB_E004",
                "sign-in refused: the administrator token is unknown or revoked",
            )),
        );
    };
    let actor = format!("admin:{}#{}", token.label, token.id);
    audit::record(
        &state,
        "admin.sign_in",
        Some(&actor),
        None,
        json!({"via": "web", "tokenId": token.id}),
    )
    .await
    .map_err(WebError::meta)?;
    // A fresh session id on every sign-in (no fixation); a session this browser
    // already had ends.
    if let Some(old) = session::cookie(&headers, session::cookie_name(&state)) {
        state.web.sessions.remove(old).await?;
    }
    let id = state.web.sessions.create(token.id, &token.label).await?;
    tracing::info!(token_id = token.id, "administrator signed in to the web UI");
    let mut resp = Redirect::to("/admin/security").into_response();
    let h = resp.headers_mut();
    for c in [
        session::set_cookie(&state, session::cookie_name(&state), &id, "/", None),
        session::set_cookie(&state, LOGIN_CSRF_COOKIE, "", "/admin/login", Some(0)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: Option<String>,
}

/// `POST /admin/logout`.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    who: AdminSession,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, WebError> {
    super::same_site(&headers)?;
    let csrf = form.ok().and_then(|Form(f)| f.csrf);
    who.check_csrf(csrf.as_deref())?;
    state.web.sessions.remove(&who.cookie).await?;
    audit::record(
        &state,
        "admin.sign_out",
        Some(&who.admin().actor()),
        None,
        json!({"via": "web"}),
    )
    .await
    .map_err(WebError::meta)?;
    let mut resp = Redirect::to("/admin/login").into_response();
    let c = session::set_cookie(&state, session::cookie_name(&state), "", "/", Some(0));
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
