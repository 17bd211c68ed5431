//! Bundle parsing: size limit, JSON syntax, the media type (bundle v0.1, v0.2, v0.3 in
//! both spellings), then the structure through sigstore-types. Each step has its own code
//! so a malformed bundle is never reported as a failed signature.

use std::path::Path;

use serde::Deserialize;
use sigstore_types::Bundle;

use crate::error::{Input, SignerKind, VerifyError};
use crate::limits::{check_len, read_limited};
use crate::trust::one_line;

/// The bundle format versions this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleVersion {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`
    V0_1,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.2`
    V0_2,
    /// `application/vnd.dev.sigstore.bundle.v0.3+json` or `...bundle+json;version=0.3`
    V0_3,
}

impl BundleVersion {
    /// Maps a media type to a version; `None` for anything else, including a missing one.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(Self::V0_1),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(Self::V0_2),
            "application/vnd.dev.sigstore.bundle.v0.3+json"
            | "application/vnd.dev.sigstore.bundle+json;version=0.3" => Some(Self::V0_3),
            _ => None,
        }
    }

    /// `"0.1"`, `"0.2"` or `"0.3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1",
            Self::V0_2 => "0.2",
            Self::V0_3 => "0.3",
        }
    }
}

/// A bundle that passed parsing. Verification has not happened yet.
#[derive(Debug, Clone)]
pub struct ParsedBundle {
    pub(crate) bundle: Bundle,
    version: BundleVersion,
}

/// Reads only `mediaType`; serde skips the rest without building it.
#[derive(Deserialize)]
struct MediaTypeProbe {
    #[serde(rename = "mediaType")]
    media_type: Option<serde_json::Value>,
}

impl ParsedBundle {
    /// Parses bundle JSON (at most [`crate::limits::MAX_BUNDLE_BYTES`]).
    pub fn from_json(json: &[u8]) -> Result<Self, VerifyError> {
        check_len(json, Input::Bundle)?;
        let malformed = |detail: String| VerifyError::MalformedBundle {
            detail: one_line(&detail),
        };
        // The upstream parser defaults a missing mediaType to v0.1; a bundle without one
        // is not a bundle by the protobuf-specs, so the version is checked here first.
        let probe: MediaTypeProbe =
            serde_json::from_slice(json).map_err(|e| malformed(e.to_string()))?;
        let version =
            match probe.media_type {
                Some(serde_json::Value::String(s)) => BundleVersion::from_media_type(&s)
                    .ok_or_else(|| VerifyError::UnsupportedBundleVersion {
                        found: format!("{:?}", truncate(&s)),
                    })?,
                Some(other) => {
                    return Err(VerifyError::UnsupportedBundleVersion {
                        found: format!("a JSON {}", json_kind(&other)),
                    })
                }
                None => {
                    return Err(VerifyError::UnsupportedBundleVersion {
                        found: "no mediaType".to_owned(),
                    })
                }
            };
        let text = std::str::from_utf8(json).map_err(|e| malformed(e.to_string()))?;
        let bundle = match Bundle::from_json(text) {
            Ok(bundle) => bundle,
            Err(first) => retry_with_wrapped_base64(text).ok_or_else(|| {
                let detail = first.to_string();
                // Checkpoints are parsed while deserializing; a bad one is a failed log
                // proof, not a file that is not a bundle.
                if detail.contains("Invalid checkpoint format") {
                    VerifyError::Checkpoint {
                        detail: one_line(&detail),
                    }
                } else {
                    malformed(detail)
                }
            })?,
        };
        check_structure(&bundle)?;
        Ok(Self { bundle, version })
    }

    /// Reads and parses a bundle file.
    pub fn from_file(path: &Path) -> Result<Self, VerifyError> {
        Self::from_json(&read_limited(path, Input::Bundle)?)
    }

    /// The bundle format version.
    pub fn version(&self) -> BundleVersion {
        self.version
    }

    /// What signed the bundle.
    pub fn signer_kind(&self) -> SignerKind {
        match self.bundle.verification_material.content {
            sigstore_types::VerificationMaterialContent::PublicKey(_) => SignerKind::PublicKey,
            _ => SignerKind::Certificate,
        }
    }

    /// The upstream bundle, for callers that need a field this crate does not surface.
    pub fn inner(&self) -> &Bundle {
        &self.bundle
    }
}

/// The bundle's protobuf `bytes` fields (base64 in JSON).
const BYTES_FIELDS: &[&str] = &[
    "rawBytes",
    "keyId",
    "signedEntryTimestamp",
    "rootHash",
    "hashes",
    "canonicalizedBody",
    "signedTimestamp",
    "digest",
    "signature",
    "payload",
    "sig",
];

/// Protobuf JSON decoders (Go's protojson, sigstore-python) ignore CR and LF inside base64,
/// so producers that wrap base64 at 76 columns (MIME style) make bundles every other
/// Sigstore client accepts; sigstore-types' decoder rejects them. When a parse fails, strip
/// CR/LF from the `bytes` fields only (never from the checkpoint, whose newlines are
/// meaningful) and parse again. The bytes decoded are the same as those clients decode,
/// and every signature is still checked over them.
fn retry_with_wrapped_base64(text: &str) -> Option<Bundle> {
    fn strip(v: &mut serde_json::Value, in_bytes_field: bool) -> bool {
        let mut changed = false;
        match v {
            serde_json::Value::String(s) if in_bytes_field && s.contains(['\r', '\n']) => {
                s.retain(|c| c != '\r' && c != '\n');
                changed = true;
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    changed |= strip(item, in_bytes_field);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    changed |= strip(item, BYTES_FIELDS.contains(&key.as_str()));
                }
            }
            _ => {}
        }
        changed
    }
    let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
    if !strip(&mut value, false) {
        return None;
    }
    Bundle::from_json(&serde_json::to_string(&value).ok()?).ok()
}

/// Structural defects that upstream would report later and less precisely.
fn check_structure(bundle: &Bundle) -> Result<(), VerifyError> {
    if let sigstore_types::VerificationMaterialContent::X509CertificateChain { certificates } =
        &bundle.verification_material.content
    {
        if certificates.is_empty() {
            return Err(VerifyError::InvalidBundle {
                detail: "the x509CertificateChain has no certificates".into(),
            });
        }
    }
    Ok(())
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_spellings() {
        for (mt, v) in [
            (
                "application/vnd.dev.sigstore.bundle+json;version=0.1",
                BundleVersion::V0_1,
            ),
            (
                "application/vnd.dev.sigstore.bundle+json;version=0.2",
                BundleVersion::V0_2,
            ),
            (
                "application/vnd.dev.sigstore.bundle+json;version=0.3",
                BundleVersion::V0_3,
            ),
            (
                "application/vnd.dev.sigstore.bundle.v0.3+json",
                BundleVersion::V0_3,
            ),
        ] {
            assert_eq!(BundleVersion::from_media_type(mt), Some(v));
        }
        assert_eq!(
            BundleVersion::from_media_type("application/vnd.dev.sigstore.bundle.v0.4+json"),
            None
        );
    }

    #[test]
    fn each_parse_failure_has_its_code() {
        let cases: [(&[u8], &str); 6] = [
            (b"{", "VERIFY_E003"),
            (b"[1,2]", "VERIFY_E003"),
            (b"{}", "VERIFY_E004"),
            (br#"{"mediaType": 3}"#, "VERIFY_E004"),
            (
                br#"{"mediaType": "application/vnd.dev.sigstore.bundle+json;version=99.9"}"#,
                "VERIFY_E004",
            ),
            (
                br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}"#,
                "VERIFY_E003",
            ),
        ];
        for (json, code) in cases {
            let err = ParsedBundle::from_json(json).unwrap_err();
            assert_eq!(err.code(), code, "{}: {err}", String::from_utf8_lossy(json));
            assert_eq!(err.to_string().lines().count(), 1);
        }
    }

    #[test]
    fn base64_wrapped_at_76_columns_parses_like_other_clients() {
        let sig =
            "MEUCIQDlaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let wrapped = format!("{}\\n{}", &sig[..40], &sig[40..]);
        let json = |s: &str| {
            format!(
                r#"{{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {{"publicKey": {{"hint": "k"}}, "tlogEntries": []}},
                "messageSignature": {{"signature": "{s}"}}}}"#
            )
        };
        let plain = ParsedBundle::from_json(json(sig).as_bytes()).unwrap();
        let unwrapped = ParsedBundle::from_json(json(&wrapped).as_bytes()).unwrap();
        assert_eq!(plain.inner(), unwrapped.inner());
        // Anything else that is not base64 is still malformed.
        let err = ParsedBundle::from_json(json("not base64!").as_bytes()).unwrap_err();
        assert_eq!(err.code(), "VERIFY_E003");
    }

    #[test]
    fn oversized_bundles_are_refused_before_parsing() {
        let big = vec![b' '; crate::limits::MAX_BUNDLE_BYTES as usize + 1];
        let err = ParsedBundle::from_json(&big).unwrap_err();
        assert_eq!(err.code(), "VERIFY_E002");
    }
}
