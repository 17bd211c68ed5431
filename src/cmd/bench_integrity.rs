//! `vouch bench integrity`: integrity record reads per second from a server on this machine, after checking that what is read is a record that verifies.

use clap::{Args as _, FromArgMatches as _};
use vouch_integrity::{verify_record, KeySet};

use super::registry_api::{base_url, get_json, http, runtime};
use crate::output::{CodedError, Exit};

/// Read one integrity record repeatedly over keep-alive connections from a server on
/// this machine (loopback only) and report reads per second. The record is fetched and
/// verified against the served key set first, so the load is real records.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("subject").required(true).args(["release", "package"]))]
pub struct Args {
    /// Registry base URL (http://127.0.0.1:PORT).
    #[arg(long, value_name = "URL")]
    server: String,
    /// A release by its registry id.
    #[arg(long, value_name = "ID")]
    release: Option<u64>,
    /// A package version: `@scope/name@VERSION`.
    #[arg(long, value_name = "@SCOPE/NAME@VERSION")]
    package: Option<String>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Duration of the run in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let base = base_url(&args.server)?;
    let path = match (&args.release, &args.package) {
        (Some(id), _) => format!("/api/v1/releases/{id}/integrity"),
        (None, Some(spec)) => {
            let (name, version) = spec
                .rsplit_once('@')
                .filter(|(n, _)| n.starts_with('@'))
                .ok_or_else(|| {
                    CodedError::new(
                        "BENCH_E001",
                        Exit::Error,
                        format!("--package must be @scope/name@VERSION, found {spec:?}"),
                    )
                })?;
            format!("/api/v1/packages/{name}/{version}/integrity")
        }
        (None, None) => unreachable!("clap requires --release or --package"),
    };
    let url = format!("{base}{path}");
    runtime()?.block_on(async {
        let client = http()?;
        let jwks = client
            .get(format!("{base}/.well-known/registry-key.json"))
            .send()
            .await?
            .bytes()
            .await?;
        let keys = KeySet::from_jwks(&jwks)
            .map_err(|e| CodedError::new(e.code(), Exit::VerifyFailed, e.to_string()))?;
        let doc = get_json(
            &client,
            &url,
            "fetching the record",
            super::registry_api::caps::API_ANSWER,
        )
        .await?;
        verify_record(doc["jws"].as_str().unwrap_or(""), &keys)
            .map_err(|e| CodedError::new(e.code(), Exit::VerifyFailed, e.to_string()))?;
        anyhow::Ok(())
    })?;
    let mut argv = vec![
        "bench-integrity".to_owned(),
        "--url".into(),
        url,
        "--concurrency".into(),
        args.concurrency.to_string(),
        "--seconds".into(),
        args.seconds.to_string(),
    ];
    if args.json {
        argv.push("--json".into());
    }
    let cmd = super::bench_http::Args::augment_args(clap::Command::new("bench-integrity"));
    let matches = cmd.try_get_matches_from(argv)?;
    super::bench_http::run(super::bench_http::Args::from_arg_matches(&matches)?)
}
