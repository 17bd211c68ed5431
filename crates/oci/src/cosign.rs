//! cosign's conventions: media types, annotation names, `--type` names and how cosign
//! maps them to predicate URIs, and the legacy `.sig`/`.att` layers rewritten as the
//! Sigstore bundle they amount to, so one verifier judges both schemes.

#![allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::OciError;

/// A Sigstore bundle v0.3 as an OCI layer and artifact type.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The legacy `.sig` tag's layer: a simple-signing payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The legacy `.att` tag's layer: a DSSE envelope.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The OCI empty descriptor's media type and bytes (`{}`).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The predicate type cosign v3 signs an image with (a statement with no predicate).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

const ANN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
const ANN_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
const ANN_CHAIN: &str = "dev.sigstore.cosign/chain";
const ANN_BUNDLE: &str = "dev.sigstore.cosign/bundle";
const ANN_RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// cosign's `--type` names and the predicate URIs cosign maps them to
/// (cmd/cosign/cli/options/predicate.go and in-toto-golang's constants).
pub const PREDICATE_TYPES: &[(&str, &str)] = &[
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("link", "https://in-toto.io/Link/v1"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
];

/// Maps a `--type` value to a predicate URI: one of cosign's names, or a URI used as is
/// (matched exactly). Anything else is `OCI_E017`.
pub fn predicate_type(t: &str) -> Result<String, OciError> {
    if let Some((_, uri)) = PREDICATE_TYPES.iter().find(|(name, _)| *name == t) {
        return Ok((*uri).to_owned());
    }
    let is_uri = reqwest::Url::parse(t).is_ok_and(|u| u.has_host() || u.scheme() == "urn");
    if is_uri {
        return Ok(t.to_owned());
    }
    let names: Vec<&str> = PREDICATE_TYPES.iter().map(|(n, _)| *n).collect();
    Err(OciError::UnknownType {
        found: t.chars().take(200).collect(),
        names: names.join(", "),
    })
}

/// The image digest a simple-signing payload claims (`critical.image.docker-manifest-digest`).
pub fn simple_signing_digest(payload: &[u8]) -> Result<String, OciError> {
    let doc: Value = serde_json::from_slice(payload)
        .map_err(|e| OciError::malformed("simple-signing payload", e))?;
    doc.get("critical")
        .and_then(|c| c.get("image"))
        .and_then(|i| i.get("docker-manifest-digest"))
        .and_then(|d| d.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            OciError::malformed(
                "simple-signing payload",
                "no critical.image.docker-manifest-digest",
            )
        })
}

/// The simple-signing payload cosign signs for an image.
pub fn simple_signing_payload(image_name: &str, digest: &str) -> Vec<u8> {
    json!({
        "critical": {
            "identity": {"docker-reference": image_name},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

fn annotation<'a>(ann: &'a Map<String, Value>, name: &'static str) -> Option<&'a str> {
    ann.get(name).and_then(|v| v.as_str())
}

fn bad(annotation: &'static str, detail: impl std::fmt::Display) -> OciError {
    OciError::Annotation {
        annotation,
        detail: detail.to_string(),
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// PEM certificates to base64 DER, in order.
fn pem_certs(pem: &str, name: &'static str) -> Result<Vec<String>, OciError> {
    let mut out = Vec::new();
    let mut inside = None::<String>;
    for line in pem.lines().map(str::trim) {
        match (line, &mut inside) {
            ("-----BEGIN CERTIFICATE-----", None) => inside = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(body)) => {
                let der = b64().decode(body.as_bytes()).map_err(|e| bad(name, e))?;
                out.push(b64().encode(der));
                inside = None;
            }
            (l, Some(body)) => body.push_str(l),
            _ => {}
        }
    }
    if out.is_empty() || inside.is_some() {
        return Err(bad(name, "no complete PEM certificate"));
    }
    Ok(out)
}

/// The verification material legacy annotations carry: the certificate (and chain) or a
/// managed key's hint, the Rekor v1 entry whose SET cosign stored, and RFC 3161 tokens.
fn material(ann: &Map<String, Value>, keyed: bool) -> Result<Value, OciError> {
    let mut vm = Map::new();
    match annotation(ann, ANN_CERTIFICATE) {
        Some(pem) if !keyed => {
            let mut certs = pem_certs(pem, ANN_CERTIFICATE)?;
            // cosign writes the chain annotation even when it is empty.
            if let Some(chain) = annotation(ann, ANN_CHAIN).filter(|c| !c.trim().is_empty()) {
                certs.extend(pem_certs(chain, ANN_CHAIN)?);
            }
            let list: Vec<Value> = certs.into_iter().map(|c| json!({"rawBytes": c})).collect();
            vm.insert(
                "x509CertificateChain".into(),
                json!({ "certificates": list }),
            );
        }
        None if !keyed => return Err(bad(ANN_CERTIFICATE, "missing on a keyless signature")),
        _ => {
            vm.insert("publicKey".into(), json!({"hint": ""}));
        }
    }
    let mut entries = Vec::new();
    if let Some(set) = annotation(ann, ANN_BUNDLE) {
        let doc: Value = serde_json::from_str(set).map_err(|e| bad(ANN_BUNDLE, e))?;
        let payload = doc
            .get("Payload")
            .ok_or_else(|| bad(ANN_BUNDLE, "no Payload"))?;
        let field = |k: &str| {
            payload
                .get(k)
                .ok_or_else(|| bad(ANN_BUNDLE, format!("no Payload.{k}")))
        };
        let body = field("body")?
            .as_str()
            .ok_or_else(|| bad(ANN_BUNDLE, "body is not a string"))?;
        let body_json: Value = b64()
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| bad(ANN_BUNDLE, "body is not base64 JSON"))?;
        let log_id = field("logID")?
            .as_str()
            .ok_or_else(|| bad(ANN_BUNDLE, "logID is not a string"))?;
        let log_id = hex::decode(log_id).map_err(|e| bad(ANN_BUNDLE, e))?;
        let set = doc
            .get("SignedEntryTimestamp")
            .and_then(|s| s.as_str())
            .ok_or_else(|| bad(ANN_BUNDLE, "no SignedEntryTimestamp"))?;
        entries.push(json!({
            "logIndex": field("logIndex")?.as_u64().ok_or_else(|| bad(ANN_BUNDLE, "logIndex"))?.to_string(),
            "logId": {"keyId": b64().encode(log_id)},
            "kindVersion": {"kind": body_json.get("kind"), "version": body_json.get("apiVersion")},
            "integratedTime": field("integratedTime")?.as_i64().ok_or_else(|| bad(ANN_BUNDLE, "integratedTime"))?.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": set},
            "canonicalizedBody": body,
        }));
    }
    vm.insert("tlogEntries".into(), Value::Array(entries));
    if let Some(ts) = annotation(ann, ANN_RFC3161) {
        let doc: Value = serde_json::from_str(ts).map_err(|e| bad(ANN_RFC3161, e))?;
        let token = doc
            .get("SignedRFC3161Timestamp")
            .and_then(|t| t.as_str())
            .ok_or_else(|| bad(ANN_RFC3161, "no SignedRFC3161Timestamp"))?;
        vm.insert(
            "timestampVerificationData".into(),
            json!({"rfc3161Timestamps": [{"signedTimestamp": token}]}),
        );
    }
    Ok(Value::Object(vm))
}

/// PEM of DER certificates, one block each, 64-column lines with a final newline (Go's
/// `pem.EncodeToMemory`, which cosign uses for these annotations).
pub fn pem_of(ders: &[Vec<u8>]) -> String {
    ders.iter()
        .map(|der| vouch_ca::pki::pem("CERTIFICATE", der))
        .collect()
}

/// The annotations cosign 2.x writes on a legacy `.sig` or `.att` layer, from a keyless
/// bundle v0.3 whose one log entry is a Rekor v1 entry with its SET: the signature
/// (base64; empty for an attestation, whose signature is inside the DSSE envelope, as
/// cosign writes it), the certificate and `chain` (PEM), and the Rekor SET bundle
/// (`{"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}`, the
/// log ID in hex: cosign's `bundle.RekorBundle`). A bundle without a SET (a Rekor v2
/// entry) cannot be written this way: `OCI_E016`.
pub fn legacy_annotations(
    bundle_json: &[u8],
    chain_ders: &[Vec<u8>],
) -> Result<Map<String, Value>, OciError> {
    let doc: Value =
        serde_json::from_slice(bundle_json).map_err(|e| OciError::malformed("bundle", e))?;
    let signature = match (
        doc["messageSignature"]["signature"].as_str(),
        doc.get("dsseEnvelope"),
    ) {
        (Some(sig), _) => sig,
        (None, Some(_)) => "",
        (None, None) => return Err(bad(ANN_SIGNATURE, "the bundle has no signature")),
    };
    let leaf = doc["verificationMaterial"]["certificate"]["rawBytes"]
        .as_str()
        .and_then(|c| b64().decode(c).ok())
        .ok_or_else(|| bad(ANN_CERTIFICATE, "the bundle has no leaf certificate"))?;
    let entries = doc["verificationMaterial"]["tlogEntries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let entry = entries
        .iter()
        .find(|e| e["inclusionPromise"]["signedEntryTimestamp"].is_string())
        .ok_or_else(|| {
            bad(
                ANN_BUNDLE,
                "expected a Rekor v1 entry with a signed entry timestamp, found none",
            )
        })?;
    let number = |k: &str| {
        entry[k]
            .as_str()
            .and_then(|v| v.parse::<i64>().ok())
            .or_else(|| entry[k].as_i64())
            .ok_or_else(|| bad(ANN_BUNDLE, format!("the entry's {k} is not an integer")))
    };
    let log_id = entry["logId"]["keyId"]
        .as_str()
        .and_then(|k| b64().decode(k).ok())
        .ok_or_else(|| bad(ANN_BUNDLE, "the entry has no logId.keyId"))?;
    let set = json!({
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": entry["canonicalizedBody"],
            "integratedTime": number("integratedTime")?,
            "logIndex": number("logIndex")?,
            "logID": hex::encode(log_id),
        },
    });
    let mut ann = Map::new();
    ann.insert(ANN_SIGNATURE.into(), json!(signature));
    ann.insert(ANN_CERTIFICATE.into(), json!(pem_of(&[leaf])));
    if !chain_ders.is_empty() {
        ann.insert(ANN_CHAIN.into(), json!(pem_of(chain_ders)));
    }
    ann.insert(ANN_BUNDLE.into(), json!(set.to_string()));
    Ok(ann)
}

/// The DSSE envelope of a bundle, as the JSON a legacy `.att` layer holds.
pub fn bundle_envelope(bundle_json: &[u8]) -> Result<Vec<u8>, OciError> {
    let doc: Value =
        serde_json::from_slice(bundle_json).map_err(|e| OciError::malformed("bundle", e))?;
    let envelope = doc
        .get("dsseEnvelope")
        .ok_or_else(|| OciError::malformed("bundle", "no dsseEnvelope"))?;
    Ok(envelope.to_string().into_bytes())
}

/// A `.sig` layer (simple-signing payload plus annotations) as a bundle v0.1 with a
/// message signature over the payload.
pub fn simple_signing_bundle(
    payload: &[u8],
    ann: &Map<String, Value>,
    keyed: bool,
) -> Result<Vec<u8>, OciError> {
    use sha2::Digest as _;
    let sig = annotation(ann, ANN_SIGNATURE).ok_or_else(|| bad(ANN_SIGNATURE, "missing"))?;
    b64().decode(sig).map_err(|e| bad(ANN_SIGNATURE, e))?;
    let digest = b64().encode(sha2::Sha256::digest(payload));
    let signature = json!({
        "messageDigest": {"algorithm": "SHA2_256", "digest": digest},
        "signature": sig,
    });
    bundle_v01(ann, keyed, "messageSignature", signature)
}

/// An `.att` layer (a DSSE envelope plus annotations) as a bundle v0.1.
pub fn dsse_bundle(
    envelope: &[u8],
    ann: &Map<String, Value>,
    keyed: bool,
) -> Result<Vec<u8>, OciError> {
    let env: Value =
        serde_json::from_slice(envelope).map_err(|e| OciError::malformed("DSSE envelope", e))?;
    bundle_v01(ann, keyed, "dsseEnvelope", env)
}

/// A bundle v0.1 with the verification material of `ann` and `content` (the
/// `messageSignature` or the `dsseEnvelope`) under `key`.
fn bundle_v01(
    ann: &Map<String, Value>,
    keyed: bool,
    key: &str,
    content: Value,
) -> Result<Vec<u8>, OciError> {
    let mut bundle = Map::new();
    bundle.insert(
        "mediaType".into(),
        json!("application/vnd.dev.sigstore.bundle+json;version=0.1"),
    );
    bundle.insert("verificationMaterial".into(), material(ann, keyed)?);
    bundle.insert(key.into(), content);
    Ok(Value::Object(bundle).to_string().into_bytes())
}

/// The in-toto statement of a bundle's DSSE envelope, if it has one (unverified: read
/// only to skip a bundle that could not pass, or after it verified).
fn bundle_statement(bundle_json: &[u8]) -> Option<Value> {
    let doc: Value = serde_json::from_slice(bundle_json).ok()?;
    let payload = doc.get("dsseEnvelope")?.get("payload")?.as_str()?;
    serde_json::from_slice(&b64().decode(payload).ok()?).ok()
}

/// The predicate of a verified bundle's DSSE statement, if it has one.
pub fn bundle_predicate(bundle_json: &[u8]) -> Option<Value> {
    bundle_statement(bundle_json)?.get("predicate").cloned()
}

/// The predicate type a bundle's DSSE statement declares (`None` for a message
/// signature or an unreadable envelope).
pub fn bundle_predicate_type(bundle_json: &[u8]) -> Option<String> {
    bundle_statement(bundle_json)?
        .get("predicateType")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_type_names_map_like_cosign() {
        assert_eq!(
            predicate_type("spdxjson").unwrap(),
            "https://spdx.dev/Document"
        );
        assert_eq!(
            predicate_type("slsaprovenance1").unwrap(),
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(
            predicate_type("https://example.com/p/v1").unwrap(),
            "https://example.com/p/v1"
        );
        assert_eq!(predicate_type("sbom").unwrap_err().code(), "OCI_E017");
    }

    /// What `--legacy-tag` writes is what the `.sig` reader rebuilds: the same log entry,
    /// certificate and chain, whatever the annotation encoding in between.
    #[test]
    fn legacy_annotations_round_trip_through_the_reader() {
        let body = b64().encode(br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#);
        let key_id = b64().encode([7u8; 32]);
        let entry = json!({
            "logIndex": "42", "logId": {"keyId": key_id},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
            "integratedTime": "1700000000",
            "inclusionPromise": {"signedEntryTimestamp": "TUVVQ0lR"},
            "canonicalizedBody": body,
        });
        let bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"certificate": {"rawBytes": b64().encode(b"leaf")},
                                     "tlogEntries": [entry]},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": ""},
                                 "signature": "TUVRQ0lB"},
        });
        let chain = [b"intermediate".to_vec(), b"root".to_vec()];
        let ann = legacy_annotations(bundle.to_string().as_bytes(), &chain).unwrap();
        assert_eq!(ann[ANN_SIGNATURE], "TUVRQ0lB");
        let set: Value = serde_json::from_str(ann[ANN_BUNDLE].as_str().unwrap()).unwrap();
        assert_eq!(
            set["Payload"]["logIndex"], 42,
            "an integer, as cosign writes it"
        );
        assert_eq!(set["Payload"]["logID"], hex::encode([7u8; 32]));
        assert_eq!(set["SignedEntryTimestamp"], "TUVVQ0lR");

        let payload = simple_signing_payload("r/a", "sha256:00");
        let rebuilt: Value =
            serde_json::from_slice(&simple_signing_bundle(&payload, &ann, false).unwrap()).unwrap();
        let vm = &rebuilt["verificationMaterial"];
        let certs: Vec<&str> = vm["x509CertificateChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["rawBytes"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = [b"leaf".as_slice(), b"intermediate", b"root"]
            .iter()
            .map(|c| b64().encode(c))
            .collect();
        assert_eq!(certs, expected);
        let back = &vm["tlogEntries"][0];
        for field in [
            "logIndex",
            "logId",
            "kindVersion",
            "integratedTime",
            "inclusionPromise",
            "canonicalizedBody",
        ] {
            assert_eq!(back[field], entry[field], "{field}");
        }
        assert_eq!(rebuilt["messageSignature"]["signature"], "TUVRQ0lB");

        // A Rekor v2 bundle (no SET) has nothing to put in the bundle annotation.
        let mut v2 = bundle.clone();
        v2["verificationMaterial"]["tlogEntries"][0]
            .as_object_mut()
            .unwrap()
            .remove("inclusionPromise");
        let err = legacy_annotations(v2.to_string().as_bytes(), &chain).unwrap_err();
        assert_eq!(err.code(), "OCI_E016");
        // An empty chain annotation (cosign writes one) is no chain.
        let mut no_chain = ann.clone();
        no_chain.insert(ANN_CHAIN.into(), json!(""));
        simple_signing_bundle(&payload, &no_chain, false).unwrap();
    }

    #[test]
    fn legacy_annotations_are_checked() {
        let payload = simple_signing_payload("r/a", "sha256:00");
        assert_eq!(simple_signing_digest(&payload).unwrap(), "sha256:00");
        assert_eq!(simple_signing_digest(b"{}").unwrap_err().code(), "OCI_E007");
        let mut ann = Map::new();
        let err = simple_signing_bundle(&payload, &ann, true).unwrap_err();
        assert_eq!(err.code(), "OCI_E016");
        ann.insert(ANN_SIGNATURE.into(), json!("not base64!"));
        assert_eq!(
            simple_signing_bundle(&payload, &ann, true)
                .unwrap_err()
                .code(),
            "OCI_E016"
        );
        ann.insert(ANN_SIGNATURE.into(), json!("AAAA"));
        let err = simple_signing_bundle(&payload, &ann, false).unwrap_err();
        assert_eq!(
            err.code(),
            "OCI_E016",
            "a keyless signature needs its certificate"
        );
        ann.insert(ANN_BUNDLE.into(), json!("{}"));
        assert_eq!(
            simple_signing_bundle(&payload, &ann, true)
                .unwrap_err()
                .code(),
            "OCI_E016"
        );
    }
}
