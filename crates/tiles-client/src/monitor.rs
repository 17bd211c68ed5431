//! [`MonitorState`]: the latest checkpoint a monitor has verified for a log, the checks
//! that decide whether a new checkpoint may replace it, and atomic persistence.
//!
//! Checking each new checkpoint against the previous one is enough to check every pair
//! the monitor has seen: consistency proofs compose (if A is a prefix of B and B of C,
//! A is a prefix of C), and a rollback or fork against any earlier checkpoint shows up
//! as one against the latest.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vouch_tlog::{verify_consistency, Hash, SignedCheckpoint, VerifiedNote, Verifier};

use crate::{Error, TileClient};

/// What a monitor persists about one log. The JSON field names are stable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    /// The log's origin line.
    pub origin: String,
    /// Tree size of the latest verified checkpoint.
    pub size: u64,
    /// Root hash (hex) of the latest verified checkpoint.
    pub root: String,
    /// The latest verified checkpoint note, verbatim (evidence if the log later forks).
    pub checkpoint: String,
}

/// How a new checkpoint relates to the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// No earlier state: trusted on first use.
    First { size: u64 },
    /// Same size and root as before.
    Unchanged { size: u64 },
    /// Grew from `old` to `new`, with a verified consistency proof.
    Grew { old: u64, new: u64 },
}

impl Observation {
    /// As `vouch log monitor --json` lists it among its events.
    pub fn to_json(&self) -> serde_json::Value {
        match *self {
            Observation::First { size } => serde_json::json!({"event": "first", "size": size}),
            Observation::Unchanged { size } => {
                serde_json::json!({"event": "unchanged", "size": size})
            }
            Observation::Grew { old, new } => {
                serde_json::json!({"event": "grew", "old_size": old, "size": new})
            }
        }
    }
}

/// The line `vouch log monitor` prints for the observation (before the root).
impl std::fmt::Display for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Observation::First { size } => write!(f, "first checkpoint: size {size}"),
            Observation::Unchanged { size } => write!(f, "unchanged: size {size}"),
            Observation::Grew { old, new } => write!(f, "consistent: grew from {old} to {new}"),
        }
    }
}

impl MonitorState {
    /// The state for a verified checkpoint.
    pub fn from_checkpoint(cp: &SignedCheckpoint) -> Self {
        Self {
            origin: cp.checkpoint.origin.clone(),
            size: cp.checkpoint.size,
            root: cp.checkpoint.root.to_hex(),
            checkpoint: cp.to_note_string(),
        }
    }

    /// The root as a hash.
    pub fn root_hash(&self) -> Result<Hash, Error> {
        Ok(Hash::from_hex(&self.root)?)
    }

    /// Decides whether `new` may follow `self`: a smaller size is a rollback, the same
    /// size with another root a fork, a larger size needs `proof` to verify (RFC 9162,
    /// Section 2.1.4.2).
    pub fn check_next(&self, new: &SignedCheckpoint, proof: &[Hash]) -> Result<Observation, Error> {
        let (old, old_root) = (self.size, self.root_hash()?);
        let (size, root) = (new.checkpoint.size, new.checkpoint.root);
        if size < old {
            return Err(Error::Rollback {
                seen: old,
                found: size,
            });
        }
        if size == old {
            if root != old_root {
                return Err(Error::Fork {
                    size,
                    seen: old_root,
                    found: root,
                });
            }
            return Ok(Observation::Unchanged { size });
        }
        if old > 0 {
            verify_consistency(old, size, proof, &old_root, &root).map_err(|source| {
                Error::Inconsistent {
                    old,
                    new: size,
                    source,
                }
            })?;
        }
        Ok(Observation::Grew { old, new: size })
    }

    /// Loads the state, `Ok(None)` if the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::State {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let s: Self = serde_json::from_slice(&bytes).map_err(|e| Error::StateFormat {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        s.root_hash().map_err(|e| Error::StateFormat {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some(s))
    }

    /// Persists the state atomically: write a temporary file beside it, fsync, rename
    /// over the old file, fsync the directory. A crash leaves either the old or the new
    /// state, never a torn file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let err = |source| Error::State {
            path: path.display().to_string(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::StateFormat {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&json).map_err(err)?;
        f.write_all(b"\n").map_err(err)?;
        f.sync_all().map_err(err)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(err)?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
        Ok(())
    }
}

/// The result of one monitoring step.
#[derive(Clone, Debug)]
pub struct Step {
    /// The newly verified checkpoint.
    pub checkpoint: SignedCheckpoint,
    /// How it relates to the previous state.
    pub observation: Observation,
    /// Witness cosignatures that verified on it.
    pub cosignatures: usize,
    /// The state to persist.
    pub state: MonitorState,
}

/// One monitoring step: fetch and verify the checkpoint (log keys, origin, witness
/// quorum), then check it against `prev` with a consistency proof computed from tiles.
pub async fn poll(
    client: &TileClient,
    origin: &str,
    log_keys: &[Verifier],
    witnesses: &[Verifier],
    quorum: usize,
    prev: Option<&MonitorState>,
) -> Result<Step, Error> {
    let cp = client.checkpoint(origin, log_keys).await?;
    let cosignatures = check_witnesses(&cp.note, witnesses, quorum)?;
    let observation = match prev {
        None => Observation::First {
            size: cp.checkpoint.size,
        },
        Some(p) => {
            if p.origin != origin {
                return Err(Error::StateFormat {
                    path: String::from("(state)"),
                    reason: format!("state is for origin {:?}, not {origin:?}", p.origin),
                });
            }
            let proof = if cp.checkpoint.size > p.size && p.size > 0 {
                client.consistency_proof(p.size, cp.checkpoint.size).await?
            } else {
                Vec::new()
            };
            p.check_next(&cp, &proof)?
        }
    };
    Ok(Step {
        state: MonitorState::from_checkpoint(&cp),
        checkpoint: cp,
        observation,
        cosignatures,
    })
}

/// Counts the cosignatures from `witnesses` on the note, failing below `quorum`.
pub fn check_witnesses(
    note: &VerifiedNote,
    witnesses: &[Verifier],
    quorum: usize,
) -> Result<usize, Error> {
    Ok(vouch_tlog::check_quorum(&note.note, witnesses, quorum)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_tlog::{leaf_hash, sign_note, Checkpoint, KeyType, MemoryTree, Signer};

    fn signed(t: &MemoryTree, root: Option<Hash>) -> SignedCheckpoint {
        let key = Signer::from_seed("o.example", KeyType::Ed25519, &[1; 32]).unwrap();
        let text = Checkpoint::new("o.example", t.size(), root.unwrap_or(t.root())).to_text();
        let note = sign_note(&text, &[&key]).unwrap();
        vouch_tlog::open_checkpoint(note.as_bytes(), "o.example", &[key.verifier()]).unwrap()
    }

    #[test]
    fn check_next_detects_rollback_fork_and_inconsistency() {
        let mut t = MemoryTree::new();
        for i in 0..5u8 {
            t.push(leaf_hash(&[i]));
        }
        let s5 = MonitorState::from_checkpoint(&signed(&t, None));
        let t5 = t.clone();
        for i in 5..9u8 {
            t.push(leaf_hash(&[i]));
        }
        let c9 = signed(&t, None);
        let p = vouch_tlog::consistency_proof(5, 9, &t).unwrap();
        assert_eq!(
            s5.check_next(&c9, &p).unwrap(),
            Observation::Grew { old: 5, new: 9 }
        );
        assert!(matches!(
            s5.check_next(&c9, &[]),
            Err(Error::Inconsistent { .. })
        ));
        let s9 = MonitorState::from_checkpoint(&c9);
        assert!(matches!(
            s9.check_next(&signed(&t5, None), &[]),
            Err(Error::Rollback { seen: 9, found: 5 })
        ));
        assert!(matches!(
            s5.check_next(&signed(&t5, Some(leaf_hash(b"x"))), &[]),
            Err(Error::Fork { size: 5, .. })
        ));
        assert_eq!(
            s9.check_next(&c9, &[]).unwrap(),
            Observation::Unchanged { size: 9 }
        );
    }

    #[test]
    fn state_saves_atomically_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(MonitorState::load(&path).unwrap(), None);
        let mut t = MemoryTree::new();
        t.push(leaf_hash(b"a"));
        let s = MonitorState::from_checkpoint(&signed(&t, None));
        s.save(&path).unwrap();
        assert_eq!(MonitorState::load(&path).unwrap(), Some(s));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            MonitorState::load(&path),
            Err(Error::StateFormat { .. })
        ));
    }
}
