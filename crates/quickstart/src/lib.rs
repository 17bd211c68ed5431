//! The quickstart story: a `vouch serve --dev` child in a temporary directory, then every
//! client command run as a user would type it (`vouch` child processes, so the story shows
//! exactly what a user sees). Narration goes to the caller as [`Event`]s; what each step
//! observed (exit status, error code, JSON answers) comes back as [`Step`]s, never a
//! verdict the story assumed. No printing, no exit codes: the `vouch quickstart` command
//! prints the events and the report.

mod server;
mod story;

use std::path::{Path, PathBuf};

pub use server::Server;
use vouch_api_client::CodedError;

/// The result type of the story. Every failure is `CLI_E001`, as it always was: a step
/// that did not behave as the story requires, or a local failure running it.
pub type Result<T, E = CodedError> = std::result::Result<T, E>;

fn failed(message: impl Into<String>) -> CodedError {
    CodedError::error(vouch_api_client::codes::CLI_FAILED, message)
}

/// Adds what was being done to a local failure.
trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| failed(format!("{what}: {e}")))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: &str) -> Result<T> {
        self.ok_or_else(|| failed(what))
    }
}

/// One line of narration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Explanatory text (may span lines).
    Say(String),
    /// A command line the story runs (or the equivalent of a request it makes).
    Command(String),
    /// What that command printed, one complete piece at a time: a JSON answer is never
    /// cut, plain text is shortened with a note of what was left out.
    Output(String),
}

/// What one step observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: &'static str,
    pub detail: serde_json::Value,
}

impl Step {
    /// The `--json` summary of a whole run: `ok` is what the story observed (a failed
    /// step is an error instead), and each step's name and detail.
    pub fn summary_json(steps: &[Step]) -> serde_json::Value {
        let steps: Vec<_> = (steps.iter())
            .map(|s| serde_json::json!({ "step": s.name, "detail": s.detail }))
            .collect();
        serde_json::json!({ "ok": true, "steps": steps })
    }
}

/// A running quickstart: its directory and its dev server.
pub struct Quickstart {
    exe: PathBuf,
    dir: tempfile::TempDir,
    server: Server,
    steps: Vec<Step>,
}

impl Quickstart {
    /// Makes the temporary directory and starts the dev server with `exe` (the `vouch`
    /// binary); SIGTERM or SIGINT to this process is passed on to the server.
    pub fn start(exe: PathBuf, on: &mut dyn FnMut(Event)) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("vouch-quickstart-")
            .tempdir()
            .context("creating a temporary directory")?;
        let server = Server::start(&exe, &dir.path().join("server"), on)?;
        server.forward_stop_signals()?;
        let detail = serde_json::json!({ "url": server.url, "log_key": server.vkey });
        let steps = vec![Step {
            name: "serve",
            detail,
        }];
        Ok(Quickstart {
            exe,
            dir,
            server,
            steps,
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the whole story; returns every step's observations, the server's first.
    pub fn run(&mut self, on: &mut dyn FnMut(Event)) -> Result<Vec<Step>> {
        let mut story = story::Story {
            exe: &self.exe,
            dir: self.dir.path(),
            server: &self.server,
            steps: std::mem::take(&mut self.steps),
            on,
        };
        story.run()?;
        Ok(story.steps)
    }

    /// Keeps the directory and waits until the server exits (a signal stops it).
    pub fn keep_until_stopped(self) -> PathBuf {
        let Quickstart {
            dir, mut server, ..
        } = self;
        let dir = dir.keep();
        server.wait();
        dir
    }

    /// Stops the server; the directory is removed.
    pub fn stop(mut self) {
        self.server.kill();
    }
}
