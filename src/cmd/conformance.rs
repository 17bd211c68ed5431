//! `vouch conformance ...`: the sigstore-conformance CLI protocol, verbatim, so that suite
//! can drive vouch. The verdict is the exit status (0 verified, non-zero not); the reason
//! is printed as `error[CODE]: message`. `sign-bundle` signs keylessly through `vouch-sign`.

use std::path::PathBuf;

use clap::Subcommand;
use vouch_consumer::{verify_artifact, ArtifactPolicy};
use vouch_publisher::sign::sign_conformance;
use vouch_verify::{PolicySpec, TrustSpec};

use crate::output::{from_publisher, Exit};

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Verify FILE_OR_DIGEST against a bundle: keyless with --certificate-identity and
    /// --certificate-oidc-issuer (both exact), or managed-key with --key.
    VerifyBundle(VerifyBundleArgs),
    /// Sign FILE keylessly with --identity-token and write a bundle v0.3 to --bundle;
    /// services and trust from --trusted-root + --signing-config, else the embedded
    /// staging (--staging) or public-good instance (Rekor v2 logs only).
    SignBundle(SignBundleArgs),
}

#[derive(Debug, clap::Args)]
pub struct SignBundleArgs {
    /// Use the Sigstore staging instance instead of public-good.
    #[arg(long)]
    staging: bool,
    /// The OIDC identity token (a JWT).
    #[arg(long, value_name = "TOKEN")]
    identity_token: String,
    /// Where to write the bundle.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// A trusted_root.json (with --signing-config) instead of the embedded instance.
    #[arg(
        long,
        value_name = "FILE",
        requires = "signing_config",
        conflicts_with = "staging"
    )]
    trusted_root: Option<PathBuf>,
    /// A signing_config.json (v0.2) naming the CA, log and TSA URLs.
    #[arg(
        long,
        value_name = "FILE",
        requires = "trusted_root",
        conflicts_with = "staging"
    )]
    signing_config: Option<PathBuf>,
    /// FILE is an in-toto statement: sign it as a DSSE envelope.
    #[arg(long)]
    in_toto: bool,
    /// The file to sign.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct VerifyBundleArgs {
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

pub fn run(sub: Sub) -> anyhow::Result<Exit> {
    match sub {
        Sub::VerifyBundle(a) => verify_bundle(a),
        Sub::SignBundle(a) => sign_bundle(a),
    }
}

fn sign_bundle(a: SignBundleArgs) -> anyhow::Result<Exit> {
    let files = a.trusted_root.as_deref().zip(a.signing_config.as_deref());
    let (token, file) = (&a.identity_token, (a.file.as_path(), a.in_toto));
    let signed = sign_conformance(files, a.staging, token, file, &a.bundle);
    super::registry_api::runtime()?
        .block_on(signed)
        .map_err(from_publisher)?;
    Ok(Exit::Ok)
}

fn verify_bundle(a: VerifyBundleArgs) -> anyhow::Result<Exit> {
    let policy = PolicySpec::exact(a.certificate_identity, a.certificate_oidc_issuer, a.key);
    let trust = TrustSpec {
        staging: a.staging,
        trusted_root: a.trusted_root,
    };
    verify_artifact(
        &a.artifact,
        &a.bundle,
        &ArtifactPolicy::Flags(policy),
        &trust,
    )?;
    Ok(Exit::Ok)
}
