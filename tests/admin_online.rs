//! The online admin commands a newcomer tripped on (issue 15, item 7), through the binary
//! against `vouch serve --dev`: `keys list` prints RFC 3339 times, `settings hash-budget`
//! takes `500MiB`/`2GiB`/`1.5GB` as the web form does, and `backfill` and `hash-budget`
//! print readable text, JSON only with `--json`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::process::{Command, Output};

mod serve_support;
use serve_support::{start, Server};

fn admin(server: &Server, args: &[&str]) -> Output {
    let token = server.data.join("admin.token");
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .arg("admin")
        .args(args)
        .args(["--server", &server.url, "--token-file"])
        .arg(token)
        .env_remove("VOUCH_ADMIN_TOKEN")
        .output()
        .expect("run vouch")
}

#[track_caller]
fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "expected success, got {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[track_caller]
fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).expect("JSON on stdout")
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn keys_list_prints_rfc3339_times() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &[]);
    let raw = json(&admin(&server, &["keys", "list", "--json"]));
    let kid = raw["current_kid"].as_str().unwrap().to_owned();
    // --json keeps the API's Unix seconds.
    let created = raw["keys"][0]["created_at"].as_i64().unwrap();
    let text = stdout(&admin(&server, &["keys", "list"]));
    let line = text.lines().next().unwrap();
    let words: Vec<&str> = line.split(' ').collect();
    assert_eq!(&words[..3], [kid.as_str(), "current", "created"], "{text}");
    assert!(is_rfc3339_utc(words[3]), "{text}");
    assert!(
        !text.contains(&created.to_string()),
        "no Unix seconds: {text}"
    );
}

#[test]
fn hash_budget_takes_sizes_and_prints_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &[]);
    let set = |size: &str| admin(&server, &["settings", "hash-budget", size]);

    let text = stdout(&set("500MiB"));
    assert_eq!(text, "hash budget set to 500 MiB (524288000 bytes)\n");
    for (size, bytes) in [
        ("2GiB", 2u64 << 30),
        ("1.5GB", 1_500_000_000),
        ("1048576", 1 << 20),
    ] {
        let v = json(&admin(
            &server,
            &["settings", "hash-budget", size, "--json"],
        ));
        assert_eq!(v["hash_budget_bytes"], bytes, "{size}");
    }
    let listed = stdout(&admin(&server, &["keys", "list"]));
    assert!(listed.contains("hash budget: 1048576 bytes"), "{listed}");

    // An unknown unit is a usage error (exit 2) naming the accepted forms.
    let out = set("5TiB");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("500MiB"), "{err}");
    // Over 16 GiB: the registry's range check keeps its code.
    let out = set("17GiB");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error[ADMIN_E004]"), "{err}");
}

#[test]
fn backfill_prints_text_and_json_only_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &[]);
    let text = stdout(&admin(&server, &["backfill"]));
    assert!(
        text.starts_with("backfill started") || text.starts_with("a backfill is already running"),
        "{text}"
    );
    assert!(!text.contains('{'), "no raw JSON: {text}");
    let v = json(&admin(&server, &["backfill", "--json"]));
    assert_eq!(v["running"], true, "{v}");
    assert!(v["started"].is_boolean(), "{v}");
}
