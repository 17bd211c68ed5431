//! Audit events of the integrity service (appended to the store's append-only audit log) and `GET /api/admin/audit` with filters and id-cursor paging.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_store::meta::{AuditFilter, AuditId, Timestamp, MAX_AUDIT_PAGE};

use super::admin::Admin;
use super::error;
use crate::{ApiError, AppState};

/// Appends one audit event. The audit log is the record of security-relevant actions,
/// so a failure to write it is returned to the caller, which decides whether the
/// action may proceed (admin actions fail; ingest logs it and continues).
pub async fn record(
    state: &AppState,
    event: &str,
    actor: Option<&str>,
    subject: Option<&str>,
    details: Value,
) -> Result<AuditId, vouch_store::meta::MetaError> {
    let res = state
        .meta
        .append_audit(
            event,
            actor,
            subject,
            &details.to_string(),
            Timestamp::now(),
        )
        .await;
    if let Err(e) = &res {
        tracing::error!(event, error = %e, "audit append failed");
    }
    res
}

/// Query of `GET /api/admin/audit`. Times are Unix seconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Event name prefix (`release.` matches `release.asset_hashed`).
    action: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
    subject: Option<String>,
}

/// `GET /api/admin/audit`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| error::admin_bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_AUDIT_PAGE);
    let filter = AuditFilter {
        event_prefix: q.action.filter(|a| !a.is_empty()),
        subject: q.subject,
        since: q.since.map(Timestamp),
        until: q.until.map(Timestamp),
        after: q.cursor.map(AuditId),
        limit,
    };
    let events = state.meta.list_audit(&filter).await.map_err(error::meta)?;
    let next = if events.len() == limit as usize {
        events.last().map(|e| e.id.0)
    } else {
        None
    };
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id.0,
                "action": e.event,
                "actor": e.actor,
                "subject": e.subject,
                "details": serde_json::from_str::<Value>(&e.details_json).unwrap_or(Value::Null),
                "at": e.at.0,
            })
        })
        .collect();
    Ok(Json(json!({"events": events, "next_cursor": next})))
}
