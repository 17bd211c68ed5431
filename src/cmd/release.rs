//! `vouch release`: `seal` writes a release directory's integrity records (SHA256SUMS,
//! `<asset>.sha256`, dist-manifest.json, crates-manifest.json); `verify-index` checks that
//! a package index (PyPI, crates.io or a vouch registry) serves exactly the sealed bytes.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use vouch_release::error::outcome_codes::INDEX_DRIFT;
use vouch_release::index::{self, IndexQuery, Limits};
use vouch_release::report::SealRun;
use vouch_release::seal::{SealOptions, SealPlan};
use vouch_release::ReleaseError;

use super::registry_api::progress_bar;
use crate::output::{answer, clean, fail_json, CodedError, Exit};

#[derive(Debug, Subcommand)]
pub enum Sub {
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
pub struct SealArgs {
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
pub struct VerifyIndexArgs {
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

pub fn run(sub: Sub) -> anyhow::Result<Exit> {
    let (json, result) = match sub {
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
    let bar = progress_bar(total, "sealing");
    let sealed = plan.hash(&|n| bar.as_ref().map_or((), |b| b.inc(n)))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let run = SealRun::write(a.dir, sealed, total, started)?;
    for warning in run.warnings() {
        // File names are untrusted text: printed escaped.
        eprintln!("{}", clean(&warning));
    }
    answer(a.json, &run.to_json(), &run.lines())
}

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
    answer(a.json, &report.to_json(name, &limits), &report.lines())?;
    match report.passed() {
        true => Ok(Exit::Ok),
        false => Err(CodedError::new(INDEX_DRIFT, Exit::VerifyFailed, report.summary()).into()),
    }
}
