//! Users and API tokens (only SHA-256 hashes of tokens are stored).

use sqlx::Pool;

use super::rows::{self, TOKEN_COLS, USER_COLS};
use super::{begin_write, Db};
use crate::meta::error::is_unique_violation;
use crate::meta::token;
use crate::meta::*;

pub(super) async fn create_user(
    pool: &Pool<Db>,
    name: &str,
    email: Option<&str>,
    now: Timestamp,
) -> Result<User, MetaError> {
    let row = sqlx::query(
        "INSERT INTO users (name, email, created_at) VALUES ($1, $2, $3) \
         RETURNING id, name, email, created_at",
    )
    .bind(name)
    .bind(email)
    .bind(now.0)
    .fetch_one(pool)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            MetaError::UserExists { name: name.into() }
        } else {
            MetaError::db("create user")(e)
        }
    })?;
    rows::user(&row)
}

pub(super) async fn user(pool: &Pool<Db>, id: UserId) -> Result<Option<User>, MetaError> {
    let q = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
    let row = sqlx::query(&q)
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read user"))?;
    row.as_ref().map(rows::user).transpose()
}

pub(super) async fn user_by_name(pool: &Pool<Db>, name: &str) -> Result<Option<User>, MetaError> {
    let q = format!("SELECT {USER_COLS} FROM users u WHERE u.name = $1");
    let row = sqlx::query(&q)
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read user"))?;
    row.as_ref().map(rows::user).transpose()
}

pub(super) async fn create_token(
    pool: &Pool<Db>,
    user: UserId,
    label: &str,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(ApiToken, TokenSecret), MetaError> {
    let secret = token::generate().map_err(|e| MetaError::Randomness {
        reason: e.to_string(),
    })?;
    let hash = token::hash(secret.expose());
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin create token"))?;
    let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(user.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(MetaError::db("read user"))?;
    if exists.is_none() {
        return Err(MetaError::UnknownUser { id: user });
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO api_tokens (user_id, label, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user.0)
    .bind(label)
    .bind(&hash[..])
    .bind(now.0)
    .bind(expires_at.map(|t| t.0))
    .fetch_one(&mut *tx)
    .await
    .map_err(MetaError::db("create token"))?;
    tx.commit().await.map_err(MetaError::db("commit token"))?;
    let token = ApiToken {
        id: TokenId(id),
        user_id: user,
        label: label.into(),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    Ok((token, secret))
}

pub(super) async fn authenticate(
    pool: &Pool<Db>,
    secret: &str,
    now: Timestamp,
) -> Result<Option<(User, ApiToken)>, MetaError> {
    let presented = token::hash(secret);
    let q = format!(
        "SELECT {USER_COLS}, {TOKEN_COLS} FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1"
    );
    let Some(row) = sqlx::query(&q)
        .bind(&presented[..])
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("authenticate"))?
    else {
        return Ok(None);
    };
    let (token, stored) = rows::token(&row)?;
    // The index lookup already matched; compare again in constant time so no
    // comparison in this process leaks how much of a hash matched.
    if !token::hashes_equal(&stored, &presented) {
        return Ok(None);
    }
    if token.revoked_at.is_some() || token.expires_at.is_some_and(|e| e <= now) {
        return Ok(None);
    }
    Ok(Some((rows::user(&row)?, token)))
}

pub(super) async fn tokens(pool: &Pool<Db>, user: UserId) -> Result<Vec<ApiToken>, MetaError> {
    let q = format!("SELECT {TOKEN_COLS} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.id");
    let all = sqlx::query(&q)
        .bind(user.0)
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list tokens"))?;
    all.iter().map(|r| rows::token(r).map(|t| t.0)).collect()
}

pub(super) async fn revoke_token(
    pool: &Pool<Db>,
    id: TokenId,
    now: Timestamp,
) -> Result<(), MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin revoke token"))?;
    let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM api_tokens WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(MetaError::db("read token"))?;
    if found.is_none() {
        return Err(MetaError::UnknownToken { id });
    }
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("revoke token"))?;
    tx.commit().await.map_err(MetaError::db("commit revoke"))
}
