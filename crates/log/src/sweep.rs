//! Removing superseded partial tiles and entry bundles: each batch's are deleted once a grace period for readers has passed, and a restart sweeps what a crash left behind.
//!
//! Every batch writes the partial tiles and the partial bundle of its new size, so
//! without removal a slowly filling tile leaves one copy per batch (issue 13: 60 entries
//! of 40 KB grew one bundle's partials by 72 MB). tlog-tiles says a log "MUST serve
//! partial tiles corresponding to tree sizes for which a checkpoint was produced, but MAY
//! delete any partial tile once the corresponding full tile is either available". vouch
//! keeps that promise without keeping the files: its tile endpoint serves a narrower
//! width of a tile by cutting the committed tree's copy of that tile (full, or the
//! current partial) down to the width asked for (`registry::tiles`). So a superseded
//! partial only has to outlive the reads already in flight: it is deleted `grace` after
//! the batch that superseded it committed. The partials of the committed tree itself
//! are never deleted (they are not superseded).
//!
//! Crash safety: the sweeper records in the object `partials-swept` the tree size up to
//! which every superseded partial is gone (written at most every
//! [`MARKER_INTERVAL`]). `Log::open` deletes every partial width of the tiles between
//! that size and the committed one, except the committed tree's own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;
use vouch_store::{ObjectKey, Objects};
use vouch_tlog::tile::hashes_at_level;
use vouch_tlog::{BundleId, TileId, TILE_WIDTH};

/// Object key of the sweeper's progress marker (a decimal tree size).
pub const SWEPT_KEY: &str = "partials-swept";
/// Longest the marker lags behind the deletions it records.
pub const MARKER_INTERVAL: Duration = Duration::from_secs(10);

const WIDTH: u64 = TILE_WIDTH as u64;

/// The (level, count) pairs of a tree: the number of hashes at each tile level that
/// has any, level 0 first. Entry bundles follow level 0.
fn levels(size: u64) -> impl Iterator<Item = (u8, u64)> {
    (0..=vouch_tlog::tile::MAX_TILE_LEVEL)
        .map(move |l| (l, hashes_at_level(l, size)))
        .take_while(|(_, c)| *c > 0)
}

/// The keys of a tile's partial version of `width` at `level` (hash tile), and at level
/// 0 also of the entry bundle.
fn partial_keys(level: u8, index: u64, width: u64, out: &mut Vec<ObjectKey>) {
    let width = width as u16;
    let t = TileId {
        level,
        index,
        width,
    };
    out.extend(ObjectKey::new(t.path()).ok());
    if level == 0 {
        let b = BundleId { index, width };
        out.extend(ObjectKey::new(b.path()).ok());
    }
}

/// Partial tiles and bundles of a tree of `size` leaves.
pub(crate) fn partials_of(size: u64) -> Vec<ObjectKey> {
    let mut out = Vec::new();
    for (level, count) in levels(size) {
        if count % WIDTH > 0 {
            partial_keys(level, count / WIDTH, count % WIDTH, &mut out);
        }
    }
    out
}

/// The partials of tree `old` that tree `new` (larger) no longer has.
pub(crate) fn superseded(old: u64, new: u64) -> Vec<ObjectKey> {
    let keep = partials_of(new);
    partials_of(old)
        .into_iter()
        .filter(|k| !keep.contains(k))
        .collect()
}

/// Every partial a tree growing from `from` to `size` may have written, except the
/// partials of `size` itself: all widths of the tiles completed since `from`, and the
/// narrower widths of each current tile.
pub(crate) fn leftovers(from: u64, size: u64) -> Vec<ObjectKey> {
    let mut out = Vec::new();
    for (level, count) in levels(size) {
        let first = hashes_at_level(level, from.min(size)) / WIDTH;
        let (current, width) = (count / WIDTH, count % WIDTH);
        for index in first..current {
            for w in 1..WIDTH {
                partial_keys(level, index, w, &mut out);
            }
        }
        for w in 1..width {
            partial_keys(level, current, w, &mut out);
        }
    }
    out
}

/// One batch's superseded partials, due for deletion at `due`.
#[derive(Debug)]
struct Due {
    due: Instant,
    /// The tree size the partials belonged to: once they are gone, every superseded
    /// partial of trees up to this size is.
    old_size: u64,
    keys: Vec<ObjectKey>,
}

/// The deletion queue shared by the sequencer (which schedules) and the sweeper task.
#[derive(Debug)]
pub(crate) struct Sweeper {
    objects: Arc<dyn Objects>,
    grace: Duration,
    queue: Mutex<VecDeque<Due>>,
    wake: Notify,
}

impl Sweeper {
    pub fn new(objects: Arc<dyn Objects>, grace: Duration) -> Self {
        Sweeper {
            objects,
            grace,
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Due>> {
        // Pushes and pops only: a panic cannot leave it torn.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called after a batch moved the committed tree from `old` to `new` leaves.
    pub fn schedule(&self, old: u64, new: u64) {
        let keys = superseded(old, new);
        if keys.is_empty() {
            return;
        }
        let was_empty = {
            let mut q = self.queue();
            q.push_back(Due {
                due: Instant::now() + self.grace,
                old_size: old,
                keys,
            });
            q.len() == 1
        };
        if was_empty {
            self.wake.notify_one();
        }
    }

    /// Deletes whatever a previous run left between the marker and the committed
    /// `size` (see the module docs). Without a marker (a log written before this
    /// existed) only the last two tiles' worth are swept.
    pub async fn sweep_leftovers(&self, size: u64) {
        let from = match self.objects.get(&swept_key()).await {
            Ok(Some(b)) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok()),
            _ => None,
        }
        .unwrap_or(size.saturating_sub(2 * WIDTH));
        sweep_from(&*self.objects, from, size).await;
    }

    async fn delete(&self, keys: Vec<ObjectKey>) {
        delete_all(&*self.objects, keys).await;
    }

    async fn record(&self, size: u64) {
        record(&*self.objects, size).await;
    }

    /// The sweeper task: deletes each batch's superseded partials when they are due.
    pub async fn run(self: Arc<Self>, committed: u64) {
        self.sweep_leftovers(committed).await;
        let mut recorded_at = Instant::now();
        let mut done: Option<u64> = None;
        loop {
            let front = self.queue().front().map(|d| d.due);
            match front {
                None => {
                    if let Some(size) = done.take() {
                        self.record(size).await;
                        recorded_at = Instant::now();
                    }
                    self.wake.notified().await;
                    continue;
                }
                Some(due) if due > Instant::now() => {
                    tokio::time::sleep_until(due).await;
                    continue;
                }
                Some(_) => {}
            }
            let Some(item) = self.queue().pop_front() else {
                continue;
            };
            self.delete(item.keys).await;
            done = Some(item.old_size);
            if recorded_at.elapsed() >= MARKER_INTERVAL {
                self.record(item.old_size).await;
                recorded_at = Instant::now();
                done = None;
            }
        }
    }
}

/// Deletes every partial a log growing from `from` to `size` leaves may have written,
/// except the partials of `size` itself, and records `size` as swept. What `Log::open`
/// runs from the recorded marker; `vouch bench log` runs it from 0 to measure the disk
/// a log keeps once every grace period has passed. The log must be committed at
/// `size` and not growing.
pub async fn sweep_from(objects: &dyn Objects, from: u64, size: u64) {
    let keys = leftovers(from, size);
    let n = keys.len();
    delete_all(objects, keys).await;
    tracing::debug!(from, size, candidates = n, "swept leftover partial tiles");
    record(objects, size).await;
}

/// Deletes every tile and bundle beyond a committed tree of `size` leaves: full tiles
/// past its last full one and partial widths wider than its own. The sequencer writes
/// tiles only for committed trees, so these exist only as leftovers of a binary that
/// wrote tiles before its swap (before the staging order) and crashed or lost the swap;
/// left in place, they would collide with the create-if-absent writes of later trees.
/// Probes one tile at a time, so the cost is about 256 deletes per level.
pub async fn clear_beyond(objects: &dyn Objects, size: u64) -> Result<(), vouch_store::StoreError> {
    let top = u8::try_from(levels(size).count())
        .unwrap_or(u8::MAX)
        .saturating_add(2);
    for level in 0..top.min(vouch_tlog::tile::MAX_TILE_LEVEL + 1) {
        let count = hashes_at_level(level, size);
        let mut index = count / WIDTH;
        let mut above = count % WIDTH;
        loop {
            let mut keys = Vec::new();
            for w in above + 1..WIDTH {
                partial_keys(level, index, w, &mut keys);
            }
            for k in keys {
                objects.delete(&k).await?;
            }
            let full = [
                Some(
                    TileId {
                        level,
                        index,
                        width: TILE_WIDTH,
                    }
                    .path(),
                ),
                (level == 0).then(|| {
                    BundleId {
                        index,
                        width: TILE_WIDTH,
                    }
                    .path()
                }),
            ];
            let mut found = false;
            for path in full.into_iter().flatten() {
                let key = ObjectKey::new(path).expect("tile paths are valid object keys");
                if objects.get(&key).await?.is_some() {
                    tracing::warn!(key = %key, "deleting a tile beyond the committed tree");
                    objects.delete(&key).await?;
                    found = true;
                }
            }
            if !found {
                break;
            }
            index += 1;
            above = 0;
        }
    }
    Ok(())
}

async fn delete_all(objects: &dyn Objects, keys: Vec<ObjectKey>) {
    for k in keys {
        if let Err(e) = objects.delete(&k).await {
            tracing::warn!(key = %k, error = %e, "could not delete a superseded partial");
        }
    }
}

async fn record(objects: &dyn Objects, size: u64) {
    let marker = Bytes::from(size.to_string());
    if let Err(e) = objects.put(&swept_key(), marker).await {
        tracing::warn!(error = %e, "could not record sweep progress");
    }
}

fn swept_key() -> ObjectKey {
    // A constant that satisfies ObjectKey's grammar.
    ObjectKey::new(SWEPT_KEY).expect("\"partials-swept\" is a valid object key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(keys: &[ObjectKey]) -> Vec<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    /// Leftovers beyond the committed tree (a pre-staging binary's uncommitted batch)
    /// are deleted; everything of the committed tree stays.
    #[tokio::test]
    async fn clear_beyond_keeps_the_committed_tree_only() {
        let store = vouch_store::RemoteObjects::memory();
        let key = |p: String| ObjectKey::new(p).unwrap();
        let tile = |level, index, width| {
            TileId {
                level,
                index,
                width,
            }
            .path()
        };
        let bundle = |index, width| BundleId { index, width }.path();
        // Committed: 300 leaves (level 0: one full tile, partial 44; level 1: partial 1).
        let keep = [
            tile(0, 0, 256),
            bundle(0, 256),
            tile(0, 1, 44),
            bundle(1, 44),
            tile(1, 0, 1),
        ];
        // Leftovers of an uncommitted tree of 700 leaves.
        let gone = [
            tile(0, 1, 256),
            bundle(1, 256),
            tile(0, 2, 188),
            bundle(2, 188),
            tile(1, 0, 2),
            tile(0, 1, 100),
        ];
        for p in keep.iter().chain(&gone) {
            store
                .put(&key(p.clone()), Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        clear_beyond(&store, 300).await.unwrap();
        for p in &keep {
            assert!(store.get(&key(p.clone())).await.unwrap().is_some(), "{p}");
        }
        for p in &gone {
            assert!(store.get(&key(p.clone())).await.unwrap().is_none(), "{p}");
        }
    }

    #[test]
    fn superseded_partials_are_those_the_new_tree_no_longer_has() {
        // 70,000: level 0 width 112, level 1 width 17, level 2 width 1.
        assert_eq!(
            paths(&partials_of(70_000)),
            [
                "tile/0/273.p/112",
                "tile/entries/273.p/112",
                "tile/1/001.p/17",
                "tile/2/000.p/1"
            ]
        );
        // Growing by one changes only level 0.
        assert_eq!(
            paths(&superseded(70_000, 70_001)),
            ["tile/0/273.p/112", "tile/entries/273.p/112"]
        );
        // Filling tile 273 supersedes level 0's partial and level 1's.
        assert_eq!(
            paths(&superseded(70_000, 70_144)),
            [
                "tile/0/273.p/112",
                "tile/entries/273.p/112",
                "tile/1/001.p/17"
            ]
        );
        assert!(superseded(70_000, 70_000).is_empty());
    }

    #[test]
    fn leftovers_never_include_the_committed_partials() {
        for (from, size) in [(0u64, 1u64), (5, 300), (70_000, 70_001), (0, 70_000)] {
            let left = leftovers(from, size);
            for k in partials_of(size) {
                assert!(!left.contains(&k), "{k} is committed at {size}");
            }
            for k in superseded(from, size) {
                assert!(
                    left.contains(&k),
                    "{k} superseded between {from} and {size}"
                );
            }
        }
        // From 5 to 300: tile 0 widths 1..=255, tile 1 widths 1..43 (level 0 and
        // bundles), and nothing at level 1 (width 1 is the committed one).
        assert_eq!(leftovers(5, 300).len(), 2 * 255 + 2 * 43);
    }
}
