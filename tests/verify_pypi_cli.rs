#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]
//! `vouch verify pypi` end to end on PyPI's own attestations (crates/pep740/tests/data,
//! see SOURCE there): accepted with the right repository, from files beside the
//! distribution, from a provenance file and through a PEP 691 index (a minimal index
//! served by this test); refused with a flipped byte, another repository, another
//! workflow, each with its code and exit status.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SDIST: &str = "gitlab_oidc_project-0.0.3.tar.gz";
const REPO: &str = "https://gitlab.com/facutuesca/gitlab-oidc-project";
const WHEEL: &str = "rfc8785-0.1.2-py3-none-any.whl";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/pep740/tests/data")
        .join(name)
}

fn vouch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(args)
        .output()
        .expect("vouch runs")
}

fn assert_fails(out: &Output, exit: i32, code: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit), "stderr: {stderr}");
    assert!(
        stderr.starts_with(&format!("error[{code}]: ")),
        "expected {code}: {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn assert_ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stderr: {}\nstdout: {stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The sdist and its attestation in a fresh directory (beside each other).
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for f in [SDIST.to_owned(), format!("{SDIST}.publish.attestation")] {
        std::fs::copy(data(&f), dir.path().join(&f)).unwrap();
    }
    let dist = dir.path().join(SDIST);
    (dir, dist)
}

fn provenance_json(repository: &str) -> String {
    let attestation: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data(&format!("{SDIST}.publish.attestation"))).unwrap(),
    )
    .unwrap();
    serde_json::json!({
        "version": 1,
        "attestation_bundles": [{
            "publisher": {"kind": "GitLab", "repository": repository, "workflow_filepath": ".gitlab-ci.yml", "environment": null},
            "attestations": [attestation],
        }],
    })
    .to_string()
}

#[test]
fn gitlab_sdist_verifies_beside_and_with_attestation_and_provenance() {
    let (dir, dist) = workdir();
    let d = dist.to_str().unwrap();
    let out = assert_ok(&vouch(&[
        "verify",
        "pypi",
        d,
        "--repository",
        REPO,
        "--workflow",
        ".gitlab-ci.yml",
    ]));
    assert!(
        out.contains("verified: gitlab_oidc_project-0.0.3.tar.gz"),
        "{out}"
    );
    assert!(
        out.contains(
            "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main"
        ),
        "{out}"
    );

    let att = format!("{d}.publish.attestation");
    let json = assert_ok(&vouch(&[
        "verify",
        "pypi",
        d,
        "--attestation",
        &att,
        "--repository",
        REPO,
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(
        v["dists"][0]["attestations"][0]["predicate_type"],
        "https://docs.pypi.org/attestations/publish/v1"
    );
    assert_eq!(
        v["dists"][0]["attestations"][0]["issuer"],
        "https://gitlab.com"
    );

    let prov = dir.path().join("provenance.json");
    std::fs::write(&prov, provenance_json("facutuesca/gitlab-oidc-project")).unwrap();
    assert_ok(&vouch(&[
        "verify",
        "pypi",
        d,
        "--provenance",
        prov.to_str().unwrap(),
        "--repository",
        REPO,
    ]));
}

#[test]
fn gitlab_sdist_is_refused_for_each_reason() {
    let (dir, dist) = workdir();
    let d = dist.to_str().unwrap();
    // Another repository (the certificate's source repository claim).
    let other = "https://gitlab.com/facutuesca/other-project";
    assert_fails(
        &vouch(&["verify", "pypi", d, "--repository", other]),
        1,
        "VERIFY_E026",
    );
    // Another workflow.
    assert_fails(
        &vouch(&[
            "verify",
            "pypi",
            d,
            "--repository",
            REPO,
            "--workflow",
            "deploy.yml",
        ]),
        1,
        "PEP740_E009",
    );
    // A provenance that names another publisher.
    let prov = dir.path().join("provenance.json");
    std::fs::write(&prov, provenance_json("facutuesca/other-project")).unwrap();
    let p = prov.to_str().unwrap();
    assert_fails(
        &vouch(&["verify", "pypi", d, "--provenance", p, "--repository", REPO]),
        1,
        "PEP740_E011",
    );
    // The staging root does not know the public-good instance.
    assert_fails(
        &vouch(&["verify", "pypi", d, "--repository", REPO, "--staging"]),
        1,
        "VERIFY_E016",
    );
    // A host that is no forge.
    assert_fails(
        &vouch(&[
            "verify",
            "pypi",
            d,
            "--repository",
            "https://example.com/a/b",
        ]),
        2,
        "PEP740_E012",
    );
    // One flipped byte in the distribution.
    let mut bytes = std::fs::read(&dist).unwrap();
    bytes[200] ^= 0x01;
    std::fs::write(&dist, &bytes).unwrap();
    assert_fails(
        &vouch(&["verify", "pypi", d, "--repository", REPO]),
        1,
        "PEP740_E007",
    );
}

#[test]
fn staging_wheel_verifies_by_email_identity() {
    let wheel = data(WHEEL);
    let w = wheel.to_str().unwrap();
    let args = |id: &'static str| {
        vec![
            "verify",
            "pypi",
            w,
            "--staging",
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
        ]
    };
    assert_ok(&vouch(&args("william@yossarian.net")));
    assert_fails(&vouch(&args("mallory@example.com")), 1, "VERIFY_E024");
}

/// A minimal PEP 691 index on loopback: the project page lists the sdist with a
/// relative provenance URL; everything else is 404.
fn serve_index(provenance: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut line).unwrap();
            while {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap() > 2
            } {}
            let path = line.split(' ').nth(1).unwrap_or("").to_owned();
            let (status, body) = match path.as_str() {
                "/simple/gitlab-oidc-project/" => (
                    "200 OK",
                    serde_json::json!({
                        "meta": {"api-version": "1.3"}, "name": "gitlab-oidc-project",
                        "files": [{"filename": SDIST, "url": "../../files/x", "hashes": {},
                                   "provenance": "../../files/sdist.provenance"}],
                    })
                    .to_string(),
                ),
                "/files/sdist.provenance" => ("200 OK", provenance.clone()),
                _ => ("404 Not Found", String::new()),
            };
            let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    format!("http://{addr}")
}

#[test]
fn provenance_is_found_through_an_index() {
    let (_dir, dist) = workdir();
    let d = dist.to_str().unwrap();
    let index = serve_index(provenance_json("facutuesca/gitlab-oidc-project"));
    let out = assert_ok(&vouch(&[
        "verify",
        "pypi",
        d,
        "--index",
        &index,
        "--repository",
        REPO,
    ]));
    assert!(out.contains("/files/sdist.provenance"), "{out}");
    assert_fails(
        &vouch(&[
            "verify",
            "pypi",
            d,
            "--index",
            &index,
            "--repository",
            "https://gitlab.com/facutuesca/x",
        ]),
        1,
        "PEP740_E011",
    );
    // A file the index does not list.
    let wheel = data(WHEEL);
    let w = wheel.to_str().unwrap();
    assert_fails(
        &vouch(&["verify", "pypi", w, "--index", &index, "--repository", REPO]),
        1,
        "PEP740_E018",
    );
}
