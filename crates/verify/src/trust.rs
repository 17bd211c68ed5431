//! Trusted roots: the Sigstore public-good and staging roots embedded in the binary
//! (copied from sigstore-python's TUF store, see `trust-roots/SOURCE`), or one read from
//! a file for any other instance (a private `vouch serve`, GitHub's, a test instance).

use std::path::{Path, PathBuf};

use sigstore_trust_root::TrustedRoot;

use crate::error::{Input, VerifyError};
use crate::limits::read_limited;

const PUBLIC_GOOD_JSON: &str = include_str!("../trust-roots/public-good/trusted_root.json");
const STAGING_JSON: &str = include_str!("../trust-roots/staging/trusted_root.json");

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

    /// Parses trusted-root JSON.
    pub fn from_json(json: &[u8]) -> Result<Self, VerifyError> {
        crate::limits::check_len(json, Input::TrustedRoot)?;
        let text = std::str::from_utf8(json).map_err(|e| VerifyError::InvalidTrustRoot {
            detail: format!("not UTF-8: {e}"),
        })?;
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
}
