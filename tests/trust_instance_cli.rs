//! Verifying commands with `--instance URL` (issue 20): `vouch verify` trusts the root it
//! refreshed through the instance's TUF repository, and with `--offline` reads the cached,
//! verified root without opening any connection (a loopback listener given as the
//! instance sees none), as does one with `VOUCH_TRUST_ROOT_DIR` set; an offline verify with nothing cached fails with TUF_E014.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common_support;
mod serve_support;

use common_support::{sign, REF, REPOSITORY, WORKFLOW};

fn vouch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(args)
        .env_remove("VOUCH_TRUST_ROOT_DIR")
        .output()
        .expect("run vouch")
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `vouch verify ... --instance URL --trust-cache CACHE EXTRA --json`.
fn verify(
    artifact: &Path,
    bundle: &Path,
    issuer: &str,
    instance: &str,
    cache: &Path,
    extra: &[&str],
) -> (i32, Value) {
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}");
    let mut args = vec![
        "verify",
        artifact.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "--certificate-identity",
        &identity,
        "--certificate-oidc-issuer",
        issuer,
        "--instance",
        instance,
        "--trust-cache",
        cache.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = vouch(&args);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no JSON; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn verify_uses_the_instances_tuf_root_and_offline_opens_no_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_support::start(&dir.path().join("data"), &[]);
    let base = server.url.as_str();
    let cache = dir.path().join("cache");

    // First use: the TUF root out of band, then `audit roots` caches the verified root.
    let root = reqwest::blocking::get(format!("{base}/tuf/1.root.json"))
        .unwrap()
        .bytes()
        .unwrap();
    let root_file = dir.path().join("root.json");
    std::fs::write(&root_file, &root).unwrap();
    let cache_s = cache.to_str().unwrap();
    ok(&vouch(&[
        "audit",
        "roots",
        "--instance",
        base,
        "--root",
        root_file.to_str().unwrap(),
        "--cache",
        cache_s,
    ]));

    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed by the instance\n").unwrap();
    let bundle = dir.path().join("artifact.sigstore.json");
    sign(base, &artifact, &bundle);
    let issuer = format!("{base}/oidc");

    // Online: refreshed through TUF, then verified against that root.
    let (code, v) = verify(&artifact, &bundle, &issuer, base, &cache, &[]);
    assert_eq!(code, 0, "{v}");
    assert!(
        v["trust_root"]
            .as_str()
            .unwrap()
            .contains("trusted_root.json"),
        "{v}"
    );

    // Offline: an instance URL that is a listener recording connections; its cache
    // directory holds the material verified above.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let watched = format!("http://{}", listener.local_addr().unwrap());
    let from = vouch_trust::cache_dir_for(&cache, &vouch_trust::Instance::vouch_server(base));
    let to = vouch_trust::cache_dir_for(&cache, &vouch_trust::Instance::vouch_server(&watched));
    copy_dir(&from, &to);
    // `verify --offline` against `watched`, its cache in `cache`.
    let offline =
        |cache: &Path| verify(&artifact, &bundle, &issuer, &watched, cache, &["--offline"]);
    let (code, v) = offline(&cache);
    assert_eq!(code, 0, "{v}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("an offline verify connected to the instance: {other:?}"),
    }

    // VOUCH_TRUST_ROOT_DIR (no --trust-cache, no --offline) is the air-gapped copy: read
    // as if --offline, never refreshed.
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}");
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args([
            "verify",
            artifact.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
        ])
        .args([
            "--certificate-identity",
            &identity,
            "--certificate-oidc-issuer",
            &issuer,
        ])
        .args(["--instance", &watched])
        .env("VOUCH_TRUST_ROOT_DIR", &cache)
        .output()
        .unwrap();
    ok(&out);
    assert!(listener.accept().is_err(), "VOUCH_TRUST_ROOT_DIR connected");

    // Offline with nothing cached: refused with its code, still no connection.
    let empty = dir.path().join("empty-cache");
    let (code, v) = offline(&empty);
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["error"]["code"], "TUF_E014", "{v}");
    assert!(listener.accept().is_err());

    // A cached root altered after it was verified is refused, not trusted.
    std::fs::write(to.join("targets").join("trusted_root.json"), b"{}").unwrap();
    let (code, v) = offline(&cache);
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["error"]["code"], "TUF_E012", "{v}");
}
