//! `SqliteLock`: the default lock backend, one SQLite file with a compare-and-swap table.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

use crate::sql::{sql_lock, LockSql};
use crate::{CheckpointLock, Lease, StoreError};

const TABLE: &str = "vouch_checkpoints";

/// The lease table: at most one row (`id = 1`). `expires_ms` is milliseconds since the
/// Unix epoch by SQLite's clock ([`NOW_MS`]).
const LEASE_TABLE: &str = "CREATE TABLE IF NOT EXISTS vouch_sequencer_lease \
     (id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1), holder TEXT NOT NULL, \
     address TEXT NOT NULL, epoch INTEGER NOT NULL, expires_ms INTEGER NOT NULL)";

/// The database's clock in Unix milliseconds. `julianday('now')` is the same for the
/// whole of one statement, so every comparison in a statement sees one instant.
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    };
}

/// SQLite's lock statements. SQLite serialises writers, so each statement is atomic.
const SQL: LockSql = LockSql {
    load: "SELECT checkpoint FROM vouch_checkpoints WHERE log_id = ?",
    create: "INSERT INTO vouch_checkpoints (log_id, checkpoint) VALUES (?, ?) \
             ON CONFLICT (log_id) DO NOTHING",
    swap: "UPDATE vouch_checkpoints SET checkpoint = ? WHERE log_id = ? AND checkpoint = ?",
    swap_fenced: concat!(
        "UPDATE vouch_checkpoints SET checkpoint = ?1 WHERE log_id = ?2 AND checkpoint = ?3 \
         AND EXISTS (SELECT 1 FROM vouch_sequencer_lease WHERE id = 1 AND epoch = ?4 \
         AND expires_ms > ",
        now_ms!(),
        ")"
    ),
    acquire: concat!(
        "INSERT INTO vouch_sequencer_lease (id, holder, address, epoch, expires_ms) \
         VALUES (1, ?1, ?2, 1, ",
        now_ms!(),
        " + ?3) ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, \
         address = excluded.address, epoch = vouch_sequencer_lease.epoch + 1, \
         expires_ms = excluded.expires_ms WHERE vouch_sequencer_lease.expires_ms <= ",
        now_ms!(),
        " RETURNING holder, address, epoch, expires_ms, expires_ms - ",
        now_ms!()
    ),
    renew: concat!(
        "UPDATE vouch_sequencer_lease SET expires_ms = ",
        now_ms!(),
        " + ?1 WHERE id = 1 AND epoch = ?2 AND holder = ?3 AND expires_ms > ",
        now_ms!()
    ),
    release: concat!(
        "UPDATE vouch_sequencer_lease SET expires_ms = MIN(expires_ms, ",
        now_ms!(),
        ") WHERE id = 1 AND epoch = ?1 AND holder = ?2"
    ),
    lease_row: concat!(
        "SELECT holder, address, epoch, expires_ms, expires_ms - ",
        now_ms!(),
        " FROM vouch_sequencer_lease WHERE id = 1"
    ),
    all: "SELECT log_id, checkpoint FROM vouch_checkpoints ORDER BY log_id",
};

/// Proof of a [`SqliteLock::claim_process`]: the claim is held until this is dropped.
pub struct SequencerClaim {
    _file: std::fs::File,
}

impl std::fmt::Debug for SequencerClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SequencerClaim")
    }
}

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
        // The lease table belongs with the checkpoint table; a lock database made
        // before the lease existed gains it here (idempotent).
        sqlx::query(LEASE_TABLE)
            .execute(&lock.pool)
            .await
            .map_err(|source| StoreError::Database {
                op: "create lease table",
                source,
            })?;
        Ok(lock)
    }

    /// Claims this database file for one server process for as long as the returned
    /// [`SequencerClaim`] lives; [`StoreError::SequencerHeld`] naming the holder if
    /// another process (or another claim in this one) has it.
    ///
    /// SQLite is the single-node backend: its lock database and the local object
    /// directory are not meant to be shared by several servers, so a second
    /// `vouch serve` on the same file is refused at start rather than left waiting as a
    /// follower. An exclusive OS lock (`flock`) on `<database>.sequencer`, held by the
    /// open file; the kernel releases it when the process exits, even on a crash. The
    /// holder writes its description into the file so a refused process can name it.
    pub async fn claim_process(&self, holder: &str) -> Result<SequencerClaim, StoreError> {
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
        Ok(SequencerClaim { _file: file })
    }
}

sql_lock!(SqliteLock, SQL);

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
        let claim = lock.claim_process("pid 1 on test").await.unwrap();
        let other = SqliteLock::open(&path, false).await.unwrap();
        match other.claim_process("pid 2 on test").await {
            Err(e @ StoreError::SequencerHeld { .. }) => {
                assert_eq!(e.code(), "STORE_E006");
                assert!(e.to_string().contains("pid 1 on test"), "{e}");
            }
            r => panic!("expected SequencerHeld, got {r:?}"),
        }
        drop(claim);
        drop(other.claim_process("pid 2 on test").await.unwrap());
        // Reopening without `create` finds the table and the row.
        let again = SqliteLock::open(&path, false).await.unwrap();
        assert_eq!(again.load("a").await.unwrap().as_deref(), Some(&b"two"[..]));
        // The lease, through two handles (two processes see one row).
        crate::lock::exercise_lease(&again).await;
        assert_eq!(
            other.current_lease().await.unwrap().map(|l| l.epoch),
            Some(3)
        );
    }

    /// A lock database made before the lease existed gains the lease table on open.
    #[tokio::test]
    async fn old_lock_database_gains_the_lease_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let lock = SqliteLock::open(&path, true).await.unwrap();
        sqlx::query("DROP TABLE vouch_sequencer_lease")
            .execute(&lock.pool)
            .await
            .unwrap();
        lock.close().await;
        let lock = SqliteLock::open(&path, false).await.unwrap();
        assert!(lock.current_lease().await.unwrap().is_none());
        let l = lock
            .acquire_lease("n", "http://n", Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(l.epoch, 1);
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
