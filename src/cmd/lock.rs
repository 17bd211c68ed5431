//! `vouch lock`: rewrites `vouch.lock` normalised, or with `--check` checks it offline
//! for CI; both through `vouch_consumer`.

use std::path::PathBuf;

use vouch_consumer::DEFAULT_LOCKFILE;

use crate::output::{answer, CodedError, Exit};

/// Normalise the lockfile, or check it (--check).
///
/// Without --check: rewrites the lockfile as `vouch fetch` writes it (entries and
/// servers sorted, the [provenance] block recomputed from the entries) and says what
/// changed; nothing is verified or downloaded. Use it after merging or hand-editing
/// vouch.lock, then run `vouch lock --check`.
///
/// With --check: the lockfile is well-formed, its [provenance] block agrees with its
/// entries, every entry names a registry whose log key is pinned, and (with
/// --strict-sigstore) every entry's cached Sigstore bundle verifies, offline, against the
/// entry's recorded digest and signer identity (the lockfile's own "verified" flags are
/// not trusted). This reads files only (no network); `vouch audit transparency`
/// re-proves the log entries. Exit 1 when an entry is unverified or its bundle is
/// missing under --strict-sigstore (LOCK_E002), or its bundle does not verify against
/// what the entry records (LOCK_E004); exit 2 when the provenance block disagrees
/// (LOCK_E003).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check the lockfile instead of rewriting it.
    #[arg(long)]
    check: bool,
    /// With --check: fail on any entry without a verified, cached Sigstore bundle.
    #[arg(long, requires = "check")]
    strict_sigstore: bool,
    /// With --check: the policy file (docs/policy.md) the lockfile must record, every
    /// entry re-verified and its signer one of the policy's rules (implies
    /// --strict-sigstore for the signature checks).
    #[arg(long, value_name = "FILE", requires = "check")]
    policy: Option<PathBuf>,
    // With --check: re-verify every bundle against this instance's root.
    #[command(flatten)]
    instance: super::flags::InstanceArgs,
    /// The lockfile.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let policy = vouch_policy::PolicyFile::load_given(args.policy.as_deref());
    let policy = policy.map_err(CodedError::from)?;
    if !args.check {
        let n = vouch_consumer::normalise_lockfile(&args.lockfile)?;
        return answer(
            args.json,
            &n.to_json(&args.lockfile),
            &n.lines(&args.lockfile),
        );
    }
    let root = args.instance.root()?;
    let r = vouch_consumer::check_lockfile(
        &args.lockfile,
        args.strict_sigstore,
        policy.as_ref(),
        root.as_deref(),
    )?;
    answer(
        args.json,
        &r.to_json(&args.lockfile),
        &r.lines(&args.lockfile),
    )?;
    r.error(&args.lockfile)
        .map_or(Ok(Exit::Ok), |e| Err(e.into()))
}
