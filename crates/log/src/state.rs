//! `TreeState`: the sequencer's in-memory right edge of the tree, and turning a batch of entries into the tiles and bundles it writes.
//!
//! Besides the Merkle right edge, the state keeps the contents of every incomplete
//! tile (one per tile level) and of the incomplete entry bundle, so a batch never
//! reads anything back: it appends, emits each tile that fills up, and ends with the
//! partial tiles and bundle of the new size (tlog-tiles, "Partial tiles").

use bytes::Bytes;
use vouch_store::{ObjectKey, Objects};
use vouch_tlog::tile::hashes_at_level;
use vouch_tlog::{
    append_entry, bundle::decode_entry_bundle_exact, tiles_for_nodes, BundleId, Hash, HashReader,
    RightEdge, TileHashReader, TileId, HASH_SIZE, TILE_WIDTH,
};

use crate::LogError;

const WIDTH: usize = TILE_WIDTH as usize;

/// The tree's right edge plus the incomplete tiles and bundle. Only the sequencer task
/// owns one; it is cloned before a batch and replaced only once the batch committed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TreeState {
    edge: RightEdge,
    /// `tails[L]`: hashes of tree level `8L` in the incomplete tile at tile level `L`
    /// (always fewer than 256).
    tails: Vec<Vec<Hash>>,
    /// Encoded entries of the incomplete bundle, and how many there are (< 256).
    bundle: Vec<u8>,
    bundle_len: usize,
}

/// What one batch writes: every object (full and partial tiles and bundles), and the
/// new tree.
#[derive(Debug)]
pub(crate) struct Integrated {
    pub objects: Vec<(ObjectKey, Bytes)>,
    pub size: u64,
    pub root: Hash,
}

pub(crate) fn key(path: String) -> Result<ObjectKey, LogError> {
    Ok(ObjectKey::new(path)?)
}

impl TreeState {
    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    /// Appends `entries`, returning the objects to write. Pure CPU work (SHA-256 of
    /// every entry, ~2 hashes per entry for interior nodes, copying into bundles).
    #[allow(
        clippy::indexing_slicing,
        reason = "full_tiles only names levels whose tails entry was created in the closure above"
    )]
    pub fn integrate(&mut self, entries: &[Bytes]) -> Result<Integrated, LogError> {
        let mut objects = Vec::with_capacity(2 * entries.len() / WIDTH + 8);
        let mut full_tiles: Vec<TileId> = Vec::new();
        for entry in entries {
            let index = self.edge.size();
            let tails = &mut self.tails;
            self.edge
                .append(vouch_tlog::leaf_hash(entry), &mut |level, node, hash| {
                    if level % 8 != 0 {
                        return;
                    }
                    let l = usize::from(level / 8);
                    if tails.len() <= l {
                        tails.resize_with(l + 1, Vec::new);
                    }
                    tails[l].push(hash);
                    if tails[l].len() == WIDTH {
                        full_tiles.push(TileId {
                            level: level / 8,
                            index: node / WIDTH as u64,
                            width: TILE_WIDTH,
                        });
                    }
                });
            for t in full_tiles.drain(..) {
                let hashes = std::mem::take(&mut self.tails[usize::from(t.level)]);
                objects.push((key(t.path())?, tile_bytes(&hashes)));
            }
            append_entry(&mut self.bundle, entry)?;
            self.bundle_len += 1;
            if self.bundle_len == WIDTH {
                let id = BundleId {
                    index: index / WIDTH as u64,
                    width: TILE_WIDTH,
                };
                let body = std::mem::take(&mut self.bundle);
                self.bundle_len = 0;
                objects.push((key(id.path())?, Bytes::from(body)));
            }
        }
        let size = self.edge.size();
        for (level, hashes) in self.tails.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let level = level as u8;
            let t = TileId {
                level,
                index: hashes_at_level(level, size) / WIDTH as u64,
                width: hashes.len() as u16,
            };
            objects.push((key(t.path())?, tile_bytes(hashes)));
        }
        if self.bundle_len > 0 {
            let id = BundleId {
                index: size / WIDTH as u64,
                width: self.bundle_len as u16,
            };
            objects.push((key(id.path())?, Bytes::copy_from_slice(&self.bundle)));
        }
        Ok(Integrated {
            objects,
            size,
            root: self.edge.root(),
        })
    }

    /// Rebuilds the state of a committed tree of `size` leaves from the object store
    /// and checks it hashes to `root`.
    #[allow(
        clippy::indexing_slicing,
        reason = "TileHashReader::insert just accepted bytes, which checks bytes.len() >= t.byte_len()"
    )]
    pub async fn load(objects: &dyn Objects, size: u64, root: Hash) -> Result<Self, LogError> {
        let nodes = RightEdge::nodes(size);
        let mut reader = TileHashReader::new(size);
        for t in tiles_for_nodes(&nodes, size)? {
            let bytes = read(objects, t.path()).await?;
            reader.insert(&t, &bytes)?;
        }
        let edge = RightEdge::from_hashes(size, reader.read_hashes(&nodes)?)?;
        if edge.root() != root {
            return Err(LogError::Inconsistent {
                what: "root rebuilt from tiles",
                expected: root.to_string(),
                found: edge.root().to_string(),
            });
        }
        let mut tails = Vec::new();
        for level in 0..=vouch_tlog::tile::MAX_TILE_LEVEL {
            let count = hashes_at_level(level, size);
            if count == 0 {
                break;
            }
            let width = (count % WIDTH as u64) as u16;
            let mut hashes = Vec::new();
            if width > 0 {
                let t = TileId {
                    level,
                    index: count / WIDTH as u64,
                    width,
                };
                let bytes = read(objects, t.path()).await?;
                let mut r = TileHashReader::new(size);
                r.insert(&t, &bytes)?;
                hashes = parse_hashes(&bytes[..t.byte_len()]);
            }
            tails.push(hashes);
        }
        let bundle_len = (size % WIDTH as u64) as usize;
        let mut bundle = Vec::new();
        if bundle_len > 0 {
            let id = BundleId {
                index: size / WIDTH as u64,
                width: bundle_len as u16,
            };
            let bytes = read(objects, id.path()).await?;
            decode_entry_bundle_exact(&bytes, id.width)?;
            bundle = bytes.to_vec();
        }
        Ok(TreeState {
            edge,
            tails,
            bundle,
            bundle_len,
        })
    }
}

pub(crate) async fn read(objects: &dyn Objects, path: String) -> Result<Bytes, LogError> {
    let k = key(path)?;
    objects
        .get(&k)
        .await?
        .ok_or(LogError::Missing { key: k.to_string() })
}

fn tile_bytes(hashes: &[Hash]) -> Bytes {
    let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for h in hashes {
        out.extend_from_slice(h.as_bytes());
    }
    Bytes::from(out)
}

fn parse_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(HASH_SIZE)
        .map(|c| {
            let mut a = [0u8; HASH_SIZE];
            a.copy_from_slice(c);
            Hash(a)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_store::RemoteObjects;

    fn entries(from: u32, n: u32) -> Vec<Bytes> {
        (from..from + n)
            .map(|i| Bytes::from(format!("entry {i}")))
            .collect()
    }

    /// Integrating in odd-sized batches, reloading from storage between some of them,
    /// gives the same root as the recursive definition, and every full tile written
    /// matches what a from-scratch build would write.
    #[tokio::test]
    async fn batches_and_reloads_agree_with_recursive_root() {
        let store = RemoteObjects::memory();
        let mut st = TreeState::default();
        let mut all = Vec::new();
        let mut next = 0u32;
        for (i, n) in [1u32, 255, 1, 300, 65_000, 700, 256, 3]
            .into_iter()
            .enumerate()
        {
            let batch = entries(next, n);
            next += n;
            all.extend(batch.iter().map(|e| vouch_tlog::leaf_hash(e)));
            let out = st.integrate(&batch).unwrap();
            store.put_many(out.objects).await.unwrap();
            assert_eq!(out.root, vouch_tlog::root_of(&all));
            if i % 2 == 1 {
                st = TreeState::load(&store, out.size, out.root).await.unwrap();
            }
        }
        // A reload also checks the root: a wrong one is refused.
        let err = TreeState::load(&store, st.size(), Hash([7; 32])).await;
        assert!(matches!(err, Err(LogError::Inconsistent { .. })));
    }
}
