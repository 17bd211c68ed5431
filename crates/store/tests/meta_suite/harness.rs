//! Fresh databases for the metadata suite, and shared fixtures.

use std::sync::Arc;

use sqlx::Connection;
use vouch_store::meta::{MetaStore, NewVersion, PostgresMeta, SqliteMeta, Timestamp, UserId};
use vouch_testkit::pg::PgDatabase;

/// A migrated store on a database nobody else uses. Dropping it removes the database.
pub struct Fresh {
    pub store: Arc<dyn MetaStore>,
    /// Where the database lives; dropping it removes the database.
    target: Target,
}

enum Target {
    Sqlite(tempfile::TempDir),
    /// Held for its `Drop`, which removes the database.
    Postgres {
        _db: PgDatabase,
    },
}

impl Fresh {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMeta::open(&dir.path().join("meta.db"), true)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        Fresh {
            store: Arc::new(store),
            target: Target::Sqlite(dir),
        }
    }

    pub async fn postgres() -> Self {
        let db = PgDatabase::create();
        let store = PostgresMeta::connect(&db.url()).await.unwrap();
        store.migrate().await.unwrap();
        Fresh {
            store: Arc::new(store),
            target: Target::Postgres { _db: db },
        }
    }

    /// A store whose database holds only schema versions 1 and 2, applied as the
    /// binary that shipped them would have (same SQL, same checksums): for testing how
    /// later migrations carry existing rows.
    pub async fn at_v2(postgres: bool) -> Self {
        use sha2::Digest;
        let fresh = if postgres {
            let db = PgDatabase::create();
            let store = PostgresMeta::connect(&db.url()).await.unwrap();
            Fresh {
                store: Arc::new(store),
                target: Target::Postgres { _db: db },
            }
        } else {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteMeta::open(&dir.path().join("meta.db"), true)
                .await
                .unwrap();
            Fresh {
                store: Arc::new(store),
                target: Target::Sqlite(dir),
            }
        };
        let (v1, v2) = if postgres {
            (
                include_str!("../../migrations/postgres/0001_init.sql"),
                include_str!("../../migrations/postgres/0002_integrity.sql"),
            )
        } else {
            (
                include_str!("../../migrations/sqlite/0001_init.sql"),
                include_str!("../../migrations/sqlite/0002_integrity.sql"),
            )
        };
        fresh
            .raw(
                "CREATE TABLE vouch_meta_migrations (version BIGINT PRIMARY KEY NOT NULL, \
                 name TEXT NOT NULL, sha256 TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await
            .unwrap();
        for (version, name, sql) in [(1, "init", v1), (2, "integrity", v2)] {
            fresh.raw(sql).await.unwrap();
            let sum = hex::encode(sha2::Sha256::digest(sql.as_bytes()));
            fresh
                .raw(&format!(
                    "INSERT INTO vouch_meta_migrations VALUES ({version}, '{name}', '{sum}', 1)"
                ))
                .await
                .unwrap();
        }
        fresh
    }

    /// Runs raw SQL on the store's database, around the store (to play a hand-edited
    /// or tampered database).
    pub async fn raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        match &self.target {
            Target::Sqlite(dir) => {
                let url = format!("sqlite://{}", dir.path().join("meta.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
            Target::Postgres { _db: db } => {
                let mut conn = sqlx::PgConnection::connect(&db.url()).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
        }
    }

    /// Another node's store on the same database (its own connection pool).
    pub async fn another_node(&self) -> Arc<dyn MetaStore> {
        match &self.target {
            Target::Sqlite(dir) => Arc::new(
                SqliteMeta::open(&dir.path().join("meta.db"), false)
                    .await
                    .unwrap(),
            ),
            Target::Postgres { _db: db } => {
                Arc::new(PostgresMeta::connect(&db.url()).await.unwrap())
            }
        }
    }

    /// A second, empty database of the same backend, without migrations, and its guard.
    pub async fn unmigrated(&self) -> (Arc<dyn MetaStore>, Box<dyn std::any::Any + Send>) {
        match &self.target {
            Target::Sqlite(dir) => {
                let path = dir.path().join("empty.db");
                assert!(
                    SqliteMeta::open(&path, false).await.is_err(),
                    "a missing database file was created without --dev"
                );
                let store = SqliteMeta::open(&path, true).await.unwrap();
                (Arc::new(store), Box::new(()))
            }
            Target::Postgres { .. } => {
                let db = PgDatabase::create();
                let store = PostgresMeta::connect(&db.url()).await.unwrap();
                (Arc::new(store), Box::new(db))
            }
        }
    }
}

pub fn t(secs: i64) -> Timestamp {
    Timestamp(secs)
}

pub async fn user(store: &dyn MetaStore, name: &str) -> UserId {
    store.create_user(name, None, t(1)).await.unwrap().id
}

/// A version with digests derived from `seed`.
pub fn version(v: &str, seed: u8) -> NewVersion {
    NewVersion {
        version: v.into(),
        blake3: [seed; 32],
        sha256: [seed.wrapping_add(1); 32],
        size: 1234,
        bundle_key: format!("blobs/{}.sigstore", hex::encode([seed; 32])),
        log_index: 42,
        publisher: "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1"
            .into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
        repository_owner_id: None,
        created_at: t(100),
        audit: None,
    }
}
