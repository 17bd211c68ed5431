//! `vouch verify integrity`: checks a registry integrity record against the served key set, its log inclusion against a checkpoint signed by the log key, and downloaded assets against the record.

use std::path::PathBuf;

use vouch_api_client::integrity::{verify, Check, Target};

use super::registry_api::runtime;
use crate::output::{answer, Exit};

/// Verify a registry integrity record: its JWS against the registry's published key set
/// (`/.well-known/registry-key.json`), its inclusion in the transparency log against a
/// checkpoint signed by the log key, and, with --assets, the downloaded files against
/// the digests it lists. Exit 1 with a code on any failure.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("subject").required(true).args(["release", "package"]))]
pub struct Args {
    /// Registry base URL.
    #[arg(long, value_name = "URL")]
    server: String,
    /// A release by its registry id.
    #[arg(long, value_name = "ID")]
    release: Option<u64>,
    /// A package version: `@scope/name@VERSION`.
    #[arg(long, value_name = "@SCOPE/NAME@VERSION")]
    package: Option<String>,
    /// With --package @pypi/PROJECT@VERSION: the record of this file of the Python
    /// release (each uploaded file has its own).
    #[arg(long, value_name = "FILENAME", requires = "package")]
    file: Option<String>,
    /// Directory holding the downloaded assets, by the names the record lists.
    #[arg(long, value_name = "DIR")]
    assets: Option<PathBuf>,
    /// The log's signed-note verifier key to pin (as `vouch serve` prints it). Default:
    /// the Ed25519 log key of the server's trusted root.
    #[arg(long, value_name = "VKEY")]
    log_key: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let target =
        Target::given(args.release, args.package.as_deref())?.with_file(args.file.as_deref())?;
    let check = Check {
        server: args.server,
        target,
        assets: args.assets,
        log_key: args.log_key,
    };
    let v = runtime()?.block_on(verify(&check))?;
    answer(args.json, &v.to_json(), &v.lines())
}
