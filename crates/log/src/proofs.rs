//! Inclusion and consistency proofs computed from the tiles in an object store, the one place the server reads proof tiles ([`crate::Prover`] caches them per checkpoint).

use bytes::Bytes;
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

/// Fetches the tiles `nodes` need (see [`read_tile`]).
async fn reader_for(
    objects: &dyn Objects,
    nodes: &[NodeId],
    size: u64,
    committed: u64,
) -> Result<TileHashReader, LogError> {
    let mut reader = TileHashReader::new(size);
    for t in tiles_for_nodes(nodes, size)? {
        let bytes = read_tile(objects, t, committed).await?;
        reader.insert(&t, &bytes)?;
    }
    // Touch the reader once so a short tile is reported here, not deep in the proof.
    reader.read_hashes(&[])?;
    Ok(reader)
}

/// Reads tile `t` of a log whose committed size is `committed`: the tile itself, or a
/// wider one holding it as a prefix (tiles only grow by appending). A tree size that
/// was never a checkpoint has no partial tiles of its own width, so the full tile or
/// the committed tree's partial one is read instead; the caller cuts it to `t.width`.
pub(crate) async fn read_tile(
    objects: &dyn Objects,
    t: TileId,
    committed: u64,
) -> Result<Bytes, LogError> {
    let mut candidates = vec![t];
    if t.width < TILE_WIDTH {
        candidates.push(t.full());
        let first = t.index * u64::from(TILE_WIDTH);
        if let Some(c) = TileId::for_hash(t.level, first, committed) {
            if !candidates.contains(&c) {
                candidates.push(c);
            }
        }
    }
    for c in &candidates {
        if let Some(b) = objects.get(&key(c.path())?).await? {
            return Ok(b);
        }
    }
    Err(LogError::Missing { key: t.path() })
}
