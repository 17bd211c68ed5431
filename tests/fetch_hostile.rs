//! `vouch fetch` against a hostile registry: a small proxy in front of a real
//! `vouch serve --dev` rewrites its answers (an index entry naming another identity,
//! repository or workflow, another package's or version's entry, a log index that is not
//! the bundle's, a corrupted archive, a bundle whose signature does not verify). Each is
//! refused with its own code and exit 1, and the lockfile is left byte for byte as it was.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::Value;

mod serve_support;
use serve_support::start;

const REPO: &str = "acme/widget";
const WORKFLOW: &str = ".github/workflows/release.yml";
const PACKAGE: &str = "@acme/widget";

/// How the proxy lies. `Entry` rewrites the index entry of the version asked for,
/// `Blob` and `Bundle` the bytes of those downloads.
#[derive(Clone)]
enum Lie {
    None,
    Entry(Arc<dyn Fn(&mut Value) + Send + Sync>),
    /// Serve this (upstream) path's answer instead of the entry asked for.
    EntryFrom(String),
    Blob,
    Bundle(Arc<dyn Fn(&mut Value) + Send + Sync>),
    /// Serve this (upstream) path's answer instead of the bundle asked for.
    BundleFrom(String),
}

/// The hostile registry: forwards every GET to `upstream` and lies as told.
struct Proxy {
    url: String,
    lie: Arc<Mutex<Lie>>,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let lie = Arc::new(Mutex::new(Lie::None));
        let (up, me, l) = (upstream.to_owned(), url.clone(), Arc::clone(&lie));
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (http, up, me, l) = (http.clone(), up.clone(), me.clone(), Arc::clone(&l));
                std::thread::spawn(move || serve(conn, &http, &up, &me, &l));
            }
        });
        Proxy { url, lie }
    }

    fn lie(&self, lie: Lie) {
        *self.lie.lock().unwrap() = lie;
    }
}

/// One request, `Connection: close`.
fn serve(
    mut conn: TcpStream,
    http: &reqwest::blocking::Client,
    up: &str,
    me: &str,
    lie: &Mutex<Lie>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = request.split_whitespace();
    let (Some("GET"), Some(path)) = (parts.next(), parts.next()) else {
        let _ = conn.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    };
    let lie = lie.lock().unwrap().clone();
    let is_entry = path.starts_with("/api/v1/packages/") && path.matches('/').count() == 6;
    let is_bundle = path.starts_with("/blobs/") && path.ends_with(".sigstore");
    let fetched = match (&lie, is_entry, is_bundle) {
        (Lie::EntryFrom(other), true, _) | (Lie::BundleFrom(other), _, true) => other.clone(),
        _ => path.to_owned(),
    };
    let resp = http.get(format!("{up}{fetched}")).send().unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut body = resp.bytes().unwrap().to_vec();
    if is_entry && status == 200 {
        let mut entry: Value = serde_json::from_slice(&body).unwrap();
        // Entries name absolute download URLs on the upstream: point them at the proxy.
        for key in ["blob_url", "bundle_url"] {
            let url = entry[key].as_str().unwrap().replace(up, me);
            entry[key] = Value::String(url);
        }
        if let Lie::Entry(f) = &lie {
            f(&mut entry);
        }
        body = serde_json::to_vec(&entry).unwrap();
    } else if path.starts_with("/blobs/") && status == 200 {
        match &lie {
            Lie::Blob if !path.ends_with(".sigstore") => {
                let last = body.len() - 1;
                body[last] ^= 0x01;
            }
            Lie::Bundle(f) if path.ends_with(".sigstore") => {
                let mut bundle: Value = serde_json::from_slice(&body).unwrap();
                f(&mut bundle);
                body = serde_json::to_vec(&bundle).unwrap();
            }
            _ => {}
        }
    }
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
    let _ = conn.flush();
    let mut rest = Vec::new();
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let _ = reader.read_to_end(&mut rest);
}

fn vouch(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    for var in ["VOUCH_SERVER", "VOUCH_TOKEN", "VOUCH_IDENTITY_TOKEN"] {
        cmd.env_remove(var);
    }
    cmd.args(args).current_dir(cwd).output().expect("run vouch")
}

#[track_caller]
fn ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "expected success, got {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn project(dir: &Path, version: &str) -> String {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("vouch.toml"),
        format!("[package]\nname = \"{PACKAGE}\"\nversion = \"{version}\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.txt"), format!("widget {version}\n")).unwrap();
    dir.to_str().unwrap().to_owned()
}

fn publish(work: &Path, url: &str, version: &str) {
    let out = vouch(
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
    let token = work.join(format!("token-{version}"));
    std::fs::write(&token, String::from_utf8(ok_raw(&out)).unwrap().trim()).unwrap();
    let dir = project(&work.join(format!("p-{version}")), version);
    ok(&vouch(
        work,
        &[
            "publish",
            &dir,
            "--server",
            url,
            "--identity-token-file",
            token.to_str().unwrap(),
            "--json",
        ],
    ));
}

fn ok_raw(out: &Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

#[test]
fn a_hostile_registry_is_refused_with_each_code_and_the_lockfile_is_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let server = start(&work.join("server"), &[]);
    let url = server.url.as_str();
    let owner = server.data.join("owner.token");
    ok(&vouch(
        work,
        &[
            "publish",
            "register",
            "--server",
            url,
            "--token-file",
            owner.to_str().unwrap(),
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
    publish(work, url, "1.0.0");
    publish(work, url, "1.0.1");

    let other_bundle = reqwest::blocking::get(format!("{url}/api/v1/packages/{PACKAGE}/1.0.1"))
        .unwrap()
        .json::<Value>()
        .unwrap()["bundle_url"]
        .as_str()
        .unwrap()
        .strip_prefix(url)
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(url);
    let fetch = |version: &str| {
        let spec = format!("{PACKAGE}@{version}");
        vouch(work, &["fetch", &spec, "--server", &proxy.url])
    };
    // An honest answer through the proxy first: the lockfile exists and names the proxy.
    ok(&fetch("1.0.1"));
    let lockfile = work.join("vouch.lock");
    let before = std::fs::read(&lockfile).unwrap();

    let entry = |f: fn(&mut Value)| Lie::Entry(Arc::new(f));
    let other_identity =
        format!("https://github.com/{REPO}/.github/workflows/evil.yml@refs/heads/main");
    let cases: Vec<(&str, Lie, &str, &str)> = vec![
        (
            "an entry naming another signer identity",
            Lie::Entry(Arc::new(move |e: &mut Value| {
                e["publisher"]["identity"] = Value::String(other_identity.clone())
            })),
            "VERIFY_E024",
            "identity mismatch",
        ),
        (
            "an entry naming another repository",
            entry(|e| e["publisher"]["repository"] = "evil/widget".into()),
            "FETCH_E003",
            "repository claim: expected evil/widget",
        ),
        (
            "an entry naming another workflow",
            entry(|e| e["publisher"]["workflow"] = ".github/workflows/evil.yml".into()),
            "FETCH_E003",
            "workflow",
        ),
        (
            "another version's entry",
            Lie::EntryFrom(format!("/api/v1/packages/{PACKAGE}/1.0.1")),
            "FETCH_E005",
            "the index answered",
        ),
        (
            "an entry naming another package",
            entry(|e| e["name"] = "@acme/other".into()),
            "FETCH_E005",
            "the index answered",
        ),
        (
            "a log index that is not the bundle's",
            entry(|e| e["log_index"] = (e["log_index"].as_u64().unwrap() + 1).into()),
            "FETCH_E005",
            "log index",
        ),
        (
            "a corrupted archive",
            Lie::Blob,
            "FETCH_E001",
            "the index records",
        ),
        (
            "a bundle whose signature does not verify",
            Lie::Bundle(Arc::new(|b: &mut Value| {
                let sig = &mut b["dsseEnvelope"]["signatures"][0]["sig"];
                let b64 = base64::engine::general_purpose::STANDARD;
                let mut raw = b64.decode(sig.as_str().unwrap()).unwrap();
                raw[12] ^= 0x01;
                *sig = b64.encode(raw).into();
            })),
            // The TSA's timestamp covers the signature bytes, and is checked first.
            "VERIFY_E022",
            "Timestamp message hash mismatch",
        ),
        (
            "another version's (valid) bundle",
            Lie::BundleFrom(other_bundle),
            "VERIFY_E011",
            "artifact mismatch",
        ),
    ];
    for (what, lie, code, reason) in cases {
        proxy.lie(lie);
        let out = fetch("1.0.0");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains(&format!("error[{code}]")),
            "{what}: expected {code}: {err}"
        );
        assert!(err.contains(reason), "{what}: expected {reason:?}: {err}");
        assert_eq!(
            std::fs::read(&lockfile).unwrap(),
            before,
            "{what}: the lockfile changed"
        );
    }

    // The same fetch with the proxy honest again succeeds: every refusal above was the lie's.
    proxy.lie(Lie::None);
    let fetched = ok(&vouch(
        work,
        &[
            "fetch",
            &format!("{PACKAGE}@1.0.0"),
            "--server",
            &proxy.url,
            "--json",
        ],
    ));
    assert_eq!(fetched["version"], "1.0.0", "{fetched}");
    assert_ne!(std::fs::read(&lockfile).unwrap(), before);
}
