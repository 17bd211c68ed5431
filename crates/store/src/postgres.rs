//! `PostgresLock`: the lock backend for deployments with several `vouch serve` nodes.

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::{CheckpointLock, SequencerClaim, StoreError};

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

/// The advisory-lock key of the sequencer claim ("vouc" in ASCII). Below 2^31, so in
/// `pg_locks` it appears as `classid = 0, objid = KEY, objsubid = 1`.
const SEQUENCER_KEY: i64 = 0x766f_7563;

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

    /// A session-level advisory lock on a connection taken out of the pool for the
    /// claim's lifetime. PostgreSQL releases it when that session ends, so a crashed
    /// holder frees it. The holder's description is its `application_name`, which a
    /// refused process reads back through `pg_locks` / `pg_stat_activity`.
    async fn claim_sequencer(&self, holder: &str) -> Result<SequencerClaim, StoreError> {
        let db = |op| move |source| StoreError::Database { op, source };
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("claim sequencer"))?
            .detach();
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(SEQUENCER_KEY)
            .fetch_one(&mut conn)
            .await
            .map_err(db("claim sequencer"))?;
        if !got {
            let found: Option<(Option<String>, Option<String>, i32)> = sqlx::query_as(
                "SELECT a.application_name, host(a.client_addr), a.pid \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = $1 \
                 AND l.objsubid = 1 AND l.granted AND l.database = \
                 (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .bind(SEQUENCER_KEY)
            .fetch_optional(&mut conn)
            .await
            .map_err(db("find the sequencer"))?;
            let holder = match found {
                Some((name, addr, pid)) => format!(
                    "{} (PostgreSQL session {pid} from {})",
                    name.filter(|n| !n.is_empty())
                        .unwrap_or_else(|| "an unnamed session".into()),
                    addr.unwrap_or_else(|| "a local socket".into())
                ),
                None => "another PostgreSQL session".into(),
            };
            return Err(StoreError::SequencerHeld { holder });
        }
        // application_name is at most 63 bytes; keep it a valid UTF-8 prefix.
        let mut name = holder.to_owned();
        while name.len() > 63 {
            name.pop();
        }
        sqlx::query("SELECT set_config('application_name', $1, false)")
            .bind(name)
            .execute(&mut conn)
            .await
            .map_err(db("name the sequencer session"))?;
        // A Mutex only to make the guard `Sync`; nothing uses the connection again.
        Ok(SequencerClaim::new(std::sync::Mutex::new(conn)))
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
