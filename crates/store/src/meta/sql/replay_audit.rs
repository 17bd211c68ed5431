//! The OIDC `jti` replay store and the append-only audit log.

use sqlx::Pool;

use super::rows;
use super::Db;
use crate::meta::*;

pub(super) async fn insert_jti(
    pool: &Pool<Db>,
    issuer: &str,
    jti: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<ReplayOutcome, MetaError> {
    // One statement, atomic in both databases: the primary key decides, and an
    // expired record is overwritten as if it were absent. Zero rows affected means
    // an unexpired record was there.
    let done = sqlx::query(
        "INSERT INTO oidc_replay (issuer, jti, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE oidc_replay.expires_at <= $4",
    )
    .bind(issuer)
    .bind(jti)
    .bind(expires_at.0)
    .bind(now.0)
    .execute(pool)
    .await
    .map_err(MetaError::db("insert jti"))?;
    Ok(if done.rows_affected() == 1 {
        ReplayOutcome::Inserted
    } else {
        ReplayOutcome::AlreadyPresent
    })
}

/// The same statement for each key, in one write transaction: one commit for the batch.
pub(super) async fn insert_jtis(
    pool: &Pool<Db>,
    keys: &[(String, String, Timestamp)],
    now: Timestamp,
) -> Result<Vec<ReplayOutcome>, MetaError> {
    let mut tx = super::begin_write(pool)
        .await
        .map_err(MetaError::db("begin insert jtis"))?;
    let mut out = Vec::with_capacity(keys.len());
    for (issuer, jti, expires_at) in keys {
        let done = sqlx::query(
            "INSERT INTO oidc_replay (issuer, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE oidc_replay.expires_at <= $4",
        )
        .bind(issuer)
        .bind(jti)
        .bind(expires_at.0)
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("insert jti"))?;
        out.push(if done.rows_affected() == 1 {
            ReplayOutcome::Inserted
        } else {
            ReplayOutcome::AlreadyPresent
        });
    }
    tx.commit().await.map_err(MetaError::db("commit jtis"))?;
    Ok(out)
}

pub(super) async fn sweep(pool: &Pool<Db>, now: Timestamp) -> Result<u64, MetaError> {
    let done = sqlx::query("DELETE FROM oidc_replay WHERE expires_at <= $1")
        .bind(now.0)
        .execute(pool)
        .await
        .map_err(MetaError::db("sweep replay"))?;
    Ok(done.rows_affected())
}

pub(super) async fn append(
    pool: &Pool<Db>,
    event: &str,
    actor: Option<&str>,
    subject: Option<&str>,
    details_json: &str,
    at: Timestamp,
) -> Result<AuditId, MetaError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO audit_log (event, actor, subject, details, at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(event)
    .bind(actor)
    .bind(subject)
    .bind(details_json)
    .bind(at.0)
    .fetch_one(pool)
    .await
    .map_err(MetaError::db("append audit"))?;
    Ok(AuditId(id))
}

/// Appends a publish's audit event inside the publish's transaction (see
/// [`PublishAudit`]).
pub(super) async fn append_publish_in(
    conn: &mut <Db as sqlx::Database>::Connection,
    audit: &PublishAudit,
    package: &str,
    binding: Option<BindingId>,
    created_package: bool,
    at: Timestamp,
) -> Result<AuditId, MetaError> {
    let mut details = audit.details.clone();
    details.insert("binding_id".into(), binding.map(|b| b.0).into());
    details.insert("created_package".into(), created_package.into());
    let details = serde_json::Value::Object(details).to_string();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO audit_log (event, actor, subject, details, at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&audit.event)
    .bind(&audit.actor)
    .bind(package)
    .bind(details)
    .bind(at.0)
    .fetch_one(conn)
    .await
    .map_err(MetaError::db("append publish audit"))?;
    Ok(AuditId(id))
}

pub(super) async fn list(pool: &Pool<Db>, f: &AuditFilter) -> Result<Vec<AuditEvent>, MetaError> {
    let limit = i64::from(f.limit.min(MAX_AUDIT_PAGE));
    // The prefix test uses substr rather than LIKE so `%` and `_` in event names
    // need no escaping.
    let all = sqlx::query(
        "SELECT id, event, actor, subject, details, at FROM audit_log \
         WHERE ($1 IS NULL OR substr(event, 1, length($1)) = $1) \
         AND ($2 IS NULL OR subject = $2) \
         AND ($3 IS NULL OR at >= $3) \
         AND ($4 IS NULL OR at < $4) \
         AND ($5 IS NULL OR id > $5) \
         ORDER BY id LIMIT $6",
    )
    .bind(&f.event_prefix)
    .bind(&f.subject)
    .bind(f.since.map(|t| t.0))
    .bind(f.until.map(|t| t.0))
    .bind(f.after.map(|a| a.0))
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(MetaError::db("list audit"))?;
    all.iter().map(rows::audit).collect()
}
