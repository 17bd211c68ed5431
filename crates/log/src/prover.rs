//! Inclusion proofs for freshly added entries, sharing tile reads among all requests answered from the same checkpoint (the registry's Rekor v2 route answers each entry with one).
//!
//! A batch of N entries is acknowledged at once, and their N proofs against the new
//! checkpoint need the same few tiles (the batch's level-0 tiles and the right edge
//! above them). [`Prover`] keeps one [`CheckpointTiles`] for the newest checkpoint
//! size; each tile is fetched from the object store once (a `OnceCell` per tile, so a
//! burst of waiters does not read it N times) and its inner levels are hashed once
//! ([`TileLevels`]: a tile of 256 hashes stores the 255 nodes above them), so a proof
//! is ~log2(N) lookups instead of re-hashing up to 255 nodes per tile per request,
//! which profiling showed as the largest cost after ECDSA. The proof itself is
//! computed by `vouch_tlog` through [`HashReader`]. A request holding an older
//! checkpoint keeps its own `Arc`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use vouch_store::Objects;
use vouch_tlog::tile::TILE_HEIGHT;
use vouch_tlog::{
    inclusion_proof_nodes, node_hash, tiles_for_nodes, Hash, HashReader, NodeId, TileId, HASH_SIZE,
    TILE_WIDTH,
};

use crate::proofs::read_tile;
use crate::{LogError, Published};

/// The tiles read so far for one checkpoint size.
#[derive(Debug)]
struct CheckpointTiles {
    size: u64,
    /// Guards only the map; fetches run outside it, once per tile through the cell.
    tiles: Mutex<HashMap<TileId, Arc<OnceCell<Arc<TileLevels>>>>>,
}

/// One tile's hashes and every complete node above them inside the tile:
/// `levels[k]` holds the nodes of tree level `8 * tile_level + k`.
#[derive(Debug)]
struct TileLevels {
    levels: Vec<Vec<Hash>>,
}

impl TileLevels {
    #[allow(clippy::indexing_slicing, reason = "chunks_exact(2) yields pairs")]
    fn build(id: &TileId, bytes: &[u8]) -> Result<Self, LogError> {
        let want = usize::from(id.width) * HASH_SIZE;
        // A wider tile (the full one standing in for a partial) is truncated.
        let Some(bytes) = bytes.get(..want) else {
            return Err(vouch_tlog::Error::TileLength {
                tile: *id,
                expected: want,
                found: bytes.len(),
            }
            .into());
        };
        let base = bytes
            .chunks_exact(HASH_SIZE)
            .map(Hash::from_slice)
            .collect::<Result<Vec<_>, _>>()?;
        let mut levels = vec![base];
        for _ in 1..TILE_HEIGHT {
            let Some(below) = levels.last() else { break };
            if below.len() < 2 {
                break;
            }
            let up: Vec<Hash> = below
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(up);
        }
        Ok(TileLevels { levels })
    }
}

/// A [`HashReader`] over the [`TileLevels`] one proof needs, keyed by (tile level, index).
struct LevelsReader(HashMap<(u8, u64), Arc<TileLevels>>);

impl HashReader for LevelsReader {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, vouch_tlog::Error> {
        nodes
            .iter()
            .map(|n| {
                let tile_level = n.level / TILE_HEIGHT;
                let sub = n.level % TILE_HEIGHT;
                let per_tile = u64::from(TILE_WIDTH) >> sub;
                let missing = vouch_tlog::Error::TileMissing {
                    level: tile_level,
                    index: n.index / per_tile,
                };
                let tile = self
                    .0
                    .get(&(tile_level, n.index / per_tile))
                    .ok_or(missing)?;
                let i = usize::try_from(n.index % per_tile).unwrap_or(usize::MAX);
                tile.levels
                    .get(usize::from(sub))
                    .and_then(|l| l.get(i))
                    .copied()
                    .ok_or(vouch_tlog::Error::TileMissing {
                        level: tile_level,
                        index: n.index / per_tile,
                    })
            })
            .collect()
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Prover {
    /// The newest checkpoint's tiles; replaced when a larger size is asked for.
    current: Mutex<Option<Arc<CheckpointTiles>>>,
}

impl Prover {
    fn tiles_for(&self, size: u64) -> Arc<CheckpointTiles> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match cur.as_ref() {
            Some(c) if c.size == size => Arc::clone(c),
            Some(c) if c.size > size => Arc::new(CheckpointTiles {
                size,
                tiles: Mutex::new(HashMap::new()),
            }),
            _ => {
                let fresh = Arc::new(CheckpointTiles {
                    size,
                    tiles: Mutex::new(HashMap::new()),
                });
                *cur = Some(Arc::clone(&fresh));
                fresh
            }
        }
    }

    /// The inclusion proof of `index` in the tree of `checkpoint`, whose tiles are in
    /// `objects` (the log's store; the checkpoint is committed, so they are durable).
    pub async fn inclusion(
        &self,
        objects: &dyn Objects,
        index: u64,
        checkpoint: &Published,
    ) -> Result<Vec<Hash>, LogError> {
        let size = checkpoint.size;
        let nodes = inclusion_proof_nodes(index, size)?;
        let wanted = tiles_for_nodes(&nodes, size)?;
        let cp = self.tiles_for(size);
        let mut reader = LevelsReader(HashMap::with_capacity(wanted.len()));
        for t in wanted {
            let cell = {
                let mut map = cp.tiles.lock().unwrap_or_else(|p| p.into_inner());
                Arc::clone(map.entry(t).or_default())
            };
            let levels = cell
                .get_or_try_init(|| async {
                    let bytes = read_tile(objects, t, size).await?;
                    TileLevels::build(&t, &bytes).map(Arc::new)
                })
                .await?;
            reader.0.insert((t.level, t.index), Arc::clone(levels));
        }
        Ok(vouch_tlog::inclusion_proof(index, size, &reader)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_tlog::{leaf_hash, MemoryTree, TileHashReader};

    /// The precomputed levels give the same proofs as the reference `TileHashReader`,
    /// across tile levels, partial tiles and odd widths.
    #[test]
    fn levels_reader_matches_tile_hash_reader() {
        let mut tree = MemoryTree::new();
        let sizes = [1u64, 2, 3, 255, 256, 257, 511, 1000, 65_536, 70_001];
        let mut n = 0u64;
        for &size in &sizes {
            while n < size {
                tree.push(leaf_hash(&n.to_be_bytes()));
                n += 1;
            }
            for index in [0, size / 3, size / 2, size - 1] {
                let nodes = inclusion_proof_nodes(index, size).unwrap();
                let mut reference = TileHashReader::new(size);
                let mut ours = LevelsReader(HashMap::new());
                for t in tiles_for_nodes(&nodes, size).unwrap() {
                    let bytes = tree.tile(&t).unwrap();
                    reference.insert(&t, &bytes).unwrap();
                    let levels = TileLevels::build(&t, &bytes).unwrap();
                    ours.0.insert((t.level, t.index), Arc::new(levels));
                }
                assert_eq!(
                    vouch_tlog::inclusion_proof(index, size, &ours).unwrap(),
                    vouch_tlog::inclusion_proof(index, size, &reference).unwrap(),
                    "index {index} of {size}"
                );
            }
        }
    }

    #[test]
    fn short_tile_is_an_error_not_a_panic() {
        let t = TileId {
            level: 0,
            index: 0,
            width: 4,
        };
        assert!(TileLevels::build(&t, &[0u8; 3 * HASH_SIZE]).is_err());
    }
}
