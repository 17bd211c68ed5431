//! `vouch serve --log-format`: `json` writes one parseable JSON object per line on stderr; `text` (the default) writes no ANSI escape codes when stderr is a pipe.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// Starts `vouch -v serve --dev` with `extra`, reads stderr until the `serving` event,
/// kills the server and returns every stderr line read.
fn serve_stderr(extra: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["-v", "serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .args(extra)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vouch serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        let done = line.contains("serving");
        lines.push(std::mem::take(&mut line));
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    lines.extend(rest.lines().map(str::to_owned));
    assert!(
        lines.iter().any(|l| l.contains("serving")),
        "the server never logged `serving`: {lines:?}"
    );
    lines
}

#[test]
fn json_log_lines_parse_and_text_has_no_ansi_when_piped() {
    let json = serve_stderr(&["--log-format", "json"]);
    let serving = json
        .iter()
        .find(|l| l.contains("serving"))
        .expect("serving line");
    let v: serde_json::Value = serde_json::from_str(serving.trim()).expect("a JSON object");
    assert_eq!(v["level"], "INFO", "{v}");
    assert_eq!(v["message"], "serving", "{v}");
    assert!(v["timestamp"].is_string(), "{v}");
    assert!(v["addr"].as_str().unwrap().starts_with("127.0.0.1:"), "{v}");
    for l in json.iter().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(l.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
    }

    // Text (the default) on a pipe: no ESC byte anywhere.
    let text = serve_stderr(&[]);
    for l in &text {
        assert!(
            !l.contains('\u{1b}'),
            "ANSI escape in piped text log: {l:?}"
        );
    }
    assert!(text.iter().any(|l| l.contains("INFO")), "{text:?}");
}
