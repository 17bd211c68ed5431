//! The log engine: pools entries, sequences them with group commit, writes tiles through a storage trait and publishes signed checkpoints.
//!
//! - [`Log`] ([`sequencer`]): `Log::open` recovers, `Log::add` pools an entry and resolves
//!   to its index once committed. The commit points are documented in [`sequencer`].
//! - [`proofs`]: inclusion and consistency proofs from stored tiles; [`Prover`]
//!   answers many inclusion proofs against one checkpoint from tiles read once.
//! - [`sweep`]: superseded partial tiles are deleted after a grace period.
//! - [`invariants`]: a whole-log check (every tile, bundle and checkpoint) for tests.
//! - [`health`]: the sequencer's liveness ([`Log::health`]) and per-batch reports for metrics.
//! - [`Clock`]: injectable wall-clock time.
//!
//! **Architecture invariant:** no entry is acknowledged before the tiles that hold it
//! are durable and a checkpoint covering it has won the compare-and-swap.

mod clock;
mod config;
pub mod election;
mod error;
pub mod health;
pub mod invariants;
pub mod proofs;
mod prover;
pub mod sequencer;
pub mod staging;
mod state;
pub mod sweep;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::LogConfig;
pub use election::{Candidate, Election, Leadership, LeaseKeeper, Role};
pub use error::LogError;
pub use health::{BatchObserver, BatchReport, Health};
pub use prover::Prover;
pub use sequencer::{Log, Published, CHECKPOINT_KEY};
