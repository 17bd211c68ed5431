//! Rekor v1 on the same log: `/api/v1/log/...` routes, the v1 log key (ECDSA P-256) that signs SETs and the v1 checkpoint signature line, and the per-entry integrated time.
//!
//! One tree, two faces. A v1 entry is a leaf of the same tile log as v2 entries (its
//! canonical 0.0.1 body); its answer carries:
//!
//! - `integratedTime`: the server clock when the batch holding it was durable and
//!   covered by a published checkpoint. Kept as the object `rekor-v1/<uuid>`
//!   (`{"logIndex","integratedTime"}`, written create-if-absent) so that reads by UUID or
//!   index answer the same time; an entry without one (written through v2 or by another
//!   part of vouch) is not served through v1 (`REKOR_E015`).
//! - `logID`: SHA-256 of the v1 key's DER SubjectPublicKeyInfo (Rekor v1's log ID);
//! - `verification.signedEntryTimestamp`: ECDSA P-256 over RFC 8785 JSON of
//!   `{body, integratedTime, logID, logIndex}`;
//! - `verification.inclusionProof` against the latest checkpoint, whose note gets a
//!   second signature line by the v1 key (`— <origin> base64(keyhint ‖ DER sig)`, key
//!   hint = first 4 bytes of the v1 log ID). The Ed25519 line stays: v2 clients and
//!   witnesses read the same note; v1 clients pick the line whose hint is their log ID's.
//!
//! The UUID is the hex RFC 6962 leaf hash of the body (Rekor v1's entry UUID);
//! `GET /api/v1/log/entries/<uuid>` also takes Rekor's 80-hex entry ID (tree ID prefix).

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_store::ObjectKey;

use super::{Rekor, RekorError};
use crate::app::AppState;
use crate::ApiError;

/// The Rekor v1 log key: ECDSA P-256, created once per instance (see
/// `sigstore::keys::rekor_v1_key`).
pub struct V1Key {
    pair: EcdsaKeyPair,
    spki: Vec<u8>,
    log_id: [u8; 32],
    log_id_hex: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for V1Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V1Key")
            .field("log_id", &self.log_id_hex)
            .finish_non_exhaustive()
    }
}

impl V1Key {
    /// A fresh key and its PKCS#8 DER (to be sealed).
    pub fn generate() -> Result<(Self, Vec<u8>), String> {
        let doc = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map_err(|e| format!("generating the Rekor v1 key: {e}"))?;
        let der = doc.as_ref().to_vec();
        Ok((Self::from_pkcs8(&der)?, der))
    }

    /// The key from its PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|e| e.to_string())?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|e| e.to_string())?
            .as_ref()
            .to_vec();
        let log_id: [u8; 32] = Sha256::digest(&spki).into();
        Ok(V1Key {
            pair,
            log_id_hex: hex::encode(log_id),
            spki,
            log_id,
            rng: SystemRandom::new(),
        })
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// Rekor v1 log ID: SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn log_id(&self) -> &[u8; 32] {
        &self.log_id
    }

    /// PEM of the public key (`GET /api/v1/log/publicKey`).
    pub fn public_pem(&self) -> String {
        super::v1_entry::pem("PUBLIC KEY", &self.spki)
    }

    /// An ASN.1 DER ECDSA signature over `message` (SHA-256).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ApiError> {
        self.pair
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))
    }

    /// `note` (a signed checkpoint) with one more signature line, by this key.
    pub fn cosign_note(&self, note: &[u8]) -> Result<String, ApiError> {
        let text = std::str::from_utf8(note).map_err(|e| ApiError::internal(&e))?;
        let split = text.find("\n\n").ok_or_else(|| {
            ApiError::internal(&std::io::Error::other("checkpoint has no signature block"))
        })?;
        let (body, _) = text.split_at(split + 1);
        let name = body.lines().next().unwrap_or("");
        let sig = self.sign(body.as_bytes())?;
        let mut blob = Vec::with_capacity(4 + sig.len());
        blob.extend_from_slice(self.log_id.get(..4).unwrap_or_default());
        blob.extend_from_slice(&sig);
        Ok(format!("{text}\u{2014} {name} {}\n", b64(&blob)))
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Where the integrated time of entry `uuid` is kept.
fn record_key(uuid: &str) -> Result<ObjectKey, ApiError> {
    ObjectKey::new(format!("rekor-v1/{uuid}")).map_err(|e| ApiError::internal(&e))
}

#[derive(Serialize, Deserialize)]
struct Record {
    #[serde(rename = "logIndex")]
    log_index: u64,
    #[serde(rename = "integratedTime")]
    integrated_time: u64,
}

fn leaf_uuid(body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    hex::encode(h.finalize())
}

/// `POST /api/v1/log/entries`.
pub(super) async fn create(
    app: Arc<AppState>,
    rekor: Arc<Rekor>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::read_body(body)?;
    let accepted = rekor
        .pool
        .check_with(body, super::v1_entry::accept_v1)
        .await?;
    if accepted.body.len() > vouch_tlog::MAX_ENTRY_SIZE {
        return Err(RekorError::EntryTooLarge {
            size: accepted.body.len(),
            max: vouch_tlog::MAX_ENTRY_SIZE,
        }
        .into());
    }
    let uuid = leaf_uuid(&accepted.body);
    let key = record_key(&uuid)?;
    let objects = Arc::clone(app.log.objects());
    if objects
        .get(&key)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .is_some()
    {
        return Err(RekorError::Exists { uuid }.into());
    }
    let leaf = Bytes::from(accepted.body);
    let appended = app.log.add(leaf.clone()).await?;
    let record = Record {
        log_index: appended.index,
        integrated_time: app.sigstore.clock.unix_seconds(),
    };
    let json = serde_json::to_vec(&record).map_err(|e| ApiError::internal(&e))?;
    match objects.put_if_absent(&key, Bytes::from(json)).await {
        Ok(()) => {}
        // A concurrent identical entry recorded first: answer with its record.
        Err(vouch_store::StoreError::Differs { .. }) => {
            return Err(RekorError::Exists { uuid }.into());
        }
        Err(e) => return Err(ApiError::internal(&e)),
    }
    let entry = answer(&app, &rekor, &uuid, &leaf, &record, &appended.checkpoint).await?;
    let location = format!("/api/v1/log/entries/{uuid}");
    let mut response = json_response(StatusCode::CREATED, &entry)?;
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// The `{uuid: LogEntry}` answer for a recorded entry, proven against `checkpoint`.
async fn answer(
    app: &AppState,
    rekor: &Rekor,
    uuid: &str,
    leaf: &[u8],
    record: &Record,
    checkpoint: &vouch_log::Published,
) -> Result<Value, ApiError> {
    let v1 = &app.sigstore.rekor_v1;
    let hashes = rekor
        .prover
        .inclusion(&**app.log.objects(), record.log_index, checkpoint)
        .await?;
    let note = rekor.v1_note(v1, checkpoint)?;
    let body_b64 = b64(leaf);
    let set_payload = json!({
        "body": body_b64,
        "integratedTime": record.integrated_time,
        "logID": v1.log_id_hex,
        "logIndex": record.log_index,
    });
    // serde_json's map is sorted (no preserve_order), every value ASCII: RFC 8785.
    let canonical = serde_json::to_vec(&set_payload).map_err(|e| ApiError::internal(&e))?;
    let set = v1.sign(&canonical)?;
    Ok(json!({ uuid: {
        "body": body_b64,
        "integratedTime": record.integrated_time,
        "logID": v1.log_id_hex,
        "logIndex": record.log_index,
        "verification": {
            "inclusionProof": {
                "checkpoint": &*note,
                "hashes": hashes.iter().map(|h| hex::encode(h.as_bytes())).collect::<Vec<_>>(),
                "logIndex": record.log_index,
                "rootHash": hex::encode(checkpoint.root.as_bytes()),
                "treeSize": checkpoint.size,
            },
            "signedEntryTimestamp": b64(&set),
        },
    }}))
}

fn json_response(status: StatusCode, value: &Value) -> Result<Response, ApiError> {
    let json = serde_json::to_vec(value).map_err(|e| ApiError::internal(&e))?;
    Ok((
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        json,
    )
        .into_response())
}

/// Reads leaf `index` of the committed tree from its entry bundle.
async fn read_leaf(app: &AppState, index: u64, size: u64) -> Result<Bytes, ApiError> {
    let not_found = || RekorError::NotFound {
        what: format!("at log index {index} (tree size {size})"),
    };
    let bundle = vouch_tlog::BundleId::for_entry(index, size).ok_or_else(not_found)?;
    let key = ObjectKey::new(bundle.path()).map_err(|e| ApiError::internal(&e))?;
    let bytes = app
        .log
        .objects()
        .get(&key)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(not_found)?;
    let entries = vouch_tlog::decode_entry_bundle(&bytes)
        .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))?;
    let at = usize::try_from(index - bundle.first_entry()).unwrap_or(usize::MAX);
    entries
        .get(at)
        .map(|e| Bytes::copy_from_slice(e))
        .ok_or_else(|| not_found().into())
}

async fn read_record(app: &AppState, uuid: &str) -> Result<Option<Record>, ApiError> {
    let Some(bytes) = app
        .log
        .objects()
        .get(&record_key(uuid)?)
        .await
        .map_err(|e| ApiError::internal(&e))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::internal(&e))
}

/// The entry by UUID, or `None` when it was not written through v1.
async fn by_uuid(app: &AppState, rekor: &Rekor, uuid: &str) -> Result<Option<Value>, ApiError> {
    let Some(record) = read_record(app, uuid).await? else {
        return Ok(None);
    };
    let checkpoint = app.log.committed().await?;
    let leaf = read_leaf(app, record.log_index, checkpoint.size).await?;
    if leaf_uuid(&leaf) != uuid {
        return Err(ApiError::internal(&std::io::Error::other(format!(
            "rekor-v1 record {uuid} names index {} whose leaf differs",
            record.log_index
        ))));
    }
    answer(app, rekor, uuid, &leaf, &record, &checkpoint)
        .await
        .map(Some)
}

async fn by_index(app: &AppState, rekor: &Rekor, index: u64) -> Result<Option<Value>, ApiError> {
    let checkpoint = app.log.committed().await?;
    if index >= checkpoint.size {
        return Ok(None);
    }
    let leaf = read_leaf(app, index, checkpoint.size).await?;
    let uuid = leaf_uuid(&leaf);
    match read_record(app, &uuid).await? {
        Some(record) if record.log_index == index => {
            answer(app, rekor, &uuid, &leaf, &record, &checkpoint)
                .await
                .map(Some)
        }
        _ => Ok(None),
    }
}

fn parse_uuid(s: &str) -> Result<String, RekorError> {
    let s = s.to_ascii_lowercase();
    let hex_part = match s.len() {
        64 => s.as_str(),
        80 => s.get(16..).unwrap_or(""),
        _ => "",
    };
    if hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex_part.to_owned())
    } else {
        Err(RekorError::BadQuery {
            reason: format!(
                "entry UUID {:?} is not 64 hex digits (or an 80-hex entry ID)",
                s.chars().take(100).collect::<String>()
            ),
        })
    }
}

#[derive(Deserialize)]
pub(super) struct IndexQuery {
    #[serde(rename = "logIndex")]
    log_index: Option<String>,
}

/// `GET /api/v1/log/entries?logIndex=N`.
pub(super) async fn get_by_index(
    app: Arc<AppState>,
    rekor: Arc<Rekor>,
    Query(q): Query<IndexQuery>,
) -> Result<Response, ApiError> {
    let raw = q.log_index.ok_or_else(|| RekorError::BadQuery {
        reason: "expected ?logIndex=N".into(),
    })?;
    let index: u64 = raw.parse().map_err(|_| RekorError::BadQuery {
        reason: format!("logIndex {raw:?} is not a non-negative integer"),
    })?;
    let entry = by_index(&app, &rekor, index)
        .await?
        .ok_or_else(|| RekorError::NotFound {
            what: format!("at log index {index}"),
        })?;
    json_response(StatusCode::OK, &entry)
}

/// `GET /api/v1/log/entries/{uuid}`.
pub(super) async fn get_by_uuid(
    app: Arc<AppState>,
    rekor: Arc<Rekor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let uuid = parse_uuid(&id)?;
    let entry = by_uuid(&app, &rekor, &uuid)
        .await?
        .ok_or_else(|| RekorError::NotFound {
            what: format!("with UUID {uuid}"),
        })?;
    json_response(StatusCode::OK, &entry)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetrieveRequest {
    #[serde(rename = "entryUUIDs", default)]
    entry_uuids: Vec<String>,
    #[serde(rename = "logIndexes", default)]
    log_indexes: Vec<u64>,
    #[serde(default)]
    entries: Vec<Value>,
}

/// Most items one retrieve request may ask for (Rekor's own limit is 10).
const MAX_RETRIEVE: usize = 10;

/// `POST /api/v1/log/entries/retrieve`: entries by UUID, log index, or proposed entry
/// (canonicalized, and so signature-checked, like a create). Unknown ones are left out.
pub(super) async fn retrieve(
    app: Arc<AppState>,
    rekor: Arc<Rekor>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::read_body(body)?;
    let req: RetrieveRequest = serde_json::from_slice(&body).map_err(|e| RekorError::BadQuery {
        reason: format!("not a retrieve request: {e}"),
    })?;
    let count = req.entry_uuids.len() + req.log_indexes.len() + req.entries.len();
    if count > MAX_RETRIEVE {
        return Err(RekorError::BadQuery {
            reason: format!("{count} items asked for, at most {MAX_RETRIEVE}"),
        }
        .into());
    }
    let mut out = Vec::new();
    for id in &req.entry_uuids {
        if let Some(e) = by_uuid(&app, &rekor, &parse_uuid(id)?).await? {
            out.push(e);
        }
    }
    for index in &req.log_indexes {
        if let Some(e) = by_index(&app, &rekor, *index).await? {
            out.push(e);
        }
    }
    for proposed in &req.entries {
        let bytes = serde_json::to_vec(proposed).map_err(|e| ApiError::internal(&e))?;
        let accepted = rekor
            .pool
            .check_with(Bytes::from(bytes), super::v1_entry::accept_v1)
            .await?;
        if let Some(e) = by_uuid(&app, &rekor, &leaf_uuid(&accepted.body)).await? {
            out.push(e);
        }
    }
    json_response(StatusCode::OK, &Value::Array(out))
}

/// `GET /api/v1/log`: the tree head, its v1-cosigned checkpoint as `signedTreeHead`.
pub(super) async fn log_info(app: Arc<AppState>, rekor: Arc<Rekor>) -> Result<Response, ApiError> {
    let checkpoint = app.log.committed().await?;
    let v1 = &app.sigstore.rekor_v1;
    let note = rekor.v1_note(v1, &checkpoint)?;
    let tree_id = u64::from_be_bytes(
        v1.log_id
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default(),
    ) >> 1;
    json_response(
        StatusCode::OK,
        &json!({
            "rootHash": hex::encode(checkpoint.root.as_bytes()),
            "treeSize": checkpoint.size,
            "signedTreeHead": &*note,
            "treeID": tree_id.to_string(),
            "inactiveShards": [],
        }),
    )
}

#[derive(Deserialize)]
pub(super) struct ProofQuery {
    #[serde(rename = "firstSize")]
    first_size: Option<String>,
    #[serde(rename = "lastSize")]
    last_size: Option<String>,
}

/// `GET /api/v1/log/proof?firstSize=M[&lastSize=N]`: the consistency proof from M to
/// N, where N is the current tree size (the default; an older N is refused).
pub(super) async fn proof(
    app: Arc<AppState>,
    Query(q): Query<ProofQuery>,
) -> Result<Response, ApiError> {
    let checkpoint = app.log.committed().await?;
    let num = |name: &str, v: &Option<String>, default: Option<u64>| -> Result<u64, RekorError> {
        match (v, default) {
            (Some(s), _) => s.parse().map_err(|_| RekorError::BadQuery {
                reason: format!("{name} {s:?} is not a non-negative integer"),
            }),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(RekorError::BadQuery {
                reason: format!("expected ?{name}=N"),
            }),
        }
    };
    let first = num("firstSize", &q.first_size, None)?;
    let last = num("lastSize", &q.last_size, Some(checkpoint.size))?;
    if last != checkpoint.size || first > last || first == 0 {
        return Err(RekorError::BadQuery {
            reason: format!(
                "expected 1 <= firstSize <= lastSize = the current tree size {}, found firstSize {first}, lastSize {last}",
                checkpoint.size
            ),
        }
        .into());
    }
    let hashes =
        vouch_log::proofs::consistency_proof(&**app.log.objects(), first, last, checkpoint.size)
            .await?;
    json_response(
        StatusCode::OK,
        &json!({
            "rootHash": hex::encode(checkpoint.root.as_bytes()),
            "hashes": hashes.iter().map(|h| hex::encode(h.as_bytes())).collect::<Vec<_>>(),
        }),
    )
}

/// `GET /api/v1/log/publicKey`: the v1 log key, PEM.
pub(super) async fn public_key(app: Arc<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        app.sigstore.rekor_v1.public_pem(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosigned_note_keeps_the_first_line_and_adds_a_v1_one() {
        let (key, _) = V1Key::generate().unwrap();
        let note = b"example.org/log\n3\nAAAA\n\n\xe2\x80\x94 example.org/log abcd\n";
        let out = key.cosign_note(note).unwrap();
        assert!(out.starts_with(std::str::from_utf8(note).unwrap()));
        let last = out.lines().last().unwrap();
        let blob = base64::engine::general_purpose::STANDARD
            .decode(last.rsplit(' ').next().unwrap())
            .unwrap();
        assert_eq!(&blob[..4], &key.log_id()[..4]);
        let pk = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            key.pair.public_key().as_ref(),
        );
        pk.verify(b"example.org/log\n3\nAAAA\n", &blob[4..])
            .unwrap();
    }

    #[test]
    fn uuids_and_entry_ids() {
        let u = "a".repeat(64);
        assert_eq!(parse_uuid(&u).unwrap(), u);
        assert_eq!(parse_uuid(&format!("{}{u}", "0".repeat(16))).unwrap(), u);
        assert_eq!(parse_uuid("xyz").unwrap_err().code(), "REKOR_E017");
    }
}
