//! `vouch audit roots`: wires flags to `vouch_consumer::audit_roots` and prints its report.

use std::path::PathBuf;

use crate::output::{answer, fail_json, lines_of, Exit};

/// Refresh an instance's trust root through TUF (root chain, timestamp, snapshot,
/// targets) and cache it per instance; report its versions and whether the trusted root
/// changed since the cache last held one. Rollback, expired metadata (freeze),
/// mix-and-match, signatures below threshold and oversized targets are refused with a
/// TUF_E code (exit 1). Public-good and staging start from their embedded root; a vouch
/// instance from `--root FILE` (its `/tuf/1.root.json`, obtained out of band) the
/// first time, and from the cached root after that.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A vouch server's URL (its repository is at URL/tuf) or any TUF repository URL
    /// ending in /tuf. Default: public-good Sigstore.
    #[arg(long, value_name = "URL", conflicts_with = "staging")]
    instance: Option<String>,
    /// Sigstore's staging instance.
    #[arg(long)]
    staging: bool,
    /// The TUF root.json to trust first (needed once per private instance).
    #[arg(long, value_name = "FILE")]
    root: Option<PathBuf>,
    /// Where verified roots are cached, one directory per instance.
    #[arg(long, value_name = "DIR", env = "VOUCH_TRUST_ROOT_DIR")]
    cache: Option<PathBuf>,
    /// Read the cached, verified root only: no network connection is ever made.
    #[arg(long, conflicts_with = "root")]
    offline: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let (instance, root) = (args.instance.as_deref(), args.root.as_deref());
    let env = |k: &str| std::env::var(k).ok();
    let report =
        vouch_consumer::audit_roots(instance, args.staging, root, args.cache, args.offline, env)
            .map_err(|e| fail_json(args.json, e))?;
    answer(
        args.json,
        &serde_json::to_value(&report)?,
        &lines_of(&report),
    )
}
