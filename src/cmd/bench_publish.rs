//! `vouch bench publish`: small-package publishes per second end to end against a dev
//! server on this machine (the work is `vouch_publisher::bench::bench_publish`, which
//! drives the same `Publisher::upload` as `vouch publish`), and optionally the lockfile
//! `vouch bench audit` reads.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;
use vouch_consumer::{record_published, PublishedVersion};
use vouch_publisher::bench::{bench_publish, check_target, BenchOptions, BenchPublished};
use vouch_publisher::CiEnv;

use super::registry_api::base_url;
use crate::output::{from_publisher, print_json, Exit};

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

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let base = base_url(&args.server)?;
    check_target(&base, args.count, args.concurrency)?;
    let owner = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading {}", args.token_file.display()))?;
    let opts = BenchOptions {
        base: base.clone(),
        owner_token: owner.trim().to_owned(),
        count: args.count,
        concurrency: args.concurrency,
    };
    let rt = vouch_term::progress::runtime_on_every_core()?;
    let r = rt
        .block_on(bench_publish(&opts, &CiEnv::process()))
        .map_err(from_publisher)?;
    let mut report = r.to_json(&base);
    if let (Some(lockfile), Some(obj)) = (&args.lockfile, report.as_object_mut()) {
        // Recorded as `vouch fetch` would (the consumer library does it).
        let versions: Vec<_> = r.published.iter().map(published_version).collect();
        rt.block_on(record_published(lockfile, &base, &versions))?;
        obj.insert("lockfile".into(), json!(lockfile.display().to_string()));
    }
    print_json(&report)?;
    Ok(Exit::Ok)
}

fn published_version(p: &BenchPublished) -> PublishedVersion<'_> {
    PublishedVersion {
        name: &p.archive.name,
        version: &p.archive.version,
        archive: &p.archive.bytes,
        sha256_hex: p.archive.digests.sha256_hex(),
        blake3_hex: p.archive.digests.blake3_hex(),
        bundle: &p.upload.bundle,
        identity: &p.identity,
        issuer: &p.issuer,
    }
}
