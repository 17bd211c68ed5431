//! Public pages that show what the registry verified: a package with its versions and trusted publishers, one version's provenance (publisher identity, binding, log index, digests, bundle) and integrity record, and an ingested release's assets and integrity record.
//!
//! These pages say what was checked; they do not re-verify. A version is in the
//! index only after its bundle verified and its certificate identity matched a
//! binding at publish (see [`crate::packages::publish`]), and an integrity record
//! is the registry's signed, logged statement of the digests it observed. The links
//! lead to the raw material (bundle, record JWS with its inclusion proof, key set) so
//! anyone can check it offline with `vouch verify`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use vouch_store::meta::{AssetStatus, Binding, IntegrityRow, Publisher, RecordKind, VersionEntry};

use super::html::{self, esc, Viewer};
use super::{html_response, WebError};
use crate::packages::index;
use crate::AppState;

/// The binding a version was published through, described in one line.
fn binding_text(b: Option<&Binding>, id: Option<i64>) -> String {
    match (b, id) {
        (Some(b), _) => {
            let what = match &b.publisher {
                Publisher::Ci {
                    provider,
                    repository,
                    workflow,
                    environment,
                } => format!(
                    "{} repository {} workflow {}{}",
                    provider.as_str(),
                    repository,
                    workflow,
                    environment
                        .as_deref()
                        .map(|e| format!(" environment {e}"))
                        .unwrap_or_else(|| " (any environment)".into())
                ),
                Publisher::Email { email } => format!("email {email}"),
            };
            let removed = b
                .removed_at
                .map(|t| format!(" (removed {})", html::time(t)))
                .unwrap_or_default();
            format!("#{} {what}{removed}", b.id.0)
        }
        (None, Some(id)) => format!("#{id} (not found)"),
        (None, None) => "none (recorded without a binding)".into(),
    }
}

/// The integrity record's status as HTML: kid (current or retired), log index and
/// the link to the record with its inclusion proof.
fn record_html(state: &AppState, row: Option<&IntegrityRow>, proof_url: &str) -> String {
    let Some(row) = row else {
        return r#"<p id="integrity" class="status-muted">No integrity record yet: the backfill records it (it runs at start and from the Security page).</p>"#.into();
    };
    let key = state
        .integrity
        .key_info()
        .into_iter()
        .find(|k| k.kid == row.kid);
    let key_state = match key {
        Some(k) if k.retired_at.is_none() => "current key".to_owned(),
        Some(k) => format!(
            "retired {}, still in the key set",
            html::time(k.retired_at.unwrap_or(k.created_at))
        ),
        None => "not in this registry's key set".to_owned(),
    };
    format!(
        r#"<dl id="integrity"><dt>Status</dt><dd><span class="status-ok">Signed and logged</span></dd>
<dt>Record kid</dt><dd><code class="record-kid">{}</code> ({})</dd>
<dt>Log index</dt><dd><code class="record-log-index">{}</code></dd>
<dt>Signed at</dt><dd>{}</dd>
<dt>Record</dt><dd><a href="{}">JWS with inclusion proof</a> · <a href="/.well-known/registry-key.json">key set</a></dd></dl>"#,
        esc(&row.kid),
        esc(&key_state),
        row.log_index,
        esc(&html::time(row.created_at)),
        esc(proof_url)
    )
}

fn page(title: &str, body: &str) -> Response {
    html_response(StatusCode::OK, html::page(title, &Viewer::Public, body))
}

fn name_of(scope: &str, name: &str) -> Result<String, WebError> {
    index::package_name(scope, name).map_err(|e| WebError::not_found(e.detail))
}

/// `GET /packages/@scope/name`.
pub async fn package(
    State(state): State<Arc<AppState>>,
    Path((scope, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let name = name_of(&scope, &name)?;
    let meta = state.meta.as_ref();
    if meta.package(&name).await.map_err(WebError::meta)?.is_none() {
        return Err(WebError::not_found(format!("no package {name}")));
    }
    let versions = meta.versions(&name).await.map_err(WebError::meta)?;
    let mut body = String::new();
    body.push_str("<h2>Versions</h2>");
    if versions.is_empty() {
        body.push_str(r#"<p class="status-muted">No version published yet.</p>"#);
    } else {
        body.push_str(r#"<table id="versions"><thead><tr><th>version</th><th>published</th><th>publisher identity</th><th>log index</th><th>publish verification</th><th>integrity record</th></tr></thead><tbody>"#);
        for v in versions.iter().rev() {
            let record = meta
                .integrity_record(RecordKind::Package, &name, Some(&v.version))
                .await
                .map_err(WebError::meta)?;
            let record = match record {
                Some(r) => format!(
                    r#"<span class="status-ok">kid {}</span>, log {}"#,
                    esc(&r.kid),
                    r.log_index
                ),
                None => r#"<span class="status-muted">pending</span>"#.into(),
            };
            body.push_str(&format!(
                r#"<tr><td><a href="/packages/{n}/{ve}">{ve}</a></td><td>{}</td><td class="mono">{}</td><td>{}</td><td><span class="status-ok">verified</span></td><td>{record}</td></tr>"#,
                esc(&html::time(v.created_at)),
                esc(&v.publisher),
                v.log_index,
                n = esc(&name),
                ve = esc(&v.version),
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<h2>Trusted publishers</h2>");
    let bindings = meta.bindings(&name).await.map_err(WebError::meta)?;
    if bindings.is_empty() {
        body.push_str(
            r#"<p class="status-muted">No active binding: nobody can publish new versions.</p>"#,
        );
    } else {
        body.push_str("<ul>");
        for b in &bindings {
            body.push_str(&format!("<li>{}</li>", esc(&binding_text(Some(b), None))));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        r#"<p>Index JSON: <a href="/api/v1/packages/{0}">/api/v1/packages/{0}</a></p>"#,
        esc(&name)
    ));
    Ok(page(&name, &body))
}

fn version_html(state: &AppState, name: &str, v: &VersionEntry, b: Option<&Binding>) -> String {
    let base = &state.public_url;
    let blob = index::blob_url(base, &v.blake3);
    let bundle = index::bundle_url(base, &v.blake3);
    format!(
        r#"<h2>Provenance</h2>
<dl id="provenance"><dt>Publish verification</dt><dd><span class="status-ok" id="verification">Verified at publish</span>: Sigstore bundle signature, certificate chain to this instance's CA, transparency-log inclusion, and the certificate identity matched the binding below.</dd>
<dt>Publisher identity</dt><dd><code id="identity">{identity}</code></dd>
<dt>Issuer</dt><dd><code>{issuer}</code></dd>
<dt>Binding</dt><dd id="binding">{binding}</dd>
<dt>Log index</dt><dd><code id="log-index">{log_index}</code> (signing event in <a href="{prefix}/checkpoint">this registry's log</a>)</dd>
<dt>Published</dt><dd>{published}</dd></dl>
<h2>Artifact</h2>
<dl id="artifact"><dt>File</dt><dd><code>{file}</code> ({size})</dd>
<dt>SHA-256</dt><dd><code id="sha256">{sha256}</code></dd>
<dt>BLAKE3</dt><dd><code id="blake3">{blake3}</code></dd>
<dt>Download</dt><dd><a href="{blob}">archive</a> · <a id="bundle" href="{bundle}">Sigstore bundle</a> · <a href="/api/v1/packages/{name}/{version}">index entry JSON</a></dd></dl>"#,
        identity = esc(&v.publisher),
        issuer = esc(&v.issuer),
        binding = esc(&binding_text(b, v.binding_id.map(|i| i.0))),
        log_index = v.log_index,
        prefix = esc(&state.packages.log_prefix),
        published = esc(&html::time(v.created_at)),
        file = esc(&index::archive_filename(name, &v.version)),
        size = esc(&html::bytes(v.size)),
        sha256 = hex::encode(v.sha256),
        blake3 = hex::encode(v.blake3),
        blob = esc(&blob),
        bundle = esc(&bundle),
        name = esc(name),
        version = esc(&v.version),
    )
}

/// `GET /packages/@scope/name/VERSION`.
pub async fn version(
    State(state): State<Arc<AppState>>,
    Path((scope, name, version)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let name = name_of(&scope, &name)?;
    let meta = state.meta.as_ref();
    let Some(v) = meta
        .version(&name, &version)
        .await
        .map_err(WebError::meta)?
    else {
        return Err(WebError::not_found(format!(
            "no version {version} of {name}"
        )));
    };
    let binding = match v.binding_id {
        Some(id) => meta.binding(id).await.map_err(WebError::meta)?,
        None => None,
    };
    let record = meta
        .integrity_record(RecordKind::Package, &name, Some(&v.version))
        .await
        .map_err(WebError::meta)?;
    let mut body = version_html(&state, &name, &v, binding.as_ref());
    body.push_str("<h2>Registry integrity record</h2>");
    body.push_str(&record_html(
        &state,
        record.as_ref(),
        &format!("/api/v1/packages/{name}/{}/integrity", v.version),
    ));
    body.push_str(&format!(
        r#"<p><a href="/packages/{0}">All versions of {0}</a></p>"#,
        esc(&name)
    ));
    Ok(page(&format!("{name} {}", v.version), &body))
}

/// `GET /releases/{id}`.
pub async fn release(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(WebError::not_found(format!(
            "release id {id:?} is not a number"
        )));
    };
    let meta = state.meta.as_ref();
    let Some(rel) = meta.release_by_id(id).await.map_err(WebError::meta)? else {
        return Err(WebError::not_found(format!("no release {id}")));
    };
    let assets = meta.release_assets(id).await.map_err(WebError::meta)?;
    let record = meta
        .integrity_record(RecordKind::Release, &id.to_string(), None)
        .await
        .map_err(WebError::meta)?;
    let hashed = assets
        .iter()
        .filter(|a| a.status == AssetStatus::Hashed)
        .count();
    let mut body = format!(
        r#"<dl id="release"><dt>Forge</dt><dd>{}</dd><dt>Repository</dt><dd>{}</dd><dt>Tag</dt><dd><code>{}</code></dd><dt>Upstream id</dt><dd><code>{}</code></dd><dt>Ingested</dt><dd>{}</dd>
<dt>Assets</dt><dd id="asset-counts">{} hashed, {} skipped (over the hash budget)</dd></dl>"#,
        esc(&rel.forge_id),
        esc(&rel.repository),
        esc(&rel.tag),
        esc(&rel.upstream_id),
        esc(&html::time(rel.created_at)),
        hashed,
        assets.len() - hashed
    );
    body.push_str("<h2>Registry integrity record</h2>");
    body.push_str(&record_html(
        &state,
        record.as_ref(),
        &format!("/api/v1/releases/{id}/integrity"),
    ));
    body.push_str("<h2>Assets</h2>");
    if assets.is_empty() {
        body.push_str(r#"<p class="status-muted">No assets.</p>"#);
    } else {
        body.push_str(r#"<table id="assets"><thead><tr><th>name</th><th>size</th><th>status</th><th>SHA-256</th><th>BLAKE3</th><th>attestations</th></tr></thead><tbody>"#);
        for a in &assets {
            let status = match a.status {
                AssetStatus::Hashed => r#"<span class="status-ok">hashed</span>"#,
                AssetStatus::Skipped => {
                    r#"<span class="status-bad">skipped: over the hash budget, no integrity entry</span>"#
                }
            };
            let atts = meta
                .attestations(id, &a.name)
                .await
                .map_err(WebError::meta)?;
            let atts = if atts.is_empty() {
                "none".to_owned()
            } else {
                atts.iter()
                    .map(|t| format!("verified: <code>{}</code>", esc(&t.identity)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            body.push_str(&format!(
                r#"<tr><td><code>{}</code></td><td>{}</td><td>{status}</td><td><code>{}</code></td><td><code>{}</code></td><td>{atts}</td></tr>"#,
                esc(&a.name),
                esc(&html::bytes(a.size)),
                a.sha256.map(hex::encode).unwrap_or_default(),
                a.blake3.map(hex::encode).unwrap_or_default(),
            ));
        }
        body.push_str("</tbody></table>");
    }
    Ok(page(&format!("{} {}", rel.repository, rel.tag), &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_store::meta::{BindingId, CiProvider, PackageId, Timestamp, UserId};

    #[test]
    fn binding_descriptions() {
        let b = Binding {
            id: BindingId(3),
            package_id: PackageId(1),
            publisher: Publisher::Ci {
                provider: CiProvider::Github,
                repository: "o/r".into(),
                workflow: ".github/workflows/release.yml".into(),
                environment: None,
            },
            repository_owner_id: None,
            created_by: UserId(1),
            created_at: Timestamp(0),
            removed_at: None,
        };
        assert_eq!(
            binding_text(Some(&b), None),
            "#3 github repository o/r workflow .github/workflows/release.yml (any environment)"
        );
        assert_eq!(binding_text(None, Some(9)), "#9 (not found)");
        assert!(binding_text(None, None).starts_with("none"));
    }
}
