//! Rekor v1 proposed entries (`hashedrekord` and `dsse`, apiVersion 0.0.1): parsing, signature checks, and the canonical entry (the log leaf) as Rekor v1 writes it.
//!
//! The canonical entries, keys sorted, no whitespace (every value is ASCII, so this is
//! RFC 8785), with verifiers re-encoded as PEM (64-column lines, LF) of the DER the
//! client sent, which is what sigstore-python rebuilds and compares:
//!
//! - hashedrekord: `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":
//!   {"algorithm":"sha256","value":HEX}},"signature":{"content":B64,"publicKey":
//!   {"content":B64(PEM)}}}}`;
//! - dsse: `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":
//!   "sha256","value":HEX(SHA-256 of the envelope JSON as sent)},"payloadHash":{...},
//!   "signatures":[{"signature":B64,"verifier":B64(PEM)}...]}}`, signatures sorted by
//!   their base64 text, each paired with the verifier that verified it.

use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::entry::{b64, enc, match_envelope_signatures, pae, to_json, Accepted, Kind};
use super::key::{HashAlg, KeyDetails, VerifierKey};
use super::RekorError;

fn malformed(reason: impl Into<String>) -> RekorError {
    RekorError::Malformed {
        reason: reason.into(),
    }
}

/// PEM with 64-column lines, LF line ends and a final newline (the CA's one writer).
pub use vouch_ca::pki::pem;

/// A v1 verifier: base64 of a PEM certificate or PEM public key. Returns the key and
/// the canonical base64(PEM) written into the entry.
fn parse_verifier(field: &'static str, b64_pem: &str) -> Result<(VerifierKey, String), RekorError> {
    let pem_bytes = b64(field, b64_pem)?;
    let text = std::str::from_utf8(&pem_bytes).map_err(|_| RekorError::BadVerifier {
        what: field,
        reason: "not PEM text".into(),
    })?;
    let (label, der) =
        der::pem::decode_vec(text.trim().as_bytes()).map_err(|e| RekorError::BadVerifier {
            what: field,
            reason: format!("not PEM ({e})"),
        })?;
    let key = match label {
        "CERTIFICATE" => any_details(|d| VerifierKey::from_certificate(&der, d))?,
        "PUBLIC KEY" => any_details(|d| VerifierKey::from_spki(&der, d))?,
        other => {
            return Err(RekorError::BadVerifier {
                what: field,
                reason: format!("PEM label {other:?}, expected CERTIFICATE or PUBLIC KEY"),
            })
        }
    };
    Ok((key, enc(pem(label, &der).as_bytes())))
}

/// Rekor v1 carries no keyDetails: the key's own algorithm decides.
fn any_details(
    parse: impl Fn(KeyDetails) -> Result<VerifierKey, RekorError>,
) -> Result<VerifierKey, RekorError> {
    for d in [
        KeyDetails::EcdsaP256Sha256,
        KeyDetails::EcdsaP384Sha384,
        KeyDetails::EcdsaP521Sha512,
    ] {
        match parse(d) {
            Err(RekorError::KeyDetailsMismatch { .. }) => continue,
            other => return other,
        }
    }
    parse(KeyDetails::Ed25519)
}

// ---- proposed entries ----

#[derive(Debug, Deserialize)]
struct Proposed {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    spec: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashedRekordSpec {
    data: HrData,
    signature: HrSignature,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HrData {
    hash: HrHash,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HrHash {
    algorithm: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HrSignature {
    content: String,
    #[serde(rename = "publicKey")]
    public_key: HrPublicKey,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HrPublicKey {
    content: String,
}

/// The server-computed fields may be sent as `null` (sigstore-python does), never set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseSpec {
    #[serde(rename = "proposedContent")]
    proposed_content: ProposedContent,
    #[serde(default)]
    signatures: Option<serde_json::Value>,
    #[serde(rename = "envelopeHash", default)]
    envelope_hash: Option<serde_json::Value>,
    #[serde(rename = "payloadHash", default)]
    payload_hash: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposedContent {
    envelope: String,
    verifiers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

// ---- canonical entries (fields in sorted order) ----

#[derive(Serialize)]
struct Canonical<S> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    spec: S,
}

#[derive(Serialize)]
struct HrCanonicalSpec {
    data: HrCanonicalData,
    signature: HrCanonicalSignature,
}

#[derive(Serialize)]
struct HrCanonicalData {
    hash: HrHash,
}

#[derive(Serialize)]
struct HrCanonicalSignature {
    content: String,
    #[serde(rename = "publicKey")]
    public_key: HrPublicKey,
}

#[derive(Serialize)]
struct DsseCanonicalSpec {
    #[serde(rename = "envelopeHash")]
    envelope_hash: HrHash,
    #[serde(rename = "payloadHash")]
    payload_hash: HrHash,
    signatures: Vec<DsseCanonicalSignature>,
}

#[derive(Serialize)]
struct DsseCanonicalSignature {
    signature: String,
    verifier: String,
}

/// Parses a Rekor v1 proposed entry, checks every signature, and builds the canonical
/// entry. `cancel` is read between signature checks.
pub fn accept_v1(body: &[u8], cancel: &AtomicBool) -> Result<Accepted, RekorError> {
    let proposed: Proposed = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a Rekor v1 proposed entry: {e}")))?;
    match (proposed.kind.as_str(), proposed.api_version.as_str()) {
        ("hashedrekord", "0.0.1") => {
            let spec: HashedRekordSpec = serde_json::from_value(proposed.spec)
                .map_err(|e| malformed(format!("hashedrekord 0.0.1 spec: {e}")))?;
            hashedrekord(spec)
        }
        ("dsse", "0.0.1") => {
            let spec: DsseSpec = serde_json::from_value(proposed.spec)
                .map_err(|e| malformed(format!("dsse 0.0.1 spec: {e}")))?;
            dsse(spec, cancel)
        }
        (kind, version) => Err(RekorError::UnsupportedKind {
            found: format!(
                "{}/{}",
                kind.chars().take(32).collect::<String>(),
                version.chars().take(16).collect::<String>()
            ),
        }),
    }
}

fn hashedrekord(spec: HashedRekordSpec) -> Result<Accepted, RekorError> {
    let declared = match spec.data.hash.algorithm.as_str() {
        "sha256" => HashAlg::Sha256,
        "sha384" => HashAlg::Sha384,
        "sha512" => HashAlg::Sha512,
        other => {
            return Err(malformed(format!(
                "data.hash.algorithm {:?}, expected sha256, sha384 or sha512",
                other.chars().take(32).collect::<String>()
            )))
        }
    };
    let digest = hex::decode(&spec.data.hash.value)
        .map_err(|_| malformed("data.hash.value is not lowercase hex"))?;
    let sig = b64("signature.content", &spec.signature.content)?;
    let (key, verifier) = parse_verifier(
        "signature.publicKey.content",
        &spec.signature.public_key.content,
    )?;
    let alg = key.digest_alg(digest.len())?;
    if alg != declared {
        return Err(RekorError::DigestLength {
            key_details: key.details().name(),
            expected: "the length of data.hash.algorithm",
            found: digest.len(),
        });
    }
    if sig.is_empty() || !key.verify_digest(alg, &digest, &sig) {
        return Err(RekorError::SignatureInvalid {
            what: "signature.content over data.hash",
            verifier: "publicKey",
        });
    }
    let entry = Canonical {
        api_version: "0.0.1",
        kind: Kind::HashedRekord.name(),
        spec: HrCanonicalSpec {
            data: HrCanonicalData {
                hash: HrHash {
                    algorithm: spec.data.hash.algorithm,
                    value: hex::encode(&digest),
                },
            },
            signature: HrCanonicalSignature {
                content: enc(&sig),
                public_key: HrPublicKey { content: verifier },
            },
        },
    };
    Ok(Accepted {
        kind: Kind::HashedRekord,
        body: to_json(&entry)?,
    })
}

fn dsse(spec: DsseSpec, cancel: &AtomicBool) -> Result<Accepted, RekorError> {
    if spec.signatures.is_some() || spec.envelope_hash.is_some() || spec.payload_hash.is_some() {
        return Err(malformed(
            "signatures, envelopeHash and payloadHash are computed by the log: send only proposedContent",
        ));
    }
    let content = spec.proposed_content;
    if content.envelope.len() > super::MAX_REQUEST_BYTES {
        return Err(RekorError::TooLarge {
            max: super::MAX_REQUEST_BYTES,
        });
    }
    let envelope: Envelope = serde_json::from_str(&content.envelope).map_err(|e| {
        malformed(format!(
            "proposedContent.envelope is not a DSSE envelope: {e}"
        ))
    })?;
    let count = envelope.signatures.len();
    if count == 0 {
        return Err(malformed("envelope.signatures is empty"));
    }
    if count > super::MAX_DSSE_SIGNATURES {
        return Err(RekorError::TooManySignatures {
            found: count,
            max: super::MAX_DSSE_SIGNATURES,
        });
    }
    if content.verifiers.is_empty() {
        return Err(malformed("proposedContent.verifiers is empty"));
    }
    if content.verifiers.len() > super::MAX_DSSE_VERIFIERS {
        return Err(RekorError::TooManyVerifiers {
            found: content.verifiers.len(),
            max: super::MAX_DSSE_VERIFIERS,
        });
    }
    let payload = b64("envelope.payload", &envelope.payload)?;
    let sigs = envelope
        .signatures
        .iter()
        .map(|s| b64("envelope.signatures[].sig", &s.sig))
        .collect::<Result<Vec<_>, _>>()?;
    let verifiers = content
        .verifiers
        .iter()
        .map(|v| parse_verifier("proposedContent.verifiers[]", v))
        .collect::<Result<Vec<_>, _>>()?;
    let message = pae(&envelope.payload_type, &payload);
    let mut signatures: Vec<DsseCanonicalSignature> =
        match_envelope_signatures(&message, &sigs, &verifiers, cancel)?
            .into_iter()
            .map(|(sig, v)| DsseCanonicalSignature {
                signature: enc(sig),
                verifier: v.clone(),
            })
            .collect();
    signatures.sort_by(|a, b| a.signature.cmp(&b.signature));
    let sha = |b: &[u8]| HrHash {
        algorithm: "sha256".into(),
        value: hex::encode(Sha256::digest(b)),
    };
    let entry = Canonical {
        api_version: "0.0.1",
        kind: Kind::Dsse.name(),
        spec: DsseCanonicalSpec {
            envelope_hash: sha(content.envelope.as_bytes()),
            payload_hash: sha(&payload),
            signatures,
        },
    };
    Ok(Accepted {
        kind: Kind::Dsse,
        body: to_json(&entry)?,
    })
}
