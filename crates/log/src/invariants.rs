//! A whole-log invariant check, for tests after every step and for operators after an incident.
//!
//! It re-derives everything from the entry bundles and compares with what is stored:
//! the committed checkpoint verifies, every tile the tree implies exists and holds the
//! recomputed hashes, the published checkpoint is the committed one or an older
//! consistent one, and every checkpoint the caller saw earlier is consistent with the
//! committed one. Cost is linear in the log: meant for test-sized logs.

use bytes::Bytes;
use vouch_store::{CheckpointLock, Objects};
use vouch_tlog::{
    bundle::decode_entry_bundle_exact, open_checkpoint, verify_consistency, BundleId, Hash,
    Verifier, TILE_WIDTH,
};

use crate::state::{key, read, TreeState};
use crate::{proofs, LogError, CHECKPOINT_KEY};

/// What the check found, when everything held.
#[derive(Debug, Clone)]
pub struct LogReport {
    /// Committed tree size (lock row).
    pub size: u64,
    pub root: Hash,
    /// Every entry, by index.
    pub entries: Vec<Bytes>,
    /// Whether the `checkpoint` object equals the lock row (false only inside the
    /// window between commit points 2 and 3, or after a crash there before restart).
    pub published_current: bool,
}

/// Checks the whole log named `origin`; `seen` are signed checkpoints observed earlier
/// (served, acknowledged), each of which must be consistent with the committed tree.
pub async fn check_log(
    objects: &dyn Objects,
    lock: &dyn CheckpointLock,
    origin: &str,
    verifier: &Verifier,
    seen: &[Bytes],
) -> Result<LogReport, LogError> {
    let keys = std::slice::from_ref(verifier);
    let note = lock.load(origin).await?.ok_or(LogError::NotInitialized {
        origin: origin.into(),
    })?;
    let cp = open_checkpoint(&note, origin, keys)?.checkpoint;

    // Every entry, from the bundles the tree implies.
    let width = u64::from(TILE_WIDTH);
    let mut entries = Vec::with_capacity(cp.size as usize);
    let mut index = 0;
    while index * width < cp.size {
        let w = (cp.size - index * width).min(width) as u16;
        let id = BundleId { index, width: w };
        let bytes = read(objects, id.path()).await?;
        for e in decode_entry_bundle_exact(&bytes, w)? {
            entries.push(Bytes::copy_from_slice(e));
        }
        index += 1;
    }

    // Recompute every tile and bundle from scratch and compare with storage.
    let rebuilt = TreeState::default().integrate(&entries)?;
    if rebuilt.root != cp.root {
        return Err(LogError::Inconsistent {
            what: "root recomputed from entries",
            expected: cp.root.to_string(),
            found: rebuilt.root.to_string(),
        });
    }
    for (k, want) in &rebuilt.objects {
        let got = objects
            .get(k)
            .await?
            .ok_or(LogError::Missing { key: k.to_string() })?;
        if got != want {
            return Err(LogError::Inconsistent {
                what: "stored tile",
                expected: format!("{k}: {} bytes as recomputed", want.len()),
                found: format!("{} bytes differing", got.len()),
            });
        }
    }

    // The published checkpoint: ours, and at most the committed one.
    let published = objects.get(&key(CHECKPOINT_KEY.into())?).await?;
    let published_current = published.as_deref() == Some(&note[..]);
    let mut all_seen: Vec<Bytes> = seen.to_vec();
    if let Some(p) = published {
        all_seen.push(p);
    }
    for s in &all_seen {
        let old = open_checkpoint(s, origin, keys)?.checkpoint;
        if old.size > cp.size {
            return Err(LogError::Inconsistent {
                what: "a seen checkpoint is ahead of the committed one",
                expected: format!("size <= {}", cp.size),
                found: old.size.to_string(),
            });
        }
        if old.size == 0 {
            // Every tree extends the empty one; there is nothing to prove.
            continue;
        }
        let proof = proofs::consistency_proof(objects, old.size, cp.size, cp.size).await?;
        verify_consistency(old.size, cp.size, &proof, &old.root, &cp.root)?;
    }
    Ok(LogReport {
        size: cp.size,
        root: cp.root,
        entries,
        published_current,
    })
}

/// Checks that the tiles in `objects` cover a tree of `size` leaves with root `root`:
/// every tile its right edge needs is present and they hash to `root`. This is what a
/// server needs to reopen the log at that checkpoint (backups check it before they
/// claim to be complete, restores before they write anything). Cost: a handful of
/// tile reads.
pub async fn check_coverage(objects: &dyn Objects, size: u64, root: Hash) -> Result<(), LogError> {
    TreeState::load(objects, size, root).await.map(|_| ())
}
