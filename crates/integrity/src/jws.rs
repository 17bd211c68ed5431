//! Signing and verifying integrity records as compact JWS (RFC 7515, Section 7.1) with
//! EdDSA over Ed25519 (RFC 8037), payload = the record's RFC 8785 canonical JSON.
//!
//! Protected header, itself canonical JSON: `{"alg":"EdDSA","kid":<kid>,"typ":`
//! [`JWS_TYP`]`}`. The explicit `typ` (RFC 8725, Section 3.11) stops a record signature
//! from being accepted as any other kind of registry JWS, and vice versa.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{IntegrityError, Result};
use crate::jcs::canonical_record_json;
use crate::key::RegistrySigningKey;
use crate::keyset::KeySet;
use crate::record::IntegrityRecord;

/// The `typ` header of integrity record JWS. Media type `application/vouch-integrity+jws`
/// with the `application/` prefix omitted, as RFC 7515, Section 4.1.9 recommends.
pub const JWS_TYP: &str = "vouch-integrity+jws";

/// The only accepted `alg`.
pub const JWS_ALG: &str = "EdDSA";

/// Largest compact JWS [`verify_record`] reads (a record with [`crate::MAX_ASSETS`]
/// assets of long names fits).
pub const MAX_JWS_BYTES: usize = 4 * 1024 * 1024;

/// Header members allowed: anything else (`crit`, `b64`, `jwk`, `x5u`…) is refused.
const HEADER_MEMBERS: [&str; 3] = ["alg", "kid", "typ"];

/// A record together with its compact JWS. Obtained only by signing
/// ([`sign_record`]) or by verifying ([`verify_record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRecord {
    record: IntegrityRecord,
    jws: String,
}

impl SignedRecord {
    /// The record.
    pub fn record(&self) -> &IntegrityRecord {
        &self.record
    }

    /// The compact JWS, as stored and served.
    pub fn jws(&self) -> &str {
        &self.jws
    }

    /// The transparency-log leaf for this record: the bytes of the compact JWS (see
    /// [`crate::log_leaf`]).
    pub fn log_leaf(&self) -> &[u8] {
        self.jws.as_bytes()
    }
}

/// Signs `record` with `key`. The record's kid must be the key's kid
/// ([`IntegrityError::RecordKidMismatch`] otherwise); every field is checked and every
/// number must be a safe integer, so whatever is signed also verifies.
pub fn sign_record(record: &IntegrityRecord, key: &RegistrySigningKey) -> Result<SignedRecord> {
    if record.kid != key.kid() {
        return Err(IntegrityError::RecordKidMismatch {
            header: key.kid().to_string(),
            record: record.kid.to_string(),
        });
    }
    let payload = canonical_record_json(&record.to_json_value()?)?;
    let jws = sign_payload(&payload, key);
    Ok(SignedRecord {
        record: record.clone(),
        jws,
    })
}

/// The compact JWS of arbitrary payload bytes under the integrity header. Public only
/// within the crate (and to its tests, to build non-canonical payloads on purpose).
pub(crate) fn sign_payload(payload: &[u8], key: &RegistrySigningKey) -> String {
    let mut jws = URL_SAFE_NO_PAD.encode(header_json(key.kid().as_str()));
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign(jws.as_bytes());
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
    jws
}

/// Verifies a compact JWS against the key set and returns the record it carries.
///
/// In order: size cap; exactly three segments; header unpadded base64url, a JSON object
/// with exactly `alg`, `kid`, `typ`; `alg` exactly `EdDSA` (so `none`, `HS256` and every
/// other algorithm are refused before any key is looked up); `typ` exactly [`JWS_TYP`];
/// `kid` in `keys`; payload and signature unpadded base64url; the Ed25519 signature over
/// `header.payload` (strict verification); then — only now parsing the authenticated
/// payload — the payload must be RFC 8785 canonical (re-canonicalised and compared
/// byte for byte) with only safe integers; the record is parsed strictly (`v` = 1,
/// unknown members refused); and its kid must equal the header's.
#[allow(
    clippy::indexing_slicing,
    reason = "header_b64 and payload_b64 are the first two dot-separated parts of compact, so signed_len <= compact.len()"
)]
pub fn verify_record(compact: &str, keys: &KeySet) -> Result<SignedRecord> {
    if compact.len() > MAX_JWS_BYTES {
        return Err(IntegrityError::TooLarge {
            what: "compact JWS",
            limit: MAX_JWS_BYTES,
            found: compact.len(),
        });
    }
    // At most four pieces are collected, so a token of dots allocates nothing large.
    let segments: Vec<&str> = compact.splitn(4, '.').collect();
    let [header_b64, payload_b64, signature_b64] = segments[..] else {
        return Err(IntegrityError::JwsSegments {
            expected: 3,
            found: compact.bytes().filter(|b| *b == b'.').count() + 1,
        });
    };
    let header_bytes = decode(header_b64, "header")?;
    let header = parse_header(&header_bytes)?;
    // The members are right; now the bytes must be exactly what `sign_payload` writes.
    // This refuses duplicate members (which a JSON parser would silently collapse),
    // whitespace and escapes, so a header has one spelling, like the payload.
    if header_bytes != header_json(&header.kid).as_bytes() {
        return Err(header_shape(
            "header is not the canonical {\"alg\",\"kid\",\"typ\"} object".to_owned(),
        ));
    }
    let key = keys
        .find(&header.kid)
        .ok_or_else(|| IntegrityError::UnknownKid {
            kid: header.kid.chars().take(80).collect(),
        })?;
    let payload = decode(payload_b64, "payload")?;
    let signature = decode(signature_b64, "signature")?;
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    let signature: [u8; 64] =
        signature
            .try_into()
            .map_err(|_| IntegrityError::SignatureInvalid {
                kid: header.kid.clone(),
            })?;
    if !key.verify(&compact.as_bytes()[..signed_len], &signature) {
        return Err(IntegrityError::SignatureInvalid { kid: header.kid });
    }
    let value: Value = serde_json::from_slice(&payload)
        .map_err(|e| IntegrityError::json("integrity record", &e))?;
    let canonical = canonical_record_json(&value)?;
    if canonical != payload {
        return Err(IntegrityError::PayloadNotCanonical {
            expected: canonical.len(),
            found: payload.len(),
        });
    }
    let record = IntegrityRecord::from_json_value(value)?;
    if record.kid.as_str() != header.kid {
        return Err(IntegrityError::RecordKidMismatch {
            header: header.kid,
            record: record.kid.to_string(),
        });
    }
    Ok(SignedRecord {
        record,
        jws: compact.to_owned(),
    })
}

/// The protected header: RFC 8785 canonical JSON (members already in sorted order).
/// Only called with kids that are 16 hex characters or that came out of a key-set
/// lookup, so no escaping is needed.
fn header_json(kid: &str) -> String {
    format!(r#"{{"alg":"{JWS_ALG}","kid":"{kid}","typ":"{JWS_TYP}"}}"#)
}

struct Header {
    kid: String,
}

fn decode(segment: &str, name: &'static str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| IntegrityError::JwsBase64 { segment: name })
}

fn parse_header(bytes: &[u8]) -> Result<Header> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| IntegrityError::json("JWS header", &e))?;
    let Value::Object(members) = value else {
        return Err(header_shape("not a JSON object".to_owned()));
    };
    // alg first: an attacker-chosen algorithm is the most important thing to refuse,
    // and the error should say so whatever else is wrong with the header.
    let alg = string_member(&members, "alg");
    if alg.as_deref() != Some(JWS_ALG) {
        return Err(IntegrityError::AlgorithmNotAllowed {
            expected: JWS_ALG,
            found: alg.unwrap_or_else(|| "<missing>".to_owned()),
        });
    }
    if let Some(other) = members
        .keys()
        .find(|k| !HEADER_MEMBERS.contains(&k.as_str()))
    {
        return Err(header_shape(format!("unexpected header member {other:?}")));
    }
    let typ = string_member(&members, "typ");
    if typ.as_deref() != Some(JWS_TYP) {
        return Err(IntegrityError::TypeNotAllowed {
            expected: JWS_TYP,
            found: typ.unwrap_or_else(|| "<missing>".to_owned()),
        });
    }
    let kid = string_member(&members, "kid")
        .ok_or_else(|| header_shape("kid is missing or not a string".to_owned()))?;
    Ok(Header { kid })
}

fn string_member(members: &Map<String, Value>, name: &str) -> Option<String> {
    match members.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string().chars().take(80).collect()),
        None => None,
    }
}

fn header_shape(detail: String) -> IntegrityError {
    IntegrityError::MalformedJson {
        what: "JWS header",
        line: 0,
        column: 0,
        detail,
    }
}
