//! `vouch attest image REF --predicate FILE --type T`: an in-toto attestation about a
//! container image, signed keylessly and attached as a referrer (cosign's `attest`).

use clap::Subcommand;

use crate::output::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Attest a container image: sign an in-toto statement (subject: the image digest)
    /// and attach the bundle as an OCI 1.1 referrer, or under the `sha256-<hex>` tag when
    /// the registry has no referrers API. From cosign: `cosign attest --predicate F --type T
    /// IMAGE` -> `vouch attest image IMAGE --predicate F --type T`; verify it with
    /// `vouch verify image IMAGE --type T ...`.
    Image(Box<super::image_sign::Attest>),
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    match args.sub {
        Sub::Image(a) => super::image_sign::run_attest(*a),
    }
}
