//! `vouch sign image REF` and `vouch attest image REF`: keyless signing of a container
//! image, attached as a cosign v3 referrer bundle (`vouch_oci::sign_image`).

use std::path::PathBuf;

use super::flags::{ServicesArgs, TokenArgs};
use super::registry_api::runtime;
use crate::output::{answer, lines_of, CodedError, Exit};

/// The image, and who signs it through which services (as `vouch sign`).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("token").required(true).args(["identity_token", "identity_token_file"])))]
pub struct Signer {
    /// REGISTRY/REPO:TAG (resolved once) or REGISTRY/REPO@sha256:HEX.
    #[arg(value_name = "REF")]
    image: String,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    services: ServicesArgs,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    allow_insecure_registry: bool,
    /// Write what cosign 2.x writes (cosign 3: --new-bundle-format=false): a layer of the
    /// sha256-<hex>.sig image (.att for attest) whose annotations carry the signature,
    /// certificate, chain and Rekor v1 SET, instead of a referrer bundle. The instance
    /// must offer a Rekor v1 log.
    #[arg(long)]
    legacy_tag: bool,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// `vouch attest image`: the signer's flags, the predicate and its type.
#[derive(Debug, clap::Args)]
pub struct Attest {
    #[command(flatten)]
    signer: Signer,
    /// The predicate (JSON) of the in-toto statement.
    #[arg(long, value_name = "FILE")]
    predicate: PathBuf,
    /// A cosign name (spdx, spdxjson, cyclonedx, slsaprovenance, slsaprovenance1, link, vuln,
    /// openvex, custom) or a predicate type URI.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    predicate_type: String,
}

pub fn run(s: Signer, predicate: Option<(PathBuf, String)>) -> anyhow::Result<Exit> {
    let req = vouch_oci::SignImageRequest {
        image: s.image,
        predicate,
        services: s.services.services()?,
        identity_token: s.token.identity_token,
        identity_token_file: s.token.identity_token_file,
        tls_ca: s.services.tls_ca,
        allow_insecure: s.allow_insecure_registry,
        legacy_tag: s.legacy_tag,
    };
    let rt = runtime()?;
    let signed = rt
        .block_on(vouch_oci::sign_image(&req))
        .map_err(|e| CodedError::from(&e))?;
    answer(s.json, &signed.to_json(), &lines_of(&signed))
}

pub fn run_attest(a: Attest) -> anyhow::Result<Exit> {
    run(a.signer, Some((a.predicate, a.predicate_type)))
}
