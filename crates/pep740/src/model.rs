//! The PEP 740 objects as PyPI serves and `pypi-attestations` writes them: the attestation
//! object (version 1, verification material, envelope), the provenance object (version 1,
//! attestation bundles with their publisher), the publisher kinds, and the conversion of
//! an attestation to and from a Sigstore bundle (v0.3, DSSE, one signature, the first
//! transparency entry).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::Pep740Error;

/// Attestation and provenance files are small; anything larger is refused unread.
pub const MAX_OBJECT_BYTES: usize = 16 << 20;

/// The DSSE payload type of every PEP 740 attestation.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The bundle media type the conversion writes.
const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// A PEP 740 attestation object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attestation {
    /// Always 1.
    pub version: u32,
    /// The signing certificate and the transparency log entries.
    pub verification_material: VerificationMaterial,
    /// The signed statement and its signature.
    pub envelope: Envelope,
}

/// The material an attestation is verified with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationMaterial {
    /// The signing certificate, DER (base64 on the wire).
    #[serde(with = "b64")]
    pub certificate: Vec<u8>,
    /// Rekor v1 transparency log entries (protobuf-specs JSON), at least one.
    pub transparency_entries: Vec<Value>,
}

/// The DSSE envelope, flattened as PEP 740 writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The in-toto v1 statement, the exact signed bytes (base64 on the wire).
    #[serde(with = "b64")]
    pub statement: Vec<u8>,
    /// The signature over the statement's DSSE pre-authentication encoding.
    #[serde(with = "b64")]
    pub signature: Vec<u8>,
}

impl Attestation {
    /// Parses an attestation object and checks its version and required parts.
    pub fn from_json(json: &[u8]) -> Result<Self, Pep740Error> {
        let malformed = |detail: String| Pep740Error::MalformedAttestation { detail };
        if json.len() > MAX_OBJECT_BYTES {
            return Err(malformed(format!(
                "{} bytes, more than the {MAX_OBJECT_BYTES}-byte limit",
                json.len()
            )));
        }
        let attestation: Attestation =
            serde_json::from_slice(json).map_err(|e| malformed(e.to_string()))?;
        attestation.check().map_err(malformed)?;
        Ok(attestation)
    }

    fn check(&self) -> Result<(), String> {
        if self.version != 1 {
            return Err(format!("expected version 1, found {}", self.version));
        }
        if self.verification_material.certificate.is_empty() {
            return Err("expected a certificate, found an empty one".into());
        }
        if self.verification_material.transparency_entries.is_empty() {
            return Err("expected at least one transparency entry, found none".into());
        }
        Ok(())
    }

    /// The attestation as JSON, as `pypi-attestations` writes it.
    pub fn to_json(&self) -> String {
        // Plain strings, numbers and JSON values: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The Sigstore bundle (v0.3) this attestation stands for: the certificate, the DSSE
    /// envelope with the statement and its one signature, and the first transparency
    /// entry (as `pypi-attestations`' `to_bundle` builds it).
    pub fn to_bundle_json(&self) -> Vec<u8> {
        let entry = self
            .verification_material
            .transparency_entries
            .first()
            .cloned()
            .unwrap_or(Value::Null);
        json!({
            "mediaType": BUNDLE_V03,
            "verificationMaterial": {
                "certificate": { "rawBytes": STANDARD.encode(&self.verification_material.certificate) },
                "tlogEntries": [entry],
            },
            "dsseEnvelope": {
                "payload": STANDARD.encode(&self.envelope.statement),
                "payloadType": IN_TOTO_PAYLOAD_TYPE,
                "signatures": [{ "sig": STANDARD.encode(&self.envelope.signature) }],
            },
        })
        .to_string()
        .into_bytes()
    }

    /// The bundle parsed by the verify layer.
    pub fn to_bundle(&self) -> Result<vouch_verify::ParsedBundle, Pep740Error> {
        Ok(vouch_verify::ParsedBundle::from_json(
            &self.to_bundle_json(),
        )?)
    }

    /// An attestation from a Sigstore bundle (any version): it must hold a DSSE
    /// envelope with exactly one signature, a certificate, and a transparency entry.
    #[allow(
        clippy::indexing_slicing,
        reason = "serde_json Value reads answer Null when absent; they never panic"
    )]
    pub fn from_bundle_json(bundle: &[u8]) -> Result<Self, Pep740Error> {
        let conversion = |expected: &str, found: String| Pep740Error::Conversion {
            expected: expected.to_owned(),
            found,
        };
        let doc: Value = serde_json::from_slice(bundle)
            .map_err(|e| conversion("a Sigstore bundle (JSON)", e.to_string()))?;
        let cert = doc
            .pointer("/verificationMaterial/certificate/rawBytes")
            .and_then(Value::as_str)
            .or_else(|| {
                doc.pointer("/verificationMaterial/x509CertificateChain/certificates/0/rawBytes")
                    .and_then(Value::as_str)
            })
            .ok_or_else(|| {
                conversion(
                    "a signing certificate",
                    "none (a key-signed bundle?)".into(),
                )
            })?;
        let envelope = doc
            .get("dsseEnvelope")
            .ok_or_else(|| conversion("a DSSE envelope", "a message signature".into()))?;
        let signatures = envelope["signatures"].as_array().map_or(0, Vec::len);
        if signatures != 1 {
            return Err(conversion("exactly one signature", format!("{signatures}")));
        }
        let payload_type = envelope["payloadType"].as_str().unwrap_or("");
        if payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(conversion(
                "an in-toto payload",
                format!("payload type {payload_type:?}"),
            ));
        }
        let entry = doc
            .pointer("/verificationMaterial/tlogEntries/0")
            .cloned()
            .ok_or_else(|| conversion("a transparency log entry", "none".into()))?;
        let decode = |field: &str, v: &Value| {
            let text = v.as_str().unwrap_or("");
            STANDARD
                .decode(text.replace(['\n', '\r'], ""))
                .map_err(|e| conversion(&format!("base64 {field}"), e.to_string()))
        };
        let attestation = Attestation {
            version: 1,
            verification_material: VerificationMaterial {
                certificate: decode("certificate", &Value::String(cert.to_owned()))?,
                transparency_entries: vec![entry],
            },
            envelope: Envelope {
                statement: decode("payload", envelope.get("payload").unwrap_or(&Value::Null))?,
                signature: decode(
                    "signature",
                    envelope
                        .pointer("/signatures/0/sig")
                        .unwrap_or(&Value::Null),
                )?,
            },
        };
        attestation
            .check()
            .map_err(|detail| Pep740Error::Conversion {
                expected: "a complete attestation".into(),
                found: detail,
            })?;
        Ok(attestation)
    }
}

/// A PEP 740 provenance object: the attestations of one distribution file, grouped by
/// the trusted publisher that uploaded them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Always 1.
    pub version: u32,
    /// One or more publishers with their attestations.
    pub attestation_bundles: Vec<AttestationBundle>,
}

/// One publisher and the attestations it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttestationBundle {
    /// The trusted publisher, as the index recorded it.
    pub publisher: Publisher,
    /// Its attestations.
    pub attestations: Vec<Attestation>,
}

/// A trusted publisher as PyPI describes it in provenance (`kind` names the variant;
/// other members PyPI may add are kept by the index, ignored here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
#[non_exhaustive]
pub enum Publisher {
    /// GitHub Actions: `repository` is `OWNER/REPO`, `workflow` the workflow file name.
    GitHub {
        repository: String,
        workflow: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
    },
    /// GitLab CI/CD: `repository` is `NAMESPACE/PROJECT`, `workflow_filepath` the CI file.
    GitLab {
        repository: String,
        workflow_filepath: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
    },
    /// A Google Cloud service account.
    Google { email: String },
}

impl std::fmt::Display for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Publisher::GitHub {
                repository,
                workflow,
                ..
            } => write!(f, "GitHub repository {repository} (workflow {workflow})"),
            Publisher::GitLab {
                repository,
                workflow_filepath,
                ..
            } => write!(
                f,
                "GitLab repository {repository} (workflow {workflow_filepath})"
            ),
            Publisher::Google { email } => write!(f, "Google service account {email}"),
        }
    }
}

impl Provenance {
    /// Parses a provenance object; every attestation in it is checked as
    /// [`Attestation::from_json`] checks one.
    #[allow(
        clippy::indexing_slicing,
        reason = "serde_json Value reads answer Null when absent; they never panic"
    )]
    pub fn from_json(json: &[u8]) -> Result<Self, Pep740Error> {
        let malformed = |detail: String| Pep740Error::MalformedProvenance { detail };
        if json.len() > MAX_OBJECT_BYTES {
            return Err(malformed(format!(
                "{} bytes, more than the {MAX_OBJECT_BYTES}-byte limit",
                json.len()
            )));
        }
        // The publisher kind is read first so that an unknown kind is named as such
        // rather than as a failed parse.
        let doc: Value = serde_json::from_slice(json).map_err(|e| malformed(e.to_string()))?;
        if let Some(bundles) = doc.get("attestation_bundles").and_then(Value::as_array) {
            for bundle in bundles {
                let kind = bundle
                    .pointer("/publisher/kind")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !matches!(kind, "GitHub" | "GitLab" | "Google") {
                    return Err(Pep740Error::UnsupportedPublisher {
                        found: kind.to_owned(),
                    });
                }
            }
        }
        let provenance: Provenance =
            serde_json::from_value(doc).map_err(|e| malformed(e.to_string()))?;
        if provenance.version != 1 {
            return Err(malformed(format!(
                "expected version 1, found {}",
                provenance.version
            )));
        }
        if provenance.attestation_bundles.is_empty() {
            return Err(malformed("expected at least one attestation bundle".into()));
        }
        for attestation in provenance
            .attestation_bundles
            .iter()
            .flat_map(|b| &b.attestations)
        {
            attestation.check().map_err(malformed)?;
        }
        Ok(provenance)
    }

    /// The provenance as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
