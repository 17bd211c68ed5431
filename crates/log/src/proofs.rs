//! Inclusion and consistency proofs computed from the tiles in an object store.

use vouch_store::Objects;
use vouch_tlog::{
    consistency_proof_nodes, inclusion_proof_nodes, tiles_for_nodes, Hash, HashReader, NodeId,
    TileHashReader, TileId, TILE_WIDTH,
};

use crate::state::key;
use crate::LogError;

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3),
/// read from the tiles of a log whose committed size is `committed`.
pub async fn inclusion_proof(
    objects: &dyn Objects,
    index: u64,
    size: u64,
    committed: u64,
) -> Result<Vec<Hash>, LogError> {
    check(size, committed)?;
    if index >= size {
        return Err(LogError::OutOfRange {
            what: "leaf index",
            value: index,
            size,
        });
    }
    let nodes = inclusion_proof_nodes(index, size)?;
    let reader = reader_for(objects, &nodes, size, committed).await?;
    Ok(vouch_tlog::inclusion_proof(index, size, &reader)?)
}

/// The consistency proof between the trees of `old` and `new` leaves (RFC 9162 §2.1.4).
pub async fn consistency_proof(
    objects: &dyn Objects,
    old: u64,
    new: u64,
    committed: u64,
) -> Result<Vec<Hash>, LogError> {
    check(new, committed)?;
    if old > new {
        return Err(LogError::OutOfRange {
            what: "old tree size",
            value: old,
            size: new,
        });
    }
    let nodes = consistency_proof_nodes(old, new)?;
    let reader = reader_for(objects, &nodes, new, committed).await?;
    Ok(vouch_tlog::consistency_proof(old, new, &reader)?)
}

fn check(size: u64, committed: u64) -> Result<(), LogError> {
    if size > committed {
        return Err(LogError::OutOfRange {
            what: "tree size",
            value: size,
            size: committed,
        });
    }
    Ok(())
}

/// Fetches the tiles `nodes` need. A tree size that was never a checkpoint has no
/// partial tiles of its own width, so a wider version is read instead: the full tile,
/// or the partial tile of the committed tree (tiles only grow by appending).
async fn reader_for(
    objects: &dyn Objects,
    nodes: &[NodeId],
    size: u64,
    committed: u64,
) -> Result<TileHashReader, LogError> {
    let mut reader = TileHashReader::new(size);
    for t in tiles_for_nodes(nodes, size)? {
        let mut candidates = vec![t];
        if t.width < TILE_WIDTH {
            candidates.push(t.full());
            let first = t.index * u64::from(TILE_WIDTH);
            if let Some(c) = TileId::for_hash(t.level, first, committed) {
                candidates.push(c);
            }
        }
        let mut found = None;
        for c in &candidates {
            if let Some(b) = objects.get(&key(c.path())?).await? {
                found = Some(b);
                break;
            }
        }
        let bytes = found.ok_or(LogError::Missing { key: t.path() })?;
        reader.insert(&t, &bytes)?;
    }
    // Touch the reader once so a short tile is reported here, not deep in the proof.
    reader.read_hashes(&[])?;
    Ok(reader)
}
