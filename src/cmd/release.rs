//! `vouch release`: `seal` writes a release directory's integrity records (SHA256SUMS,
//! `<asset>.sha256`, dist-manifest.json, crates-manifest.json); `verify-index` checks that
//! a package index (PyPI, crates.io or a vouch registry) serves exactly the sealed bytes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};
use vouch_release::error::outcome_codes::INDEX_DRIFT;
use vouch_release::index::{self, IndexQuery, Limits};
use vouch_release::seal::{SealOptions, SealPlan};
use vouch_release::ReleaseError;

use crate::output::{clean, fail_json, outln, print_json, CodedError, Exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Hash every file in DIR and write SHA256SUMS, <asset>.sha256, dist-manifest.json
    /// and (with --crate) crates-manifest.json into it. Re-running on the same inputs
    /// writes the same bytes (pin the generation time with --time).
    Seal(SealArgs),
    /// Compare what a package index serves with dist-manifest.json, retrying with
    /// bounded exponential backoff while artifacts are still missing.
    // `--version` names the package version here, so clap's own version flag steps aside.
    #[command(disable_version_flag = true)]
    VerifyIndex(VerifyIndexArgs),
}

#[derive(Debug, clap::Args)]
struct SealArgs {
    /// Release directory: every regular file in it is an asset (subdirectories are
    /// skipped; SHA256SUMS, *.sha256 and the manifests are the seal's own outputs).
    dir: PathBuf,
    /// Release tag recorded in the manifests, e.g. v1.2.3.
    #[arg(long)]
    tag: Option<String>,
    /// Commit the release was built from (7 to 64 hex digits).
    #[arg(long)]
    commit: Option<String>,
    /// A crate this release publishes and its packaged .crate file; repeatable.
    #[arg(long = "crate", value_name = "NAME@VERSION=FILE")]
    crates: Vec<String>,
    /// A crate version published by a person with a token instead of trusted
    /// publishing; recorded as manual_token_publish. Repeatable.
    #[arg(long = "manual-exception", value_name = "NAME@VERSION")]
    manual_exceptions: Vec<String>,
    /// Generation time to record (RFC 3339), instead of now.
    #[arg(long, value_name = "RFC3339")]
    time: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IndexKind {
    /// PyPI's JSON API (/pypi/NAME/VERSION/json).
    Pypi,
    /// crates.io's API (/api/v1/crates/NAME/versions).
    Crates,
    /// A vouch registry (/api/v1/packages/NAME/VERSION).
    Vouch,
}

#[derive(Debug, clap::Args)]
struct VerifyIndexArgs {
    /// The sealed dist-manifest.json.
    #[arg(long)]
    manifest: PathBuf,
    /// Which index to ask.
    #[arg(long, value_enum)]
    index: IndexKind,
    /// Base URL of the index [default: https://pypi.org, https://crates.io; required for
    /// vouch].
    #[arg(long)]
    url: Option<String>,
    /// Package name (PyPI project, vouch package such as @scope/name; for crates, limits
    /// the check to one crate of crates-manifest.json).
    #[arg(long)]
    package: Option<String>,
    /// Version [default: the manifest's tag without a leading `v`].
    #[arg(long)]
    version: Option<String>,
    /// crates-manifest.json [default: beside --manifest].
    #[arg(long)]
    crates_manifest: Option<PathBuf>,
    /// Retries after the first attempt while artifacts are missing or the index is down.
    #[arg(long, default_value_t = Limits::default().retries)]
    retries: u32,
    /// Delay before the first retry, doubled for each further one.
    #[arg(long, default_value_t = Limits::default().backoff_ms)]
    backoff_ms: u64,
    /// Ceiling of the delay between attempts.
    #[arg(long, default_value_t = Limits::default().max_backoff_ms)]
    max_backoff_ms: u64,
    /// Timeout of one request's whole exchange, connection through last body byte (a
    /// server trickling its answer is cut off here too).
    #[arg(long, default_value_t = Limits::default().timeout_ms)]
    timeout_ms: u64,
    /// Largest response body accepted.
    #[arg(long, default_value_t = Limits::default().max_response_bytes)]
    max_response_bytes: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let (json, result) = match args.sub {
        Sub::Seal(a) => (a.json, seal(a)),
        Sub::VerifyIndex(a) => (a.json, verify_index(a)),
    };
    // A `ReleaseError` is a usage or operational error (exit 2), also the one object
    // under --json.
    result.map_err(|e| match e.downcast::<ReleaseError>() {
        Ok(e) => fail_json(json, CodedError::new(e.code(), Exit::Error, e.to_string())),
        Err(e) => e,
    })
}

fn seal(a: SealArgs) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let (dir, crates, exceptions) = (a.dir.clone(), &a.crates, &a.manual_exceptions);
    let options =
        SealOptions::from_specs(dir, a.tag, a.commit, crates, exceptions, a.time.as_deref())?;
    let plan = SealPlan::scan(options)?;
    let total = plan.total_bytes();
    let bar = progress_bar(total);
    let sealed = plan.hash(&|n| bar.as_ref().map_or((), |b| b.inc(n)))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let written = sealed.write(&a.dir)?;
    let elapsed = started.elapsed();
    for stale in &sealed.stale_sha256 {
        // File names are untrusted text: printed escaped.
        let stale = clean(stale);
        eprintln!("warning: {stale} has no asset beside it any more; delete it if it is stale");
    }
    if a.json {
        let assets: Vec<Value> = sealed.dist.assets.iter().map(|x| json!({"name": x.name.as_str(), "size": x.size, "sha256": x.sha256.to_hex(), "blake3": x.blake3.to_hex()})).collect();
        let crates: Vec<Value> = sealed.crates.iter().flat_map(|c| &c.crates).map(|c| json!({"name": c.id.name(), "version": c.id.version(), "checksum": c.checksum.to_hex(), "release_status": c.release_status.as_str()})).collect();
        print_json(&json!({
            "ok": true, "dir": a.dir.display().to_string(), "tag": sealed.dist.tag,
            "commit": sealed.dist.commit, "generated_at": sealed.dist.generated_at,
            "assets": assets, "crates": crates, "written": written.written,
            "unchanged": written.unchanged, "stale_sha256": sealed.stale_sha256,
            "bytes_hashed": total, "elapsed_ms": elapsed.as_millis() as u64,
        }))?;
        return Ok(Exit::Ok);
    }
    for x in &sealed.dist.assets {
        outln!("{}  {:>12}  {}", x.sha256, x.size, clean(x.name.as_str()))?;
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    let list = |names: &[String]| match names.is_empty() {
        true => "none".to_owned(),
        false => names.join(", "),
    };
    outln!(
        "sealed {} asset(s), {total} bytes in {secs:.2} s ({:.0} MiB/s); wrote {}; unchanged {}",
        sealed.dist.assets.len(),
        total as f64 / secs / (1 << 20) as f64,
        list(&written.written),
        list(&written.unchanged),
    )?;
    Ok(Exit::Ok)
}

/// A byte progress bar on stderr, only when stderr is a terminal.
fn progress_bar(total: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let target = indicatif::ProgressDrawTarget::stderr();
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), target);
    let template =
        "sealing {bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}";
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    Some(bar)
}

#[allow(
    clippy::indexing_slicing,
    reason = "IndexMut on a json! object literal built in this function never panics"
)]
fn verify_index(a: VerifyIndexArgs) -> anyhow::Result<Exit> {
    let limits = Limits {
        retries: a.retries,
        backoff_ms: a.backoff_ms,
        max_backoff_ms: a.max_backoff_ms,
        timeout_ms: a.timeout_ms,
        max_response_bytes: a.max_response_bytes,
    };
    let query = IndexQuery {
        manifest: a.manifest,
        index: match a.index {
            IndexKind::Pypi => index::IndexKind::Pypi,
            IndexKind::Crates => index::IndexKind::Crates,
            IndexKind::Vouch => index::IndexKind::Vouch,
        },
        url: a.url,
        package: a.package,
        version: a.version,
        crates_manifest: a.crates_manifest,
    };
    let name = query.index.as_str();
    let on_start = |base: &str| eprintln!("verify-index: {name} at {base}; {limits}");
    let report = query.run(limits, &on_start, &|e| {
        let reason = clean(&e.reason);
        eprintln!("retry {}/{} in {} ms: {reason}", e.retry, e.of, e.delay_ms);
    })?;
    let summary = report.summary();
    if a.json {
        let artifacts: Vec<Value> = report.results.iter().map(|r| r.to_json()).collect();
        let mut out = json!({
            "ok": report.passed(), "index": name, "urls": report.urls,
            "attempts": report.attempts, "limits": limits.to_json(),
            "artifacts": artifacts, "counts": report.counts_json(),
        });
        if !report.passed() {
            out["error"] = json!({"code": INDEX_DRIFT, "message": summary});
        }
        print_json(&out)?;
    } else {
        for r in &report.results {
            // Artifact names and publishers come from the manifest and the index.
            let (label, artifact) = (r.status.label(), clean(&r.artifact));
            outln!("{label:<15}{artifact}{}", clean(&r.detail(report.attempts)))?;
        }
        outln!("{summary} ({} attempt(s))", report.attempts)?;
    }
    if !report.passed() {
        return Err(CodedError::new(INDEX_DRIFT, Exit::VerifyFailed, summary).into());
    }
    Ok(Exit::Ok)
}
