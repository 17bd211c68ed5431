//! The admin API for accounts: users (add, list, disable), API tokens (issue, list, revoke; admin or owner scope, optional expiry, shown once and hashed at rest) and package owners (add, remove, list). Every change is audited.
//!
//! | route | does |
//! |---|---|
//! | `GET /api/admin/users`, `POST /api/admin/users` | list, add |
//! | `POST /api/admin/users/{name}/disable` | disable: its tokens stop at once |
//! | `GET /api/admin/tokens[?user=NAME]`, `POST /api/admin/tokens` | list, issue |
//! | `POST /api/admin/tokens/{id}/revoke` | revoke |
//! | `GET /api/admin/owners?package=P`, `POST /api/admin/owners`, `POST /api/admin/owners/remove` | package owners |
//!
//! Codes: ADMIN_E006 malformed request, ADMIN_E008 no such user, token or package,
//! ADMIN_E009 the user exists, ADMIN_E010 the user is disabled (no token issued).
//! Everything goes through the server (never the database directly), so it works the
//! same with several nodes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_package::PackageName;
use vouch_store::meta::{
    ApiToken, MetaError, NewToken, Timestamp, TokenId, TokenScope, User, UserId,
};

use crate::integrity::admin::{require_json, Admin};
use crate::integrity::audit;
use crate::packages::publishers::rfc3339;
use crate::{ApiError, AppState};

/// Longest token lifetime accepted: ten years.
const MAX_EXPIRY_SECS: u64 = 10 * 366 * 24 * 3600;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/admin/users", get(list_users).post(add_user))
        .route("/api/admin/users/{name}/disable", post(disable_user))
        .route("/api/admin/tokens", get(list_tokens).post(issue_token))
        .route("/api/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/api/admin/owners", get(list_owners).post(add_owner))
        .route("/api/admin/owners/remove", post(remove_owner))
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "ADMIN_E006", detail)
}

fn not_found(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ADMIN_E008", detail)
}

fn meta_err(e: MetaError) -> ApiError {
    match e {
        MetaError::UserExists { name } => ApiError::new(
            StatusCode::CONFLICT,
            "ADMIN_E009",
            format!("user {name:?} already exists"),
        ),
        MetaError::UnknownPackage { name } => not_found(format!("no package named {name}")),
        MetaError::UserDisabled { id } => ApiError::new(
            StatusCode::CONFLICT,
            "ADMIN_E010",
            format!("user {id} is disabled: no token is issued to it"),
        ),
        other => ApiError::internal(&other),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("expected {expected}: {e}")))
}

/// A user name: 1 to 200 of `[A-Za-z0-9._-]`, so it is safe in audit actors and URLs.
fn valid_name(name: &str) -> bool {
    (1..=200).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn user_json(u: &User) -> Value {
    json!({
        "id": u.id.0,
        "name": u.name,
        "email": u.email,
        "created_at": rfc3339(u.created_at),
        "disabled_at": u.disabled_at.map(rfc3339),
    })
}

fn token_json(t: &ApiToken, user: &str, now: Timestamp) -> Value {
    let state = if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": t.id.0,
        "user": user,
        "label": t.label,
        "scope": t.scope.as_str(),
        "packages": t.packages,
        "created_at": rfc3339(t.created_at),
        "expires_at": t.expires_at.map(rfc3339),
        "revoked_at": t.revoked_at.map(rfc3339),
        "state": state,
    })
}

async fn user_named(state: &AppState, name: &str) -> Result<User, ApiError> {
    state
        .meta
        .user_by_name(name)
        .await
        .map_err(meta_err)?
        .ok_or_else(|| not_found(format!("no user named {name:?}")))
}

async fn record(
    state: &AppState,
    admin: &Admin,
    event: &str,
    subject: &str,
    details: Value,
) -> Result<(), ApiError> {
    audit::record(state, event, Some(&admin.actor()), Some(subject), details)
        .await
        .map(|_| ())
        .map_err(|e| ApiError::internal(&e))
}

/// `GET /api/admin/users`.
async fn list_users(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
) -> Result<Json<Value>, ApiError> {
    let users = state.meta.list_users().await.map_err(meta_err)?;
    Ok(Json(
        json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddUser {
    name: String,
    #[serde(default)]
    email: Option<String>,
}

/// `POST /api/admin/users` with `{"name", "email"?}`.
async fn add_user(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let req: AddUser = parse(&body, r#"{"name": "...", "email": "..."}"#)?;
    if !valid_name(&req.name) {
        return Err(bad(format!(
            "user name: expected 1 to 200 of [A-Za-z0-9._-], found {:?}",
            req.name
        )));
    }
    if let Some(e) = &req.email {
        if e.len() > 255 || e.split_once('@').is_none() || e.chars().any(char::is_whitespace) {
            return Err(bad(format!("email: expected an address, found {e:?}")));
        }
    }
    let user = state
        .meta
        .create_user(&req.name, req.email.as_deref(), Timestamp::now())
        .await
        .map_err(meta_err)?;
    record(
        &state,
        &admin,
        "user.create",
        &format!("user:{}", user.name),
        json!({"id": user.id.0, "name": user.name}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"user": user_json(&user)}))).into_response())
}

/// `POST /api/admin/users/{name}/disable`: every token of the user stops working at
/// the commit (they are checked against the user on each request).
async fn disable_user(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let user = user_named(&state, &name).await?;
    let changed = state
        .meta
        .disable_user(user.id, Timestamp::now())
        .await
        .map_err(meta_err)?;
    if changed {
        record(
            &state,
            &admin,
            "user.disable",
            &format!("user:{}", user.name),
            json!({"id": user.id.0}),
        )
        .await?;
    }
    let user = user_named(&state, &name).await?;
    Ok(Json(json!({"user": user_json(&user), "changed": changed})))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    user: Option<String>,
}

/// `GET /api/admin/tokens[?user=NAME]`: every token's metadata (never a secret).
async fn list_tokens(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    Query(q): Query<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let users = match q.user {
        Some(name) => vec![user_named(&state, &name).await?],
        None => state.meta.list_users().await.map_err(meta_err)?,
    };
    let now = Timestamp::now();
    let mut out = Vec::new();
    for u in &users {
        for t in state.meta.tokens(u.id).await.map_err(meta_err)? {
            out.push(token_json(&t, &u.name, now));
        }
    }
    Ok(Json(json!({"tokens": out})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueToken {
    user: String,
    scope: String,
    #[serde(default)]
    packages: Option<Vec<String>>,
    #[serde(default)]
    expires_in_secs: Option<u64>,
    #[serde(default)]
    label: Option<String>,
}

/// `POST /api/admin/tokens` with `{"user", "scope": "admin"|"owner", "packages"?,
/// "expires_in_secs"?, "label"?}`: the answer carries the token, the only time it is
/// shown (only its SHA-256 is stored).
async fn issue_token(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let req: IssueToken = parse(
        &body,
        r#"{"user": "...", "scope": "admin" or "owner", "packages": [...], "expires_in_secs": N}"#,
    )?;
    let scope = TokenScope::parse(&req.scope).ok_or_else(|| {
        bad(format!(
            "scope: expected \"admin\" or \"owner\", found {:?}",
            req.scope
        ))
    })?;
    let packages = match (scope, req.packages) {
        (TokenScope::Admin, Some(_)) => {
            return Err(bad("packages: only owner tokens are limited to packages"))
        }
        (_, Some(p)) if p.is_empty() => {
            return Err(bad("packages: name at least one package, or leave it out"))
        }
        (_, Some(p)) => {
            let mut names = Vec::with_capacity(p.len());
            for n in p {
                let parsed =
                    PackageName::parse(&n).map_err(|e| bad(format!("packages: {n:?}: {e}")))?;
                names.push(parsed.to_string());
            }
            names.sort();
            names.dedup();
            Some(names)
        }
        (_, None) => None,
    };
    let now = Timestamp::now();
    let expires_at = match req.expires_in_secs {
        None => None,
        Some(s) if s == 0 || s > MAX_EXPIRY_SECS => {
            return Err(bad(format!(
                "expires_in_secs: expected 1 to {MAX_EXPIRY_SECS}, found {s}"
            )))
        }
        Some(s) => Some(Timestamp(now.0.saturating_add(s as i64))),
    };
    let label = req
        .label
        .unwrap_or_else(|| format!("issued by {}", admin.actor()));
    if label.len() > 200 || label.chars().any(char::is_control) {
        return Err(bad("label: at most 200 characters, no control characters"));
    }
    let user = user_named(&state, &req.user).await?;
    let (token, secret) = state
        .meta
        .issue_token(
            &NewToken {
                user: user.id,
                label: &label,
                scope,
                packages: packages.as_deref(),
                expires_at,
            },
            now,
        )
        .await
        .map_err(meta_err)?;
    record(
        &state,
        &admin,
        "token.issue",
        &format!("user:{}", user.name),
        json!({
            "tokenId": token.id.0,
            "scope": scope.as_str(),
            "packages": token.packages,
            "expiresAt": token.expires_at.map(|t| t.0),
        }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": token_json(&token, &user.name, now),
            "secret": secret.expose(),
        })),
    )
        .into_response())
}

/// `POST /api/admin/tokens/{id}/revoke` (idempotent: the first time is kept).
async fn revoke_token(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let id = TokenId(id);
    let before = state
        .meta
        .token(id)
        .await
        .map_err(meta_err)?
        .ok_or_else(|| not_found(format!("no token {id}")))?;
    state
        .meta
        .revoke_token(id, Timestamp::now())
        .await
        .map_err(meta_err)?;
    let user = state
        .meta
        .user(before.user_id)
        .await
        .map_err(meta_err)?
        .map(|u| u.name)
        .unwrap_or_default();
    let changed = before.revoked_at.is_none();
    if changed {
        record(
            &state,
            &admin,
            "token.revoke",
            &format!("user:{user}"),
            json!({"tokenId": id.0}),
        )
        .await?;
    }
    let after = state
        .meta
        .token(id)
        .await
        .map_err(meta_err)?
        .ok_or_else(|| not_found(format!("no token {id}")))?;
    Ok(Json(json!({
        "token": token_json(&after, &user, Timestamp::now()),
        "changed": changed,
    })))
}

#[derive(Debug, Deserialize)]
struct OwnersQuery {
    package: String,
}

fn package_name(p: &str) -> Result<String, ApiError> {
    PackageName::parse(p)
        .map(|n| n.to_string())
        .map_err(|e| bad(format!("package: {p:?}: {e}")))
}

/// `GET /api/admin/owners?package=@scope/name`.
async fn list_owners(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    Query(q): Query<OwnersQuery>,
) -> Result<Json<Value>, ApiError> {
    let name = package_name(&q.package)?;
    if state.meta.package(&name).await.map_err(meta_err)?.is_none() {
        return Err(not_found(format!("no package named {name}")));
    }
    let owners = state.meta.owners(&name).await.map_err(meta_err)?;
    Ok(Json(json!({
        "package": name,
        "owners": owners.iter().map(user_json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerChange {
    package: String,
    user: String,
}

async fn owner_change(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, UserId, String), ApiError> {
    require_json(headers)?;
    let req: OwnerChange = parse(body, r#"{"package": "@scope/name", "user": "..."}"#)?;
    let name = package_name(&req.package)?;
    let user = user_named(state, &req.user).await?;
    Ok((name, user.id, user.name))
}

/// `POST /api/admin/owners` with `{"package", "user"}` (idempotent).
async fn add_owner(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (name, user, user_name) = owner_change(&state, &headers, &body).await?;
    let was = state.meta.owners(&name).await.map_err(meta_err)?;
    state
        .meta
        .add_owner(&name, user, Timestamp::now())
        .await
        .map_err(meta_err)?;
    let changed = !was.iter().any(|u| u.id == user);
    if changed {
        record(
            &state,
            &admin,
            "package.owner_add",
            &name,
            json!({"user": user_name}),
        )
        .await?;
    }
    Ok(Json(
        json!({"package": name, "user": user_name, "changed": changed}),
    ))
}

/// `POST /api/admin/owners/remove` with `{"package", "user"}`.
async fn remove_owner(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (name, user, user_name) = owner_change(&state, &headers, &body).await?;
    let changed = state
        .meta
        .remove_owner(&name, user)
        .await
        .map_err(meta_err)?;
    if changed {
        record(
            &state,
            &admin,
            "package.owner_remove",
            &name,
            json!({"user": user_name}),
        )
        .await?;
    }
    Ok(Json(
        json!({"package": name, "user": user_name, "changed": changed}),
    ))
}
