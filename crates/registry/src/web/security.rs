//! The Security page (`/admin/security`): the current and previous registry signing keys, key rotation behind a confirmation page, the asset hash budget form, and the integrity backfill with its progress and last result read from the audit log.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::Value;
use vouch_store::meta::{AuditEvent, AuditFilter, MAX_AUDIT_PAGE};

use super::auth::CsrfForm;
use super::html::{self, esc, Viewer};
use super::session::{AdminSession, Flash};
use super::{html_response, WebError};
use crate::integrity::{self, admin};
use crate::AppState;

/// The backfill's audit events (`release.backfill_started|progress|run`).
const BACKFILL_EVENTS: &str = "release.backfill_";
/// At most this many audit pages are read to find the latest backfill events.
const BACKFILL_SCAN_PAGES: u32 = 50;

/// The headers the integrity service's JSON handlers expect of a state-changing
/// request. Their `Content-Type` check is their CSRF guard; web forms reach them only
/// after passing this module's own (the session's synchronizer token).
fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

/// The latest backfill events: (started, progress, finished).
#[derive(Debug, Default)]
struct BackfillEvents {
    started: Option<AuditEvent>,
    progress: Option<AuditEvent>,
    run: Option<AuditEvent>,
}

async fn backfill_events(state: &AppState) -> Result<BackfillEvents, WebError> {
    let mut found = BackfillEvents::default();
    let mut after = None;
    for _ in 0..BACKFILL_SCAN_PAGES {
        let page = state
            .meta
            .list_audit(&AuditFilter {
                event_prefix: Some(BACKFILL_EVENTS.into()),
                after,
                limit: MAX_AUDIT_PAGE,
                ..AuditFilter::default()
            })
            .await
            .map_err(WebError::meta)?;
        let full = page.len() == MAX_AUDIT_PAGE as usize;
        after = page.last().map(|e| e.id);
        for e in page {
            match e.event.as_str() {
                "release.backfill_started" => {
                    found.started = Some(e);
                    found.progress = None;
                }
                "release.backfill_progress" => found.progress = Some(e),
                "release.backfill_run" => found.run = Some(e),
                _ => {}
            }
        }
        if !full {
            break;
        }
    }
    Ok(found)
}

fn detail_u64(e: &AuditEvent, field: &str) -> String {
    serde_json::from_str::<Value>(&e.details_json)
        .ok()
        .and_then(|v| v.get(field).and_then(Value::as_u64))
        .map(|n| n.to_string())
        .unwrap_or_else(|| "?".into())
}

fn backfill_html(state: &AppState, ev: &BackfillEvents, csrf: &str) -> String {
    let running = state.integrity.backfill_running.load(Ordering::Relaxed);
    let mut out = String::new();
    if running {
        out.push_str(r#"<p id="backfill-state"><span class="status-ok">Running</span>"#);
        if let Some(s) = &ev.started {
            out.push_str(&format!(
                " since {} (started by {})",
                esc(&html::time(s.at)),
                esc(s.actor.as_deref().unwrap_or("?"))
            ));
        }
        if let Some(p) = &ev.progress {
            out.push_str(&format!(
                "; {} subjects seen, {} records made, {} skipped, {} errors so far",
                detail_u64(p, "seen"),
                detail_u64(p, "processed"),
                detail_u64(p, "skipped"),
                detail_u64(p, "errors")
            ));
        }
        out.push_str(". Reload the page to follow it.</p>");
    } else {
        out.push_str(
            r#"<p id="backfill-state"><span class="status-muted">Not running.</span></p>"#,
        );
    }
    match &ev.run {
        Some(r) => out.push_str(&format!(
            r#"<p id="backfill-last">Last run finished {} (by {}): <strong>{}</strong> records made, <strong>{}</strong> assets skipped (over the hash budget), <strong>{}</strong> errors.</p>"#,
            esc(&html::time(r.at)),
            esc(r.actor.as_deref().unwrap_or("?")),
            detail_u64(r, "processed"),
            detail_u64(r, "skipped"),
            detail_u64(r, "errors"),
        )),
        None => out.push_str(r#"<p id="backfill-last">No backfill has run yet.</p>"#),
    }
    out.push_str(&format!(
        r#"<form method="post" action="/admin/security/backfill" class="stack">
<input type="hidden" name="csrf" value="{}">
<button type="submit" id="backfill"{}>Run backfill</button>
<span class="status-muted">Records every release and package version that has no integrity record; idempotent.</span>
</form>"#,
        esc(csrf),
        if running { " disabled" } else { "" }
    ));
    out
}

/// Renders the Security page with an optional notice.
async fn render(
    state: &AppState,
    who: &AdminSession,
    status: StatusCode,
    notice: Option<Flash>,
) -> Result<Response, WebError> {
    let csrf = &who.session.csrf;
    let keys = state.integrity.key_info();
    let mut body = String::new();
    if let Some(n) = notice.or_else(|| who.flash.clone()) {
        body.push_str(&html::notice(&n.kind, n.code.as_deref(), &n.text));
    }
    body.push_str("<h2>Registry signing key</h2>");
    match keys.iter().find(|k| k.retired_at.is_none()) {
        Some(cur) => body.push_str(&format!(
            r#"<dl><dt>Current kid</dt><dd><code id="current-kid">{}</code></dd>
<dt>Created</dt><dd id="current-created">{}</dd>
<dt>Key set</dt><dd><a href="/.well-known/registry-key.json">/.well-known/registry-key.json</a></dd></dl>"#,
            esc(&cur.kid),
            esc(&html::time(cur.created_at))
        )),
        None => body.push_str(&html::notice(
            "error",
            Some(crate::integrity::BootError::NoKey.code()),
            "the registry has no current signing key",
        )),
    }
    body.push_str(
        r#"<p><a class="button danger" id="rotate" href="/admin/security/rotate">Rotate signing key…</a></p>"#,
    );
    body.push_str("<h2>Previous keys</h2>");
    let retired: Vec<_> = keys.iter().filter(|k| k.retired_at.is_some()).collect();
    if retired.is_empty() {
        body.push_str(r#"<p id="previous-keys-empty" class="status-muted">None: this key was never rotated.</p>"#);
    } else {
        body.push_str(
            r#"<table id="previous-keys"><thead><tr><th>kid</th><th>created</th><th>retired</th></tr></thead><tbody>"#,
        );
        for k in retired {
            body.push_str(&format!(
                r#"<tr><td><code class="kid">{}</code></td><td>{}</td><td>{}</td></tr>"#,
                esc(&k.kid),
                esc(&html::time(k.created_at)),
                esc(&k.retired_at.map(html::time).unwrap_or_default())
            ));
        }
        body.push_str("</tbody></table>");
        body.push_str(r#"<p class="status-muted">Retired keys stay in the key set, so every record they signed keeps verifying.</p>"#);
    }
    let budget = state.integrity.hash_budget();
    body.push_str(&format!(
        r#"<h2>Asset hash budget</h2>
<p>Release assets up to this size are streamed and hashed at ingest; larger ones are indexed without an integrity entry (audited <code>release.asset_skipped</code>).</p>
<p>Current: <strong id="hash-budget">{}</strong> (maximum {}).</p>
<form method="post" action="/admin/security/hash-budget" class="stack">
<input type="hidden" name="csrf" value="{}">
<label for="amount">New budget</label>
<input type="number" id="amount" name="amount" min="0" step="1" required value="{}">
<select name="unit" id="unit"><option value="MiB" selected>MiB</option><option value="GiB">GiB</option><option value="KiB">KiB</option><option value="B">bytes</option></select>
<button type="submit" id="set-budget">Set budget</button>
</form>"#,
        esc(&html::bytes(budget)),
        esc(&html::bytes(integrity::MAX_HASH_BUDGET)),
        esc(csrf),
        budget >> 20
    ));
    body.push_str("<h2>Integrity backfill</h2>");
    body.push_str(&backfill_html(state, &backfill_events(state).await?, csrf));
    body.push_str(&format!(
        r#"<h2>Instance</h2><dl><dt>Instance id</dt><dd><code>{}</code></dd><dt>Public URL</dt><dd>{}</dd></dl>"#,
        esc(state.integrity.instance_id()),
        esc(&state.public_url)
    ));
    let viewer = Viewer::Admin {
        label: &who.session.label,
        csrf,
    };
    Ok(html_response(
        status,
        html::page("Security", &viewer, &body),
    ))
}

/// `GET /admin/security`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    who: AdminSession,
) -> Result<Response, WebError> {
    render(&state, &who, StatusCode::OK, None).await
}

/// `GET /admin/security/rotate`: the confirmation step.
pub async fn rotate_confirm(
    State(state): State<Arc<AppState>>,
    who: AdminSession,
) -> Result<Response, WebError> {
    let csrf = &who.session.csrf;
    let body = format!(
        r#"<p>Rotating makes a new Ed25519 key current. The current key <code id="confirm-kid">{}</code> is retired but stays in the key set, so records it signed keep verifying. Publishes that arrive during the switch are refused with PUB_E008 and succeed on retry. The rotation is audited as <code>registry.signing_key.rotate</code>.</p>
<form method="post" action="/admin/security/rotate" class="stack">
<input type="hidden" name="csrf" value="{}">
<input type="hidden" name="confirm" value="yes">
<button type="submit" class="danger" id="confirm-rotate">Rotate now</button>
<a class="button secondary" id="cancel-rotate" href="/admin/security">Cancel</a>
</form>"#,
        esc(&state.integrity.current_kid()),
        esc(csrf)
    );
    let viewer = Viewer::Admin {
        label: &who.session.label,
        csrf,
    };
    Ok(html_response(
        StatusCode::OK,
        html::page("Rotate the registry signing key?", &viewer, &body),
    ))
}

/// The rotate confirmation form.
#[derive(Debug, Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/security/rotate`: runs the integrity service's rotation (audited
/// `registry.signing_key.rotate`), then back to the Security page.
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    who: AdminSession,
    headers: HeaderMap,
    form: Result<Form<RotateForm>, FormRejection>,
) -> Result<Response, WebError> {
    super::same_site(&headers)?;
    let form = form.ok().map(|Form(f)| f);
    who.check_csrf(form.as_ref().and_then(|f| f.csrf.as_deref()))?;
    let confirm = form.map(|f| f.confirm).unwrap_or_default();
    if confirm != "yes" {
        return Err(WebError::bad_field(
            "confirm",
            "\"yes\" (from the confirmation page)",
            &confirm,
        ));
    }
    match admin::rotate(State(Arc::clone(&state)), who.admin(), json_headers()).await {
        Ok(Json(v)) => {
            let old = v.get("old_kid").and_then(Value::as_str).unwrap_or("?");
            let new = v.get("new_kid").and_then(Value::as_str).unwrap_or("?");
            let text = format!(
                "Rotated: {new} is now current; {old} is retired and stays in the key set."
            );
            Ok(back_with(&state, &who, "ok", text).await)
        }
        Err(e) => render(&state, &who, e.status, Some(error_flash(e))).await,
    }
}

fn error_flash(e: crate::ApiError) -> Flash {
    Flash {
        kind: "error".into(),
        code: Some(e.code.to_owned()),
        text: e.detail,
    }
}

/// The hash budget form: an amount and its unit.
#[derive(Debug, Deserialize)]
pub struct BudgetForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    unit: String,
}

/// Parses the budget form into bytes with [`html::parse_size`], the parser `vouch admin
/// settings hash-budget` uses too (WEB_E005 for a malformed amount, unknown unit or
/// overflow; the range itself is the integrity service's check, ADMIN_E004).
fn budget_bytes(amount: &str, unit: &str) -> Result<u64, WebError> {
    if !matches!(unit, "B" | "KiB" | "MiB" | "GiB") {
        return Err(WebError::bad_field("unit", "B, KiB, MiB or GiB", unit));
    }
    html::parse_size(&format!("{} {unit}", amount.trim()))
        .map_err(|why| WebError::bad_field("amount", &why, amount))
}

/// `POST /admin/security/hash-budget` (audited `settings.hash_budget`).
pub async fn hash_budget(
    State(state): State<Arc<AppState>>,
    who: AdminSession,
    headers: HeaderMap,
    form: Result<Form<BudgetForm>, FormRejection>,
) -> Result<Response, WebError> {
    super::same_site(&headers)?;
    let form = form.ok().map(|Form(f)| f);
    who.check_csrf(form.as_ref().and_then(|f| f.csrf.as_deref()))?;
    let Some(form) = form else {
        return Err(WebError::bad_field("body", "amount and unit", ""));
    };
    let bytes = match budget_bytes(&form.amount, &form.unit) {
        Ok(b) => b,
        Err(WebError::Coded {
            status,
            code,
            detail,
        }) => {
            let flash = Flash {
                kind: "error".into(),
                code: Some(code.to_owned()),
                text: detail,
            };
            return render(&state, &who, status, Some(flash)).await;
        }
        Err(e) => return Err(e),
    };
    let body = axum::body::Bytes::from(serde_json::json!({ "bytes": bytes }).to_string());
    match admin::hash_budget(State(Arc::clone(&state)), who.admin(), json_headers(), body).await {
        Ok(_) => {
            let text = format!("Hash budget set to {}.", html::bytes(bytes));
            Ok(back_with(&state, &who, "ok", text).await)
        }
        Err(e) => render(&state, &who, e.status, Some(error_flash(e))).await,
    }
}

/// `POST /admin/security/backfill`: starts the backfill in the background (it
/// audits `release.backfill_started`, `_progress` and `_run`).
pub async fn backfill(
    State(state): State<Arc<AppState>>,
    who: AdminSession,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, WebError> {
    super::same_site(&headers)?;
    who.check_csrf(form.ok().and_then(|Form(f)| f.csrf).as_deref())?;
    let started = integrity::backfill::spawn(Arc::clone(&state), who.admin().actor());
    let text = if started {
        "Backfill started; its progress and result appear below and in the audit log."
    } else {
        "A backfill is already running."
    };
    let kind = if started { "ok" } else { "warn" };
    Ok(back_with(&state, &who, kind, text.to_owned()).await)
}

/// Leaves a `kind` ("ok" or "warn") message for the next page and goes back to the
/// security page (post/redirect/get).
async fn back_with(state: &AppState, who: &AdminSession, kind: &str, text: String) -> Response {
    let flash = Flash {
        kind: kind.into(),
        code: None,
        text,
    };
    state.web.sessions.flash(&who.cookie, flash).await;
    Redirect::to("/admin/security").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_units() {
        assert_eq!(budget_bytes("500", "MiB").unwrap(), 500 << 20);
        assert_eq!(budget_bytes(" 2 ", "GiB").unwrap(), 2 << 30);
        assert_eq!(budget_bytes("7", "B").unwrap(), 7);
        assert_eq!(
            budget_bytes("x", "MiB").unwrap_err().code(),
            Some("WEB_E005")
        );
        assert_eq!(
            budget_bytes("-1", "MiB").unwrap_err().code(),
            Some("WEB_E005")
        );
        assert_eq!(
            budget_bytes("1", "TiB").unwrap_err().code(),
            Some("WEB_E005")
        );
        assert_eq!(
            budget_bytes(&u64::MAX.to_string(), "GiB")
                .unwrap_err()
                .code(),
            Some("WEB_E005")
        );
    }
}
