//! Shared by the integration tests that sign with `vouch serve --dev`'s dev tokens and check the result with other clients: the workflow identity a token names, the workspace root, the `vouch` binary, a command's success, a fresh token, and a plain HTTP GET.
#![allow(dead_code, reason = "each test binary uses part of this")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const REPOSITORY: &str = "octo/demo";
pub const WORKFLOW: &str = ".github/workflows/release.yml";
pub const REF: &str = "refs/heads/main";

/// The workspace root (scripts/, target/, tests/ data).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `vouch` binary under test.
pub fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

/// The command (`what`) succeeded; its output.
#[track_caller]
pub fn ok(out: Output, what: &str) -> Output {
    vouch_testkit::process::assert_success(&out, what);
    out
}

/// A fresh single-use dev token for [`REPOSITORY`]'s [`WORKFLOW`] on [`REF`] (each `jti`
/// is spent by one signing).
pub fn token(base: &str) -> String {
    let out = ok(
        vouch()
            .args(["dev", "token", "--server", base, "--repository", REPOSITORY])
            .args(["--workflow", WORKFLOW, "--ref", REF])
            .output()
            .unwrap(),
        "vouch dev token",
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `GET path` with `Connection: close`; returns status and body.
pub fn get(base: &str, path: &str) -> (u16, Vec<u8>) {
    let (head, body) = vouch_testkit::http1::get(base, path);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "chunked answers are not handled here"
    );
    (status, body)
}

/// `vouch sign FILE` with a fresh [`token`] from `base`, writing `bundle`.
pub fn sign(base: &str, file: &Path, bundle: &Path) {
    let token = token(base);
    ok(
        vouch()
            .arg("sign")
            .arg(file)
            .args(["--identity-token", &token, "--server", base, "--bundle"])
            .arg(bundle)
            .output()
            .unwrap(),
        "vouch sign",
    );
}

/// `python -m sigstore --trust-config CONFIG` from the pinned venv
/// (`vouch_testkit::process::py_venv`), its caches kept under `home`.
pub fn sigstore_python(config: &Path, home: &Path) -> Command {
    let mut c = Command::new(root().join("target/py-venv/bin/python"));
    c.args(["-m", "sigstore", "--trust-config"])
        .arg(config)
        // Keep sigstore-python's caches inside the test's directory.
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"));
    c
}

/// sigstore-python (`sigstore` makes its command) signs `artifact` into `signed`, then
/// attests it with the SLSA provenance `predicate` into `attested`, each with a fresh
/// token from `base`.
pub fn sigstore_python_sign_and_attest(
    sigstore: impl Fn() -> Command,
    base: &str,
    artifact: &Path,
    signed: &Path,
    predicate: &Path,
    attested: &Path,
) {
    ok(
        sigstore()
            .args(["sign", "--identity-token", &token(base), "--bundle"])
            .arg(signed)
            .arg(artifact)
            .output()
            .unwrap(),
        "sigstore sign",
    );
    ok(
        sigstore()
            .args([
                "attest",
                "--predicate-type",
                "https://slsa.dev/provenance/v1",
                "--predicate",
            ])
            .arg(predicate)
            .args(["--identity-token", &token(base), "--bundle"])
            .arg(attested)
            .arg(artifact)
            .output()
            .unwrap(),
        "sigstore attest",
    );
}
