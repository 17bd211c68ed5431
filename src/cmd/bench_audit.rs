//! `vouch bench audit`: times `vouch audit signatures` over a lockfile whose bundles and
//! archives are cached (such as the one `vouch bench publish --lockfile` writes).

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use super::audit_signatures::{audit, Status};
use crate::lockfile::Lockfile;
use crate::output::{print_json, CodedError, Exit};

/// Time `vouch audit signatures` over a lockfile with its bundles cached: parse the
/// lockfile, load the trusted root, read every bundle, hash every cached archive and
/// verify every bundle (certificate chain, SCT, signature, log inclusion and checkpoint,
/// signer identity) on all cores. Runs RUNS times and reports each wall time.
///
/// Make the lockfile with `vouch bench publish --count 1000 --lockfile F`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lockfile to audit.
    #[arg(long, value_name = "FILE")]
    lockfile: PathBuf,
    /// How many timed runs.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let mut times = Vec::new();
    let mut entries = 0;
    for _ in 0..args.runs.max(1) {
        let t0 = Instant::now();
        let lock = Lockfile::load(&args.lockfile)?;
        let statuses = audit(&args.lockfile, &lock)?;
        times.push(t0.elapsed().as_secs_f64());
        entries = statuses.len();
        if let Some((p, s)) = lock
            .packages
            .iter()
            .zip(&statuses)
            .find(|(_, s)| !matches!(s, Status::Verified))
        {
            return Err(CodedError::new(
                "BENCH_E003",
                Exit::VerifyFailed,
                format!("{} did not verify during the bench: {s:?}", p.id()),
            )
            .into());
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    print_json(&json!({
        "bench": "audit-signatures",
        "lockfile": args.lockfile.display().to_string(),
        "entries": entries,
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "runs_seconds": times,
        "median_seconds": median,
        "entries_per_sec": entries as f64 / median,
    }))?;
    Ok(Exit::Ok)
}
