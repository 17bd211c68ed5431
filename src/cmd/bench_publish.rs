//! `vouch bench publish`: small-package publishes per second end to end against a dev
//! server on this machine (the work is `vouch_publisher::bench::bench_publish`, which
//! drives the same `Publisher::upload` as `vouch publish`), and optionally the lockfile
//! `vouch bench audit` reads.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;
use vouch_publisher::bench::{bench_publish, BenchOptions, BenchPublished};
use vouch_publisher::CiEnv;

use vouch_consumer::{record_published, PublishedVersion};

use super::registry_api::base_url;
use crate::output::{from_publisher, print_json, CodedError, Exit};

/// Publish COUNT small packages through a `vouch serve --dev` server on this machine, C at
/// a time, and report publishes per second.
///
/// Each publish is the whole `vouch publish` path after packing: a fresh key and a
/// 10-minute certificate from the CA, an in-toto SLSA statement signed, timestamped and
/// recorded in the transparency log (every answer checked as `vouch publish` checks
/// it), and the upload that the registry verifies fully and indexes. Two things a CI
/// runner does on its own machine happen before the clock starts, so that they do not
/// take the registry's cores: packing the archives (zstd level 19; timed separately as
/// `pack_seconds`) and minting identity tokens (the dev OIDC issuer stands in for the
/// platform). Bindings: one package per worker, registered with the owner token.
/// Loopback servers only (BENCH_E001).
///
/// With --lockfile, every published version is also recorded there (bundles and archives
/// cached beside it) for `vouch bench audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dev server's base URL (loopback only).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The owner API token file (`vouch serve --dev` writes DATA/owner.token).
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// Publishes to make.
    #[arg(long, default_value_t = 500)]
    count: usize,
    /// Publishes in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Also write a lockfile of every published version here.
    #[arg(long, value_name = "FILE")]
    lockfile: Option<PathBuf>,
}

fn refuse(msg: String) -> anyhow::Error {
    CodedError::new("BENCH_E001", Exit::Error, msg).into()
}

/// Insists the server is on this machine.
fn check_loopback(base: &str) -> anyhow::Result<()> {
    let host = base
        .split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or(""))
        .unwrap_or("");
    let host = host
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(host)
        .trim_matches(['[', ']']);
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(refuse(format!(
            "{base}: bench publish only targets a server on this machine (loopback)"
        )))
    }
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let base = base_url(&args.server)?;
    check_loopback(&base)?;
    if args.count == 0 || args.concurrency == 0 {
        return Err(CodedError::new(
            "BENCH_E002",
            Exit::Error,
            "--count and --concurrency must be at least 1",
        )
        .into());
    }
    let owner = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading {}", args.token_file.display()))?;
    let opts = BenchOptions {
        base: base.clone(),
        owner_token: owner.trim().to_owned(),
        count: args.count,
        concurrency: args.concurrency,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let r = rt
        .block_on(bench_publish(&opts, &CiEnv::process()))
        .map_err(from_publisher)?;
    let l = &r.latencies_ms;
    let pct = |q: f64| l.get(((l.len().max(1) - 1) as f64 * q) as usize);
    let mut report = json!({
        "bench": "publish", "server": base, "count": r.published.len(),
        "concurrency": r.workers, "seconds": r.seconds,
        "publishes_per_sec": r.published.len() as f64 / r.seconds,
        "pack_seconds": r.pack_seconds,
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
    });
    if let Some(lockfile) = &args.lockfile {
        rt.block_on(write_lockfile(lockfile, &base, &r.published))?;
        report["lockfile"] = json!(lockfile.display().to_string());
    }
    print_json(&report)?;
    Ok(Exit::Ok)
}

/// Records every published version as `vouch fetch` would (the consumer library does it).
async fn write_lockfile(
    path: &std::path::Path,
    base: &str,
    published: &[BenchPublished],
) -> anyhow::Result<()> {
    let digests: Vec<(String, String)> = published
        .iter()
        .map(|p| {
            (
                p.archive.digests.sha256_hex(),
                p.archive.digests.blake3_hex(),
            )
        })
        .collect();
    let versions: Vec<PublishedVersion<'_>> = published
        .iter()
        .zip(&digests)
        .map(|(p, (sha256, blake3))| PublishedVersion {
            name: &p.archive.name,
            version: &p.archive.version,
            archive: &p.archive.bytes,
            sha256_hex: sha256,
            blake3_hex: blake3,
            bundle: &p.upload.bundle,
            identity: &p.identity,
            issuer: &p.issuer,
        })
        .collect();
    Ok(record_published(path, base, &versions).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback() {
        assert!(super::check_loopback("http://127.0.0.1:8080").is_ok());
        assert!(super::check_loopback("http://localhost:1").is_ok());
        assert!(super::check_loopback("http://[::1]:1").is_ok());
        assert!(super::check_loopback("http://10.0.0.1:80").is_err());
        assert!(super::check_loopback("https://example.com").is_err());
    }
}
