//! `vouch verify checksums`: verify files against SHA256SUMS, a per-asset `.sha256` file,
//! or dist-manifest.json, listing missing, extra and mismatched files.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vouch_release::check::{self, FileStatus};
use vouch_release::error::outcome_codes;
use vouch_release::seal::SHA256SUMS;

use super::release::{emit, fail, Done, Outcome};
use std::fmt::Write as _;

use crate::output::{clean, Exit};

/// Without FILE arguments every recorded file is checked in the record's directory, and
/// unrecorded files there are reported as extra (not for a per-asset .sha256 record).
/// With FILE arguments exactly those files are checked.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A sha256sum-format list (SHA256SUMS or <asset>.sha256) [default: ./SHA256SUMS].
    #[arg(long, conflicts_with = "manifest")]
    sums: Option<PathBuf>,
    /// A dist-manifest.json: size, SHA-256 and BLAKE3 are all checked.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Files to check (default: everything the record lists).
    files: Vec<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let json = args.json;
    match verify(args) {
        Ok(done) => emit(done),
        Err(e) => fail(json, &e),
    }
}

fn verify(args: Args) -> Result<Done, vouch_release::ReleaseError> {
    let (path, is_manifest) = match (&args.manifest, &args.sums) {
        (Some(m), _) => (m.clone(), true),
        (None, Some(s)) => (s.clone(), false),
        (None, None) => (PathBuf::from(SHA256SUMS), false),
    };
    let record = check::load_record(&path, is_manifest)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => Path::new(".").to_owned(),
    };
    let record_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = check::check(&record, &record_name, &dir, &args.files)?;

    let labels = ["ok", "missing", "extra", "mismatch"];
    let summary = labels
        .iter()
        .map(|l| format!("{} {l}", report.count(l)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = String::new();
    let mut json_out = None;
    if args.json {
        let files: Vec<Value> = report
            .results
            .iter()
            .map(|r| {
                let mut v = json!({"name": r.name, "status": r.status.label()});
                if let FileStatus::Mismatch {
                    field,
                    expected,
                    found,
                } = &r.status
                {
                    v["field"] = json!(field);
                    v["expected"] = json!(expected);
                    v["found"] = json!(found);
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
            "record": path.display().to_string(),
            "kind": if is_manifest { "dist-manifest" } else { "sha256sums" },
            "files": files,
            "counts": counts,
        });
        if !report.passed() {
            out["error"] = json!({"code": outcome_codes::CHECKSUM_MISMATCH, "message": summary});
        }
        json_out = Some(out);
    } else {
        for r in &report.results {
            let detail = match &r.status {
                FileStatus::Mismatch {
                    field,
                    expected,
                    found,
                } => {
                    format!("  {field} expected {expected} found {found}")
                }
                _ => String::new(),
            };
            // Names come from the checksum files: untrusted text.
            let _ = writeln!(
                text,
                "{:<10}{}{}",
                r.status.label(),
                clean(&r.name.to_string()),
                clean(&detail)
            );
        }
        let _ = writeln!(text, "{summary}");
    }
    let outcome = if report.passed() {
        Outcome::Passed
    } else {
        Outcome::Failed {
            code: outcome_codes::CHECKSUM_MISMATCH,
            summary,
        }
    };
    Ok(Done {
        json: json_out,
        text,
        outcome,
    })
}
