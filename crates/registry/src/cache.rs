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
