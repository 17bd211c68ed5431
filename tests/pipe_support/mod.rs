//! Runs a `vouch` command whose stdout reader has already gone, as `vouch ... | head -1`
//! does, and asserts the quiet exit the README promises (exit 0, nothing on stderr, no
//! panic). Shared by the test binaries that cover each printing command.

use std::path::Path;
use std::process::{Command, Stdio};

/// How often each command runs. The reader is closed before the child has even started,
/// so every run's first write meets a closed pipe; the repetition guards against a
/// command that only sometimes reaches its printing path first.
const RUNS: usize = 8;

/// Runs `vouch args` (in `cwd` if given) `RUNS` times with stdout closed by the reader
/// and asserts each run exits 0 with an empty stderr.
pub fn assert_quiet_on_closed_stdout(cwd: Option<&Path>, args: &[&str]) {
    for run in 0..RUNS {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().expect("vouch starts");
        // Close the only read end: the child's writes now fail with EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("vouch finishes");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {run} of `vouch {}` with a closed stdout: {stderr}",
            args.join(" ")
        );
        assert!(
            stderr.is_empty(),
            "run {run} of `vouch {}` printed on stderr: {stderr}",
            args.join(" ")
        );
    }
}
