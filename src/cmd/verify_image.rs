//! `vouch verify image REF`: the signatures or attestations of a container image in an OCI
//! registry, in cosign's two schemes (`vouch_oci::verify_image`).

use super::flags::{PolicyArgs, TrustArgs};
use super::registry_api::runtime;
use crate::output::{answer, lines_of, CodedError, Exit};

/// Verify a container image's signatures (or, with --type, its attestations) in any OCI
/// registry, as `cosign verify` / `cosign verify-attestation` would.
///
/// Looks for Sigstore bundles attached as OCI 1.1 referrers (the referrers API, else the
/// `sha256-<hex>` tag) and, when none verifies, in the legacy `sha256-<hex>.sig` tag (`.att`
/// with --type). Each is verified fully (chain, SCT, log proof or SET, signing time, policy)
/// and must name the image digest; one verified signature passes.
///
/// From cosign: the same --certificate-identity[-regexp], --certificate-oidc-issuer[-regexp],
/// --key, --trusted-root, --allow-insecure-registry, --platform and --type names (spdx,
/// spdxjson, cyclonedx, slsaprovenance, slsaprovenance1, link, vuln, openvex, custom, or a
/// URI); --certificate-github-workflow-repository/-ref -> --source-repository/--source-ref;
/// --output json -> --json. Table: docs/containers.md. Credentials: VOUCH_REGISTRY_USERNAME
/// and VOUCH_REGISTRY_PASSWORD, else ~/.docker/config.json, else anonymous.
///
/// Exit status: 0 verified; 1 nothing verified (the first failure's code, OCI_E009 when
/// nothing is attached); 2 the registry or the inputs could not be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// REGISTRY/REPO:TAG (resolved once, the digest printed) or REGISTRY/REPO@sha256:HEX.
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

pub fn run(a: Args) -> anyhow::Result<Exit> {
    let req = vouch_oci::VerifyImageRequest {
        image: a.image,
        policy: a.policy.spec(),
        trust: a.trust.spec()?,
        predicate_type: a.predicate_type,
        platform: a.platform,
        allow_insecure: a.allow_insecure_registry,
    };
    let rt = runtime()?;
    let report = rt
        .block_on(vouch_oci::verify_image(&req))
        .map_err(|e| CodedError::from(&e))?;
    answer(a.json, &report.to_json(), &lines_of(&report))?;
    report.failure().map_or(Ok(Exit::Ok), |e| Err(e.into()))
}
