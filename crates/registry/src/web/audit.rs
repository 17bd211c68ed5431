//! The Audit log page (`/admin/audit`): the append-only audit events, filtered by action prefix, oldest first, paged by id cursor.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use vouch_store::meta::{AuditFilter, AuditId};

use super::html::{self, esc, query_value, Viewer};
use super::session::AdminSession;
use super::{html_response, WebError};
use crate::AppState;

/// Events per page.
pub const PAGE: u32 = 50;

/// `?action=PREFIX&cursor=ID`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /admin/audit`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    who: AdminSession,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let Query(q) =
        query.map_err(|e| WebError::bad_field("query", "action and cursor", &e.body_text()))?;
    let action = q
        .action
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty());
    let cursor = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| WebError::bad_field("cursor", "an event id", c))?,
        ),
        None => None,
    };
    let events = state
        .meta
        .list_audit(&AuditFilter {
            event_prefix: action.clone(),
            after: cursor.map(AuditId),
            limit: PAGE,
            ..AuditFilter::default()
        })
        .await
        .map_err(WebError::meta)?;
    let mut body = format!(
        r#"<form method="get" action="/admin/audit" class="stack">
<label for="action">Action starts with</label>
<input type="text" id="action" name="action" value="{}" placeholder="e.g. registry.signing_key or release.">
<button type="submit" id="filter">Filter</button>
<a href="/admin/audit">Clear</a>
</form>"#,
        esc(action.as_deref().unwrap_or(""))
    );
    if events.is_empty() {
        body.push_str(r#"<p class="status-muted" id="no-events">No events on this page.</p>"#);
    } else {
        body.push_str(
            r#"<table id="audit"><thead><tr><th>id</th><th>time</th><th>action</th><th>actor</th><th>subject</th><th>details</th></tr></thead><tbody>"#,
        );
        for e in &events {
            body.push_str(&format!(
                r#"<tr><td>{}</td><td>{}</td><td><code class="action">{}</code></td><td>{}</td><td>{}</td><td class="details">{}</td></tr>"#,
                e.id.0,
                esc(&html::time(e.at)),
                esc(&e.event),
                esc(e.actor.as_deref().unwrap_or("")),
                esc(e.subject.as_deref().unwrap_or("")),
                html::details(&e.details_json)
            ));
        }
        body.push_str("</tbody></table>");
    }
    let filter = action
        .as_deref()
        .map(|a| format!("action={}&", query_value(a)))
        .unwrap_or_default();
    body.push_str(r#"<p class="pager">"#);
    if cursor.is_some() {
        body.push_str(&format!(
            r#"<a id="first-page" href="/admin/audit?{}">First page</a>"#,
            esc(filter.trim_end_matches('&'))
        ));
    }
    if events.len() == PAGE as usize {
        if let Some(last) = events.last() {
            body.push_str(&format!(
                r#"<a id="next-page" href="/admin/audit?{}cursor={}">Next page</a>"#,
                esc(&filter),
                last.id.0
            ));
        }
    }
    body.push_str("</p>");
    let viewer = Viewer::Admin {
        label: &who.session.label,
        csrf: &who.session.csrf,
    };
    Ok(html_response(
        StatusCode::OK,
        html::page("Audit log", &viewer, &body),
    ))
}
