//! The token-gated internal routes: `POST <prefix>/internal/add-entry` (one entry, for other vouch parts running out of process) and `POST /internal/log/add` (a follower's forwarded batch, [`crate::cluster`]).
//!
//! In-process callers use [`crate::cluster::LogWriter::add`]. Both routes exist only
//! when a bearer token is configured (`[internal] token_env`, or `--dev`): without one
//! they answer 404 SERVE_E002; a missing or wrong token is 401 SERVE_E006 (compared in
//! constant time). They must never be routed publicly: the load balancer forwards only
//! public paths, and the token is the instance's shared secret.
//!
//! `add-entry`: the body is the raw entry (at most 65,535 bytes, tlog-tiles' entry
//! bundle limit: larger entries get 413 SERVE_E004). The answer comes once the entry is
//! committed: `{"index": N, "checkpoint_size": M}`. A full pool is 429 with `Retry-After`.
//!
//! `log/add`: the body is [`crate::cluster::encode_batch`]'s framing (the log's origin,
//! then the entries); only the leader of that log accepts it (a follower answers 503
//! SERVE_E013). The answer, once every entry was acknowledged or refused, is a
//! [`crate::cluster::BatchAnswer`]: one result per entry and the signed note of a
//! committed checkpoint covering every acknowledged one.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::cluster::{decode_batch, BatchAnswer, EntryResult, LogWriter};
use crate::ApiError;

/// Refuses a request without the instance's internal token.
fn authorize(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = app.internal_token.as_deref() else {
        return Err(ApiError::not_found("the internal endpoints are disabled"));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        return Err(ApiError::unauthorized());
    }
    Ok(())
}

pub async fn add_entry(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&app, &headers)?;
    let appended = app.log.add(body).await?;
    Ok(Json(serde_json::json!({
        "index": appended.index,
        "checkpoint_size": appended.checkpoint.size,
    })))
}

/// 503 for a forwarded batch that reached a node not leading the log.
pub(crate) fn not_leader(origin: &str) -> ApiError {
    ApiError {
        retry_after: Some(1),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVE_E013",
            format!("this node does not lead the log {origin}; nothing was logged"),
        )
    }
}

/// `POST /internal/log/add`: sequences a follower's batch on this (leading) node.
pub async fn add_batch(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BatchAnswer>, ApiError> {
    authorize(&app, &headers)?;
    let (origin, entries) =
        decode_batch(&body).ok_or_else(|| ApiError::bad_request("not a log batch"))?;
    let writer: &LogWriter = if origin == app.log.origin() {
        &app.log
    } else if origin == app.sigstore.ct_log.origin() {
        &app.sigstore.ct_log
    } else {
        return Err(ApiError::not_found(format!(
            "no log with origin {origin:?}"
        )));
    };
    let Some(log) = writer.local() else {
        return Err(not_leader(&origin));
    };
    let mut waits = Vec::with_capacity(entries.len());
    for e in entries {
        waits.push(log.enqueue(e));
    }
    let mut results = Vec::with_capacity(waits.len());
    for w in waits {
        let r = match w {
            Ok(rx) => rx.await.unwrap_or(Err(vouch_log::LogError::Closed)),
            Err(e) => Err(e),
        };
        results.push(match r {
            Ok(index) => EntryResult {
                index: Some(index),
                ..EntryResult::default()
            },
            Err(e) => {
                let api = ApiError::from(e);
                EntryResult {
                    index: None,
                    status: Some(api.status.as_u16()),
                    code: Some(api.code.to_owned()),
                    detail: Some(api.detail),
                    retry_after: api.retry_after,
                }
            }
        });
    }
    // Published before any of them was acknowledged, so it covers every index above.
    let checkpoint =
        String::from_utf8(log.latest().note.to_vec()).map_err(|e| ApiError::internal(&e))?;
    Ok(Json(BatchAnswer {
        checkpoint,
        results,
    }))
}
