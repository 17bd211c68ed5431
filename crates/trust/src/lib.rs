//! Trust roots through TUF: this crate's one job is moving Sigstore trust material
//! (`trusted_root.json`, `signing_config.v0.2.json`) between an instance and its clients
//! under The Update Framework.
//!
//! - [`repo`]: the repository side, what `vouch serve` publishes under `/tuf/` and what
//!   `vouch admin tuf` signs offline: Ed25519 keys, the four top-level roles built and
//!   signed over TUF canonical JSON, and the trusted-root history kept across key rotations.
//! - [`ceremony`]: the operator's offline steps (`vouch admin tuf keygen`, `init`,
//!   `rotate-root`, `targets`, `sign`) on a staging directory, and the checks a publish
//!   makes with the client's own code before the server sees a file.
//! - [`client`]: the client side, `vouch audit roots` and every `--instance URL`: a refresh
//!   through the maintained `sigstore-tuf` client (root chain, timestamp, snapshot,
//!   targets, rollback, freeze, mix-and-match and length checks) with a per-instance
//!   cache, and the offline read of that cache that never opens a connection.
//!
//! Errors are one [`Error`] enum with stable `TUF_E…` codes ([`Error::code`]).

pub mod ceremony;
pub mod client;
mod error;
pub mod repo;

pub use client::{
    audit_roots, cache_dir_for, default_cache_root, instance_trusted_root, read_offline, refresh,
    Instance, Refresh, Refreshed, RootsReport, PUBLIC_GOOD_TUF_URL, STAGING_TUF_URL,
};
pub use error::Error;
