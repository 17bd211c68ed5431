//! `vouch conformance ...`: the sigstore-conformance CLI protocol, verbatim, so that suite
//! can drive vouch. The verdict is the exit status (0 verified, non-zero not); the reason
//! is printed as `error[CODE]: message`. `sign-bundle` will join `verify-bundle` here.

use std::path::PathBuf;

use clap::Subcommand;

use super::verify_bundle::{coded, verify_inputs, PolicyArgs, TrustArgs};
use crate::output::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Verify FILE_OR_DIGEST against a bundle: keyless with --certificate-identity and
    /// --certificate-oidc-issuer (both exact), or managed-key with --key.
    VerifyBundle(VerifyBundleArgs),
}

#[derive(Debug, clap::Args)]
struct VerifyBundleArgs {
    /// Trust the Sigstore staging instance instead of public-good.
    #[arg(long)]
    staging: bool,
    /// The Sigstore bundle to verify.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// The expected certificate identity (exact).
    #[arg(
        long,
        value_name = "ID",
        requires = "certificate_oidc_issuer",
        required_unless_present = "key",
        conflicts_with = "key"
    )]
    certificate_identity: Option<String>,
    /// The expected OIDC issuer (exact).
    #[arg(
        long,
        value_name = "URL",
        requires = "certificate_identity",
        conflicts_with = "key"
    )]
    certificate_oidc_issuer: Option<String>,
    /// A PEM public key, for managed-key bundles.
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// A trusted_root.json to use instead of the embedded roots.
    #[arg(long, value_name = "FILE", conflicts_with = "staging")]
    trusted_root: Option<PathBuf>,
    /// The artifact path, or `sha256:<64 hex>`.
    #[arg(value_name = "FILE_OR_DIGEST")]
    artifact: String,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    match args.sub {
        Sub::VerifyBundle(a) => verify_bundle(a),
    }
}

fn verify_bundle(a: VerifyBundleArgs) -> anyhow::Result<Exit> {
    let policy = PolicyArgs::exact(a.certificate_identity, a.certificate_oidc_issuer, a.key);
    let trust = TrustArgs::new(a.staging, a.trusted_root);
    match verify_inputs(&a.artifact, &a.bundle, &policy, &trust) {
        Ok(_) => Ok(Exit::Ok),
        Err(err) => Err(coded(&err).into()),
    }
}
