//! The whole sigstore-conformance bundle-verify suite through the real `vouch` binary with
//! the suite's CLI protocol (`vouch conformance verify-bundle ...`), by file path and by
//! `sha256:` digest. Each `_fail` case must fail with the error code pinned in
//! `crates/verify/tests/support/cases.rs`, so none passes by failing for the wrong reason.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

#[path = "../crates/verify/tests/support/cases.rs"]
mod cases;

use std::path::Path;
use std::process::Command;

use cases::Case;
use sha2::{Digest, Sha256};

fn run(case: &Case, by_digest: bool) -> Result<(), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    cmd.args(["conformance", "verify-bundle", "--bundle"])
        .arg(&case.bundle);
    match &case.key {
        Some(key) => {
            cmd.arg("--key").arg(key);
        }
        None => {
            cmd.args(["--certificate-identity", &case.identity]);
            cmd.args(["--certificate-oidc-issuer", &case.issuer]);
        }
    }
    if let Some(root) = &case.trusted_root {
        cmd.arg("--trusted-root").arg(root);
    }
    if by_digest {
        let bytes = std::fs::read(&case.artifact).expect("artifact is readable");
        cmd.arg(format!("sha256:{}", hex(&Sha256::digest(&bytes))));
    } else {
        cmd.arg(&case.artifact);
    }
    let out = cmd.output().expect("vouch runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Ok(());
    }
    // The one error line: `error[CODE]: message`, reported as `CODE: message`.
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error["))
        .unwrap_or("no error line");
    let code = line
        .strip_prefix("error[")
        .and_then(|l| l.split_once("]: "));
    Err(match code {
        Some((code, msg)) => format!("{code}: {msg} (exit {:?})", out.status.code()),
        None => format!(
            "unexpected stderr {stderr:?} (exit {:?})",
            out.status.code()
        ),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_conformance_case_through_the_cli_protocol() {
    let cases = cases::load(&cases::suite_dir(Path::new(env!("CARGO_MANIFEST_DIR")), 0));
    let mut problems = cases::table_problems(&cases);
    let runs: Vec<(&Case, bool)> = cases
        .iter()
        .filter(|c| !c.is_exception())
        .flat_map(|c| [(c, false), (c, true)])
        .collect();
    // Four workers: each run is a process start plus one verification.
    let found: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = runs
            .chunks(runs.len().div_ceil(4))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(case, by_digest)| {
                            let how = if *by_digest { "digest" } else { "path" };
                            cases::judge(case, how, run(case, *by_digest))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    problems.extend(found);
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn failures_exit_non_zero_and_verified_exits_zero() {
    let cases = cases::load(&cases::suite_dir(Path::new(env!("CARGO_MANIFEST_DIR")), 0));
    let case = cases
        .iter()
        .find(|c| c.name == "happy-path-v0.3")
        .expect("happy path case");
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["conformance", "verify-bundle", "--bundle"])
        .arg(&case.bundle)
        .args([
            "--certificate-identity",
            &case.identity,
            "--certificate-oidc-issuer",
            &case.issuer,
        ])
        .arg(&case.artifact)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["conformance", "verify-bundle", "--bundle"])
        .arg(&case.bundle)
        .args([
            "--certificate-identity",
            "someone@else",
            "--certificate-oidc-issuer",
            &case.issuer,
        ])
        .arg(&case.artifact)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error[VERIFY_E024]: identity mismatch: expected someone@else, found https://github.com/"), "{stderr}");
}
