//! Rekor v2 `CreateEntryRequest` parsing (protobuf JSON), signature checks, and the canonical entry (the log leaf) for hashedrekord and DSSE v0.0.2.
//!
//! The canonical entry is the `Entry` message (`kind`, `apiVersion`, `spec`) as JSON
//! with keys sorted and no whitespace (RFC 8785 for these values: only ASCII strings),
//! which is how rekor-tiles canonicalizes and what sigstore-python and sigstore-verify
//! rebuild and compare byte for byte. The wire structs below list their fields in
//! sorted order so that serde writes exactly that form.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::key::{KeyDetails, VerifierKey};
use super::RekorError;

/// Standard alphabet; padding optional (protobuf JSON writers differ on it; Rekor v1
/// clients too).
const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

pub(super) fn b64(field: &'static str, s: &str) -> Result<Vec<u8>, RekorError> {
    B64.decode(s).map_err(|_| RekorError::Base64 { field })
}

pub(super) fn enc(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ---- request (protobuf JSON; snake_case names accepted as protobuf JSON requires) ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEntryRequest {
    #[serde(
        rename = "hashedRekordRequestV002",
        alias = "hashed_rekord_request_v002"
    )]
    hashed_rekord: Option<HashedRekordRequest>,
    #[serde(rename = "dsseRequestV002", alias = "dsse_request_v002")]
    dsse: Option<DsseRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashedRekordRequest {
    digest: String,
    signature: WireSignature,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseRequest {
    envelope: WireEnvelope,
    verifiers: Vec<WireVerifier>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope {
    payload: String,
    #[serde(rename = "payloadType", alias = "payload_type")]
    payload_type: String,
    signatures: Vec<WireDsseSignature>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDsseSignature {
    sig: String,
    /// Accepted as DSSE allows it; not logged (rekor-tiles drops it too).
    #[serde(default, rename = "keyid")]
    _keyid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    content: String,
    verifier: WireVerifier,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireVerifier {
    #[serde(rename = "keyDetails", alias = "key_details")]
    key_details: String,
    #[serde(rename = "x509Certificate", alias = "x509_certificate", default)]
    x509_certificate: Option<RawBytes>,
    #[serde(rename = "publicKey", alias = "public_key", default)]
    public_key: Option<RawBytes>,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawBytes {
    #[serde(rename = "rawBytes", alias = "raw_bytes")]
    raw_bytes: String,
}

// ---- canonical entry (fields in sorted order) ----

#[derive(Serialize)]
struct Entry<S> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    spec: S,
}

#[derive(Serialize)]
struct HashedRekordSpec {
    #[serde(rename = "hashedRekordV002")]
    v002: HashedRekordLogEntry,
}

#[derive(Serialize)]
struct HashedRekordLogEntry {
    data: HashOutput,
    signature: LogSignature,
}

#[derive(Serialize)]
struct DsseSpec {
    #[serde(rename = "dsseV002")]
    v002: DsseLogEntry,
}

#[derive(Serialize)]
struct DsseLogEntry {
    #[serde(rename = "payloadHash")]
    payload_hash: HashOutput,
    signatures: Vec<LogSignature>,
}

#[derive(Serialize)]
struct HashOutput {
    algorithm: &'static str,
    digest: String,
}

#[derive(Serialize, Clone)]
struct LogSignature {
    content: String,
    verifier: LogVerifier,
}

#[derive(Serialize, Clone)]
struct LogVerifier {
    #[serde(rename = "keyDetails")]
    key_details: &'static str,
    #[serde(rename = "publicKey", skip_serializing_if = "Option::is_none")]
    public_key: Option<RawBytes>,
    #[serde(rename = "x509Certificate", skip_serializing_if = "Option::is_none")]
    x509_certificate: Option<RawBytes>,
}

/// The entry type of an accepted request, for `kindVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    HashedRekord,
    Dsse,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::HashedRekord => "hashedrekord",
            Kind::Dsse => "dsse",
        }
    }
}

/// A request whose signatures verified: its kind and canonical entry bytes.
#[derive(Debug)]
pub struct Accepted {
    pub kind: Kind,
    pub body: Vec<u8>,
}

impl CreateEntryRequest {
    /// Parses the JSON body.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RekorError> {
        serde_json::from_slice(bytes).map_err(|e| RekorError::Malformed {
            reason: e.to_string(),
        })
    }

    /// Checks every signature and builds the canonical entry. `cancel` is read between
    /// signature checks: once it is set (the client went away) the work stops with
    /// [`RekorError::Abandoned`].
    pub fn accept(self, cancel: &AtomicBool) -> Result<Accepted, RekorError> {
        match (self.hashed_rekord, self.dsse) {
            (Some(h), None) => h.accept(),
            (None, Some(d)) => d.accept(cancel),
            _ => Err(RekorError::Malformed {
                reason: "expected exactly one of hashedRekordRequestV002 and dsseRequestV002"
                    .into(),
            }),
        }
    }
}

impl WireVerifier {
    /// The key, and the verifier as it is written back into the entry (re-encoded, so
    /// the entry never carries the client's base64 spelling).
    fn parse(&self) -> Result<(VerifierKey, LogVerifier), RekorError> {
        let details = KeyDetails::parse(&self.key_details)?;
        match (&self.x509_certificate, &self.public_key) {
            (Some(c), None) => {
                let der = b64("x509Certificate.rawBytes", &c.raw_bytes)?;
                let key = VerifierKey::from_certificate(&der, details)?;
                Ok((
                    key,
                    LogVerifier {
                        key_details: details.name(),
                        public_key: None,
                        x509_certificate: Some(RawBytes {
                            raw_bytes: enc(&der),
                        }),
                    },
                ))
            }
            (None, Some(k)) => {
                let der = b64("publicKey.rawBytes", &k.raw_bytes)?;
                let key = VerifierKey::from_spki(&der, details)?;
                Ok((
                    key,
                    LogVerifier {
                        key_details: details.name(),
                        public_key: Some(RawBytes {
                            raw_bytes: enc(&der),
                        }),
                        x509_certificate: None,
                    },
                ))
            }
            _ => Err(RekorError::Malformed {
                reason: "a verifier needs exactly one of x509Certificate and publicKey".into(),
            }),
        }
    }
}

impl HashedRekordRequest {
    fn accept(self) -> Result<Accepted, RekorError> {
        let digest = b64("digest", &self.digest)?;
        let sig = b64("signature.content", &self.signature.content)?;
        let (key, verifier) = self.signature.verifier.parse()?;
        let alg = key.digest_alg(digest.len())?;
        if sig.is_empty() || !key.verify_digest(alg, &digest, &sig) {
            return Err(RekorError::SignatureInvalid {
                what: "signature.content over digest",
                verifier: "verifier key",
            });
        }
        let entry = Entry {
            api_version: "0.0.2",
            kind: Kind::HashedRekord.name(),
            spec: HashedRekordSpec {
                v002: HashedRekordLogEntry {
                    data: HashOutput {
                        algorithm: alg.name(),
                        digest: enc(&digest),
                    },
                    signature: LogSignature {
                        content: enc(&sig),
                        verifier,
                    },
                },
            },
        };
        Ok(Accepted {
            kind: Kind::HashedRekord,
            body: to_json(&entry)?,
        })
    }
}

/// DSSE pre-authentication encoding (DSSE v1 protocol).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl DsseRequest {
    /// Every bound is checked before the first signature check: the counts, then the
    /// smallest canonical entry these signatures could make (each paired with the
    /// shortest verifier) against the log's entry limit. Together they cap the work
    /// one request can ask for at `MAX_DSSE_SIGNATURES × MAX_DSSE_VERIFIERS` checks.
    fn accept(self, cancel: &AtomicBool) -> Result<Accepted, RekorError> {
        let sig_count = self.envelope.signatures.len();
        if sig_count == 0 {
            return Err(RekorError::Malformed {
                reason: "envelope.signatures is empty".into(),
            });
        }
        if sig_count > super::MAX_DSSE_SIGNATURES {
            return Err(RekorError::TooManySignatures {
                found: sig_count,
                max: super::MAX_DSSE_SIGNATURES,
            });
        }
        if self.verifiers.is_empty() {
            return Err(RekorError::Malformed {
                reason: "verifiers is empty".into(),
            });
        }
        if self.verifiers.len() > super::MAX_DSSE_VERIFIERS {
            return Err(RekorError::TooManyVerifiers {
                found: self.verifiers.len(),
                max: super::MAX_DSSE_VERIFIERS,
            });
        }
        let payload = b64("envelope.payload", &self.envelope.payload)?;
        let sigs = self
            .envelope
            .signatures
            .iter()
            .map(|s| b64("envelope.signatures[].sig", &s.sig))
            .collect::<Result<Vec<_>, _>>()?;
        // Parsing a verifier reads DER only; no signature is checked here.
        let verifiers = self
            .verifiers
            .iter()
            .map(WireVerifier::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let payload_hash = HashOutput {
            algorithm: "SHA2_256",
            digest: enc(&Sha256::digest(&payload)),
        };
        let shortest = verifiers
            .iter()
            .map(|(_, v)| v)
            .min_by_key(|v| to_json(v).map_or(usize::MAX, |j| j.len()))
            .ok_or_else(|| RekorError::Malformed {
                reason: "verifiers is empty".into(),
            })?;
        let smallest = entry_json(
            &payload_hash,
            sigs.iter()
                .map(|sig| LogSignature {
                    content: enc(sig),
                    verifier: shortest.clone(),
                })
                .collect(),
        )?;
        if smallest.len() > vouch_tlog::MAX_ENTRY_SIZE {
            return Err(RekorError::EntryTooLarge {
                size: smallest.len(),
                max: vouch_tlog::MAX_ENTRY_SIZE,
            });
        }
        let message = pae(&self.envelope.payload_type, &payload);
        // Every envelope signature must verify with one of the given verifiers
        // (rekor-tiles: "all signatures must have a key that verifies it").
        let signatures: Vec<LogSignature> =
            match_envelope_signatures(&message, &sigs, &verifiers, cancel)?
                .into_iter()
                .map(|(sig, v)| LogSignature {
                    content: enc(sig),
                    verifier: v.clone(),
                })
                .collect();
        Ok(Accepted {
            kind: Kind::Dsse,
            body: entry_json(&payload_hash, signatures)?,
        })
    }
}

fn entry_json(
    payload_hash: &HashOutput,
    signatures: Vec<LogSignature>,
) -> Result<Vec<u8>, RekorError> {
    to_json(&Entry {
        api_version: "0.0.2",
        kind: Kind::Dsse.name(),
        spec: DsseSpec {
            v002: DsseLogEntry {
                payload_hash: HashOutput {
                    algorithm: payload_hash.algorithm,
                    digest: payload_hash.digest.clone(),
                },
                signatures,
            },
        },
    })
}

pub(super) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, RekorError> {
    // Serializing these plain structs of strings cannot fail; map it anyway rather
    // than panic.
    serde_json::to_vec(v).map_err(|e| RekorError::Malformed {
        reason: format!("cannot encode the entry: {e}"),
    })
}

/// Each DSSE envelope signature paired with the first verifier whose key verifies it over
/// `message` (the PAE). Every signature must verify (rekor-tiles: "all signatures must
/// have a key that verifies it"; Rekor v1 alike); `cancel` abandons the work.
pub(crate) fn match_envelope_signatures<'a, V>(
    message: &[u8],
    sigs: &'a [Vec<u8>],
    verifiers: &'a [(VerifierKey, V)],
    cancel: &AtomicBool,
) -> Result<Vec<(&'a [u8], &'a V)>, RekorError> {
    let mut matched = Vec::with_capacity(sigs.len());
    for sig in sigs {
        let mut found = None;
        for (k, v) in verifiers {
            if cancel.load(Ordering::Relaxed) {
                return Err(RekorError::Abandoned);
            }
            if !sig.is_empty() && k.verify_message(message, sig) {
                found = Some(v);
                break;
            }
        }
        let Some(v) = found else {
            return Err(RekorError::SignatureInvalid {
                what: "an envelope signature over the DSSE PAE",
                verifier: "verifiers",
            });
        };
        matched.push((sig.as_slice(), v));
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    use super::*;

    fn request(cancel: &AtomicBool) -> Result<Accepted, RekorError> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let spki = enc(key.public_key().as_der().unwrap().as_ref());
        let sig = enc(&[0x30; 70]);
        let json = serde_json::json!({"dsseRequestV002": {
            "envelope": {"payload": "e30=", "payloadType": "t",
                         "signatures": [{"sig": sig}, {"sig": sig}]},
            "verifiers": [{"publicKey": {"rawBytes": spki}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}]
        }});
        CreateEntryRequest::from_json(json.to_string().as_bytes())?.accept(cancel)
    }

    #[test]
    fn a_cancelled_request_stops_before_its_next_signature() {
        let err = request(&AtomicBool::new(true)).unwrap_err();
        assert_eq!(err.code(), "REKOR_E013");
        // Not cancelled, the same request is judged on its (junk) signatures.
        let err = request(&AtomicBool::new(false)).unwrap_err();
        assert_eq!(err.code(), "REKOR_E008");
    }
}
