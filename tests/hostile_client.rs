//! Issue 13 (hold against hostile clients), the client side: the `vouch` binary against a hostile loopback server that streams endless answers (item 5), sends escape sequences in its `detail` (item 7), and refuses with `--json` given (item 13).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod install_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A thread-per-connection HTTP/1.1 server on 127.0.0.1 answering by request path.
/// `sent` counts the body bytes it managed to write before the client hung up.
struct Hostile {
    base: String,
    sent: Arc<AtomicU64>,
}

const ENDLESS_CHUNK: usize = 64 << 10;
/// Give up streaming after this much: far above every cap, so a client that reads it all
/// fails the byte-count assertion rather than hanging the test.
const GIVE_UP_BYTES: u64 = 512 << 20;

fn start() -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || answer(conn, &counter));
        }
    });
    Hostile { base, sent }
}

fn request_line(conn: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    head.lines().next().unwrap_or("").to_owned()
}

fn answer(mut conn: TcpStream, sent: &AtomicU64) {
    let line = request_line(&mut conn);
    let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
    // Scope names mark the scenario (`@endless/...`; `@` may arrive as `%40`).
    if path.contains("endless-error") {
        endless(&mut conn, "500 Internal Server Error", sent);
    } else if path.contains("endless") || path.contains("trust-config") {
        endless(&mut conn, "200 OK", sent);
    } else if path.contains("escapes") {
        let body = serde_json::json!({
            "status": 404,
            "code": "SERVE_E002",
            "detail": "\u{1b}[2J\u{1b}[H\nverified: @evil/pkg@1.0.0 \u{202e}ok\u{202c}",
        })
        .to_string();
        let _ = write!(
            conn,
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    } else if path.starts_with("/api/v1/publishers") {
        let body = r#"{"status":403,"code":"BIND_E005","detail":"scope @dev is claimed"}"#;
        let _ = write!(
            conn,
            "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    } else {
        let _ = write!(
            conn,
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }
}

/// A chunked body that never ends: `[` then spaces, valid JSON so far, forever.
fn endless(conn: &mut TcpStream, status: &str, sent: &AtomicU64) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut chunk = vec![b' '; ENDLESS_CHUNK];
    chunk[0] = b'[';
    let framed = [
        format!("{:x}\r\n", chunk.len()).into_bytes(),
        chunk,
        b"\r\n".to_vec(),
    ]
    .concat();
    while sent.load(Ordering::Relaxed) < GIVE_UP_BYTES {
        if conn.write_all(&framed).is_err() {
            return;
        }
        sent.fetch_add(ENDLESS_CHUNK as u64, Ordering::Relaxed);
    }
}

fn vouch(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = install_support::clean_command();
    cmd.args(args)
        .current_dir(dir.path())
        .output()
        .expect("run vouch")
}

/// The one JSON object a failing `--json` command prints on stdout.
#[track_caller]
fn json_error(out: &Output, code: &str) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {stdout:?}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_ne!(out.status.code(), Some(0));
    v
}

/// Issue 13 item 5: an endless index entry, error body and trust configuration. The
/// client stops at each answer's cap with REG_E004; memory stays bounded because the
/// client never received more than the cap plus socket buffers.
#[test]
fn endless_answers_stop_at_their_cap() {
    let h = start();
    let spec_url = &h.base;
    for (args, what) in [
        (
            vec![
                "fetch",
                "@endless/pkg@1.0.0",
                "--server",
                spec_url,
                "--json",
            ],
            "index entry",
        ),
        (
            vec![
                "fetch",
                "@endless-error/pkg@1.0.0",
                "--server",
                spec_url,
                "--json",
            ],
            "error body",
        ),
        (vec!["trust-config", "--server", spec_url], "trust config"),
    ] {
        h.sent.store(0, Ordering::Relaxed);
        let started = Instant::now();
        let out = vouch(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("error[REG_E004]"), "{what}: {err}");
        if args.contains(&"--json") {
            json_error(&out, "REG_E004");
        }
        let sent = h.sent.load(Ordering::Relaxed);
        assert!(
            sent < 32 << 20,
            "{what}: the client took {sent} bytes before stopping"
        );
        assert!(started.elapsed() < Duration::from_secs(30), "{what}");
    }
}

/// Issue 13 item 7: a server's `detail` that clears the screen and starts a forged
/// "verified" line is printed escaped, on stderr and in `--json`.
#[test]
fn hostile_detail_is_printed_escaped() {
    let h = start();
    let out = vouch(&["fetch", "@escapes/pkg@1.0.0", "--server", &h.base]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("error[SERVE_E002]"), "{err}");
    assert!(!err.contains('\u{1b}'), "raw ESC printed: {err:?}");
    assert!(
        !err.contains('\u{202e}'),
        "raw bidi override printed: {err:?}"
    );
    assert!(err.contains("\\u{1b}[2J"), "{err}");
    assert!(
        !err.lines().any(|l| l.starts_with("verified")),
        "a forged line: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // --json: the object carries the text, escaped by the JSON encoder.
    let out = vouch(&["fetch", "@escapes/pkg@1.0.0", "--server", &h.base, "--json"]);
    assert!(!out.stdout.contains(&0x1b), "raw ESC on stdout");
    let v = json_error(&out, "SERVE_E002");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\u{1b}[2J"));
}

/// Issue 13 item 13: `publish --json`, `publish register --json`, `fetch --json` (and
/// every other command given `--json`) print `{"error": {"code", "message"}}` on stdout
/// when they fail.
#[test]
fn failing_json_commands_print_one_error_object() {
    let h = start();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("owner.token");
    std::fs::write(&token, "vouch_x\n").unwrap();
    let token = token.to_str().unwrap();
    // A package directory, so publish gets as far as asking for a CI identity.
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(
        project.join("vouch.toml"),
        "[package]\nname = \"@dev/lib3\"\nversion = \"1.0.0\"\n",
    )
    .unwrap();
    std::fs::write(project.join("src/lib.txt"), "x").unwrap();
    let project = project.to_str().unwrap();
    let missing_lock = dir.path().join("no.lock");
    let missing_lock = missing_lock.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["fetch", "@nope/pkg@1.0.0", "--server", &h.base, "--json"],
            "REG_E003",
        ),
        (
            vec!["fetch", "not-a-spec", "--server", &h.base, "--json"],
            "FETCH_E004",
        ),
        (
            vec![
                "publish",
                "register",
                "--server",
                &h.base,
                "--token-file",
                token,
                "--package",
                "@dev/lib3",
                "--provider",
                "github",
                "--repo",
                "o/r",
                "--workflow",
                "r.yml",
                "--json",
            ],
            "BIND_E005",
        ),
        (
            vec!["publish", project, "--server", &h.base, "--json"],
            "PUB_E002",
        ),
        (
            vec!["audit", "signatures", "--lockfile", missing_lock, "--json"],
            "LOCK_E001",
        ),
        (
            vec!["lock", "--check", "--lockfile", missing_lock, "--json"],
            "LOCK_E001",
        ),
    ];
    for (args, code) in cases {
        let out = vouch(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stdout is not one JSON object ({e}): {stdout:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let got = v["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{args:?}: {v}"));
        assert_eq!(got, code, "{args:?}: {v}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("error[{got}]")), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(0), "{args:?}");
    }
}
