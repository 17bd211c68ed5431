//! `PostgresMeta`: the metadata backend for deployments with several `vouch serve` nodes.

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};

use super::{MetaError, Migration};

type Db = Postgres;
type Store = PostgresMeta;

// The shared SQL, compiled once per dialect on purpose: `Db` differs, the code not.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// The metadata store in PostgreSQL. Commits are durable on return with the default
/// `synchronous_commit=on`. Transactions run at READ COMMITTED; where a decision reads
/// before it writes (binding caps, a package name, a repository owner id) a
/// transaction-scoped advisory lock on the package name serialises the deciders, and
/// uniqueness is always left to UNIQUE constraints.
#[derive(Debug, Clone)]
pub struct PostgresMeta {
    pool: PgPool,
}

impl PostgresMeta {
    /// Connects to `url` (`postgres://...`). Nothing is created: call
    /// [`super::MetaStore::migrate`] or [`super::MetaStore::check_schema`].
    pub async fn connect(url: &str) -> Result<Self, MetaError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await
            .map_err(MetaError::db("connect postgres"))?;
        Ok(PostgresMeta { pool })
    }

    /// Closes the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Tables in the current schema (a restore refuses a database that has any).
    pub async fn table_count(&self) -> Result<i64, MetaError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(MetaError::db("count tables"))?;
        Ok(n)
    }
}

async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

/// Takes a transaction-scoped advisory lock on `key`, released at commit or rollback.
async fn lock_name(conn: &mut PgConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "integrity",
        sql: include_str!("../../migrations/postgres/0002_integrity.sql"),
    },
    Migration {
        version: 3,
        name: "accounts",
        sql: include_str!("../../migrations/postgres/0003_accounts.sql"),
    },
    Migration {
        version: 4,
        name: "scopes_names",
        sql: include_str!("../../migrations/postgres/0004_scopes_names.sql"),
    },
    Migration {
        version: 5,
        name: "reseal",
        sql: include_str!("../../migrations/postgres/0005_reseal.sql"),
    },
    Migration {
        version: 6,
        name: "binding_ids",
        sql: include_str!("../../migrations/postgres/0006_binding_ids.sql"),
    },
    // 7 is the sequencer lease's (another change); the runner tolerates the gap.
    Migration {
        version: 8,
        name: "web_sessions",
        sql: include_str!("../../migrations/postgres/0008_web_sessions.sql"),
    },
    Migration {
        version: 9,
        name: "pypi",
        sql: include_str!("../../migrations/postgres/0009_pypi.sql"),
    },
    Migration {
        version: 10,
        name: "cargo",
        sql: include_str!("../../migrations/postgres/0010_cargo.sql"),
    },
];

const MIGRATIONS_TABLE_EXISTS: &str = "SELECT COUNT(*) FROM pg_tables \
     WHERE schemaname = current_schema() AND tablename = 'vouch_meta_migrations'";
