//! `vouch audit roots`: wires flags to `vouch_trust::audit_roots` and prints its report.

use std::path::PathBuf;

use vouch_trust::{Instance, Refresh};

use crate::output::{outln, print_json, CodedError, Exit};

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
    let instance = match (&args.instance, args.staging) {
        (Some(url), _) => Instance::vouch_server(url),
        (None, true) => Instance::Staging,
        (None, false) => Instance::PublicGood,
    };
    let bootstrap_root = match &args.root {
        Some(p) => Some(std::fs::read(p).map_err(|e| {
            CodedError::error(
                vouch_api_client::codes::CLI_FAILED,
                format!("reading {}: {e}", p.display()),
            )
        })?),
        None => None,
    };
    let cache_root = args
        .cache
        .unwrap_or_else(|| vouch_trust::default_cache_root(|k| std::env::var(k).ok()));
    let req = Refresh::new(instance, bootstrap_root, cache_root);
    let report = vouch_trust::audit_roots(&req, args.offline).map_err(|e| {
        let coded = if e.is_refusal() {
            CodedError::refused(e.code(), e.to_string())
        } else {
            CodedError::error(e.code(), e.to_string())
        };
        crate::output::fail_json(args.json, coded)
    })?;
    if args.json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        outln!("{report}")?;
    }
    Ok(Exit::Ok)
}
