//! `vouch verify checksums`: verify files against SHA256SUMS, a per-asset `.sha256` file,
//! or dist-manifest.json, listing missing, extra and mismatched files.

use std::path::PathBuf;

use vouch_release::check;
use vouch_release::error::outcome_codes::CHECKSUM_MISMATCH;

use crate::output::{answer, fail_json, CodedError, Exit};

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
    let json = report.to_json(&path, is_manifest, args.strict);
    // Names come from the checksum files and the directory: printed escaped.
    answer(args.json, &json, &report.lines(args.strict))?;
    match report.passed(args.strict) {
        true => Ok(Exit::Ok),
        false => {
            Err(CodedError::new(CHECKSUM_MISMATCH, Exit::VerifyFailed, report.summary()).into())
        }
    }
}
