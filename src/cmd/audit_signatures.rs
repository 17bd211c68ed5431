//! `vouch audit signatures`: wires flags to `vouch_consumer::audit_signatures` and
//! prints its report as a table or one JSON object.

use std::path::PathBuf;

use vouch_consumer::{Network, DEFAULT_LOCKFILE};

use crate::output::{answer, CodedError, Exit};

/// Verify every lockfile entry's Sigstore bundle against the digest and the signer
/// identity the lockfile recorded, on all cores, with no network when the bundles are
/// cached (under .vouch/ beside the lockfile; a missing one is downloaded again).
///
/// Each entry is reported `verified`, `unverified` (locked without a verified bundle) or
/// `mismatched` (the bundle, the cached archive or the signer disagrees with the lock).
/// Exit 0 only when every entry verified; 1 otherwise.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lockfile to audit.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// A policy file (docs/policy.md): every entry's signer must also be one of its
    /// rules for the entry's package name.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    instance: super::flags::InstanceArgs,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let policy = vouch_policy::PolicyFile::load_given(args.policy.as_deref());
    let policy = policy.map_err(CodedError::from)?;
    let root = args.instance.root()?;
    let report = vouch_consumer::audit_signatures(
        &args.lockfile,
        Network::Refill,
        policy.as_ref(),
        root.as_deref(),
    )?;
    // Lockfile and bundle text is untrusted: printed escaped.
    answer(args.json, &report.to_json(&args.lockfile), &report.lines())?;
    report.error().map_or(Ok(Exit::Ok), |e| Err(e.into()))
}
