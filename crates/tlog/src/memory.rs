//! [`MemoryTree`]: a whole tree held in memory as its tile-level hashes. For tests,
//! tools and small static logs; the production log keeps tiles in the store instead.

use crate::hash::{Hash, HASH_SIZE};
use crate::tile::{hashes_at_level, TileHashReader, TileId, TILE_HEIGHT, TILE_WIDTH};
use crate::tree::{NodeId, RightEdge};
use crate::{Error, HashReader};

/// Every hash at tree levels 0, 8, 16, ... of a tree built by appending leaves.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    edge: RightEdge,
    /// `levels[l]` holds the tree-level `8 * l` hashes, left to right.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash.
    #[allow(
        clippy::indexing_slicing,
        reason = "levels is resized to hold index l just above"
    )]
    pub fn push(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        self.edge.append(leaf, &mut |level, index, h| {
            if level % TILE_HEIGHT == 0 {
                let l = usize::from(level / TILE_HEIGHT);
                if levels.len() <= l {
                    levels.resize_with(l + 1, Vec::new);
                }
                debug_assert_eq!(levels[l].len() as u64, index);
                levels[l].push(h);
            }
        });
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.edge.root()
    }

    /// The right edge (for handing to an appender).
    pub fn edge(&self) -> &RightEdge {
        &self.edge
    }

    /// The bytes of a tile at the current size, if it exists with exactly that width
    /// or is a prefix of existing hashes (older partial tiles stay readable).
    pub fn tile(&self, id: &TileId) -> Option<Vec<u8>> {
        let hashes = self.levels.get(usize::from(id.level))?;
        let start = usize::try_from(id.index)
            .ok()?
            .checked_mul(usize::from(TILE_WIDTH))?;
        let end = start.checked_add(usize::from(id.width))?;
        let slice = hashes.get(start..end)?;
        let mut out = Vec::with_capacity(slice.len() * HASH_SIZE);
        for h in slice {
            out.extend_from_slice(&h.0);
        }
        Some(out)
    }

    /// Number of hashes at tile level `level`.
    pub fn level_len(&self, level: u8) -> u64 {
        hashes_at_level(level, self.size())
    }
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Error> {
        let size = self.size();
        let mut read = |t: &TileId| -> Result<Vec<u8>, Error> {
            self.tile(t).ok_or(Error::TileMissing {
                level: t.level,
                index: t.index,
            })
        };
        TileHashReader::fetch(size, nodes, &mut read)?.read_hashes(nodes)
    }
}
