//! The Python index's files and yanks: a file row is the commit point of an upload, and a taken file name never changes.

use sqlx::Pool;

use super::bindings::promote_pending_in;
use super::packages::{check_binding, name_lock, package_in};
use super::rows::{digest, get, to_i64, to_u64, DbRow};
use super::{begin_write, lock_name, Db};
use crate::meta::*;

const FILE_COLS: &str = "f.id, f.package_id, f.filename, f.version, f.kind, f.sha256, f.blake3, \
     f.size, f.requires_python, f.metadata_sha256, f.metadata_blake3, f.provenance_blake3, \
     f.binding_id, f.uploaded_at, y.reason AS yank_reason";
const FROM_FILES: &str = "pypi_files f LEFT JOIN pypi_yanked y \
     ON y.package_id = f.package_id AND y.version = f.version";

fn opt_digest(column: &'static str, text: Option<String>) -> Result<Option<[u8; 32]>, MetaError> {
    text.map(|t| digest("pypi_files", column, &t)).transpose()
}

fn file_row(r: &DbRow) -> Result<PyFile, MetaError> {
    let size: i64 = get(r, "size")?;
    Ok(PyFile {
        id: get(r, "id")?,
        package_id: PackageId(get(r, "package_id")?),
        dist: PyDist {
            filename: get(r, "filename")?,
            version: get(r, "version")?,
            kind: get(r, "kind")?,
            sha256: digest("pypi_files", "sha256", &get::<String>(r, "sha256")?)?,
            blake3: digest("pypi_files", "blake3", &get::<String>(r, "blake3")?)?,
            size: to_u64("pypi_files", "size", size)?,
            requires_python: get(r, "requires_python")?,
        },
        metadata_sha256: opt_digest("metadata_sha256", get(r, "metadata_sha256")?)?,
        metadata_blake3: opt_digest("metadata_blake3", get(r, "metadata_blake3")?)?,
        provenance_blake3: opt_digest("provenance_blake3", get(r, "provenance_blake3")?)?,
        binding_id: get::<Option<i64>>(r, "binding_id")?.map(BindingId),
        uploaded_at: Timestamp(get(r, "uploaded_at")?),
        yanked: get(r, "yank_reason")?,
    })
}

async fn file_in<'e, E: sqlx::Executor<'e, Database = Db>>(
    conn: E,
    filename: &str,
) -> Result<Option<PyFile>, MetaError> {
    let q = format!("SELECT {FILE_COLS} FROM {FROM_FILES} WHERE f.filename = $1");
    let row = sqlx::query(&q)
        .bind(filename)
        .fetch_optional(conn)
        .await
        .map_err(MetaError::db("read python file"))?;
    row.as_ref().map(file_row).transpose()
}

pub(super) async fn insert_file(
    pool: &Pool<Db>,
    f: &NewPyFile,
    publisher: PyPublisher,
) -> Result<PyFileInsert, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin python upload"))?;
    // A taken name answers with what it holds, before anything is checked or written.
    if let Some(existing) = file_in(&mut *tx, &f.dist.filename).await? {
        return Ok(PyFileInsert::Existing(existing));
    }
    let (package, binding) = match publisher {
        PyPublisher::Pending(id) => {
            let (package, binding) = promote_pending_in(
                &mut tx,
                id,
                f.repository_owner_id.as_deref(),
                Some(&f.actor),
                f.uploaded_at,
            )
            .await?;
            if package.name != f.package {
                return Err(MetaError::UnknownPendingBinding { id });
            }
            (package, binding.id)
        }
        PyPublisher::Active(id) => {
            lock_name(&mut tx, &name_lock(&f.package))
                .await
                .map_err(MetaError::db("lock package name"))?;
            let package = package_in(&mut tx, &f.package).await?.ok_or_else(|| {
                MetaError::UnknownPackage {
                    name: f.package.clone(),
                }
            })?;
            check_binding(&mut tx, &package, id, f.repository_owner_id.as_deref()).await?;
            (package, id)
        }
    };
    let hex_opt = |d: Option<[u8; 32]>| d.map(hex::encode);
    let q = "INSERT INTO pypi_files (package_id, filename, version, kind, sha256, blake3, \
         size, requires_python, metadata_sha256, metadata_blake3, provenance_blake3, \
         binding_id, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13) ON CONFLICT (filename) DO NOTHING RETURNING id";
    let inserted: Option<(i64,)> = sqlx::query_as(q)
        .bind(package.id.0)
        .bind(&f.dist.filename)
        .bind(&f.dist.version)
        .bind(&f.dist.kind)
        .bind(hex::encode(f.dist.sha256))
        .bind(hex::encode(f.dist.blake3))
        .bind(to_i64("size", f.dist.size)?)
        .bind(&f.dist.requires_python)
        .bind(hex_opt(f.metadata.map(|m| m.0)))
        .bind(hex_opt(f.metadata.map(|m| m.1)))
        .bind(hex_opt(f.provenance_blake3))
        .bind(binding.0)
        .bind(f.uploaded_at.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(MetaError::db("insert python file"))?;
    if inserted.is_none() {
        // Another upload took the name since the read: report what it stored.
        drop(tx);
        let existing = file_in(pool, &f.dist.filename)
            .await?
            .ok_or_else(|| MetaError::db("read python file")(sqlx::Error::RowNotFound))?;
        return Ok(PyFileInsert::Existing(existing));
    }
    let stored = file_in(&mut *tx, &f.dist.filename)
        .await?
        .ok_or_else(|| MetaError::db("read python file")(sqlx::Error::RowNotFound))?;
    // Commit point: the file (and, through a pending binding, its project) appears.
    tx.commit()
        .await
        .map_err(MetaError::db("commit python upload"))?;
    Ok(PyFileInsert::Inserted(stored))
}

pub(super) async fn files(pool: &Pool<Db>, package: &str) -> Result<Vec<PyFile>, MetaError> {
    let q = format!(
        "SELECT {FILE_COLS} FROM {FROM_FILES} JOIN packages p ON p.id = f.package_id \
         WHERE p.name = $1 ORDER BY f.id"
    );
    let rows = sqlx::query(&q)
        .bind(package)
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("read python files"))?;
    rows.iter().map(file_row).collect()
}

pub(super) async fn file(pool: &Pool<Db>, filename: &str) -> Result<Option<PyFile>, MetaError> {
    file_in(pool, filename).await
}

pub(super) async fn projects(pool: &Pool<Db>) -> Result<Vec<String>, MetaError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT p.name FROM packages p JOIN pypi_files f ON f.package_id = p.id \
         ORDER BY p.name",
    )
    .fetch_all(pool)
    .await
    .map_err(MetaError::db("read python projects"))?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

pub(super) async fn set_yanked(
    pool: &Pool<Db>,
    package: &str,
    version: &str,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<bool, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin yank"))?;
    let found: Option<(i64,)> = sqlx::query_as(
        "SELECT f.package_id FROM pypi_files f JOIN packages p ON p.id = f.package_id \
         WHERE p.name = $1 AND f.version = $2 LIMIT 1",
    )
    .bind(package)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await
    .map_err(MetaError::db("read python release"))?;
    let Some((package_id,)) = found else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM pypi_yanked WHERE package_id = $1 AND version = $2")
        .bind(package_id)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("un-yank"))?;
    if let Some(reason) = reason {
        sqlx::query(
            "INSERT INTO pypi_yanked (package_id, version, reason, yanked_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(package_id)
        .bind(version)
        .bind(reason)
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("yank"))?;
    }
    tx.commit().await.map_err(MetaError::db("commit yank"))?;
    Ok(true)
}

pub(super) async fn candidate_bindings(
    pool: &Pool<Db>,
    provider: &str,
    repository: &str,
) -> Result<(Vec<(String, Binding)>, Vec<PendingBinding>), MetaError> {
    let prefix = format!("@{PYPI_SCOPE}/%");
    let repository = repository.to_lowercase();
    let active = sqlx::query(
        "SELECT p.name AS package_name, b.id, b.package_id, b.provider, b.repository, \
         b.workflow, b.environment, b.email, b.repository_owner_id, b.created_by, \
         b.created_at, b.removed_at FROM bindings b JOIN packages p ON p.id = b.package_id \
         WHERE b.removed_at IS NULL AND b.provider = $1 AND b.repository_lc = $2 \
         AND p.name LIKE $3 ORDER BY b.id",
    )
    .bind(provider)
    .bind(&repository)
    .bind(&prefix)
    .fetch_all(pool)
    .await
    .map_err(MetaError::db("read bindings"))?;
    let mut out = Vec::with_capacity(active.len());
    for r in &active {
        out.push((get(r, "package_name")?, super::rows::binding(r)?));
    }
    let pending = sqlx::query(
        "SELECT id, package_name, provider, repository, workflow, environment, email, \
         created_by, created_at FROM pending_bindings \
         WHERE provider = $1 AND repository_lc = $2 AND package_name LIKE $3 ORDER BY id",
    )
    .bind(provider)
    .bind(&repository)
    .bind(&prefix)
    .fetch_all(pool)
    .await
    .map_err(MetaError::db("read pending bindings"))?;
    let pending = pending
        .iter()
        .map(super::rows::pending)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((out, pending))
}
