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
mod lockfile;
mod output;

use clap::Parser;

fn main() {
    output::reset_sigpipe();
    let cli = cmd::Cli::parse();
    output::init_tracing(cli.verbose);
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => output::report_error(&err),
    };
    std::process::exit(code.as_i32());
}
