//! A production install from nothing, with no `--dev` anywhere, on SQLite and on a fresh PostgreSQL database: keygen, config, `admin init`, `serve --config`, an admin makes an owner and its token, the owner registers a binding, a publish with a token from an issuer configured by URL (served here on loopback), fetch and both audits, a restart, and the refusals of bad input. The commands are the ones in docs/deployment.md.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod install_support;
use install_support::{ok, refused, Install};
use vouch_testkit::pg::PgDatabase;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use vouch_testkit::process::ChildGuard;

use vouch_oidc::{DevIssuer, DevKeyAlgorithm, DevTokenRequest, UnixTime};

const PACKAGE: &str = "@acme/widget";
const REPO: &str = "acme/widget";
const WORKFLOW: &str = ".github/workflows/release.yml";

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

/// An OIDC issuer on loopback: discovery and JWKS over plain http, as an identity
/// provider on the same host would serve them.
fn serve_issuer() -> DevIssuer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = DevIssuer::generate(&url, DevKeyAlgorithm::Es256).unwrap();
    let docs: HashMap<String, String> = [
        (
            path_of(&issuer.discovery_url()),
            issuer.discovery_document(),
        ),
        (path_of(&issuer.jwks_url()), issuer.jwks()),
    ]
    .into_iter()
    .collect();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            // Skip the headers.
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let (status, body) = match docs.get(&path) {
                Some(b) => ("200 OK", b.clone()),
                None => ("404 Not Found", String::new()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    issuer
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    format!("/{}", rest.split_once('/').unwrap().1)
}

fn id_token(issuer: &DevIssuer, dir: &Path, name: &str) -> String {
    let now = UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let req = DevTokenRequest::new(REPO, WORKFLOW, "refs/heads/main");
    let token = issuer.mint(&req, now).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, token).unwrap();
    path.to_str().unwrap().to_owned()
}

struct Server {
    child: ChildGuard,
    url: String,
    log_key: String,
}

impl Server {
    /// SIGTERM and wait: a clean stop, as systemd does.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn serve(install: &Install, listen: &str) -> Server {
    let config = install.p("etc/vouch.toml");
    let data = install.p("data");
    let mut child = install
        .command(&[
            "serve", "--config", &config, "--data", &data, "--listen", listen,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vouch serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut log_key) = (None, None);
    for line in lines.by_ref() {
        let line = line.expect("server stdout");
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.trim().to_owned());
        }
        if let Some(k) = line.strip_prefix("log key ") {
            log_key = Some(k.trim().to_owned());
            break;
        }
    }
    let Some(url) = url else {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("vouch serve did not start: {err}");
    };
    std::thread::spawn(move || for _ in lines {});
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    let server = Server {
        child: ChildGuard(child),
        url,
        log_key: log_key.unwrap_or_default(),
    };
    wait_ready(&server.url);
    server
}

/// Readiness as a load balancer sees it: `/readyz` answers 200 (sequencer committing,
/// database reachable), and the committed checkpoint is served.
fn wait_ready(url: &str) {
    let client = reqwest::blocking::Client::new();
    for _ in 0..100 {
        let ready = client
            .get(format!("{url}/readyz"))
            .send()
            .is_ok_and(|r| r.status().is_success());
        if !ready {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        }
        if let Ok(r) = client.get(format!("{url}/log/checkpoint")).send() {
            if r.status().is_success() {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{url} never served its checkpoint");
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

/// Keygen and the config file; `database` is the `[database]` and `[storage.lock]`
/// tables' body.
fn install(database: &str, lock: &str, extra_env: &[(&str, String)]) -> (Install, DevIssuer) {
    let mut install = Install::new(
        1,
        extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    );
    // docs/deployment.md, "1. Secrets".
    let log = install.keygen("registry.test/witness");
    assert_eq!(log["name"], install.origin());
    assert!(log["verifier_key"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}+", install.origin())));
    // Keygen never overwrites a key.
    let out = install.vouch(&[
        "keygen",
        "log",
        &install.origin(),
        "--out",
        &install.p("etc/log.key"),
    ]);
    refused(&out, "KEYGEN_E002");
    let issuer = serve_issuer();
    let data = install.data();
    let data = data.to_str().unwrap();
    install.write_config(
        &lock.replace("DATA", data),
        &database.replace("DATA", data),
        &format!(
            r#"
[oidc]
allow_loopback_http = true
issuers = [{{ provider = "github", issuer = "{}", server_url = "https://github.com" }}]
"#,
            issuer.issuer()
        ),
    );
    (install, issuer)
}

fn story(install: &mut Install, issuer: &DevIssuer, fresh_pg: Option<String>) {
    let config = install.p("etc/vouch.toml");
    let data = install.p("data");
    let work = install.work();

    // Bad input before anything exists: a missing variable, a witness key as log key.
    let mut missing = install.beside();
    missing.env.remove("TOKEN_ENC_KEY");
    let err = refused(
        &missing.vouch(&["admin", "init", "--config", &config, "--data", &data]),
        "SERVE_E102",
    );
    assert!(err.contains("TOKEN_ENC_KEY"), "{err}");
    missing.env = install.env.clone();
    missing.env.insert(
        "VOUCH_LOG_KEY".into(),
        install.env["VOUCH_WITNESS_KEY"].clone(),
    );
    let err = refused(
        &missing.vouch(&["admin", "init", "--config", &config, "--data", &data]),
        "SERVE_E102",
    );
    assert!(err.contains("witness"), "{err}");
    assert_eq!(
        std::fs::read_dir(install.data()).unwrap().count(),
        0,
        "a refused init wrote something"
    );

    // docs/deployment.md, "3. Initialise".
    let init = ok(&install.admin_init(&data, &["--json"]));
    assert_eq!(init["already_initialised"], false, "{init}");
    assert_eq!(init["admin"], "admin");
    assert!(init["admin_token"].is_null(), "the token went to the file");
    let created = init["created"].to_string();
    for step in [
        "log checkpoint",
        "CT log checkpoint",
        "CA keys",
        "registry signing key",
    ] {
        assert!(created.contains(step), "{created}");
    }
    let admin_token = install.p("etc/admin.token");
    assert!(read(&admin_token).starts_with("vouch_"));

    // docs/deployment.md, "4. Start".
    let server = serve(install, &install.origin().clone());
    let url = server.url.clone();
    assert_eq!(server.log_key, init["log_key"].as_str().unwrap());
    let listen = url.trim_start_matches("http://").to_owned();

    // docs/deployment.md, "6. The first owner".
    let admin = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &url, "--token-file", &admin_token, "--json"]);
        install.vouch(&all)
    };
    let alice = ok(&admin(&[
        "admin",
        "users",
        "add",
        "alice",
        "--email",
        "alice@acme.test",
    ]));
    assert_eq!(alice["user"]["name"], "alice");
    let alice_token = install.p("etc/alice.token");
    let issued = ok(&admin(&[
        "admin",
        "tokens",
        "issue",
        "--user",
        "alice",
        "--scope",
        "owner",
        "--package",
        PACKAGE,
        "--expires",
        "90d",
        "--out",
        &alice_token,
    ]));
    assert_eq!(issued["token"]["scope"], "owner");
    assert!(issued["secret"].is_null(), "the token went to the file");
    assert!(read(&alice_token).starts_with("vouch_"));
    let register = |token_file: &str, package: &str| {
        install.vouch(&[
            "publish",
            "register",
            "--server",
            &url,
            "--token-file",
            token_file,
            "--package",
            package,
            "--provider",
            "github",
            "--repo",
            REPO,
            "--workflow",
            WORKFLOW,
            "--json",
        ])
    };
    let reg = ok(&register(&alice_token, PACKAGE));
    assert_eq!(reg["pending"], true, "{reg}");
    // The token is limited to its package.
    refused(&register(&alice_token, "@acme/other"), "AUTH_E007");
    // An admin token is not an owner token.
    refused(&register(&admin_token, "@acme/other"), "AUTH_E007");

    // docs/deployment.md, "7. Publish, fetch, audit".
    let dir = project(&work.join("p1"), "1.0.0");
    let t = id_token(issuer, &work, "id1");
    let published = ok(&install.vouch(&[
        "publish",
        &dir,
        "--server",
        &url,
        "--identity-token-file",
        &t,
        "--json",
    ]));
    assert_eq!(published["name"], PACKAGE);
    let spec = format!("{PACKAGE}@1.0.0");
    let fetched =
        ok(&install.vouch(&["fetch", &spec, "--server", &url, "--out", "pkgs", "--json"]));
    assert_eq!(fetched["verified"], true);
    let sigs = ok(&install.vouch(&["audit", "signatures", "--json"]));
    assert_eq!(sigs["verified"], 1, "{sigs}");
    let tl = ok(&install.vouch(&["audit", "transparency", "--json"]));
    assert_eq!(tl["ok"], true, "{tl}");

    // The owners the first publish made, as the admin sees them.
    let owners = ok(&admin(&["admin", "owners", "list", PACKAGE]));
    assert_eq!(owners["owners"][0]["name"], "alice", "{owners}");

    // Revoked, expired and disabled: each refused with its code, at once.
    let bob = install.p("etc/bob.token");
    ok(&admin(&["admin", "users", "add", "bob"]));
    let b = ok(&admin(&[
        "admin", "tokens", "issue", "--user", "bob", "--scope", "owner", "--out", &bob,
    ]));
    ok(&register(&bob, "@bob/one"));
    let id = b["token"]["id"].to_string();
    ok(&admin(&["admin", "tokens", "revoke", &id]));
    refused(&register(&bob, "@bob/two"), "AUTH_E005");
    let bob2 = install.p("etc/bob2.token");
    ok(&admin(&[
        "admin",
        "tokens",
        "issue",
        "--user",
        "bob",
        "--scope",
        "owner",
        "--expires",
        "1s",
        "--out",
        &bob2,
    ]));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    refused(&register(&bob2, "@bob/two"), "AUTH_E006");
    let bob3 = install.p("etc/bob3.token");
    ok(&admin(&[
        "admin", "tokens", "issue", "--user", "bob", "--scope", "admin", "--out", &bob3,
    ]));
    ok(&install.vouch(&[
        "admin",
        "users",
        "list",
        "--server",
        &url,
        "--token-file",
        &bob3,
    ]));
    ok(&admin(&["admin", "users", "disable", "bob"]));
    let out = install.vouch(&[
        "admin",
        "users",
        "list",
        "--server",
        &url,
        "--token-file",
        &bob3,
    ]);
    refused(&out, "AUTH_E004");
    let audit = ok(&admin(&["admin", "audit", "--limit", "1000"]));
    let events = audit["events"].to_string();
    for e in [
        "instance.init",
        "user.create",
        "token.issue",
        "token.revoke",
        "user.disable",
        "publisher.register",
    ] {
        assert!(events.contains(e), "{e} not audited: {events}");
    }

    // Restart: init again changes nothing; everything is still there.
    server.stop();
    let again = install.vouch(&["admin", "init", "--config", &config, "--data", &data]);
    let text = String::from_utf8_lossy(&ok_text(&again)).into_owned();
    assert!(text.starts_with("already initialised"), "{text}");
    // Another instance's log key on the same storage: refused, nothing written.
    let mut foreign = install.beside();
    let other_key = foreign.p("other.key");
    ok(&foreign.vouch(&["keygen", "log", &install.origin(), "--out", &other_key]));
    foreign.env.insert("VOUCH_LOG_KEY".into(), read(&other_key));
    refused(
        &foreign.vouch(&["admin", "init", "--config", &config, "--data", &data]),
        "INIT_E001",
    );
    let server = serve(install, &listen);
    assert_eq!(server.url, url);
    let fetched =
        ok(&install.vouch(&["fetch", &spec, "--server", &url, "--out", "again", "--json"]));
    assert_eq!(fetched["sha256"], published["sha256"]);
    let tl = ok(&install.vouch(&["audit", "transparency", "--json"]));
    assert_eq!(tl["ok"], true, "{tl}");
    ok(&install.vouch(&[
        "admin",
        "users",
        "list",
        "--server",
        &url,
        "--token-file",
        &admin_token,
    ]));

    // docs/deployment.md, "9. Backup and restore": back up the running server, restore
    // into a fresh place (another data directory and, on PostgreSQL, another database;
    // the same secrets), and the restored server agrees with the lockfile taken before.
    let backup = install.p("backup");
    let b = ok(&install.vouch(&[
        "admin", "backup", "--config", &config, "--data", &data, "--out", &backup, "--json",
    ]));
    assert!(b.to_string().contains(&install.origin()), "{b}");
    server.stop();
    let mut restored = install.beside();
    if let Some(fresh) = fresh_pg {
        restored.env.insert("VOUCH_PG_URL".into(), fresh);
    }
    let new_data = restored.p("data");
    std::fs::write(
        restored.p("etc/vouch.toml"),
        read(&config).replace(&data, &new_data),
    )
    .unwrap();
    let new_config = restored.p("etc/vouch.toml");
    ok(&restored.vouch(&[
        "admin",
        "restore",
        "--from",
        &backup,
        "--config",
        &new_config,
        "--data",
        &new_data,
    ]));
    // A second restore into the now non-empty place is refused and writes nothing.
    refused(
        &restored.vouch(&[
            "admin",
            "restore",
            "--from",
            &backup,
            "--config",
            &new_config,
            "--data",
            &new_data,
        ]),
        "BACKUP_E011",
    );
    // Clients recorded the URL: the restored server takes the old address.
    let server = serve(&restored, &listen);
    assert_eq!(server.url, url);
    let tl = ok(&install.vouch(&["audit", "transparency", "--json"]));
    assert_eq!(tl["ok"], true, "{tl}");
    let fetched = ok(&install.vouch(&[
        "fetch", &spec, "--server", &url, "--out", "restored", "--json",
    ]));
    assert_eq!(fetched["sha256"], published["sha256"]);
    server.stop();

    // TOKEN_ENC_KEY rotation (server stopped), then a restart with the new key.
    let new_key_file = install.p("etc/token_enc.key.new");
    ok(&install.vouch(&["keygen", "token-enc-key", "--out", &new_key_file]));
    let new_key = read(&new_key_file);
    let rotated = install
        .command(&[
            "admin",
            "rotate-token-enc-key",
            "--config",
            &config,
            "--new-key-env",
            "NEW_TOKEN_ENC_KEY",
            "--json",
        ])
        .env("NEW_TOKEN_ENC_KEY", &new_key)
        .output()
        .unwrap();
    let rotated = ok(&rotated);
    assert_eq!(rotated["generation"], 2, "{rotated}");
    // The old key opens nothing any more: init refuses the instance as not its own.
    refused(
        &install.vouch(&["admin", "init", "--config", &config, "--data", &data]),
        "INIT_E001",
    );
    install.env.insert("TOKEN_ENC_KEY".into(), new_key);
    let again = install.vouch(&["admin", "init", "--config", &config, "--data", &data]);
    let text = String::from_utf8_lossy(&ok_text(&again)).into_owned();
    assert!(text.starts_with("already initialised"), "{text}");
    let server = serve(install, &listen);
    let fetched = ok(&install.vouch(&[
        "fetch", &spec, "--server", &url, "--out", "rotated", "--json",
    ]));
    assert_eq!(fetched["sha256"], published["sha256"]);
    let sigs = ok(&install.vouch(&["audit", "signatures", "--json"]));
    assert_eq!(sigs["verified"], 1, "{sigs}");
    let tl = ok(&install.vouch(&["audit", "transparency", "--json"]));
    assert_eq!(tl["ok"], true, "{tl}");
    server.stop();
}

#[track_caller]
fn ok_text(out: &Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

#[test]
fn production_bootstrap_on_sqlite() {
    let (mut install, issuer) = install(
        "kind = \"sqlite\"\npath = \"DATA/meta.db\"",
        "kind = \"sqlite\"\npath = \"DATA/lock.db\"",
        &[],
    );
    story(&mut install, &issuer, None);
}

#[test]
fn production_bootstrap_on_postgres() {
    let db = PgDatabase::create();
    let (mut install, issuer) = install(
        "kind = \"postgres\"\nurl_env = \"VOUCH_PG_URL\"",
        "kind = \"postgres\"\nurl_env = \"VOUCH_PG_URL\"",
        &[("VOUCH_PG_URL", db.url())],
    );
    let fresh = PgDatabase::create();
    story(&mut install, &issuer, Some(fresh.url()));
}
