//! `vouch fetch @scope/name[@version]`: wires flags to `vouch_consumer::fetch` and
//! prints what it verified.

use std::path::PathBuf;

use vouch_consumer::{FetchRequest, OutTarget, Spec, DEFAULT_LOCKFILE};
use vouch_policy::PolicyFile;

use super::registry_api::{base_url, runtime, TermProgress};
use crate::output::{answer, CodedError, Exit};

/// Download a package version, verify it, and lock it.
///
/// Checks, in order, each failing closed with exit 1: the archive's size, SHA-256 and
/// BLAKE3 equal the index entry (FETCH_E001); the Sigstore bundle verifies against the
/// archive digest with the registry's trusted root and was signed by exactly the identity
/// and issuer of the publisher binding the index records, with its repository and
/// workflow (VERIFY_E0xx / FETCH_E003); the log entry is included in the registry's
/// transparency log, consistent with what the lockfile saw before (AUDIT_E001).
///
/// Then the archive is written to --out (default: the current directory, as
/// `scope-name-version.tar.zst`), cached under .vouch/ beside the lockfile with its
/// bundle, and the entry is recorded in the lockfile, atomically. Without a version,
/// the newest the registry lists is fetched (stable before pre-release) and locked.
///
/// Example: vouch fetch @acme/widget@1.2.0 --server https://registry.example
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package: `@scope/name@version`, or `@scope/name` for the newest version.
    #[arg(value_name = "@SCOPE/NAME[@VERSION]")]
    spec: String,
    /// The registry's base URL.
    #[arg(long, env = "VOUCH_SERVER", value_name = "URL")]
    server: String,
    /// Directory to write the archive to (as `scope-name-version.tar.zst`); default:
    /// the current directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The lockfile to record the entry in (created if missing).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// A policy file (TOML, docs/policy.md) the signer must also satisfy: one of its
    /// rules for the package's name (POLICY_E003/E004); its digest is locked.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Pin the trusted root instead of trusting the registry's answer on first use.
    #[command(flatten)]
    trust: super::flags::TrustArgs,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let req = FetchRequest {
        spec: Spec::parse(&args.spec)?,
        server: base_url(&args.server)?,
        lockfile: args.lockfile,
        out: args.out.map_or(OutTarget::Default, OutTarget::Dir),
        policy: PolicyFile::load_given(args.policy.as_deref()).map_err(CodedError::from)?,
        trusted_root: args.trust.pinned_root()?,
    };
    let f = runtime()?.block_on(vouch_consumer::fetch(&req, &TermProgress::every_transfer()))?;
    // The identity and issuer come from the bundle's certificate: printed escaped.
    answer(args.json, &f.to_json(), &f.lines())
}
