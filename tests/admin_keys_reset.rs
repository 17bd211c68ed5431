//! `vouch admin keys reset` through the binary, against a stopped `vouch serve --dev` data directory: confirmation required (ADMIN_E007), the new key current and the old one still published after a restart, and what a lost TOKEN_ENC_KEY still stops (SIGSTORE_E001).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::process::{Command, Output};

mod serve_support;
use serve_support::{start, Server};

fn vouch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(args)
        .env_remove("VOUCH_ADMIN_TOKEN")
        .output()
        .expect("run vouch")
}

#[track_caller]
fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "expected success, got {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn keys(server: &Server) -> serde_json::Value {
    let token = server.data.join("admin.token");
    json(&vouch(&[
        "admin",
        "keys",
        "list",
        "--server",
        &server.url,
        "--token-file",
        token.to_str().unwrap(),
        "--json",
    ]))
}

#[test]
fn reset_starts_a_new_key_and_keeps_the_old_one_published() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();

    let server = start(&data, &[]);
    let before = keys(&server);
    let first = before["current_kid"].as_str().unwrap().to_owned();
    drop(server);

    // Without --yes nothing happens.
    let out = vouch(&["admin", "keys", "reset", "--data", d, "--dev"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("error[ADMIN_E007]"), "{err}");

    let reset = json(&vouch(&[
        "admin", "keys", "reset", "--data", d, "--dev", "--yes", "--json",
    ]));
    assert_eq!(reset["old_kid"], first.as_str());
    let second = reset["new_kid"].as_str().unwrap().to_owned();
    assert_ne!(second, first);

    // After a restart the new key signs and the old one is still in the key set.
    let server = start(&data, &[]);
    let after = keys(&server);
    assert_eq!(after["current_kid"], second.as_str());
    let listed: Vec<(&str, bool)> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["current"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [(second.as_str(), true), (first.as_str(), false)]);
    assert!(after["keys"][1]["retired_at"].is_i64());
    drop(server);

    // TOKEN_ENC_KEY lost: reset seals a new registry key under a new TOKEN_ENC_KEY, but
    // the CA, TSA and CT keys stay sealed under the lost one, so the server refuses to
    // start rather than run without them.
    std::fs::remove_file(data.join("token_enc.key")).unwrap();
    let third = json(&vouch(&[
        "admin", "keys", "reset", "--data", d, "--dev", "--yes", "--json",
    ]));
    assert_eq!(third["old_kid"], second.as_str());
    assert!(
        data.join("token_enc.key").exists(),
        "a new TOKEN_ENC_KEY was made"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data", d])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("error[SIGSTORE_E001]"), "{err}");
    assert!(err.contains("sigstore/ca.sealed"), "{err}");
    assert_eq!(
        err.matches("cannot be opened with this TOKEN_ENC_KEY")
            .count(),
        1,
        "the cause is printed once: {err}"
    );
}

/// Defect (issue 12): `cd W && vouch serve --dev --data srv` put the keys in `srv/` but
/// `meta.db`, `lock.db` and `tiles/` in `srv/srv/`, and `admin keys reset --data srv`
/// looked for `srv/srv/meta.db`. The data directory is made absolute once, at parse time.
#[test]
fn relative_data_dir_does_not_double_paths() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let server = serve_support::start_in(Some(cwd), std::path::Path::new("srv"), &[]);
    drop(server);
    for name in ["meta.db", "lock.db", "tiles", "token_enc.key"] {
        assert!(cwd.join("srv").join(name).exists(), "srv/{name} is missing");
    }
    assert!(!cwd.join("srv/srv").exists(), "serve doubled the data dir");

    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .current_dir(cwd)
        .args([
            "admin", "keys", "reset", "--data", "srv", "--dev", "--yes", "--json",
        ])
        .env_remove("VOUCH_ADMIN_TOKEN")
        .output()
        .expect("run vouch");
    let reset = json(&out);
    assert!(reset["new_kid"].is_string(), "{reset}");
    assert!(!cwd.join("srv/srv").exists(), "reset doubled the data dir");
}

/// Defect (issue 12): REG_E001 said "error sending request for url ..." and hid the
/// cause. The source chain is on the line now ("Connection refused").
#[test]
fn reg_e001_shows_the_connection_refused_cause() {
    // A port nothing listens on: bind, read it, close.
    let port = vouch_testkit::free_port();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin.token");
    std::fs::write(&token, "vouch_admin_x\n").unwrap();
    let out = vouch(&[
        "admin",
        "keys",
        "list",
        "--server",
        &format!("http://127.0.0.1:{port}"),
        "--token-file",
        token.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error[REG_E001]: "), "{err}");
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
