//! `vouch verify checksums`: verify files against SHA256SUMS, a per-asset `.sha256` file,
//! or dist-manifest.json, listing missing, extra and mismatched files.

use std::path::PathBuf;

use serde_json::json;
use vouch_release::check;
use vouch_release::error::outcome_codes::CHECKSUM_MISMATCH;

use crate::output::{clean, fail_json, outln, print_json, CodedError, Exit};

/// Without FILE arguments every recorded file is checked in the record's directory, and
/// unrecorded files there are reported as extra (not for a per-asset .sha256 record);
/// like `sha256sum -c`, they fail the check only with --strict. With FILE arguments
/// exactly those files are checked, and one the record does not list fails.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A sha256sum-format list (SHA256SUMS or <asset>.sha256) [default: ./SHA256SUMS].
    #[arg(long, conflicts_with = "manifest")]
    sums: Option<PathBuf>,
    /// A dist-manifest.json: size, SHA-256 and BLAKE3 are all checked.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Fail on files in the record's directory that the record does not list.
    #[arg(long)]
    strict: bool,
    /// Files to check (default: everything the record lists).
    files: Vec<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[allow(
    clippy::indexing_slicing,
    reason = "IndexMut on a json! object literal built in this function never panics"
)]
pub fn run(args: Args) -> anyhow::Result<Exit> {
    let (path, is_manifest) = match (args.manifest, args.sums) {
        (Some(m), _) => (m, true),
        (None, s) => (s.unwrap_or_else(|| check::SHA256SUMS.into()), false),
    };
    let report = check::verify_record(&path, is_manifest, &args.files).map_err(|e| {
        fail_json(
            args.json,
            CodedError::new(e.code(), Exit::Error, e.to_string()),
        )
    })?;
    let (passed, summary) = (report.passed(args.strict), report.summary());
    let ignored = report.ignored_extras(args.strict);
    if args.json {
        let files: Vec<_> = report.results.iter().map(|r| r.to_json()).collect();
        let mut out = json!({
            "ok": passed, "record": path.display().to_string(),
            "kind": if is_manifest { "dist-manifest" } else { "sha256sums" },
            "strict": args.strict, "ignored_extra": ignored, "files": files,
            "counts": report.counts_json(),
        });
        if !passed {
            out["error"] = json!({"code": CHECKSUM_MISMATCH, "message": summary});
        }
        print_json(&out)?;
    } else {
        for r in &report.results {
            // Names come from the checksum files and the directory: untrusted text.
            let (label, name) = (r.status.label(), clean(&r.name));
            outln!("{label:<10}{name}{}", clean(&r.detail()))?;
        }
        outln!("{summary}")?;
        if ignored > 0 {
            outln!("{ignored} file(s) not listed in the record were not checked; --strict fails on them")?;
        }
    }
    if passed {
        Ok(Exit::Ok)
    } else {
        Err(CodedError::new(CHECKSUM_MISMATCH, Exit::VerifyFailed, summary).into())
    }
}
