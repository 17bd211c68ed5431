//! Published releases are immutable: compares what a forge lists (or what a re-download
//! hashed to) against the asset rows already stored, so the registry can refuse and
//! audit a change instead of overwriting anything.

use crate::hash::{Digests, HashOutcome};
use crate::release::{AssetRef, Release};

/// What the registry stored for one asset of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAsset {
    /// The asset name (unique within the release).
    pub name: String,
    /// The stored size.
    pub size: u64,
    /// The stored SHA-256, if the asset was hashed (not for over-budget assets).
    pub sha256: Option<[u8; 32]>,
}

/// The facts compared for one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFacts {
    /// Size, if known.
    pub size: Option<u64>,
    /// SHA-256, if known.
    pub sha256: Option<[u8; 32]>,
}

impl std::fmt::Display for AssetFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.size {
            Some(s) => write!(f, "{s} bytes")?,
            None => f.write_str("unknown size")?,
        }
        if let Some(d) = self.sha256 {
            write!(f, ", sha256:{}", hex::encode(d))?;
        }
        Ok(())
    }
}

/// How one asset compares with what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Same name, and every fact known on both sides agrees.
    Unchanged { name: String },
    /// Listed upstream, not stored yet: may be added (assets are keyed on (release, name)).
    NewAsset { name: String },
    /// Stored and listed, but a known fact differs: refuse and audit, never overwrite.
    Changed {
        name: String,
        old: AssetFacts,
        new: AssetFacts,
    },
    /// Stored but no longer listed upstream: keep the stored asset, audit the removal.
    Removed { name: String },
}

impl Change {
    /// Whether this change must be refused (and audited).
    pub fn is_violation(&self) -> bool {
        matches!(self, Change::Changed { .. } | Change::Removed { .. })
    }
}

fn compare(stored: &StoredAsset, new: AssetFacts) -> Change {
    let old = AssetFacts {
        size: Some(stored.size),
        sha256: stored.sha256,
    };
    if differs(old.size, new.size) || differs(old.sha256, new.sha256) {
        Change::Changed {
            name: stored.name.clone(),
            old,
            new,
        }
    } else {
        Change::Unchanged {
            name: stored.name.clone(),
        }
    }
}

/// Both sides know the fact and disagree on it.
fn differs<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
    matches!((a, b), (Some(x), Some(y)) if x != y)
}

fn listed_facts(asset: &AssetRef) -> AssetFacts {
    AssetFacts {
        size: asset.size_claimed,
        sha256: asset.sha256_claimed,
    }
}

/// Compares a re-listed release with the stored rows: one [`Change`] per asset name on
/// either side, in stored order then new names in listed order. This sees changes the
/// listing reveals (size, a listed digest); [`compare_hashed`] sees the rest.
pub fn diff_listing(stored: &[StoredAsset], relisted: &Release) -> Vec<Change> {
    let mut changes: Vec<Change> = stored
        .iter()
        .map(
            |s| match relisted.assets.iter().find(|a| a.name == s.name) {
                Some(a) => compare(s, listed_facts(a)),
                None => Change::Removed {
                    name: s.name.clone(),
                },
            },
        )
        .collect();
    changes.extend(
        relisted
            .assets
            .iter()
            .filter(|a| !stored.iter().any(|s| s.name == a.name))
            .map(|a| Change::NewAsset {
                name: a.name.clone(),
            }),
    );
    changes
}

/// Compares what one ingest hashed with the stored rows: one [`Change`] per asset name
/// on either side, the hashed assets in their order, then the stored ones no longer
/// listed, in stored order. A hashed asset without a stored row is
/// [`Change::NewAsset`]; one with a row is compared by [`compare_hashed`]. This is the
/// registry's rule for a re-ingested release.
pub fn diff_hashed(stored: &[StoredAsset], hashed: &[(&AssetRef, HashOutcome)]) -> Vec<Change> {
    let mut changes: Vec<Change> = hashed
        .iter()
        .map(
            |(asset, outcome)| match stored.iter().find(|s| s.name == asset.name) {
                Some(s) => compare_hashed(s, outcome),
                None => Change::NewAsset {
                    name: asset.name.clone(),
                },
            },
        )
        .collect();
    changes.extend(
        stored
            .iter()
            .filter(|s| !hashed.iter().any(|(a, _)| a.name == s.name))
            .map(|s| Change::Removed {
                name: s.name.clone(),
            }),
    );
    changes
}

/// Compares a fresh hash of an asset with its stored row (a backfill or re-check).
/// A skipped outcome only compares the size.
pub fn compare_hashed(stored: &StoredAsset, outcome: &HashOutcome) -> Change {
    let new = match outcome {
        HashOutcome::Hashed(Digests { size, sha256, .. }) => AssetFacts {
            size: Some(*size),
            sha256: Some(*sha256),
        },
        HashOutcome::Skipped { size, .. } => AssetFacts {
            size: Some(*size),
            sha256: None,
        },
    };
    compare(stored, new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn asset(name: &str, size: u64, sha: Option<[u8; 32]>) -> AssetRef {
        AssetRef {
            name: name.into(),
            size_claimed: Some(size),
            download_url: Url::parse("https://h/x").unwrap(),
            sha256_claimed: sha,
        }
    }

    #[test]
    fn listing_diff() {
        let stored = vec![
            StoredAsset {
                name: "a".into(),
                size: 3,
                sha256: Some([1; 32]),
            },
            StoredAsset {
                name: "b".into(),
                size: 4,
                sha256: Some([2; 32]),
            },
            StoredAsset {
                name: "gone".into(),
                size: 1,
                sha256: None,
            },
        ];
        let release = Release {
            forge_id: "1".into(),
            tag: "v1".into(),
            name: None,
            published_at: None,
            prerelease: false,
            assets: vec![
                asset("a", 3, None),
                asset("b", 4, Some([9; 32])),
                asset("c", 5, None),
            ],
        };
        let changes = diff_listing(&stored, &release);
        assert_eq!(changes[0], Change::Unchanged { name: "a".into() });
        assert!(matches!(&changes[1], Change::Changed { name, .. } if name == "b"));
        assert!(changes[1].is_violation());
        assert_eq!(
            changes[2],
            Change::Removed {
                name: "gone".into()
            }
        );
        assert_eq!(changes[3], Change::NewAsset { name: "c".into() });
        let rehash = HashOutcome::Hashed(Digests {
            size: 3,
            sha256: [7; 32],
            blake3: [0; 32],
        });
        assert!(compare_hashed(&stored[0], &rehash).is_violation());
        let same = HashOutcome::Hashed(Digests {
            size: 3,
            sha256: [1; 32],
            blake3: [0; 32],
        });
        assert!(!compare_hashed(&stored[0], &same).is_violation());

        // What one ingest hashed against the same rows: listed order, then removals.
        let listed = [
            asset("b", 4, None),
            asset("a", 3, None),
            asset("c", 5, None),
        ];
        let hashed = vec![
            (&listed[0], rehash),
            (&listed[1], same),
            (
                &listed[2],
                HashOutcome::Hashed(Digests {
                    size: 5,
                    sha256: [3; 32],
                    blake3: [0; 32],
                }),
            ),
        ];
        let changes = diff_hashed(&stored, &hashed);
        assert!(matches!(&changes[0], Change::Changed { name, .. } if name == "b"));
        assert_eq!(changes[1], Change::Unchanged { name: "a".into() });
        assert_eq!(changes[2], Change::NewAsset { name: "c".into() });
        assert_eq!(
            changes[3],
            Change::Removed {
                name: "gone".into()
            }
        );
        assert_eq!(changes.len(), 4);
    }
}
