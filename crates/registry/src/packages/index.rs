//! Index reads: `GET /api/v1/packages/@scope/name` (every version) and `GET /api/v1/packages/@scope/name/VERSION` (one index entry).
//!
//! Entries are immutable, so a version's document is served with a long-lived
//! `Cache-Control`; the package's list changes with every publish and is not cached.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vouch_package::PackageName;
use vouch_store::meta::{Binding, BindingId, MetaStore, Publisher, VersionEntry};

use super::codes;
use super::publishers::rfc3339;
use crate::{ApiError, AppState};

/// Parses the `{scope}/{name}` path segments as a package name (PKG_E005 otherwise).
pub fn package_name(scope: &str, name: &str) -> Result<String, ApiError> {
    PackageName::parse(&format!("{scope}/{name}"))
        .map(|n| n.to_string())
        .map_err(|e| codes::package_error(&e))
}

/// The archive's file name in an entry's `artifacts`: `SCOPE-NAME-VERSION.tar.zst`.
pub fn archive_filename(package: &str, version: &str) -> String {
    // One definition: the integrity record names the same file.
    crate::integrity::records::archive_file_name(package, version)
}

/// URLs of a package's resources under `base` (the public URL).
pub fn version_url(base: &str, package: &str, version: &str) -> String {
    format!("{base}/api/v1/packages/{package}/{version}")
}

pub fn blob_url(base: &str, blake3: &[u8; 32]) -> String {
    format!("{base}/blobs/{}", hex::encode(blake3))
}

pub fn bundle_url(base: &str, blake3: &[u8; 32]) -> String {
    format!("{base}/blobs/{}.sigstore", hex::encode(blake3))
}

/// One index entry as JSON (the shape in CONTRACT.md).
pub fn entry_json(base: &str, package: &str, v: &VersionEntry, binding: Option<&Binding>) -> Value {
    let (provider, repository, workflow, environment) = match binding.map(|b| &b.publisher) {
        Some(Publisher::Ci {
            provider,
            repository,
            workflow,
            environment,
        }) => (
            Some(provider.as_str()),
            Some(repository.as_str()),
            Some(workflow.as_str()),
            environment.as_deref(),
        ),
        Some(Publisher::Email { .. }) => (Some("email"), None, None, None),
        None => (None, None, None, None),
    };
    json!({
        "name": package,
        "version": v.version,
        "sha256": hex::encode(v.sha256),
        "blake3": hex::encode(v.blake3),
        "size": v.size,
        "blob_url": blob_url(base, &v.blake3),
        "bundle_url": bundle_url(base, &v.blake3),
        "log_index": v.log_index,
        "published_at": rfc3339(v.created_at),
        "publisher": {
            "identity": v.publisher,
            "issuer": v.issuer,
            "provider": provider,
            "repository": repository,
            "workflow": workflow,
            "environment": environment,
            "binding_id": v.binding_id.map(|b| b.0),
        },
        "artifacts": [{
            "filename": archive_filename(package, &v.version),
            "size": v.size,
            "sha256": hex::encode(v.sha256),
            "blake3": hex::encode(v.blake3),
        }],
    })
}

/// Looks bindings up once per id.
async fn bindings_of(
    meta: &dyn MetaStore,
    versions: &[VersionEntry],
) -> Result<HashMap<BindingId, Binding>, ApiError> {
    let mut out = HashMap::new();
    for id in versions.iter().filter_map(|v| v.binding_id) {
        if let std::collections::hash_map::Entry::Vacant(slot) = out.entry(id) {
            if let Some(b) = meta.binding(id).await.map_err(codes::meta)? {
                slot.insert(b);
            }
        }
    }
    Ok(out)
}

/// `GET /api/v1/packages/@scope/name`.
pub async fn package(
    State(state): State<Arc<AppState>>,
    Path((scope, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let name = package_name(&scope, &name)?;
    let meta = &*state.meta;
    if meta.package(&name).await.map_err(codes::meta)?.is_none() {
        return Err(ApiError::not_found(format!("no package {name}")));
    }
    let versions = meta.versions(&name).await.map_err(codes::meta)?;
    let bindings = bindings_of(meta, &versions).await?;
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| {
            let b = v.binding_id.and_then(|id| bindings.get(&id));
            entry_json(&state.public_url, &name, v, b)
        })
        .collect();
    let mut resp = Json(json!({ "name": name, "versions": entries })).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// `GET /api/v1/packages/@scope/name/VERSION`.
pub async fn version(
    State(state): State<Arc<AppState>>,
    Path((scope, name, version)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let name = package_name(&scope, &name)?;
    let meta = &*state.meta;
    let Some(v) = meta.version(&name, &version).await.map_err(codes::meta)? else {
        return Err(ApiError::not_found(format!(
            "no version {version} of {name}"
        )));
    };
    let binding = match v.binding_id {
        Some(id) => meta.binding(id).await.map_err(codes::meta)?,
        None => None,
    };
    let mut resp = Json(entry_json(&state.public_url, &name, &v, binding.as_ref())).into_response();
    // Versions are immutable once committed.
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls() {
        assert_eq!(package_name("@acme", "tool").unwrap(), "@acme/tool");
        assert_eq!(package_name("acme", "tool").unwrap_err().code, "PKG_E005");
        assert_eq!(
            archive_filename("@acme/tool", "1.2.3"),
            "acme-tool-1.2.3.tar.zst"
        );
        assert_eq!(
            bundle_url("http://h", &[0xab; 32]),
            format!("http://h/blobs/{}.sigstore", "ab".repeat(32))
        );
    }
}
