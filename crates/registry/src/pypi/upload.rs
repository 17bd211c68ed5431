//! `POST /legacy/`: PyPI's upload API (`:action=file_upload`) as twine and uv send it, authorised by a trusted-publishing upload token.
//!
//! Order: the token (PYPI_E005-E007), the form (PYPI_E002), the bytes against the
//! form's digest (PYPI_E003), the name (taken by the same bytes: done, nothing
//! written; by other bytes: PYPI_E004), the project's bindings against the identity
//! the token carries (PUB_E001/E006), the wheel's metadata (PYPI_E010), every
//! PEP 740 attestation against the token's publisher and these bytes ([`attest`],
//! PYPI_E008); only then are the file and its metadata stored and the
//! row committed. A refused upload writes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use vouch_binding::Presented;
use vouch_store::meta::{NewPyFile, PyDist, PyFileInsert, PyPublisher, Timestamp};

use super::error::{bad_upload, PypiError};
use super::{attest, names, record, token, wheel};
use crate::packages::identity::Refusal;
use crate::packages::multipart::{boundary, Multipart, MultipartError};
use crate::{ApiError, AppState};

/// Most bytes of one form field other than `content`.
const MAX_FIELD_BYTES: usize = 1 << 20;
/// Most bytes of all form fields other than `content` together.
const MAX_FIELDS_BYTES: u64 = 4 << 20;

/// The form after reading.
struct Form {
    fields: HashMap<String, String>,
    filename: String,
    content: bytes::Bytes,
}

impl Form {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.field(name)
            .ok_or_else(|| bad_upload(format!("the form has no `{name}` field")))
    }
}

async fn read_form(app: &AppState, headers: &HeaderMap, body: Body) -> Result<Form, ApiError> {
    let max_file = app.packages.limits.max_archive_bytes;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let b = boundary(ct).map_err(|e| bad_upload(e.to_string()))?;
    let mut mp = Multipart::new(
        body.into_data_stream(),
        &b,
        max_file.saturating_add(MAX_FIELDS_BYTES),
    );
    let mp_err = |e: MultipartError| match e {
        MultipartError::TooLarge { limit } => PypiError::TooLarge {
            what: "upload",
            limit,
        }
        .into(),
        other => bad_upload(other.to_string()),
    };
    let mut fields = HashMap::new();
    let mut content: Option<(String, bytes::Bytes)> = None;
    while let Some(part) = mp.next_part().await.map_err(mp_err)? {
        if part.name == "content" {
            if content.is_some() {
                return Err(bad_upload("the form has more than one `content` part"));
            }
            let filename = part
                .filename
                .clone()
                .ok_or_else(|| bad_upload("the `content` part names no filename"))?;
            let mut data = bytes::BytesMut::new();
            while let Some(chunk) = mp.chunk().await.map_err(mp_err)? {
                if (data.len() + chunk.len()) as u64 > max_file {
                    return Err(PypiError::TooLarge {
                        what: "file",
                        limit: max_file,
                    }
                    .into());
                }
                data.extend_from_slice(&chunk);
            }
            content = Some((filename, data.freeze()));
            continue;
        }
        let mut data = Vec::new();
        while let Some(chunk) = mp.chunk().await.map_err(mp_err)? {
            if data.len() + chunk.len() > MAX_FIELD_BYTES {
                return Err(bad_upload(format!(
                    "the field `{}` is over {MAX_FIELD_BYTES} bytes",
                    part.name
                )));
            }
            data.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(data)
            .map_err(|_| bad_upload(format!("the field `{}` is not UTF-8", part.name)))?;
        // Repeated fields (classifiers, requires_dist) keep their first value: the
        // index reads none of them.
        fields.entry(part.name).or_insert(value);
    }
    let (filename, content) =
        content.ok_or_else(|| bad_upload("the form has no `content` file"))?;
    Ok(Form {
        fields,
        filename,
        content,
    })
}

/// `POST /legacy/`.
pub async fn upload(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let now = app.sigstore.clock.unix_seconds() as i64;
    let grant = token::open(&app.enc_key, &token::from_headers(&headers)?, now)?;
    let form = read_form(&app, &headers, body).await?;
    if form.field(":action") != Some("file_upload") {
        return Err(bad_upload(format!(
            "`:action` must be file_upload, found {:?}",
            form.field(":action").unwrap_or("nothing")
        )));
    }
    let name = form.required("name")?;
    let version = form.required("version")?;
    let filetype = form.required("filetype")?;
    let dist = names::parse_filename(&form.filename).ok_or_else(|| {
        bad_upload(format!(
            "{:?} is not a wheel or sdist file name (NAME-VERSION-TAGS.whl, NAME-VERSION.tar.gz)",
            form.filename
        ))
    })?;
    if !names::valid(name) || names::normalize(&dist.project) != names::normalize(name) {
        return Err(bad_upload(format!(
            "the file {} is not of project {name:?}",
            form.filename
        )));
    }
    if !names::same_version(&dist.version, version) {
        return Err(bad_upload(format!(
            "the file {} is not of version {version}",
            form.filename
        )));
    }
    if filetype != dist.kind {
        return Err(bad_upload(format!(
            "`filetype` is {filetype}, the file name says {}",
            dist.kind
        )));
    }
    let project = names::normalize(name);
    if !grant.projects.contains(&project) {
        return Err(PypiError::NotInScope {
            project,
            scoped: grant.projects,
        }
        .into());
    }

    let mut hasher = vouch_digest::Hasher::new();
    hasher.update(&form.content);
    let digests = hasher.finalize();
    let sha256 = hex::encode(digests.sha256);
    if let Some(claimed) = form.field("sha256_digest") {
        if !claimed.eq_ignore_ascii_case(&sha256) {
            return Err(PypiError::DigestMismatch {
                digest: "sha256",
                expected: claimed.to_owned(),
                found: sha256,
            }
            .into());
        }
    }
    if let Some(existing) = app
        .meta
        .pypi_file(&form.filename)
        .await
        .map_err(crate::packages::codes::meta)?
    {
        return same_or_taken(&form.filename, existing.dist.sha256, digests.sha256);
    }

    let presented = grant.presented.to_presented().ok_or_else(|| {
        ApiError::from(PypiError::BadToken {
            detail: "the upload token names an unknown provider".to_owned(),
        })
    })?;
    let package = names::package_of(&project);
    let publisher = match_binding(&app, &package, &presented).await?;

    let metadata = if dist.kind == "bdist_wheel" {
        let content = form.content.clone();
        let filename = form.filename.clone();
        let m = tokio::task::spawn_blocking(move || wheel::metadata(&content))
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|detail| PypiError::BadDistribution {
                filename: filename.clone(),
                detail,
            })?;
        check_metadata(&form.filename, &m, &project, version)?;
        Some(m)
    } else {
        None
    };

    // Every attestation verified against the token's publisher and these bytes, off
    // the async workers (the signature checks are CPU work).
    let provenance = match form.field("attestations") {
        Some(field) => {
            let trust = app.packages.trust();
            let grant = grant.clone();
            let filename = form.filename.clone();
            let field = field.to_owned();
            let sha = digests.sha256;
            tokio::task::spawn_blocking(move || {
                attest::verify_upload(&trust.verifier, &grant, &filename, sha, &field)
            })
            .await
            .map_err(|e| ApiError::internal(&e))??
        }
        None => None,
    };

    // Everything held: store the bytes, then commit the row.
    let stored = app
        .blobs
        .put_bytes(&form.content)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let metadata_digests = match &metadata {
        Some(m) => {
            let info = app
                .blobs
                .put_bytes(m)
                .await
                .map_err(|e| ApiError::internal(&e))?;
            Some((info.sha256, info.blake3))
        }
        None => None,
    };
    let provenance_blake3 = match &provenance {
        Some(p) => Some(
            app.blobs
                .put_bytes(p.to_json().as_bytes())
                .await
                .map_err(|e| ApiError::internal(&e))?
                .blake3,
        ),
        None => None,
    };
    let owner_id = match &presented {
        Presented::Ci {
            repository_owner_id,
            ..
        } => repository_owner_id.clone(),
        Presented::Email { .. } => None,
    };
    let file = NewPyFile {
        package,
        dist: PyDist {
            filename: form.filename.clone(),
            version: version.to_owned(),
            kind: dist.kind.to_owned(),
            sha256: stored.sha256,
            blake3: stored.blake3,
            size: stored.size,
            requires_python: form.field("requires_python").map(str::to_owned),
        },
        metadata: metadata_digests,
        provenance_blake3,
        repository_owner_id: owner_id,
        actor: grant.identity.clone(),
        uploaded_at: Timestamp(now),
    };
    match app
        .meta
        .pypi_insert_file(&file, publisher)
        .await
        .map_err(crate::packages::codes::meta)?
    {
        PyFileInsert::Inserted(row) => {
            app.pypi.changed(&project);
            // Signed and logged after the row committed, as for Cargo: a record that
            // cannot be made (log or key unavailable) leaves the file published with
            // a warning.
            match record::record_file(&app, &project, &row).await {
                Ok(_) => Ok((StatusCode::OK, "OK").into_response()),
                Err(e) => {
                    tracing::warn!(error = %e, file = %row.dist.filename, "python integrity record not made");
                    Ok((
                        StatusCode::OK,
                        format!("OK (the file is published, but its integrity record could not be made yet: {e})"),
                    )
                        .into_response())
                }
            }
        }
        PyFileInsert::Existing(existing) => {
            same_or_taken(&form.filename, existing.dist.sha256, stored.sha256)
        }
    }
}

/// A taken name: the same bytes again are a successful no-op (as on PyPI), other
/// bytes PYPI_E004.
fn same_or_taken(
    filename: &str,
    existing: [u8; 32],
    uploaded: [u8; 32],
) -> Result<Response, ApiError> {
    if existing == uploaded {
        return Ok((StatusCode::OK, "OK (this file was uploaded before)").into_response());
    }
    Err(PypiError::FileExists {
        filename: filename.to_owned(),
        existing: hex::encode(existing),
        uploaded: hex::encode(uploaded),
    }
    .into())
}

/// The binding of `package` that accepts `presented` now: an active one if the project
/// exists, else a pending one (the first upload creates the project).
async fn match_binding(
    app: &AppState,
    package: &str,
    presented: &Presented,
) -> Result<PyPublisher, ApiError> {
    let meta_err = crate::packages::codes::meta;
    let refused = |r: Refusal| {
        let e = match r {
            Refusal::NoBinding(detail) => vouch_package::PublishError::NoBinding { detail },
            Refusal::Mismatch(detail) => vouch_package::PublishError::IdentityMismatch { detail },
            Refusal::ScopeNotOwned(detail) => vouch_package::PublishError::ScopeNotOwned { detail },
        };
        ApiError::from(e).with_message()
    };
    if app.meta.package(package).await.map_err(meta_err)?.is_some() {
        let bindings = app.meta.bindings(package).await.map_err(meta_err)?;
        let i = vouch_binding::select(
            bindings.iter().map(|b| (b.id.0, &b.publisher)),
            presented,
            package,
        )
        .map_err(refused)?;
        let b = bindings
            .get(i)
            .ok_or_else(|| ApiError::internal(&std::io::Error::other("binding index")))?;
        return Ok(PyPublisher::Active(b.id));
    }
    let pending = app.meta.pending_bindings(package).await.map_err(meta_err)?;
    let i = vouch_binding::select(
        pending.iter().map(|b| (b.id.0, &b.publisher)),
        presented,
        package,
    )
    .map_err(refused)?;
    let p = pending
        .get(i)
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("binding index")))?;
    Ok(PyPublisher::Pending(p.id))
}

/// The wheel's METADATA must name the project and version the upload claims.
fn check_metadata(filename: &str, m: &[u8], project: &str, version: &str) -> Result<(), ApiError> {
    let bad = |detail: String| {
        ApiError::from(PypiError::BadDistribution {
            filename: filename.to_owned(),
            detail,
        })
    };
    let text = std::str::from_utf8(m).map_err(|_| bad("METADATA is not UTF-8".to_owned()))?;
    let name = wheel::header(text, "Name").ok_or_else(|| bad("METADATA has no Name".to_owned()))?;
    let v =
        wheel::header(text, "Version").ok_or_else(|| bad("METADATA has no Version".to_owned()))?;
    if names::normalize(name) != project || !names::same_version(v, version) {
        return Err(bad(format!(
            "METADATA names {name} {v}, the upload {project} {version}"
        )));
    }
    Ok(())
}
