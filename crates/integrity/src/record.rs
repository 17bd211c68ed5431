//! Integrity records, version 1: the registry's signed statement of the hashes it
//! observed at ingest, as a typed value and as its strict JSON wire form.
//!
//! Wire form (RFC 8785 canonical JSON; member names sort as shown):
//!
//! ```text
//! {"assets":[{"blake3":<hex64>,"name":<str>,"sha256":<hex64>,"size":<int>}...],
//!  "issued_at":"YYYY-MM-DDTHH:MM:SSZ","kid":<hex16>,"manifest_sha256":<hex64>,
//!  "registry":<http(s) base URL>,"subject":{"kind":"package","name":<str>}
//!  | {"kind":"release","id":<str>},"v":1,"version":<str>}
//! ```
//!
//! The typed [`IntegrityRecord`] is the domain value; the serde structs here are private
//! and exist only to read and write that exact form, unknown members refused.

use std::collections::HashSet;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{IntegrityError, Result};
use crate::jcs::MAX_SAFE_INTEGER;
use crate::key::Kid;
use crate::time::{format_rfc3339, parse_rfc3339};

/// The only record format version this crate reads or writes.
pub const RECORD_VERSION: u64 = 1;

/// Most assets one record may list.
pub const MAX_ASSETS: usize = 4096;

/// Longest name, id, version or URL (bytes).
const MAX_TEXT: usize = 1024;

/// What a record is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A package in the registry's index, by name.
    Package {
        /// Package name.
        name: String,
    },
    /// A release ingested from a forge, by the registry's release id.
    Release {
        /// Release id.
        id: String,
    },
}

/// One asset's size and digests as observed by the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetEntry {
    /// File name as published.
    pub name: String,
    /// Size in bytes (at most 2^53 − 1).
    pub size: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// BLAKE3 (256-bit output) of the bytes.
    pub blake3: [u8; 32],
}

impl AssetEntry {
    /// Hashes `bytes` in memory. For large files use [`crate::AssetHasher`].
    pub fn of_bytes(name: &str, bytes: &[u8]) -> Self {
        let mut h = crate::assets::AssetHasher::new();
        h.update(bytes);
        h.finish(name)
    }
}

/// An integrity record, version 1. Fields are public: the format is versioned, so this
/// struct changes only with a new `v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityRecord {
    /// The signing key's kid; equals the JWS header's kid.
    pub kid: Kid,
    /// When the registry hashed the assets and signed. Whole seconds: any sub-second
    /// part is dropped when the record is serialised.
    pub issued_at: SystemTime,
    /// The registry's base URL (`https://…` or `http://…`, no whitespace).
    pub registry: String,
    /// The package or release.
    pub subject: Subject,
    /// The version (package version or release tag).
    pub version: String,
    /// SHA-256 of the manifest the registry indexed for this version.
    pub manifest_sha256: [u8; 32],
    /// Assets, in the order the registry lists them; names unique.
    pub assets: Vec<AssetEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRecord {
    v: u64,
    kid: String,
    issued_at: String,
    registry: String,
    subject: WireSubject,
    version: String,
    manifest_sha256: String,
    assets: Vec<WireAsset>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum WireSubject {
    Package { name: String },
    Release { id: String },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAsset {
    name: String,
    size: u64,
    sha256: String,
    blake3: String,
}

impl IntegrityRecord {
    /// The record as a JSON value (not yet canonical), after checking every field is
    /// within its format so that what is signed always parses back.
    pub fn to_json_value(&self) -> Result<Value> {
        self.validate()?;
        let issued_at = format_rfc3339(self.issued_at).ok_or_else(|| {
            invalid(
                "issued_at",
                "a time between 1970 and 9999",
                format!("{:?}", self.issued_at),
            )
        })?;
        let wire = WireRecord {
            v: RECORD_VERSION,
            kid: self.kid.to_string(),
            issued_at,
            registry: self.registry.clone(),
            subject: match &self.subject {
                Subject::Package { name } => WireSubject::Package { name: name.clone() },
                Subject::Release { id } => WireSubject::Release { id: id.clone() },
            },
            version: self.version.clone(),
            manifest_sha256: hex(&self.manifest_sha256),
            assets: self
                .assets
                .iter()
                .map(|a| WireAsset {
                    name: a.name.clone(),
                    size: a.size,
                    sha256: hex(&a.sha256),
                    blake3: hex(&a.blake3),
                })
                .collect(),
        };
        serde_json::to_value(wire).map_err(|e| IntegrityError::Canonicalization {
            reason: e.to_string(),
        })
    }

    /// Parses a record from JSON: `v` must be 1 (checked first, so a future version is
    /// reported as such), unknown members are refused, and every field must be in its
    /// format.
    pub fn from_json_value(value: Value) -> Result<Self> {
        match value.get("v") {
            Some(Value::Number(n)) if n.as_u64() == Some(RECORD_VERSION) => {}
            other => {
                return Err(IntegrityError::RecordVersion {
                    expected: RECORD_VERSION,
                    found: other.map_or_else(|| "<missing>".to_owned(), Value::to_string),
                })
            }
        }
        let wire: WireRecord = serde_json::from_value(value)
            .map_err(|e| IntegrityError::json("integrity record", &e))?;
        let kid = Kid::parse(&wire.kid)
            .ok_or_else(|| invalid("kid", "16 lowercase hex characters", wire.kid.clone()))?;
        let issued_at = parse_rfc3339(&wire.issued_at)
            .ok_or_else(|| invalid("issued_at", "YYYY-MM-DDTHH:MM:SSZ", wire.issued_at.clone()))?;
        let manifest_sha256 = unhex(&wire.manifest_sha256)
            .ok_or_else(|| invalid("manifest_sha256", HEX64, wire.manifest_sha256.clone()))?;
        let mut assets = Vec::with_capacity(wire.assets.len());
        for (i, a) in wire.assets.into_iter().enumerate() {
            let sha256 = unhex(&a.sha256)
                .ok_or_else(|| invalid(&format!("assets.{i}.sha256"), HEX64, a.sha256.clone()))?;
            let blake3 = unhex(&a.blake3)
                .ok_or_else(|| invalid(&format!("assets.{i}.blake3"), HEX64, a.blake3.clone()))?;
            assets.push(AssetEntry {
                name: a.name,
                size: a.size,
                sha256,
                blake3,
            });
        }
        let record = IntegrityRecord {
            kid,
            issued_at,
            registry: wire.registry,
            subject: match wire.subject {
                WireSubject::Package { name } => Subject::Package { name },
                WireSubject::Release { id } => Subject::Release { id },
            },
            version: wire.version,
            manifest_sha256,
            assets,
        };
        record.validate()?;
        Ok(record)
    }

    /// Field checks shared by writing and reading.
    fn validate(&self) -> Result<()> {
        let registry_ok = (self.registry.starts_with("https://")
            || self.registry.starts_with("http://"))
            && self.registry.len() <= MAX_TEXT
            && !self
                .registry
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if !registry_ok {
            return Err(invalid(
                "registry",
                "an http(s) base URL without whitespace",
                self.registry.clone(),
            ));
        }
        match &self.subject {
            Subject::Package { name } => text("subject.name", name)?,
            Subject::Release { id } => text("subject.id", id)?,
        }
        text("version", &self.version)?;
        if self.assets.len() > MAX_ASSETS {
            return Err(IntegrityError::TooLarge {
                what: "asset list",
                limit: MAX_ASSETS,
                found: self.assets.len(),
            });
        }
        let mut seen = HashSet::with_capacity(self.assets.len());
        for (i, a) in self.assets.iter().enumerate() {
            text(&format!("assets.{i}.name"), &a.name)?;
            if a.size > MAX_SAFE_INTEGER {
                return Err(invalid(
                    &format!("assets.{i}.size"),
                    "at most 2^53-1",
                    a.size.to_string(),
                ));
            }
            if !seen.insert(a.name.as_str()) {
                return Err(IntegrityError::DuplicateAsset {
                    name: a.name.clone(),
                });
            }
        }
        Ok(())
    }
}

const HEX64: &str = "64 lowercase hex characters";

/// Non-empty, at most 1 KiB, no control characters.
fn text(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "1 to 1024 bytes without control characters",
            value.to_owned(),
        ));
    }
    Ok(())
}

fn invalid(field: &str, expected: &'static str, found: String) -> IntegrityError {
    IntegrityError::RecordFieldInvalid {
        field: field.to_owned(),
        expected,
        found: found.chars().take(80).collect(),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 lowercase hex characters to 32 bytes (upper case refused: one spelling only).
#[allow(
    clippy::indexing_slicing,
    reason = "chunks_exact(2) yields pairs of exactly two bytes"
)]
fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *slot = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "v": 1,
            "kid": "0123456789abcdef",
            "issued_at": "2026-11-22T03:00:00Z",
            "registry": "https://registry.example",
            "subject": {"kind": "release", "id": "rel-1"},
            "version": "v1.2.3",
            "manifest_sha256": "a".repeat(64),
            "assets": [{"name": "x.tar.gz", "size": 3, "sha256": "b".repeat(64), "blake3": "c".repeat(64)}],
        })
    }

    #[test]
    fn round_trip_through_json() {
        let record = IntegrityRecord::from_json_value(sample()).unwrap();
        assert_eq!(record.to_json_value().unwrap(), sample());
        let mut pkg = sample();
        pkg["subject"] = json!({"kind": "package", "name": "demo"});
        let record = IntegrityRecord::from_json_value(pkg.clone()).unwrap();
        assert_eq!(
            record.subject,
            Subject::Package {
                name: "demo".into()
            }
        );
        assert_eq!(record.to_json_value().unwrap(), pkg);
    }

    type Edit = Box<dyn Fn(&mut Value)>;

    #[test]
    fn refusals() {
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|v| v["v"] = json!(2)), "INTEGRITY_E023"),
            (Box::new(|v| v["v"] = json!("1")), "INTEGRITY_E023"),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("v");
                }),
                "INTEGRITY_E023",
            ),
            (Box::new(|v| v["extra"] = json!(true)), "INTEGRITY_E009"),
            (
                Box::new(|v| v["subject"]["extra"] = json!(1)),
                "INTEGRITY_E009",
            ),
            (
                Box::new(|v| v["assets"][0]["mode"] = json!(1)),
                "INTEGRITY_E009",
            ),
            (
                Box::new(|v| v["subject"] = json!({"kind": "image", "id": "x"})),
                "INTEGRITY_E009",
            ),
            (
                Box::new(|v| v["subject"] = json!({"kind": "release", "name": "x"})),
                "INTEGRITY_E009",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("version");
                }),
                "INTEGRITY_E009",
            ),
            (
                Box::new(|v| v["kid"] = json!("0123456789ABCDEF")),
                "INTEGRITY_E025",
            ),
            (
                Box::new(|v| v["issued_at"] = json!("2026-11-22T03:00:00+00:00")),
                "INTEGRITY_E025",
            ),
            (
                Box::new(|v| v["manifest_sha256"] = json!("A".repeat(64))),
                "INTEGRITY_E025",
            ),
            (
                Box::new(|v| v["assets"][0]["blake3"] = json!("c".repeat(63))),
                "INTEGRITY_E025",
            ),
            (
                Box::new(|v| v["registry"] = json!("ftp://x")),
                "INTEGRITY_E025",
            ),
            (Box::new(|v| v["version"] = json!("")), "INTEGRITY_E025"),
            (
                Box::new(|v| v["assets"][0]["name"] = json!("a\nb")),
                "INTEGRITY_E025",
            ),
            (
                Box::new(|v| v["assets"][0]["size"] = json!(MAX_SAFE_INTEGER + 1)),
                "INTEGRITY_E025",
            ),
            (
                Box::new(|v| {
                    let a = v["assets"][0].clone();
                    v["assets"] = json!([a.clone(), a]);
                }),
                "INTEGRITY_E026",
            ),
        ];
        for (i, (edit, code)) in cases.iter().enumerate() {
            let mut v = sample();
            edit(&mut v);
            let err = IntegrityRecord::from_json_value(v).unwrap_err();
            assert_eq!(err.code(), *code, "case {i}: {err}");
        }
    }
}
