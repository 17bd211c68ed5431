//! `vouch audit transparency`: wires flags to `vouch_consumer::audit_transparency` and
//! prints its report.

use std::path::PathBuf;

use vouch_consumer::DEFAULT_LOCKFILE;

use super::registry_api::runtime;
use crate::output::{answer, Exit};

/// Prove each locked entry's inclusion in its registry's transparency log, and the log's
/// consistency with the checkpoint stored in the lockfile; then store the new checkpoint.
///
/// The checkpoint must be signed by the log key pinned in the lockfile when the first
/// package from that registry was fetched. Exit 0 when everything held, 1 with
/// AUDIT_E001 when the log disagrees with the lockfile (a fork, a rollback, an entry that
/// is not where the lockfile says): do not install in that case.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lockfile to audit.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let report = runtime()?.block_on(vouch_consumer::audit_transparency(&args.lockfile))?;
    answer(args.json, &report.to_json(&args.lockfile), &report.lines())?;
    match report.failure {
        Some(e) => Err(e.into()),
        None => Ok(Exit::Ok),
    }
}
