//! `vouch bench http`: bounded HTTP/1.1 GET load on this machine (`vouch_bench::http`).

use vouch_bench::http::{HttpLoad, HttpReport};

/// Send GET requests over keep-alive connections to one or more URLs on this machine
/// for a fixed time and report requests per second and latency. Targets must be
/// loopback addresses (127.0.0.0/8, ::1, localhost): this is a measuring tool, not a
/// load generator for other hosts. Bounded: at most 1024 connections and 300 seconds.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// URL to request (http:// only); repeat to rotate over several.
    #[arg(long = "url", required = true, value_name = "URL")]
    urls: Vec<String>,
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
    Ok(vouch_bench::http::run(&HttpLoad {
        urls: args.urls,
        concurrency: args.concurrency,
        seconds: args.seconds,
    })?)
}
