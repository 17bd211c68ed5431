//! The log step against a Rekor **v1** log: `POST {rekor}/api/v1/log/entries` with a
//! `hashedrekord` or `dsse` 0.0.1 proposed entry, and the checks before the answer is
//! kept: the logged body says what we sent, the signed entry timestamp (SET) verifies
//! with the tlog key of the trusted root named by the entry's log ID, the integrated
//! time lies inside the certificate's validity, and the inclusion proof reaches a
//! checkpoint signed by a tlog of the trusted root.
//!
//! Rekor v1 answers `{uuid: LogEntry}` with hex hashes and a hex log ID; the entry is
//! turned into the bundle's protobuf-JSON `TransparencyLogEntry` (kind and version
//! from the body, `inclusionPromise`, `integratedTime`), as sigstore-python does.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstore_trust_root::TrustedRoot;
use sigstore_types::{Sha256Hash, SignatureBytes, TransparencyLogEntry};

use crate::error::SignError;
use crate::http;
use crate::rekor::Verifier;

/// What is proposed to a v1 log.
pub(crate) enum Proposal<'a> {
    /// An artifact digest (SHA-256) and the signature over it.
    HashedRekord {
        digest: [u8; 32],
        signature: &'a [u8],
    },
    /// A DSSE envelope (its JSON, as sent) whose one signature is `signature` over
    /// the PAE of `payload`.
    Dsse {
        envelope_json: &'a str,
        payload: &'a [u8],
        signature: &'a [u8],
    },
}

/// PEM of a DER certificate, as Rekor v1 canonicalizes an X.509 verifier (and as
/// sigstore-python rebuilds it to compare): 64-column lines, LF, final newline.
#[cfg(test)]
pub(crate) fn certificate_pem(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

/// PEM with `label`: 64-column lines, LF, final newline.
pub(crate) use vouch_ca::pki::pem;

impl Proposal<'_> {
    fn request(&self, signer: Verifier<'_>) -> Value {
        let verifier = STANDARD.encode(signer.pem());
        match self {
            Proposal::HashedRekord { digest, signature } => json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
                    "signature": {
                        "content": STANDARD.encode(signature),
                        "publicKey": {"content": verifier},
                    },
                },
            }),
            Proposal::Dsse { envelope_json, .. } => json!({
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {"proposedContent": {"envelope": envelope_json, "verifiers": [verifier]}},
            }),
        }
    }

    /// The logged body must carry exactly what was proposed (kind, hash, signature,
    /// certificate); anything else is `SIGN_E016`.
    fn check_body(&self, body: &Value, signer: Verifier<'_>) -> Result<(), String> {
        let pem_b64 = STANDARD.encode(signer.pem());
        let (kind, fields) = match self {
            Proposal::HashedRekord { digest, signature } => (
                "hashedrekord",
                [
                    ("/spec/data/hash/algorithm", "sha256".to_owned()),
                    ("/spec/data/hash/value", hex::encode(digest)),
                    ("/spec/signature/content", STANDARD.encode(signature)),
                    ("/spec/signature/publicKey/content", pem_b64),
                ],
            ),
            Proposal::Dsse {
                payload, signature, ..
            } => (
                "dsse",
                [
                    ("/spec/payloadHash/algorithm", "sha256".to_owned()),
                    (
                        "/spec/payloadHash/value",
                        hex::encode(Sha256::digest(payload)),
                    ),
                    ("/spec/signatures/0/signature", STANDARD.encode(signature)),
                    ("/spec/signatures/0/verifier", pem_b64),
                ],
            ),
        };
        compare(
            body,
            &[
                ("/kind", kind.to_owned()),
                ("/apiVersion", "0.0.1".to_owned()),
            ],
        )?;
        compare(body, &fields)?;
        if let Proposal::Dsse { .. } = self {
            let count = body
                .pointer("/spec/signatures")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if count != 1 {
                return Err(format!("expected 1 logged signature, found {count}"));
            }
        }
        Ok(())
    }
}

/// Each `(pointer, expected)`: the string at that JSON pointer of the logged `body` must
/// be the submitted value; the refusal names the field (`spec.signatures[0].verifier`).
fn compare(body: &Value, expect: &[(&str, String)]) -> Result<(), String> {
    for (ptr, expected) in expect {
        let found = body.pointer(ptr).and_then(Value::as_str);
        if found != Some(expected.as_str()) {
            let field = ptr
                .trim_start_matches('/')
                .replace("/0/", "[0].")
                .replace('/', ".");
            let shown: String = found.unwrap_or("nothing").chars().take(80).collect();
            return Err(format!(
                "logged {field} is {shown:?}, expected the submitted value"
            ));
        }
    }
    Ok(())
}

/// The SET payload: RFC 8785 JSON of these four fields (serde writes them in sorted
/// order, and every value is ASCII, so this is the canonical form).
#[derive(Serialize)]
pub(crate) struct SetPayload<'a> {
    pub(crate) body: &'a str,
    #[serde(rename = "integratedTime")]
    pub(crate) integrated_time: i64,
    #[serde(rename = "logID")]
    pub(crate) log_id: &'a str,
    #[serde(rename = "logIndex")]
    pub(crate) log_index: i64,
}

/// Submits `proposal` to the v1 log at `rekor_url` and returns the entry once checked.
pub(crate) async fn submit(
    http_client: &reqwest::Client,
    rekor_url: &str,
    proposal: &Proposal<'_>,
    signer: Verifier<'_>,
    root: &TrustedRoot,
) -> Result<TransparencyLogEntry, SignError> {
    let url = format!("{rekor_url}/api/v1/log/entries");
    let answer = http::post_log_entry(http_client, &url, &proposal.request(signer)).await?;
    let answer: Value = serde_json::from_slice(&answer).map_err(|e| {
        mismatch(format!(
            "expected a Rekor v1 {{uuid: LogEntry}} JSON object: {e}"
        ))
    })?;
    check_answer(&answer, proposal, signer, root, SystemTime::now())
}

fn mismatch(check: String) -> SignError {
    SignError::LogEntryMismatch { check }
}

/// Checks a v1 answer and converts it into the bundle's entry. Fails closed.
pub(crate) fn check_answer(
    answer: &Value,
    proposal: &Proposal<'_>,
    signer: Verifier<'_>,
    root: &TrustedRoot,
    now: SystemTime,
) -> Result<TransparencyLogEntry, SignError> {
    let entries = answer
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| mismatch("expected an object with exactly one entry".into()))?;
    let Some((_uuid, entry)) = entries.iter().next() else {
        return Err(mismatch("expected one entry, found none".into()));
    };
    let body_b64 = entry["body"]
        .as_str()
        .ok_or_else(|| mismatch("expected a base64 body string".into()))?;
    let body_bytes = STANDARD
        .decode(body_b64)
        .map_err(|e| mismatch(format!("body is not base64: {e}")))?;
    let body: Value = serde_json::from_slice(&body_bytes)
        .map_err(|e| mismatch(format!("body is not JSON: {e}")))?;
    proposal.check_body(&body, signer).map_err(mismatch)?;
    let integrated_time = entry["integratedTime"]
        .as_i64()
        .ok_or_else(|| mismatch("expected an integer integratedTime".into()))?;
    let log_index = entry["logIndex"]
        .as_i64()
        .filter(|i| *i >= 0)
        .ok_or_else(|| mismatch("expected a non-negative integer logIndex".into()))?;
    let log_id_hex = entry["logID"]
        .as_str()
        .ok_or_else(|| mismatch("expected a hex logID".into()))?;
    let log_id: [u8; 32] = hex::decode(log_id_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| mismatch(format!("logID {log_id_hex:?} is not 32 hex-encoded bytes")))?;
    let verification = &entry["verification"];
    let set_b64 = verification["signedEntryTimestamp"]
        .as_str()
        .ok_or_else(|| SignError::SetInvalid {
            detail: "expected verification.signedEntryTimestamp, found none".into(),
        })?;
    let set = STANDARD
        .decode(set_b64)
        .map_err(|e| SignError::SetInvalid {
            detail: format!("signedEntryTimestamp is not base64: {e}"),
        })?;

    // The SET, with the key the trusted root lists under this log ID, valid then.
    let keys = root
        .rekor_keys()
        .map_err(|e| SignError::CheckpointInvalid {
            detail: format!("trusted root tlog keys unusable: {e}"),
        })?;
    let at = jiff::Timestamp::from_second(integrated_time).map_err(|e| {
        mismatch(format!(
            "integratedTime {integrated_time} is not a time: {e}"
        ))
    })?;
    let key = keys
        .key_at(&Sha256Hash::from(log_id), at)
        .ok_or_else(|| SignError::SetInvalid {
            detail: format!("no tlog of the trusted root has log ID {log_id_hex} valid at {at}"),
        })?;
    let payload = serde_json::to_vec(&SetPayload {
        body: body_b64,
        integrated_time,
        log_id: log_id_hex,
        log_index,
    })
    .map_err(|e| SignError::local("encode SET payload", e))?;
    key.verify(&payload, &SignatureBytes::new(set.clone()))
        .map_err(|e| SignError::SetInvalid {
            detail: format!("signature by log {log_id_hex} over entry {log_index}: {e}"),
        })?;

    // The integrated time must fall inside the certificate's validity (a managed key
    // has none: the time must only not be in the future).
    let (not_before, not_after) = match signer {
        Verifier::Certificate(der) => certificate_validity(der)?,
        Verifier::PublicKey(_) => (0, u64::MAX),
    };
    let t = u64::try_from(integrated_time).unwrap_or(0);
    let now_s = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if t < not_before || t > not_after || t > now_s + 60 {
        return Err(mismatch(format!(
            "integratedTime {t} is outside the certificate's validity {not_before}..{not_after} (or in the future)"
        )));
    }

    // Inclusion proof: hex fields converted, then checked like a v2 entry's.
    let proof = &verification["inclusionProof"];
    let hex32 = |v: &Value, what: &str| -> Result<String, SignError> {
        let h = v.as_str().unwrap_or("");
        hex::decode(h)
            .ok()
            .filter(|b| b.len() == 32)
            .map(|b| STANDARD.encode(b))
            .ok_or_else(|| SignError::InclusionProofInvalid {
                detail: format!("{what} {h:?} is not a hex SHA-256"),
            })
    };
    let hashes = proof["hashes"]
        .as_array()
        .ok_or_else(|| SignError::InclusionProofInvalid {
            detail: "expected verification.inclusionProof.hashes, found none".into(),
        })?
        .iter()
        .map(|h| hex32(h, "proof hash"))
        .collect::<Result<Vec<_>, _>>()?;
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    let version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let proto = json!({
        "logIndex": log_index.to_string(),
        "logId": {"keyId": STANDARD.encode(log_id)},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(&set)},
        "inclusionProof": {
            "logIndex": proof["logIndex"].as_u64().unwrap_or(u64::MAX).to_string(),
            "rootHash": hex32(&proof["rootHash"], "rootHash")?,
            "treeSize": proof["treeSize"].as_u64().unwrap_or(0).to_string(),
            "hashes": hashes,
            "checkpoint": {"envelope": proof["checkpoint"].as_str().unwrap_or("")},
        },
        "canonicalizedBody": body_b64,
    });
    let entry: TransparencyLogEntry = serde_json::from_value(proto)
        .map_err(|e| mismatch(format!("entry does not convert to a bundle entry: {e}")))?;
    check_inclusion(&entry, root)?;
    Ok(entry)
}

/// The inclusion proof (at `inclusionProof.logIndex`, which must be the entry's) reaches
/// the proof's root, and that root is the one a trusted tlog signed in the checkpoint.
fn check_inclusion(entry: &TransparencyLogEntry, root: &TrustedRoot) -> Result<(), SignError> {
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or_else(|| SignError::InclusionProofInvalid {
            detail: "expected an inclusionProof, found none".into(),
        })?;
    if proof.log_index.get() != entry.log_index.get() {
        return Err(SignError::InclusionProofInvalid {
            detail: format!(
                "proof is for index {}, the entry is {}",
                proof.log_index.get(),
                entry.log_index.get()
            ),
        });
    }
    let checkpoint = crate::rekor::proof_checkpoint(proof)?;
    if checkpoint.root_hash().as_bytes() != proof.root_hash.as_bytes()
        || checkpoint.tree_size() != proof.tree_size
    {
        return Err(SignError::InclusionProofInvalid {
            detail: "the proof's root hash and tree size are not the checkpoint's".into(),
        });
    }
    crate::rekor::check_checkpoint(checkpoint, root)?;
    // The proof's index, size and root are the entry's and the checkpoint's (checked).
    crate::rekor::check_leaf_inclusion(entry, proof, checkpoint)
}

/// The certificate's notBefore and notAfter, in Unix seconds.
fn certificate_validity(der: &[u8]) -> Result<(u64, u64), SignError> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| SignError::local("parse certificate", e))?;
    let v = &cert.tbs_certificate.validity;
    let secs = |t: x509_cert::time::Time| {
        t.to_system_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    Ok((secs(v.not_before), secs(v.not_after)))
}
