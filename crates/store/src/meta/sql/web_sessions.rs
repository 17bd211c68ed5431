//! Administrator web sessions shared by every node: created (expired rows swept, the
//! cap kept), touched (idle deadline moved, flash message taken), ended. Liveness is
//! stated in SQL on every read: a row is live while `idle_expires_at` and
//! `absolute_expires_at` are both after `now`.

use sqlx::Pool;

use super::{begin_write, lock_name, Db};
use crate::meta::*;

const LIVE: &str = "idle_expires_at > $2 AND absolute_expires_at > $2";

pub(super) async fn create(pool: &Pool<Db>, s: &NewWebSession<'_>) -> Result<(), MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin web session"))?;
    // Serialises sign-ins so the cap holds across nodes (SQLite: the write lock).
    lock_name(&mut tx, "vouch.web_sessions")
        .await
        .map_err(MetaError::db("lock web sessions"))?;
    sqlx::query(
        "DELETE FROM web_sessions WHERE idle_expires_at <= $1 OR absolute_expires_at <= $1",
    )
    .bind(s.now_ms)
    .execute(&mut *tx)
    .await
    .map_err(MetaError::db("sweep web sessions"))?;
    let (live,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM web_sessions")
        .fetch_one(&mut *tx)
        .await
        .map_err(MetaError::db("count web sessions"))?;
    let over = u64::try_from(live)
        .unwrap_or(0)
        .saturating_add(1)
        .saturating_sub(s.cap);
    if over > 0 {
        // The sessions closest to expiry make room.
        sqlx::query(
            "DELETE FROM web_sessions WHERE key IN (SELECT key FROM web_sessions \
             ORDER BY CASE WHEN idle_expires_at < absolute_expires_at \
             THEN idle_expires_at ELSE absolute_expires_at END, key LIMIT $1)",
        )
        .bind(i64::try_from(over).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("evict web session"))?;
    }
    let absolute = s.now_ms.saturating_add(s.absolute_ms);
    sqlx::query(
        "INSERT INTO web_sessions (key, token_id, label, csrf, created_at, last_seen, \
         idle_expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
    )
    .bind(s.key)
    .bind(s.token_id)
    .bind(s.label)
    .bind(s.csrf)
    .bind(s.now_ms)
    .bind(s.now_ms.saturating_add(s.idle_ms).min(absolute))
    .bind(absolute)
    .execute(&mut *tx)
    .await
    .map_err(MetaError::db("insert web session"))?;
    tx.commit()
        .await
        .map_err(MetaError::db("commit web session"))
}

type SessionTuple = (i64, String, String, i64, i64, i64);

pub(super) async fn touch(
    pool: &Pool<Db>,
    key: &str,
    now_ms: i64,
    idle_ms: i64,
) -> Result<Option<(WebSessionRow, Option<WebFlash>)>, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin web session touch"))?;
    let row: Option<SessionTuple> = sqlx::query_as(&format!(
        "UPDATE web_sessions SET last_seen = $2, idle_expires_at = CASE \
         WHEN $3 < absolute_expires_at THEN $3 ELSE absolute_expires_at END \
         WHERE key = $1 AND {LIVE} \
         RETURNING token_id, label, csrf, created_at, idle_expires_at, absolute_expires_at"
    ))
    .bind(key)
    .bind(now_ms)
    .bind(now_ms.saturating_add(idle_ms))
    .fetch_optional(&mut *tx)
    .await
    .map_err(MetaError::db("touch web session"))?;
    let Some((token_id, label, csrf, created, idle, absolute)) = row else {
        // Past a deadline (or never there): gone for good.
        sqlx::query("DELETE FROM web_sessions WHERE key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(MetaError::db("end expired web session"))?;
        tx.commit()
            .await
            .map_err(MetaError::db("commit web session touch"))?;
        return Ok(None);
    };
    let flash: Option<(String, Option<String>, String)> = sqlx::query_as(
        "DELETE FROM web_session_flashes WHERE session_key = $1 RETURNING kind, code, text",
    )
    .bind(key)
    .fetch_optional(&mut *tx)
    .await
    .map_err(MetaError::db("take web session flash"))?;
    tx.commit()
        .await
        .map_err(MetaError::db("commit web session touch"))?;
    Ok(Some((
        WebSessionRow {
            token_id,
            label,
            csrf,
            created_at_ms: created,
            idle_expires_at_ms: idle,
            absolute_expires_at_ms: absolute,
        },
        flash.map(|(kind, code, text)| WebFlash { kind, code, text }),
    )))
}

pub(super) async fn flash(pool: &Pool<Db>, key: &str, flash: &WebFlash) -> Result<(), MetaError> {
    // Only for a session that exists; a newer message replaces an unshown one.
    sqlx::query(
        "INSERT INTO web_session_flashes (session_key, kind, code, text) \
         SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM web_sessions WHERE key = $1) \
         ON CONFLICT (session_key) DO UPDATE SET kind = excluded.kind, \
         code = excluded.code, text = excluded.text",
    )
    .bind(key)
    .bind(&flash.kind)
    .bind(flash.code.as_deref())
    .bind(&flash.text)
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(MetaError::db("store web session flash"))
}

pub(super) async fn end(pool: &Pool<Db>, key: &str) -> Result<(), MetaError> {
    sqlx::query("DELETE FROM web_sessions WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(MetaError::db("end web session"))
}

pub(super) async fn end_for_token(pool: &Pool<Db>, token_id: i64) -> Result<u64, MetaError> {
    sqlx::query("DELETE FROM web_sessions WHERE token_id = $1")
        .bind(token_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(MetaError::db("end web sessions of a token"))
}

pub(super) async fn live(pool: &Pool<Db>, now_ms: i64) -> Result<u64, MetaError> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM web_sessions \
         WHERE idle_expires_at > $1 AND absolute_expires_at > $1",
    )
    .bind(now_ms)
    .fetch_one(pool)
    .await
    .map_err(MetaError::db("count web sessions"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
