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
         RETURNING id, name, email, created_at, disabled_at",
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
    let spec = NewToken {
        user,
        label,
        scope: TokenScope::Owner,
        packages: None,
        expires_at,
    };
    issue_token(pool, &spec, now).await
}

pub(super) async fn issue_token(
    pool: &Pool<Db>,
    spec: &NewToken<'_>,
    now: Timestamp,
) -> Result<(ApiToken, TokenSecret), MetaError> {
    let NewToken {
        user,
        label,
        scope,
        packages,
        expires_at,
    } = *spec;
    let secret = token::generate().map_err(|e| MetaError::Randomness {
        reason: e.to_string(),
    })?;
    let hash = token::hash(secret.expose());
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin create token"))?;
    let exists: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT disabled_at FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(MetaError::db("read user"))?;
    match exists {
        None => return Err(MetaError::UnknownUser { id: user }),
        // Checked in the same transaction as the insert: a token is never issued to a
        // user disabled before it commits.
        Some((Some(_),)) => return Err(MetaError::UserDisabled { id: user }),
        Some((None,)) => {}
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO api_tokens (user_id, label, token_hash, created_at, expires_at, scope, packages) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(user.0)
    .bind(label)
    .bind(&hash[..])
    .bind(now.0)
    .bind(expires_at.map(|t| t.0))
    .bind(scope.as_str())
    .bind(rows::packages_column(packages))
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
        scope,
        packages: packages.map(<[String]>::to_vec),
    };
    Ok((token, secret))
}

/// The owner API's view: only a valid owner-scope token authenticates.
pub(super) async fn authenticate(
    pool: &Pool<Db>,
    secret: &str,
    now: Timestamp,
) -> Result<Option<(User, ApiToken)>, MetaError> {
    Ok(match check_token(pool, secret, now).await? {
        TokenCheck::Valid(user, token) if token.scope == TokenScope::Owner => Some((user, token)),
        _ => None,
    })
}

pub(super) async fn check_token(
    pool: &Pool<Db>,
    secret: &str,
    now: Timestamp,
) -> Result<TokenCheck, MetaError> {
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
        return Ok(TokenCheck::Unknown);
    };
    let (token, stored) = rows::token(&row)?;
    // The index lookup already matched; compare again in constant time so no
    // comparison in this process leaks how much of a hash matched.
    if !token::hashes_equal(&stored, &presented) {
        return Ok(TokenCheck::Unknown);
    }
    let user = rows::user(&row)?;
    if let Some(at) = token.revoked_at {
        return Ok(TokenCheck::Revoked(at));
    }
    if let Some(at) = token.expires_at.filter(|e| *e <= now) {
        return Ok(TokenCheck::Expired(at));
    }
    if user.disabled_at.is_some() {
        return Ok(TokenCheck::UserDisabled(user.name));
    }
    Ok(TokenCheck::Valid(user, token))
}

pub(super) async fn token_by_id(
    pool: &Pool<Db>,
    id: TokenId,
) -> Result<Option<ApiToken>, MetaError> {
    let q = format!("SELECT {TOKEN_COLS} FROM api_tokens t WHERE t.id = $1");
    let row = sqlx::query(&q)
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read token"))?;
    row.as_ref()
        .map(|r| rows::token(r).map(|t| t.0))
        .transpose()
}

pub(super) async fn list_users(pool: &Pool<Db>) -> Result<Vec<User>, MetaError> {
    let q = format!("SELECT {USER_COLS} FROM users u ORDER BY u.id");
    let all = sqlx::query(&q)
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list users"))?;
    all.iter().map(rows::user).collect()
}

/// Disables a user; `false` if it already was (the first time is kept).
pub(super) async fn disable_user(
    pool: &Pool<Db>,
    id: UserId,
    now: Timestamp,
) -> Result<bool, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin disable user"))?;
    let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(MetaError::db("read user"))?;
    if found.is_none() {
        return Err(MetaError::UnknownUser { id });
    }
    let done =
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(MetaError::db("disable user"))?;
    tx.commit().await.map_err(MetaError::db("commit disable"))?;
    Ok(done.rows_affected() == 1)
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
