//! Trusted roots: the Sigstore public-good and staging roots embedded in the binary
//! (copied from sigstore-python's TUF store, see `trust-roots/SOURCE`), or one read from
//! a file for any other instance (a private `vouch serve`, GitHub's, a test instance).

use std::path::{Path, PathBuf};

use sigstore_trust_root::TrustedRoot;

use crate::error::{Input, VerifyError};
use crate::limits::read_limited;

const PUBLIC_GOOD_JSON: &str = include_str!("../trust-roots/public-good/trusted_root.json");
const STAGING_JSON: &str = include_str!("../trust-roots/staging/trusted_root.json");

const SIGSTORE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.";
const TRUSTED_ROOT_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.trustedroot";
const TRUST_CONFIG_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.clienttrustconfig";

/// A readable name for another Sigstore document kind, for the refusal message.
fn kind_of(media_type: &str) -> &'static str {
    let rest = &media_type[SIGSTORE_MEDIA_TYPE_PREFIX.len()..];
    if rest.starts_with("signingconfig") {
        "signing config"
    } else if rest.starts_with("bundle") {
        "Sigstore bundle"
    } else {
        "Sigstore document of another kind"
    }
}

/// Where a trusted root came from, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustRootSource {
    /// The embedded Sigstore public-good root.
    PublicGood,
    /// The embedded Sigstore staging root.
    Staging,
    /// A file given by the user.
    File(PathBuf),
    /// JSON given by the caller.
    Json,
}

impl std::fmt::Display for TrustRootSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustRootSource::PublicGood => f.write_str("sigstore public-good (embedded)"),
            TrustRootSource::Staging => f.write_str("sigstore staging (embedded)"),
            TrustRootSource::File(p) => write!(f, "{}", p.display()),
            TrustRootSource::Json => f.write_str("caller-supplied JSON"),
        }
    }
}

/// A parsed trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`).
#[derive(Debug, Clone)]
pub struct TrustRoot {
    pub(crate) root: TrustedRoot,
    source: TrustRootSource,
}

impl TrustRoot {
    /// The embedded Sigstore public-good root.
    pub fn public_good() -> Result<Self, VerifyError> {
        Self::parse(PUBLIC_GOOD_JSON, TrustRootSource::PublicGood)
    }

    /// The embedded Sigstore staging root.
    pub fn staging() -> Result<Self, VerifyError> {
        Self::parse(STAGING_JSON, TrustRootSource::Staging)
    }

    /// Parses trusted-root JSON, or a client trust config (what `vouch trust-config --out`
    /// and sigstore-python's `--trust-config` use), whose `trustedRoot` is then the root.
    ///
    /// The kind is told by `mediaType`: any other Sigstore document (a signing config, a
    /// bundle) is refused with its kind named, rather than read as a root with no
    /// authorities and failing later with a misleading "no certificate authorities".
    pub fn from_json(json: &[u8]) -> Result<Self, VerifyError> {
        crate::limits::check_len(json, Input::TrustedRoot)?;
        let text = std::str::from_utf8(json).map_err(|e| VerifyError::InvalidTrustRoot {
            detail: format!("not UTF-8: {e}"),
        })?;
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| VerifyError::InvalidTrustRoot {
                detail: one_line(&format!("not JSON: {e}")),
            })?;
        let media_type = doc.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
        if media_type.starts_with(TRUST_CONFIG_MEDIA_TYPE_PREFIX) {
            let Some(root) = doc.get("trustedRoot").filter(|r| r.is_object()) else {
                return Err(VerifyError::InvalidTrustRoot {
                    detail: format!(
                        "a client trust config ({media_type}) without a trustedRoot object"
                    ),
                });
            };
            return Self::parse(&root.to_string(), TrustRootSource::Json);
        }
        if media_type.starts_with(SIGSTORE_MEDIA_TYPE_PREFIX)
            && !media_type.starts_with(TRUSTED_ROOT_MEDIA_TYPE_PREFIX)
        {
            return Err(VerifyError::InvalidTrustRoot {
                detail: format!(
                    "expected a trusted root ({TRUSTED_ROOT_MEDIA_TYPE_PREFIX}...) or a client \
                     trust config ({TRUST_CONFIG_MEDIA_TYPE_PREFIX}...), found a {} \
                     (mediaType {media_type})",
                    kind_of(media_type)
                ),
            });
        }
        Self::parse(text, TrustRootSource::Json)
    }

    /// Reads and parses a trusted-root file.
    pub fn from_file(path: &Path) -> Result<Self, VerifyError> {
        let bytes = read_limited(path, Input::TrustedRoot)?;
        let mut root = Self::from_json(&bytes)?;
        root.source = TrustRootSource::File(path.to_owned());
        Ok(root)
    }

    fn parse(json: &str, source: TrustRootSource) -> Result<Self, VerifyError> {
        let root = TrustedRoot::from_json(json).map_err(|e| VerifyError::InvalidTrustRoot {
            detail: one_line(&e.to_string()),
        })?;
        Ok(Self { root, source })
    }

    /// Where this root came from.
    pub fn source(&self) -> &TrustRootSource {
        &self.source
    }

    /// Number of Fulcio certificate authorities.
    pub fn certificate_authorities(&self) -> usize {
        self.root.certificate_authorities.len()
    }

    /// Number of Rekor transparency logs.
    pub fn transparency_logs(&self) -> usize {
        self.root.tlogs.len()
    }

    /// Number of RFC 3161 timestamp authorities.
    pub fn timestamp_authorities(&self) -> usize {
        self.root.timestamp_authorities.len()
    }
}

/// Upstream messages sometimes embed serde's multi-line context; errors here are one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_roots_parse_and_have_every_authority() {
        for root in [
            TrustRoot::public_good().unwrap(),
            TrustRoot::staging().unwrap(),
        ] {
            assert!(root.certificate_authorities() > 0, "{}", root.source());
            assert!(root.transparency_logs() > 0, "{}", root.source());
            assert!(root.timestamp_authorities() > 0, "{}", root.source());
        }
    }

    #[test]
    fn malformed_roots_are_coded_errors() {
        for bad in [&b"{"[..], b"[]", b"\xff\xfe", b"{\"mediaType\": 5}"] {
            let err = TrustRoot::from_json(bad).unwrap_err();
            assert_eq!(err.code(), "VERIFY_E007", "{err}");
        }
        let err = TrustRoot::from_file(Path::new("/nonexistent/trusted_root.json")).unwrap_err();
        assert_eq!(err.code(), "VERIFY_E001");
    }

    /// Defect (issue 12): a client trust config (`vouch trust-config --out`) passed as a
    /// trusted root was read as a root with no authorities ("the trusted root lists no
    /// certificate authorities"). Its `trustedRoot` is used now.
    #[test]
    fn trust_config_is_accepted_as_trusted_root() {
        let root: serde_json::Value = serde_json::from_str(PUBLIC_GOOD_JSON).unwrap();
        let config = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": root,
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            },
        });
        let parsed = TrustRoot::from_json(config.to_string().as_bytes()).unwrap();
        let embedded = TrustRoot::public_good().unwrap();
        assert_eq!(
            parsed.certificate_authorities(),
            embedded.certificate_authorities()
        );
        assert_eq!(parsed.transparency_logs(), embedded.transparency_logs());
        assert_eq!(
            parsed.timestamp_authorities(),
            embedded.timestamp_authorities()
        );

        // A trust config whose trustedRoot is missing says so.
        let hollow = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        });
        let err = TrustRoot::from_json(hollow.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.code(), "VERIFY_E007");
        assert!(err.to_string().contains("without a trustedRoot"), "{err}");
    }

    /// Another kind of Sigstore file given as a root is named, not half-parsed.
    #[test]
    fn other_sigstore_documents_are_named_when_refused() {
        let signing = br#"{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"}"#;
        let err = TrustRoot::from_json(signing).unwrap_err();
        assert_eq!(err.code(), "VERIFY_E007");
        assert!(err.to_string().contains("found a signing config"), "{err}");
        let bundle = br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
        let err = TrustRoot::from_json(bundle).unwrap_err();
        assert_eq!(err.code(), "VERIFY_E007");
        assert!(err.to_string().contains("found a Sigstore bundle"), "{err}");
    }
}
