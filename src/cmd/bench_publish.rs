//! `vouch bench publish`: small-package publishes per second end to end against a dev
//! server on this machine (the work is `vouch_publisher::bench::bench_publish`, which
//! drives the same `Publisher::upload` as `vouch publish`), and optionally the lockfile
//! `vouch bench audit` reads.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;
use vouch_publisher::bench::{bench_publish, BenchOptions, BenchPublished};
use vouch_publisher::CiEnv;

use super::audit_signatures::{blob_rel, bundle_rel};
use super::audit_transparency::{prove, Leaf};
use super::fetch::{log_facts, new_server_entry};
use super::registry_api::{base_url, http};
use crate::lockfile::{base_dir, write_atomic, LockedPackage, Lockfile};
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

/// Records every published version as `vouch fetch` would, proving all of them against
/// the log's checkpoint at once.
async fn write_lockfile(
    path: &std::path::Path,
    base: &str,
    published: &[BenchPublished],
) -> anyhow::Result<()> {
    let dir = base_dir(path);
    let mut lock = Lockfile::load_or_default(path)?;
    let trusted_root = super::registry_api::trusted_root(&http()?, base).await?;
    let mut leaves = Vec::new();
    let mut server = lock.server(base).cloned();
    for p in published {
        let (a, bundle, blake3) = (&p.archive, &p.upload.bundle, p.archive.digests.blake3_hex());
        let facts = log_facts(bundle)?;
        if server.is_none() {
            server = Some(new_server_entry(base, &trusted_root, &facts)?);
        }
        write_atomic(&dir.join(bundle_rel(&blake3)), bundle)?;
        write_atomic(&dir.join(blob_rel(&blake3)), &a.bytes)?;
        leaves.push(Leaf {
            id: format!("{}@{}", a.name, a.version),
            index: facts.index,
            hash: facts.leaf,
        });
        lock.upsert(LockedPackage {
            name: a.name.clone(),
            version: a.version.clone(),
            server: base.to_owned(),
            size: a.bytes.len() as u64,
            sha256: a.digests.sha256_hex(),
            bundle: Some(bundle_rel(&blake3)),
            blake3,
            sigstore_verified: true,
            identity: p.identity.clone(),
            issuer: p.issuer.clone(),
            provider: None,
            repository: None,
            workflow: None,
            log_index: facts.index,
            leaf_hash: facts.leaf.to_hex(),
            checkpoint_size: 0,
        });
    }
    let Some(mut server) = server else {
        return Ok(());
    };
    let cp = prove(&server, &leaves).await?;
    for p in &mut lock.packages {
        if p.server == base && p.checkpoint_size == 0 {
            p.checkpoint_size = cp.checkpoint.size;
        }
    }
    write_atomic(&dir.join(&server.trusted_root), &trusted_root)?;
    server.checkpoint = cp.to_note_string();
    lock.upsert_server(server);
    Ok(lock.save(path)?)
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
