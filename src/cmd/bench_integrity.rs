//! `vouch bench integrity`: integrity record reads per second from a server on this
//! machine, after checking that what is read is a record that verifies
//! (`vouch_bench::integrity`).

use vouch_api_client::integrity::Target;
use vouch_bench::http::HttpReport;

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
    pub(super) json: bool,
}

pub fn run(args: Args) -> anyhow::Result<HttpReport> {
    let subject = Target::given(args.release, args.package.as_deref())?;
    Ok(vouch_bench::integrity::run(
        &args.server,
        &subject,
        args.concurrency,
        args.seconds,
    )?)
}
