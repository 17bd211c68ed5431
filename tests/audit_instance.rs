//! `--instance URL` on the lockfile audits (issue 20, item 2): `vouch audit signatures`
//! and `vouch lock --check` re-verify every locked bundle against the instance's root,
//! verified through its TUF repository and cached, as `vouch verify --instance` does.
//! The right instance passes (online, then with the server stopped through
//! `VOUCH_TRUST_ROOT_DIR`, which never connects); another instance's root is refused
//! with the verifier's code on every entry (AUDIT_E002, LOCK_E004).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod sealed_keys_support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use sealed_keys_support::{get, ok, start, vouch};

fn run(cwd: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = vouch();
    for var in [
        "GITHUB_ACTIONS",
        "SIGSTORE_ID_TOKEN",
        "VOUCH_SERVER",
        "VOUCH_TOKEN",
        "VOUCH_TRUST_ROOT_DIR",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).current_dir(cwd).output().unwrap()
}

#[track_caller]
fn refused_with(out: &Output, code: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.starts_with(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn publish(work: &Path, data: &Path, base: &str) {
    let owner = data.join("owner.token");
    ok(run(
        work,
        &[
            "publish",
            "register",
            "--server",
            base,
            "--token-file",
            owner.to_str().unwrap(),
            "--package",
            "@acme/widget",
            "--provider",
            "github",
            "--repo",
            "acme/widget",
            "--workflow",
            "release.yml",
        ],
        &[],
    ));
    let token = ok(run(
        work,
        &[
            "dev",
            "token",
            "--server",
            base,
            "--repository",
            "acme/widget",
            "--workflow",
            ".github/workflows/release.yml",
            "--ref",
            "refs/heads/main",
        ],
        &[],
    ));
    let token_file = work.join("token");
    std::fs::write(&token_file, String::from_utf8(token.stdout).unwrap().trim()).unwrap();
    let pkg = work.join("pkg");
    std::fs::create_dir_all(pkg.join("src")).unwrap();
    std::fs::write(
        pkg.join("vouch.toml"),
        "[package]\nname = \"@acme/widget\"\nversion = \"1.0.0\"\n",
    )
    .unwrap();
    std::fs::write(pkg.join("src/lib.txt"), "widget").unwrap();
    ok(run(
        work,
        &[
            "publish",
            pkg.to_str().unwrap(),
            "--server",
            base,
            "--identity-token-file",
            token_file.to_str().unwrap(),
        ],
        &[],
    ));
}

/// Trusts `base`'s first TUF root once and refreshes into `cache`.
fn trust_instance(work: &Path, base: &str, cache: &Path) {
    let tuf_root = work.join(format!(
        "tuf-root-{}.json",
        base.len() + cache.as_os_str().len()
    ));
    std::fs::write(&tuf_root, get(base, "/tuf/1.root.json")).unwrap();
    ok(run(
        work,
        &[
            "audit",
            "roots",
            "--instance",
            base,
            "--root",
            tuf_root.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ],
        &[],
    ));
}

#[test]
fn lockfile_audits_verify_against_an_instance_root() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = start(&data, free_port());
    let other = start(&tmp.path().join("other"), free_port());
    let (base, other_base) = (server.base.clone(), other.base.clone());
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    publish(&work, &data, &base);
    let consumer = tmp.path().join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    ok(run(
        &consumer,
        &[
            "fetch",
            "@acme/widget@1.0.0",
            "--server",
            &base,
            "--out",
            "out",
        ],
        &[],
    ));

    let cache = tmp.path().join("tuf-cache");
    trust_instance(&work, &base, &cache);
    let wrong_cache = tmp.path().join("wrong-cache");
    trust_instance(&work, &other_base, &wrong_cache);
    let cache_s = cache.to_str().unwrap();

    // The right instance: every entry verifies against its TUF-verified root.
    let out = ok(run(
        &consumer,
        &[
            "audit",
            "signatures",
            "--instance",
            &base,
            "--trust-cache",
            cache_s,
            "--json",
        ],
        &[],
    ));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.to_string().contains("verified"), "{report}");
    ok(run(
        &consumer,
        &[
            "lock",
            "--check",
            "--instance",
            &base,
            "--trust-cache",
            cache_s,
        ],
        &[],
    ));

    // Another instance's root: nothing it did not sign verifies, each entry with the
    // verifier's code, and the command with the audit's.
    let wrong = wrong_cache.to_str().unwrap();
    let table = refused_with(
        &run(
            &consumer,
            &[
                "audit",
                "signatures",
                "--instance",
                &other_base,
                "--trust-cache",
                wrong,
            ],
            &[],
        ),
        "AUDIT_E002",
    );
    assert!(table.contains("mismatched  VERIFY_E"), "{table}");
    let check = refused_with(
        &run(
            &consumer,
            &[
                "lock",
                "--check",
                "--instance",
                &other_base,
                "--trust-cache",
                wrong,
            ],
            &[],
        ),
        "LOCK_E004",
    );
    assert!(check.contains("LOCK_E004"), "{check}");
    drop(other);

    // Air-gapped: with the server stopped, VOUCH_TRUST_ROOT_DIR is read as if --offline
    // (a connection attempt would fail the command), and --offline reads the cache.
    drop(server);
    ok(run(
        &consumer,
        &["audit", "signatures", "--instance", &base],
        &[("VOUCH_TRUST_ROOT_DIR", &cache)],
    ));
    ok(run(
        &consumer,
        &[
            "lock",
            "--check",
            "--instance",
            &base,
            "--offline",
            "--trust-cache",
            cache_s,
        ],
        &[],
    ));
}
