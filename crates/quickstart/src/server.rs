//! The quickstart's `vouch serve --dev` child: started with its banner read, stopped when
//! quickstart is told to stop, and never left running behind it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::{failed, Context, Event, Result};

/// The dev server child.
pub struct Server {
    child: Child,
    /// Set once the child has been waited for (its pid may then be reused).
    reaped: Arc<AtomicBool>,
    /// Base URL, as the server announced it.
    pub url: String,
    /// The log's verifier key, as the server announced it.
    pub vkey: String,
}

impl Server {
    /// Starts `vouch serve --dev` on a free loopback port with its data in `data`.
    pub(crate) fn start(exe: &Path, data: &Path, on: &mut dyn FnMut(Event)) -> Result<Self> {
        on(Event::Say("1. Start a development server: SQLite metadata, blobs and log tiles on local disk, and its\n   own OIDC issuer, certificate authority, transparency log and timestamp authority:".into()));
        on(Event::Command(format!(
            "vouch serve --dev --listen 127.0.0.1:0 --data {}",
            data.display()
        )));
        let mut child = Command::new(exe)
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting vouch serve")?;
        // The child is owned by a `Server` from here on, so an early return kills it.
        let stdout = child.stdout.take();
        let server = Server {
            child,
            reaped: Arc::new(AtomicBool::new(false)),
            url: String::new(),
            vkey: String::new(),
        };
        server.read_banner(stdout, on)
    }

    fn read_banner(
        mut self,
        stdout: Option<std::process::ChildStdout>,
        on: &mut dyn FnMut(Event),
    ) -> Result<Self> {
        let stdout = stdout.context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut next_line = |what: &str| match lines.next() {
            Some(Ok(line)) => Ok(line),
            _ => Err(failed(format!("vouch serve did not report its {what}"))),
        };
        let (url, vkey) = (next_line("address")?, next_line("log key")?);
        let (Some(u), Some(k)) = (
            url.trim().strip_prefix("listening on "),
            vkey.trim().strip_prefix("log key "),
        ) else {
            return Err(failed(format!(
                "vouch serve printed an unexpected banner: {url:?} {vkey:?}"
            )));
        };
        (self.url, self.vkey) = (u.to_owned(), k.to_owned());
        on(Event::Output(format!("listening on {u}\nlog key {k}")));
        Ok(self)
    }

    /// Stops the server child when this process is told to stop.
    ///
    /// SIGINT from a terminal reaches the whole foreground process group, but SIGTERM (a
    /// supervisor, `kill`, a CI timeout) reaches quickstart alone: left to its default
    /// action it would end quickstart and orphan `vouch serve` (issue 12). A thread waits
    /// for either signal and passes SIGTERM on to the child, which drains and exits; the
    /// thread waiting on the child then finishes normally (temporary directory removed
    /// unless kept). A child that has not exited after 10 seconds is killed.
    pub(crate) fn forward_stop_signals(&self) -> Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .context("starting the signal watcher")?;
        // Registered here, before returning, so no signal can slip in unobserved.
        let (mut term, mut int) = rt
            .block_on(async {
                Ok::<_, std::io::Error>((
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::interrupt())?,
                ))
            })
            .context("installing the SIGTERM/SIGINT handlers")?;
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32)
            .context("the server child has no valid process id")?;
        let reaped = Arc::clone(&self.reaped);
        std::thread::Builder::new()
            .name("quickstart-signals".into())
            .spawn(move || {
                rt.block_on(async {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                });
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                std::thread::sleep(std::time::Duration::from_secs(10));
                // Still running after the grace period: force it, unless the child has
                // been reaped (its pid could then belong to another process).
                if !reaped.load(Ordering::Acquire) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            })
            .context("starting the signal watcher")?;
        Ok(())
    }

    /// Waits until the child exits.
    pub(crate) fn wait(&mut self) {
        let _ = self.child.wait();
        self.reaped.store(true, Ordering::Release);
    }

    /// Kills the child and waits for it.
    pub(crate) fn kill(&mut self) {
        if !self.reaped.load(Ordering::Acquire) {
            let _ = self.child.kill();
            self.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
