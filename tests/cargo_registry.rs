#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]
//! The Cargo registry with the installed cargo and an isolated CARGO_HOME (issue 19): a trusted-publishing token publishes, a second project depends on the crate through `sparse+http://127.0.0.1:PORT/cargo/index/` and builds, a yanked version is not locked, another workflow's token is refused naming the claim, a republish is refused, `release verify-index` passes then reports drift, `audit cargo` passes then fails on an edited checksum, and an auth-required registry needs a read token.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const CRATE: &str = "vouch-demo-lib";
const REPO: &str = "acme/demo";
const WORKFLOW: &str = ".github/workflows/release.yml";

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn post(url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = http().post(url).json(body);
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

/// A GitHub-Actions-shaped identity token from the dev issuer.
fn identity(url: &str, workflow: &str) -> String {
    let (s, v) = post(
        &format!("{url}/oidc/dev/token"),
        None,
        &json!({"repository": REPO, "workflow": workflow, "ref": "refs/heads/main"}),
    );
    assert_eq!(s, 200, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

fn exchange(url: &str, jwt: &str) -> (u16, Value) {
    post(
        &format!("{url}/api/v1/trusted_publishing/tokens"),
        None,
        &json!({"jwt": jwt}),
    )
}

fn cargo(home: &Path, dir: &Path, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(dir)
        .args(args)
        .env("CARGO_HOME", home)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("CARGO_REGISTRIES_VOUCH_TOKEN")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER");
    if let Some(t) = token {
        cmd.env("CARGO_REGISTRIES_VOUCH_TOKEN", t);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

fn vouch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn cargo_home(root: &Path, url: &str) -> PathBuf {
    let home = root.join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[registries.vouch]\nindex = \"sparse+{url}/cargo/index/\"\n\
             [registry]\nglobal-credential-providers = [\"cargo:token\"]\n\
             [net]\nretry = 0\n"
        ),
    )
    .unwrap();
    home
}

fn library(root: &Path, version: &str) -> PathBuf {
    let dir = root.join(format!("lib-{version}"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{CRATE}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"demo\"\nlicense = \"MIT\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        format!("pub fn version() -> &'static str {{ \"{version}\" }}\n"),
    )
    .unwrap();
    dir
}

fn publish(home: &Path, dir: &Path, token: &str) -> Output {
    cargo(
        home,
        dir,
        &[
            "publish",
            "--registry",
            "vouch",
            "--no-verify",
            "--allow-dirty",
        ],
        Some(token),
    )
}

/// cargo's publish body: length-prefixed metadata JSON, then the `.crate`.
fn framed(meta: &Value, krate: &[u8]) -> Vec<u8> {
    let json = meta.to_string().into_bytes();
    let mut b = Vec::new();
    b.extend_from_slice(&(json.len() as u32).to_le_bytes());
    b.extend_from_slice(&json);
    b.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    b.extend_from_slice(krate);
    b
}

fn put_crate(url: &str, token: &str, version: &str, krate: &[u8]) -> (u16, Value) {
    let meta = json!({"name": CRATE, "vers": version, "deps": [], "features": {}});
    let resp = http()
        .put(format!("{url}/api/v1/crates/new"))
        .header("authorization", token)
        .body(framed(&meta, krate))
        .send()
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().unwrap_or(Value::Null))
}

/// The file named `name` under `dir` (where cargo left the packaged `.crate`).
fn find(dir: &Path, name: &str) -> PathBuf {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|f| f == name) {
                return p;
            }
        }
    }
    panic!("no {name} under {}", dir.display());
}

/// The server's owner token, from its data directory.
fn owner_token(data: &Path) -> String {
    std::fs::read_to_string(data.join("owner.token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The owner registers acme/demo's release.yml as `krate`'s trusted publisher; returns
/// the owner's token.
fn register_publisher(url: &str, data: &Path, krate: &str) -> String {
    let owner = owner_token(data);
    let (s, v) = post(
        &format!("{url}/api/v1/trusted_publishing/github_configs"),
        Some(&owner),
        &json!({"github_config": {"crate": krate, "repository_owner": "acme",
               "repository_name": "demo", "workflow_filename": "release.yml"}}),
    );
    assert_eq!(s, 200, "{v}");
    owner
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

#[test]
fn cargo_publishes_through_trusted_publishing_and_builds_against_vouch() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let server = serve_support::start(&root.join("data"), &[]);
    let url = server.url.clone();
    // The owner registers the trusted publisher (the crate is claimed for them).
    let owner = register_publisher(&url, &server.data, CRATE);

    // Another workflow of the same repository is refused, naming the claim.
    let (s, v) = exchange(&url, &identity(&url, ".github/workflows/other.yml"));
    assert_eq!(s, 403, "{v}");
    assert_eq!(code(&v), "PUB_E006", "{v}");
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("job_workflow_ref"),
        "{v}"
    );

    // The release workflow's token is exchanged for a publish token; cargo publishes.
    let (s, v) = exchange(&url, &identity(&url, WORKFLOW));
    assert_eq!(s, 200, "{v}");
    let publish_token = v["token"].as_str().unwrap().to_owned();
    let home = cargo_home(root, &url);
    let lib1 = library(root, "0.1.0");
    ok(&publish(&home, &lib1, &publish_token));
    let lib2 = library(root, "0.1.1");
    ok(&publish(&home, &lib2, &publish_token));

    // The owner yanks 0.1.1; a new lock must not choose it.
    ok(&cargo(
        &home,
        root,
        &["yank", "--registry", "vouch", "--version", "0.1.1", CRATE],
        Some(&owner),
    ));

    // A republish of 0.1.0 is refused (by cargo, which reads the index, and by the
    // registry for a client that does not look first).
    let again = publish(&home, &lib1, &publish_token);
    assert!(!again.status.success());
    let krate = std::fs::read(find(&lib1, &format!("{CRATE}-0.1.0.crate"))).unwrap();
    let (s, v) = put_crate(&url, &publish_token, "0.1.0", &krate);
    assert_eq!((s, code(&v)), (409, "PUB_E007"), "{v}");
    // The manifest inside must agree with the metadata.
    let (s, v) = put_crate(&url, &publish_token, "0.1.2", &krate);
    assert_eq!((s, code(&v)), (400, "CARGO_E002"), "{v}");

    // A second project depends on it through the sparse index and builds offline
    // otherwise (no crates.io dependency anywhere).
    let app = root.join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        format!(
            "[package]\nname = \"demo-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             [dependencies]\n{CRATE} = {{ version = \"0.1\", registry = \"vouch\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        app.join("src/main.rs"),
        "fn main() { println!(\"{}\", vouch_demo_lib::version()); }\n",
    )
    .unwrap();
    ok(&cargo(&home, &app, &["build"], None));
    let lock = std::fs::read_to_string(app.join("Cargo.lock")).unwrap();
    assert!(lock.contains("version = \"0.1.0\""), "{lock}");
    assert!(
        !lock.contains("0.1.1"),
        "a yanked version was locked: {lock}"
    );
    let run = ok(&cargo(&home, &app, &["run", "-q"], None));
    assert!(run.contains("0.1.0"), "{run}");

    // vouch audit cargo: passes on the lock, then AUDIT_E001 on an edited checksum.
    let out = vouch(&app, &["audit", "cargo", "Cargo.lock", "--json"]);
    ok(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["report"]["crates"][0]["name"], CRATE);
    assert!(report["report"]["crates"][0]["publisher"]
        .as_str()
        .unwrap()
        .contains(WORKFLOW));
    let real = lock
        .lines()
        .find_map(|l| l.strip_prefix("checksum = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    std::fs::write(
        app.join("Edited.lock"),
        lock.replace(&real, &"0".repeat(64)),
    )
    .unwrap();
    let out = vouch(&app, &["audit", "cargo", "Edited.lock"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUDIT_E001"));
    // The state the first run stored keeps the next one consistent.
    let out = vouch(&app, &["audit", "cargo", "Cargo.lock"]);
    ok(&out);

    // verify-index checks vouch as it checks crates.io, then sees drift.
    let rel = root.join("release");
    std::fs::create_dir_all(&rel).unwrap();
    let file = format!("{CRATE}-0.1.0.crate");
    std::fs::write(rel.join(&file), &krate).unwrap();
    let spec = format!("{CRATE}@0.1.0={file}");
    let out = vouch(
        &rel,
        &["release", "seal", ".", "--tag", "v0.1.0", "--crate", &spec],
    );
    ok(&out);
    let verify = || {
        vouch(
            &rel,
            &[
                "release",
                "verify-index",
                "--manifest",
                "dist-manifest.json",
                "--index",
                "crates",
                "--url",
                &url,
                "--backoff-ms",
                "10",
                "--json",
            ],
        )
    };
    let out = verify();
    ok(&out);
    let db = server.data.join("meta.db");
    let sql = format!(
        "DROP TRIGGER cargo_versions_immutable_update; \
         UPDATE cargo_versions SET cksum = '{}' WHERE vers = '0.1.0';",
        "ef".repeat(32)
    );
    let edit = Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()"])
        .arg(&db)
        .arg(&sql)
        .output()
        .unwrap();
    ok(&edit);
    let out = verify();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["artifacts"][0]["field"], "checksum", "{v}");

    // The publish token can be revoked; it then publishes nothing.
    let resp = http()
        .delete(format!("{url}/api/v1/trusted_publishing/tokens"))
        .header("authorization", &publish_token)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (s, v) = put_crate(&url, &publish_token, "0.2.0", &krate);
    assert_eq!((s, code(&v)), (403, "CARGO_E006"), "{v}");
    drop(server);

    auth_required_registry_needs_a_read_token(root, &krate);
}

fn auth_required_registry_needs_a_read_token(root: &Path, krate: &[u8]) {
    let data = root.join("private");
    std::fs::create_dir_all(&data).unwrap();
    let cfg = data.join("vouch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[log]\n[storage.objects]\nkind = \"local\"\npath = \"{0}/tiles\"\n\
             [storage.lock]\nkind = \"sqlite\"\npath = \"{0}/lock.db\"\n[database]\nkind = \"sqlite\"\npath = \"{0}/meta.db\"\n\
             [internal]\ntoken_env = \"VOUCH_INTERNAL_TOKEN\"\n[cargo]\nauth_required = true\n",
            data.display()
        ),
    )
    .unwrap();
    let server = serve_support::start(&data, &["--config", cfg.to_str().unwrap()]);
    let url = server.url.clone();
    let owner = owner_token(&data);
    let (s, v) = put_crate(&url, &owner, "0.1.0", krate);
    assert_eq!(s, 200, "{v}");
    let get = |path: &str, token: Option<&str>| {
        let mut req = http().get(format!("{url}{path}"));
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        req.send().unwrap()
    };
    for path in [
        "/cargo/index/config.json".to_owned(),
        format!("/cargo/index/vo/uc/{CRATE}"),
        format!("/api/v1/crates/{CRATE}/0.1.0/download"),
    ] {
        let anon = get(&path, None);
        assert_eq!(anon.status().as_u16(), 401, "{path}");
        let www = anon.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(www.starts_with("Cargo login_url="), "{www}");
        let v: Value = anon.json().unwrap();
        assert_eq!(code(&v), "CARGO_E009", "{v}");
        let bad = get(&path, Some("vouch_0000"));
        assert_eq!(bad.status().as_u16(), 403, "{path}");
        let good = get(&path, Some(&owner));
        assert_eq!(good.status().as_u16(), 200, "{path}");
        if path.ends_with("download") {
            assert_eq!(good.bytes().unwrap().as_ref(), krate);
        } else if path.ends_with("config.json") {
            let v: Value = good.json().unwrap();
            assert_eq!(v["auth-required"], true, "{v}");
        }
    }
}

/// Benchmark (docs/performance.md, "Cargo registry"): publishes per second through the
/// trusted-publishing exchange and `PUT /api/v1/crates/new` (16 concurrent CI jobs,
/// identity tokens minted beforehand), then index-file requests per second from a second
/// process (`vouch bench http`). Run:
/// `cargo nextest run -p vouch --test cargo_registry --run-ignored only --no-capture`
#[test]
#[ignore = "benchmark"]
fn bench_cargo_publish_and_index() {
    const N: usize = 800;
    const WORKERS: usize = 16;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let bin = serve_support::bench_bin();
    eprintln!("server and load generator: {}", bin.display());
    let server = serve_support::start_bin(&bin, None, &root.join("data"), &[]);
    let url = server.url.clone();
    let owner = register_publisher(&url, &server.data, "bench-crate");
    // N .crate files made by Python's tarfile (gzip'd ustar), one per version.
    let crates = root.join("crates");
    std::fs::create_dir_all(&crates).unwrap();
    let script = r#"
import io, sys, tarfile, gzip
out, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    name = "bench-crate-1.0.%d" % i
    toml = ('[package]\nname = "bench-crate"\nversion = "1.0.%d"\n' % i).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for path, data in (("Cargo.toml", toml), ("src/lib.rs", b"pub fn f() {}\n")):
            info = tarfile.TarInfo(name + "/" + path); info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    open("%s/%d.crate" % (out, i), "wb").write(gzip.compress(buf.getvalue(), mtime=0))
"#;
    let made = Command::new("python3")
        .args(["-c", script])
        .arg(&crates)
        .arg(N.to_string())
        .output()
        .unwrap();
    ok(&made);
    let jwts: Vec<String> = (0..N).map(|_| identity(&url, WORKFLOW)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                let client = http();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= N {
                        break;
                    }
                    let v: Value = client
                        .post(format!("{url}/api/v1/trusted_publishing/tokens"))
                        .json(&json!({"jwt": jwts[i]}))
                        .send()
                        .unwrap()
                        .json()
                        .unwrap();
                    let token = v["token"].as_str().unwrap().to_owned();
                    let krate = std::fs::read(crates.join(format!("{i}.crate"))).unwrap();
                    let meta = json!({"name": "bench-crate", "vers": format!("1.0.{i}"),
                                      "deps": [], "features": {}});
                    let resp = client
                        .put(format!("{url}/api/v1/crates/new"))
                        .header("authorization", token)
                        .body(framed(&meta, &krate))
                        .send()
                        .unwrap();
                    assert_eq!(resp.status().as_u16(), 200);
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "cargo publishes: {N} through exchange + PUT with {WORKERS} workers in {secs:.2} s = {:.0}/s",
        N as f64 / secs
    );
    // Index-file reads of a one-version crate from a second process.
    let made = Command::new("python3")
        .args(["-c", &script.replace("bench-crate", CRATE)])
        .arg(&crates)
        .arg("1")
        .output()
        .unwrap();
    assert!(made.status.success());
    let krate = std::fs::read(crates.join("0.crate")).unwrap();
    let (s, v) = put_crate(&url, &owner, "1.0.0", &krate);
    assert_eq!(s, 200, "{v}");
    let index_url = format!("{url}/cargo/index/vo/uc/{CRATE}");
    let out = Command::new(&bin)
        .current_dir(root)
        .args([
            "bench",
            "http",
            "--url",
            &index_url,
            "--seconds",
            "10",
            // Under the default per-address connection cap (32).
            "--concurrency",
            "16",
            "--json",
        ])
        .output()
        .unwrap();
    ok(&out);
    eprintln!("index file reads: {}", String::from_utf8_lossy(&out.stdout));
}
