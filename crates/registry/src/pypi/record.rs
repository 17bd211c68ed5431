//! Registry-signed integrity records of uploaded Python files: each accepted file gets one (subject `@pypi/PROJECT`, the release version, the file as its one asset), committing through `manifest_sha256` to the file's provenance document, which is rendered from the immutable file row and the binding it was uploaded through, so it is the same every time it is served.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;
use sha2::{Digest, Sha256};
use vouch_binding::Publisher;
use vouch_store::meta::{Binding, PyFile};

use super::error::not_found;
use super::names;
use crate::integrity::records::{self, RecordRef};
use crate::{ApiError, AppState};

/// The provenance document of a file (RFC 8785 canonical JSON): the registry, the
/// project, version and file name, its kind, SHA-256, BLAKE3 and size, the upload
/// time, the trusted publisher the upload token matched (`published_by`: the binding's
/// id and claims, `null` for a file uploaded through no binding), and the BLAKE3 of its
/// PEP 740 provenance object (`attestations_blake3`, `null` without attestations).
pub fn provenance_document(
    registry: &str,
    project: &str,
    file: &PyFile,
    binding: Option<&Binding>,
) -> String {
    let published_by = binding.map(|b| match &b.publisher {
        Publisher::Ci {
            provider,
            repository,
            workflow,
            environment,
        } => json!({
            "binding_id": b.id.0, "provider": provider.as_str(), "repository": repository,
            "workflow": workflow, "environment": environment,
        }),
        Publisher::Email { email } => json!({"binding_id": b.id.0, "email": email}),
    });
    let doc = json!({
        "registry": registry,
        "project": project,
        "version": file.dist.version,
        "filename": file.dist.filename,
        "kind": file.dist.kind,
        "sha256": hex::encode(file.dist.sha256),
        "blake3": hex::encode(file.dist.blake3),
        "size": file.dist.size,
        "uploaded_at": file.uploaded_at.0,
        "published_by": published_by,
        "attestations_blake3": file.provenance_blake3.map(hex::encode),
    });
    // Strings and safe integers only: the canonical form always exists.
    vouch_integrity::canonical_json(&doc)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| doc.to_string())
}

async fn document(app: &AppState, project: &str, file: &PyFile) -> Result<String, ApiError> {
    let binding = match file.binding_id {
        Some(id) => app
            .meta
            .binding(id)
            .await
            .map_err(crate::packages::codes::meta)?,
        None => None,
    };
    Ok(provenance_document(
        &app.public_url,
        project,
        file,
        binding.as_ref(),
    ))
}

/// Signs and logs the record of a just-committed file. An error means the file is
/// published without a record yet (as for Cargo, the caller warns and answers).
pub async fn record_file(
    app: &AppState,
    project: &str,
    file: &PyFile,
) -> Result<RecordRef, String> {
    let doc = document(app, project, file)
        .await
        .map_err(|e| format!("{}: {}", e.code, e.detail))?;
    let asset = vouch_integrity::AssetEntry {
        name: file.dist.filename.clone(),
        size: file.dist.size,
        sha256: file.dist.sha256,
        blake3: file.dist.blake3,
    };
    records::record_pypi_file(
        app,
        &names::package_of(project),
        &file.dist.version,
        asset,
        Sha256::digest(doc.as_bytes()).into(),
    )
    .await
    .map_err(|e| e.to_string())
}

/// `GET /integrity/<project>/<version>/<filename>/record`: the file's signed integrity
/// record with its inclusion proof and checkpoint, and its provenance document.
pub async fn record(
    State(app): State<Arc<AppState>>,
    Path((project, version, filename)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let missing = || not_found(format!("file {filename} of {project} {version}"));
    let project = names::normalize(&project);
    let package = names::package_of(&project);
    let row = super::simple::release_file(&app, &package, &version, &filename, missing).await?;
    let doc = document(&app, &project, &row).await?;
    records::pypi_file_integrity_response(
        &app,
        &package,
        &row.dist.version,
        &row.dist.filename,
        &doc,
    )
    .await
}
