//! Packages, owners and versions (index entries); the version row is the commit point of a publish.

use sqlx::Pool;

use super::rows::{self, to_i64, USER_COLS, VERSION_COLS};
use super::{begin_write, lock_name, Db};
use crate::meta::error::is_unique_violation;
use crate::meta::*;

type Conn = <Db as sqlx::Database>::Connection;

/// The advisory-lock key serialising writes that decide on a package name (its
/// creation, its binding cap, its pending bindings). Keyed by the normalised name, so
/// spellings that normalise alike serialise too.
pub(super) fn name_lock(name: &str) -> String {
    format!("vouch.package:{}", normalized_name(name))
}

pub(super) async fn package_in(conn: &mut Conn, name: &str) -> Result<Option<Package>, MetaError> {
    let row = sqlx::query("SELECT id, name, created_at FROM packages WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(MetaError::db("read package"))?;
    row.as_ref().map(rows::package).transpose()
}

/// Inserts a package and its first owner inside the caller's transaction, claiming
/// the package's scope for `owner` if nobody owns it yet. Refuses a scope owned by
/// others ([`MetaError::ScopeClaimed`]) and a name that normalises like an existing
/// one ([`MetaError::NameConflict`]; the UNIQUE index on `name_norm` decides races,
/// which then surface as [`MetaError::PackageExists`]).
pub(super) async fn insert_package(
    conn: &mut Conn,
    name: &str,
    owner: UserId,
    now: Timestamp,
) -> Result<Package, MetaError> {
    let scope =
        normalized_scope(name).ok_or_else(|| MetaError::UnscopedName { name: name.into() })?;
    let norm = normalized_name(name);
    ensure_user(conn, owner).await?;
    // Existence first: that a package exists is public, who owns a scope is not.
    if let Some(existing) = name_taken(conn, &norm).await? {
        return Err(if existing == name {
            MetaError::PackageExists { name: name.into() }
        } else {
            MetaError::NameConflict {
                name: name.into(),
                existing,
            }
        });
    }
    claim_scope(conn, &scope, owner, now).await?;
    let row = sqlx::query(
        "INSERT INTO packages (name, name_norm, created_at) VALUES ($1, $2, $3) \
         RETURNING id, name, created_at",
    )
    .bind(name)
    .bind(&norm)
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            MetaError::PackageExists { name: name.into() }
        } else {
            MetaError::db("create package")(e)
        }
    })?;
    let package = rows::package(&row)?;
    insert_owner(conn, package.id, owner, now).await?;
    Ok(package)
}

/// The existing package whose normalised name is `norm`, if any.
pub(super) async fn name_taken(conn: &mut Conn, norm: &str) -> Result<Option<String>, MetaError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT name FROM packages WHERE name_norm = $1")
        .bind(norm)
        .fetch_optional(conn)
        .await
        .map_err(MetaError::db("read package name"))?;
    Ok(row.map(|r| r.0))
}

/// Claims `scope` (normalised) for `user` if it is unclaimed; otherwise `user` must be
/// one of its owners ([`MetaError::ScopeClaimed`], which names nobody). The scopes
/// table's PRIMARY KEY decides between concurrent first claimants: the loser's insert
/// does nothing and it then finds itself not an owner.
pub(super) async fn claim_scope(
    conn: &mut Conn,
    scope: &str,
    user: UserId,
    now: Timestamp,
) -> Result<(), MetaError> {
    let claimed: Option<(String,)> = sqlx::query_as(
        "INSERT INTO scopes (name, created_by, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING RETURNING name",
    )
    .bind(scope)
    .bind(user.0)
    .bind(now.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(MetaError::db("claim scope"))?;
    if claimed.is_some() {
        return insert_scope_owner(conn, scope, user, now).await;
    }
    let owner: Option<(i64,)> =
        sqlx::query_as("SELECT user_id FROM scope_owners WHERE scope = $1 AND user_id = $2")
            .bind(scope)
            .bind(user.0)
            .fetch_optional(conn)
            .await
            .map_err(MetaError::db("read scope owners"))?;
    match owner {
        Some(_) => Ok(()),
        None => Err(MetaError::ScopeClaimed {
            scope: scope.into(),
        }),
    }
}

async fn insert_scope_owner(
    conn: &mut Conn,
    scope: &str,
    user: UserId,
    now: Timestamp,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO scope_owners (scope, user_id, added_at) VALUES ($1, $2, $3) \
         ON CONFLICT (scope, user_id) DO NOTHING",
    )
    .bind(scope)
    .bind(user.0)
    .bind(now.0)
    .execute(conn)
    .await
    .map_err(MetaError::db("add scope owner"))?;
    Ok(())
}

/// An administrator's grant: makes `user` an owner of `scope` (claiming it if
/// unclaimed). Idempotent.
pub(super) async fn grant_scope(
    pool: &Pool<Db>,
    scope: &str,
    user: UserId,
    now: Timestamp,
) -> Result<(), MetaError> {
    let scope = normalized_name(scope);
    if scope.is_empty() || scope.contains('/') || scope.starts_with('@') {
        return Err(MetaError::UnscopedName { name: scope });
    }
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin grant scope"))?;
    ensure_user(&mut tx, user).await?;
    sqlx::query(
        "INSERT INTO scopes (name, created_by, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(&scope)
    .bind(user.0)
    .bind(now.0)
    .execute(&mut *tx)
    .await
    .map_err(MetaError::db("claim scope"))?;
    insert_scope_owner(&mut tx, &scope, user, now).await?;
    tx.commit()
        .await
        .map_err(MetaError::db("commit grant scope"))
}

/// The owners of `scope` (normalised here), oldest first; empty while unclaimed.
pub(super) async fn scope_owners(pool: &Pool<Db>, scope: &str) -> Result<Vec<User>, MetaError> {
    let q = format!(
        "SELECT {USER_COLS} FROM users u JOIN scope_owners s ON s.user_id = u.id \
         WHERE s.scope = $1 ORDER BY s.added_at, u.id"
    );
    let all = sqlx::query(&q)
        .bind(normalized_name(scope))
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list scope owners"))?;
    all.iter().map(rows::user).collect()
}

/// [`MetaError::UnknownUser`] unless `user` exists (a typed error instead of a
/// foreign-key failure).
pub(super) async fn ensure_user(conn: &mut Conn, user: UserId) -> Result<(), MetaError> {
    let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(user.0)
        .fetch_optional(conn)
        .await
        .map_err(MetaError::db("read user"))?;
    match found {
        Some(_) => Ok(()),
        None => Err(MetaError::UnknownUser { id: user }),
    }
}

async fn insert_owner(
    conn: &mut Conn,
    package: PackageId,
    user: UserId,
    now: Timestamp,
) -> Result<(), MetaError> {
    ensure_user(conn, user).await?;
    sqlx::query(
        "INSERT INTO package_owners (package_id, user_id, added_at) VALUES ($1, $2, $3) \
         ON CONFLICT (package_id, user_id) DO NOTHING",
    )
    .bind(package.0)
    .bind(user.0)
    .bind(now.0)
    .execute(conn)
    .await
    .map_err(MetaError::db("add owner"))?;
    Ok(())
}

pub(super) async fn create_package(
    pool: &Pool<Db>,
    name: &str,
    owner: UserId,
    now: Timestamp,
) -> Result<Package, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin create package"))?;
    lock_name(&mut tx, &name_lock(name))
        .await
        .map_err(MetaError::db("lock package name"))?;
    let package = insert_package(&mut tx, name, owner, now).await?;
    tx.commit().await.map_err(MetaError::db("commit package"))?;
    Ok(package)
}

pub(super) async fn package(pool: &Pool<Db>, name: &str) -> Result<Option<Package>, MetaError> {
    let mut conn = pool.acquire().await.map_err(MetaError::db("acquire"))?;
    package_in(&mut conn, name).await
}

pub(super) async fn summaries(
    pool: &Pool<Db>,
    after: &str,
    limit: u32,
) -> Result<Vec<PackageSummary>, MetaError> {
    let rows: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT p.name, v.version, v.created_at FROM packages p \
         LEFT JOIN versions v ON v.id = \
           (SELECT MAX(id) FROM versions WHERE package_id = p.id) \
         WHERE p.name > $1 ORDER BY p.name LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(MetaError::db("list packages"))?;
    Ok(rows
        .into_iter()
        .map(|(name, latest, at)| PackageSummary {
            name,
            latest,
            published_at: at.map(Timestamp),
        })
        .collect())
}

pub(super) async fn remove_owner(
    pool: &Pool<Db>,
    package: &str,
    user: UserId,
) -> Result<bool, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin remove owner"))?;
    let pkg = package_in(&mut tx, package)
        .await?
        .ok_or_else(|| MetaError::UnknownPackage {
            name: package.into(),
        })?;
    let done = sqlx::query("DELETE FROM package_owners WHERE package_id = $1 AND user_id = $2")
        .bind(pkg.id.0)
        .bind(user.0)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("remove owner"))?;
    tx.commit()
        .await
        .map_err(MetaError::db("commit remove owner"))?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn add_owner(
    pool: &Pool<Db>,
    package: &str,
    user: UserId,
    now: Timestamp,
) -> Result<(), MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin add owner"))?;
    let pkg = package_in(&mut tx, package)
        .await?
        .ok_or_else(|| MetaError::UnknownPackage {
            name: package.into(),
        })?;
    insert_owner(&mut tx, pkg.id, user, now).await?;
    tx.commit().await.map_err(MetaError::db("commit owner"))
}

pub(super) async fn owners(pool: &Pool<Db>, package: &str) -> Result<Vec<User>, MetaError> {
    let q = format!(
        "SELECT {USER_COLS} FROM users u JOIN package_owners o ON o.user_id = u.id \
         JOIN packages p ON p.id = o.package_id WHERE p.name = $1 ORDER BY u.id"
    );
    let all = sqlx::query(&q)
        .bind(package)
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list owners"))?;
    all.iter().map(rows::user).collect()
}

/// Appends the version row inside the caller's transaction. The UNIQUE constraint on
/// (package_id, version) decides between concurrent publishers.
pub(super) async fn insert_version_in(
    conn: &mut Conn,
    package: &Package,
    binding: Option<BindingId>,
    v: &NewVersion,
) -> Result<VersionEntry, MetaError> {
    // A friendlier answer than the UNIQUE index's (which still decides races): name
    // the existing version that differs only in build metadata.
    let key = version_key(&v.version);
    let same: Option<(String,)> = sqlx::query_as(
        "SELECT version FROM versions WHERE package_id = $1 AND version_key = $2 LIMIT 1",
    )
    .bind(package.id.0)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(MetaError::db("read version"))?;
    match same {
        Some((existing,)) if existing == v.version => {
            return Err(MetaError::VersionExists {
                package: package.name.clone(),
                version: v.version.clone(),
            })
        }
        Some((existing,)) => {
            return Err(MetaError::VersionBuildConflict {
                package: package.name.clone(),
                version: v.version.clone(),
                existing,
            })
        }
        None => {}
    }
    let q = format!(
        "INSERT INTO versions (package_id, version, blake3, sha256, size, bundle_key, \
         log_index, publisher, issuer, binding_id, created_at, version_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {}",
        VERSION_COLS.replace("v.", "")
    );
    let row = sqlx::query(&q)
        .bind(package.id.0)
        .bind(&v.version)
        .bind(hex::encode(v.blake3))
        .bind(hex::encode(v.sha256))
        .bind(to_i64("size", v.size)?)
        .bind(&v.bundle_key)
        .bind(to_i64("log_index", v.log_index)?)
        .bind(&v.publisher)
        .bind(&v.issuer)
        .bind(binding.map(|b| b.0))
        .bind(v.created_at.0)
        .bind(key)
        .fetch_one(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                MetaError::VersionExists {
                    package: package.name.clone(),
                    version: v.version.clone(),
                }
            } else {
                MetaError::db("insert version")(e)
            }
        })?;
    rows::version(&row)
}

/// Checks the binding belongs to the package and is active, and records or checks
/// the presented repository owner id (conditional UPDATE: atomic on its own).
pub(super) async fn check_binding(
    conn: &mut Conn,
    package: &Package,
    binding: BindingId,
    owner_id: Option<&str>,
) -> Result<(), MetaError> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT repository_owner_id FROM bindings \
         WHERE id = $1 AND package_id = $2 AND removed_at IS NULL",
    )
    .bind(binding.0)
    .bind(package.id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(MetaError::db("read binding"))?;
    let Some((recorded,)) = row else {
        return Err(MetaError::UnknownBinding { id: binding });
    };
    match (recorded, owner_id) {
        (Some(recorded), Some(presented)) if recorded != presented => {
            Err(MetaError::RepositoryOwnerChanged {
                binding,
                recorded,
                presented: presented.into(),
            })
        }
        (None, Some(presented)) => {
            let done = sqlx::query(
                "UPDATE bindings SET repository_owner_id = $1 \
                 WHERE id = $2 AND repository_owner_id IS NULL",
            )
            .bind(presented)
            .bind(binding.0)
            .execute(conn)
            .await
            .map_err(MetaError::db("record owner id"))?;
            // The caller holds the package's name lock, so nobody recorded another id
            // since the read; a lost update here would mean that lock is broken.
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(MetaError::UnknownBinding { id: binding })
            }
        }
        _ => Ok(()),
    }
}

pub(super) async fn insert_version(
    pool: &Pool<Db>,
    package: &str,
    binding: Option<BindingId>,
    v: &NewVersion,
) -> Result<VersionEntry, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin publish"))?;
    let pkg = package_in(&mut tx, package)
        .await?
        .ok_or_else(|| MetaError::UnknownPackage {
            name: package.into(),
        })?;
    if let Some(b) = binding {
        // Serialise publishes of this package while the owner id is read and maybe
        // recorded: otherwise two first publishes presenting different owner ids
        // could both read NULL (PostgreSQL, READ COMMITTED) and both succeed.
        lock_name(&mut tx, &name_lock(package))
            .await
            .map_err(MetaError::db("lock package name"))?;
        check_binding(&mut tx, &pkg, b, v.repository_owner_id.as_deref()).await?;
    }
    let entry = insert_version_in(&mut tx, &pkg, binding, v).await?;
    if let Some(audit) = &v.audit {
        super::replay_audit::append_publish_in(
            &mut tx,
            audit,
            package,
            binding,
            false,
            v.created_at,
        )
        .await?;
    }
    // Commit point of the publish: after this the entry is visible and durable.
    tx.commit().await.map_err(MetaError::db("commit publish"))?;
    Ok(entry)
}

pub(super) async fn version<'e, E: sqlx::Executor<'e, Database = Db>>(
    pool: E,
    package: &str,
    version: &str,
) -> Result<Option<VersionEntry>, MetaError> {
    let q = format!(
        "SELECT {VERSION_COLS} FROM versions v JOIN packages p ON p.id = v.package_id \
         WHERE p.name = $1 AND v.version = $2"
    );
    let row = sqlx::query(&q)
        .bind(package)
        .bind(version)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read version"))?;
    row.as_ref().map(rows::version).transpose()
}

/// What the publish path reads before it commits, on one connection: the package,
/// its active bindings (or, while it does not exist, the pending bindings for its
/// name) and whether the version is taken.
pub(super) async fn publish_context(
    pool: &Pool<Db>,
    package: &str,
    version_str: &str,
) -> Result<PublishContext, MetaError> {
    let mut conn = pool.acquire().await.map_err(MetaError::db("acquire"))?;
    let pkg = package_in(&mut conn, package).await?;
    let (bindings, pending) = if pkg.is_some() {
        (
            super::bindings::bindings(&mut *conn, package, None).await?,
            Vec::new(),
        )
    } else {
        (
            Vec::new(),
            super::bindings::pending(&mut *conn, package, None).await?,
        )
    };
    let version_exists = version(&mut *conn, package, version_str).await?.is_some();
    Ok(PublishContext {
        package: pkg,
        bindings,
        pending,
        version_exists,
    })
}

pub(super) async fn versions(
    pool: &Pool<Db>,
    package: &str,
) -> Result<Vec<VersionEntry>, MetaError> {
    let q = format!(
        "SELECT {VERSION_COLS} FROM versions v JOIN packages p ON p.id = v.package_id \
         WHERE p.name = $1 ORDER BY v.id"
    );
    let all = sqlx::query(&q)
        .bind(package)
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list versions"))?;
    all.iter().map(rows::version).collect()
}

pub(super) async fn blob_referenced(pool: &Pool<Db>, blake3: &[u8; 32]) -> Result<bool, MetaError> {
    let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM versions WHERE blake3 = $1 LIMIT 1")
        .bind(hex::encode(blake3))
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("find blob"))?;
    Ok(found.is_some())
}

/// The oldest version referencing `blake3`, with its package's name.
pub(super) async fn version_by_blob(
    pool: &Pool<Db>,
    blake3: &[u8; 32],
) -> Result<Option<(String, VersionEntry)>, MetaError> {
    let q = format!(
        "SELECT p.name AS package_name, {VERSION_COLS} FROM versions v \
         JOIN packages p ON p.id = v.package_id WHERE v.blake3 = $1 ORDER BY v.id LIMIT 1"
    );
    let row = sqlx::query(&q)
        .bind(hex::encode(blake3))
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("find blob version"))?;
    let Some(row) = row else { return Ok(None) };
    let name: String =
        sqlx::Row::try_get(&row, "package_name").map_err(MetaError::db("decode row"))?;
    Ok(Some((name, rows::version(&row)?)))
}
