//! `vouch bench`: throughput measurements that print one JSON object each.

use clap::Subcommand;

use crate::output::{outln, print_json, Exit};

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Verify one bundle repeatedly on all cores through the batch verification path.
    Verify(super::bench_verify::Args),
    /// Append entries through the real sequencer and storage, and measure the floor.
    Log(super::bench_log::Args),
    /// Send bounded HTTP GET load to a server on this machine and report requests per second.
    Http(super::bench_http::Args),
    /// Read one integrity record repeatedly from a server on this machine (reads per second).
    Integrity(super::bench_integrity::Args),
    /// Post signed hashedrekord entries to a server's Rekor v2 API and report entries per second.
    Rekor(super::bench_rekor::Args),
    /// Request certificates from a `vouch serve --dev` server and report certificates per second.
    Ca(super::bench_ca::Args),
    /// Publish small packages end to end through a dev server on this machine.
    Publish(super::bench_publish::Args),
    /// Time `vouch audit signatures` over a lockfile (e.g. one `bench publish` wrote).
    Audit(super::bench_audit::Args),
}

pub fn run(sub: Sub) -> anyhow::Result<Exit> {
    match sub {
        Sub::Verify(a) => show(a.json, &super::bench_verify::run(a)?),
        Sub::Log(a) => show(a.json, &super::bench_log::run(a)?),
        Sub::Http(a) => show(a.json, &super::bench_http::run(a)?),
        Sub::Integrity(a) => show(a.json, &super::bench_integrity::run(a)?),
        Sub::Rekor(a) => show(a.json, &super::bench_rekor::run(a)?),
        Sub::Ca(a) => show(a.json, &super::bench_ca::run(a)?),
        Sub::Publish(a) => super::bench_publish::run(a),
        Sub::Audit(a) => super::bench_audit::run(a),
    }
}

/// Prints a report (its JSON object, or its summary line) and exits 0 when the run was
/// clean, 2 when it saw errors.
fn show(json: bool, report: &impl vouch_bench::Report) -> anyhow::Result<Exit> {
    if json {
        print_json(&serde_json::to_value(report)?)?;
    } else {
        outln!("{report}")?;
    }
    Ok(if report.ran_clean() {
        Exit::Ok
    } else {
        Exit::Error
    })
}
