//! C2SP tlog-tiles resources: hash tile and entry bundle identifiers, their paths
//! (`tile/<L>/<N>[.p/<W>]` with `N` as `x001/x234/067`), which tiles a tree size implies,
//! and [`TileHashReader`], a [`HashReader`] over tile bytes.

use std::collections::BTreeMap;
use std::fmt;

use crate::hash::{node_hash, Hash, HASH_SIZE};
use crate::tree::NodeId;
use crate::{Error, HashReader};

/// Hashes in a full tile, and entries in a full bundle (tlog-tiles, "Merkle Tree").
pub const TILE_WIDTH: u16 = 256;
/// Tree levels spanned by one tile level: tile level `L` holds tree level `8 * L`.
pub const TILE_HEIGHT: u8 = 8;
/// Highest tile level a path may name (tlog-tiles: `<L>` is 0..=63).
pub const MAX_TILE_LEVEL: u8 = 63;

/// A hash tile: `width` consecutive hashes of tree level `8 * level`, the `index`-th
/// group of 256 at that level. `width` is 256 for a full tile, 1..=255 for a partial one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    /// Tile level (tree level / 8).
    pub level: u8,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes, 1..=256.
    pub width: u16,
}

/// An entry bundle: the entries whose leaf hashes form level-0 tile `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundleId {
    /// Index of the bundle (same as its level-0 tile).
    pub index: u64,
    /// Number of entries, 1..=256.
    pub width: u16,
}

/// Any resource under `tile/`, as parsed from a request path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`
    Hash(TileId),
    /// `tile/entries/<N>[.p/<W>]`
    Entries(BundleId),
}

/// Appends `<N>[.p/<W>]` with the three-digit `x`-prefixed groups of tlog-tiles.
fn push_index(out: &mut String, index: u64, width: u16) {
    let digits = index.to_string();
    let pad = (3 - digits.len() % 3) % 3;
    let padded = format!("{}{digits}", "0".repeat(pad));
    let groups: Vec<&str> = padded
        .as_bytes()
        .chunks(3)
        .map(|c| std::str::from_utf8(c).unwrap_or("000"))
        .collect();
    for (i, g) in groups.iter().enumerate() {
        if i + 1 < groups.len() {
            out.push('x');
        }
        out.push_str(g);
        if i + 1 < groups.len() {
            out.push('/');
        }
    }
    if width < TILE_WIDTH {
        out.push_str(&format!(".p/{width}"));
    }
}

impl TileId {
    /// The path relative to the log prefix, e.g. `tile/0/x001/x234/067.p/8`.
    pub fn path(&self) -> String {
        let mut s = format!("tile/{}/", self.level);
        push_index(&mut s, self.index, self.width);
        s
    }

    /// Size in bytes of the tile's body: `width * 32`.
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// The full tile this one is a prefix of.
    pub fn full(&self) -> TileId {
        TileId {
            width: TILE_WIDTH,
            ..*self
        }
    }

    /// Parses a path produced by [`TileId::path`]; entry bundles are rejected.
    pub fn parse(path: &str) -> Result<TileId, Error> {
        match TilePath::parse(path)? {
            TilePath::Hash(t) => Ok(t),
            TilePath::Entries(_) => Err(bad_path(path, "an entry bundle, not a hash tile")),
        }
    }

    /// The hash tile at `level` holding the hash of level-`8*level` node `node_index`, with
    /// the width a tree of `size` leaves implies, or `None` if that node is incomplete.
    pub fn for_hash(level: u8, node_index: u64, size: u64) -> Option<TileId> {
        let count = hashes_at_level(level, size);
        if node_index >= count {
            return None;
        }
        let index = node_index / u64::from(TILE_WIDTH);
        Some(TileId {
            level,
            index,
            width: tile_width(index, count),
        })
    }
}

impl BundleId {
    /// The path relative to the log prefix, e.g. `tile/entries/x001/234.p/3`.
    pub fn path(&self) -> String {
        let mut s = String::from("tile/entries/");
        push_index(&mut s, self.index, self.width);
        s
    }

    /// The level-0 hash tile holding this bundle's leaf hashes.
    pub fn hash_tile(&self) -> TileId {
        TileId {
            level: 0,
            index: self.index,
            width: self.width,
        }
    }

    /// Parses a path produced by [`BundleId::path`]; hash tiles are rejected.
    pub fn parse(path: &str) -> Result<BundleId, Error> {
        match TilePath::parse(path)? {
            TilePath::Entries(b) => Ok(b),
            TilePath::Hash(_) => Err(bad_path(path, "a hash tile, not an entry bundle")),
        }
    }

    /// The bundle holding entry `entry_index` in a tree of `size`, or `None` if out of range.
    pub fn for_entry(entry_index: u64, size: u64) -> Option<BundleId> {
        TileId::for_hash(0, entry_index, size).map(|t| BundleId {
            index: t.index,
            width: t.width,
        })
    }

    /// Index of the first entry in the bundle.
    pub fn first_entry(&self) -> u64 {
        self.index.saturating_mul(u64::from(TILE_WIDTH))
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

fn bad_path(path: &str, reason: &'static str) -> Error {
    Error::TilePath {
        path: path.chars().take(128).collect(),
        reason,
    }
}

/// A decimal with no leading zeroes (a lone `0` is fine), within `max`.
fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse::<u64>().ok().filter(|v| *v <= max)
}

impl TilePath {
    /// Parses a path relative to the log prefix (`tile/...`, no leading slash), strictly:
    /// exactly the spelling [`TileId::path`] produces, so every resource has one name.
    pub fn parse(path: &str) -> Result<TilePath, Error> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad_path(path, "does not start with tile/"))?;
        let (level, rest) = rest
            .split_once('/')
            .ok_or_else(|| bad_path(path, "missing tile index"))?;
        let level = if level == "entries" {
            None
        } else {
            Some(
                parse_decimal(level, u64::from(MAX_TILE_LEVEL))
                    .ok_or_else(|| bad_path(path, "level is not a decimal in 0..=63"))?
                    as u8,
            )
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = parse_decimal(w, u64::from(TILE_WIDTH) - 1)
                    .filter(|w| *w >= 1)
                    .ok_or_else(|| bad_path(path, "partial width is not a decimal in 1..=255"))?;
                (i, w as u16)
            }
            None => (rest, TILE_WIDTH),
        };
        let index =
            parse_index(index_part).ok_or_else(|| bad_path(path, "malformed tile index"))?;
        Ok(match level {
            Some(level) => TilePath::Hash(TileId {
                level,
                index,
                width,
            }),
            None => TilePath::Entries(BundleId { index, width }),
        })
    }

    /// The path relative to the log prefix.
    pub fn path(&self) -> String {
        match self {
            TilePath::Hash(t) => t.path(),
            TilePath::Entries(b) => b.path(),
        }
    }
}

/// `x001/x234/067` → 1234067. Every group is three digits; all but the last start with
/// `x`; the first group is not `x000` (that spelling would give an index two names).
fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    if groups.len() > 7 {
        return None;
    }
    let mut value: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last { *g } else { g.strip_prefix('x')? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if i == 0 && !last && digits == "000" {
            return None;
        }
        let d: u64 = digits.parse().ok()?;
        value = value.checked_mul(1000)?.checked_add(d)?;
    }
    Some(value)
}

/// Number of complete hashes at tile level `level` (tree level `8 * level`).
pub fn hashes_at_level(level: u8, size: u64) -> u64 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    size.checked_shr(shift).unwrap_or(0)
}

fn tile_width(index: u64, count: u64) -> u16 {
    let start = index.saturating_mul(u64::from(TILE_WIDTH));
    // Callers guarantee count > start.
    count.saturating_sub(start).min(u64::from(TILE_WIDTH)) as u16
}

/// Every hash tile whose contents differ between the trees of `old` and `new` leaves,
/// with the widths of the new tree, lowest level first then by index: exactly what a
/// sequencer must write when it grows the tree from `old` to `new`.
pub fn tiles_touched(old: u64, new: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    if new <= old {
        return out;
    }
    for level in 0..=MAX_TILE_LEVEL {
        let (before, after) = (hashes_at_level(level, old), hashes_at_level(level, new));
        if after == 0 {
            break;
        }
        if after == before {
            continue;
        }
        let w = u64::from(TILE_WIDTH);
        for index in before / w..=(after - 1) / w {
            out.push(TileId {
                level,
                index,
                width: tile_width(index, after),
            });
        }
    }
    out
}

/// Every entry bundle that differs between the trees of `old` and `new` leaves.
pub fn bundles_touched(old: u64, new: u64) -> Vec<BundleId> {
    tiles_touched(old, new)
        .into_iter()
        .take_while(|t| t.level == 0)
        .map(|t| BundleId {
            index: t.index,
            width: t.width,
        })
        .collect()
}

/// Where a complete node's hash comes from: tile level, first hash in that tile level,
/// and how many tile hashes it spans.
fn node_source(node: NodeId) -> (u8, u64, u32) {
    let tile_level = node.level / TILE_HEIGHT;
    let sub = u32::from(node.level % TILE_HEIGHT);
    (tile_level, node.index << sub, sub)
}

/// The distinct tiles (with the widths a tree of `size` implies) needed to read `nodes`.
pub fn tiles_for_nodes(nodes: &[NodeId], size: u64) -> Result<Vec<TileId>, Error> {
    let mut out: Vec<TileId> = Vec::new();
    for &n in nodes {
        if !n.is_complete_in(size) {
            return Err(Error::NodeOutOfRange {
                level: n.level,
                index: n.index,
                size,
            });
        }
        let (level, first, _) = node_source(n);
        let t = TileId::for_hash(level, first, size).ok_or(Error::NodeOutOfRange {
            level: n.level,
            index: n.index,
            size,
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// A [`HashReader`] over a set of tiles of one tree size. Build it with
/// [`TileHashReader::new`] and [`TileHashReader::insert`] after fetching
/// [`tiles_for_nodes`] (the async path), or with [`TileHashReader::fetch`] given a
/// synchronous tile source.
#[derive(Clone, Debug, Default)]
pub struct TileHashReader {
    size: u64,
    tiles: BTreeMap<(u8, u64), Vec<Hash>>,
}

impl TileHashReader {
    /// An empty reader for a tree of `size` leaves.
    pub fn new(size: u64) -> Self {
        Self {
            size,
            tiles: BTreeMap::new(),
        }
    }

    /// Adds a tile's bytes. A tile wider than `id` says (e.g. the full tile standing in
    /// for a partial one) is accepted and truncated; a shorter or ragged one is an error.
    #[allow(
        clippy::indexing_slicing,
        reason = "bytes.len() >= id.byte_len() checked above"
    )]
    pub fn insert(&mut self, id: &TileId, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() < id.byte_len() || bytes.len() % HASH_SIZE != 0 {
            return Err(Error::TileLength {
                tile: *id,
                expected: id.byte_len(),
                found: bytes.len(),
            });
        }
        let hashes = bytes[..id.byte_len()]
            .chunks_exact(HASH_SIZE)
            .map(Hash::from_slice)
            .collect::<Result<Vec<_>, _>>()?;
        self.tiles.insert((id.level, id.index), hashes);
        Ok(())
    }

    /// Fetches the tiles `nodes` need through `read_tile` and builds the reader.
    pub fn fetch<E: From<Error>>(
        size: u64,
        nodes: &[NodeId],
        read_tile: &mut impl FnMut(&TileId) -> Result<Vec<u8>, E>,
    ) -> Result<Self, E> {
        let mut r = Self::new(size);
        for t in tiles_for_nodes(nodes, size)? {
            let bytes = read_tile(&t)?;
            r.insert(&t, &bytes)?;
        }
        Ok(r)
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "count = 1 << sub >= 1 hashes halve (chunks_exact(2) pairs) to exactly one"
    )]
    fn node(&self, n: NodeId) -> Result<Hash, Error> {
        let missing = Error::NodeOutOfRange {
            level: n.level,
            index: n.index,
            size: self.size,
        };
        if !n.is_complete_in(self.size) {
            return Err(missing);
        }
        let (level, first, sub) = node_source(n);
        let w = u64::from(TILE_WIDTH);
        let tile = self
            .tiles
            .get(&(level, first / w))
            .ok_or(Error::TileMissing {
                level,
                index: first / w,
            })?;
        let start = (first % w) as usize;
        let count = 1usize << sub;
        let slice = tile.get(start..start + count).ok_or(missing)?;
        // Rebuild the levels between tile levels by hashing within the tile
        // (tlog-tiles: "reconstructed by hashing the leaves").
        let mut layer: Vec<Hash> = slice.to_vec();
        while layer.len() > 1 {
            layer = layer
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
        }
        Ok(layer[0])
    }
}

impl HashReader for TileHashReader {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Error> {
        nodes.iter().map(|n| self.node(*n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding_matches_spec_example() {
        let t = TileId {
            level: 0,
            index: 1_234_067,
            width: 256,
        };
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        assert_eq!(TileId::parse("tile/0/x001/x234/067").unwrap(), t);
        let p = BundleId { index: 5, width: 3 };
        assert_eq!(p.path(), "tile/entries/005.p/3");
        assert_eq!(BundleId::parse(&p.path()).unwrap(), p);
    }

    #[test]
    fn spec_example_tree_of_70000() {
        // tlog-tiles, "Partial Tiles": 273 full level-0 tiles plus one of width 112, one
        // full level-1 tile plus one of width 17, one level-2 tile of width 1.
        let t = tiles_touched(0, 70_000);
        let l0: Vec<_> = t.iter().filter(|t| t.level == 0).collect();
        assert_eq!(l0.len(), 274);
        assert_eq!(l0.last().unwrap().width, 112);
        let l1: Vec<_> = t.iter().filter(|t| t.level == 1).collect();
        assert_eq!(
            l1.iter().map(|t| t.width).collect::<Vec<_>>(),
            vec![256, 17]
        );
        let l2: Vec<_> = t.iter().filter(|t| t.level == 2).collect();
        assert_eq!(l2.iter().map(|t| t.width).collect::<Vec<_>>(), vec![1]);
        assert_eq!(t.len(), 274 + 2 + 1);
        let size256 = tiles_touched(0, 256);
        assert_eq!(size256.len(), 2);
        assert_eq!(
            size256[1],
            TileId {
                level: 1,
                index: 0,
                width: 1
            }
        );
    }

    #[test]
    fn bad_paths_are_typed_errors() {
        for p in [
            "",
            "tile/",
            "tile/0/",
            "tile/00/000",
            "tile/64/000",
            "tile/0/1",
            "tile/0/0001",
            "tile/0/001/002",
            "tile/0/x000/001",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/07",
            "tile/0/000.p/",
            "tile/0/x1/000",
            "tile/0/xx01/000",
            "tile/entries/abc",
            "tile/-1/000",
            "tile/0/x999/x999/x999/x999/x999/x999/999",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
        ] {
            assert!(
                matches!(TilePath::parse(p), Err(Error::TilePath { .. })),
                "{p:?} should be rejected"
            );
        }
        // u64::MAX itself is representable.
        let max = "tile/0/x018/x446/x744/x073/x709/x551/615";
        assert_eq!(TileId::parse(max).unwrap().index, u64::MAX);
    }
}
