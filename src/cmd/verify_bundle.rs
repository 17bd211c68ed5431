//! `vouch verify FILE_OR_DIGEST --bundle B <policy>`: verify one artifact against a Sigstore
//! bundle and an identity policy, offline (`vouch_consumer::verify_artifact`).

use std::path::PathBuf;

use vouch_consumer::{refusal_json, verify_artifact};

use super::flags::{PolicyArgs, TrustArgs};
use crate::output::{answer, fail_json, print_json, Exit};

/// Exit status: 0 verified; 1 the bundle did not verify (signature, certificate, log proof,
/// identity or claim mismatch); 2 the inputs could not be read or understood.
#[derive(Debug, clap::Args)]
// Flattened into `verify::Args`; clap's implicit group would clash with that one's name.
#[group(skip)]
pub struct Args {
    /// The artifact: a file path, `-` for standard input, or its digest as `sha256:<64 hex>`
    /// (or `sha512:<128 hex>`).
    #[arg(value_name = "FILE_OR_DIGEST", required = true)]
    artifact: Option<String>,
    /// The Sigstore bundle (.sigstore.json; bundle v0.1, v0.2 or v0.3, at most 16 MiB).
    #[arg(long, value_name = "FILE", required = true)]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// Print one JSON object on stdout (also on failure) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    // clap marks both as required unless `vouch verify checksums` was chosen.
    let (Some(artifact), Some(bundle)) = (args.artifact.as_deref(), args.bundle.as_deref()) else {
        anyhow::bail!("FILE_OR_DIGEST and --bundle are required");
    };
    let trust = args.trust.spec().map_err(|e| fail_json(args.json, e))?;
    match verify_artifact(artifact, bundle, &args.policy.artifact_policy(), &trust) {
        Ok(v) => answer(args.json, &v.to_json(), &v.lines()),
        Err(coded) => {
            if args.json {
                print_json(&refusal_json(artifact, bundle, &coded))?;
            }
            Err(coded.into())
        }
    }
}
