//! `vouch admin backup` while the server runs under concurrent log appends, and `vouch admin restore` into a fresh place: the restored server serves the backed-up checkpoint, its tiles prove inclusion, `vouch audit transparency` agrees with the lockfile taken before the backup, and fetch still verifies. Refusals: a non-empty target (BACKUP_E011) and a tampered backup file (BACKUP_E010), each writing nothing. Runs on SQLite, and on PostgreSQL metadata (pg_dump/pg_restore into a fresh database).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod install_support;
use install_support::{ok, refused, vouch_in as vouch};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use vouch_testkit::process::ChildGuard;

const REPO: &str = "acme/widget";
const WORKFLOW: &str = ".github/workflows/release.yml";
const PACKAGE: &str = "@acme/widget";

struct Server {
    /// Killed and reaped when the server is dropped.
    _child: ChildGuard,
    url: String,
    addr: String,
    vkey: String,
}

/// `vouch serve --dev --listen LISTEN --data DATA EXTRA...`, once it announced itself.
fn start(data: &Path, listen: &str, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["serve", "--dev", "--listen", listen, "--data"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start vouch serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    let mut vkey = None;
    for line in lines.by_ref() {
        let line = line.expect("server stdout");
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.trim().to_owned());
        }
        if let Some(k) = line.strip_prefix("log key ") {
            vkey = Some(k.trim().to_owned());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let url = url.expect("server announced its address");
    Server {
        _child: ChildGuard(child),
        addr: url.trim_start_matches("http://").to_owned(),
        url,
        vkey: vkey.expect("server announced its log key"),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Registers the binding, publishes two versions, fetches both into vouch.lock and
/// audits transparency once (the lockfile stores the checkpoint it saw).
fn publish_and_lock(work: &Path, server: &Server, data: &Path) {
    let url = server.url.as_str();
    ok(&vouch(
        work,
        &[
            "publish",
            "register",
            "--server",
            url,
            "--token-file",
            s(&data.join("owner.token")),
            "--package",
            PACKAGE,
            "--provider",
            "github",
            "--repo",
            REPO,
            "--workflow",
            WORKFLOW,
            "--json",
        ],
    ));
    for version in ["1.0.0", "1.1.0"] {
        let dir = work.join(format!("p{version}"));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("vouch.toml"),
            format!("[package]\nname = \"{PACKAGE}\"\nversion = \"{version}\"\n"),
        )
        .unwrap();
        std::fs::write(dir.join("src/lib.txt"), format!("widget {version}\n")).unwrap();
        let token = vouch(
            work,
            &[
                "dev",
                "token",
                "--server",
                url,
                "--repository",
                REPO,
                "--workflow",
                WORKFLOW,
                "--ref",
                "refs/heads/main",
            ],
        );
        let token_file = work.join(format!("t{version}"));
        std::fs::write(&token_file, String::from_utf8(token.stdout).unwrap().trim()).unwrap();
        ok(&vouch(
            work,
            &[
                "publish",
                s(&dir),
                "--server",
                url,
                "--identity-token-file",
                s(&token_file),
            ],
        ));
        let spec = format!("{PACKAGE}@{version}");
        ok(&vouch(
            work,
            &["fetch", &spec, "--server", url, "--out", "pkgs", "--json"],
        ));
    }
    let tl = ok(&vouch(work, &["audit", "transparency", "--json"]));
    assert_eq!(tl["ok"], true, "{tl}");
}

/// Appends entries through the internal endpoint until stopped; returns (index, body)
/// of every acknowledged entry.
fn appender(
    url: &str,
    data: &Path,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(u64, String)>> {
    let token = std::fs::read_to_string(data.join("internal.token")).unwrap();
    let endpoint = format!("{url}/log/internal/add-entry");
    std::thread::spawn(move || {
        let acks = Arc::new(Mutex::new(Vec::new()));
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (endpoint, token, stop, acks) = (
                    endpoint.clone(),
                    token.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&acks),
                );
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::new();
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) && i < 5_000 {
                        let body = format!("append-{w}-{i}");
                        i += 1;
                        let r = http
                            .post(&endpoint)
                            .bearer_auth(token.trim())
                            .body(body.clone())
                            .send();
                        if let Ok(r) = r {
                            if r.status().is_success() {
                                let v: serde_json::Value = r.json().unwrap();
                                acks.lock()
                                    .unwrap()
                                    .push((v["index"].as_u64().unwrap(), body));
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let v = acks.lock().unwrap().clone();
        v
    })
}

/// Every file under `dir` (relative paths), for "nothing was written" checks.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(listing(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The whole story against one database kind: `db_args` are passed to serve, backup
/// and restore for the original (`orig`) and the restored (`fresh`) place.
fn story(orig: &[&str], fresh: &[&str], fresh2: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let data = tmp.path().join("a");
    let server = start(&data, "127.0.0.1:0", orig);
    publish_and_lock(&work, &server, &data);
    let lock_before = std::fs::read_to_string(work.join("vouch.lock")).unwrap();

    // Back up while four clients keep appending.
    let stop = Arc::new(AtomicBool::new(false));
    let appends = appender(&server.url, &data, Arc::clone(&stop));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let backup = tmp.path().join("backup");
    let mut args = vec![
        "admin",
        "backup",
        "--dev",
        "--data",
        s(&data),
        "--out",
        s(&backup),
        "--json",
    ];
    args.extend_from_slice(orig);
    let m = ok(&vouch(&work, &args));
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let acks = appends.join().unwrap();
    let size = m["logs"][0]["size"].as_u64().unwrap();
    // The dev log's origin is derived from the server's first public URL.
    let origin = server.url.trim_start_matches("http://");
    assert_eq!(m["logs"][0]["origin"], origin, "{m}");
    let during: Vec<_> = acks.iter().filter(|(i, _)| *i < size).collect();
    let after = acks.iter().filter(|(i, _)| *i >= size).count();
    assert!(
        !during.is_empty() && after > 0,
        "appends did not straddle the backup: {} before, {after} after",
        during.len()
    );
    let addr = server.addr.clone();
    let vkey = server.vkey.clone();
    drop(server);

    // Restore into a fresh place; a second restore into it is refused and writes nothing.
    let restored = tmp.path().join("b");
    let mut args = vec![
        "admin",
        "restore",
        "--dev",
        "--data",
        s(&restored),
        "--from",
        s(&backup),
        "--json",
    ];
    args.extend_from_slice(fresh);
    let r = ok(&vouch(&work, &args));
    assert_eq!(r["logs"], m["logs"]);
    let files = listing(&restored);
    refused(&vouch(&work, &args), "BACKUP_E011");
    assert_eq!(
        listing(&restored),
        files,
        "a refused restore wrote something"
    );
    // A fresh directory but the original (non-empty) database: refused, nothing written.
    if !orig.is_empty() {
        let target = tmp.path().join("d");
        let mut args = vec![
            "admin",
            "restore",
            "--dev",
            "--data",
            s(&target),
            "--from",
            s(&backup),
        ];
        args.extend_from_slice(orig);
        let out = vouch(&work, &args);
        refused(&out, "BACKUP_E011");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("tables"),
            "{out:?}"
        );
        assert!(
            listing(&target).is_empty(),
            "a refused restore wrote something"
        );
    }

    // A tampered backup is refused before anything is written.
    let bad = tmp.path().join("bad-backup");
    copy_dir(&backup, &bad);
    let tile = listing(&bad.join("objects/tile/0"))
        .into_iter()
        .next()
        .expect("a level-0 tile");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&tile, bytes).unwrap();
    let target = tmp.path().join("c");
    let mut args = vec![
        "admin",
        "restore",
        "--dev",
        "--data",
        s(&target),
        "--from",
        s(&bad),
    ];
    args.extend_from_slice(fresh2);
    refused(&vouch(&work, &args), "BACKUP_E010");
    assert!(
        listing(&target).is_empty(),
        "a refused restore wrote something"
    );

    // The restored server takes the old address; clients see the backed-up log.
    let server = start(&restored, &addr, fresh);
    assert_eq!(server.vkey, vkey);
    let cp = ok(&vouch(
        &work,
        &[
            "log",
            "checkpoint",
            "--url",
            &format!("{}/log", server.url),
            "--key",
            &vkey,
            "--json",
        ],
    ));
    assert_eq!(cp["size"].as_u64(), Some(size), "{cp}");
    assert_eq!(cp["root"], m["logs"][0]["root"], "{cp}");
    // The tiles cover it: the last entry acknowledged inside the backup proves inclusion.
    let (index, body) = during.iter().max_by_key(|(i, _)| *i).unwrap();
    let entry = tmp.path().join("entry");
    std::fs::write(&entry, body).unwrap();
    ok(&vouch(
        &work,
        &[
            "log",
            "inclusion",
            &index.to_string(),
            "--entry",
            s(&entry),
            "--url",
            &format!("{}/log", server.url),
            "--key",
            &vkey,
            "--json",
        ],
    ));
    // The lockfile taken before the backup agrees with the restored log.
    assert_eq!(
        std::fs::read_to_string(work.join("vouch.lock")).unwrap(),
        lock_before
    );
    let tl = ok(&vouch(&work, &["audit", "transparency", "--json"]));
    assert_eq!(tl["ok"], true, "{tl}");
    // Blobs and bundles came back: fetch verifies inline again.
    let spec = format!("{PACKAGE}@1.0.0");
    let f = ok(&vouch(
        &work,
        &[
            "fetch",
            &spec,
            "--server",
            &server.url,
            "--out",
            "pkgs2",
            "--json",
        ],
    ));
    assert_eq!(f["verified"], true, "{f}");
    // The restored log keeps growing from the backed-up tree.
    let token = std::fs::read_to_string(restored.join("internal.token")).unwrap();
    let r: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{}/log/internal/add-entry", server.url))
        .bearer_auth(token.trim())
        .body("after restore")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["index"].as_u64(), Some(size), "{r}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn backup_while_appending_then_restore_sqlite() {
    story(&[], &[], &[]);
}

/// A fresh `vouch_test_<random>` PostgreSQL database (created with `psql`), dropped on drop.
struct PgDb {
    name: String,
    url: String,
}

fn pg_admin() -> String {
    std::env::var("VOUCH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([&pg_admin(), "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("psql (PostgreSQL client tools)");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgDb {
    fn create() -> PgDb {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("vouch_test_{}_{nanos}", std::process::id());
        psql(&format!("CREATE DATABASE {name}"));
        let admin = pg_admin();
        let (base, _) = admin.rsplit_once('/').unwrap();
        PgDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

#[test]
fn backup_while_appending_then_restore_postgres() {
    let (a, b, c) = (PgDb::create(), PgDb::create(), PgDb::create());
    story(
        &["--database", &a.url],
        &["--database", &b.url],
        &["--database", &c.url],
    );
}
