//! `POST /api/v1/publish`: a token-less upload whose Sigstore bundle is its credential.
//!
//! Steps, each refusing with a code and storing nothing on failure:
//! 1. Rotation gate (PUB_E008).
//! 2. Stream the multipart body: the `archive` part to a temporary file, hashing
//!    SHA-256 and BLAKE3 as it arrives; the `bundle` part to memory (PUB_E009/E010).
//! 3. Inspect the archive strictly (`vouch-package`: paths, links, devices, bombs:
//!    PKG_E*) and read name and version from its `vouch.toml` (PUB_E011, PKG_E005/6).
//! 4. Verify the bundle fully against the instance's trusted root: a DSSE in-toto
//!    Statement v1 whose subject has the archive's SHA-256 and whose predicate is SLSA
//!    provenance v1, certificate chain, SCT, log inclusion, signing time (PUB_E005).
//! 5. Match the certificate's identity to the package's bindings, or its pending
//!    bindings while the package does not exist (PUB_E001, PUB_E006).
//! 6. Store the blob, then the bundle (content-addressed, idempotent, invisible until
//!    referenced), then commit the version row: the single commit point. A concurrent
//!    publish of the same version loses there with PUB_E007; a pending binding is
//!    promoted in that same transaction, together with the package's creation.
//!
//! A crash anywhere before the commit leaves at most unreferenced objects, which
//! `/blobs/...` never serves; a crash after it leaves a complete entry.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstore_crypto::SubjectAltName;
use sigstore_types::{SignatureContent, VerificationMaterialContent};
use tokio::io::AsyncWriteExt;
use vouch_package::{Limits, Manifest, MANIFEST_FILE};
use vouch_store::meta::{Binding, MetaError, NewVersion, PublishAudit, Timestamp, VersionEntry};
use vouch_verify::{
    Artifact, IdentityPolicy, Matcher, ParsedBundle, Policy, PolicyField, Signer, Verified,
};

use super::identity::{self, CertClaims, Presented, Refusal};
use super::multipart::{self, Multipart, MultipartError};
use super::{codes, index, Trust};
use crate::{ApiError, AppState};

/// The in-toto Statement v1 type.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Largest `vouch.toml` read from an archive.
const MAX_MANIFEST_BYTES: u64 = 64 << 10;

/// Archives up to this size stay in memory; larger ones spill to a temporary file.
const IN_MEMORY_ARCHIVE_MAX: usize = 1 << 20;

/// Where a received archive is held.
enum Archive {
    Memory(bytes::Bytes),
    File(tempfile::NamedTempFile),
}

impl Archive {
    /// A fresh reader over the whole archive.
    fn reader(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(match self {
            Archive::Memory(b) => Box::new(std::io::Cursor::new(b.clone())),
            Archive::File(f) => Box::new(std::io::BufReader::new(f.reopen()?)),
        })
    }
}

/// The upload after step 2.
struct Upload {
    archive: Archive,
    sha256: [u8; 32],
    blake3: [u8; 32],
    size: u64,
    bundle: Vec<u8>,
}

/// What a verified bundle established (step 4).
#[derive(Debug, Clone)]
pub struct Signed {
    pub identity: String,
    pub issuer: String,
    pub claims: CertClaims,
    pub log_index: u64,
}

/// `POST /api/v1/publish`.
pub async fn publish(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let packages = &state.packages;
    // Refused early while a rotation runs, so nobody uploads only to be refused; but
    // not held here: a slow body holding the gate made a rotation queue behind it and
    // every other publish fail with PUB_E008 until that one connection died (issue 13).
    drop(
        packages
            .rotation
            .try_publish()
            .ok_or_else(codes::rotation_in_progress)?,
    );
    let trust = packages.trust();

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary =
        multipart::boundary(content_type).map_err(|e| codes::bad_upload(e.to_string()))?;
    let upload = receive(&state, body, &boundary).await?;

    let reader = upload
        .archive
        .reader()
        .map_err(|e| ApiError::internal(&e))?;
    let limits = packages.limits.archive;
    let (bundle, sha256) = (upload.bundle.clone(), upload.sha256);
    let trust2 = Arc::clone(&trust);
    // Steps 3 and 4 on one blocking thread, in that order (an archive error wins over
    // a bad signature, but not over a bundle that names other bytes).
    let (manifest, signed) = blocking(move || {
        // An anonymous upload could otherwise force up to the archive cap of
        // decompression (issue 13): the bundle must name these exact bytes first.
        bundle_names_archive(&bundle, &sha256)?;
        let manifest = read_manifest(reader, &limits)?;
        let signed = verify_bundle(&trust2, &bundle, &sha256)?;
        Ok((manifest, signed))
    })
    .await?;
    let name = manifest.name().to_string();
    let version = manifest.version().to_string();

    let presented = match identity::present(&signed.claims, &trust.issuers) {
        Ok(p) => p,
        Err(r) => return Err(refuse(&state, &name, &version, &signed, r).await),
    };
    // Held only around the commit (which signs with the registry key): a rotation
    // waits for commits in flight, never for bodies still arriving.
    let _pass = packages
        .rotation
        .try_publish()
        .ok_or_else(codes::rotation_in_progress)?;
    commit(&state, &upload, &name, &version, &signed, &presented).await
}

async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&e))?
}

fn upload_dir(state: &AppState) -> PathBuf {
    state.data_dir.join("tmp")
}

/// Upload leftovers older than this are swept at start.
pub const STALE_UPLOAD_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes what crashed publishes left in DATA/tmp: `upload-*` files (archives over
/// [`IN_MEMORY_ARCHIVE_MAX`]) and `inspect-*` directories (earlier versions extracted
/// archives there), when last modified more than `age` ago. They were never
/// referenced: a publish stores from them before its commit, and blobs are served only
/// through committed versions. The age keeps an upload in progress safe. Returns how
/// many entries were removed; a missing directory is nothing to sweep.
pub fn sweep_uploads(
    data_dir: &std::path::Path,
    age: std::time::Duration,
) -> std::io::Result<usize> {
    let dir = data_dir.join("tmp");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let meta = entry.metadata()?;
        let stale = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|d| d > age);
        if !stale {
            continue;
        }
        if name.starts_with("upload-") && meta.is_file() {
            std::fs::remove_file(entry.path())?;
        } else if name.starts_with("inspect-") && meta.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            continue;
        }
        removed += 1;
    }
    Ok(removed)
}

/// A temporary file in DATA/tmp for an archive too large to hold in memory.
async fn spill_file(
    state: &AppState,
) -> Result<
    (
        tempfile::NamedTempFile,
        tokio::io::BufWriter<tokio::fs::File>,
    ),
    ApiError,
> {
    let dir = upload_dir(state);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let tmp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(&dir)
        .map_err(|e| ApiError::internal(&e))?;
    let std_file = tmp.reopen().map_err(|e| ApiError::internal(&e))?;
    let file = tokio::io::BufWriter::with_capacity(256 << 10, tokio::fs::File::from_std(std_file));
    Ok((tmp, file))
}

/// Step 2: streams the body: the archive to memory, or to a temporary file once it
/// outgrows [`IN_MEMORY_ARCHIVE_MAX`].
async fn receive(state: &AppState, body: Body, boundary: &str) -> Result<Upload, ApiError> {
    let limits = state.packages.limits;
    let total = limits
        .max_archive_bytes
        .saturating_add(limits.max_bundle_bytes)
        .saturating_add(64 << 10);
    let mut mp = Multipart::new(body.into_data_stream(), boundary, total);
    let mp_err = |e: MultipartError| match e {
        MultipartError::TooLarge { limit } => codes::too_large("upload", limit),
        other => codes::bad_upload(other.to_string()),
    };
    let mut archive: Option<(Archive, [u8; 32], [u8; 32], u64)> = None;
    let mut bundle: Option<Vec<u8>> = None;
    while let Some(part) = mp.next_part().await.map_err(mp_err)? {
        match part.name.as_str() {
            "archive" if archive.is_none() => {
                let mut sha = Sha256::new();
                let mut b3 = blake3::Hasher::new();
                let mut size = 0u64;
                // In memory until it outgrows IN_MEMORY_ARCHIVE_MAX, then a file.
                let mut memory = bytes::BytesMut::new();
                let mut spilled: Option<(
                    tempfile::NamedTempFile,
                    tokio::io::BufWriter<tokio::fs::File>,
                )> = None;
                while let Some(chunk) = mp.chunk().await.map_err(mp_err)? {
                    size += chunk.len() as u64;
                    if size > limits.max_archive_bytes {
                        return Err(codes::too_large("archive", limits.max_archive_bytes));
                    }
                    sha.update(&chunk);
                    b3.update(&chunk);
                    match spilled.as_mut() {
                        None if memory.len() + chunk.len() <= IN_MEMORY_ARCHIVE_MAX => {
                            memory.extend_from_slice(&chunk);
                        }
                        None => {
                            let (tmp, mut file) = spill_file(state).await?;
                            for part in [&memory[..], &chunk[..]] {
                                file.write_all(part)
                                    .await
                                    .map_err(|e| ApiError::internal(&e))?;
                            }
                            memory = bytes::BytesMut::new();
                            spilled = Some((tmp, file));
                        }
                        Some((_, file)) => file
                            .write_all(&chunk)
                            .await
                            .map_err(|e| ApiError::internal(&e))?,
                    }
                }
                let held = match spilled {
                    Some((tmp, mut file)) => {
                        file.flush().await.map_err(|e| ApiError::internal(&e))?;
                        Archive::File(tmp)
                    }
                    None => Archive::Memory(memory.freeze()),
                };
                archive = Some((held, sha.finalize().into(), *b3.finalize().as_bytes(), size));
            }
            "bundle" if bundle.is_none() => {
                let mut data = Vec::new();
                while let Some(chunk) = mp.chunk().await.map_err(mp_err)? {
                    if (data.len() + chunk.len()) as u64 > limits.max_bundle_bytes {
                        return Err(codes::too_large("bundle", limits.max_bundle_bytes));
                    }
                    data.extend_from_slice(&chunk);
                }
                bundle = Some(data);
            }
            "archive" | "bundle" => {
                return Err(codes::bad_upload(format!(
                    "the upload has more than one `{}` part",
                    part.name
                )))
            }
            other => {
                return Err(codes::bad_upload(format!(
                    "unexpected part `{other}`: expected exactly `archive` and `bundle`"
                )))
            }
        }
    }
    let Some((archive, sha256, blake3, size)) = archive else {
        return Err(codes::bad_upload("the upload has no `archive` part"));
    };
    let Some(bundle) = bundle else {
        return Err(codes::bad_upload("the upload has no `bundle` part"));
    };
    if size == 0 {
        return Err(codes::bad_upload("the `archive` part is empty"));
    }
    Ok(Upload {
        archive,
        sha256,
        blake3,
        size,
        bundle,
    })
}

/// Step 3: checks the whole archive and returns its manifest, which is kept in memory
/// as the archive streams past (nothing is written to disk).
pub fn read_manifest(archive: impl std::io::Read, limits: &Limits) -> Result<Manifest, ApiError> {
    // The whole archive is checked as it streams; only the manifest is kept, in memory.
    let (inspection, kept) =
        vouch_package::inspect_keeping(archive, limits, MANIFEST_FILE, MAX_MANIFEST_BYTES)
            .map_err(|e| codes::package_error(&e))?;
    let Some(entry) = inspection.entries.iter().find(|e| e.path == MANIFEST_FILE) else {
        return Err(codes::no_manifest(format!(
            "the archive has no {MANIFEST_FILE} at its root: the registry reads the package's name and version from it"
        )));
    };
    let Some(bytes) = kept else {
        return Err(codes::no_manifest(format!(
            "{MANIFEST_FILE} is {} bytes, over the {MAX_MANIFEST_BYTES}-byte limit",
            entry.size
        )));
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| codes::no_manifest(format!("{MANIFEST_FILE} is not UTF-8 text")))?;
    Manifest::parse(&text).map_err(|e| codes::package_error(&e))
}

/// The signature policy of step 4: any identity from any issuer (the bindings decide
/// in step 5). Compiled once: building the regexes per publish was measurable.
fn any_identity() -> Result<&'static Policy, ApiError> {
    static POLICY: std::sync::OnceLock<Result<Policy, String>> = std::sync::OnceLock::new();
    POLICY
        .get_or_init(|| {
            let any = |field| Matcher::regex(field, ".+").map_err(|e| e.to_string());
            Ok(Policy::Keyless(IdentityPolicy::new(
                any(PolicyField::Identity)?,
                any(PolicyField::Issuer)?,
            )))
        })
        .as_ref()
        .map_err(|e| ApiError::internal(&std::io::Error::other(e.clone())))
}

/// Step 4: full verification of the bundle for an archive with this SHA-256.
pub fn verify_bundle(trust: &Trust, bundle: &[u8], sha256: &[u8; 32]) -> Result<Signed, ApiError> {
    let parsed = ParsedBundle::from_json(bundle)
        .map_err(|e| codes::bundle_invalid(&format!("bundle format ({})", e.code()), e))?;
    check_statement(&parsed, sha256)?;
    let policy = any_identity()?;
    let artifact = Artifact::parse_digest(&format!("sha256:{}", hex::encode(sha256)))
        .map_err(|e| ApiError::internal(&e))?;
    let verified: Verified = trust
        .verifier
        .verify(&artifact, &parsed, policy)
        .map_err(|e| codes::bundle_invalid(e.code(), e))?;
    let Signer::Certificate {
        identity, issuer, ..
    } = verified.signer
    else {
        return Err(codes::bundle_invalid(
            "signer",
            "expected a Fulcio certificate, found a public key",
        ));
    };
    let log_index = verified
        .log_entries
        .first()
        .map(|e| e.log_index)
        .ok_or_else(|| codes::bundle_invalid("transparency log", "the bundle has no log entry"))?;
    let claims = cert_claims(&parsed)?;
    // The verifier read the same certificate; disagreeing would mean two parsers differ.
    if claims.issuer != issuer {
        return Err(codes::bundle_invalid(
            "certificate issuer",
            format!("verified {issuer:?}, extension reads {:?}", claims.issuer),
        ));
    }
    Ok(Signed {
        identity,
        issuer,
        claims,
        log_index,
    })
}

/// The cheap half of [`verify_bundle`], run before the archive is decompressed: the
/// bundle parses and its statement names the uploaded bytes' SHA-256 as a subject. No
/// signature is checked here; [`verify_bundle`] does it all again in full.
pub fn bundle_names_archive(bundle: &[u8], sha256: &[u8; 32]) -> Result<(), ApiError> {
    let parsed = ParsedBundle::from_json(bundle)
        .map_err(|e| codes::bundle_invalid(&format!("bundle format ({})", e.code()), e))?;
    check_statement(&parsed, sha256)
}

/// The statement checks: DSSE, in-toto Statement v1, SLSA provenance v1, a subject
/// with the archive's SHA-256. (The signature over it is checked by the verifier.)
fn check_statement(parsed: &ParsedBundle, sha256: &[u8; 32]) -> Result<(), ApiError> {
    let SignatureContent::DsseEnvelope(env) = &parsed.inner().content else {
        return Err(codes::bundle_invalid(
            "content",
            "expected a DSSE envelope carrying an in-toto statement, found a message signature",
        ));
    };
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(codes::bundle_invalid(
            "payload type",
            format!(
                "expected {IN_TOTO_PAYLOAD_TYPE}, found {:?}",
                env.payload_type
            ),
        ));
    }
    let statement: Value = serde_json::from_slice(env.payload.as_bytes())
        .map_err(|e| codes::bundle_invalid("statement", format!("not JSON: {e}")))?;
    let s = |k: &str| statement.get(k).and_then(Value::as_str).unwrap_or("none");
    if s("_type") != STATEMENT_V1 {
        return Err(codes::bundle_invalid(
            "statement type",
            format!("expected {STATEMENT_V1}, found {}", s("_type")),
        ));
    }
    if s("predicateType") != SLSA_PROVENANCE_V1 {
        return Err(codes::bundle_invalid(
            "predicate type",
            format!(
                "expected {SLSA_PROVENANCE_V1}, found {}",
                s("predicateType")
            ),
        ));
    }
    let want = hex::encode(sha256);
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let found: Vec<String> = subjects
        .iter()
        .filter_map(|sub| sub.pointer("/digest/sha256").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    if !found.contains(&want) {
        return Err(codes::bundle_invalid(
            "subject digest",
            format!(
                "the statement's subject sha256 {} is not the uploaded archive's {want}",
                if found.is_empty() {
                    "is missing and".to_owned()
                } else {
                    found.join(", ")
                }
            ),
        ));
    }
    Ok(())
}

/// The leaf certificate's SAN and Fulcio claims.
fn cert_claims(parsed: &ParsedBundle) -> Result<CertClaims, ApiError> {
    let der = match &parsed.inner().verification_material.content {
        VerificationMaterialContent::Certificate(c) => &c.raw_bytes,
        VerificationMaterialContent::X509CertificateChain { certificates } => {
            &certificates
                .first()
                .ok_or_else(|| codes::bundle_invalid("certificate", "the chain is empty"))?
                .raw_bytes
        }
        _ => {
            return Err(codes::bundle_invalid(
                "certificate",
                "the bundle carries no certificate",
            ))
        }
    };
    let info = sigstore_crypto::parse_certificate_info(der)
        .map_err(|e| codes::bundle_invalid("certificate", e))?;
    let (san_uri, san_email) = match info.identity {
        Some(SubjectAltName::Uri(u)) => (Some(u), None),
        Some(SubjectAltName::Email(e)) => (None, Some(e)),
        _ => (None, None),
    };
    let c = info.ci_claims;
    Ok(CertClaims {
        san_uri,
        san_email,
        issuer: info.issuer.unwrap_or_default(),
        build_signer_uri: c.build_signer_uri,
        source_repository_uri: c.source_repository_uri,
        repository_owner_id: c.source_repository_owner_identifier,
        build_trigger: c.build_trigger,
        environment: c.deployment_environment,
    })
}

/// Audits a refused identity and turns the refusal into its error.
async fn refuse(
    state: &AppState,
    name: &str,
    version: &str,
    signed: &Signed,
    r: Refusal,
) -> ApiError {
    let err = match r {
        Refusal::NoBinding(d) => codes::no_binding(d),
        Refusal::Mismatch(d) => codes::identity_mismatch(d),
        Refusal::ScopeNotOwned(d) => codes::scope_not_owned(d),
    };
    let details = json!({
        "version": version,
        "code": err.code,
        "detail": err.detail,
        "issuer": signed.issuer,
        "log_index": signed.log_index,
    });
    audit(
        state,
        "package.publish.refused",
        &signed.identity,
        name,
        &details,
    )
    .await;
    err
}

async fn audit(state: &AppState, event: &str, actor: &str, subject: &str, details: &Value) {
    if let Err(e) = state
        .meta
        .append_audit(
            event,
            Some(actor),
            Some(subject),
            &details.to_string(),
            Timestamp::now(),
        )
        .await
    {
        tracing::error!(error = %e, event, subject, "audit append failed");
    }
}

/// Steps 5 and 6.
async fn commit(
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
            return Err(codes::version_exists(name, version));
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
            Err(MetaError::VersionExists { .. }) => {
                return Err(codes::version_exists(name, version))
            }
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
    Err(ApiError {
        retry_after: Some(1),
        ..ApiError::new(
            StatusCode::CONFLICT,
            "PUB_E013",
            format!("the publisher bindings of {name} changed during the publish; retry"),
        )
    })
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::sweep_uploads;

    fn age(path: &std::path::Path, by: Duration) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn sweep_removes_only_stale_upload_leftovers() {
        let data = tempfile::tempdir().unwrap();
        assert_eq!(
            sweep_uploads(data.path(), Duration::from_secs(60)).unwrap(),
            0
        );
        let tmp = data.path().join("tmp");
        std::fs::create_dir_all(tmp.join("inspect-old/pkg")).unwrap();
        std::fs::create_dir_all(tmp.join("inspect-new")).unwrap();
        for f in ["upload-old", "upload-new", "other-old"] {
            std::fs::write(tmp.join(f), b"x").unwrap();
        }
        let hour = Duration::from_secs(3600);
        for f in ["upload-old", "other-old"] {
            age(&tmp.join(f), 2 * hour);
        }
        // A directory's mtime is set through a handle opened on it.
        let d = std::fs::File::open(tmp.join("inspect-old")).unwrap();
        d.set_modified(SystemTime::now() - 2 * hour).unwrap();

        assert_eq!(sweep_uploads(data.path(), hour).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["inspect-new", "other-old", "upload-new"]);
        assert_eq!(sweep_uploads(data.path(), hour).unwrap(), 0);
    }
}
