//! `vouch attest pypi DIST...` (PEP 740 publish attestations for Python distributions,
//! `vouch_publisher::attest_pypi::attest_pypi`) and `vouch attest image REF` (an in-toto
//! attestation about a container image, attached as a referrer: cosign's `attest`).

use std::path::PathBuf;

use vouch_publisher::attest_pypi::{attest_pypi, AttestRequest};

use super::flags::{ServicesArgs, TokenArgs};
use super::registry_api::runtime;
use crate::output::{answer, from_publisher, Exit};

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Write DIST.publish.attestation for each wheel or sdist, as `pypi-attestations sign`
    /// does: an in-toto statement naming the file and its SHA-256 (predicate
    /// https://docs.pypi.org/attestations/publish/v1), signed with one short-lived
    /// certificate for your OIDC identity and logged in the server's Rekor v1 log (with a
    /// SET). `uv publish` and twine upload the attestations with the files.
    ///
    ///   vouch attest pypi dist/* --server https://vouch.example --identity-token "$TOKEN"
    ///   vouch verify pypi dist/* --repository https://github.com/org/demo \
    ///       --trusted-root root.json --certificate-oidc-issuer https://vouch.example/oidc
    Pypi(PypiArgs),
    /// Attest a container image: sign an in-toto statement (subject: the image digest)
    /// and attach the bundle as an OCI 1.1 referrer, or under the `sha256-<hex>` tag when
    /// the registry has no referrers API. From cosign: `cosign attest --predicate F --type T
    /// IMAGE` -> `vouch attest image IMAGE --predicate F --type T`; verify it with
    /// `vouch verify image IMAGE --type T ...`; cosign 2.x's `.att` tag -> `--legacy-tag`.
    Image(Box<super::image_sign::Attest>),
}

#[derive(Debug, clap::Args)]
pub struct PypiArgs {
    /// Wheels and sdists.
    #[arg(value_name = "DIST", required = true)]
    dists: Vec<PathBuf>,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    services: ServicesArgs,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

pub fn run(sub: Sub) -> anyhow::Result<Exit> {
    let a = match sub {
        Sub::Pypi(a) => a,
        Sub::Image(a) => return super::image_sign::run_attest(*a),
    };
    let req = AttestRequest {
        dists: a.dists,
        identity_token: a.token.identity_token,
        identity_token_file: a.token.identity_token_file,
        services: a.services.services()?,
        tls_ca: a.services.tls_ca,
    };
    let report = runtime()?
        .block_on(attest_pypi(&req))
        .map_err(from_publisher)?;
    answer(a.json, &serde_json::to_value(&report)?, &report.lines())
}
