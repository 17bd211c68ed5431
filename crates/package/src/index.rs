//! The registry's index entry (`GET /api/v1/packages/@scope/name/VERSION`) as a typed wire struct that the registry writes and clients parse.
//!
//! Fields are declared in alphabetical order: `serde_json` writes a `Value`'s keys
//! sorted, and the registry served the entry as a `Value` before this type existed,
//! so declaring them sorted keeps the bytes on the wire the same either way.

use serde::{Deserialize, Serialize};

/// One published version, as the index serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The files of the version (today one: the archive).
    pub artifacts: Vec<IndexArtifact>,
    /// BLAKE3 of the archive (the registry's content address).
    pub blake3: HexDigest,
    /// Where the archive is served.
    pub blob_url: String,
    /// Where the archive's Sigstore bundle is served.
    pub bundle_url: String,
    /// The bundle's entry in the transparency log.
    pub log_index: u64,
    /// `@scope/name`.
    pub name: String,
    /// When the version was committed (RFC 3339, UTC).
    pub published_at: String,
    /// Who published it, and through which binding.
    pub publisher: IndexPublisher,
    /// SHA-256 of the archive (the in-toto subject digest).
    pub sha256: HexDigest,
    /// Size of the archive in bytes.
    pub size: u64,
    /// The version (SemVer 2.0).
    pub version: String,
}

/// The identity that signed a version and the binding it was matched to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPublisher {
    /// The binding's id; `None` for versions published without one.
    pub binding_id: Option<i64>,
    /// The binding's deployment environment, if it names one.
    pub environment: Option<String>,
    /// The certificate's SAN (email or URI).
    pub identity: String,
    /// The OIDC issuer.
    pub issuer: String,
    /// The binding's provider (`github`, `gitlab`, …, or `email`); `None` without a
    /// binding.
    pub provider: Option<String>,
    /// The binding's repository (CI bindings only).
    pub repository: Option<String>,
    /// The binding's workflow (CI bindings only).
    pub workflow: Option<String>,
}

/// One file of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexArtifact {
    /// BLAKE3 of the file.
    pub blake3: HexDigest,
    /// `SCOPE-NAME-VERSION.tar.zst`.
    pub filename: String,
    /// SHA-256 of the file.
    pub sha256: HexDigest,
    /// Size in bytes.
    pub size: u64,
}

/// Every version of a package (`GET /api/v1/packages/@scope/name`), oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageIndex {
    /// `@scope/name`.
    pub name: String,
    /// Its versions, oldest first.
    pub versions: Vec<IndexEntry>,
}

/// A 32-byte digest, written as 64 lowercase hex digits; parsing accepts exactly 64
/// hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexDigest(pub [u8; 32]);

impl HexDigest {
    /// The digest as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Display for HexDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<[u8; 32]> for HexDigest {
    fn from(b: [u8; 32]) -> Self {
        HexDigest(b)
    }
}

impl Serialize for HexDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for HexDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.as_bytes(), &mut out).map_err(|_| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&text),
                &"64 hex digits (a 32-byte digest)",
            )
        })?;
        Ok(HexDigest(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> IndexEntry {
        IndexEntry {
            artifacts: vec![IndexArtifact {
                blake3: HexDigest([0xb3; 32]),
                filename: "acme-tool-1.0.0.tar.zst".into(),
                sha256: HexDigest([0x5a; 32]),
                size: 42,
            }],
            blake3: HexDigest([0xb3; 32]),
            blob_url: "http://h/blobs/b3".into(),
            bundle_url: "http://h/blobs/b3.sigstore".into(),
            log_index: 7,
            name: "@acme/tool".into(),
            published_at: "2026-01-02T03:04:05Z".into(),
            publisher: IndexPublisher {
                binding_id: Some(3),
                environment: None,
                identity: "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/v1"
                    .into(),
                issuer: "https://token.actions.githubusercontent.com".into(),
                provider: Some("github".into()),
                repository: Some("acme/tool".into()),
                workflow: Some(".github/workflows/release.yml".into()),
            },
            sha256: HexDigest([0x5a; 32]),
            size: 42,
            version: "1.0.0".into(),
        }
    }

    /// The struct writes the same bytes as the `serde_json::Value` the registry served
    /// before it existed (keys sorted), directly and through a `Value`.
    #[test]
    fn wire_bytes_match_the_value_form() {
        let e = entry();
        let direct = serde_json::to_string(&e).unwrap();
        let via_value = serde_json::to_string(&serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(direct, via_value);
        let back: IndexEntry = serde_json::from_str(&direct).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn digests_must_be_64_hex_digits() {
        let ok = format!("\"{}\"", "ab".repeat(32));
        assert_eq!(
            serde_json::from_str::<HexDigest>(&ok).unwrap(),
            HexDigest([0xab; 32])
        );
        for bad in ["\"ab\"", "\"\"", &format!("\"{}\"", "zz".repeat(32))] {
            let e = serde_json::from_str::<HexDigest>(bad).unwrap_err();
            assert!(
                e.to_string().contains("expected 64 hex digits"),
                "{bad}: {e}"
            );
        }
        let e = serde_json::from_str::<HexDigest>("7").unwrap_err();
        assert!(e.to_string().starts_with("invalid type: integer"), "{e}");
    }
}
