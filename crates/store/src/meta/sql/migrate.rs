//! The schema migration runner: embedded, versioned, checksummed migrations applied only when asked.
//!
//! Applied migrations are recorded in `vouch_meta_migrations` (its own table, so the
//! metadata schema can share a database with other components). A recorded
//! migration whose SHA-256 differs from the embedded one stops everything
//! ([`MetaError::SchemaMismatch`]): editing a shipped migration is never allowed,
//! new changes go in a new file.

use sha2::{Digest, Sha256};
use sqlx::{Executor, Pool};

use super::{begin_write, lock_name, Db, MIGRATIONS, MIGRATIONS_TABLE_EXISTS};
use crate::meta::{MetaError, Migration, Timestamp};

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS vouch_meta_migrations (\
     version BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL, \
     sha256 TEXT NOT NULL, applied_at BIGINT NOT NULL)";

fn checksum(m: &Migration) -> String {
    hex::encode(Sha256::digest(m.sql.as_bytes()))
}

fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Compares what the database recorded with what this binary embeds.
fn verify(applied: &[(i64, String)]) -> Result<(), MetaError> {
    for (version, sum) in applied {
        match MIGRATIONS.iter().find(|m| m.version == *version) {
            Some(m) if checksum(m) == *sum => {}
            _ => return Err(MetaError::SchemaMismatch { version: *version }),
        }
    }
    Ok(())
}

pub(super) async fn migrate(pool: &Pool<Db>) -> Result<(), MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin migrate"))?;
    lock_name(&mut tx, "vouch.meta.migrate")
        .await
        .map_err(MetaError::db("lock migrations"))?;
    (&mut *tx)
        .execute(CREATE_TABLE)
        .await
        .map_err(MetaError::db("create migrations table"))?;
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, sha256 FROM vouch_meta_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await
            .map_err(MetaError::db("read migrations"))?;
    verify(&applied)?;
    for m in MIGRATIONS {
        if applied.iter().any(|(v, _)| *v == m.version) {
            continue;
        }
        // A query without arguments runs as a simple query: several statements.
        (&mut *tx)
            .execute(m.sql)
            .await
            .map_err(MetaError::db("apply migration"))?;
        sqlx::query(
            "INSERT INTO vouch_meta_migrations (version, name, sha256, applied_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(checksum(m))
        .bind(Timestamp::now().0)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("record migration"))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied metadata migration"
        );
    }
    tx.commit().await.map_err(MetaError::db("commit migrate"))
}

pub(super) async fn check(pool: &Pool<Db>) -> Result<(), MetaError> {
    let (tables,): (i64,) = sqlx::query_as(MIGRATIONS_TABLE_EXISTS)
        .fetch_one(pool)
        .await
        .map_err(MetaError::db("check schema"))?;
    if tables == 0 {
        return Err(MetaError::SchemaOutdated {
            found: 0,
            expected: latest(),
        });
    }
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, sha256 FROM vouch_meta_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .map_err(MetaError::db("read migrations"))?;
    verify(&applied)?;
    // Every embedded migration must be applied, not only the highest: versions may
    // have gaps (a number reserved by a change merged later), and a database migrated
    // before such a merge lacks the lower version though its highest is current.
    if let Some(missing) = MIGRATIONS
        .iter()
        .find(|m| !applied.iter().any(|(v, _)| *v == m.version))
    {
        return Err(MetaError::SchemaOutdated {
            found: applied
                .iter()
                .map(|a| a.0)
                .filter(|v| *v < missing.version)
                .max()
                .unwrap_or(0),
            expected: latest(),
        });
    }
    Ok(())
}
