#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]
//! `vouch admin tuf` on a production `vouch serve` (no --dev, SQLite), as docs/trust.md tells an operator: the server's sealed online keys, a 2-of-3 root and a targets key generated and signed offline, published to the running server; `vouch audit roots` and python-tuf 7.0.1 (an independent client) refresh through it and follow a root rotation signed by both thresholds. Each attack is refused with its code: a root signed below a threshold (publish refuses it; the server made to serve it, the client does), a target served longer than listed, a rolled-back timestamp, expired metadata. After the CA/TSA/log keys rotate, the server (no targets key) says its targets are stale (TUF_E017) until the operator signs new ones.

mod install_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use vouch_testkit::process::ChildGuard;

use install_support::{ok, refused, Install};

struct Server {
    child: ChildGuard,
    url: String,
}

fn serve(install: &Install) -> Server {
    serve_with(install, &[])
}

/// `vouch serve` with `env` over the install's environment.
fn serve_with(install: &Install, env: &[(&str, &str)]) -> Server {
    let (config, data) = (install.p("etc/vouch.toml"), install.p("data"));
    let listen = install.origin();
    let child = install
        .command(&[
            "serve", "--config", &config, "--data", &data, "--listen", &listen,
        ])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Owned by the guard from here on: a panic below kills and reaps it.
    let mut server = Server {
        child: ChildGuard(child),
        url: format!("http://{listen}"),
    };
    let mut lines = BufReader::new(server.child.stdout.take().unwrap()).lines();
    let mut started = false;
    for line in lines.by_ref() {
        if line.unwrap().starts_with("log key ") {
            started = true;
            break;
        }
    }
    if !started {
        let mut err = String::new();
        let _ = server.child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("vouch serve did not start: {err}");
    }
    std::thread::spawn(move || for _ in lines {});
    let mut stderr = server.child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    for _ in 0..200 {
        let ready = reqwest::blocking::get(format!("{}/readyz", server.url))
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{} never became ready", server.url);
}

fn config(install: &Install) {
    let data = install.data();
    let data = data.display();
    install.write_config(
        &format!("kind = \"sqlite\"\npath = \"{data}/lock.db\""),
        &format!("kind = \"sqlite\"\npath = \"{data}/meta.db\""),
        "",
    );
}

fn status_code(url: &str) -> u16 {
    reqwest::blocking::get(url).unwrap().status().as_u16()
}

/// `vouch audit roots --instance URL --json --cache CACHE EXTRA..`.
fn audit(install: &Install, url: &str, cache: &Path, extra: &[&str]) -> Output {
    let cache = cache.to_str().unwrap();
    let mut args = vec![
        "audit",
        "roots",
        "--instance",
        url,
        "--json",
        "--cache",
        cache,
    ];
    args.extend_from_slice(extra);
    install.vouch(&args)
}

/// The refusal's code from `--json` output, asserting exit 1 (a verification failure).
#[track_caller]
fn refused_with(out: &Output, code: &str) {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["error"]["code"], code, "{v}");
}

/// python-tuf's ngclient `Updater` against the instance: refresh from `root` (the
/// bootstrap root, obtained out of band), caching in `meta_dir`, then fetch
/// trusted_root.json. Prints
/// `ROOT <version> TARGETS <version> <sha256 of the target>`, or the exception's name.
fn python_tuf(url: &str, meta_dir: &Path, target_dir: &Path, root: &str) -> Output {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py-venv/bin/python");
    let script = r#"
import hashlib, sys
from tuf.ngclient import Updater
url, meta, targets, root = sys.argv[1:5]
try:
    u = Updater(metadata_dir=meta, metadata_base_url=url + "/tuf/",
                target_base_url=url + "/tuf/targets/", target_dir=targets,
                bootstrap=open(root, "rb").read())
    u.refresh()
    info = u.get_targetinfo("trusted_root.json")
    path = u.download_target(info)
    data = open(path, "rb").read()
    print("ROOT", u._trusted_set.root.version, "TARGETS", u._trusted_set.targets.version,
          hashlib.sha256(data).hexdigest())
except Exception as e:
    print("REFUSED", type(e).__name__, e)
    sys.exit(1)
"#;
    Command::new(python)
        .args(["-c", script, url])
        .arg(meta_dir)
        .arg(target_dir)
        .arg(root)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn offline_root_and_targets_published_to_a_production_server_and_the_attacks_refused() {
    vouch_testkit::process::py_venv();
    let mut install = Install::new(1, HashMap::new());
    install.keygen("registry.test/witness");
    config(&install);
    let (cfg, data) = (install.p("etc/vouch.toml"), install.p("data"));
    let at = ["--config", cfg.as_str(), "--data", data.as_str()];
    // TOKEN_ENC_KEY once it is rotated (below).
    let enc_key: std::cell::RefCell<Option<String>> = std::cell::RefCell::new(None);
    let tuf = |args: &[&str], place: bool| {
        let mut all = vec!["admin", "tuf"];
        all.extend_from_slice(args);
        if place {
            all.extend_from_slice(&at);
        }
        all.push("--json");
        let mut cmd = install.command(&all);
        if let Some(k) = enc_key.borrow().as_deref() {
            cmd.env("TOKEN_ENC_KEY", k);
        }
        cmd.output().unwrap()
    };
    ok(&install.admin_init(&data, &[]));

    // The server's online keys: created once, sealed; a rerun shows the same keys.
    let online = install.p("work/online");
    let first = ok(&tuf(&["online-keys", "--out", &online], true));
    assert_eq!(
        first["created"],
        serde_json::json!(["timestamp", "snapshot"])
    );
    let again = ok(&tuf(&["online-keys", "--out", &online], true));
    assert_eq!(again["created"], serde_json::json!([]));
    assert_eq!(again["keys"], first["keys"]);

    let server = serve(&install);
    let url = server.url.clone();
    assert_eq!(status_code(&format!("{url}/tuf/1.root.json")), 404);
    let st = ok(&tuf(&["status"], true));
    assert_eq!(st["published"], false, "{st}");

    // The key ceremony, offline: three root keys (2 of 3), a fourth for a later
    // rotation, one targets key.
    let keys = install.work().join("offline");
    std::fs::create_dir_all(&keys).unwrap();
    let k = |name: &str, ext: &str| -> String {
        keys.join(format!("{name}.{ext}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    for name in ["root-a", "root-b", "root-c", "root-d", "targets"] {
        let out = ok(&tuf(&["keygen", "--out", &k(name, "pem")], false));
        assert_eq!(out["public"], k(name, "pub.json"));
    }
    // A key file is never written over.
    refused(
        &tuf(&["keygen", "--out", &k("root-a", "pem")], false),
        "TUF_E016",
    );
    let repo = install.work().join("repo");
    let repo_s = repo.to_str().unwrap().to_owned();
    let meta = |name: &str| repo.join(name).to_str().unwrap().to_owned();
    let (ts_pub, snap_pub) = (
        format!("{online}/timestamp.pub.json"),
        format!("{online}/snapshot.pub.json"),
    );
    // `admin tuf CMD --repo REPO --root-key ROOT.pub.json.. --threshold 2 EXTRA..`.
    let with_roots = |cmd: &str, roots: &[&str], extra: &[&str]| {
        let keys: Vec<String> = roots.iter().map(|r| k(r, "pub.json")).collect();
        let mut args = vec![cmd, "--repo", repo_s.as_str()];
        for key in &keys {
            args.extend(["--root-key", key.as_str()]);
        }
        args.extend(["--threshold", "2"]);
        args.extend_from_slice(extra);
        tuf(&args, false)
    };
    ok(&with_roots(
        "init",
        &["root-a", "root-b", "root-c"],
        &[
            "--targets-key",
            &k("targets", "pub.json"),
            "--timestamp-key",
            &ts_pub,
            "--snapshot-key",
            &snap_pub,
        ],
    ));
    let sign =
        |key: &str, file: &str| ok(&tuf(&["sign", "--key", &k(key, "pem"), &meta(file)], false));
    let one = sign("root-a", "1.root.json");
    assert_eq!(one["complete"], false, "{one}");
    assert_eq!(one["counts"][0]["valid"], 1);
    // The server's trust configuration, from the running server.
    let tc = install.p("work/trust-config.json");
    ok(&install.vouch(&["trust-config", "--server", &url, "--out", &tc]));
    ok(&tuf(
        &["targets", "--repo", &repo_s, "--trust-config", &tc],
        false,
    ));
    sign("targets", "1.targets.json");
    // One of two root signatures: publish refuses, with the client's threshold code.
    refused(&tuf(&["publish", "--repo", &repo_s], true), "TUF_E003");
    assert_eq!(status_code(&format!("{url}/tuf/1.root.json")), 404);
    let two = sign("root-b", "1.root.json");
    assert_eq!(two["complete"], true, "{two}");
    let published = ok(&tuf(&["publish", "--repo", &repo_s], true));
    assert_eq!(published["roots"], serde_json::json!([1]), "{published}");
    assert_eq!(published["targets"], 1);

    // The running server serves it at once; vouch's client trusts root v1 once.
    let cache = install.work().join("cache");
    let root1 = meta("1.root.json");
    let first = ok(&audit(&install, &url, &cache, &["--root", &root1]));
    assert_eq!(first["root_version"], 1, "{first}");
    assert_eq!(first["targets_version"], 1);
    let served_tc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&tc).unwrap()).unwrap();
    let cached: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(first["cache_dir"].as_str().unwrap()).join("targets/trusted_root.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        cached, served_tc["trustedRoot"],
        "the instance's own trusted root"
    );
    // python-tuf, an independent client, from the same root.
    let py_meta = install.work().join("py-meta");
    let py_targets = install.work().join("py-targets");
    std::fs::create_dir_all(&py_meta).unwrap();
    std::fs::create_dir_all(&py_targets).unwrap();
    let py = python_tuf(&url, &py_meta, &py_targets, &root1);
    assert!(py.status.success(), "{}", stdout(&py));
    assert_eq!(
        stdout(&py),
        format!(
            "ROOT 1 TARGETS 1 {}",
            first["trusted_root_sha256"].as_str().unwrap()
        )
    );
    let st = ok(&tuf(&["status"], true));
    assert_eq!(st["published"], true, "{st}");
    assert_eq!(st["stale"], false, "{st}");
    assert_eq!(
        st["online_keys"],
        serde_json::json!(["snapshot", "timestamp"])
    );

    // Root rotation to {b, c, d}, 2 of 3: signed by a and d it has one of the old
    // root's two signatures: refused; with b it has both thresholds.
    ok(&with_roots(
        "rotate-root",
        &["root-b", "root-c", "root-d"],
        &[],
    ));
    sign("root-a", "2.root.json");
    let ad = sign("root-d", "2.root.json");
    assert_eq!(ad["complete"], false, "{ad}");
    refused(&tuf(&["publish", "--repo", &repo_s], true), "TUF_E003");
    let abd = sign("root-b", "2.root.json");
    assert_eq!(abd["complete"], true, "{abd}");
    let published = ok(&tuf(&["publish", "--repo", &repo_s], true));
    assert_eq!(published["roots"], serde_json::json!([2]), "{published}");
    let rotated = ok(&audit(&install, &url, &cache, &[]));
    assert_eq!(rotated["root_version"], 2, "{rotated}");
    let py = python_tuf(&url, &py_meta, &py_targets, &root1);
    assert!(py.status.success(), "{}", stdout(&py));
    assert!(
        stdout(&py).starts_with("ROOT 2 TARGETS 1 "),
        "{}",
        stdout(&py)
    );

    // Root v3 signed by only one of the two keys it needs (d; b and c do not sign):
    // publish refuses it; the server made to serve it, both clients refuse it.
    ok(&with_roots("rotate-root", &["root-d", "root-a"], &[]));
    sign("root-d", "3.root.json");
    sign("root-a", "3.root.json");
    refused(&tuf(&["publish", "--repo", &repo_s], true), "TUF_E003");
    let served = PathBuf::from(&data).join("tiles/tuf/meta/3.root.json");
    std::fs::copy(meta("3.root.json"), &served).unwrap();
    refused_with(&audit(&install, &url, &cache, &[]), "TUF_E003");
    let py = python_tuf(&url, &py_meta, &py_targets, &root1);
    assert!(!py.status.success());
    assert!(
        stdout(&py).starts_with("REFUSED UnsignedMetadataError"),
        "{}",
        stdout(&py)
    );
    std::fs::remove_file(&served).unwrap();
    std::fs::remove_file(meta("3.root.json")).unwrap();

    // A target served longer than the targets role lists: a fresh client refuses it.
    let target_name = std::fs::read_dir(repo.join("targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".trusted_root.json"))
        .unwrap();
    let served_target = PathBuf::from(&data)
        .join("tiles/tuf/meta/targets")
        .join(&target_name);
    let genuine = std::fs::read(&served_target).unwrap();
    let mut longer = genuine.clone();
    longer.extend_from_slice(&[b' '; 4096]);
    std::fs::write(&served_target, &longer).unwrap();
    let fresh = install.work().join("fresh-cache");
    refused_with(
        &audit(&install, &url, &fresh, &["--root", &root1]),
        "TUF_E007",
    );
    std::fs::write(&served_target, &genuine).unwrap();

    // Rollback: a new targets version moves the timestamp on; the server made to
    // serve the old timestamp again is refused.
    let timestamp = PathBuf::from(&data).join("tiles/tuf/meta/timestamp.json");
    let old_timestamp = std::fs::read(&timestamp).unwrap();
    ok(&tuf(
        &["targets", "--repo", &repo_s, "--trust-config", &tc],
        false,
    ));
    sign("targets", "2.targets.json");
    let published = ok(&tuf(&["publish", "--repo", &repo_s], true));
    assert_eq!(published["targets"], 2, "{published}");
    let moved = ok(&audit(&install, &url, &cache, &[]));
    assert_eq!(moved["targets_version"], 2, "{moved}");
    let new_timestamp = std::fs::read(&timestamp).unwrap();
    std::fs::write(&timestamp, &old_timestamp).unwrap();
    refused_with(&audit(&install, &url, &cache, &[]), "TUF_E001");
    std::fs::write(&timestamp, &new_timestamp).unwrap();
    // Freeze: the same repository seen two days later (the timestamp lives one day).
    let mut req = vouch_trust::Refresh::new(
        vouch_trust::Instance::vouch_server(&url),
        None,
        cache.clone(),
    );
    req.now = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48);
    assert_eq!(vouch_trust::refresh(&req).unwrap_err().code(), "TUF_E002");

    // The CA, TSA and log keys rotate; the server holds no targets key, so it says
    // its targets are stale instead of signing them.
    drop(server);
    ok(&install.vouch(&[
        "admin",
        "keys",
        "reset-sigstore",
        "--config",
        &cfg,
        "--data",
        &data,
        "--yes",
    ]));
    let server = serve(&install);
    let url = server.url.clone();
    let tc2 = install.p("work/trust-config-2.json");
    let stale = tuf(&["status", "--trust-config-out", &tc2], true);
    assert_eq!(stale.status.code(), Some(1), "{}", stdout(&stale));
    let v: serde_json::Value = serde_json::from_slice(&stale.stdout).unwrap();
    assert_eq!(v["stale"], true, "{v}");
    assert_eq!(v["warnings"][0]["code"], "TUF_E017", "{v}");
    let unchanged = ok(&audit(&install, &url, &cache, &[]));
    assert_eq!(unchanged["changed"], false, "nothing new is published");
    // The operator signs targets for the new material offline and publishes them.
    ok(&tuf(
        &["targets", "--repo", &repo_s, "--trust-config", &tc2],
        false,
    ));
    sign("targets", "3.targets.json");
    ok(&tuf(&["publish", "--repo", &repo_s], true));
    let st = ok(&tuf(&["status"], true));
    assert_eq!(st["stale"], false, "{st}");
    let after = ok(&audit(&install, &url, &cache, &[]));
    assert_eq!(after["targets_version"], 3, "{after}");
    assert_eq!(after["changed"], true, "{after}");
    vouch_testkit::assert_ca_rotated(&after);

    // A TOKEN_ENC_KEY rotation re-seals the online keys too: the server restarts under
    // the new key and serves on; the old key no longer opens them.
    drop(server);
    let new_key = install.p("etc/token_enc.key.new");
    ok(&install.vouch(&["keygen", "token-enc-key", "--out", &new_key]));
    let new_key = std::fs::read_to_string(&new_key).unwrap().trim().to_owned();
    let rotate = install
        .command(&[
            "admin",
            "rotate-token-enc-key",
            "--config",
            &cfg,
            "--data",
            &data,
            "--new-key-env",
            "NEW_TOKEN_ENC_KEY",
        ])
        .env("NEW_TOKEN_ENC_KEY", &new_key)
        .output()
        .unwrap();
    ok(&rotate);
    let server = serve_with(&install, &[("TOKEN_ENC_KEY", &new_key)]);
    refused(&tuf(&["status"], true), "SIGSTORE_E001");
    *enc_key.borrow_mut() = Some(new_key.clone());
    let st = ok(&tuf(&["status"], true));
    assert_eq!(
        st["online_keys"],
        serde_json::json!(["snapshot", "timestamp"]),
        "{st}"
    );
    assert_eq!(st["stale"], false, "{st}");
    let later = ok(&audit(&install, &server.url, &cache, &[]));
    assert_eq!(later["targets_version"], 3, "{later}");

    // The online keys lost or suspect (docs/deployment.md, "Lost TOKEN_ENC_KEY"): new
    // ones, then a root rotation naming them, signed offline; both clients follow.
    drop(server);
    for role in ["timestamp", "snapshot"] {
        let sealed = PathBuf::from(&data).join(format!("tiles/tuf/keys/{role}.sealed"));
        std::fs::remove_file(sealed).unwrap();
    }
    let online2 = install.p("work/online-2");
    let replaced = ok(&tuf(&["online-keys", "--out", &online2], true));
    assert_eq!(
        replaced["created"],
        serde_json::json!(["timestamp", "snapshot"])
    );
    assert_ne!(replaced["keys"]["timestamp"], again["keys"]["timestamp"]);
    let server = serve_with(&install, &[("TOKEN_ENC_KEY", &new_key)]);
    let url = server.url.clone();
    ok(&tuf(
        &["targets", "--repo", &repo_s, "--trust-config", &tc2],
        false,
    ));
    sign("targets", "4.targets.json");
    // The published root names the old online keys: refused until a root names these.
    refused(&tuf(&["publish", "--repo", &repo_s], true), "TUF_E015");
    ok(&tuf(
        &[
            "rotate-root",
            "--repo",
            &repo_s,
            "--timestamp-key",
            &format!("{online2}/timestamp.pub.json"),
            "--snapshot-key",
            &format!("{online2}/snapshot.pub.json"),
        ],
        false,
    ));
    sign("root-b", "3.root.json");
    let bd = sign("root-d", "3.root.json");
    assert_eq!(bd["complete"], true, "{bd}");
    let published = ok(&tuf(&["publish", "--repo", &repo_s], true));
    assert_eq!(published["roots"], serde_json::json!([3]), "{published}");
    assert_eq!(published["targets"], 4, "{published}");
    let followed = ok(&audit(&install, &url, &cache, &[]));
    assert_eq!(followed["root_version"], 3, "{followed}");
    assert_eq!(followed["targets_version"], 4, "{followed}");
    let py = python_tuf(&url, &py_meta, &py_targets, &root1);
    assert!(
        stdout(&py).starts_with("ROOT 3 TARGETS 4 "),
        "{}",
        stdout(&py)
    );
    drop(server);
}
