#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]
//! `vouch attest pypi` against `vouch serve --dev` (CA and Rekor v1 log): the attestation
//! of a hand-made wheel is accepted by the real pypi-attestations library
//! (`Attestation.model_validate_json`, `to_bundle()`, sigstore-python's `Verifier` with
//! vouch's trusted root, and the statement's one subject) and by
//! `vouch verify pypi --attestation`; another repository, another workflow and other
//! bytes are refused, each with its code.

mod common_support;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common_support::{ok, root, token, REPOSITORY, WORKFLOW};
use serde_json::Value;

const WHEEL: &str = "demo_pkg-1.0-py3-none-any.whl";

fn vouch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(args)
        .output()
        .unwrap()
}

/// `vouch attest pypi FILES.. --server BASE --identity-token TOKEN EXTRA..`.
fn attest_pypi(base: &str, token: &str, files: &[&str], extra: &[&str]) -> Output {
    let mut args = vec![
        "attest",
        "pypi",
        "--server",
        base,
        "--identity-token",
        token,
    ];
    args.extend_from_slice(files);
    args.extend_from_slice(extra);
    vouch(&args)
}

fn assert_fails(out: &Output, code: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.starts_with(&format!("error[{code}]: ")),
        "expected {code}: {stderr:?}"
    );
}

/// pypi-attestations reads the attestation and converts it to a bundle, which
/// sigstore-python verifies with vouch's root for the workflow's identity; the
/// statement's one subject must be the wheel's name and digest.
const PY_VERIFY: &str = r#"
import hashlib, json, sys
from pypi_attestations import Attestation, Distribution
from sigstore.models import TrustedRoot
from sigstore.verify import Verifier, policy
wheel, attestation, root, identity, issuer, repository = sys.argv[1:]
a = Attestation.model_validate_json(open(attestation, "rb").read())
dist = Distribution.from_file(__import__("pathlib").Path(wheel))
verifier = Verifier(trusted_root=TrustedRoot.from_file(root))
pol = policy.AllOf([policy.Identity(identity=identity, issuer=issuer), policy.OIDCSourceRepositoryURI(repository)])
type_, payload = verifier.verify_dsse(a.to_bundle(), pol)
statement = json.loads(payload)
assert type_ == "application/vnd.in-toto+json", type_
assert statement["predicateType"] == "https://docs.pypi.org/attestations/publish/v1", statement
assert len(statement["subject"]) == 1, statement
assert statement["subject"][0]["name"] == dist.name, statement
assert statement["subject"][0]["digest"]["sha256"] == dist.digest, statement
print("OK", a.verification_material.transparency_entries[0]["kindVersion"])
"#;

/// The server's trusted root (from its trust config), saved as `dir/trusted_root.json`.
fn save_trusted_root(base: &str, dir: &Path) -> PathBuf {
    let config: Value = reqwest::blocking::get(format!("{base}/api/v1/trust-config"))
        .unwrap()
        .json()
        .unwrap();
    let trusted_root = dir.join("trusted_root.json");
    std::fs::write(&trusted_root, config["trustedRoot"].to_string()).unwrap();
    trusted_root
}

fn make_wheel(dir: &Path) -> PathBuf {
    let wheel = dir.join(WHEEL);
    let py = root().join("target/py-venv/bin/python");
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    z.writestr('demo_pkg/__init__.py', 'VALUE = 1\\n')\n    z.writestr('demo_pkg-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: demo-pkg\\nVersion: 1.0\\n')\n    z.writestr('demo_pkg-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: hand\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')\n    z.writestr('demo_pkg-1.0.dist-info/RECORD', '')\n";
    ok(
        Command::new(py)
            .args(["-c", script])
            .arg(&wheel)
            .output()
            .unwrap(),
        "make wheel",
    );
    wheel
}

#[test]
fn attest_pypi_is_accepted_by_pypi_attestations_and_vouch_verify_pypi() {
    vouch_testkit::process::py_venv();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_support::start(&dir.path().join("data"), &[]);
    let base = server.url.clone();
    let issuer = format!("{base}/oidc");
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@refs/heads/main");
    let trusted_root = save_trusted_root(&base, dir.path());
    let token = token(&base);

    let wheel = make_wheel(dir.path());
    let w = wheel.to_str().unwrap();
    let out = ok(
        attest_pypi(&base, &token, &[w], &["--json"]),
        "vouch attest pypi",
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["identity"], identity.as_str(), "{report}");
    let attestation = format!("{w}.publish.attestation");
    assert_eq!(report["attested"][0]["attestation"], attestation.as_str());

    // The attestation carries a Rekor v1 dsse entry with its SET.
    let a: Value = serde_json::from_slice(&std::fs::read(&attestation).unwrap()).unwrap();
    let entry = &a["verification_material"]["transparency_entries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "dsse", "{a}");
    assert_eq!(entry["kindVersion"]["version"], "0.0.1", "{a}");
    assert!(
        entry["inclusionPromise"]["signedEntryTimestamp"].is_string(),
        "{a}"
    );

    // pypi-attestations + sigstore-python accept it.
    let repo_url = format!("https://github.com/{REPOSITORY}");
    let py = Command::new(root().join("target/py-venv/bin/python"))
        .args([
            "-c",
            PY_VERIFY,
            w,
            &attestation,
            trusted_root.to_str().unwrap(),
            &identity,
            &issuer,
            &repo_url,
        ])
        .output()
        .unwrap();
    let py = ok(py, "pypi-attestations verification");
    assert!(String::from_utf8_lossy(&py.stdout).starts_with("OK"));

    // vouch verify pypi accepts it with the repository and workflow...
    let root_arg = trusted_root.to_str().unwrap();
    let verify = |repo: &str, workflow: &str, file: &str| {
        vouch(&[
            "verify",
            "pypi",
            file,
            "--attestation",
            &attestation,
            "--repository",
            repo,
            "--workflow",
            workflow,
            "--certificate-oidc-issuer",
            &issuer,
            "--trusted-root",
            root_arg,
        ])
    };
    let out = ok(verify(&repo_url, "release.yml", w), "vouch verify pypi");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verified: demo_pkg-1.0-py3-none-any.whl")
    );
    // ...and refuses another repository, another workflow, and other bytes.
    assert_fails(
        &verify("https://github.com/octo/other", "release.yml", w),
        "VERIFY_E026",
    );
    assert_fails(&verify(&repo_url, "deploy.yml", w), "PEP740_E009");
    let other = dir.path().join("other").join(WHEEL);
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let mut bytes = std::fs::read(&wheel).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&other, bytes).unwrap();
    assert_fails(
        &verify(&repo_url, "release.yml", other.to_str().unwrap()),
        "PEP740_E007",
    );
    // Without the server's issuer, the forge's own is required.
    let out = vouch(&[
        "verify",
        "pypi",
        w,
        "--repository",
        &repo_url,
        "--trusted-root",
        root_arg,
    ]);
    assert_fails(&out, "VERIFY_E025");
}

/// Bench (ignored; figures in docs/performance.md): `vouch verify pypi` over a 100-file
/// release offline, the attestations beside the files. Run with
/// `cargo nextest run --release -p vouch --test pypi_attest --run-ignored only`.
#[test]
#[ignore = "benchmark"]
fn bench_verify_pypi_100_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_support::start(&dir.path().join("data"), &[]);
    let base = server.url.clone();
    let trusted_root = save_trusted_root(&base, dir.path());
    let token = token(&base);
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let files: Vec<String> = (0..100)
        .map(|i| {
            let f = dist.join(format!("demo_pkg{i}-1.0-py3-none-any.whl"));
            std::fs::write(&f, vec![i as u8; 64 * 1024]).unwrap();
            f.to_str().unwrap().to_owned()
        })
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    ok(
        attest_pypi(&base, &token, &files, &[]),
        "vouch attest pypi (100 files)",
    );
    drop(server); // offline from here on
    let issuer = format!("{base}/oidc");
    let repo_url = format!("https://github.com/{REPOSITORY}");
    let mut args: Vec<&str> = vec![
        "verify",
        "pypi",
        "--repository",
        &repo_url,
        "--workflow",
        "release.yml",
        "--certificate-oidc-issuer",
        &issuer,
        "--trusted-root",
        trusted_root.to_str().unwrap(),
    ];
    args.extend(&files);
    let bin = serve_support::bench_bin();
    println!("verifying with {}", bin.display());
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = std::time::Instant::now();
        ok(
            Command::new(&bin).args(&args).output().unwrap(),
            "vouch verify pypi (100 files)",
        );
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "vouch verify pypi, 100 files offline: best {:?}, median {:?}, worst {:?} ({} threads)",
        times[0],
        times[2],
        times[4],
        std::thread::available_parallelism().unwrap()
    );
}
