//! `vouch bench audit`: times `vouch_consumer::audit_signatures` (what `vouch audit
//! signatures` runs) through `vouch_consumer::bench_audit`.

use std::path::PathBuf;

use crate::output::{print_json, Exit};

/// Time `vouch audit signatures` over a lockfile with its bundles cached: parse the
/// lockfile, load the trusted root, read every bundle, hash every cached archive and
/// verify every bundle (certificate chain, SCT, signature, log inclusion and checkpoint,
/// signer identity) on all cores. Runs RUNS times and reports each wall time.
///
/// Make the lockfile with `vouch bench publish --count 1000 --lockfile F`, or give
/// --entries N to audit an N-entry lockfile built in a temporary directory from the
/// verified entries of --lockfile (one `vouch fetch` is enough).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lockfile to audit.
    #[arg(long, value_name = "FILE")]
    lockfile: PathBuf,
    /// Audit an N-entry lockfile replicated from --lockfile's verified entries.
    #[arg(long, value_name = "N")]
    entries: Option<usize>,
    /// How many timed runs.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let tmp = tempfile::tempdir()?;
    let lockfile = match args.entries {
        Some(n) => vouch_consumer::replicate_lockfile(&args.lockfile, tmp.path(), n)?,
        None => args.lockfile.clone(),
    };
    let b = vouch_consumer::bench_audit(&lockfile, args.runs)?;
    print_json(&b.to_json(&args.lockfile))?;
    Ok(Exit::Ok)
}
