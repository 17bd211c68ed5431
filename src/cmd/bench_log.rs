//! `vouch bench log`: appends entries through the real sequencer and durable local storage, and measures the same-run floor (SHA-256 of leaves and interior nodes, sequential writes with one fsync per batch).

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use vouch_log::{Log, LogConfig};
use vouch_store::{LocalDir, SqliteLock};
use vouch_tlog::{KeyType, RightEdge, Signer};

use crate::output::{outln, print_json, CodedError, Exit};

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
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if args.entry_size > vouch_tlog::MAX_ENTRY_SIZE || args.entries == 0 {
        return Err(CodedError::new(
            "BENCH_E002",
            Exit::Error,
            format!(
                "--entries must be > 0 and --entry-size at most {} bytes",
                vouch_tlog::MAX_ENTRY_SIZE
            ),
        )
        .into());
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let run_dir = args
        .dir
        .join(format!("bench-log-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(bench(&args, &run_dir));
    if !args.keep {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    let report = result?;
    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "{:.0} appends/s ({:.0}% of the floor, {:.0}/s); integration p50 {:.1} ms, p99 {:.1} ms; {:.0} bytes on disk per entry",
            report["appends_per_s"].as_f64().unwrap_or(0.0),
            report["ratio_to_floor"].as_f64().unwrap_or(0.0) * 100.0,
            report["floor_appends_per_s"].as_f64().unwrap_or(0.0),
            report["p50_integration_ms"].as_f64().unwrap_or(0.0),
            report["p99_integration_ms"].as_f64().unwrap_or(0.0),
            report["disk_bytes_per_entry"].as_f64().unwrap_or(0.0),
        )?;
    }
    Ok(Exit::Ok)
}

/// Deterministic entry `i`: its index then a filler, `size` bytes.
fn make_entry(i: u64, size: usize) -> Bytes {
    let mut v = vec![0u8; size];
    let idx = i.to_be_bytes();
    for (j, b) in v.iter_mut().enumerate() {
        *b = idx[j % 8] ^ (j as u8).wrapping_mul(31);
    }
    Bytes::from(v)
}

async fn bench(args: &Args, dir: &Path) -> anyhow::Result<serde_json::Value> {
    let n = args.entries;
    let entries: Arc<Vec<Bytes>> =
        Arc::new((0..n).map(|i| make_entry(i, args.entry_size)).collect());

    let objects = Arc::new(LocalDir::create(dir.join("tiles"))?);
    let lock = Arc::new(SqliteLock::open(&dir.join("lock.db"), true).await?);
    let signer = Signer::from_seed("bench.vouch.invalid/log", KeyType::Ed25519, &[7u8; 32])?;
    let config = LogConfig::new("bench.vouch.invalid/log")
        .with_batch_interval(Duration::from_millis(args.batch_interval_ms))
        .with_batch_max_entries(args.batch_max)
        .with_pool_limits(
            (args.producers * args.window).max(args.batch_max) * 2,
            1 << 30,
        );
    let tiles: Arc<dyn vouch_store::Objects> = objects;
    let log = Arc::new(Log::open(config, Arc::clone(&tiles), lock, signer, true).await?);
    let mut checkpoints = log.subscribe();
    let batches = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&batches);
    let batch_watch = tokio::spawn(async move {
        while checkpoints.changed().await.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });

    let done = Arc::new(AtomicU64::new(0));
    let bar = progress(n, Arc::clone(&done));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut producers = Vec::new();
    for _ in 0..args.producers.max(1) {
        let (log, entries, next, done) = (
            Arc::clone(&log),
            Arc::clone(&entries),
            Arc::clone(&next),
            Arc::clone(&done),
        );
        let window = args.window.max(1);
        producers.push(tokio::spawn(async move {
            let mut latencies_us: Vec<u32> = Vec::new();
            let mut inflight = VecDeque::with_capacity(window);
            loop {
                while inflight.len() < window {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let rx = log.enqueue(entries[i as usize].clone())?;
                    inflight.push_back((Instant::now(), rx));
                }
                // Acknowledgements arrive in pool order, so the oldest is due first.
                let Some((t0, rx)) = inflight.pop_front() else {
                    break;
                };
                rx.await.map_err(|_| vouch_log::LogError::Closed)??;
                latencies_us.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, vouch_log::LogError>(latencies_us)
        }));
    }
    let mut latencies = Vec::with_capacity(n as usize);
    for p in producers {
        latencies.extend(p.await.context("producer task")??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    log.shutdown().await;
    // Disk: as written, and once every superseded partial is gone (what the sweeper
    // leaves after the grace period).
    let size = log.latest().size;
    let unswept = dir_bytes(&dir.join("tiles"));
    vouch_log::sweep::sweep_from(&*tiles, 0, size).await;
    let swept = dir_bytes(&dir.join("tiles"));
    batch_watch.abort();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let batches = batches.load(Ordering::Relaxed).max(1);
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        f64::from(latencies[i]) / 1000.0
    };
    let (p50, p99) = (pct(0.50), pct(0.99));

    // The floor, same entries, same machine, same run.
    let per_batch = (n as usize).div_ceil(batches as usize);
    let entries_for_floor = Arc::clone(&entries);
    let floor_hash_s = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let mut edge = RightEdge::new();
        for e in entries_for_floor.iter() {
            edge.push(vouch_tlog::leaf_hash(e));
        }
        std::hint::black_box(edge.root());
        t.elapsed().as_secs_f64()
    })
    .await?;
    let floor_path = dir.join("floor.bin");
    let entries_for_write = Arc::clone(&entries);
    let floor_write_s = tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
        let t = Instant::now();
        let mut f = std::fs::File::create(&floor_path)?;
        for chunk in entries_for_write.chunks(per_batch.max(1)) {
            let mut buf = Vec::with_capacity(chunk.iter().map(|e| e.len() + 2).sum());
            for e in chunk {
                buf.extend_from_slice(&(e.len() as u16).to_be_bytes());
                buf.extend_from_slice(e);
            }
            f.write_all(&buf)?;
            f.sync_data()?;
        }
        let s = t.elapsed().as_secs_f64();
        std::fs::remove_file(&floor_path)?;
        Ok(s)
    })
    .await??;
    let floor_s = floor_hash_s + floor_write_s;
    let appends_per_s = n as f64 / elapsed;
    let floor_appends_per_s = n as f64 / floor_s;
    Ok(serde_json::json!({
        "entries": n,
        "entry_size": args.entry_size,
        "producers": args.producers,
        "window": args.window,
        "batch_interval_ms": args.batch_interval_ms,
        "batch_max": args.batch_max,
        "batches": batches,
        "elapsed_s": elapsed,
        "appends_per_s": appends_per_s,
        "floor_appends_per_s": floor_appends_per_s,
        "floor_hash_s": floor_hash_s,
        "floor_write_s": floor_write_s,
        "floor_fsyncs": (n as usize).div_ceil(per_batch.max(1)),
        "ratio_to_floor": appends_per_s / floor_appends_per_s,
        "p50_integration_ms": p50,
        "p99_integration_ms": p99,
        "max_integration_ms": f64::from(*latencies.last().unwrap_or(&0)) / 1000.0,
        "disk_bytes_per_entry": swept as f64 / n as f64,
        "disk_bytes_per_entry_before_sweep": unswept as f64 / n as f64,
    }))
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A progress bar on stderr, only when stderr is a terminal.
fn progress(n: u64, done: Arc<AtomicU64>) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(n);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} appending [{bar:40}] {pos}/{len} ({per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    let b = bar.clone();
    tokio::spawn(async move {
        while !b.is_finished() {
            b.set_position(done.load(Ordering::Relaxed));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    Some(bar)
}
