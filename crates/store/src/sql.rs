//! What the two SQL lock backends share: the same statements, bound and read the same way, differing only in their SQL text.
//!
//! [`crate::SqliteLock`] and [`crate::PostgresLock`] run one statement per
//! [`CheckpointLock`](crate::CheckpointLock) call, with the same binds in the same
//! order; they differ in placeholders, column types and how the database's clock is
//! read. Each gives its text as a [`LockSql`]; [`sql_lock!`] writes the trait impl once
//! for both (a macro rather than a generic over `sqlx::Database`, whose bounds would
//! hide the statements behind a page of trait plumbing).

use crate::lock::remaining;
use crate::Lease;

/// One backend's lock statements. The binds each takes, in order:
pub(crate) struct LockSql {
    /// log → `(checkpoint)`
    pub load: &'static str,
    /// log, checkpoint (does nothing when the row exists)
    pub create: &'static str,
    /// new, log, old
    pub swap: &'static str,
    /// new, log, old, epoch (changes no row unless the epoch holds an unexpired lease)
    pub swap_fenced: &'static str,
    /// holder, address, ttl in ms → a [`LeaseRow`] when taken
    pub acquire: &'static str,
    /// ttl in ms, epoch, holder
    pub renew: &'static str,
    /// epoch, holder
    pub release: &'static str,
    /// → a [`LeaseRow`]
    pub lease_row: &'static str,
    /// → every `(log_id, checkpoint)`, ordered
    pub all: &'static str,
}

/// How both backends return the lease: holder, address, epoch, expiry in Unix ms, and
/// milliseconds left by the database's clock (negative once expired).
pub(crate) type LeaseRow = (String, String, i64, i64, i64);

/// The lease of a row, with whether it was unexpired when read.
pub(crate) fn lease_of((holder, address, epoch, expires_at_ms, left): LeaseRow) -> (Lease, bool) {
    (
        Lease {
            holder,
            address,
            epoch,
            expires_at_ms,
            remaining: remaining(left),
        },
        left > 0,
    )
}

/// Writes `all`, `close`, `lease_row` and the [`CheckpointLock`](crate::CheckpointLock)
/// impl of a SQL backend `$ty` (a struct with a `pool` field) from its statements `$sql`.
macro_rules! sql_lock {
    ($ty:ident, $sql:expr) => {
        impl $ty {
            /// Every row (log checkpoints and witness states), read in one statement,
            /// so one consistent snapshot of the table (backups).
            pub async fn all(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
                sqlx::query_as($sql.all)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|source| StoreError::Database { op: "list", source })
            }

            /// Closes the pool (tests drop their database afterwards).
            pub async fn close(&self) {
                self.pool.close().await;
            }

            /// The lease row, with whether it is unexpired by the database's clock.
            async fn lease_row(&self) -> Result<Option<(Lease, bool)>, StoreError> {
                let row: Option<$crate::sql::LeaseRow> = sqlx::query_as($sql.lease_row)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|source| StoreError::Database {
                        op: "read lease",
                        source,
                    })?;
                Ok(row.map($crate::sql::lease_of))
            }
        }

        #[async_trait::async_trait]
        impl CheckpointLock for $ty {
            async fn load(&self, log: &str) -> Result<Option<Vec<u8>>, StoreError> {
                let row: Option<(Vec<u8>,)> = sqlx::query_as($sql.load)
                    .bind(log)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|source| StoreError::Database { op: "load", source })?;
                Ok(row.map(|r| r.0))
            }

            async fn create(&self, log: &str, checkpoint: &[u8]) -> Result<(), StoreError> {
                let done = sqlx::query($sql.create)
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

            async fn compare_and_swap(
                &self,
                log: &str,
                old: &[u8],
                new: &[u8],
            ) -> Result<(), StoreError> {
                let done = sqlx::query($sql.swap)
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

            async fn compare_and_swap_fenced(
                &self,
                log: &str,
                old: &[u8],
                new: &[u8],
                epoch: i64,
            ) -> Result<(), StoreError> {
                let done = sqlx::query($sql.swap_fenced)
                    .bind(new)
                    .bind(log)
                    .bind(old)
                    .bind(epoch)
                    .execute(&self.pool)
                    .await
                    .map_err(|source| StoreError::Database {
                        op: "fenced swap",
                        source,
                    })?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                // Refused: say why (a later read, but the swap failed whatever it shows).
                let lease = self.lease_row().await?;
                Err($crate::lock::refused_swap(self, log, epoch, lease).await)
            }

            async fn acquire_lease(
                &self,
                holder: &str,
                address: &str,
                ttl: std::time::Duration,
            ) -> Result<Option<Lease>, StoreError> {
                let taken: Option<$crate::sql::LeaseRow> = sqlx::query_as($sql.acquire)
                    .bind(holder)
                    .bind(address)
                    .bind($crate::lock::ttl_ms(ttl))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|source| StoreError::Database {
                        op: "acquire lease",
                        source,
                    })?;
                if let Some(row) = taken {
                    return Ok(Some($crate::sql::lease_of(row).0));
                }
                Ok(match self.lease_row().await? {
                    Some((l, true)) if l.holder == holder => Some(l),
                    _ => None,
                })
            }

            async fn renew_lease(
                &self,
                lease: &Lease,
                ttl: std::time::Duration,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query($sql.renew)
                    .bind($crate::lock::ttl_ms(ttl))
                    .bind(lease.epoch)
                    .bind(&lease.holder)
                    .execute(&self.pool)
                    .await
                    .map_err(|source| StoreError::Database {
                        op: "renew lease",
                        source,
                    })?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
                sqlx::query($sql.release)
                    .bind(lease.epoch)
                    .bind(&lease.holder)
                    .execute(&self.pool)
                    .await
                    .map_err(|source| StoreError::Database {
                        op: "release lease",
                        source,
                    })?;
                Ok(())
            }

            async fn current_lease(&self) -> Result<Option<Lease>, StoreError> {
                Ok(self
                    .lease_row()
                    .await?
                    .and_then(|(l, live)| live.then_some(l)))
            }
        }
    };
}
pub(crate) use sql_lock;
