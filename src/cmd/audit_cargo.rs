//! `vouch audit cargo`: wires flags to `vouch_consumer::audit_cargo` and prints its report.

use std::path::PathBuf;

use crate::output::{answer, lines_of, Exit};

use super::registry_api::runtime;

/// Check every crate a Cargo.lock takes from a vouch registry (source
/// `sparse+URL/cargo/index/`) against the registry's signed integrity record.
///
/// For each such crate: the record's signature under the registry's published key set,
/// the lockfile's checksum against the signed one, the signed provenance (who published
/// it, from which CI run), the record's inclusion in the transparency log, and the log's
/// consistency with the checkpoint this audit saw last time (kept, with the log key
/// pinned on first use, in .vouch/cargo-audit.json beside the lockfile). Exit 0 when
/// everything held, 1 with AUDIT_E001 on any disagreement: do not build then.
///
/// Example: vouch audit cargo Cargo.lock
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Cargo.lock to audit.
    #[arg(value_name = "CARGO_LOCK", default_value = "Cargo.lock")]
    lockfile: PathBuf,
    /// Where the last verified checkpoint per registry is kept
    /// (default: .vouch/cargo-audit.json beside the lockfile).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// A file holding a read token, for registries that require authentication.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let token = match &args.token_file {
        Some(p) => Some(std::fs::read_to_string(p)?.trim().to_owned()),
        None => None,
    };
    let opts = vouch_consumer::CargoAudit {
        lockfile: args.lockfile.clone(),
        state: args.state,
        token,
    };
    let report = runtime()?.block_on(vouch_consumer::audit_cargo(&opts))?;
    let json = serde_json::json!({"ok": true, "report": report});
    answer(args.json, &json, &lines_of(&report))
}
