//! `vouch bench log`: appends entries through the real sequencer (`vouch_log::Log`, what
//! `vouch serve` runs) and durable local storage, and measures the same-run floor (SHA-256
//! of leaves and interior nodes, sequential writes with one fsync per batch).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use vouch_api_client::{CodedError, Outcome, Progress};
use vouch_log::{Log, LogConfig};
use vouch_store::{LocalDir, SqliteLock};
use vouch_tlog::{KeyType, RightEdge, Signer};

use crate::{failed, percentile_ms, Result};

/// What to append, and how (the sequencer's settings as `vouch serve` takes them).
#[derive(Debug, Clone)]
pub struct LogBench {
    /// Number of entries to append.
    pub entries: u64,
    /// Size of each entry in bytes (at most `vouch_tlog::MAX_ENTRY_SIZE`).
    pub entry_size: usize,
    /// Directory for the run; a fresh subdirectory is made inside it.
    pub dir: PathBuf,
    /// Concurrent producer tasks.
    pub producers: usize,
    /// Entries each producer keeps in flight.
    pub window: usize,
    /// Sequencer batch interval in milliseconds.
    pub batch_interval_ms: u64,
    /// Most entries per batch.
    pub batch_max: usize,
    /// Keep the run's files.
    pub keep: bool,
}

/// The figures of a run (`vouch bench log --json`).
#[derive(Debug, Clone, Serialize)]
pub struct LogReport {
    pub entries: u64,
    pub entry_size: usize,
    pub producers: usize,
    pub window: usize,
    pub batch_interval_ms: u64,
    pub batch_max: usize,
    pub batches: u64,
    pub elapsed_s: f64,
    pub appends_per_s: f64,
    pub floor_appends_per_s: f64,
    pub floor_hash_s: f64,
    pub floor_write_s: f64,
    pub floor_fsyncs: usize,
    pub ratio_to_floor: f64,
    pub p50_integration_ms: f64,
    pub p99_integration_ms: f64,
    pub max_integration_ms: f64,
    /// Bytes on disk per entry once superseded partial tiles are swept.
    pub disk_bytes_per_entry: f64,
    pub disk_bytes_per_entry_before_sweep: f64,
}

/// The one-line summary `vouch bench log` prints.
impl std::fmt::Display for LogReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} appends/s ({:.0}% of the floor, {:.0}/s); integration p50 {:.1} ms, p99 {:.1} ms; {:.0} bytes on disk per entry",
            self.appends_per_s,
            self.ratio_to_floor * 100.0,
            self.floor_appends_per_s,
            self.p50_integration_ms,
            self.p99_integration_ms,
            self.disk_bytes_per_entry,
        )
    }
}

/// Appends `entries` through the real sequencer into a fresh directory under `dir`
/// (tiles fsynced, checkpoint compare-and-swapped in SQLite, exactly as `vouch serve`
/// does), from many concurrent producers so group commit works; then measures the
/// floor on the same machine. The run's files are removed afterwards unless `keep`.
/// `progress` counts appended entries.
pub fn run(args: &LogBench, progress: Arc<dyn Progress>) -> Result<LogReport> {
    if args.entry_size > vouch_tlog::MAX_ENTRY_SIZE || args.entries == 0 {
        return Err(CodedError::new(
            vouch_api_client::codes::BENCH_BAD_ARGS,
            Outcome::Error,
            format!(
                "--entries must be > 0 and --entry-size at most {} bytes",
                vouch_tlog::MAX_ENTRY_SIZE
            ),
        ));
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let run_dir = args
        .dir
        .join(format!("bench-log-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| failed(&format!("creating {}", run_dir.display()), e))?;
    let result = crate::runtime()?.block_on(bench(args, &run_dir, progress));
    if !args.keep {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    result
}

/// Deterministic entry `i`: its index then a filler, `size` bytes.
#[allow(clippy::indexing_slicing, reason = "idx is [u8; 8] and j % 8 < 8")]
fn make_entry(i: u64, size: usize) -> Bytes {
    let mut v = vec![0u8; size];
    let idx = i.to_be_bytes();
    for (j, b) in v.iter_mut().enumerate() {
        *b = idx[j % 8] ^ (j as u8).wrapping_mul(31);
    }
    Bytes::from(v)
}

async fn bench(args: &LogBench, dir: &Path, progress: Arc<dyn Progress>) -> Result<LogReport> {
    let n = args.entries;
    let entries: Arc<Vec<Bytes>> =
        Arc::new((0..n).map(|i| make_entry(i, args.entry_size)).collect());

    let objects = Arc::new(
        LocalDir::create(dir.join("tiles")).map_err(|e| failed("creating the tile store", e))?,
    );
    let lock = Arc::new(
        SqliteLock::open(&dir.join("lock.db"), true)
            .await
            .map_err(|e| failed("opening the checkpoint lock", e))?,
    );
    let signer = Signer::from_seed("bench.vouch.invalid/log", KeyType::Ed25519, &[7u8; 32])
        .map_err(|e| failed("making the log key", e))?;
    let config = LogConfig::new("bench.vouch.invalid/log")
        .with_batch_interval(Duration::from_millis(args.batch_interval_ms))
        .with_batch_max_entries(args.batch_max)
        .with_pool_limits(
            (args.producers * args.window).max(args.batch_max) * 2,
            1 << 30,
        );
    let tiles: Arc<dyn vouch_store::Objects> = objects;
    let log = Arc::new(
        Log::open(config, Arc::clone(&tiles), lock, signer, true)
            .await
            .map_err(|e| failed("opening the log", e))?,
    );
    let mut checkpoints = log.subscribe();
    let batches = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&batches);
    let batch_watch = tokio::spawn(async move {
        while checkpoints.changed().await.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });

    let done = Arc::new(AtomicU64::new(0));
    let ticker = tick(n, Arc::clone(&done), Arc::clone(&progress));
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
                    let Some(entry) = entries.get(i as usize) else {
                        break;
                    };
                    let rx = log.enqueue(entry.clone())?;
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
        let appended = p.await.map_err(|e| failed("a producer task failed", e))?;
        latencies.extend(appended.map_err(|e| failed("appending", e))?);
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
    ticker.abort();
    progress.finish();
    let batches = batches.load(Ordering::Relaxed).max(1);
    latencies.sort_unstable();
    let (p50, p99) = (
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.99),
    );

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
    .await
    .map_err(|e| failed("hashing the floor", e))?;
    let floor_path = dir.join("floor.bin");
    let entries_for_write = Arc::clone(&entries);
    let floor_write_s = tokio::task::spawn_blocking(move || -> std::io::Result<f64> {
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
    .await
    .map_err(|e| failed("writing the floor", e))?
    .map_err(|e| failed("writing the floor", e))?;
    let floor_s = floor_hash_s + floor_write_s;
    let appends_per_s = n as f64 / elapsed;
    let floor_appends_per_s = n as f64 / floor_s;
    Ok(LogReport {
        entries: n,
        entry_size: args.entry_size,
        producers: args.producers,
        window: args.window,
        batch_interval_ms: args.batch_interval_ms,
        batch_max: args.batch_max,
        batches,
        elapsed_s: elapsed,
        appends_per_s,
        floor_appends_per_s,
        floor_hash_s,
        floor_write_s,
        floor_fsyncs: (n as usize).div_ceil(per_batch.max(1)),
        ratio_to_floor: appends_per_s / floor_appends_per_s,
        p50_integration_ms: p50,
        p99_integration_ms: p99,
        max_integration_ms: f64::from(*latencies.last().unwrap_or(&0)) / 1000.0,
        disk_bytes_per_entry: swept as f64 / n as f64,
        disk_bytes_per_entry_before_sweep: unswept as f64 / n as f64,
    })
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

/// Reports appended entries to `progress` every 100 ms until aborted.
fn tick(n: u64, done: Arc<AtomicU64>, progress: Arc<dyn Progress>) -> tokio::task::JoinHandle<()> {
    progress.start(n, "appending");
    tokio::spawn(async move {
        let mut reported = 0;
        loop {
            let now = done.load(Ordering::Relaxed);
            progress.advance(now - reported);
            reported = now;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}
