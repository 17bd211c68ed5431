//! `vouch verify image REF`: the signatures or attestations of a container image in an OCI
//! registry, cosign's two schemes (`vouch_oci::verify_image`).

use super::registry_api::runtime;
use super::verify_bundle::{PolicyArgs, TrustArgs};
use crate::output::{clean, outln, print_json, CodedError, Exit};

/// Verify a container image's signatures (or, with --type, its attestations) in any OCI
/// registry, as `cosign verify` / `cosign verify-attestation` would.
///
/// Signatures are looked for as OCI 1.1 referrers holding a Sigstore bundle (the
/// referrers API, else the `sha256-<hex>` tag) and in the legacy `sha256-<hex>.sig` tag
/// (`.att` with --type). Each is verified fully (chain, SCT, log proof or SET, signing
/// time, identity policy) and its claim (in-toto subject or docker-manifest-digest) must
/// be the image digest. The image passes when at least one verifies.
///
/// From cosign: `cosign verify IMAGE` -> `vouch verify image IMAGE`;
/// `cosign verify-attestation --type T` -> `--type T` (same names: spdx, spdxjson,
/// cyclonedx, slsaprovenance, slsaprovenance1, link, vuln, openvex, custom, or a URI);
/// `--certificate-identity[-regexp]`, `--certificate-oidc-issuer[-regexp]`,
/// `--certificate-github-workflow-repository` -> `--source-repository`,
/// `--certificate-github-workflow-ref` -> `--source-ref`; `--key` -> `--key`;
/// `--trusted-root` -> `--trusted-root`; `--allow-insecure-registry` -> the same;
/// `--platform` -> the same (reports the child; the index digest is what is signed);
/// `--output json` -> `--json`.
///
/// Registry credentials: VOUCH_REGISTRY_USERNAME/VOUCH_REGISTRY_PASSWORD, else
/// ~/.docker/config.json (`auths`); else anonymous (bearer-token flow).
///
/// Example: vouch verify image ghcr.io/org/app:v1 --certificate-identity-regexp \
///   'https://github.com/org/app/.*' --certificate-oidc-issuer https://token.actions.githubusercontent.com
///
/// Exit status: 0 verified; 1 no signature verified (the first failure's code, or
/// OCI_E009 none found); 2 the registry or inputs could not be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: REGISTRY/REPO:TAG (resolved once, the digest printed) or REGISTRY/REPO@sha256:HEX.
    #[arg(value_name = "REF")]
    image: String,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// Verify attestations of this predicate type (a cosign name or a URI, matched exactly).
    #[arg(long = "type", value_name = "TYPE")]
    predicate_type: Option<String>,
    /// Report the child manifest of a multi-arch index for OS/ARCH[/VARIANT].
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    allow_insecure_registry: bool,
    /// Print one JSON object (every signature's verdict; attestations' predicates).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let req = vouch_oci::VerifyImageRequest {
        image: args.image,
        policy: args.policy.spec(),
        trust: args.trust.spec(),
        predicate_type: args.predicate_type,
        platform: args.platform,
        allow_insecure: args.allow_insecure_registry,
    };
    let report = runtime()?
        .block_on(vouch_oci::verify_image(&req))
        .map_err(|e| CodedError::from(&e))?;
    if args.json {
        print_json(&report.to_json())?;
    } else {
        for line in report.to_string().lines() {
            outln!("{}", clean(line))?;
        }
    }
    match report.failure() {
        Some(e) => Err(e.into()),
        None => Ok(Exit::Ok),
    }
}
