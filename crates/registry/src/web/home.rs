//! The front door of the web UI: the landing page at `/` (what this instance is and
//! where to go next) and the package list at `/packages`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::html::{self, esc, Viewer};
use super::{html_response, WebError};
use crate::AppState;

/// Packages per page of `/packages`.
const PAGE: u32 = 100;

/// `GET /`: what this instance is, with links to its packages, its trust
/// configuration, its log's checkpoint and the administrator sign-in.
pub async fn landing(State(state): State<Arc<AppState>>, log_prefix: String) -> Response {
    let mode = if state.dev {
        r#" <span class="status-muted">development mode</span>"#
    } else {
        ""
    };
    let body = format!(
        r#"<p id="about">A vouch registry: packages whose publishers are bound to CI identities, each version signed through this instance's Sigstore services (CA, timestamp authority, CT log) and recorded in its transparency log, so anyone can verify what they fetch with <code>vouch verify</code>.{mode}</p>
<dl id="instance"><dt>Public URL</dt><dd><code>{url}</code></dd>
<dt>Log origin</dt><dd><code id="log-origin">{origin}</code></dd></dl>
<ul id="links">
<li><a id="link-packages" href="/packages">Packages</a>: every package and its latest version</li>
<li><a id="link-trust" href="/api/v1/trust-config">Trust configuration</a>: the trusted root and signing config clients verify against (<code>vouch trust-config</code>)</li>
<li><a id="link-checkpoint" href="{prefix}/checkpoint">Log checkpoint</a>: the latest signed tree head of the transparency log</li>
<li><a id="link-key-set" href="/.well-known/registry-key.json">Registry key set</a>: the keys of the integrity records</li>
<li><a id="link-sign-in" href="/admin/login">Sign in</a>: administration (security settings, audit log)</li>
</ul>"#,
        url = esc(&state.public_url),
        origin = esc(state.log.origin()),
        prefix = esc(&log_prefix),
    );
    html_response(
        StatusCode::OK,
        html::page("vouch registry", &Viewer::Public, &body),
    )
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Continue after this package name (the previous page's last).
    #[serde(default)]
    after: Option<String>,
}

/// `GET /packages[?after=NAME]`: package names in order, each with its latest version
/// and when it was published, linking to the package's page.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let after = q.after.unwrap_or_default();
    let rows = state
        .meta
        .package_summaries(&after, PAGE)
        .await
        .map_err(WebError::meta)?;
    let mut body = String::new();
    if rows.is_empty() {
        body.push_str(r#"<p class="status-muted" id="no-packages">No packages yet.</p>"#);
    } else {
        body.push_str(r#"<table id="packages"><thead><tr><th>package</th><th>latest version</th><th>published</th></tr></thead><tbody>"#);
        for p in &rows {
            let latest = match &p.latest {
                Some(v) => format!(
                    r#"<a href="/packages/{}/{v}">{v}</a>"#,
                    esc(&p.name),
                    v = esc(v)
                ),
                None => r#"<span class="status-muted">none yet</span>"#.to_owned(),
            };
            let at = p.published_at.map(html::time).unwrap_or_default();
            body.push_str(&format!(
                r#"<tr><td><a class="package" href="/packages/{n}">{n}</a></td><td class="latest">{latest}</td><td>{}</td></tr>"#,
                esc(&at),
                n = esc(&p.name),
            ));
        }
        body.push_str("</tbody></table>");
    }
    if rows.len() == PAGE as usize {
        if let Some(last) = rows.last() {
            body.push_str(&format!(
                r#"<p class="pager"><a id="next-page" href="/packages?after={}">Next page</a></p>"#,
                esc(&html::query_value(&last.name))
            ));
        }
    }
    Ok(html_response(
        StatusCode::OK,
        html::page("Packages", &Viewer::Public, &body),
    ))
}
