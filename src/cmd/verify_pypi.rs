//! `vouch verify pypi DIST...`: PEP 740 attestations of Python distributions against a
//! trusted publisher, offline or through an index (`vouch_pep740::request::verify_pypi`).

use std::num::NonZeroUsize;
use std::path::PathBuf;

use vouch_pep740::request::{verify_pypi, PypiRequest, Source};
use vouch_verify::{CiClaim, PolicySpec};

use crate::output::{answer, lines_of, CodedError, Exit};

/// Verify the PEP 740 attestations of wheels and sdists, as `pypi-attestations verify pypi`
/// does: each attestation's single subject must be DIST (file name and SHA-256), its
/// predicate PyPI's publish or SLSA provenance v1, and its certificate (chained to the
/// trusted root, logged in Rekor v1 with a SET and inclusion proof) must come from the
/// repository's CI (issuer, source repository, and the workflow's build config).
///
/// Attestations come from --provenance, --attestation, --index, or else
/// `DIST.publish.attestation` beside each DIST.
///
///   vouch verify pypi dist/demo-1.0-py3-none-any.whl --repository https://github.com/org/demo --workflow release.yml
///   vouch verify pypi demo-1.0.tar.gz --index https://pypi.org --repository https://github.com/org/demo
///
/// A vouch server's attestations: add `--trusted-root root.json --certificate-oidc-issuer URL`.
/// Exit 0 verified; 1 refused (PEP740_E005..E011, E013, E018, VERIFY_E0xx); 2 unreadable.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").args(["provenance", "attestation", "index"])))]
pub struct Args {
    /// Distribution files (wheel or sdist).
    #[arg(value_name = "DIST", required = true)]
    dists: Vec<PathBuf>,
    /// A PEP 740 provenance object for DIST (as the index serves it).
    #[arg(long, value_name = "FILE")]
    provenance: Option<PathBuf>,
    /// Attestation files for DIST (each must verify).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    attestation: Vec<PathBuf>,
    /// A PyPI-shaped index: PEP 691 JSON page's provenance URL, else the Integrity API.
    #[arg(long, value_name = "URL")]
    index: Option<String>,
    /// PEM certificate to trust for an https index with a private CA.
    #[arg(long, value_name = "FILE", requires = "index")]
    tls_ca: Option<PathBuf>,
    /// The publisher: https://github.com/OWNER/REPO or https://gitlab.com/NAMESPACE/PROJECT.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "certificate_identity"
    )]
    repository: Option<String>,
    /// The workflow file (release.yml, or a path such as .gitlab-ci.yml).
    #[arg(long, value_name = "W", requires = "repository")]
    workflow: Option<String>,
    /// The deployment environment the certificate must carry.
    #[arg(long, value_name = "E", requires = "repository")]
    environment: Option<String>,
    /// The certificate identity (SAN), exact; without --repository, with the issuer, the policy.
    #[arg(long, value_name = "ID", help_heading = "Policy")]
    certificate_identity: Option<String>,
    /// The OIDC issuer, exact (with --repository it replaces the forge's own).
    #[arg(long, value_name = "URL", help_heading = "Policy")]
    certificate_oidc_issuer: Option<String>,
    /// CI claim: the source ref (e.g. refs/tags/v1.0).
    #[arg(long, value_name = "REF", help_heading = "Policy")]
    source_ref: Option<String>,
    #[command(flatten)]
    trust: super::flags::TrustArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<Exit> {
    let source = Source::from_flags(a.provenance, a.attestation, a.index, a.tls_ca);
    let claims = a.source_ref.map(|r| (CiClaim::SourceRepositoryRef, r));
    let req = PypiRequest {
        dists: a.dists,
        source,
        repository: a.repository,
        workflow: a.workflow,
        environment: a.environment,
        policy: PolicySpec {
            claims: claims.into_iter().collect(),
            ..PolicySpec::exact(a.certificate_identity, a.certificate_oidc_issuer, None)
        },
        trust: a.trust.spec()?,
        threads: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
    };
    let report = verify_pypi(&req)
        .map_err(|e| CodedError::judged(e.code(), e.is_refusal(), e.to_string()))?;
    answer(a.json, &serde_json::to_value(&report)?, &lines_of(&report))
}
