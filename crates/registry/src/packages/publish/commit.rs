//! Steps 5 and 6 of a publish: match the identity to the package's bindings (or pending bindings), store blob and bundle, and commit the version row, the single commit point.
//!
//! A crash anywhere before the commit leaves at most unreferenced objects, which
//! `/blobs/...` never serves; a crash after it leaves a complete entry.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vouch_package::PublishError;
use vouch_store::meta::{Binding, MetaError, NewVersion, PublishAudit, Timestamp, VersionEntry};

use super::super::identity::{self, Presented, Refusal};
use super::super::{codes, index};
use super::receive::{Archive, Upload};
use super::steps::{refuse, Signed};
use crate::{ApiError, AppState};

/// Steps 5 and 6.
#[allow(
    clippy::indexing_slicing,
    reason = "chosen is the index identity::select enumerated in candidates"
)]
pub(super) async fn commit(
    state: &Arc<AppState>,
    upload: &Upload,
    name: &str,
    version: &str,
    signed: &Signed,
    presented: &Presented,
) -> Result<Response, ApiError> {
    let meta = &*state.meta;
    let owner_id = match presented {
        Presented::Ci {
            repository_owner_id,
            ..
        } => repository_owner_id.clone(),
        Presented::Email { .. } => None,
    };
    let mut stored: Option<String> = None;
    // Two rounds: a concurrent first publish may promote the pending binding (or a
    // binding may be removed) between our read and our commit.
    for _ in 0..2 {
        // One connection for everything read before the commit (the commit re-checks).
        let ctx = meta
            .publish_context(name, version)
            .await
            .map_err(codes::meta)?;
        // Test seam (never set in a server): lets a test change the bindings here.
        if let Some(hook) = state.packages.before_commit() {
            hook(name.to_owned()).await;
        }
        let exists = ctx.package.is_some();
        let candidates: Vec<(i64, vouch_store::meta::Publisher, Target)> = if exists {
            ctx.bindings
                .into_iter()
                .map(|b| (b.id.0, b.publisher.clone(), Target::Active(b)))
                .collect()
        } else {
            ctx.pending
                .into_iter()
                .map(|p| (p.id.0, p.publisher.clone(), Target::Pending(p.id)))
                .collect()
        };
        if candidates.is_empty() {
            // A concurrent first publish may have promoted the pending binding (and
            // created the package) between the two reads above: look again.
            if !exists && meta.package(name).await.map_err(codes::meta)?.is_some() {
                continue;
            }
            let r = Refusal::NoBinding(format!(
                "no publisher binding is registered for {name}: register one with `vouch publish register`"
            ));
            return Err(refuse(state, name, version, signed, r).await);
        }
        let chosen = match identity::select(
            candidates.iter().map(|(id, p, _)| (*id, p)),
            presented,
            name,
        ) {
            Ok(i) => i,
            Err(r) => return Err(refuse(state, name, version, signed, r).await),
        };
        if ctx.version_exists {
            return Err(version_exists(name, version));
        }
        let bundle_key = match &stored {
            Some(k) => k.clone(),
            None => {
                let k = store_content(state, upload).await?;
                stored = Some(k.clone());
                k
            }
        };
        let nv = NewVersion {
            version: version.to_owned(),
            blake3: upload.blake3,
            sha256: upload.sha256,
            size: upload.size,
            bundle_key,
            log_index: signed.log_index,
            publisher: signed.identity.clone(),
            issuer: signed.issuer.clone(),
            repository_owner_id: owner_id.clone(),
            created_at: Timestamp::now(),
            // Appended in the version's transaction; the store adds `binding_id` and
            // `created_package`.
            audit: Some(PublishAudit {
                event: "package.publish".into(),
                actor: signed.identity.clone(),
                details: publish_details(upload, version, signed),
            }),
        };
        // The commit point.
        let outcome = match &candidates[chosen].2 {
            Target::Active(b) => meta
                .insert_version(name, Some(b.id), &nv)
                .await
                .map(|entry| (entry, b.clone(), false)),
            Target::Pending(p) => meta
                .publish_pending(*p, &nv)
                .await
                .map(|done| (done.version, done.binding, true)),
        };
        match outcome {
            Ok((entry, binding, created)) => {
                return Ok(created_response(state, name, &entry, &binding, signed, created).await)
            }
            Err(MetaError::VersionExists { .. }) => return Err(version_exists(name, version)),
            Err(MetaError::RepositoryOwnerChanged {
                binding,
                recorded,
                presented,
            }) => {
                let r = Refusal::Mismatch(format!(
                    "the identity does not match publisher binding {binding} of {name}: claim `repository_owner_id`: expected {recorded} (recorded at the first publish), found {presented}: the repository's owner account changed"
                ));
                return Err(refuse(state, name, version, signed, r).await);
            }
            Err(MetaError::ScopeClaimed { scope }) => {
                let r = Refusal::ScopeNotOwned(format!(
                    "the pending publisher binding for {name} was registered by a user who does not own scope @{scope}: the registry will not create the package for them; the scope's owners register their own binding"
                ));
                return Err(refuse(state, name, version, signed, r).await);
            }
            Err(
                MetaError::UnknownBinding { .. }
                | MetaError::UnknownPendingBinding { .. }
                | MetaError::PackageExists { .. }
                | MetaError::UnknownPackage { .. },
            ) => continue,
            Err(e) => return Err(codes::meta(e)),
        }
    }
    Err(PublishError::BindingsChanged {
        package: name.to_owned(),
    }
    .into())
}

fn version_exists(package: &str, version: &str) -> ApiError {
    PublishError::VersionExists {
        package: package.to_owned(),
        version: version.to_owned(),
    }
    .into()
}

enum Target {
    Active(Binding),
    Pending(vouch_store::meta::PendingBindingId),
}

/// Stores the archive (checking the store measured what we did) and the bundle;
/// returns the bundle's key. An archive in memory goes with its bundle in one durable
/// batch.
async fn store_content(state: &AppState, upload: &Upload) -> Result<String, ApiError> {
    let blob_error = |e| match e {
        vouch_store::blobs::BlobError::TooLarge { limit, .. } => codes::too_large("archive", limit),
        other => ApiError::internal(&other),
    };
    let (info, key) = match &upload.archive {
        Archive::Memory(bytes) => state
            .blobs
            .put_bytes_with_bundle(bytes.clone(), &upload.bundle)
            .await
            .map_err(blob_error)?,
        Archive::File(file) => {
            let info = state
                .blobs
                .put_file(file.path())
                .await
                .map_err(blob_error)?;
            let key = state
                .blobs
                .put_bundle(&upload.bundle)
                .await
                .map_err(|e| ApiError::internal(&e))?;
            (info, key)
        }
    };
    if info.blake3 != upload.blake3 || info.sha256 != upload.sha256 || info.size != upload.size {
        return Err(ApiError::internal(&std::io::Error::other(
            "the stored archive differs from the received one",
        )));
    }
    Ok(key.as_str().to_owned())
}

/// The `package.publish` audit details (the store adds the binding and whether the
/// package was created).
fn publish_details(
    upload: &Upload,
    version: &str,
    signed: &Signed,
) -> serde_json::Map<String, Value> {
    let mut details = serde_json::Map::new();
    details.insert("version".into(), version.into());
    details.insert("sha256".into(), hex::encode(upload.sha256).into());
    details.insert("blake3".into(), hex::encode(upload.blake3).into());
    details.insert("size".into(), upload.size.into());
    details.insert("log_index".into(), signed.log_index.into());
    details.insert("issuer".into(), signed.issuer.clone().into());
    details
}

async fn created_response(
    state: &Arc<AppState>,
    name: &str,
    entry: &VersionEntry,
    binding: &Binding,
    signed: &Signed,
    created_package: bool,
) -> Response {
    let base = &state.public_url;
    // The registry's signed "observed at ingest" record, after the commit so no record
    // exists for a version that lost. On failure the backfill records it later.
    if let Err(e) = state.integrity.recorder.record(state, name, entry).await {
        tracing::warn!(error = %e, package = name, version = %entry.version, "integrity record deferred to the backfill");
    }
    let body = json!({
        "name": name,
        "version": entry.version,
        "index_url": index::version_url(base, name, &entry.version),
        "blob_url": index::blob_url(base, &entry.blake3),
        "bundle_url": index::bundle_url(base, &entry.blake3),
        "log_index": entry.log_index,
        "sha256": hex::encode(entry.sha256),
        "blake3": hex::encode(entry.blake3),
        "size": entry.size,
        "publisher": {
            "identity": signed.identity,
            "issuer": signed.issuer,
            "binding_id": binding.id.0,
        },
        "created_package": created_package,
    });
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&index::version_url(base, name, &entry.version)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
