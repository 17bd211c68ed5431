//! `vouch bench`: throughput measurements that print one JSON object each.

use clap::Subcommand;

use crate::output::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Verify one bundle repeatedly on all cores through the batch verification path.
    Verify(super::bench_verify::Args),
    /// Append entries through the real sequencer and storage, and measure the floor.
    Log(super::bench_log::Args),
    /// Send bounded HTTP GET load to a server on this machine and report requests per second.
    Http(super::bench_http::Args),
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    match args.sub {
        Sub::Verify(a) => super::bench_verify::run(a),
        Sub::Log(a) => super::bench_log::run(a),
        Sub::Http(a) => super::bench_http::run(a),
    }
}
