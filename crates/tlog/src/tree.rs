//! The append-side Merkle tree: [`NodeId`] names a complete subtree, and [`RightEdge`]
//! (a compact range over `[0, size)`) appends leaves in O(1) amortised hashes, reporting
//! every node it completes so the caller can persist tiles.

use crate::hash::{node_hash, Hash, EMPTY_ROOT};
use crate::tile::{TileHashReader, TileId};
use crate::{Error, HashReader};

/// A complete (perfect) subtree: the `index`-th node at height `level`, i.e.
/// `MTH(D[index * 2^level : (index + 1) * 2^level])`. Level 0 nodes are leaf hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves (0..=63).
    pub level: u8,
    /// Position among the nodes of that level, from the left.
    pub index: u64,
}

impl NodeId {
    /// First leaf index covered, or `None` on overflow.
    pub fn start(&self) -> Option<u64> {
        self.index
            .checked_shl(u32::from(self.level))
            .filter(|s| s >> self.level == self.index)
    }

    /// One past the last leaf covered, or `None` on overflow.
    pub fn end(&self) -> Option<u64> {
        self.index.checked_add(1).and_then(|i| {
            i.checked_shl(u32::from(self.level))
                .filter(|e| e >> self.level == i)
        })
    }

    /// Whether every leaf under this node exists in a tree of `size` leaves.
    pub fn is_complete_in(&self, size: u64) -> bool {
        self.level < 64 && self.end().is_some_and(|e| e <= size)
    }
}

/// The largest power of two strictly smaller than `n` (the `k` of RFC 9162, Section
/// 2.1.1). Requires `n >= 2`; returns 0 for smaller `n`.
pub fn split_point(n: u64) -> u64 {
    if n < 2 {
        return 0;
    }
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Decomposes `[start, end)` into maximal aligned complete subtrees, left to right. For
/// the ranges that occur in RFC 9162 proofs (start aligned to the range's bit ceiling)
/// these are exactly the subtrees whose right-fold is `MTH(D[start:end])`.
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut a = start;
    while a < end {
        let align = if a == 0 {
            63
        } else {
            a.trailing_zeros().min(63)
        };
        let fit = 63 - (end - a).leading_zeros();
        let level = align.min(fit);
        out.push(NodeId {
            level: level as u8,
            index: a >> level,
        });
        a += 1u64 << level;
    }
    out
}

/// Folds the hashes of [`range_nodes`] right to left into the range's Merkle Tree Hash.
pub fn fold_range(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(*last, |acc, h| node_hash(h, &acc))
}

/// The right edge of a tree of `size` leaves: one complete subtree hash per set bit of
/// `size`, largest (leftmost) first. Enough to append leaves and compute the root
/// without reading anything back. Cheap to clone (at most 64 hashes).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RightEdge {
    size: u64,
    /// Hashes of the complete subtrees covering `[0, size)`, left to right; their levels
    /// are the set bits of `size`, descending.
    hashes: Vec<Hash>,
}

impl RightEdge {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// `MTH(D[0:size])`, [`EMPTY_ROOT`] when empty. At most 63 node hashes.
    pub fn root(&self) -> Hash {
        fold_range(&self.hashes)
    }

    /// The nodes whose hashes make up the right edge of a tree of `size` leaves, left to
    /// right: what [`RightEdge::from_hashes`] expects.
    pub fn nodes(size: u64) -> Vec<NodeId> {
        range_nodes(0, size)
    }

    /// Rebuilds the edge from the hashes of [`RightEdge::nodes`]`(size)`, in that order.
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, Error> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(Error::HashCount {
                expected,
                found: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Rebuilds the edge of a tree of `size` leaves from its stored tiles. `read_tile` is
    /// called once per distinct tile needed (at most one per tile level) with the exact
    /// width the tree size implies, and must return that tile's bytes.
    pub fn from_tiles<E: From<Error>>(
        size: u64,
        mut read_tile: impl FnMut(&TileId) -> Result<Vec<u8>, E>,
    ) -> Result<Self, E> {
        let nodes = Self::nodes(size);
        let reader = TileHashReader::fetch(size, &nodes, &mut read_tile)?;
        let hashes = reader.read_hashes(&nodes)?;
        Ok(Self::from_hashes(size, hashes)?)
    }

    /// Appends one leaf hash. `visit(level, index, hash)` is called for every node this
    /// append completes, bottom up, starting with the leaf itself at level 0; a caller
    /// storing tiles keeps those with `level % 8 == 0`. No allocation once the edge has
    /// grown to its final height.
    pub fn append(&mut self, leaf: Hash, visit: &mut impl FnMut(u8, u64, Hash)) {
        let index = self.size;
        visit(0, index, leaf);
        let mut h = leaf;
        let mut level: u8 = 0;
        // Each trailing 1-bit of the old size is a complete subtree the new leaf's
        // subtree merges with (RFC 9162, Section 2.1.1 structure).
        let mut s = self.size;
        while s & 1 == 1 {
            // `hashes` holds one entry per set bit of size, so it is non-empty here.
            let Some(left) = self.hashes.pop() else { break };
            h = node_hash(&left, &h);
            level += 1;
            s >>= 1;
            visit(level, index >> level, h);
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// Appends a leaf and ignores the completed nodes.
    pub fn push(&mut self, leaf: Hash) {
        self.append(leaf, &mut |_, _, _| {});
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, root_of};

    #[test]
    fn split_point_values() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn right_edge_matches_recursive_definition() {
        let mut edge = RightEdge::new();
        let mut leaves = Vec::new();
        assert_eq!(edge.root(), EMPTY_ROOT);
        for i in 0..300u32 {
            let l = leaf_hash(&i.to_be_bytes());
            leaves.push(l);
            let mut seen = Vec::new();
            edge.append(l, &mut |lvl, idx, h| seen.push((lvl, idx, h)));
            assert_eq!(edge.size(), u64::from(i) + 1);
            assert_eq!(edge.root(), root_of(&leaves));
            for (lvl, idx, h) in seen {
                let n = NodeId {
                    level: lvl,
                    index: idx,
                };
                let (a, b) = (n.start().unwrap() as usize, n.end().unwrap() as usize);
                assert_eq!(h, root_of(&leaves[a..b]), "node {n:?}");
            }
        }
    }

    #[test]
    fn range_nodes_cover_range() {
        assert_eq!(range_nodes(0, 0), vec![]);
        assert_eq!(
            range_nodes(0, 6),
            vec![NodeId { level: 2, index: 0 }, NodeId { level: 1, index: 2 }]
        );
        assert_eq!(range_nodes(4, 7).len(), 2);
        assert_eq!(range_nodes(0, u64::MAX).len(), 64);
    }

    #[test]
    fn from_hashes_checks_count() {
        assert!(RightEdge::from_hashes(3, vec![EMPTY_ROOT]).is_err());
    }
}
