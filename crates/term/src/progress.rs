//! What only a command line has: the async runtime a command runs on and a progress bar
//! on a terminal.

use std::io::IsTerminal;

use anyhow::Context;

/// A multi-threaded async runtime (two workers) for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A multi-threaded async runtime with a worker on every core (`vouch serve`, `vouch
/// bench publish`).
pub fn runtime_on_every_core() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A byte progress bar on stderr, only when stderr is a terminal.
pub fn progress_bar(total: u64, verb: &str) -> Option<indicatif::ProgressBar> {
    let template = format!(
        "{verb:>11} {{bar:40}} {{binary_bytes}}/{{binary_total_bytes}} {{binary_bytes_per_sec}} eta {{eta}}"
    );
    bar(total, &template)
}

fn bar(total: u64, template: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let target = indicatif::ProgressDrawTarget::stderr();
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    Some(bar)
}

/// A [`vouch_api_client::Progress`] on stderr, only when it is a terminal: a spinner for a
/// step without a count (`total` 0), a byte bar for a transfer of 64 MiB or more (of any
/// size with [`TermProgress::every_transfer`]), or a bar of entries
/// ([`TermProgress::entries`]).
pub struct TermProgress {
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
    /// The smallest byte count drawn as a bar.
    min_bytes: u64,
    /// Counts entries, not bytes.
    entries: bool,
}

impl Default for TermProgress {
    fn default() -> Self {
        TermProgress {
            bar: std::sync::Mutex::new(None),
            min_bytes: 64 << 20,
            entries: false,
        }
    }
}

impl TermProgress {
    /// A byte bar for every transfer (`vouch fetch`: the download is the whole command).
    pub fn every_transfer() -> Self {
        TermProgress {
            min_bytes: 1,
            ..Self::default()
        }
    }

    /// A bar of entries with their rate (`vouch bench log`).
    pub fn entries() -> Self {
        TermProgress {
            entries: true,
            ..Self::default()
        }
    }
}

impl vouch_api_client::Progress for TermProgress {
    fn start(&self, total: u64, verb: &str) {
        let bar = match total {
            0 if std::io::stderr().is_terminal() => {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.set_message(verb.to_owned());
                bar.enable_steady_tick(std::time::Duration::from_millis(100));
                Some(bar)
            }
            0 => None,
            n if self.entries => bar(
                n,
                &format!("{{spinner}} {verb} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, {{eta}})"),
            ),
            n if n >= self.min_bytes => progress_bar(n, verb),
            _ => None,
        };
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = bar;
    }
    fn advance(&self, n: u64) {
        if let Some(bar) = &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}
