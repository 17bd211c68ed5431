//! `vouch bench log`: appends entries through the real sequencer and durable local storage,
//! and measures the same-run floor (`vouch_bench::log`).

use std::path::PathBuf;
use std::sync::Arc;

use vouch_api_client::Progress;
use vouch_bench::log::{LogBench, LogReport};

use super::registry_api::TermProgress;

/// Append N entries through the real sequencer into DIR (tiles fsynced, checkpoint
/// compare-and-swapped in SQLite, exactly as `vouch serve` does), from many concurrent
/// producers so group commit works; then measure the floor on the same machine:
/// hashing the same entries as leaves and interior nodes with SHA-256, and writing the
/// same bytes sequentially with one fsync per batch. Also reports the bytes on disk per
/// entry (tiles, bundles and checkpoint) once superseded partial tiles are swept, as
/// they are `[log] partial_tile_grace_secs` after each batch. The run's files are
/// removed afterwards unless --keep.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of entries to append.
    #[arg(long, default_value_t = 200_000)]
    entries: u64,
    /// Size of each entry in bytes (at most 65535, the entry bundle limit).
    #[arg(long, default_value_t = 1024)]
    entry_size: usize,
    /// Directory for the run (a fresh subdirectory is made inside it).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Concurrent producer tasks.
    #[arg(long, default_value_t = 64)]
    producers: usize,
    /// Entries each producer keeps in flight.
    #[arg(long, default_value_t = 512)]
    window: usize,
    /// Sequencer batch interval in milliseconds.
    #[arg(long, default_value_t = 25)]
    batch_interval_ms: u64,
    /// Most entries per batch (one fsync round and one checkpoint per batch).
    #[arg(long, default_value_t = 32 * 1024)]
    batch_max: usize,
    /// Keep the run's files.
    #[arg(long)]
    keep: bool,
    /// Print one JSON object (the figures) instead of a summary line.
    #[arg(long)]
    pub(super) json: bool,
}

pub fn run(args: Args) -> anyhow::Result<LogReport> {
    let progress: Arc<dyn Progress> = Arc::new(TermProgress::entries());
    Ok(vouch_bench::log::run(
        &LogBench {
            entries: args.entries,
            entry_size: args.entry_size,
            dir: args.dir,
            producers: args.producers,
            window: args.window,
            batch_interval_ms: args.batch_interval_ms,
            batch_max: args.batch_max,
            keep: args.keep,
        },
        progress,
    )?)
}
