//! `TileCache`: a bounded in-memory cache of full (immutable) tiles and bundles for the read endpoints.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

/// Maps tile paths to bodies, up to a byte budget. Only immutable resources go in, so
/// there is nothing to invalidate; when the budget is exceeded the map is simply
/// emptied (cheap, and hot tiles come back on the next read).
#[derive(Debug)]
pub struct TileCache {
    budget: usize,
    /// Guards the map and its byte count together; held for one lookup or insert.
    inner: Mutex<(HashMap<String, Bytes>, usize)>,
}

impl TileCache {
    pub fn new(budget_bytes: usize) -> Self {
        TileCache {
            budget: budget_bytes,
            inner: Mutex::new((HashMap::new(), 0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, Bytes>, usize)> {
        // Every critical section leaves the pair consistent before it can panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, path: &str) -> Option<Bytes> {
        self.lock().0.get(path).cloned()
    }

    pub fn insert(&self, path: String, body: Bytes) {
        if body.len() > self.budget {
            return;
        }
        let mut g = self.lock();
        if g.1 + body.len() > self.budget {
            g.0.clear();
            g.1 = 0;
        }
        g.1 += body.len();
        if let Some(old) = g.0.insert(path, body) {
            g.1 -= old.len();
        }
    }
}

/// Rendered answers kept for a short time on one node: the Cargo index files and the
/// Python simple pages. A write on this node drops its key at once
/// ([`FreshCache::invalidate`]); a write on another node is seen here within `ttl`.
/// Only found answers go in, so a name's first publish elsewhere is never hidden.
/// Never holds a verdict, only bytes rendered from committed rows.
#[derive(Debug)]
pub struct FreshCache<V> {
    ttl: std::time::Duration,
    capacity: usize,
    /// Key -> (rendered at, value); cleared whole when `capacity` is reached.
    map: std::sync::RwLock<HashMap<String, (std::time::Instant, std::sync::Arc<V>)>>,
}

impl<V> FreshCache<V> {
    pub fn new(ttl: std::time::Duration, capacity: usize) -> Self {
        FreshCache {
            ttl,
            capacity,
            map: std::sync::RwLock::new(HashMap::new()),
        }
    }

    /// The value under `key` if it was rendered less than `ttl` ago.
    pub fn get(&self, key: &str) -> Option<std::sync::Arc<V>> {
        // A panicking writer leaves the map whole (one insert or remove), so a poisoned
        // lock is still consistent.
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| std::sync::Arc::clone(v))
    }

    pub fn insert(&self, key: String, value: std::sync::Arc<V>) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, (std::time::Instant::now(), value));
    }

    /// Drops `key` after a write on this node.
    pub fn invalidate(&self, key: &str) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

#[cfg(test)]
mod fresh_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::FreshCache;

    #[test]
    fn entries_expire_are_invalidated_and_the_map_is_bounded() {
        let c = FreshCache::new(Duration::from_millis(50), 2);
        c.insert("a".into(), Arc::new(1));
        assert_eq!(c.get("a").as_deref(), Some(&1));
        c.invalidate("a");
        assert_eq!(c.get("a"), None);
        c.insert("a".into(), Arc::new(1));
        c.insert("b".into(), Arc::new(2));
        c.insert("c".into(), Arc::new(3));
        assert_eq!(c.get("a"), None, "capacity reached: the map was cleared");
        assert_eq!(c.get("c").as_deref(), Some(&3));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get("c"), None, "older than the ttl");
    }
}
