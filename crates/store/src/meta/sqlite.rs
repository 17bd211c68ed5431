//! `SqliteMeta`: the embedded metadata backend, one SQLite file under the data directory.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection, Transaction};

use super::{MetaError, Migration};

type Db = Sqlite;
type Store = SqliteMeta;

// The shared SQL, compiled once per dialect on purpose: `Db` differs, the code not.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// The metadata store in a SQLite file: WAL journal with `synchronous=FULL` (a commit
/// is fsynced before the call returns), foreign keys enforced, and a 10 s busy
/// timeout so writers from several connections or processes queue instead of failing.
/// Write transactions start with `BEGIN IMMEDIATE`: SQLite then serialises them up
/// front, which is what makes the read-check-insert sequences (caps, owner ids)
/// atomic here.
#[derive(Debug, Clone)]
pub struct SqliteMeta {
    pool: SqlitePool,
}

impl SqliteMeta {
    /// Opens the database file at `path`. With `create` (`--dev`) a missing file is
    /// created; without it the file must exist. No table is created either way: call
    /// [`super::MetaStore::migrate`] or [`super::MetaStore::check_schema`].
    pub async fn open(path: &Path, create: bool) -> Result<Self, MetaError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(MetaError::db("open sqlite"))?;
        Ok(SqliteMeta { pool })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes a transactionally consistent copy of the whole database to `dst` (which
    /// must not exist) with `VACUUM INTO`: one read transaction, so concurrent writers
    /// are neither blocked for long nor torn into the copy (backups).
    pub async fn snapshot_into(&self, dst: &Path) -> Result<(), MetaError> {
        let dst = dst.to_str().ok_or_else(|| {
            MetaError::db("snapshot")(sqlx::Error::Protocol(
                "the snapshot path is not UTF-8".into(),
            ))
        })?;
        sqlx::query("VACUUM INTO ?")
            .bind(dst)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(MetaError::db("snapshot"))
    }
}

async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// `BEGIN IMMEDIATE` already holds the database's only write lock.
async fn lock_name(_conn: &mut SqliteConnection, _key: &str) -> Result<(), sqlx::Error> {
    Ok(())
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "integrity",
        sql: include_str!("../../migrations/sqlite/0002_integrity.sql"),
    },
    Migration {
        version: 3,
        name: "accounts",
        sql: include_str!("../../migrations/sqlite/0003_accounts.sql"),
    },
    Migration {
        version: 4,
        name: "scopes_names",
        sql: include_str!("../../migrations/sqlite/0004_scopes_names.sql"),
    },
    Migration {
        version: 5,
        name: "reseal",
        sql: include_str!("../../migrations/sqlite/0005_reseal.sql"),
    },
    Migration {
        version: 6,
        name: "binding_ids",
        sql: include_str!("../../migrations/sqlite/0006_binding_ids.sql"),
    },
    // 7 is the sequencer lease's (another change); the runner tolerates the gap.
    Migration {
        version: 8,
        name: "web_sessions",
        sql: include_str!("../../migrations/sqlite/0008_web_sessions.sql"),
    },
    Migration {
        version: 9,
        name: "pypi",
        sql: include_str!("../../migrations/sqlite/0009_pypi.sql"),
    },
    Migration {
        version: 10,
        name: "cargo",
        sql: include_str!("../../migrations/sqlite/0010_cargo.sql"),
    },
];

const MIGRATIONS_TABLE_EXISTS: &str = "SELECT COUNT(*) FROM sqlite_master \
     WHERE type = 'table' AND name = 'vouch_meta_migrations'";
