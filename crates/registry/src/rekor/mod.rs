//! Rekor v2 (and v1) on vouch's log: `POST /api/v2/log/entries` verifies a proposed hashedrekord or DSSE entry, appends its canonical form, and answers with an inclusion proof against the checkpoint that covers it; `/api/v1/log/...` ([`v1`]) does the same for Rekor v1 entries and adds integrated time and SET.
//!
//! Rekor **v2** has no integrated time and no SET: signing clients get their time from
//! the RFC 3161 TSA. Rekor **v1** entries are leaves of the same tree (see [`v1`] for
//! the v1 key, the SET, the integrated time and the cosigned checkpoint).
//!
//! The v2 flow per request:
//!
//! 1. the body (at most [`MAX_REQUEST_BYTES`]) is parsed strictly as a
//!    `CreateEntryRequest` in protobuf JSON ([`entry`]);
//! 2. every signature is checked with the key from the given certificate or public key
//!    ([`key`]) BEFORE anything reaches the log; a refusal is a `REKOR_E0xx` 4xx and
//!    the tree does not grow;
//! 3. the canonical entry (RFC 8785 JSON of the v0.0.2 `Entry`) is the log leaf; it is
//!    pooled by [`vouch_log::Log::add`], which resolves once the batch is durable and a
//!    checkpoint covering it is published (group commit: one checkpoint per batch,
//!    never per request);
//! 4. the answer is a `TransparencyLogEntry` (protobuf JSON): `logIndex`, `logId`,
//!    `kindVersion`, `canonicalizedBody`, and `inclusionProof` with the signed note of
//!    that checkpoint as `checkpoint.envelope` ([`vouch_log::Prover`] shares tile reads per batch).
//!
//! The log ID is the signed-note key ID in full (Rekor v2, C2SP signed-note):
//! SHA-256(key name ‖ `\n` ‖ signature type ‖ public key); its first four bytes are
//! the key hint on the checkpoint's signature line, which is how sigstore-python and
//! sigstore-verify find the key in the trusted root ([`log_id`]).
//!
//! | code | status | when |
//! |---|---|---|
//! | REKOR_E001 | 413 | request body over [`MAX_REQUEST_BYTES`] |
//! | REKOR_E002 | 400 | not a CreateEntryRequest (bad JSON, unknown or missing field, not exactly one entry kind or verifier) |
//! | REKOR_E003 | 400 | a bytes field is not base64 |
//! | REKOR_E004 | 400 | digest length does not fit the key (expected vs found) |
//! | REKOR_E005 | 400 | keyDetails not supported (or pure Ed25519 in a hashedrekord) |
//! | REKOR_E006 | 400 | keyDetails disagree with the key in the certificate |
//! | REKOR_E007 | 400 | certificate or public key does not parse, or is not P-256/P-384/P-521/Ed25519 |
//! | REKOR_E008 | 400 | a signature does not verify |
//! | REKOR_E009 | 413 | canonical entry over the log's 65,535-byte entry limit (checked before any signature, on the smallest entry the signatures could make, and again on the entry made) |
//! | REKOR_E010 | 413 | a DSSE envelope with more than [`MAX_DSSE_SIGNATURES`] signatures |
//! | REKOR_E011 | 413 | a DSSE request with more than [`MAX_DSSE_VERIFIERS`] verifiers |
//! | REKOR_E012 | 503 | the verification pool is full (`Retry-After: 1`) |
//! | REKOR_E013 | 503 | the client went away while its entry waited or was checked (nobody reads it) |
//! | REKOR_E014 | 400 | (v1) entry kind/apiVersion other than hashedrekord/0.0.1 or dsse/0.0.1 |
//! | REKOR_E015 | 404 | (v1) no entry with that UUID or index written through v1 |
//! | REKOR_E016 | 409 | (v1) an entry with the same canonical body is already logged |
//! | REKOR_E017 | 400 | (v1) bad query: index, UUID, proof sizes, retrieve request |
//!
//! Parsing and signature checks run on a bounded pool off the async workers
//! ([`pool`]): at most `MAX_DSSE_SIGNATURES × MAX_DSSE_VERIFIERS` checks per request,
//! a bounded number of requests at once, and none after the client left.

mod entry;
mod error;
mod key;
mod pool;
mod v1;
mod v1_entry;

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use vouch_tlog::Verifier;

use crate::app::AppState;
use crate::ApiError;

pub use entry::{pae, CreateEntryRequest, Kind};
pub use error::RekorError;
pub use key::{HashAlg, KeyDetails, VerifierKey};
pub use pool::VerifyPool;
pub use v1::V1Key;

/// Most signatures one DSSE envelope may carry. sigstore clients send one; a few allow
/// co-signing. Each signature may be tried against every verifier, so this and
/// [`MAX_DSSE_VERIFIERS`] together bound one request's cryptography (64 checks).
pub const MAX_DSSE_SIGNATURES: usize = 8;

/// Most verifiers one DSSE request may carry.
pub const MAX_DSSE_VERIFIERS: usize = 8;

/// Most bytes a create-entry request may have. DSSE requests carry the whole envelope
/// (an in-toto statement with SLSA provenance is typically a few KiB to tens of KiB);
/// hashedrekord requests are around 2 KiB.
pub const MAX_REQUEST_BYTES: usize = 256 << 10;

/// The create-entry path (Rekor v2 HTTP API).
pub const ENTRIES_PATH: &str = "/api/v2/log/entries";
/// The create-entry (POST) and entry-by-index (GET) path of the Rekor v1 HTTP API.
pub const V1_ENTRIES_PATH: &str = "/api/v1/log/entries";

/// The Rekor v2 log ID of a log whose checkpoints `verifier` verifies: the full
/// SHA-256 signed-note key ID (C2SP signed-note), whose first four bytes are the key
/// hint of the checkpoint signature. Trust roots must list the log under this ID.
pub fn log_id(verifier: &Verifier) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(verifier.name().as_bytes());
    h.update(b"\n");
    h.update([verifier.key_type().byte()]);
    h.update(verifier.public_key());
    h.finalize().into()
}

/// Per-router state: the proof tile cache, the log ID (computed once), and the pool
/// that checks entries.
#[derive(Debug)]
struct Rekor {
    prover: vouch_log::Prover,
    log_id_b64: OnceLock<String>,
    pool: VerifyPool,
    /// The latest checkpoint note with its Rekor v1 signature line, by tree size.
    v1_note: Mutex<Option<(u64, Arc<str>)>>,
}

impl Rekor {
    /// `checkpoint`'s note cosigned by the v1 key; signed once per checkpoint.
    fn v1_note(
        &self,
        key: &V1Key,
        checkpoint: &vouch_log::Published,
    ) -> Result<Arc<str>, ApiError> {
        if let Ok(cache) = self.v1_note.lock() {
            if let Some((size, note)) = &*cache {
                if *size == checkpoint.size {
                    return Ok(Arc::clone(note));
                }
            }
        }
        let note: Arc<str> = Arc::from(key.cosign_note(&checkpoint.note)?);
        if let Ok(mut cache) = self.v1_note.lock() {
            if cache
                .as_ref()
                .is_none_or(|(size, _)| *size < checkpoint.size)
            {
                *cache = Some((checkpoint.size, Arc::clone(&note)));
            }
        }
        Ok(note)
    }
}

/// The body, or the refusal for one over the limit or unreadable.
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, RekorError> {
    body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            RekorError::TooLarge {
                max: MAX_REQUEST_BYTES,
            }
        }
        other => RekorError::Malformed {
            reason: format!("cannot read the body: {other}"),
        },
    })
}

/// The Rekor v2 and v1 routes, to be merged into the application router. `workers`
/// entry checks run at once and `queue` more may wait (`[limits]` in the server
/// config); both versions share the pool.
pub fn routes(workers: usize, queue: usize) -> Router<Arc<AppState>> {
    let rekor = Arc::new(Rekor {
        prover: vouch_log::Prover::default(),
        log_id_b64: OnceLock::new(),
        pool: VerifyPool::new(workers, queue),
        v1_note: Mutex::new(None),
    });
    let (r1, r2, r3, r4, r5, r6) = (
        Arc::clone(&rekor),
        Arc::clone(&rekor),
        Arc::clone(&rekor),
        Arc::clone(&rekor),
        Arc::clone(&rekor),
        Arc::clone(&rekor),
    );
    Router::new()
        .route(
            ENTRIES_PATH,
            post(
                move |State(app): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>| {
                    let rekor = Arc::clone(&rekor);
                    async move { create_entry(app, rekor, body).await }
                },
            )
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)),
        )
        .route(
            V1_ENTRIES_PATH,
            post(
                move |State(app): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>| {
                    let rekor = Arc::clone(&r1);
                    async move { v1::create(app, rekor, body).await }
                },
            )
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .get(move |State(app): State<Arc<AppState>>, q| {
                let rekor = Arc::clone(&r2);
                async move { v1::get_by_index(app, rekor, q).await }
            }),
        )
        .route(
            "/api/v1/log/entries/retrieve",
            post(
                move |State(app): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>| {
                    let rekor = Arc::clone(&r3);
                    async move { v1::retrieve(app, rekor, body).await }
                },
            )
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)),
        )
        .route(
            "/api/v1/log/entries/{uuid}",
            get(move |State(app): State<Arc<AppState>>, p| {
                let rekor = Arc::clone(&r4);
                async move { v1::get_by_uuid(app, rekor, p).await }
            }),
        )
        .route(
            "/api/v1/log",
            get(move |State(app): State<Arc<AppState>>| {
                let rekor = Arc::clone(&r5);
                async move { v1::log_info(app, rekor).await }
            }),
        )
        .route(
            "/api/v1/log/proof",
            get(move |State(app): State<Arc<AppState>>, q| {
                let _keep = Arc::clone(&r6);
                async move { v1::proof(app, q).await }
            }),
        )
        .route(
            "/api/v1/log/publicKey",
            get(|State(app): State<Arc<AppState>>| async move { v1::public_key(app).await }),
        )
}

async fn create_entry(
    app: Arc<AppState>,
    rekor: Arc<Rekor>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body)?;
    let accepted = rekor.pool.check(body).await?;
    if accepted.body.len() > vouch_tlog::MAX_ENTRY_SIZE {
        return Err(RekorError::EntryTooLarge {
            size: accepted.body.len(),
            max: vouch_tlog::MAX_ENTRY_SIZE,
        }
        .into());
    }
    let leaf = Bytes::from(accepted.body);
    // Through the leader when this node follows: answered with a committed checkpoint
    // covering `index` (verified under the log key), whichever node sequenced it.
    let appended = app.log.add(leaf.clone()).await?;
    let (index, checkpoint) = (appended.index, appended.checkpoint);
    let hashes = rekor
        .prover
        .inclusion(&**app.log.objects(), index, &checkpoint)
        .await?;
    let note = std::str::from_utf8(&checkpoint.note).map_err(|e| ApiError::internal(&e))?;
    let log_id = rekor
        .log_id_b64
        .get_or_init(|| b64(&log_id(&app.log.verifier())));
    let index_s = index.to_string();
    let entry = TransparencyLogEntry {
        log_index: &index_s,
        log_id: LogId { key_id: log_id },
        kind_version: KindVersion {
            kind: accepted.kind.name(),
            version: "0.0.2",
        },
        inclusion_proof: InclusionProof {
            log_index: &index_s,
            root_hash: b64(checkpoint.root.as_bytes()),
            tree_size: checkpoint.size.to_string(),
            hashes: hashes.iter().map(|h| b64(h.as_bytes())).collect(),
            checkpoint: Envelope { envelope: note },
        },
        canonicalized_body: b64(&leaf),
    };
    let json = serde_json::to_vec(&entry).map_err(|e| ApiError::internal(&e))?;
    Ok((
        StatusCode::CREATED,
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

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// The response, in protobuf JSON (camelCase, 64-bit integers as strings, bytes as
// standard base64). No `integratedTime` and no `inclusionPromise`: Rekor v2 has neither.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransparencyLogEntry<'a> {
    log_index: &'a str,
    log_id: LogId<'a>,
    kind_version: KindVersion,
    inclusion_proof: InclusionProof<'a>,
    canonicalized_body: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogId<'a> {
    key_id: &'a str,
}

#[derive(Serialize)]
struct KindVersion {
    kind: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InclusionProof<'a> {
    log_index: &'a str,
    root_hash: String,
    tree_size: String,
    hashes: Vec<String>,
    checkpoint: Envelope<'a>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    envelope: &'a str,
}
