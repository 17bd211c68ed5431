//! The `vouch` binary: parses the command line and hands each subcommand to its module.
//!
//! Exit codes (documented in the README and stable):
//! - 0: the command succeeded (for verifying commands: everything verified);
//! - 1: verification failed (a signature, digest, identity or log proof did not check);
//! - 2: usage or operational error (bad input, missing file, unreachable server).
//!
//! A broken pipe on stdout (e.g. `vouch ... | head`) exits quietly with 0, as ripgrep does.

// stdout goes through `output::outln!` / `output::print_json`, whose write errors reach
// `report_error` (a closed pipe exits quietly); `println!` would panic instead.
#![deny(clippy::print_stdout)]

mod cmd;
mod output;

use clap::{CommandFactory, FromArgMatches};

/// mimalloc instead of the system allocator: bundle verification allocates on every
/// worker (JSON, DER, base64), and glibc malloc's per-thread arenas made two workers
/// scale worse than the signature checks they run (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    output::reset_sigpipe();
    let matches = cmd::Cli::command().get_matches();
    let cli = match cmd::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    output::set_json_requested(output::json_requested(&matches));
    output::init_tracing(cli.verbose, cli.log_format());
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => output::report_error(&err),
    };
    std::process::exit(code.as_i32());
}
