//! `vouch serve` as a real process: --dev bootstraps and serves on an ephemeral port, production mode creates nothing, SIGTERM drains and exits 0.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

/// Starts `vouch serve` and returns the child and its `host:port`.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = vouch()
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, addr)
}

/// One HTTP/1.1 request with `Connection: close`; returns status, headers, body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(resp[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        head.to_ascii_lowercase(),
        resp[split + 4..].to_vec(),
    )
}

fn token(data: &Path) -> String {
    std::fs::read_to_string(data.join("internal.token"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn dev_server_serves_the_log_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let (mut child, addr) = start(&["--dev", "--listen", "127.0.0.1:0", "--data", data_s]);
    for f in [
        "log.key",
        "witness.key",
        "internal.token",
        "lock.db",
        "tiles",
    ] {
        assert!(data.join(f).exists(), "--dev did not create {f}");
    }
    let (status, head, body) = http(&addr, "GET", "/log/checkpoint", &[], b"");
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: no-cache"));
    // The origin is the public URL's host:port (what Sigstore clients match the
    // checkpoint signer against); a restart on another port keeps it.
    let origin = addr.clone();
    assert!(body.starts_with(format!("{origin}\n0\n").as_bytes()));
    let auth = format!("Bearer {}", token(&data));
    for i in 0..3 {
        let (status, _, body) = http(
            &addr,
            "POST",
            "/log/internal/add-entry",
            &[("Authorization", &auth)],
            b"hello",
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["index"], i);
    }
    let (status, head, body) = http(&addr, "GET", "/log/tile/entries/000.p/3", &[], b"");
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: public, max-age=60"));
    assert_eq!(body.len(), 3 * (2 + 5));
    let (status, _, body) = http(&addr, "GET", "/log/tile/0/000.p/4", &[], b"");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = http(&addr, "GET", "/log/tile/zz", &[], b"");
    assert_eq!(status, 400);

    // SIGTERM: graceful shutdown, exit status 0.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());

    // Restart on the same data: the log is still there.
    let (mut child, addr) = start(&["--dev", "--listen", "127.0.0.1:0", "--data", data_s]);
    let (_, _, body) = http(&addr, "GET", "/log/checkpoint", &[], b"");
    assert!(body.starts_with(format!("{origin}\n3\n").as_bytes()));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn production_mode_requires_a_config_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = vouch()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[SERVE_E101]"));
    assert!(!data.exists());

    let cfg = dir.path().join("vouch.toml");
    std::fs::write(
        &cfg,
        "[log]\norigin = \"example.org/log\"\n[registry]\npublic_url = \"https://example.org/log\"\n[storage.objects]\nkind = \"local\"\npath = \"tiles\"\n[storage.lock]\nkind = \"sqlite\"\npath = \"lock.db\"\n[witness]\nenabled = false\n",
    )
    .unwrap();
    let out = vouch()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .env_remove("VOUCH_LOG_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[SERVE_E102]") && err.contains("VOUCH_LOG_KEY"),
        "{err}"
    );

    let out = vouch()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .env("VOUCH_LOG_KEY", "PRIVATE+KEY+example.org/log+0a0b0c0d+AXg=")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[SERVE_E102]"));
    // A valid key, but the configured directory and database do not exist: refused,
    // and still nothing is created.
    let key =
        vouch_tlog::Signer::from_seed("example.org/log", vouch_tlog::KeyType::Ed25519, &[3; 32])
            .unwrap()
            .to_key_string();
    let out = vouch()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .env("VOUCH_LOG_KEY", &key)
        .env("TOKEN_ENC_KEY", "abcd")
        .output()
        .unwrap();
    // TOKEN_ENC_KEY of the wrong length: refused with the recipe for a good one.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[SERVE_E107]") && err.contains("vouch keygen token-enc-key"),
        "{err}"
    );
    let out = vouch()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .env("VOUCH_LOG_KEY", &key)
        .env("TOKEN_ENC_KEY", "11".repeat(32))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error[SERVE_E103]"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!data.exists(), "production mode created the data directory");
}

#[test]
fn serve_help_hides_the_test_only_flags() {
    let out = vouch().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--dev") && help.contains("--listen") && help.contains("--config"));
    assert!(!help.contains("selftest"));
}

/// Defect (issue 12): a second `vouch serve` on the same lock database lost the
/// checkpoint swap once, then answered 503 forever while looking alive and serving a
/// stale checkpoint. It is refused at start now, with a code and the first one's pid.
#[test]
fn second_serve_on_same_lock_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (mut first, addr) = start(&["--dev", "--listen", "127.0.0.1:0", "--data", d]);

    let mut second = vouch()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data", d])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            let _ = first.kill();
            panic!("the second server on the same lock database kept running");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.starts_with("error[SERVE_E111]: "), "{err}");
    assert!(
        err.contains(&format!("pid {}", first.id())),
        "names the holder: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // The first one is still the sequencer and serves its checkpoint.
    let (status, _, _) = http(&addr, "GET", "/log/checkpoint", &[], b"");
    assert_eq!(status, 200);
    let _ = first.kill();
    let _ = first.wait();
}

/// Defect (issue 12): SERVE_E103 (no lock table) and SERVE_E104 (no checkpoint) told a
/// production operator to "run with --dev". They name `vouch admin init` now.
#[test]
fn missing_lock_table_or_checkpoint_advises_admin_init_not_dev() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("tiles")).unwrap();
    let cfg = dir.path().join("vouch.toml");
    std::fs::write(
        &cfg,
        "[log]\norigin = \"example.org/log\"\n[registry]\npublic_url = \"https://example.org/log\"\n[storage.objects]\nkind = \"local\"\npath = \"tiles\"\n[storage.lock]\nkind = \"sqlite\"\npath = \"lock.db\"\n[witness]\nenabled = false\n",
    )
    .unwrap();
    let key =
        vouch_tlog::Signer::from_seed("example.org/log", vouch_tlog::KeyType::Ed25519, &[3; 32])
            .unwrap()
            .to_key_string();
    let serve = || {
        vouch()
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .arg("--config")
            .arg(&cfg)
            .env("VOUCH_LOG_KEY", &key)
            .env("TOKEN_ENC_KEY", "11".repeat(32))
            .output()
            .unwrap()
    };
    // An empty database file: no lock table.
    std::fs::File::create(data.join("lock.db")).unwrap();
    let out = serve();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error[SERVE_E103]: "), "{err}");
    assert!(err.contains("vouch admin init"), "{err}");
    assert!(!err.contains("--dev"), "{err}");

    // The table exists but holds no checkpoint for the log (metadata migrated).
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use vouch_store::meta::MetaStore;
        vouch_store::SqliteLock::open(&data.join("lock.db"), true)
            .await
            .unwrap();
        let meta = vouch_store::meta::SqliteMeta::open(&data.join("meta.db"), true)
            .await
            .unwrap();
        meta.migrate().await.unwrap();
    });
    let out = serve();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error[SERVE_E104]: "), "{err}");
    assert!(err.contains("vouch admin init"), "{err}");
    assert!(!err.contains("--dev"), "{err}");
}

/// Issue 12 (sigstore-js): the log origin is derived from the public URL; a config whose
/// `[log] origin` disagrees with it is refused with SERVE_E110 naming both, before
/// anything is opened.
#[test]
fn config_origin_disagreeing_with_public_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vouch.toml");
    std::fs::write(
        &cfg,
        "[log]\norigin = \"example.org/log\"\n[registry]\npublic_url = \"https://registry.example.org\"\n[storage.objects]\nkind = \"local\"\npath = \"tiles\"\n[storage.lock]\nkind = \"sqlite\"\npath = \"lock.db\"\n",
    )
    .unwrap();
    let out = vouch()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error[SERVE_E110]: "), "{err}");
    assert!(
        err.contains("\"example.org/log\"") && err.contains("\"registry.example.org\""),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
