//! `vouch bench rekor`: a second-process load generator for a server's Rekor v2 entry API
//! (loopback only), reporting entries per second and latency (`vouch_bench::rekor`).

use vouch_bench::rekor::RekorReport;

/// Post N signed hashedrekord entries (one P-256 key, one certificate from a throwaway
/// local CA, N distinct digests, all signed before the clock starts) to
/// `SERVER/api/v2/log/entries` over C keep-alive connections, and report entries per
/// second and latency percentiles. One in 64 answers is checked in full: its
/// inclusion proof must verify against its checkpoint. Loopback servers only; at most
/// 1,000,000 entries and 1024 connections.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of a running `vouch serve` (http:// on a loopback address).
    #[arg(long, value_name = "URL")]
    server: String,
    /// Entries to post.
    #[arg(long, default_value_t = 20_000)]
    entries: usize,
    /// Concurrent keep-alive connections (requests in flight).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub(super) json: bool,
}

pub fn run(args: Args) -> anyhow::Result<RekorReport> {
    Ok(vouch_bench::rekor::run(
        &args.server,
        args.entries,
        args.concurrency,
    )?)
}
