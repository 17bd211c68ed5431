//! Owners yank and un-yank a Python release (PEP 592): `POST` and `DELETE /api/v1/pypi/<project>/<version>/yank` with an owner API token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_store::meta::Timestamp;

use super::error::{bad_upload, not_found};
use super::names;
use crate::packages::{auth, codes};
use crate::{ApiError, AppState};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct YankRequest {
    #[serde(default)]
    reason: String,
}

async fn set(
    app: &AppState,
    headers: &HeaderMap,
    project: &str,
    version: &str,
    reason: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let (user, token) = auth::owner(app.meta.as_ref(), headers).await?;
    let package = names::package_of(project);
    auth::may_act_on(&token, &package)?;
    let owners = app.meta.owners(&package).await.map_err(codes::meta)?;
    if !owners.iter().any(|o| o.id == user.id) {
        return Err(codes::not_owner(&user.name, &package));
    }
    let found = app
        .meta
        .pypi_set_yanked(&package, version, reason, Timestamp::now())
        .await
        .map_err(codes::meta)?;
    if !found {
        return Err(not_found(format!("release {project} {version}")));
    }
    app.pypi.changed(&names::normalize(project));
    Ok(Json(json!({
        "project": names::normalize(project),
        "version": version,
        "yanked": reason.is_some(),
        "reason": reason,
    })))
}

/// `POST /api/v1/pypi/<project>/<version>/yank` `{"reason": "..."}` (the body may be empty).
pub async fn yank(
    State(app): State<Arc<AppState>>,
    Path((project, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: YankRequest = if body.is_empty() {
        YankRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| bad_upload("expected JSON {\"reason\": \"...\"}"))?
    };
    set(&app, &headers, &project, &version, Some(&req.reason)).await
}

/// `DELETE /api/v1/pypi/<project>/<version>/yank`.
pub async fn unyank(
    State(app): State<Arc<AppState>>,
    Path((project, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    set(&app, &headers, &project, &version, None).await
}
