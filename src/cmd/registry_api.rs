//! The registry client lives in `vouch-api-client`; this module adds what only a command
//! line has: the async runtime a command runs on and a progress bar on a terminal.

use std::io::IsTerminal;

use anyhow::Context;

pub use vouch_api_client::{
    api_error, base_url, caps, get_bytes, get_json, http, log_verifier, read_capped,
    read_json_capped, resolve, trusted_root, unreachable,
};

/// A multi-threaded async runtime (two workers) for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A byte progress bar on stderr, only when stderr is a terminal.
pub fn progress_bar(total: u64, verb: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let template = format!(
        "{verb:>11} {{bar:40}} {{binary_bytes}}/{{binary_total_bytes}} {{binary_bytes_per_sec}} eta {{eta}}"
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    Some(bar)
}
