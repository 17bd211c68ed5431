//! Hashing throughput measurements for `scripts/bench-ingest.sh`, `benches/hash.rs` and
//! a `vouch bench ingest` command: the ingest pipeline over a local file and over a real
//! HTTP download from a loopback server, with the process's peak RSS (flat memory).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

use crate::error::IngestError;
use crate::fetch::Fetcher;
use crate::forge::{ForgeConfig, ForgeKind};
use crate::guard::StaticResolver;
use crate::hash::{hash_file, Digests, HashBudget, HashOutcome};
use crate::release::AssetRef;

/// One measurement.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// `file` (read from disk) or `http` (downloaded from a loopback server).
    pub mode: &'static str,
    /// Bytes hashed.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Process peak resident set size after the run, from `/proc/self/status` VmHWM.
    pub peak_rss_bytes: Option<u64>,
    /// The SHA-256, hex (compare with `sha256sum`).
    pub sha256: String,
}

impl BenchReport {
    /// Throughput in MiB/s.
    pub fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1 << 20) as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }

    /// One JSON object with stable field names.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "mode": self.mode,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "mib_per_s": self.mib_per_s(),
            "peak_rss_bytes": self.peak_rss_bytes,
            "sha256": self.sha256,
        })
        .to_string()
    }
}

/// The process's peak resident set size (`VmHWM`), where `/proc` exists.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn report(mode: &'static str, d: Digests, started: Instant) -> BenchReport {
    BenchReport {
        mode,
        bytes: d.size,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_bytes: peak_rss_bytes(),
        sha256: hex::encode(d.sha256),
    }
}

/// Hashes `path` through the ingest pipeline (SHA-256 and BLAKE3).
pub async fn bench_file(path: &Path) -> std::io::Result<BenchReport> {
    let started = Instant::now();
    let d = hash_file(path).await?;
    Ok(report("file", d, started))
}

/// Serves `path` from a loopback HTTP server and hashes it with
/// [`Fetcher::hash_asset`], exactly as a forge download is hashed.
pub async fn bench_http(path: &Path) -> Result<BenchReport, IngestError> {
    let io = |e: std::io::Error| IngestError::Config {
        detail: format!("bench: {e}"),
    };
    let size = tokio::fs::metadata(path).await.map_err(io)?.len();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(io)?;
    let port = listener.local_addr().map_err(io)?.port();
    let served = path.to_owned();
    let server = tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        // Read the request head, then stream the file with a Content-Length.
        let mut head = [0u8; 4096];
        let _ = sock.read(&mut head).await;
        let Ok(mut file) = tokio::fs::File::open(&served).await else {
            return;
        };
        let header =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
        if sock.write_all(header.as_bytes()).await.is_err() {
            return;
        }
        let _ = tokio::io::copy(&mut file, &mut sock).await;
        let _ = sock.shutdown().await;
    });
    let base =
        Url::parse(&format!("http://127.0.0.1:{port}/")).map_err(|e| IngestError::Config {
            detail: format!("bench url: {e}"),
        })?;
    let mut config = ForgeConfig::new(ForgeKind::GitHub, base.clone())?;
    config.allow_private_for_tests = true;
    config.allow_http = true;
    let fetcher = Fetcher::with_resolver(config, Arc::new(StaticResolver::new()))?;
    let asset = AssetRef {
        name: "bench.bin".into(),
        size_claimed: Some(size),
        download_url: base.join("bench.bin").map_err(|e| IngestError::Config {
            detail: format!("bench url: {e}"),
        })?,
        sha256_claimed: None,
    };
    let started = Instant::now();
    let outcome = fetcher
        .hash_asset(&asset, HashBudget::new(HashBudget::MAX_BYTES)?)
        .await?;
    server.abort();
    match outcome {
        HashOutcome::Hashed(d) => Ok(report("http", d, started)),
        HashOutcome::Skipped { size, cap, .. } => Err(IngestError::Config {
            detail: format!("bench file of {size} bytes is over the {cap}-byte maximum budget"),
        }),
    }
}
