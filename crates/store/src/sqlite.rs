//! `SqliteLock`: the default lock backend, one SQLite file with a compare-and-swap table.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

use crate::{CheckpointLock, SequencerClaim, StoreError};

const TABLE: &str = "vouch_checkpoints";

/// The lock table in a SQLite database. WAL journal with `synchronous=FULL`: a commit
/// is fsynced before `compare_and_swap` returns, as [`CheckpointLock`] requires. Other
/// processes may share the file; SQLite serialises writers, so the swap is atomic.
#[derive(Debug, Clone)]
pub struct SqliteLock {
    pool: SqlitePool,
    /// `<database>.sequencer`: the file whose OS lock is the sequencer claim.
    claim_path: std::path::PathBuf,
}

impl SqliteLock {
    /// Opens the database at `path`. With `create` (`--dev`) the file and table are
    /// made if missing; without it both must exist ([`StoreError::MissingSchema`]).
    pub async fn open(path: &Path, create: bool) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Database {
                op: "parse options",
                source,
            })?
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = sqlx::pool::PoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(|source| StoreError::Database {
                op: "open sqlite",
                source,
            })?;
        let mut claim_path = path.as_os_str().to_owned();
        claim_path.push(".sequencer");
        let lock = SqliteLock {
            pool,
            claim_path: claim_path.into(),
        };
        if create {
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS vouch_checkpoints \
                 (log_id TEXT PRIMARY KEY NOT NULL, checkpoint BLOB NOT NULL)",
            )
            .execute(&lock.pool)
            .await
            .map_err(|source| StoreError::Database {
                op: "create table",
                source,
            })?;
        }
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?")
                .bind(TABLE)
                .fetch_optional(&lock.pool)
                .await
                .map_err(|source| StoreError::Database {
                    op: "check schema",
                    source,
                })?;
        if exists.is_none() {
            return Err(StoreError::MissingSchema { table: TABLE });
        }
        Ok(lock)
    }

    /// Every row (log checkpoints and witness states), read in one statement, so one
    /// consistent snapshot of the table (backups).
    pub async fn all(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        sqlx::query_as("SELECT log_id, checkpoint FROM vouch_checkpoints ORDER BY log_id")
            .fetch_all(&self.pool)
            .await
            .map_err(|source| StoreError::Database { op: "list", source })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl CheckpointLock for SqliteLock {
    async fn load(&self, log: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT checkpoint FROM vouch_checkpoints WHERE log_id = ?")
                .bind(log)
                .fetch_optional(&self.pool)
                .await
                .map_err(|source| StoreError::Database { op: "load", source })?;
        Ok(row.map(|r| r.0))
    }

    async fn create(&self, log: &str, checkpoint: &[u8]) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO vouch_checkpoints (log_id, checkpoint) VALUES (?, ?) \
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
            "UPDATE vouch_checkpoints SET checkpoint = ? WHERE log_id = ? AND checkpoint = ?",
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

    /// An exclusive OS lock (`flock`) on `<database>.sequencer`, held by the open file;
    /// the kernel releases it when the process exits, even on a crash. The holder writes
    /// its description into the file so a refused process can name it.
    async fn claim_sequencer(&self, holder: &str) -> Result<SequencerClaim, StoreError> {
        use std::io::{Read, Seek, Write};
        let path = self.claim_path.clone();
        let holder = holder.to_owned();
        let io = |source: std::io::Error| StoreError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // flock(2) through rustix (std's File::try_lock is newer than the MSRV).
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let text = text.trim();
                return Err(StoreError::SequencerHeld {
                    holder: if text.is_empty() {
                        format!("a process holding {}", path.display())
                    } else {
                        text.to_owned()
                    },
                });
            }
            Err(e) => return Err(io(e.into())),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        Ok(SequencerClaim::new(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_lock_contract() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock.db");
        assert!(
            SqliteLock::open(&path, false).await.is_err(),
            "created implicitly"
        );
        let lock = SqliteLock::open(&path, true).await.unwrap();
        crate::lock::exercise(&lock).await;
        // The claim holds across handles (another process opens its own): the second
        // handle is refused and told who holds it.
        let claim = lock.claim_sequencer("pid 1 on test").await.unwrap();
        let other = SqliteLock::open(&path, false).await.unwrap();
        match other.claim_sequencer("pid 2 on test").await {
            Err(StoreError::SequencerHeld { holder }) => assert_eq!(holder, "pid 1 on test"),
            r => panic!("expected SequencerHeld, got {r:?}"),
        }
        drop(claim);
        drop(other.claim_sequencer("pid 2 on test").await.unwrap());
        // Reopening without `create` finds the table and the row.
        let again = SqliteLock::open(&path, false).await.unwrap();
        assert_eq!(again.load("a").await.unwrap().as_deref(), Some(&b"two"[..]));
    }

    #[tokio::test]
    async fn missing_table_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.db");
        std::fs::File::create(&path).unwrap();
        assert!(matches!(
            SqliteLock::open(&path, false).await,
            Err(StoreError::MissingSchema { .. })
        ));
    }
}
