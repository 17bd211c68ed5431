//! Shared terminal conventions for every subcommand (exit codes, error reporting with
//! stable codes, `--json` printing, logging setup): they live in `vouch-term`; this
//! module names them for the commands and adds the publisher library's error mapping.

pub use vouch_term::outln;
pub use vouch_term::{
    answer, clean, error_chain, fail_json, init_tracing, json_requested, lines_of, print_json,
    report_error, reset_sigpipe, set_json_requested, CodedError, Exit, LogFormat,
};

/// A publisher-library error as the command line reports it: its own code, or (a failed
/// local file operation) `CLI_E001` with its cause.
pub fn from_publisher(err: vouch_publisher::Error) -> anyhow::Error {
    match err.into_coded() {
        Ok(coded) => coded.into(),
        Err(other) => other.into(),
    }
}
