//! Restore: check the whole backup (manifest, every file's digest, the lock rows against the manifest, tile coverage) and that the target is empty, and only then write metadata, lock rows, objects and (for `--dev`) the key files.

use std::collections::BTreeSet;
use std::path::Path;

use vouch_store::meta::{PostgresMeta, SqliteMeta};
use vouch_store::{CheckpointLock, PostgresLock, SqliteLock, StoreError};

use super::manifest::{rows_from_json, Manifest, MetaKind};
use super::{
    check_logs, copy_file, copy_tree, digests, io, BackupError, LockPlace, MetaPlace, Place,
    DEV_DIR, LOCK_ROWS, MANIFEST, META_PGDUMP, META_SQLITE, OBJECTS,
};

/// Restores the backup in `from` into `place`, which must be empty (no object, no
/// metadata table or file, no lock row, no dev key file). Run with the server stopped;
/// start it afterwards with the same config. Returns the backup's manifest.
#[allow(
    clippy::indexing_slicing,
    reason = "found holds every listed file: the listed and present sets are checked equal above"
)]
pub async fn restore(place: &Place, from: &Path) -> Result<Manifest, BackupError> {
    let manifest_path = from.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BackupError::Manifest {
            reason: format!(
                "{} is missing: {} is not a complete backup",
                MANIFEST,
                from.display()
            ),
        },
        _ => io("reading", &manifest_path)(e),
    })?;
    let m = Manifest::parse(&text)?;

    // The backup, whole: the same set of files, each with its digest.
    let found = digests(from)?;
    let expected: BTreeSet<&String> = m.files.keys().collect();
    let present: BTreeSet<&String> = found.keys().collect();
    if let Some(missing) = expected.difference(&present).next() {
        return Err(BackupError::Manifest {
            reason: format!("file {missing} is listed but missing"),
        });
    }
    if let Some(extra) = present.difference(&expected).next() {
        return Err(BackupError::Manifest {
            reason: format!("file {extra} is not listed"),
        });
    }
    for (file, digest) in &m.files {
        if found[file] != *digest {
            return Err(BackupError::Digest {
                file: file.clone(),
                expected: digest.clone(),
                found: found[file].clone(),
            });
        }
    }
    let meta_file = match m.meta {
        MetaKind::Sqlite => META_SQLITE,
        MetaKind::Postgres => META_PGDUMP,
    };
    if !m.files.contains_key(meta_file) {
        return Err(BackupError::Manifest {
            reason: format!("the metadata file {meta_file} is not in the backup"),
        });
    }
    let rows_text = std::fs::read_to_string(from.join(LOCK_ROWS))
        .map_err(io("reading", &from.join(LOCK_ROWS)))?;
    let rows = rows_from_json(&rows_text)?;
    for l in &m.logs {
        let row = rows.iter().find(|(id, _)| *id == l.origin);
        if row.map(|(_, n)| n.as_slice()) != Some(l.note.as_bytes()) {
            return Err(BackupError::Manifest {
                reason: format!("lock.json and the manifest disagree on log {}", l.origin),
            });
        }
    }
    for origin in [&place.origin, &place.ct_origin] {
        if !m.logs.iter().any(|l| &l.origin == origin) {
            return Err(BackupError::Manifest {
                reason: format!(
                    "the backup has no log {origin} (the target config names it): \
                     a backup of another instance?"
                ),
            });
        }
    }
    check_logs(&from.join(OBJECTS), &m.logs).await?;

    // The target: empty everywhere, checked before anything is written.
    match std::fs::read_dir(&place.objects) {
        Ok(mut d) => {
            if d.next().is_some() {
                return Err(not_empty(format!(
                    "the object store {} has files",
                    place.objects.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("reading", &place.objects)(e)),
    }
    match (&place.meta, m.meta) {
        (MetaPlace::Sqlite(path), MetaKind::Sqlite) => {
            for p in sqlite_files(path) {
                if p.exists() {
                    return Err(not_empty(format!("{} exists", p.display())));
                }
            }
        }
        (MetaPlace::Postgres(url), MetaKind::Postgres) => {
            let meta = PostgresMeta::connect(url)
                .await
                .map_err(|source| BackupError::Meta {
                    op: "connect",
                    source,
                })?;
            let tables = meta
                .table_count()
                .await
                .map_err(|source| BackupError::Meta {
                    op: "list tables",
                    source,
                })?;
            meta.close().await;
            if tables > 0 {
                return Err(not_empty(format!(
                    "the metadata database has {tables} tables"
                )));
            }
        }
        (_, kind) => {
            return Err(BackupError::Manifest {
                reason: format!(
                    "the backup holds {} metadata and the target config names the other kind",
                    match kind {
                        MetaKind::Sqlite => "SQLite",
                        MetaKind::Postgres => "PostgreSQL",
                    }
                ),
            })
        }
    }
    match &place.lock {
        LockPlace::Sqlite(path) => {
            for p in sqlite_files(path) {
                if p.exists() {
                    return Err(not_empty(format!("{} exists", p.display())));
                }
            }
        }
        LockPlace::Postgres(url) => match PostgresLock::connect(url, false).await {
            Err(StoreError::MissingSchema { .. }) => {}
            Err(source) => return Err(BackupError::Lock { source }),
            Ok(l) => {
                let n = l
                    .all()
                    .await
                    .map_err(|source| BackupError::Lock { source })?;
                l.close().await;
                if !n.is_empty() {
                    return Err(not_empty(format!("the lock table has {} rows", n.len())));
                }
            }
        },
    }
    let dev_src = from.join(DEV_DIR);
    if let Some(data) = &place.dev_data {
        if let Ok(d) = std::fs::read_dir(&dev_src) {
            for e in d {
                let e = e.map_err(io("reading", &dev_src))?;
                let to = data.join(e.file_name());
                if to.exists() {
                    return Err(not_empty(format!("{} exists", to.display())));
                }
            }
        }
    }

    // Write: objects, metadata, lock rows, then dev key files.
    let src = from.join(OBJECTS);
    let dst = place.objects.clone();
    tokio::task::spawn_blocking(move || copy_tree(&src, &dst))
        .await
        .map_err(|e| BackupError::Io {
            op: "copying objects",
            path: place.objects.clone(),
            source: std::io::Error::other(e.to_string()),
        })??;
    match &place.meta {
        MetaPlace::Sqlite(path) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
            }
            let tmp = path.with_extension("restore-tmp");
            copy_file(&from.join(META_SQLITE), &tmp)?;
            std::fs::rename(&tmp, path).map_err(io("renaming", &tmp))?;
            // Opening once checks the file is a database and turns WAL mode back on.
            let meta = SqliteMeta::open(path, false)
                .await
                .map_err(|source| BackupError::Meta { op: "open", source })?;
            meta.close().await;
        }
        MetaPlace::Postgres(url) => pg_restore(url, &from.join(META_PGDUMP)).await?,
    }
    let lock: Box<dyn CheckpointLock> = match &place.lock {
        LockPlace::Sqlite(path) => Box::new(
            SqliteLock::open(path, true)
                .await
                .map_err(|source| BackupError::Lock { source })?,
        ),
        LockPlace::Postgres(url) => Box::new(
            PostgresLock::connect(url, true)
                .await
                .map_err(|source| BackupError::Lock { source })?,
        ),
    };
    for (id, cp) in &rows {
        lock.create(id, cp)
            .await
            .map_err(|source| BackupError::Lock { source })?;
    }
    if let (Some(data), Ok(d)) = (&place.dev_data, std::fs::read_dir(&dev_src)) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(data).map_err(io("creating", data))?;
        for e in d {
            let e = e.map_err(io("reading", &dev_src))?;
            let to = data.join(e.file_name());
            copy_file(&e.path(), &to)?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                .map_err(io("protecting", &to))?;
        }
    }
    Ok(m)
}

fn not_empty(what: String) -> BackupError {
    BackupError::TargetNotEmpty { what }
}

/// A SQLite database and its WAL companions.
fn sqlite_files(path: &Path) -> [std::path::PathBuf; 3] {
    let s = path.as_os_str().to_owned();
    let with = |suffix: &str| {
        let mut p = s.clone();
        p.push(suffix);
        std::path::PathBuf::from(p)
    };
    [path.to_owned(), with("-wal"), with("-shm")]
}

async fn pg_restore(url: &str, dump: &Path) -> Result<(), BackupError> {
    super::run_pg_tool(
        "pg_restore",
        url,
        &[
            "--no-owner".as_ref(),
            "--no-privileges".as_ref(),
            "--exit-on-error".as_ref(),
            "--single-transaction".as_ref(),
            dump.as_os_str(),
        ],
    )
    .await
}
