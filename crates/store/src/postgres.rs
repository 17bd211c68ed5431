//! `PostgresLock`: the lock backend for deployments with several `vouch serve` nodes.

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::{CheckpointLock, StoreError};

/// The lock table in PostgreSQL. A committed `UPDATE ... WHERE checkpoint = old` is the
/// compare-and-swap; with the default `synchronous_commit = on` it is durable when
/// `compare_and_swap` returns.
#[derive(Debug, Clone)]
pub struct PostgresLock {
    pool: PgPool,
}

impl PostgresLock {
    /// Connects to `url`. With `create` (`--dev`) the table is made if missing; without
    /// it, it must exist ([`StoreError::MissingSchema`]).
    pub async fn connect(url: &str, create: bool) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(url)
            .await
            .map_err(|source| StoreError::Database {
                op: "connect postgres",
                source,
            })?;
        let lock = PostgresLock { pool };
        if create {
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS vouch_checkpoints \
                 (log_id TEXT PRIMARY KEY NOT NULL, checkpoint BYTEA NOT NULL)",
            )
            .execute(&lock.pool)
            .await
            .map_err(|source| StoreError::Database {
                op: "create table",
                source,
            })?;
        }
        let (exists,): (bool,) =
            sqlx::query_as("SELECT to_regclass('vouch_checkpoints') IS NOT NULL")
                .fetch_one(&lock.pool)
                .await
                .map_err(|source| StoreError::Database {
                    op: "check schema",
                    source,
                })?;
        if !exists {
            return Err(StoreError::MissingSchema {
                table: "vouch_checkpoints",
            });
        }
        Ok(lock)
    }

    /// Closes the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Every row (log checkpoints and witness states), read in one statement, so one
    /// consistent snapshot of the table (backups).
    pub async fn all(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        sqlx::query_as("SELECT log_id, checkpoint FROM vouch_checkpoints ORDER BY log_id")
            .fetch_all(&self.pool)
            .await
            .map_err(|source| StoreError::Database { op: "list", source })
    }
}

#[async_trait]
impl CheckpointLock for PostgresLock {
    async fn load(&self, log: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT checkpoint FROM vouch_checkpoints WHERE log_id = $1")
                .bind(log)
                .fetch_optional(&self.pool)
                .await
                .map_err(|source| StoreError::Database { op: "load", source })?;
        Ok(row.map(|r| r.0))
    }

    async fn create(&self, log: &str, checkpoint: &[u8]) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO vouch_checkpoints (log_id, checkpoint) VALUES ($1, $2) \
             ON CONFLICT (log_id) DO NOTHING",
        )
        .bind(log)
        .bind(checkpoint)
        .execute(&self.pool)
        .await
        .map_err(|source| StoreError::Database {
            op: "create",
            source,
        })?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists { log: log.into() })
        }
    }

    async fn compare_and_swap(&self, log: &str, old: &[u8], new: &[u8]) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE vouch_checkpoints SET checkpoint = $1 WHERE log_id = $2 AND checkpoint = $3",
        )
        .bind(new)
        .bind(log)
        .bind(old)
        .execute(&self.pool)
        .await
        .map_err(|source| StoreError::Database { op: "swap", source })?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        Err(StoreError::Conflict {
            log: log.into(),
            found: self.load(log).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// The admin URL: `VOUCH_TEST_PG` or the local trust-auth server as `postgres`.
    fn admin_url() -> String {
        std::env::var("VOUCH_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    /// Runs the lock contract against a fresh, uniquely named database, dropped after.
    #[tokio::test]
    async fn postgres_lock_contract() {
        let admin = admin_url();
        let name = format!(
            "vouch_store_test_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL at 127.0.0.1:5432 (set VOUCH_TEST_PG to another admin URL)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("admin URL has no database part"),
        };
        let result = async move {
            assert!(matches!(
                PostgresLock::connect(&url, false).await,
                Err(StoreError::MissingSchema { .. })
            ));
            let lock = PostgresLock::connect(&url, true).await.unwrap();
            crate::lock::exercise(&lock).await;
            lock.close().await;
        };
        // Drop the database whatever happened, then report.
        let outcome = tokio::spawn(result).await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
