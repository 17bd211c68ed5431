//! `vouch release`: `seal` writes a release directory's integrity records (SHA256SUMS,
//! `<asset>.sha256`, dist-manifest.json, crates-manifest.json); `verify-index` checks that
//! a package index (PyPI, crates.io or a vouch registry) serves exactly the sealed bytes.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};
use vouch_release::error::outcome_codes;
use vouch_release::index::{
    self, crates_io::CratesSource, pypi::PypiSource, vouch::VouchSource, ArtifactStatus, Fetcher,
    Limits, Source,
};
use vouch_release::manifest::{CratesManifest, DistManifest, CRATES_MANIFEST};
use vouch_release::name::CrateId;
use vouch_release::seal::{self, SealOptions, SealPlan};
use vouch_release::ReleaseError;

use crate::output::{clean, print_json, CodedError, Exit};

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
    match args.sub {
        Sub::Seal(a) => {
            let json = a.json;
            seal_cmd(a).map_or_else(|e| fail(json, &e), emit)
        }
        Sub::VerifyIndex(a) => {
            let json = a.json;
            verify_index_cmd(a).map_or_else(|e| fail(json, &e), emit)
        }
    }
}

/// How a command that ran to the end came out.
pub(super) enum Outcome {
    Passed,
    /// The report is printed; `summary` goes to stderr as `error[code]`, exit 1.
    Failed {
        code: &'static str,
        summary: String,
    },
}

/// A finished command's output, printed by [`emit`] so that a closed stdout ends the
/// command quietly instead of panicking.
pub(super) struct Done {
    pub json: Option<Value>,
    pub text: String,
    pub outcome: Outcome,
}

pub(super) fn emit(done: Done) -> anyhow::Result<Exit> {
    match &done.json {
        Some(v) => print_json(v)?,
        None => std::io::stdout().lock().write_all(done.text.as_bytes())?,
    }
    finish(done.outcome)
}

fn finish(outcome: Outcome) -> anyhow::Result<Exit> {
    match outcome {
        Outcome::Passed => Ok(Exit::Ok),
        Outcome::Failed { code, summary } => {
            Err(CodedError::new(code, Exit::VerifyFailed, summary).into())
        }
    }
}

/// Reports a `ReleaseError` as `error[CODE]` (and, with `--json`, as the one JSON object
/// on stdout). Usage and operational errors exit 2.
pub(super) fn fail(json: bool, err: &ReleaseError) -> anyhow::Result<Exit> {
    let coded = CodedError::new(err.code(), Exit::Error, err.to_string());
    if json {
        print_json(&json!({"ok": false, "error": {"code": coded.code, "message": coded.message}}))?;
    }
    Err(coded.into())
}

fn parse_crate_spec(spec: &str) -> Result<(CrateId, PathBuf), ReleaseError> {
    match spec.split_once('=') {
        Some((id, file)) if !file.is_empty() => Ok((CrateId::parse(id)?, PathBuf::from(file))),
        _ => Err(ReleaseError::InvalidArgument {
            what: "--crate",
            value: spec.to_owned(),
            expected: "NAME@VERSION=FILE",
        }),
    }
}

fn seal_cmd(a: SealArgs) -> Result<Done, ReleaseError> {
    let started = Instant::now();
    let crates = a
        .crates
        .iter()
        .map(|s| parse_crate_spec(s))
        .collect::<Result<Vec<_>, _>>()?;
    let manual_exceptions = a
        .manual_exceptions
        .iter()
        .map(|s| CrateId::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let generated_at = match &a.time {
        Some(t) => seal::normalize_time(t)?,
        None => seal::now(),
    };
    let plan = SealPlan::scan(SealOptions {
        dir: a.dir.clone(),
        tag: a.tag,
        commit: a.commit,
        crates,
        manual_exceptions,
        generated_at,
    })?;
    let total = plan.total_bytes();
    let bar = progress_bar(total);
    let sealed = plan.hash(&|n| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let written = sealed.write(&a.dir)?;
    let elapsed = started.elapsed();
    for stale in &sealed.stale_sha256 {
        // File names are untrusted text: printed escaped.
        eprintln!(
            "warning: {} has no asset beside it any more; delete it if it is stale",
            clean(&stale.to_string())
        );
    }

    let mut text = String::new();
    let mut out = None;
    if a.json {
        let assets: Vec<Value> = sealed
            .dist
            .assets
            .iter()
            .map(|x| json!({"name": x.name.as_str(), "size": x.size, "sha256": x.sha256.to_hex(), "blake3": x.blake3.to_hex()}))
            .collect();
        let crates: Vec<Value> = sealed
            .crates
            .iter()
            .flat_map(|c| &c.crates)
            .map(|c| json!({"name": c.id.name(), "version": c.id.version(), "checksum": c.checksum.to_hex(), "release_status": c.release_status.as_str()}))
            .collect();
        out = Some(json!({
            "ok": true,
            "dir": a.dir.display().to_string(),
            "tag": sealed.dist.tag,
            "commit": sealed.dist.commit,
            "generated_at": sealed.dist.generated_at,
            "assets": assets,
            "crates": crates,
            "written": written.written,
            "unchanged": written.unchanged,
            "stale_sha256": sealed.stale_sha256,
            "bytes_hashed": total,
            "elapsed_ms": elapsed.as_millis() as u64,
        }));
    } else {
        for x in &sealed.dist.assets {
            let _ = writeln!(
                text,
                "{}  {:>12}  {}",
                x.sha256,
                x.size,
                clean(&x.name.to_string())
            );
        }
        let secs = elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            text,
            "sealed {} asset(s), {} bytes in {:.2} s ({:.0} MiB/s); wrote {}; unchanged {}",
            sealed.dist.assets.len(),
            total,
            secs,
            total as f64 / secs / (1 << 20) as f64,
            list_or_none(&written.written),
            list_or_none(&written.unchanged),
        );
    }
    Ok(Done {
        json: out,
        text,
        outcome: Outcome::Passed,
    })
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// A byte progress bar on stderr, only when stderr is a terminal.
fn progress_bar(total: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "sealing {bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn read_text(path: &Path) -> Result<String, ReleaseError> {
    std::fs::read_to_string(path).map_err(|e| ReleaseError::Io {
        path: path.to_owned(),
        source: e,
    })
}

fn required<'a>(
    value: &'a Option<String>,
    what: &'static str,
    expected: &'static str,
) -> Result<&'a str, ReleaseError> {
    value.as_deref().ok_or(ReleaseError::InvalidArgument {
        what,
        value: String::new(),
        expected,
    })
}

fn verify_index_cmd(a: VerifyIndexArgs) -> Result<Done, ReleaseError> {
    let dist = DistManifest::parse(&read_text(&a.manifest)?)?;
    let limits = Limits {
        retries: a.retries,
        backoff_ms: a.backoff_ms,
        max_backoff_ms: a.max_backoff_ms,
        timeout_ms: a.timeout_ms,
        max_response_bytes: a.max_response_bytes,
    };
    let base = match (a.index, &a.url) {
        (_, Some(u)) => u.clone(),
        (IndexKind::Pypi, None) => "https://pypi.org".to_owned(),
        (IndexKind::Crates, None) => "https://crates.io".to_owned(),
        (IndexKind::Vouch, None) => {
            required(&None, "--url", "the vouch registry's base URL")?.to_owned()
        }
    };
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(ReleaseError::InvalidArgument {
            what: "--url",
            value: base,
            expected: "an http:// or https:// URL",
        });
    }
    let version = a.version.clone().or_else(|| {
        dist.tag
            .as_deref()
            .map(|t| t.strip_prefix('v').unwrap_or(t).to_owned())
    });
    let crates_manifest;
    let source: Box<dyn Source + '_> = match a.index {
        IndexKind::Pypi => {
            let package = required(&a.package, "--package", "the PyPI project name")?;
            let version = required(&version, "--version", "a version (or a manifest tag)")?;
            Box::new(PypiSource::new(&base, package, version, &dist)?)
        }
        IndexKind::Vouch => {
            let package = required(&a.package, "--package", "the vouch package name")?;
            let version = required(&version, "--version", "a version (or a manifest tag)")?;
            Box::new(VouchSource::new(&base, package, version, &dist)?)
        }
        IndexKind::Crates => {
            let path = a.crates_manifest.clone().unwrap_or_else(|| {
                a.manifest
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(CRATES_MANIFEST)
            });
            crates_manifest = CratesManifest::parse(&read_text(&path)?)?;
            Box::new(CratesSource::new(
                &base,
                &dist,
                &crates_manifest,
                a.package.as_deref(),
            )?)
        }
    };
    let index_name = match a.index {
        IndexKind::Pypi => "pypi",
        IndexKind::Crates => "crates",
        IndexKind::Vouch => "vouch",
    };
    eprintln!(
        "verify-index: {index_name} at {base}; retries {}, backoff {} ms doubling to at most {} ms, \
         timeout {} ms per whole request, responses up to {} bytes",
        limits.retries, limits.backoff_ms, limits.max_backoff_ms, limits.timeout_ms, limits.max_response_bytes
    );
    let fetcher = Fetcher::new(limits)?;
    let report = index::run(source.as_ref(), &fetcher, &|e| {
        eprintln!(
            "retry {}/{} in {} ms: {}",
            e.retry,
            e.of,
            e.delay_ms,
            clean(&e.reason.to_string())
        );
    })?;

    let labels = ["ok", "missing", "mismatch", "unexpected", "manual_publish"];
    let summary = labels
        .iter()
        .map(|l| format!("{} {l}", report.count(l)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = String::new();
    let mut json_out = None;
    if a.json {
        let artifacts: Vec<Value> = report
            .results
            .iter()
            .map(|r| {
                let mut v = json!({"artifact": r.artifact, "status": r.status.label()});
                match &r.status {
                    ArtifactStatus::Mismatch {
                        field,
                        expected,
                        found,
                    } => {
                        v["field"] = json!(field);
                        v["expected"] = json!(expected);
                        v["found"] = json!(found);
                    }
                    ArtifactStatus::ManualPublish { publisher } => {
                        v["published_by"] = json!(publisher)
                    }
                    _ => {}
                }
                v
            })
            .collect();
        let counts: serde_json::Map<String, Value> = labels
            .iter()
            .map(|l| (l.to_string(), json!(report.count(l))))
            .collect();
        let mut out = json!({
            "ok": report.passed(),
            "index": index_name,
            "urls": report.urls,
            "attempts": report.attempts,
            "limits": {
                "retries": limits.retries,
                "backoff_ms": limits.backoff_ms,
                "max_backoff_ms": limits.max_backoff_ms,
                "timeout_ms": limits.timeout_ms,
                "max_response_bytes": limits.max_response_bytes,
            },
            "artifacts": artifacts,
            "counts": counts,
        });
        if !report.passed() {
            out["error"] = json!({"code": outcome_codes::INDEX_DRIFT, "message": summary});
        }
        json_out = Some(out);
    } else {
        for r in &report.results {
            let detail = match &r.status {
                ArtifactStatus::Mismatch {
                    field,
                    expected,
                    found,
                } => {
                    format!("  {field} expected {expected} found {found}")
                }
                ArtifactStatus::ManualPublish { publisher } => format!(
                    "  published by {} with a token, not recorded as manual_token_publish",
                    publisher.as_deref().unwrap_or("an unnamed user")
                ),
                ArtifactStatus::Missing => {
                    format!("  not served after {} attempt(s)", report.attempts)
                }
                _ => String::new(),
            };
            // Artifact names and publishers come from the manifest and the index.
            let _ = writeln!(
                text,
                "{:<15}{}{}",
                r.status.label(),
                clean(&r.artifact.to_string()),
                clean(&detail)
            );
        }
        let _ = writeln!(text, "{summary} ({} attempt(s))", report.attempts);
    }
    let outcome = if report.passed() {
        Outcome::Passed
    } else {
        Outcome::Failed {
            code: outcome_codes::INDEX_DRIFT,
            summary,
        }
    };
    Ok(Done {
        json: json_out,
        text,
        outcome,
    })
}
