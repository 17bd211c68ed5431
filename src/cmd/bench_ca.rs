//! `vouch bench ca`: certificate-issuance load against a running `vouch serve --dev` on this
//! machine, reporting certificates per second and latency (`vouch_bench::ca`).

use vouch_bench::ca::CaReport;

/// Issue certificates from a `vouch serve --dev` server as fast as it answers: tokens and
/// CSRs are prepared first, then `--requests` signingCert calls run over `--concurrency`
/// keep-alive connections. Prints certificates/s and p50/p99 latency.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server base URL (loopback), e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Certificates to request (1..=200000).
    #[arg(long, default_value_t = 5000)]
    requests: usize,
    /// Concurrent connections (1..=1024).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub(super) json: bool,
}

pub fn run(args: Args) -> anyhow::Result<CaReport> {
    Ok(vouch_bench::ca::run(
        &args.server,
        args.requests,
        args.concurrency,
    )?)
}
