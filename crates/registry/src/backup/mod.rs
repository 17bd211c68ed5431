//! Online backup and offline restore of a whole registry: metadata (SQLite or PostgreSQL), the checkpoint lock rows, and the local object store (tiles, bundles, blobs, sealed keys), with a manifest that restore checks before it writes anything.
//!
//! # Why the copy order makes a consistent backup while the server runs
//!
//! Three stores change independently, so the backup reads them in the one order in
//! which every reference points backwards in time:
//!
//! 1. **Metadata first**, as one snapshot (SQLite `VACUUM INTO`, PostgreSQL `pg_dump`,
//!    which runs in one repeatable-read transaction). Every row that names a log index
//!    (a version, an integrity record) is written only after the log acknowledged the
//!    entry, i.e. after the checkpoint covering it won the swap (sequencer commit
//!    point 2). So the checkpoint read in step 2 covers everything the metadata names.
//! 2. **Lock rows next**, in one `SELECT`: the committed checkpoint of each log (and
//!    the witness states). The sequencer writes every tile of a tree before it swaps
//!    the row to that tree (commit point 1 precedes 2), so when the row is read, all
//!    tiles covering it are already durable.
//! 3. **Objects last**: tiles of the committed tree are immutable at their paths (a
//!    later batch writes only paths beyond it), so copying them afterwards yields
//!    exactly the bytes the checkpoint commits to; blobs of every version in the
//!    metadata were stored before their version row. Objects written after step 2
//!    (tiles of later batches, blobs of later publishes) are copied too and are
//!    harmless: the restored log is opened at the lock row's tree, never serves a tile
//!    beyond it, and overwrites those paths as it grows. The `checkpoint` objects are
//!    replaced by the lock rows' notes so that what is published equals what is
//!    committed.
//!
//! The backup then proves step 3 covered step 2: the tiles in the backup must rebuild
//! each log's root at the locked size ([`vouch_log::invariants::check_coverage`]).
//! The manifest (`manifest.json`, written last: a directory without one is not a
//! backup) records versions, each log's checkpoint, and the SHA-256 of every file.
//!
//! Secrets are not in a production backup (they live in the environment the config
//! names; keep them apart). A `--dev` backup includes the data directory's key files,
//! because a dev server keeps its secrets there.

mod manifest;
mod restore;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use vouch_store::meta::{MetaError, SqliteMeta};
use vouch_store::{LocalDir, Objects, PostgresLock, SqliteLock, StoreError};
use vouch_tlog::Checkpoint;

pub use manifest::{LogEntry, Manifest, MetaKind, FORMAT as MANIFEST_FORMAT};
pub use restore::restore;

use crate::config::{DatabaseConfig, LockConfig, ObjectsConfig, ServeConfig};

/// File names inside a backup directory.
pub const MANIFEST: &str = "manifest.json";
const META_SQLITE: &str = "meta.db";
const META_PGDUMP: &str = "meta.pgdump";
const LOCK_ROWS: &str = "lock.json";
const OBJECTS: &str = "objects";
pub const DEV_DIR: &str = "dev";

/// Where a registry keeps its state, with every path resolved and every URL read
/// from the environment (the CLI builds this from the config and flags).
#[derive(Debug, Clone)]
pub struct Place {
    /// The metadata database.
    pub meta: MetaPlace,
    /// The checkpoint lock table.
    pub lock: LockPlace,
    /// The local object store directory.
    pub objects: PathBuf,
    /// `--dev`: the data directory whose key files travel with the backup.
    pub dev_data: Option<PathBuf>,
    /// The main log's origin and the CT log's origin (objects under `ct/`).
    pub origin: String,
    pub ct_origin: String,
}

#[derive(Clone)]
pub enum MetaPlace {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Clone)]
pub enum LockPlace {
    Sqlite(PathBuf),
    Postgres(String),
}

// URLs may carry passwords: never print them.
impl std::fmt::Debug for MetaPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaPlace::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            MetaPlace::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl std::fmt::Debug for LockPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockPlace::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            LockPlace::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl Place {
    /// The place a loaded config names. `database_url` / `lock_url` are the PostgreSQL
    /// URLs already read from the environment when the config uses PostgreSQL.
    pub fn from_config(
        cfg: &ServeConfig,
        database_url: Option<String>,
        lock_url: Option<String>,
        dev_data: Option<PathBuf>,
    ) -> Result<Place, BackupError> {
        let objects = match &cfg.storage.objects {
            ObjectsConfig::Local { path } => path.clone(),
            ObjectsConfig::S3 { .. } => {
                return Err(BackupError::Unsupported {
                    what: "an S3 object store (back the bucket up with its own versioning or replication, after this command's database backup)",
                })
            }
            ObjectsConfig::Memory => {
                return Err(BackupError::Unsupported {
                    what: "the in-memory object store",
                })
            }
        };
        let meta = match (&cfg.database, database_url) {
            (_, Some(url)) => MetaPlace::Postgres(url),
            (DatabaseConfig::Sqlite { path }, None) => MetaPlace::Sqlite(path.clone()),
            (DatabaseConfig::Postgres { url_env }, None) => {
                MetaPlace::Postgres(crate::config::secret_env(url_env).map_err(|_| {
                    BackupError::MissingVariable {
                        var: url_env.clone(),
                    }
                })?)
            }
        };
        let lock = match (&cfg.storage.lock, lock_url) {
            (LockConfig::Sqlite { path }, _) => LockPlace::Sqlite(path.clone()),
            (LockConfig::Postgres { .. }, Some(url)) => LockPlace::Postgres(url),
            (LockConfig::Postgres { url_env }, None) => {
                LockPlace::Postgres(crate::config::secret_env(url_env).map_err(|_| {
                    BackupError::MissingVariable {
                        var: url_env.clone(),
                    }
                })?)
            }
        };
        Ok(Place {
            meta,
            lock,
            objects,
            dev_data,
            origin: cfg.log.origin.clone(),
            ct_origin: crate::sigstore::ct::origin(cfg),
        })
    }
}

/// Why a backup or restore failed. Nothing is half-written on a refusal checked up
/// front (`OutputNotEmpty`, `TargetNotEmpty`, `Manifest`, `Digest`, `NotCovered` at
/// restore); an IO or database failure midway leaves a directory without a manifest
/// (backup) or a partly filled target (restore) that must be emptied before a retry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error(
        "the backup directory {path} is not empty (choose a new one: backups never overwrite)"
    )]
    OutputNotEmpty { path: PathBuf },
    #[error("backing up {what} is not supported")]
    Unsupported { what: &'static str },
    #[error("environment variable {var} is not set")]
    MissingVariable { var: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the metadata database failed during {op}: {source}")]
    Meta {
        op: &'static str,
        #[source]
        source: MetaError,
    },
    #[error("the lock database failed: {source}")]
    Lock {
        #[source]
        source: StoreError,
    },
    #[error("the lock table has no checkpoint for log {origin} (is this the right config?)")]
    MissingLog { origin: String },
    #[error("the checkpoint of log {origin} is unreadable: {reason}")]
    BadCheckpoint { origin: String, reason: String },
    #[error("the tiles do not cover the checkpoint of log {origin} (size {size}): {reason}")]
    NotCovered {
        origin: String,
        size: u64,
        reason: String,
    },
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: &'static str,
        status: String,
        stderr: String,
    },
    #[error("the backup manifest is invalid: {reason}")]
    Manifest { reason: String },
    #[error("backup file {file} does not match the manifest: expected SHA-256 {expected}, found {found}")]
    Digest {
        file: String,
        expected: String,
        found: String,
    },
    #[error("the restore target is not empty: {what} (restore only into a fresh place; nothing was written)")]
    TargetNotEmpty { what: String },
}

impl BackupError {
    /// The stable code (README, "Error codes"). Never renumbered.
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::OutputNotEmpty { .. } => "BACKUP_E001",
            BackupError::Unsupported { .. } => "BACKUP_E002",
            BackupError::MissingVariable { .. } => "BACKUP_E003",
            BackupError::Io { .. } => "BACKUP_E004",
            BackupError::Meta { .. } | BackupError::Lock { .. } => "BACKUP_E005",
            BackupError::MissingLog { .. } | BackupError::BadCheckpoint { .. } => "BACKUP_E006",
            BackupError::NotCovered { .. } => "BACKUP_E007",
            BackupError::Tool { .. } => "BACKUP_E008",
            BackupError::Manifest { .. } => "BACKUP_E009",
            BackupError::Digest { .. } => "BACKUP_E010",
            BackupError::TargetNotEmpty { .. } => "BACKUP_E011",
        }
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Backs up the registry at `place` into `out` (created if missing, must be empty)
/// while it runs. Returns the manifest written last.
pub async fn backup(place: &Place, out: &Path) -> Result<Manifest, BackupError> {
    match std::fs::read_dir(out) {
        Ok(mut d) => {
            if d.next().is_some() {
                return Err(BackupError::OutputNotEmpty {
                    path: out.to_owned(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(out).map_err(io("creating", out))?
        }
        Err(e) => return Err(io("reading", out)(e)),
    }

    // 1. Metadata, one snapshot.
    let meta_kind = match &place.meta {
        MetaPlace::Sqlite(path) => {
            let meta = SqliteMeta::open(path, false)
                .await
                .map_err(|source| BackupError::Meta { op: "open", source })?;
            meta.snapshot_into(&out.join(META_SQLITE))
                .await
                .map_err(|source| BackupError::Meta {
                    op: "VACUUM INTO",
                    source,
                })?;
            meta.close().await;
            MetaKind::Sqlite
        }
        MetaPlace::Postgres(url) => {
            pg_dump(url, &out.join(META_PGDUMP)).await?;
            MetaKind::Postgres
        }
    };

    // 2. Lock rows, one statement.
    let rows = lock_rows(&place.lock).await?;
    let mut logs = Vec::new();
    for (origin, prefix) in [(&place.origin, ""), (&place.ct_origin, "ct/")] {
        let note = rows
            .iter()
            .find(|(id, _)| id == origin)
            .map(|(_, n)| n.clone())
            .ok_or_else(|| BackupError::MissingLog {
                origin: origin.clone(),
            })?;
        logs.push(LogEntry::from_note(origin, prefix, &note)?);
    }
    let lock_json = manifest::rows_to_json(&rows);
    write_file(&out.join(LOCK_ROWS), lock_json.as_bytes())?;

    // 3. Objects, after the rows; then the published checkpoints become the committed ones.
    let src = place.objects.clone();
    let dst = out.join(OBJECTS);
    tokio::task::spawn_blocking(move || copy_tree(&src, &dst))
        .await
        .map_err(|e| BackupError::Io {
            op: "copying objects",
            path: place.objects.clone(),
            source: std::io::Error::other(e.to_string()),
        })??;
    for l in &logs {
        let path = out.join(OBJECTS).join(format!("{}checkpoint", l.prefix));
        write_file(&path, l.note.as_bytes())?;
    }
    check_logs(&out.join(OBJECTS), &logs).await?;

    // Dev secrets travel with a dev backup (a dev server keeps them in its data dir).
    if let Some(data) = &place.dev_data {
        copy_dev_files(data, &out.join(DEV_DIR))?;
    }

    let files = digests(out)?;
    let m = Manifest::new(meta_kind, logs, files);
    let tmp = out.join(".manifest.json.tmp");
    write_file(&tmp, m.to_json().as_bytes())?;
    std::fs::rename(&tmp, out.join(MANIFEST)).map_err(io("renaming", &tmp))?;
    sync_dir(out)?;
    Ok(m)
}

/// Every lock row, read in one statement.
async fn lock_rows(lock: &LockPlace) -> Result<Vec<(String, Vec<u8>)>, BackupError> {
    let err = |source| BackupError::Lock { source };
    match lock {
        LockPlace::Sqlite(path) => {
            let l = SqliteLock::open(path, false).await.map_err(err)?;
            let rows = l.all().await.map_err(err)?;
            l.close().await;
            Ok(rows)
        }
        LockPlace::Postgres(url) => {
            let l = PostgresLock::connect(url, false).await.map_err(err)?;
            let rows = l.all().await.map_err(err)?;
            l.close().await;
            Ok(rows)
        }
    }
}

/// Checks that the tiles under `objects` cover every log's checkpoint.
async fn check_logs(objects: &Path, logs: &[LogEntry]) -> Result<(), BackupError> {
    let store: Arc<dyn Objects> =
        Arc::new(
            LocalDir::open(objects).map_err(|e| BackupError::NotCovered {
                origin: String::new(),
                size: 0,
                reason: e.to_string(),
            })?,
        );
    for l in logs {
        let view: Arc<dyn Objects> = if l.prefix.is_empty() {
            Arc::clone(&store)
        } else {
            Arc::new(crate::sigstore::ct::PrefixedObjects::new(
                Arc::clone(&store),
                crate::sigstore::ct::OBJECT_PREFIX,
            ))
        };
        vouch_log::invariants::check_coverage(&*view, l.size, l.root)
            .await
            .map_err(|e| BackupError::NotCovered {
                origin: l.origin.clone(),
                size: l.size,
                reason: e.to_string(),
            })?;
    }
    Ok(())
}

/// Parses the checkpoint of a signed note (size and root) without checking its
/// signature: the server that opens the restored log checks it against its key, and
/// the coverage check ties it to the tiles.
fn parse_note(origin: &str, note: &[u8]) -> Result<Checkpoint, BackupError> {
    let bad = |reason: String| BackupError::BadCheckpoint {
        origin: origin.to_owned(),
        reason,
    };
    let (cp, _) = vouch_tlog::checkpoint::parse_unverified(note).map_err(|e| bad(e.to_string()))?;
    if cp.origin != origin {
        return Err(bad(format!("its origin is {:?}", cp.origin)));
    }
    Ok(cp)
}

/// The PostgreSQL client tools' view of `url`: the URL without its password, and the
/// password for `PGPASSWORD`, so that no secret appears in the tools' command line
/// (which `ps` shows every local user).
pub(super) fn libpq_target(url: &str) -> (String, Option<String>) {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let password = u.password().map(|p| {
                percent_encoding::percent_decode_str(p)
                    .decode_utf8_lossy()
                    .into_owned()
            });
            if password.is_some() {
                let _ = u.set_password(None);
            }
            (u.to_string(), password)
        }
        // Not a URL (a libpq keyword string): pass it on unchanged.
        Err(_) => (url.to_owned(), None),
    }
}

async fn pg_dump(url: &str, dst: &Path) -> Result<(), BackupError> {
    // One repeatable-read snapshot of every table but the lock table, which is read
    // afterwards (step 2) so that its checkpoint covers what the dump names.
    let mut file = std::ffi::OsString::from("--file=");
    file.push(dst);
    run_pg_tool(
        "pg_dump",
        url,
        &[
            "--format=custom".as_ref(),
            "--no-owner".as_ref(),
            "--no-privileges".as_ref(),
            "--exclude-table=vouch_checkpoints".as_ref(),
            file.as_os_str(),
        ],
    )
    .await
}

/// Runs a PostgreSQL client tool (`pg_dump`, `pg_restore`) on the database at `url`,
/// the password passed by `PGPASSWORD` ([`libpq_target`]); a failure carries the
/// tool's exit status and stderr.
pub(super) async fn run_pg_tool(
    tool: &'static str,
    url: &str,
    args: &[&std::ffi::OsStr],
) -> Result<(), BackupError> {
    let (target, password) = libpq_target(url);
    let out = tokio::process::Command::new(tool)
        .arg(format!("--dbname={target}"))
        .args(args)
        .envs(password.map(|p| ("PGPASSWORD", p)))
        .output()
        .await
        .map_err(|e| BackupError::Tool {
            tool,
            status: "could not start".into(),
            stderr: format!("{e} (install the PostgreSQL client tools)"),
        })?;
    if !out.status.success() {
        return Err(BackupError::Tool {
            tool,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Writes `bytes` to a new file at `path` and fsyncs it.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    let mut f = std::fs::File::create(path).map_err(io("creating", path))?;
    f.write_all(bytes).map_err(io("writing", path))?;
    f.sync_all().map_err(io("syncing", path))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing", dir))
}

/// Copies the regular files under `src` into `dst`, skipping dot-files (the object
/// store's in-flight temp files), fsyncing each copy.
fn copy_tree(src: &Path, dst: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(dst).map_err(io("creating", dst))?;
    let entries = std::fs::read_dir(src).map_err(io("reading", src))?;
    for e in entries {
        let e = e.map_err(io("reading", src))?;
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let from = e.path();
        let to = dst.join(&name);
        let ty = e.file_type().map_err(io("reading", &from))?;
        if ty.is_dir() {
            copy_tree(&from, &to)?;
        } else if ty.is_file() {
            copy_file(&from, &to)?;
        }
    }
    sync_dir(dst)
}

fn copy_file(from: &Path, to: &Path) -> Result<(), BackupError> {
    let mut r = match std::fs::File::open(from) {
        Ok(f) => f,
        // A temp file renamed away between listing and opening.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("opening", from)(e)),
    };
    let mut w = std::fs::File::create(to).map_err(io("creating", to))?;
    std::io::copy(&mut r, &mut w).map_err(io("copying", from))?;
    w.sync_all().map_err(io("syncing", to))
}

/// The dev data directory's own files (keys and tokens), not its databases.
fn dev_files(data: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(data).map_err(io("reading", data))? {
        let e = e.map_err(io("reading", data))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_db = name.starts_with("meta.db") || name.starts_with("lock.db");
        if e.file_type().map_err(io("reading", data))?.is_file() && !is_db && !name.starts_with('.')
        {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

fn copy_dev_files(data: &Path, dst: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dst).map_err(io("creating", dst))?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o700))
        .map_err(io("protecting", dst))?;
    for f in dev_files(data)? {
        let to = dst.join(f.file_name().unwrap_or_default());
        copy_file(&f, &to)?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
            .map_err(io("protecting", &to))?;
    }
    Ok(())
}

/// SHA-256 of every file under `root` (relative paths, `/`-separated), the manifest
/// and its temp file excluded.
fn digests(root: &Path) -> Result<std::collections::BTreeMap<String, String>, BackupError> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(io("reading", &dir))? {
            let e = e.map_err(io("reading", &dir))?;
            let p = e.path();
            if e.file_type().map_err(io("reading", &p))?.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .map_err(|_| BackupError::Manifest {
                    reason: format!("{} is outside the backup", p.display()),
                })?
                .to_string_lossy()
                .into_owned();
            if rel == MANIFEST || rel == ".manifest.json.tmp" {
                continue;
            }
            out.insert(rel, sha256_file(&p)?);
        }
    }
    Ok(out)
}

#[allow(
    clippy::indexing_slicing,
    reason = "n never exceeds buf.len(): Read::read returns at most the length it is given"
)]
fn sha256_file(path: &Path) -> Result<String, BackupError> {
    let mut f = std::fs::File::open(path).map_err(io("opening", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io("reading", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::libpq_target;

    #[test]
    fn the_password_leaves_the_command_line() {
        let (target, pw) = libpq_target("postgres://vouch:s%40cret@db.example:5432/meta");
        assert_eq!(target, "postgres://vouch@db.example:5432/meta");
        assert_eq!(pw.as_deref(), Some("s@cret"));
        let (target, pw) = libpq_target("postgres://postgres@127.0.0.1/x");
        assert_eq!(target, "postgres://postgres@127.0.0.1/x");
        assert_eq!(pw, None);
    }
}
