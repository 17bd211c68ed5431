//! Storage: object stores for blobs and tiles (local disk, memory, S3) and the metadata and checkpoint lock databases (SQLite, PostgreSQL).
//!
//! Four contracts live here, each a trait with its durability, concurrency and
//! idempotence rules written on it:
//!
//! - [`Objects`]: a flat key/value object store for tiles, entry bundles, checkpoints and
//!   blobs. [`LocalDir`] is the default (a directory, with the fsyncs that
//!   `object_store`'s `LocalFileSystem` leaves out), [`RemoteObjects`] wraps any
//!   `object_store` backend (in-memory for tests, S3-compatible for scale).
//! - [`CheckpointLock`]: the compare-and-swap table holding each log's latest committed
//!   checkpoint, in SQLite ([`SqliteLock`]) or PostgreSQL ([`PostgresLock`]). Whoever wins
//!   the swap owns that tree size: this is what makes a crashed or duplicated sequencer
//!   harmless.
//! - [`meta::MetaStore`]: the registry's metadata (users, hashed tokens, packages,
//!   immutable versions, publisher bindings, the OIDC replay store, the audit log) in
//!   SQLite or PostgreSQL, with explicit migrations.
//! - [`blobs::BlobStore`]: content-addressed blobs (`blobs/<blake3>`) over [`Objects`].
//!
//! [`faulty`] holds the test double that fails before or after persisting.

pub mod blobs;
mod error;
pub mod faulty;
mod key;
mod local;
mod lock;
pub mod meta;
mod objects;
mod postgres;
mod remote;
mod sql;
mod sqlite;

pub use error::StoreError;
pub use key::ObjectKey;
pub use local::LocalDir;
pub use lock::{CheckpointLock, Lease, MemoryLock};
pub use objects::Objects;
#[doc(hidden)]
pub use objects::{check_create_if_absent, check_put_many, check_round_trip};
pub use postgres::PostgresLock;
pub use remote::{RemoteObjects, S3Options};
pub use remote::{
    DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT_SECS,
    DEFAULT_RETRY_TIMEOUT_SECS,
};
pub use sqlite::{SequencerClaim, SqliteLock};
