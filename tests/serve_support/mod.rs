//! Shared by the integration tests that run `vouch serve --dev` as a child process: start it on an ephemeral loopback port, read the address it announces, and kill it on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vouch_testkit::process::ChildGuard;

pub struct Server {
    /// Killed and reaped when the server is dropped.
    _child: ChildGuard,
    pub url: String,
    /// The server's data directory (not every test binary that shares this module reads it).
    #[allow(dead_code)]
    pub data: PathBuf,
}

/// Starts `vouch serve --dev --listen 127.0.0.1:0 --data DATA EXTRA...` and returns once
/// it has printed its log key (the last line of its start-up banner).
pub fn start(data: &Path, extra: &[&str]) -> Server {
    start_in(None, data, extra)
}

/// [`start`] with the server's working directory set to `cwd` (for a relative `data`).
pub fn start_in(cwd: Option<&Path>, data: &Path, extra: &[&str]) -> Server {
    start_bin(Path::new(env!("CARGO_BIN_EXE_vouch")), cwd, data, extra)
}

/// The binary an ignored bench runs as server and load generator: `VOUCH_BENCH_BIN`
/// (e.g. `target/release/vouch`, so a bench measures the release build while the
/// harness stays a test build), else this build's `vouch`.
#[allow(dead_code)]
pub fn bench_bin() -> PathBuf {
    std::env::var_os("VOUCH_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vouch")))
}

/// [`start_in`] with another `vouch` binary (see [`bench_bin`]).
pub fn start_bin(bin: &Path, cwd: Option<&Path>, data: &Path, extra: &[&str]) -> Server {
    let mut cmd = Command::new(bin);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start vouch serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.expect("server stdout");
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.trim().to_owned());
        }
        if line.starts_with("log key ") {
            break;
        }
    }
    // Keep draining so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        _child: ChildGuard(child),
        url: url.expect("server announced its address"),
        data: data.to_owned(),
    }
}
