//! The rest of cargo's web API (yank, unyank, owners) and what crates.io shows about versions (`GET /api/v1/crates/{name}/versions` with `num`, `checksum`, `yanked`, `trustpub_data`, `published_by`), plus each version's integrity record.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_store::meta::{cargo_name_norm, CargoCrate, Timestamp, User};

use super::index::require_reader;
use super::trustpub::user_of;
use super::CargoError;
use crate::AppState;

async fn krate(state: &AppState, name: &str) -> Result<CargoCrate, CargoError> {
    state
        .meta
        .cargo_crate(name)
        .await?
        .ok_or_else(|| CargoError::not_found(format!("no crate named {name}")))
}

/// The crate, for a reader (CARGO_E008 when there is none).
async fn readable(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
) -> Result<CargoCrate, CargoError> {
    require_reader(state, headers).await?;
    krate(state, name).await
}

/// The crate and the token's user, who must own it (CARGO_E007 otherwise).
async fn owned(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
) -> Result<(CargoCrate, User), CargoError> {
    let user = user_of(state, headers).await?;
    let c = krate(state, name).await?;
    let owners = state.meta.cargo_owners(c.id).await?;
    if !owners.iter().any(|o| o.id == user.id) {
        return Err(CargoError::forbidden(format!(
            "user {} is not an owner of crate {}",
            user.name, c.name
        )));
    }
    Ok((c, user))
}

async fn set_yank(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    vers: &str,
    yanked: bool,
) -> Result<Response, CargoError> {
    let (c, user) = owned(state, headers, name).await?;
    let now = Timestamp::now();
    if !state.meta.cargo_set_yanked(c.id, vers, yanked, now).await? {
        return Err(CargoError::not_found(format!(
            "crate {name} has no version {vers}"
        )));
    }
    state.cargo.invalidate(&cargo_name_norm(name));
    let event = if yanked { "cargo.yank" } else { "cargo.unyank" };
    state
        .meta
        .append_audit(
            event,
            Some(&user.name),
            Some(&format!("cargo:{}@{vers}", c.name)),
            &json!({"crate": c.name, "vers": vers}).to_string(),
            now,
        )
        .await?;
    Ok(axum::Json(json!({"ok": true})).into_response())
}

/// `DELETE /api/v1/crates/{name}/{version}/yank` (`YANKED`) and
/// `PUT /api/v1/crates/{name}/{version}/unyank` (an owner's token).
pub async fn yank<const YANKED: bool>(
    State(state): State<Arc<AppState>>,
    Path((name, vers)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, CargoError> {
    set_yank(&state, &headers, &name, &vers, YANKED).await
}

fn user_json(u: &User) -> Value {
    json!({"id": u.id.0, "login": u.name, "name": u.name, "kind": "user"})
}

/// `GET /api/v1/crates/{name}/owners`.
pub async fn owners(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, CargoError> {
    let c = readable(&state, &headers, &name).await?;
    let users: Vec<Value> = state
        .meta
        .cargo_owners(c.id)
        .await?
        .iter()
        .map(user_json)
        .collect();
    Ok(axum::Json(json!({"users": users})).into_response())
}

#[derive(Debug, Deserialize)]
struct OwnersBody {
    users: Vec<String>,
}

async fn change_owners(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    body: &[u8],
    add: bool,
) -> Result<Response, CargoError> {
    let (c, actor) = owned(state, headers, name).await?;
    let body: OwnersBody = serde_json::from_slice(body).map_err(|e| {
        CargoError::owners(format!("expected {{\"users\": [\"LOGIN\", ...]}}: {e}"))
    })?;
    let now = Timestamp::now();
    let mut done = Vec::new();
    for login in &body.users {
        let user = state
            .meta
            .user_by_name(login)
            .await?
            .ok_or_else(|| CargoError::owners(format!("no user named {login:?}")))?;
        if add {
            state.meta.cargo_add_owner(c.id, user.id, now).await?;
        } else if !state.meta.cargo_remove_owner(c.id, user.id).await? {
            return Err(CargoError::owners(format!(
                "{login} cannot be removed from crate {}: not an owner, or its last owner",
                c.name
            )));
        }
        state
            .meta
            .append_audit(
                if add {
                    "cargo.owner.added"
                } else {
                    "cargo.owner.removed"
                },
                Some(&actor.name),
                Some(&format!("cargo:{}", c.name)),
                &json!({"crate": c.name, "user": login}).to_string(),
                now,
            )
            .await?;
        done.push(login.clone());
    }
    let verb = if add { "added" } else { "removed" };
    Ok(axum::Json(json!({
        "ok": true,
        "msg": format!("{verb} {} as owners of crate {}", done.join(", "), c.name),
    }))
    .into_response())
}

/// `PUT /api/v1/crates/{name}/owners` (`ADD`) and `DELETE /api/v1/crates/{name}/owners`
/// with `{"users": [...]}` (an owner's token).
pub async fn change_owners_route<const ADD: bool>(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, CargoError> {
    change_owners(&state, &headers, &name, &body, ADD).await
}

/// `GET /api/v1/crates/{name}/versions`: newest first, crates.io's fields, and
/// `vouch_provenance` (the canonical JSON each version's integrity record commits to).
pub async fn versions(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, CargoError> {
    let c = readable(&state, &headers, &name).await?;
    let versions = state.meta.cargo_versions(c.id).await?;
    let parse = |s: &Option<String>| -> Value {
        s.as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null)
    };
    let list: Vec<Value> = versions
        .iter()
        .rev()
        .map(|v| {
            let p = &v.published;
            json!({
                "id": v.id,
                "crate": c.name,
                "num": p.vers,
                "checksum": p.cksum,
                "yanked": v.yanked,
                "crate_size": p.size,
                "created_at": super::index::http_date(p.pubtime.0),
                "dl_path": format!("/api/v1/crates/{}/{}/download", c.name, p.vers),
                "published_by": parse(&p.published_by),
                "trustpub_data": parse(&p.trustpub_data),
                "vouch_provenance": p.provenance,
            })
        })
        .collect();
    let total = list.len();
    Ok(axum::Json(json!({
        "versions": list,
        "meta": {"total": total, "next_page": null},
    }))
    .into_response())
}

/// `GET /api/v1/crates/{name}/{version}/integrity`: the version's signed record with
/// its inclusion proof and checkpoint (the shape of the package and release routes).
pub async fn integrity(
    State(state): State<Arc<AppState>>,
    Path((name, vers)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, CargoError> {
    let c = readable(&state, &headers, &name).await?;
    Ok(crate::integrity::records::crate_integrity_response(&state, &c.name, &vers).await?)
}
