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
use vouch_package::{IndexArtifact, IndexEntry, IndexPublisher, PackageIndex, PackageName};
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

/// One index entry (the shape in CONTRACT.md), as the typed wire struct clients parse.
pub fn entry(base: &str, package: &str, v: &VersionEntry, binding: Option<&Binding>) -> IndexEntry {
    let (provider, repository, workflow, environment) = match binding.map(|b| &b.publisher) {
        Some(Publisher::Ci {
            provider,
            repository,
            workflow,
            environment,
        }) => (
            Some(provider.as_str().to_owned()),
            Some(repository.clone()),
            Some(workflow.clone()),
            environment.clone(),
        ),
        Some(Publisher::Email { .. }) => (Some("email".to_owned()), None, None, None),
        None => (None, None, None, None),
    };
    IndexEntry {
        artifacts: vec![IndexArtifact {
            blake3: v.blake3.into(),
            filename: archive_filename(package, &v.version),
            sha256: v.sha256.into(),
            size: v.size,
        }],
        blake3: v.blake3.into(),
        blob_url: blob_url(base, &v.blake3),
        bundle_url: bundle_url(base, &v.blake3),
        log_index: v.log_index,
        name: package.to_owned(),
        published_at: rfc3339(v.created_at),
        publisher: IndexPublisher {
            binding_id: v.binding_id.map(|b| b.0),
            environment,
            identity: v.publisher.clone(),
            issuer: v.issuer.clone(),
            provider,
            repository,
            workflow,
        },
        sha256: v.sha256.into(),
        size: v.size,
        version: v.version.clone(),
    }
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
    let versions = versions
        .iter()
        .map(|v| {
            let b = v.binding_id.and_then(|id| bindings.get(&id));
            entry(&state.public_url, &name, v, b)
        })
        .collect();
    let mut resp = Json(PackageIndex { name, versions }).into_response();
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
    let mut resp = Json(entry(&state.public_url, &name, &v, binding.as_ref())).into_response();
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
    use vouch_store::meta::{BindingId, CiProvider, PackageId, Timestamp, UserId, VersionId};

    fn version(binding_id: Option<i64>) -> VersionEntry {
        VersionEntry {
            id: VersionId(1),
            package_id: PackageId(2),
            version: "1.2.3".into(),
            blake3: [0xb3; 32],
            sha256: [0x5a; 32],
            size: 4096,
            bundle_key: "bundles/x.sigstore.json".into(),
            log_index: 17,
            publisher: "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/v1"
                .into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            binding_id: binding_id.map(BindingId),
            created_at: Timestamp(1_700_000_000),
        }
    }

    /// The entry's bytes as the registry served them before the typed struct (a
    /// `serde_json::Value` built with `json!`, so keys sorted), with `publisher` given.
    fn golden(publisher: &str) -> String {
        let (b3, sha) = ("b3".repeat(32), "5a".repeat(32));
        let at = rfc3339(Timestamp(1_700_000_000));
        format!(
            r#"{{"artifacts":[{{"blake3":"{b3}","filename":"acme-tool-1.2.3.tar.zst","sha256":"{sha}","size":4096}}],"blake3":"{b3}","blob_url":"http://h/blobs/{b3}","bundle_url":"http://h/blobs/{b3}.sigstore","log_index":17,"name":"@acme/tool","published_at":"{at}","publisher":{publisher},"sha256":"{sha}","size":4096,"version":"1.2.3"}}"#
        )
    }

    #[test]
    fn the_typed_entry_writes_the_same_bytes_as_before() {
        let binding = |publisher| Binding {
            id: BindingId(9),
            package_id: PackageId(2),
            publisher,
            repository_owner_id: None,
            created_by: UserId(1),
            created_at: Timestamp(1),
            removed_at: None,
        };
        let ci = binding(Publisher::Ci {
            provider: CiProvider::Github,
            repository: "acme/tool".into(),
            workflow: ".github/workflows/release.yml".into(),
            environment: Some("release".into()),
        });
        let email = binding(Publisher::Email {
            email: "a@example.com".into(),
        });
        let identity = "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/v1";
        let issuer = "https://token.actions.githubusercontent.com";
        for (v, b, publisher) in [
            (
                version(Some(9)),
                Some(&ci),
                format!(
                    r#"{{"binding_id":9,"environment":"release","identity":"{identity}","issuer":"{issuer}","provider":"github","repository":"acme/tool","workflow":".github/workflows/release.yml"}}"#
                ),
            ),
            (
                version(Some(9)),
                Some(&email),
                format!(
                    r#"{{"binding_id":9,"environment":null,"identity":"{identity}","issuer":"{issuer}","provider":"email","repository":null,"workflow":null}}"#
                ),
            ),
            (
                version(None),
                None,
                format!(
                    r#"{{"binding_id":null,"environment":null,"identity":"{identity}","issuer":"{issuer}","provider":null,"repository":null,"workflow":null}}"#
                ),
            ),
        ] {
            let typed = entry("http://h", "@acme/tool", &v, b);
            let bytes = serde_json::to_string(&typed).unwrap();
            assert_eq!(bytes, golden(&publisher));
            // Through a `Value`, as axum's `Json` of the former code wrote it: the same.
            assert_eq!(serde_json::to_value(&typed).unwrap().to_string(), bytes);
            // A client parses it back into the same struct.
            assert_eq!(serde_json::from_str::<IndexEntry>(&bytes).unwrap(), typed);
        }
    }

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
