//! `vouch bench verify`: verifies one bundle over and over through the batch path and
//! measures the floor in the same run (`vouch_bench::verify`).

use std::num::NonZeroUsize;
use std::path::PathBuf;

use vouch_bench::verify::VerifyBench;
use vouch_verify::{PolicySpec, TrustSpec};

use vouch_bench::verify::VerifyReport;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle to verify repeatedly.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// The artifact: a path (read once into memory) or `sha256:<64 hex>`.
    #[arg(long, value_name = "FILE_OR_DIGEST")]
    artifact: String,
    /// The expected certificate identity (exact).
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "key",
        requires = "certificate_oidc_issuer"
    )]
    certificate_identity: Option<String>,
    /// The expected OIDC issuer (exact).
    #[arg(long, value_name = "URL", requires = "certificate_identity")]
    certificate_oidc_issuer: Option<String>,
    /// A PEM public key, for managed-key bundles.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["certificate_identity", "certificate_oidc_issuer"])]
    key: Option<PathBuf>,
    /// Trust the embedded Sigstore staging root.
    #[arg(long)]
    staging: bool,
    /// A trusted_root.json instead of the embedded public-good root.
    #[arg(long, value_name = "FILE", conflicts_with = "staging")]
    trusted_root: Option<PathBuf>,
    /// How long to measure, in seconds (the floor takes half as long again).
    #[arg(long, default_value_t = 5.0, value_name = "N")]
    seconds: f64,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(super) json: bool,
}

pub fn run(args: Args) -> anyhow::Result<VerifyReport> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    Ok(vouch_bench::verify::run(&VerifyBench {
        policy: PolicySpec::exact(
            args.certificate_identity,
            args.certificate_oidc_issuer,
            args.key,
        ),
        trust: TrustSpec {
            staging: args.staging,
            trusted_root: args.trusted_root,
        },
        bundle: args.bundle,
        artifact: args.artifact,
        seconds: args.seconds,
        threads,
    })?)
}
