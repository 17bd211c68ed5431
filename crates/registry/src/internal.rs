//! `POST <prefix>/internal/add-entry`: the authenticated add-entry endpoint for other vouch parts running out of process.
//!
//! In-process callers use `vouch_log::Log::add` directly. This endpoint exists only
//! when a bearer token is configured (`[internal] token_env`, or `--dev`); the body is
//! the raw entry (at most 65,535 bytes, tlog-tiles' entry bundle limit: larger entries
//! get 413 SERVE_E004). The answer comes once the entry is committed:
//! `{"index": N, "checkpoint_size": M}`. A full pool is 429 with `Retry-After`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::ApiError;

pub async fn add_entry(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(token) = app.internal_token.as_deref() else {
        return Err(ApiError::not_found(
            "the internal add-entry endpoint is disabled",
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        return Err(ApiError::unauthorized());
    }
    let index = app.log.add(body).await?;
    Ok(Json(serde_json::json!({
        "index": index,
        "checkpoint_size": app.log.latest().size,
    })))
}
