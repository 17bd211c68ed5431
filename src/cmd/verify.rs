//! `vouch verify`: bundle verification by default, `vouch verify checksums` for checksum files.

use clap::Subcommand;

use crate::output::Exit;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,

    #[command(flatten)]
    bundle: super::verify_bundle::Args,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Verify files against SHA256SUMS or dist-manifest.json.
    Checksums(super::verify_checksums::Args),
    /// Verify a registry integrity record against the key set and the log, and
    /// downloaded assets against it.
    Integrity(super::verify_integrity::Args),
    // Its help is verify_image::Args's doc comment (with the cosign flag mapping).
    Image(Box<super::verify_image::Args>),
    /// Verify the PEP 740 attestations of Python wheels and sdists against their trusted
    /// publisher (repository, workflow), from files beside them, a provenance file or an index.
    Pypi(Box<super::verify_pypi::Args>),
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    match args.sub {
        Some(Sub::Checksums(a)) => super::verify_checksums::run(a),
        Some(Sub::Integrity(a)) => super::verify_integrity::run(a),
        Some(Sub::Image(a)) => super::verify_image::run(*a),
        Some(Sub::Pypi(a)) => super::verify_pypi::run(*a),
        None => super::verify_bundle::run(args.bundle),
    }
}
