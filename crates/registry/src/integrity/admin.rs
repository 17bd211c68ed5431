//! Administrator authentication (bearer tokens hashed at rest, constant-time comparison, sign-ins audited) and the instance-security endpoints: key set, status, rotation, hash budget, backfill.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_store::meta::{TokenCheck, TokenScope};

use super::audit;
use super::error::{self, BootError};
use super::{ADMIN_TOKEN_FILE, HASH_BUDGET_SETTING, MAX_HASH_BUDGET};
use crate::{ApiError, AppState};

/// An authenticated administrator: a legacy admin token (`--dev`'s `admin.token`, by
/// id and label) or an admin-scope API token of a user (by token id and user name).
#[derive(Debug, Clone)]
pub struct Admin {
    pub token_id: i64,
    pub label: String,
    /// Set for an admin-scope API token: its user.
    pub user: Option<vouch_store::meta::UserId>,
}

impl Admin {
    /// The audit actor: `admin:<label>#<id>` for a legacy admin token,
    /// `admin:<user>#t<id>` for a user's admin-scope API token (the ids are separate).
    pub fn actor(&self) -> String {
        match self.user {
            None => format!("admin:{}#{}", self.label, self.token_id),
            Some(_) => format!("admin:{}#t{}", self.label, self.token_id),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        // Only the Authorization header authenticates: the JSON API never reads
        // cookies, so a cross-site request cannot ride on a browser session.
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(error::admin_missing());
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        if secret.is_empty() {
            return Err(error::admin_missing());
        }
        let client = crate::web::throttle::client_of(&parts.extensions);
        if let Err(wait) = state.web.sign_ins.check(client) {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ADMIN_E011",
                format!("too many failed sign-ins from this address: retry in {wait} s"),
            );
            e.retry_after = Some(wait);
            return Err(e);
        }
        let found = state
            .meta
            .authenticate_admin(secret)
            .await
            .map_err(error::meta)?;
        let admin = match found {
            Some(token) => Admin {
                token_id: token.id,
                label: token.label,
                user: None,
            },
            None => {
                let check = state
                    .meta
                    .check_token(secret, vouch_store::meta::Timestamp::now())
                    .await
                    .map_err(error::meta)?;
                match check {
                    TokenCheck::Valid(user, token) if token.scope == TokenScope::Admin => Admin {
                        token_id: token.id.0,
                        label: user.name,
                        user: Some(user.id),
                    },
                    other => {
                        let (reason, refusal) = match &other {
                            TokenCheck::Unknown => ("unknown token", error::admin_invalid()),
                            TokenCheck::Valid(_, t) => (
                                "owner token",
                                crate::packages::codes::wrong_scope(t.scope, TokenScope::Admin),
                            ),
                            TokenCheck::Revoked(_) => {
                                ("revoked token", crate::packages::auth::refusal(&other))
                            }
                            TokenCheck::Expired(_) => {
                                ("expired token", crate::packages::auth::refusal(&other))
                            }
                            TokenCheck::UserDisabled(_) => {
                                ("disabled user", crate::packages::auth::refusal(&other))
                            }
                        };
                        // Failed sign-ins are audited (never with the presented secret), at
                        // most twice per client and window (see `web::throttle`).
                        if let Some((event, details)) = crate::web::throttle::audit_row(
                            state.web.sign_ins.failed(client),
                            json!({"reason": reason, "path": parts.uri.path()}),
                        ) {
                            let _ = audit::record(state, event, None, None, details).await;
                        }
                        return Err(refusal);
                    }
                }
            }
        };
        let first = state
            .integrity
            .admin_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(admin.actor());
        if first {
            audit::record(
                state,
                "admin.sign_in",
                Some(&admin.actor()),
                None,
                json!({"tokenId": admin.token_id}),
            )
            .await
            .map_err(error::meta)?;
        }
        Ok(admin)
    }
}

/// CSRF guard for state-changing requests: the body type must be JSON, which a
/// cross-site HTML form cannot send.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(error::admin_not_json(ct))
    }
}

/// `GET /.well-known/registry-key.json`: cacheable for five minutes, with an ETag.
pub(crate) async fn jwks(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let jwks = state.integrity.jwks();
    let etag = HeaderValue::from_str(&jwks.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = HeaderValue::from_static("public, max-age=300");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == jwks.etag.as_bytes())
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        jwks.body,
    )
        .into_response()
}

fn keys_json(state: &AppState) -> Value {
    let keys: Vec<Value> = state
        .integrity
        .key_info()
        .into_iter()
        .map(|k| {
            json!({
                "kid": k.kid,
                "created_at": k.created_at.0,
                "retired_at": k.retired_at.map(|t| t.0),
                "current": k.retired_at.is_none(),
            })
        })
        .collect();
    json!(keys)
}

/// `GET /api/admin/instance/security`.
pub(crate) async fn status(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({
        "current_kid": state.integrity.current_kid(),
        "keys": keys_json(&state),
        "instance_id": state.integrity.instance_id(),
        "hash_budget_bytes": state.integrity.hash_budget(),
        "max_hash_budget_bytes": MAX_HASH_BUDGET,
        "backfill_running": state.integrity.backfill_running.load(std::sync::atomic::Ordering::Relaxed),
    })))
}

/// `POST /api/admin/instance/security/rotate`: a new current key; every retired key
/// stays in the key set. Publishes arriving meanwhile get PUB_E008.
pub(crate) async fn rotate(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    // Holds this node's publish gate while it runs. Other nodes keep signing with
    // the old key until their next key refresh (at most `[integrity]
    // key_refresh_secs`), which is harmless: the old key stays in the set.
    let Some((old, new)) = state
        .integrity
        .rotate(
            state.meta.as_ref(),
            &state.enc_key,
            &state.packages.rotation,
        )
        .await?
    else {
        return Err(error::admin_busy());
    };
    audit::record(
        &state,
        "registry.signing_key.rotate",
        Some(&admin.actor()),
        None,
        json!({"oldKid": old, "newKid": new}),
    )
    .await
    .map_err(error::meta)?;
    tracing::info!(old_kid = %old, new_kid = %new, "registry signing key rotated");
    Ok(Json(json!({
        "old_kid": old,
        "new_kid": new,
        "keys": keys_json(&state),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BudgetBody {
    bytes: u64,
}

/// `PUT /api/admin/instance/security/hash-budget` with `{"bytes": N}` (at most 16 GiB).
pub(crate) async fn hash_budget(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let body: BudgetBody = serde_json::from_slice(&body)
        .map_err(|e| error::admin_bad_request(format!("expected {{\"bytes\": N}}: {e}")))?;
    if body.bytes > MAX_HASH_BUDGET {
        return Err(error::admin_bad_setting(format!(
            "hash budget {} bytes is over the maximum of {MAX_HASH_BUDGET} (16 GiB)",
            body.bytes
        )));
    }
    let old = state.integrity.hash_budget();
    state
        .meta
        .put_setting(
            HASH_BUDGET_SETTING,
            &body.bytes.to_string(),
            vouch_store::meta::Timestamp::now(),
        )
        .await
        .map_err(error::meta)?;
    state.integrity.set_hash_budget(body.bytes);
    audit::record(
        &state,
        "settings.hash_budget",
        Some(&admin.actor()),
        None,
        json!({"old": old, "new": body.bytes}),
    )
    .await
    .map_err(error::meta)?;
    Ok(Json(json!({"hash_budget_bytes": body.bytes})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeGrantBody {
    user: String,
}

/// `POST /api/admin/scopes/{scope}/owners` with `{"user": NAME}`: makes the user an
/// owner of the scope (claiming it if nobody owns it yet), so they may create packages
/// and pending bindings in it. Idempotent; audited as `scope.grant`.
pub(crate) async fn grant_scope(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(scope): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let body: ScopeGrantBody = serde_json::from_slice(&body)
        .map_err(|e| error::admin_bad_request(format!("expected {{\"user\": NAME}}: {e}")))?;
    let scope = scope.strip_prefix('@').unwrap_or(&scope).to_owned();
    // The package-name grammar decides what a scope may be.
    vouch_package::PackageName::parse(&format!("@{scope}/x")).map_err(|e| {
        error::admin_bad_request(format!("scope {scope:?} is not a valid scope: {e}"))
    })?;
    let user = state
        .meta
        .user_by_name(&body.user)
        .await
        .map_err(error::meta)?
        .ok_or_else(|| error::admin_bad_request(format!("no user named {:?}", body.user)))?;
    state
        .meta
        .grant_scope(&scope, user.id, vouch_store::meta::Timestamp::now())
        .await
        .map_err(error::meta)?;
    let owners: Vec<String> = state
        .meta
        .scope_owners(&scope)
        .await
        .map_err(error::meta)?
        .into_iter()
        .map(|u| u.name)
        .collect();
    audit::record(
        &state,
        "scope.grant",
        Some(&admin.actor()),
        Some(&format!("@{scope}")),
        json!({"user": user.name}),
    )
    .await
    .map_err(error::meta)?;
    Ok(Json(json!({"scope": scope, "owners": owners})))
}

/// `POST /api/admin/instance/security/backfill`: 202, the work runs in the background
/// and reports through the audit log (`release.backfill_run`).
pub(crate) async fn backfill(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let started = super::backfill::spawn(Arc::clone(&state), admin.actor());
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"started": started, "running": true})),
    )
        .into_response())
}

/// `--dev`: writes a fresh administrator token to `DATA/admin.token` (0600) unless
/// the file exists.
pub(crate) async fn write_dev_token(state: &AppState) -> Result<(), BootError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = state.data_dir.join(ADMIN_TOKEN_FILE);
    if path.exists() {
        return Ok(());
    }
    let (_, secret) = state
        .meta
        .create_admin_token("dev", vouch_store::meta::Timestamp::now())
        .await?;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| {
            f.write_all(secret.expose().as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()
        });
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the dev admin token");
    }
    Ok(())
}
