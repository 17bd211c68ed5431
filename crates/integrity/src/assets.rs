//! Hashing downloaded assets (SHA-256 and BLAKE3 in one pass) and comparing them with a
//! verified integrity record, asset by asset.

use crate::error::{IntegrityError, Result};
use crate::record::{hex, AssetEntry, IntegrityRecord};

/// Streams bytes through SHA-256 and BLAKE3 at once, counting the size
/// (`vouch_digest::Hasher`, named for the record entry it finishes into).
#[derive(Clone, Default)]
pub struct AssetHasher(vouch_digest::Hasher);

impl AssetHasher {
    /// A hasher with nothing fed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    /// The entry for everything fed, under `name`.
    pub fn finish(self, name: &str) -> AssetEntry {
        let d = self.0.finalize();
        AssetEntry {
            name: name.to_owned(),
            size: d.size,
            sha256: d.sha256,
            blake3: d.blake3,
        }
    }
}

/// What [`check_assets`] found when every supplied asset that the record lists matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetReport {
    /// Supplied assets whose size, SHA-256 and BLAKE3 all match the record.
    pub verified: Vec<String>,
    /// Supplied assets the record does not list (for example, ones over the registry's
    /// hash budget): nothing is vouched for them.
    pub not_in_record: Vec<String>,
    /// Assets the record lists that were not supplied.
    pub not_supplied: Vec<String>,
}

impl AssetReport {
    /// True when every asset in the record was supplied and verified, and nothing
    /// unlisted was supplied.
    pub fn is_complete(&self) -> bool {
        self.not_in_record.is_empty() && self.not_supplied.is_empty()
    }
}

/// Compares downloaded files (name, bytes) with `record`, which must already have come
/// out of [`crate::verify_record`]. Any listed asset whose size or digest differs is an
/// error ([`IntegrityError::AssetSize`], [`IntegrityError::AssetDigest`]); unlisted or
/// missing assets are reported, not refused, so the caller decides how strict to be.
pub fn check_assets(record: &IntegrityRecord, files: &[(&str, &[u8])]) -> Result<AssetReport> {
    let entries: Vec<AssetEntry> = files
        .iter()
        .map(|(name, bytes)| AssetEntry::of_bytes(name, bytes))
        .collect();
    check_asset_entries(record, &entries)
}

/// [`check_assets`] for assets already hashed (for example with [`AssetHasher`] while
/// streaming to disk).
pub fn check_asset_entries(record: &IntegrityRecord, found: &[AssetEntry]) -> Result<AssetReport> {
    let mut report = AssetReport::default();
    for got in found {
        let Some(want) = record.assets.iter().find(|a| a.name == got.name) else {
            report.not_in_record.push(got.name.clone());
            continue;
        };
        if want.size != got.size {
            return Err(IntegrityError::AssetSize {
                name: got.name.clone(),
                expected: want.size,
                found: got.size,
            });
        }
        for (algorithm, expected, actual) in [
            ("sha256", &want.sha256, &got.sha256),
            ("blake3", &want.blake3, &got.blake3),
        ] {
            if expected != actual {
                return Err(IntegrityError::AssetDigest {
                    name: got.name.clone(),
                    algorithm,
                    expected: hex(expected),
                    found: hex(actual),
                });
            }
        }
        report.verified.push(got.name.clone());
    }
    report.not_supplied = record
        .assets
        .iter()
        .filter(|a| !found.iter().any(|f| f.name == a.name))
        .map(|a| a.name.clone())
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_equals_one_shot_and_known_digests() {
        let mut h = AssetHasher::new();
        h.update(b"ab");
        h.update(b"c");
        let e = h.finish("abc");
        assert_eq!(e, AssetEntry::of_bytes("abc", b"abc"));
        assert_eq!(e.size, 3);
        assert_eq!(
            hex(&e.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&e.blake3),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }
}
