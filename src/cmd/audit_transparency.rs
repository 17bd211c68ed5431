//! `vouch audit transparency`: wires flags to `vouch_consumer::audit_transparency` and
//! prints its report.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;
use vouch_consumer::DEFAULT_LOCKFILE;

use super::registry_api::runtime;
use crate::output::{clean, print_json, Exit};

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
    if args.json {
        let servers: Vec<_> = report
            .servers
            .iter()
            .map(|r| match &r.outcome {
                Ok((size, root)) => json!({
                    "server": r.server, "ok": true, "entries": r.entries,
                    "old_size": r.old_size, "new_size": size, "root": root,
                }),
                Err(e) => json!({
                    "server": r.server, "ok": false, "entries": r.entries,
                    "error": e.to_string(),
                }),
            })
            .collect();
        print_json(&json!({
            "lockfile": args.lockfile.display().to_string(),
            "ok": report.failure.is_none(),
            "code": report.failure.as_ref().map(|_| vouch_tiles_client::ops::AUDIT_LOG_MISBEHAVED),
            "servers": servers,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for r in &report.servers {
            match &r.outcome {
                Ok((size, _)) => writeln!(
                    out,
                    "ok    {}: {} entries included at size {size}, consistent with size {}",
                    clean(&r.server),
                    r.entries,
                    r.old_size
                )?,
                Err(_) => writeln!(out, "FAIL  {}", clean(&r.server))?,
            }
        }
    }
    match report.failure {
        Some(e) => Err(e.into()),
        None => Ok(Exit::Ok),
    }
}
