//! `PostgresLock`: the lock backend for deployments with several `vouch serve` nodes.

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::sql::{sql_lock, LockSql};
use crate::{CheckpointLock, Lease, StoreError};

/// The lease table: at most one row (`id = 1`), expiry by the server's clock.
const LEASE_TABLE: &str = "CREATE TABLE IF NOT EXISTS vouch_sequencer_lease \
     (id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1), holder TEXT NOT NULL, \
     address TEXT NOT NULL, epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)";

/// The columns a [`Lease`] is read from (`now()` is the statement's transaction
/// start: one instant for the whole statement).
macro_rules! lease_columns {
    () => {
        "holder, address, epoch, (extract(epoch FROM expires_at) * 1000)::BIGINT, \
         (extract(epoch FROM (expires_at - now())) * 1000)::BIGINT"
    };
}

/// PostgreSQL's lock statements. The fenced swap locks the lease row FOR SHARE: a
/// takeover (an UPDATE of that row) racing the swap either committed first, and the
/// locking read re-checks the row's newest version (READ COMMITTED), so the swap is
/// refused; or waits until the swap has committed, i.e. the swap happened while the
/// epoch still held the lease. Taking the lease with ON CONFLICT DO UPDATE locks the row
/// and evaluates its WHERE on the latest committed version: of two nodes racing for an
/// expired lease, one updates it and the other sees it unexpired.
const SQL: LockSql = LockSql {
    load: "SELECT checkpoint FROM vouch_checkpoints WHERE log_id = $1",
    create: "INSERT INTO vouch_checkpoints (log_id, checkpoint) VALUES ($1, $2) \
             ON CONFLICT (log_id) DO NOTHING",
    swap: "UPDATE vouch_checkpoints SET checkpoint = $1 WHERE log_id = $2 AND checkpoint = $3",
    swap_fenced: "UPDATE vouch_checkpoints SET checkpoint = $1 WHERE log_id = $2 \
                  AND checkpoint = $3 AND EXISTS (SELECT 1 FROM vouch_sequencer_lease \
                  WHERE id = 1 AND epoch = $4 AND expires_at > now() FOR SHARE)",
    acquire: concat!(
        "INSERT INTO vouch_sequencer_lease AS l (id, holder, address, epoch, expires_at) \
         VALUES (1, $1, $2, 1, now() + make_interval(secs => $3::DOUBLE PRECISION / 1000)) \
         ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, \
         address = EXCLUDED.address, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at \
         WHERE l.expires_at <= now() RETURNING ",
        lease_columns!()
    ),
    renew: "UPDATE vouch_sequencer_lease \
            SET expires_at = now() + make_interval(secs => $1::DOUBLE PRECISION / 1000) \
            WHERE id = 1 AND epoch = $2 AND holder = $3 AND expires_at > now()",
    release: "UPDATE vouch_sequencer_lease SET expires_at = LEAST(expires_at, now()) \
              WHERE id = 1 AND epoch = $1 AND holder = $2",
    lease_row: concat!(
        "SELECT ",
        lease_columns!(),
        " FROM vouch_sequencer_lease WHERE id = 1"
    ),
    all: "SELECT log_id, checkpoint FROM vouch_checkpoints ORDER BY log_id",
};

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
        if !lock.table_exists("vouch_checkpoints").await? {
            return Err(StoreError::MissingSchema {
                table: "vouch_checkpoints",
            });
        }
        // The lease table belongs with the checkpoint table; a lock database made
        // before the lease existed gains it here. Two nodes starting at once may race
        // on CREATE TABLE IF NOT EXISTS (a unique violation in the catalog): what
        // matters is that the table exists afterwards.
        if let Err(source) = sqlx::query(LEASE_TABLE).execute(&lock.pool).await {
            if !lock.table_exists("vouch_sequencer_lease").await? {
                return Err(StoreError::Database {
                    op: "create lease table",
                    source,
                });
            }
        }
        Ok(lock)
    }

    /// Whether `table` exists in the connected database.
    async fn table_exists(&self, table: &str) -> Result<bool, StoreError> {
        let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&self.pool)
            .await
            .map_err(|source| StoreError::Database {
                op: "check schema",
                source,
            })?;
        Ok(exists)
    }
}

sql_lock!(PostgresLock, SQL);

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_testkit::pg::PgDatabase;

    /// Runs the lock contract against a fresh database (dropped after).
    #[tokio::test]
    async fn postgres_lock_contract() {
        let db = PgDatabase::create();
        let url = db.url();
        assert!(matches!(
            PostgresLock::connect(&url, false).await,
            Err(StoreError::MissingSchema { .. })
        ));
        let lock = PostgresLock::connect(&url, true).await.unwrap();
        crate::lock::exercise(&lock).await;
        // The lease through a second pool (another node on the same database).
        let other = PostgresLock::connect(&url, false).await.unwrap();
        crate::lock::exercise_lease(&other).await;
        assert_eq!(
            lock.current_lease().await.unwrap().map(|l| l.epoch),
            Some(3)
        );
        other.close().await;
        lock.close().await;
    }
}
