//! `vouch bench verify`: verify one bundle over and over through the batch path
//! ([`Verifier::verify_many`]: one shared verifier, all cores) and report verifies per second.
//! Each verification parses the bundle JSON afresh, as a lockfile audit would.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use vouch_verify::{Artifact, BundleInput, Input, Job, ParsedBundle, Verifier};

use super::verify_bundle::{coded, PolicyArgs, TrustArgs};
use crate::output::{outln, print_json, Exit};

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
    /// How long to measure, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "N")]
    seconds: f64,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Jobs per batch per thread: large enough that thread start-up is noise, small enough
/// that the run ends close to `--seconds`.
const JOBS_PER_THREAD: usize = 32;

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    let policy = PolicyArgs::exact(
        args.certificate_identity.clone(),
        args.certificate_oidc_issuer.clone(),
        args.key.clone(),
    );
    let trust = TrustArgs::new(args.staging, args.trusted_root.clone());
    let prepared = (|| {
        let policy = policy.build()?;
        let verifier = Verifier::new(&trust.load()?)?;
        let artifact = match Artifact::from_file_or_digest(&args.artifact)? {
            Artifact::File(path) => {
                Artifact::bytes(vouch_verify::limits::read_limited(&path, Input::Artifact)?)
            }
            other => other,
        };
        let bundle_json = vouch_verify::limits::read_limited(&args.bundle, Input::Bundle)?;
        // Measure only a bundle that verifies: failure paths stop early and would flatter.
        verifier.verify(&artifact, &ParsedBundle::from_json(&bundle_json)?, &policy)?;
        Ok((policy, verifier, artifact, bundle_json))
    })();
    let (policy, verifier, artifact, bundle_json) = prepared.map_err(|e| coded(&e))?;

    let job = Job {
        artifact: &artifact,
        bundle: BundleInput::Json(&bundle_json),
        policy: &policy,
    };
    let jobs = vec![job; JOBS_PER_THREAD * threads.get()];
    let budget = Duration::from_secs_f64(args.seconds.clamp(0.1, 3600.0));
    let start = Instant::now();
    let mut verified = 0usize;
    while start.elapsed() < budget {
        for result in verifier.verify_many_on(&jobs, threads) {
            result.map_err(|e| coded(&e))?;
            verified += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let per_s = verified as f64 / elapsed;
    if args.json {
        print_json(&json!({
            "verifies_per_s": (per_s * 10.0).round() / 10.0,
            "threads": threads.get(),
            "verifies": verified,
            "seconds": (elapsed * 1000.0).round() / 1000.0,
            "bundle": args.bundle.display().to_string(),
        }))?;
    } else {
        outln!(
            "{per_s:.1} verifies/s on {} threads ({verified} in {elapsed:.2} s)",
            threads.get()
        )?;
    }
    Ok(Exit::Ok)
}
