//! The `vouch` command line's terminal conventions, shared by every subcommand: exit
//! codes, error reporting with stable codes, `--json` printing, logging setup, and (in
//! [`progress`]) the async runtime a command runs on and progress bars on a terminal.
//! The binary (`src/`) parses arguments, calls a library and prints through this crate.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

pub mod progress;

/// The process exit status. Kept as a type so commands cannot invent new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; for verifying commands, everything verified.
    Ok,
    /// A verification failed: the input was well-formed but did not check out.
    VerifyFailed,
    /// Usage or operational error.
    Error,
}

impl Exit {
    pub fn as_i32(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::VerifyFailed => 1,
            Exit::Error => 2,
        }
    }
}

/// An error that reached the top of a command, with its stable code (docs/errors.md):
/// the client libraries' error type, so a library's code reaches the user unchanged.
pub use vouch_api_client::{error_chain, CodedError, Outcome};

impl From<Exit> for Outcome {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::VerifyFailed => Outcome::Refused,
            Exit::Ok | Exit::Error => Outcome::Error,
        }
    }
}

/// The exit status for an error's [`Outcome`]: 1 when a check refused, 2 otherwise.
pub fn exit_of(err: &CodedError) -> Exit {
    match err.outcome {
        Outcome::Refused => Exit::VerifyFailed,
        Outcome::Error => Exit::Error,
    }
}

/// Untrusted text made safe for a terminal (control and bidi characters escaped):
/// every human-readable print of server, bundle or file text goes through it.
pub use vouch_api_client::text::clean;

/// Whether the command line asked for `--json` (set once by `main` after parsing).
static JSON_REQUESTED: AtomicBool = AtomicBool::new(false);
/// Whether a command already printed its one JSON object on stdout.
static JSON_PRINTED: AtomicBool = AtomicBool::new(false);

/// Records that the command runs with `--json`: an error that escapes it is then also
/// printed on stdout as `{"error": {"code", "message"}}`, unless the command already
/// printed its own object.
pub fn set_json_requested(on: bool) {
    JSON_REQUESTED.store(on, Ordering::Relaxed);
}

/// Prints an error that escaped a command and returns the exit status for it.
/// A `CodedError` anywhere in the chain decides the code and status; anything else is an
/// operational error (exit 2) with code `CLI_E001`. Under `--json`, the error is also
/// the command's one JSON object on stdout (the README's promise), unless the command
/// printed one itself.
pub fn report_error(err: &anyhow::Error) -> Exit {
    if is_broken_pipe(err) {
        return Exit::Ok;
    }
    let coded = vouch_api_client::summarize(err.chain());
    let (code, msg, exit) = (coded.code(), &coded.message, exit_of(&coded));
    if JSON_REQUESTED.load(Ordering::Relaxed) && !JSON_PRINTED.load(Ordering::Relaxed) {
        let obj = serde_json::json!({"error": {"code": code, "message": msg}});
        if let Err(e) = print_json(&obj) {
            if is_broken_pipe(&e) {
                return Exit::Ok;
            }
        }
    }
    let _ = writeln!(std::io::stderr(), "error[{code}]: {}", clean(msg));
    exit
}

/// Prints one JSON object on stdout followed by a newline.
///
/// The object is rendered to a string first so that a closed stdout surfaces as a plain
/// `io::Error` (serde_json's own error hides the I/O kind from the error chain).
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    JSON_PRINTED.store(true, Ordering::Relaxed);
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// A command's coded failure; under `--json` it is first printed as the command's one
/// object, `{"ok": false, "error": {"code", "message"}}`.
pub fn fail_json(json: bool, coded: CodedError) -> anyhow::Error {
    let error = serde_json::json!({"code": coded.code, "message": coded.message});
    match json {
        true => print_json(&serde_json::json!({"ok": false, "error": error})).err(),
        false => None,
    }
    .unwrap_or_else(|| coded.into())
}

/// `writeln!` to stdout, returning the `io::Result` for the caller to `?`.
///
/// Every line the binary prints on stdout goes through this macro, [`print_json`] or an
/// explicit `std::io::stdout()` writer: `print!`/`println!` panic when the reader has gone
/// (`vouch ... | head -1`), and `main.rs` denies them (`clippy::print_stdout`). A write
/// error propagates to [`report_error`], which ends a closed pipe quietly with exit 0.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let kind = e
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                e.downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Rust ignores SIGPIPE, so a closed pipe shows up as an `io::Error` which
/// `report_error` turns into a quiet exit (ripgrep's approach). Restoring the default
/// disposition instead would kill the process mid-way through async work (a server child
/// in `quickstart`, a half-written output file), so nothing changes here on any platform;
/// the function exists so the policy is visible at the top of `main`.
pub fn reset_sigpipe() {}

/// How log lines on stderr are written (`vouch serve --log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; ANSI colours only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields), never coloured:
    /// for journald, Loki, Elasticsearch and the like.
    Json,
}

/// Logs go to stderr, structured, filtered by `RUST_LOG` (default: warnings, or info with -v).
/// Text is coloured only when stderr is a terminal, so piped and journald logs carry no
/// escape codes.
pub fn init_tracing(verbose: u8, format: LogFormat) {
    use std::io::IsTerminal;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_ansi(false)
            .try_init(),
    };
}

/// Prints a command's answer: `json` with `--json`, else `lines`, each through [`clean`].
pub fn answer(as_json: bool, json: &serde_json::Value, lines: &[String]) -> anyhow::Result<Exit> {
    if as_json {
        print_json(json)?;
    } else {
        // One buffered writer: an audit's table can be ten thousand lines.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for line in lines {
            writeln!(out, "{}", clean(line))?;
        }
        out.flush()?;
    }
    Ok(Exit::Ok)
}

/// A report's `Display` text as [`answer`]'s lines.
pub fn lines_of(report: &impl std::fmt::Display) -> Vec<String> {
    report.to_string().lines().map(str::to_owned).collect()
}

/// Whether the innermost subcommand was given `--json` (every reporting command names
/// that flag `json`).
pub fn json_requested(matches: &clap::ArgMatches) -> bool {
    let mut m = matches;
    loop {
        if matches!(m.try_get_one::<bool>("json"), Ok(Some(true))) {
            return true;
        }
        match m.subcommand() {
            Some((_, sub)) => m = sub,
            None => return false,
        }
    }
}
