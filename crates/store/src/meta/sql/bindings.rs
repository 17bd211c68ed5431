//! Trusted-publisher bindings, pending bindings, and the first publish that turns a pending binding into a package.

use sqlx::Pool;

use super::packages::{
    claim_scope, ensure_user, insert_package, insert_version_in, name_lock, name_taken, package_in,
};
use super::rows::{self, bind_ci_cols, DbRow, Query};
use super::{begin_write, lock_name, Db};
use crate::meta::error::is_unique_violation;
use crate::meta::*;

const BINDING_COLS: &str = "id, package_id, provider, repository, workflow, environment, email, \
     repository_owner_id, created_by, created_at, removed_at";
const PENDING_COLS: &str =
    "id, package_name, provider, repository, workflow, environment, email, created_by, created_at";
/// Matches what a token presented against the normalised columns: same provider,
/// repository (lowercased), workflow and email (lowercased); a binding without an
/// environment accepts any, one with an environment only that one (lowercased).
const MATCH: &str = "provider = $2 AND repository_lc = $3 AND workflow = $4 AND email_lc = $5 \
     AND (environment_lc = '' OR environment_lc = $6)";

fn exists_or(package: &str) -> impl FnOnce(sqlx::Error) -> MetaError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            MetaError::BindingExists {
                package: package.into(),
            }
        } else {
            MetaError::db("insert binding")(e)
        }
    }
}

/// Binds the columns both binding tables' INSERTs list after their first: the
/// publisher's, its creator and creation time, and the binding's id.
fn bind_binding_cols<'q>(
    q: Query<'q>,
    c: &'q PublisherCols,
    created_by: UserId,
    now: Timestamp,
    id: i64,
) -> Query<'q> {
    bind_ci_cols(q, c)
        .bind(&c.email)
        .bind(&c.email_lc)
        .bind(created_by.0)
        .bind(now.0)
        .bind(id)
}

/// The rows `base` selects for `key` (its `$1`), all or only those matching
/// `presented` ([`MATCH`]), in id order.
async fn select_matching<'e, E, T>(
    pool: E,
    base: &str,
    key: &str,
    presented: Option<&Publisher>,
    what: &'static str,
    row: fn(&DbRow) -> Result<T, MetaError>,
) -> Result<Vec<T>, MetaError>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let all = match presented {
        None => {
            sqlx::query(&format!("{base} ORDER BY id"))
                .bind(key)
                .fetch_all(pool)
                .await
        }
        Some(p) => {
            let c = p.cols();
            sqlx::query(&format!("{base} AND {MATCH} ORDER BY id"))
                .bind(key)
                .bind(c.provider)
                .bind(c.repository_lc)
                .bind(c.workflow)
                .bind(c.email_lc)
                .bind(c.environment_lc)
                .fetch_all(pool)
                .await
        }
    }
    .map_err(MetaError::db(what))?;
    all.iter().map(row).collect()
}

/// A fresh publisher binding id from the sequence bindings and pending bindings share
/// (migration 0003): never one that was handed out before, to either kind.
async fn next_binding_id(conn: &mut <Db as sqlx::Database>::Connection) -> Result<i64, MetaError> {
    let (id,): (i64,) = sqlx::query_as("INSERT INTO binding_ids DEFAULT VALUES RETURNING id")
        .fetch_one(conn)
        .await
        .map_err(MetaError::db("allocate binding id"))?;
    Ok(id)
}

pub(super) async fn add_binding(
    pool: &Pool<Db>,
    package: &str,
    publisher: &Publisher,
    created_by: UserId,
    now: Timestamp,
) -> Result<Binding, MetaError> {
    let c = publisher.cols();
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin add binding"))?;
    lock_name(&mut tx, &name_lock(package))
        .await
        .map_err(MetaError::db("lock package name"))?;
    let pkg = package_in(&mut tx, package)
        .await?
        .ok_or_else(|| MetaError::UnknownPackage {
            name: package.into(),
        })?;
    ensure_user(&mut tx, created_by).await?;
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM bindings WHERE package_id = $1 AND removed_at IS NULL",
    )
    .bind(pkg.id.0)
    .fetch_one(&mut *tx)
    .await
    .map_err(MetaError::db("count bindings"))?;
    if count >= MAX_BINDINGS_PER_PACKAGE as i64 {
        return Err(MetaError::TooManyBindings {
            package: package.into(),
            max: MAX_BINDINGS_PER_PACKAGE,
        });
    }
    let id = next_binding_id(&mut tx).await?;
    let q = format!(
        "INSERT INTO bindings (package_id, provider, repository, repository_lc, workflow, \
         environment, environment_lc, email, email_lc, created_by, created_at, id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {BINDING_COLS}"
    );
    let row = bind_binding_cols(sqlx::query(&q).bind(pkg.id.0), &c, created_by, now, id)
        .fetch_one(&mut *tx)
        .await
        .map_err(exists_or(package))?;
    let binding = rows::binding(&row)?;
    tx.commit().await.map_err(MetaError::db("commit binding"))?;
    Ok(binding)
}

/// Active bindings of `package`, all or those matching `presented`.
pub(super) async fn bindings<'e, E: sqlx::Executor<'e, Database = Db>>(
    pool: E,
    package: &str,
    presented: Option<&Publisher>,
) -> Result<Vec<Binding>, MetaError> {
    let base = format!(
        "SELECT {BINDING_COLS} FROM bindings WHERE removed_at IS NULL \
         AND package_id = (SELECT id FROM packages WHERE name = $1)"
    );
    select_matching(
        pool,
        &base,
        package,
        presented,
        "list bindings",
        rows::binding,
    )
    .await
}

pub(super) async fn remove_binding(
    pool: &Pool<Db>,
    id: BindingId,
    actor: &str,
    now: Timestamp,
) -> Result<(), MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin remove binding"))?;
    let done =
        sqlx::query("UPDATE bindings SET removed_at = $1 WHERE id = $2 AND removed_at IS NULL")
            .bind(now.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(MetaError::db("remove binding"))?;
    if done.rows_affected() != 1 {
        return Err(MetaError::UnknownBinding { id });
    }
    let details = serde_json::json!({ "binding_id": id.0 }).to_string();
    sqlx::query(
        "INSERT INTO audit_log (event, actor, subject, details, at) \
         SELECT $1, $2, p.name, $3, $4 FROM bindings b JOIN packages p ON p.id = b.package_id \
         WHERE b.id = $5",
    )
    .bind("publisher.removed")
    .bind(actor)
    .bind(details)
    .bind(now.0)
    .bind(id.0)
    .execute(&mut *tx)
    .await
    .map_err(MetaError::db("audit binding removal"))?;
    tx.commit()
        .await
        .map_err(MetaError::db("commit binding removal"))
}

pub(super) async fn add_pending(
    pool: &Pool<Db>,
    name: &str,
    publisher: &Publisher,
    created_by: UserId,
    now: Timestamp,
) -> Result<PendingBinding, MetaError> {
    let c = publisher.cols();
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin add pending binding"))?;
    lock_name(&mut tx, &name_lock(name))
        .await
        .map_err(MetaError::db("lock package name"))?;
    if package_in(&mut tx, name).await?.is_some() {
        return Err(MetaError::PackageExists { name: name.into() });
    }
    ensure_user(&mut tx, created_by).await?;
    // Only a scope's owners may reserve names in it (issue 13, item 4: a stranger's
    // pending binding naming the victim's workflow would make the victim's first CI
    // publish create a package the stranger owns). An unclaimed scope becomes theirs.
    let scope =
        normalized_scope(name).ok_or_else(|| MetaError::UnscopedName { name: name.into() })?;
    if let Some(existing) = name_taken(&mut tx, &normalized_name(name)).await? {
        return Err(MetaError::NameConflict {
            name: name.into(),
            existing,
        });
    }
    claim_scope(&mut tx, &scope, created_by, now).await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM pending_bindings WHERE package_name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(MetaError::db("count pending bindings"))?;
    if count >= MAX_BINDINGS_PER_PACKAGE as i64 {
        return Err(MetaError::TooManyBindings {
            package: name.into(),
            max: MAX_BINDINGS_PER_PACKAGE,
        });
    }
    let id = next_binding_id(&mut tx).await?;
    let q = format!(
        "INSERT INTO pending_bindings (package_name, provider, repository, repository_lc, \
         workflow, environment, environment_lc, email, email_lc, created_by, created_at, id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {PENDING_COLS}"
    );
    let row = bind_binding_cols(sqlx::query(&q).bind(name), &c, created_by, now, id)
        .fetch_one(&mut *tx)
        .await
        .map_err(exists_or(name))?;
    let pending = rows::pending(&row)?;
    tx.commit()
        .await
        .map_err(MetaError::db("commit pending binding"))?;
    Ok(pending)
}

/// Pending bindings for `name`, all or those matching `presented`.
pub(super) async fn pending<'e, E: sqlx::Executor<'e, Database = Db>>(
    pool: E,
    name: &str,
    presented: Option<&Publisher>,
) -> Result<Vec<PendingBinding>, MetaError> {
    let base = format!("SELECT {PENDING_COLS} FROM pending_bindings WHERE package_name = $1");
    select_matching(
        pool,
        &base,
        name,
        presented,
        "list pending bindings",
        rows::pending,
    )
    .await
}

/// The audit event of a pending binding's deletion (`publisher.pending.removed`).
async fn audit_pending_removal(
    conn: &mut <Db as sqlx::Database>::Connection,
    p: &PendingBinding,
    actor: Option<&str>,
    reason: &str,
    at: Timestamp,
) -> Result<(), MetaError> {
    let c = p.publisher.cols();
    let details = serde_json::json!({
        "pending_binding_id": p.id.0,
        "provider": c.provider,
        "repository": c.repository,
        "workflow": c.workflow,
        "environment": c.environment,
        "email": c.email,
        "created_by": p.created_by.0,
        "reason": reason,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO audit_log (event, actor, subject, details, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind("publisher.pending.removed")
    .bind(actor)
    .bind(&p.package_name)
    .bind(details)
    .bind(at.0)
    .execute(conn)
    .await
    .map_err(MetaError::db("audit pending binding removal"))?;
    Ok(())
}

pub(super) async fn remove_pending(
    pool: &Pool<Db>,
    id: PendingBindingId,
    actor: &str,
    now: Timestamp,
) -> Result<(), MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin remove pending binding"))?;
    let p = pending_by_id(&mut tx, id).await?;
    audit_pending_removal(&mut tx, &p, Some(actor), "removed", now).await?;
    let done = sqlx::query("DELETE FROM pending_bindings WHERE id = $1")
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("remove pending binding"))?;
    if done.rows_affected() != 1 {
        return Err(MetaError::UnknownPendingBinding { id });
    }
    tx.commit()
        .await
        .map_err(MetaError::db("commit pending binding removal"))
}

async fn pending_by_id(
    conn: &mut <Db as sqlx::Database>::Connection,
    id: PendingBindingId,
) -> Result<PendingBinding, MetaError> {
    let q = format!("SELECT {PENDING_COLS} FROM pending_bindings WHERE id = $1");
    let row = sqlx::query(&q)
        .bind(id.0)
        .fetch_optional(conn)
        .await
        .map_err(MetaError::db("read pending binding"))?
        .ok_or(MetaError::UnknownPendingBinding { id })?;
    rows::pending(&row)
}

pub(super) async fn publish_pending(
    pool: &Pool<Db>,
    id: PendingBindingId,
    v: &NewVersion,
) -> Result<PromotedPublish, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin first publish"))?;
    let actor = v.audit.as_ref().map(|a| a.actor.as_str());
    let (package, binding) = promote_pending_in(
        &mut tx,
        id,
        v.repository_owner_id.as_deref(),
        actor,
        v.created_at,
    )
    .await?;
    let version = insert_version_in(&mut tx, &package, Some(binding.id), v).await?;
    if let Some(audit) = &v.audit {
        super::replay_audit::append_publish_in(
            &mut tx,
            audit,
            &package.name,
            Some(binding.id),
            true,
            v.created_at,
        )
        .await?;
    }
    // Commit point: package, binding and version appear together or not at all.
    tx.commit()
        .await
        .map_err(MetaError::db("commit first publish"))?;
    Ok(PromotedPublish {
        package,
        binding,
        version,
    })
}

/// The first half of a first publish, inside the caller's transaction (which commits
/// it together with what was published): creates the package owned by whoever
/// registered the pending binding, turns that binding into an active one (recording
/// the repository owner id) and deletes, audited, every pending binding for the name.
pub(super) async fn promote_pending_in(
    tx: &mut <Db as sqlx::Database>::Connection,
    id: PendingBindingId,
    repository_owner_id: Option<&str>,
    actor: Option<&str>,
    now: Timestamp,
) -> Result<(Package, Binding), MetaError> {
    let name = pending_by_id(tx, id).await?.package_name;
    lock_name(tx, &name_lock(&name))
        .await
        .map_err(MetaError::db("lock package name"))?;
    // Re-read under the lock: a concurrent first publish may have consumed it.
    let pending = pending_by_id(tx, id).await?;
    let package = insert_package(tx, &name, pending.created_by, now).await?;
    // The active binding gets its own fresh id; the pending one's stays spent.
    let binding_id = next_binding_id(tx).await?;
    let q = format!(
        "INSERT INTO bindings (id, package_id, provider, repository, repository_lc, workflow, \
         environment, environment_lc, email, email_lc, repository_owner_id, created_by, \
         created_at) \
         SELECT $5, $1, provider, repository, repository_lc, workflow, environment, \
         environment_lc, email, email_lc, $2, created_by, $3 \
         FROM pending_bindings WHERE id = $4 RETURNING {BINDING_COLS}"
    );
    let row = sqlx::query(&q)
        .bind(package.id.0)
        .bind(repository_owner_id)
        .bind(now.0)
        .bind(id.0)
        .bind(binding_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(exists_or(&name))?;
    let binding = rows::binding(&row)?;
    // Every other pending binding for the name goes too: the package now has an
    // owner, who decides which publishers it trusts. Each deletion is audited, in this
    // transaction, with what was deleted and why.
    for other in self::pending(&mut *tx, &name, None).await? {
        let reason = if other.id == id {
            format!("became binding {binding_id} through the first publish")
        } else {
            format!(
                "superseded: the first publish through pending binding {} created the package",
                id.0
            )
        };
        audit_pending_removal(tx, &other, actor, &reason, now).await?;
    }
    sqlx::query("DELETE FROM pending_bindings WHERE package_name = $1")
        .bind(&name)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("delete pending bindings"))?;
    Ok((package, binding))
}

/// A binding by id, whether active or removed.
pub(super) async fn binding_by_id(
    pool: &Pool<Db>,
    id: BindingId,
) -> Result<Option<Binding>, MetaError> {
    let q = format!("SELECT {BINDING_COLS} FROM bindings WHERE id = $1");
    let row = sqlx::query(&q)
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read binding"))?;
    row.as_ref().map(rows::binding).transpose()
}
