//! `LocalDir`: the default object store, a directory on local disk that fsyncs what it writes.
//!
//! `object_store`'s `LocalFileSystem` renames a temp file into place but never fsyncs,
//! so a power loss can leave an empty or missing tile behind an acknowledged
//! checkpoint. This backend does the full dance for every object: write a temp file
//! in the destination directory, fsync it, rename it over the key, then fsync each
//! directory touched (and the parents of directories it created). `put_many` spreads
//! the files over several blocking threads so the kernel can fold their fsyncs into
//! few journal commits.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ObjectKey, Objects, StoreError};

/// Most blocking threads one `put_many` uses at once.
const MAX_WRITERS: usize = 16;

/// A directory-backed [`Objects`] store. See the module docs for how writes are made
/// durable; reads are plain file reads.
#[derive(Debug, Clone)]
pub struct LocalDir {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    /// Source of unique temp-file names within this process.
    counter: AtomicU64,
}

impl LocalDir {
    /// Opens an existing directory. Nothing is created: production mode must find the
    /// directory in place (see [`LocalDir::create`] for `--dev`).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let meta = std::fs::metadata(&root).map_err(|e| StoreError::io(&root, e))?;
        if !meta.is_dir() {
            return Err(StoreError::io(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        Ok(Self::at(root))
    }

    /// Creates the directory (and parents) if missing, then opens it.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        Self::open(root)
    }

    fn at(root: PathBuf) -> Self {
        LocalDir {
            inner: Arc::new(Inner {
                root,
                counter: AtomicU64::new(0),
            }),
        }
    }

    /// The directory this store lives in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.inner.root.join(key.as_str())
    }
}

impl LocalDir {
    /// Writes every object durably in `mode`, on a blocking thread: directories first
    /// (cheap when they exist, and the set of directories to fsync afterwards falls out
    /// of it), then the files.
    async fn write_many(
        &self,
        objects: Vec<(ObjectKey, Bytes)>,
        mode: Mode,
    ) -> Result<(), StoreError> {
        if objects.is_empty() {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        let jobs: Vec<(PathBuf, Bytes)> = objects
            .into_iter()
            .map(|(k, v)| (self.path(&k), v))
            .collect();
        tokio::task::spawn_blocking(move || write_all_durably(&inner, jobs, mode))
            .await
            .map_err(|e| StoreError::io(&self.inner.root, std::io::Error::other(e)))?
    }
}

#[async_trait]
impl Objects for LocalDir {
    async fn put_many(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        self.write_many(objects, Mode::Replace).await
    }

    async fn put_many_if_absent(&self, objects: Vec<(ObjectKey, Bytes)>) -> Result<(), StoreError> {
        self.write_many(objects, Mode::CreateOnly).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(key);
        match tokio::fs::read(&path).await {
            Ok(v) => Ok(Some(Bytes::from(v))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            // A key whose prefix is a file (e.g. `checkpoint/x`) is simply absent.
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }
}

/// How a temp file takes its key's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `rename`: atomically replaces whatever is there.
    Replace,
    /// `link`: fails if the key exists (atomic create-if-absent); an existing file with
    /// the same bytes is accepted.
    CreateOnly,
}

/// Writes every file (temp, fsync, rename or link) on up to [`MAX_WRITERS`] threads,
/// then fsyncs each touched directory once. Runs on a blocking thread.
fn write_all_durably(
    inner: &Inner,
    jobs: Vec<(PathBuf, Bytes)>,
    mode: Mode,
) -> Result<(), StoreError> {
    let mut dirs_to_sync = BTreeSet::new();
    for (path, _) in &jobs {
        let parent = path.parent().unwrap_or(&inner.root);
        ensure_dir(&inner.root, parent, &mut dirs_to_sync)?;
        dirs_to_sync.insert(parent.to_path_buf());
    }
    let writers = jobs.len().clamp(1, MAX_WRITERS);
    let per = jobs.len().div_ceil(writers);
    let tag = std::process::id();
    if writers == 1 {
        // One file: this blocking thread writes it; starting another would cost more.
        for (path, bytes) in &jobs {
            let n = inner.counter.fetch_add(1, Ordering::Relaxed);
            write_one(path, bytes, tag, n, mode)?;
        }
        for dir in dirs_to_sync {
            sync_dir(&dir)?;
        }
        return Ok(());
    }
    std::thread::scope(|s| -> Result<(), StoreError> {
        let handles: Vec<_> = jobs
            .chunks(per)
            .map(|chunk| {
                s.spawn(move || -> Result<(), StoreError> {
                    for (path, bytes) in chunk {
                        let n = inner.counter.fetch_add(1, Ordering::Relaxed);
                        write_one(path, bytes, tag, n, mode)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| {
                StoreError::io(&inner.root, std::io::Error::other("writer panicked"))
            })??;
        }
        Ok(())
    })?;
    for dir in dirs_to_sync {
        sync_dir(&dir)?;
    }
    Ok(())
}

/// Creates `dir` and any missing ancestors below `root`, recording the parents whose
/// entries changed so they get fsynced.
fn ensure_dir(root: &Path, dir: &Path, to_sync: &mut BTreeSet<PathBuf>) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = vec![dir.to_path_buf()];
    let mut cur = dir.parent();
    while let Some(p) = cur {
        if p.is_dir() || p == root {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    for d in missing.iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io(d, e)),
        }
        if let Some(p) = d.parent() {
            to_sync.insert(p.to_path_buf());
        }
    }
    Ok(())
}

fn write_one(path: &Path, bytes: &[u8], tag: u32, n: u64, mode: Mode) -> Result<(), StoreError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let tmp = path.with_file_name(format!(".{name}.tmp.{tag}.{n}"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        match mode {
            Mode::Replace => std::fs::rename(&tmp, path),
            Mode::CreateOnly => {
                let linked = std::fs::hard_link(&tmp, path);
                std::fs::remove_file(&tmp)?;
                linked
            }
        }
    })();
    match result {
        Ok(()) => Ok(()),
        Err(e) if mode == Mode::CreateOnly && e.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
            if existing == bytes {
                Ok(())
            } else {
                Err(StoreError::Differs {
                    key: path.display().to_string(),
                    existing: existing.len(),
                    offered: bytes.len(),
                })
            }
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(StoreError::io(path, e))
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::open(dir.path()).unwrap();
        crate::objects::check_round_trip(Arc::new(store)).await;
        // No temp files are left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("tile/0/x001/234.p"))
            .unwrap()
            .collect();
        assert!(left.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn create_if_absent_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::open(dir.path()).unwrap();
        crate::objects::check_create_if_absent(Arc::new(store)).await;
        // No temp files are left behind, by winners or losers.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("race"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[tokio::test]
    async fn put_many_writes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::open(dir.path()).unwrap();
        crate::objects::check_put_many(Arc::new(store)).await;
    }

    #[test]
    fn open_does_not_create() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LocalDir::open(dir.path().join("missing")).is_err());
        LocalDir::create(dir.path().join("made")).unwrap();
    }
}
