//! `dist-manifest.json` and `crates-manifest.json`: the release's machine-readable records.
//!
//! The wire structs (private, `serde`) are kept apart from the domain types so that a
//! field rename is a visible schema change. Parsing is strict: unknown fields, unknown
//! `schema_version`s, duplicate names and unsafe names are refused. Rendering is
//! deterministic (fixed key order, entries sorted, two-space indent, final newline), so
//! sealing the same inputs twice gives the same bytes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::digest::{Blake3, Sha256};
use crate::error::ReleaseError;
use crate::name::{AssetName, CrateId};

/// The one `schema_version` of both manifests this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// File name of the distribution manifest.
pub const DIST_MANIFEST: &str = "dist-manifest.json";
/// File name of the crates manifest.
pub const CRATES_MANIFEST: &str = "crates-manifest.json";

/// One sealed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub name: AssetName,
    pub size: u64,
    pub sha256: Sha256,
    pub blake3: Blake3,
}

/// What a release contains: tag, commit, when it was sealed, and every asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistManifest {
    pub tag: Option<String>,
    pub commit: Option<String>,
    /// RFC 3339, UTC, whole seconds.
    pub generated_at: String,
    /// Sorted by name, names unique.
    pub assets: Vec<Asset>,
}

/// How a crate version reached crates.io.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReleaseStatus {
    /// Published from CI through crates.io trusted publishing.
    TrustedPublish,
    /// Published by a person with an API token: allowed only as a recorded exception.
    ManualTokenPublish,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::TrustedPublish => "trusted_publish",
            ReleaseStatus::ManualTokenPublish => "manual_token_publish",
        }
    }
}

/// One crate of the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateEntry {
    pub id: CrateId,
    /// SHA-256 of the `.crate` file, as crates.io reports it in `checksum`.
    pub checksum: Sha256,
    pub release_status: ReleaseStatus,
}

/// The crates a release publishes, with their expected publication path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CratesManifest {
    pub tag: Option<String>,
    pub commit: Option<String>,
    pub generated_at: String,
    /// Sorted by name then version, unique.
    pub crates: Vec<CrateEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DistWire {
    schema_version: u64,
    tag: Option<String>,
    commit: Option<String>,
    generated_at: String,
    assets: Vec<AssetWire>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetWire {
    name: String,
    size: u64,
    sha256: String,
    blake3: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CratesWire {
    schema_version: u64,
    tag: Option<String>,
    commit: Option<String>,
    generated_at: String,
    crates: Vec<CrateWire>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrateWire {
    name: String,
    version: String,
    checksum: String,
    release_status: String,
}

/// Reads `schema_version` first, so that a future schema is reported as such and not as
/// a pile of unknown fields.
fn check_schema(file: &'static str, text: &str) -> Result<(), ReleaseError> {
    #[derive(Deserialize)]
    struct Probe {
        schema_version: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_str(text).map_err(|e| malformed(file, e))?;
    match probe.schema_version {
        None => Err(ReleaseError::MalformedManifest {
            file,
            detail: "missing schema_version".into(),
        }),
        Some(v) => match v.as_u64() {
            Some(n) if n == u64::from(SCHEMA_VERSION) => Ok(()),
            Some(n) => Err(ReleaseError::UnsupportedSchema {
                file,
                expected: SCHEMA_VERSION,
                found: n,
            }),
            None => Err(ReleaseError::MalformedManifest {
                file,
                detail: format!("schema_version is not an unsigned integer: {v}"),
            }),
        },
    }
}

fn malformed(file: &'static str, e: impl std::fmt::Display) -> ReleaseError {
    ReleaseError::MalformedManifest {
        file,
        detail: e.to_string(),
    }
}

fn digest<T>(
    file: &'static str,
    field: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, ReleaseError> {
    parse(text).ok_or_else(|| ReleaseError::MalformedManifest {
        file,
        detail: format!("{field} {text:?} is not 64 hex digits"),
    })
}

fn render<T: Serialize>(value: &T) -> String {
    // Serialising plain structs of strings and integers cannot fail.
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}

impl DistManifest {
    /// Parses and checks a `dist-manifest.json`.
    pub fn parse(text: &str) -> Result<Self, ReleaseError> {
        const FILE: &str = DIST_MANIFEST;
        check_schema(FILE, text)?;
        let wire: DistWire = serde_json::from_str(text).map_err(|e| malformed(FILE, e))?;
        let mut seen = BTreeSet::new();
        let mut assets = Vec::with_capacity(wire.assets.len());
        for a in wire.assets {
            let name = AssetName::parse(&a.name)?;
            if !seen.insert(name.clone()) {
                return Err(ReleaseError::DuplicateEntry {
                    file: FILE,
                    name: a.name,
                });
            }
            assets.push(Asset {
                name,
                size: a.size,
                sha256: digest(FILE, "sha256", &a.sha256, Sha256::from_hex)?,
                blake3: digest(FILE, "blake3", &a.blake3, Blake3::from_hex)?,
            });
        }
        assets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            tag: wire.tag,
            commit: wire.commit,
            generated_at: wire.generated_at,
            assets,
        })
    }

    /// The canonical text of this manifest.
    pub fn render(&self) -> String {
        let mut assets: Vec<&Asset> = self.assets.iter().collect();
        assets.sort_by(|a, b| a.name.cmp(&b.name));
        render(&DistWire {
            schema_version: u64::from(SCHEMA_VERSION),
            tag: self.tag.clone(),
            commit: self.commit.clone(),
            generated_at: self.generated_at.clone(),
            assets: assets
                .into_iter()
                .map(|a| AssetWire {
                    name: a.name.as_str().to_owned(),
                    size: a.size,
                    sha256: a.sha256.to_hex(),
                    blake3: a.blake3.to_hex(),
                })
                .collect(),
        })
    }

    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.name.as_str() == name)
    }
}

impl CratesManifest {
    /// Parses and checks a `crates-manifest.json`.
    pub fn parse(text: &str) -> Result<Self, ReleaseError> {
        const FILE: &str = CRATES_MANIFEST;
        check_schema(FILE, text)?;
        let wire: CratesWire = serde_json::from_str(text).map_err(|e| malformed(FILE, e))?;
        let mut seen = BTreeSet::new();
        let mut crates = Vec::with_capacity(wire.crates.len());
        for c in wire.crates {
            if c.name.contains("..") || c.name.contains(['/', '\\']) {
                return Err(ReleaseError::InvalidName {
                    name: c.name,
                    reason: "crate names are single path components",
                });
            }
            let id = CrateId::new(&c.name, &c.version).map_err(|e| malformed(FILE, e))?;
            // One version of a crate per release: two entries for the same name would
            // make "which one did the index serve" ambiguous.
            if !seen.insert(c.name.clone()) {
                return Err(ReleaseError::DuplicateEntry {
                    file: FILE,
                    name: c.name,
                });
            }
            let release_status = match c.release_status.as_str() {
                "trusted_publish" => ReleaseStatus::TrustedPublish,
                "manual_token_publish" => ReleaseStatus::ManualTokenPublish,
                other => {
                    return Err(malformed(
                        FILE,
                        format!("unknown release_status {other:?} for {id}"),
                    ))
                }
            };
            crates.push(CrateEntry {
                id,
                checksum: digest(FILE, "checksum", &c.checksum, Sha256::from_hex)?,
                release_status,
            });
        }
        crates.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self {
            tag: wire.tag,
            commit: wire.commit,
            generated_at: wire.generated_at,
            crates,
        })
    }

    /// The canonical text of this manifest.
    pub fn render(&self) -> String {
        let mut crates: Vec<&CrateEntry> = self.crates.iter().collect();
        crates.sort_by(|a, b| a.id.cmp(&b.id));
        render(&CratesWire {
            schema_version: u64::from(SCHEMA_VERSION),
            tag: self.tag.clone(),
            commit: self.commit.clone(),
            generated_at: self.generated_at.clone(),
            crates: crates
                .into_iter()
                .map(|c| CrateWire {
                    name: c.id.name().to_owned(),
                    version: c.id.version().to_owned(),
                    checksum: c.checksum.to_hex(),
                    release_status: c.release_status.as_str().to_owned(),
                })
                .collect(),
        })
    }

    pub fn find(&self, name: &str) -> Option<&CrateEntry> {
        self.crates.iter().find(|c| c.id.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> DistManifest {
        DistManifest {
            tag: Some("v1.0.0".into()),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            generated_at: "2026-01-02T03:04:05Z".into(),
            assets: vec![Asset {
                name: AssetName::parse("a.whl").unwrap(),
                size: 3,
                sha256: Sha256::from_bytes([1; 32]),
                blake3: Blake3::from_bytes([2; 32]),
            }],
        }
    }

    #[test]
    fn dist_round_trip() {
        let m = sample();
        let text = m.render();
        assert!(text.starts_with("{\n  \"schema_version\": 1,\n"));
        assert!(text.ends_with("}\n"));
        assert_eq!(DistManifest::parse(&text).unwrap(), m);
    }

    #[test]
    fn dist_refusals() {
        let text = sample().render();
        let future = text.replace("\"schema_version\": 1", "\"schema_version\": 2");
        assert_eq!(
            DistManifest::parse(&future).unwrap_err().code(),
            "RELEASE_E002"
        );
        let missing = text.replace("\"schema_version\": 1,", "");
        assert_eq!(
            DistManifest::parse(&missing).unwrap_err().code(),
            "RELEASE_E003"
        );
        let unknown = text.replace("\"tag\"", "\"extra\": 1, \"tag\"");
        assert_eq!(
            DistManifest::parse(&unknown).unwrap_err().code(),
            "RELEASE_E003"
        );
        for bad in ["../a.whl", "dir/a.whl", "dir\\\\a.whl", ""] {
            let t = text.replace("\"a.whl\"", &format!("\"{bad}\""));
            assert_eq!(
                DistManifest::parse(&t).unwrap_err().code(),
                "RELEASE_E001",
                "{bad}"
            );
        }
        let mut m = sample();
        m.assets.push(m.assets[0].clone());
        assert_eq!(
            DistManifest::parse(&m.render()).unwrap_err().code(),
            "RELEASE_E004"
        );
        let bad_digest = text.replace(&"01".repeat(32), "zz");
        assert_eq!(
            DistManifest::parse(&bad_digest).unwrap_err().code(),
            "RELEASE_E003"
        );
        assert_eq!(
            DistManifest::parse("[]").unwrap_err().code(),
            "RELEASE_E003"
        );
    }

    #[test]
    fn crates_round_trip_and_refusals() {
        let m = CratesManifest {
            tag: None,
            commit: None,
            generated_at: "2026-01-02T03:04:05Z".into(),
            crates: vec![CrateEntry {
                id: CrateId::parse("vouch-core@1.0.0").unwrap(),
                checksum: Sha256::from_bytes([3; 32]),
                release_status: ReleaseStatus::ManualTokenPublish,
            }],
        };
        let text = m.render();
        assert!(text.contains("\"release_status\": \"manual_token_publish\""));
        assert_eq!(CratesManifest::parse(&text).unwrap(), m);
        let dup = {
            let mut d = m.clone();
            d.crates.push(CrateEntry {
                id: CrateId::parse("vouch-core@2.0.0").unwrap(),
                ..d.crates[0].clone()
            });
            d.render()
        };
        assert_eq!(
            CratesManifest::parse(&dup).unwrap_err().code(),
            "RELEASE_E004"
        );
        let slash = text.replace("\"vouch-core\"", "\"../core\"");
        assert_eq!(
            CratesManifest::parse(&slash).unwrap_err().code(),
            "RELEASE_E001"
        );
        let status = text.replace("manual_token_publish", "yolo");
        assert_eq!(
            CratesManifest::parse(&status).unwrap_err().code(),
            "RELEASE_E003"
        );
        let future = text.replace("\"schema_version\": 1", "\"schema_version\": 99");
        assert_eq!(
            CratesManifest::parse(&future).unwrap_err().code(),
            "RELEASE_E002"
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,300}") {
            let _ = DistManifest::parse(&s);
            let _ = CratesManifest::parse(&s);
        }

        #[test]
        fn mutated_manifest_never_panics(pos in 0usize..400, byte in any::<u8>()) {
            let mut bytes = sample().render().into_bytes();
            let i = pos % bytes.len();
            bytes[i] = byte;
            if let Ok(text) = String::from_utf8(bytes) {
                let _ = DistManifest::parse(&text);
            }
        }
    }
}
