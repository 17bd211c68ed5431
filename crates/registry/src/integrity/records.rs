//! Integrity records: signed once where the assets were hashed (publish, ingest, backfill), appended to the transparency log, stored with their log index, and served with an inclusion proof and checkpoint.
//!
//! **Nothing here signs on a read path.** [`sign_and_log`] is the only signer; the
//! read handlers serve the stored JWS and a proof computed from the log's tiles (cached
//! per checkpoint, since proofs change only when the tree grows).
//!
//! The record's `manifest_sha256` is SHA-256 of the RFC 8785 canonical JSON
//! `{"assets":[{"name":..,"size":..},...],"subject":{..},"version":..}` listing EVERY
//! asset the registry indexed for the version, hashed or not (over-budget assets appear
//! here but not in `assets`), so a client can recompute it from the index listing.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_integrity::{sign_record, AssetEntry, IntegrityRecord, Subject};
use vouch_store::meta::{IntegrityRow, NewIntegrityRecord, RecordKind, Timestamp, VersionEntry};

use super::error::{self, BootError};
use crate::{ApiError, AppState};

/// What was recorded: the stored row's id, the log index, the signing kid, and whether
/// this call made it (`false`: a record existed and was returned unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    pub id: i64,
    pub log_index: u64,
    pub kid: String,
    pub created: bool,
}

impl RecordRef {
    fn of(row: &IntegrityRow, created: bool) -> Self {
        RecordRef {
            id: row.id,
            log_index: row.log_index,
            kid: row.kid.clone(),
            created,
        }
    }
}

/// The file name a package archive is listed under: `scope-name-VERSION.tar.zst`
/// (what `vouch fetch --out` writes).
pub fn archive_file_name(package: &str, version: &str) -> String {
    format!(
        "{}-{version}.tar.zst",
        package.trim_start_matches('@').replace('/', "-")
    )
}

/// The manifest digest of a version: see the module documentation.
pub fn manifest_sha256(subject: &Subject, version: &str, listing: &[(String, u64)]) -> [u8; 32] {
    let subject = match subject {
        Subject::Package { name } => json!({"kind": "package", "name": name}),
        Subject::Release { id } => json!({"kind": "release", "id": id}),
    };
    let assets: Vec<Value> = listing
        .iter()
        .map(|(name, size)| json!({"name": name, "size": size}))
        .collect();
    let doc = json!({"assets": assets, "subject": subject, "version": version});
    // Sizes are at most 2^53-1 (checked by the record), names are strings: the
    // canonical form always exists; fall back to serde's compact form defensively.
    let bytes =
        vouch_integrity::canonical_json(&doc).unwrap_or_else(|_| doc.to_string().into_bytes());
    Sha256::digest(&bytes).into()
}

/// Records the integrity of a committed package version: one asset, the archive, with
/// the digests the publish computed from the bytes it received.
///
/// Call it AFTER the version row committed ([`vouch_store::meta::MetaStore::insert_version`]):
/// a record is then never logged for a version that lost a race or failed, so the log
/// holds no record for a version the index does not have. If this call fails (log
/// unavailable, crash) the version simply has no record yet; the backfill (on demand
/// and at boot) records it later from the stored blob. Idempotent: an existing record
/// is returned, never re-signed.
pub async fn record_package(
    state: &AppState,
    package: &str,
    entry: &VersionEntry,
) -> Result<RecordRef, BootError> {
    let (subject, listing, assets) = package_record(package, entry);
    sign_and_log(state, subject, &entry.version, &listing, assets).await
}

/// What a package version's record says: the package, and its archive as the one
/// asset (listed and hashed).
fn package_record(
    package: &str,
    entry: &VersionEntry,
) -> (Subject, Vec<(String, u64)>, Vec<AssetEntry>) {
    let asset = AssetEntry {
        name: archive_file_name(package, &entry.version),
        size: entry.size,
        sha256: entry.sha256,
        blake3: entry.blake3,
    };
    let listing = vec![(asset.name.clone(), asset.size)];
    let subject = Subject::Package {
        name: package.to_owned(),
    };
    (subject, listing, vec![asset])
}

/// Signs, logs and stores a record unless the subject already has one. With
/// [`Recorder`], the only signing entry points of the registry.
pub(crate) async fn sign_and_log(
    state: &AppState,
    subject: Subject,
    version: &str,
    listing: &[(String, u64)],
    assets: Vec<AssetEntry>,
) -> Result<RecordRef, BootError> {
    let manifest = manifest_sha256(&subject, version, listing);
    sign_and_log_keyed(state, subject, version, version, manifest, assets).await
}

/// What [`sign_and_log`], [`record_crate`] and [`record_pypi_file`] do: unless a record
/// of `subject` is stored under `row_version` already (returned unchanged), signs one
/// for the release `version` committing to `manifest`, logs it and stores it under
/// `row_version`.
async fn sign_and_log_keyed(
    state: &AppState,
    subject: Subject,
    version: &str,
    row_version: &str,
    manifest: [u8; 32],
    assets: Vec<AssetEntry>,
) -> Result<RecordRef, BootError> {
    let (kind, key) = subject_key(&subject);
    if let Some(row) = state
        .meta
        .integrity_record(kind, &key, Some(row_version))
        .await?
    {
        return Ok(RecordRef::of(&row, false));
    }
    let mut signed = sign(state, subject, version, manifest, assets)?;
    row_version.clone_into(&mut signed.version);
    // Commit order: log first (durable once `add` returns), then the row. A crash in
    // between leaves a logged record without a row; the backfill then logs a second
    // record for the subject, which is harmless (both are true statements).
    let log_index = state.log.add(Bytes::from(signed.jws.clone())).await?.index;
    let (row, created) = state
        .meta
        .insert_integrity_record(&signed.into_row(log_index))
        .await?;
    Ok(RecordRef::of(&row, created))
}

/// Records a published Cargo crate version (issue 19): subject `cargo:NAME`, the
/// `.crate` as the one asset, and as `manifest_sha256` the SHA-256 of the version's
/// provenance document (checksum, name, version, publisher identity and CI claims; the
/// registry serves it beside the record), so the signature covers who published it.
/// Called after the version row committed; idempotent like [`record_package`].
pub(crate) async fn record_crate(
    state: &AppState,
    name: &str,
    version: &str,
    asset: AssetEntry,
    provenance_sha256: [u8; 32],
) -> Result<RecordRef, BootError> {
    let subject = Subject::Package {
        name: format!("cargo:{name}"),
    };
    sign_and_log_keyed(
        state,
        subject,
        version,
        version,
        provenance_sha256,
        vec![asset],
    )
    .await
}

/// The row key of an uploaded Python file's record: `VERSION/FILENAME`. Python
/// releases gain files one upload at a time (wheels, then an sdist, ...) and records
/// are immutable, one per (subject, key), so each file gets a record of its own: subject
/// `@pypi/PROJECT`, the release version, the file as its one asset.
pub(crate) fn pypi_record_key(version: &str, filename: &str) -> String {
    format!("{version}/{filename}")
}

/// Records an uploaded Python file (see [`pypi_record_key`]): subject `package` (the
/// `@pypi/PROJECT` vouch package), the release `version`, the file as the one asset,
/// and as `manifest_sha256` the SHA-256 of the file's provenance document (who uploaded
/// it through which trusted publisher, and the digest of its PEP 740 attestations; the
/// registry serves it beside the record). Called after the file row committed;
/// idempotent like [`record_crate`].
pub(crate) async fn record_pypi_file(
    state: &AppState,
    package: &str,
    version: &str,
    asset: AssetEntry,
    provenance_sha256: [u8; 32],
) -> Result<RecordRef, BootError> {
    let key = pypi_record_key(version, &asset.name);
    let subject = Subject::Package {
        name: package.to_owned(),
    };
    sign_and_log_keyed(
        state,
        subject,
        version,
        &key,
        provenance_sha256,
        vec![asset],
    )
    .await
}

/// The response [`serve_record`] gives for an uploaded Python file's record, with the
/// file's provenance document (whose SHA-256 the record signs as `manifest_sha256`).
pub(crate) async fn pypi_file_integrity_response(
    state: &AppState,
    package: &str,
    version: &str,
    filename: &str,
    provenance: &str,
) -> Result<Response, ApiError> {
    serve_record_with(
        state,
        RecordKind::Package,
        package,
        Some(&pypi_record_key(version, filename)),
        Some(provenance),
    )
    .await
}

/// The response [`serve_record`] gives for a Cargo crate version's record.
pub(crate) async fn crate_integrity_response(
    state: &AppState,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    serve_record(
        state,
        RecordKind::Package,
        &format!("cargo:{name}"),
        Some(version),
    )
    .await
}

fn subject_key(subject: &Subject) -> (RecordKind, String) {
    match subject {
        Subject::Package { name } => (RecordKind::Package, name.clone()),
        Subject::Release { id } => (RecordKind::Release, id.clone()),
    }
}

/// A record signed and ready to log.
struct SignedRecord {
    kind: RecordKind,
    key: String,
    version: String,
    kid: String,
    jws: String,
    issued_at: u64,
}

impl SignedRecord {
    fn into_row(self, log_index: u64) -> NewIntegrityRecord {
        NewIntegrityRecord {
            kind: self.kind,
            subject: self.key,
            version: self.version,
            kid: self.kid,
            jws: self.jws,
            log_index,
            created_at: Timestamp(i64::try_from(self.issued_at).unwrap_or(i64::MAX)),
        }
    }
}

/// Signs a record with the current key, refusing one too large for the log.
fn sign(
    state: &AppState,
    subject: Subject,
    version: &str,
    manifest: [u8; 32],
    assets: Vec<AssetEntry>,
) -> Result<SignedRecord, BootError> {
    let (kind, key) = subject_key(&subject);
    // Refused (INTEGRITY_E110) when this node could not confirm the key current
    // within the bound: another node may have rotated it.
    let signing = state.integrity.signing_key()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let record = IntegrityRecord {
        kid: signing.kid(),
        issued_at: UNIX_EPOCH + Duration::from_secs(now),
        registry: state.public_url.clone(),
        manifest_sha256: manifest,
        subject,
        version: version.to_owned(),
        assets,
    };
    let jws = sign_record(&record, &signing)?.jws().to_owned();
    if jws.len() > vouch_tlog::MAX_ENTRY_SIZE {
        return Err(BootError::RecordTooLarge {
            size: jws.len(),
            max: vouch_tlog::MAX_ENTRY_SIZE,
        });
    }
    Ok(SignedRecord {
        kind,
        key,
        version: version.to_owned(),
        kid: signing.kid().to_string(),
        jws,
        issued_at: now,
    })
}

/// Most publish-time records signed, logged and stored together.
const RECORD_BATCH_MAX: usize = 256;
/// Most records waiting for the writer; past it a record is deferred to the backfill
/// rather than queued without bound (issue 13). Each waiter is a publish whose
/// connection is open, so `[limits] max_connections` keeps it far below this.
pub(crate) const RECORD_QUEUE_MAX: usize = 4096;

/// Group commit for the records of fresh publishes: concurrent publishes hand their
/// committed versions to one task, which signs them, logs them together (one log
/// batch) and stores them in one metadata transaction, so a publish costs no commit of
/// its own for its record. The task holds the application state only weakly and ends
/// with it.
///
/// It skips the "already recorded?" read of [`sign_and_log`]: the version row was
/// committed an instant ago, so only a concurrent backfill can have recorded it, and
/// then the store keeps the first row (the second logged record is, as after a
/// crash, a harmless true statement).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<Job>>,
}

#[derive(Debug)]
struct Job {
    package: String,
    entry: VersionEntry,
    reply: tokio::sync::oneshot::Sender<Result<RecordRef, String>>,
}

impl Recorder {
    /// Records a just-committed package version (see [`record_package`]); resolves
    /// once the record is logged and stored. An error means the record was deferred
    /// to the backfill. If the caller goes away the record is still made.
    pub(crate) async fn record(
        &self,
        state: &Arc<AppState>,
        package: &str,
        entry: &VersionEntry,
    ) -> Result<RecordRef, String> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(RECORD_QUEUE_MAX);
            tokio::spawn(record_batches(Arc::downgrade(state), rx));
            tx
        });
        let (reply, answer) = tokio::sync::oneshot::channel();
        queue
            .try_send(Job {
                package: package.to_owned(),
                entry: entry.clone(),
                reply,
            })
            .map_err(|e| match e {
                tokio::sync::mpsc::error::TrySendError::Full(_) => {
                    format!("{RECORD_QUEUE_MAX} records are waiting: deferred to the backfill")
                }
                tokio::sync::mpsc::error::TrySendError::Closed(_) => {
                    "the record writer stopped".to_owned()
                }
            })?;
        answer
            .await
            .unwrap_or_else(|_| Err("the record writer stopped".to_owned()))
    }
}

async fn record_batches(
    state: std::sync::Weak<AppState>,
    mut rx: tokio::sync::mpsc::Receiver<Job>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < RECORD_BATCH_MAX {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let Some(state) = state.upgrade() else {
            return;
        };
        record_batch(&state, jobs).await;
    }
}

async fn record_batch(state: &AppState, jobs: Vec<Job>) {
    let mut signed = Vec::with_capacity(jobs.len());
    for job in jobs {
        let (subject, listing, assets) = package_record(&job.package, &job.entry);
        let manifest = manifest_sha256(&subject, &job.entry.version, &listing);
        match sign(state, subject, &job.entry.version, manifest, assets) {
            Ok(record) => signed.push((job.reply, record)),
            Err(e) => {
                let _ = job.reply.send(Err(e.to_string()));
            }
        }
    }
    // All entries enter the log together: `add` pools them into one sequencer batch.
    let indices = futures_util::future::join_all(
        signed
            .iter()
            .map(|(_, r)| state.log.add(Bytes::from(r.jws.clone()))),
    )
    .await;
    let mut replies = Vec::with_capacity(signed.len());
    let mut rows = Vec::with_capacity(signed.len());
    for ((reply, record), index) in signed.into_iter().zip(indices) {
        match index {
            Ok(a) => {
                replies.push(reply);
                rows.push(record.into_row(a.index));
            }
            Err(e) => {
                let _ = reply.send(Err(format!("transparency log: {e}")));
            }
        }
    }
    match state.meta.insert_integrity_records(&rows).await {
        Ok(stored) => {
            for (reply, (row, created)) in replies.into_iter().zip(stored) {
                let _ = reply.send(Ok(RecordRef::of(&row, created)));
            }
        }
        Err(e) => {
            let e = format!("metadata database: {e}");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// Most responses kept in the read cache before it is cleared.
const READ_CACHE_ENTRIES: usize = 65_536;

/// Serialised read responses by subject, each valid for one checkpoint size.
#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    /// Guarded by a std lock held only for a map lookup or insert.
    map: RwLock<HashMap<String, Arc<(u64, Bytes)>>>,
}

impl ReadCache {
    fn get(&self, key: &str, size: u64) -> Option<Bytes> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(key).filter(|e| e.0 == size).map(|e| e.1.clone())
    }

    fn put(&self, key: String, size: u64, body: Bytes) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= READ_CACHE_ENTRIES {
            map.clear();
        }
        map.insert(key, Arc::new((size, body)));
    }
}

/// `GET /api/v1/releases/{id}/integrity`.
pub(crate) async fn release_integrity(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("release id {id:?} is not a number")))?;
    serve_record(&state, RecordKind::Release, &id.to_string(), None).await
}

/// `GET /api/v1/packages/@scope/name/{version}/integrity`.
pub(crate) async fn package_integrity(
    State(state): State<Arc<AppState>>,
    Path((scope, name, version)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    if !scope.starts_with('@') {
        return Err(ApiError::not_found("package names are @scope/name"));
    }
    let package = format!("{scope}/{name}");
    serve_record(&state, RecordKind::Package, &package, Some(&version)).await
}

async fn serve_record(
    state: &AppState,
    kind: RecordKind,
    subject: &str,
    version: Option<&str>,
) -> Result<Response, ApiError> {
    serve_record_with(state, kind, subject, version, None).await
}

/// [`serve_record`], with `provenance` (the document the record's `manifest_sha256`
/// is the SHA-256 of, when the registry keeps one) served beside the record.
async fn serve_record_with(
    state: &AppState,
    kind: RecordKind,
    subject: &str,
    version: Option<&str>,
    provenance: Option<&str>,
) -> Result<Response, ApiError> {
    let latest = state.log.committed().await.map_err(ApiError::from)?;
    let cache_key = format!("{kind:?}\n{subject}\n{}", version.unwrap_or(""));
    let body = match state.integrity.reads.get(&cache_key, latest.size) {
        Some(b) => b,
        None => {
            let row = state
                .meta
                .integrity_record(kind, subject, version)
                .await
                .map_err(error::meta)?
                .ok_or_else(|| {
                    error::no_record(&match version {
                        Some(v) => format!("{subject}@{v}"),
                        None => format!("release {subject}"),
                    })
                })?;
            let body = render(state, &row, &latest, provenance).await?;
            state
                .integrity
                .reads
                .put(cache_key, latest.size, body.clone());
            body
        }
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            // The proof follows the checkpoint, which moves: revalidate.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

async fn render(
    state: &AppState,
    row: &IntegrityRow,
    latest: &vouch_log::Published,
    provenance: Option<&str>,
) -> Result<Bytes, ApiError> {
    let proof = vouch_log::proofs::inclusion_proof(
        state.log.objects().as_ref(),
        row.log_index,
        latest.size,
        latest.size,
    )
    .await?;
    let payload: Value = row
        .jws
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let mut doc = json!({
        "subject": {"kind": match row.kind { RecordKind::Package => "package", RecordKind::Release => "release" },
                    "id": row.subject},
        // The signed version: a Python file's row key adds its file name.
        "version": payload.get("version").cloned().unwrap_or_else(|| row.version.clone().into()),
        "kid": row.kid,
        "jws": row.jws,
        "record": payload,
        "log_index": row.log_index,
        "inclusion_proof": {
            "log_index": row.log_index,
            "tree_size": latest.size,
            "root_hash": STANDARD.encode(latest.root.0),
            "hashes": proof.iter().map(|h| STANDARD.encode(h.0)).collect::<Vec<_>>(),
            "checkpoint": String::from_utf8_lossy(&latest.note),
        },
        "log": {"origin": state.log.origin(), "key": state.log.verifier().to_string()},
        "key_set_url": format!("{}/.well-known/registry-key.json", state.public_url),
    });
    if let (Some(p), Some(m)) = (provenance, doc.as_object_mut()) {
        m.insert("provenance".into(), p.into());
    }
    Ok(Bytes::from(doc.to_string()))
}
