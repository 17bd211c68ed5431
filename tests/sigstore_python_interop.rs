//! Interoperability with sigstore-python 4.5.1 (issue #4, Done when): against a running `vouch serve --dev`, sigstore-python signs and attests with vouch's trust config and dev tokens, `vouch verify` accepts both for the right identity and refuses another, `vouch sign` output verifies with sigstore-python, and a tampered artifact fails on both sides.
//!
//! Everything is loopback: the server runs the dev OIDC issuer, the CA, the Rekor v2
//! entry API and the TSA; sigstore-python is pointed at them with `--trust-config`.
//! The venv comes from `scripts/py-venv.sh` (PyPI, pinned), which this test runs.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod common_support;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common_support::{
    get, ok, sigstore_python, sigstore_python_sign_and_attest, token, vouch, REF, REPOSITORY,
    WORKFLOW,
};
use serve_support::start;

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

struct Py {
    trust_config: PathBuf,
    home: PathBuf,
}

impl Py {
    fn sigstore(&self) -> Command {
        sigstore_python(&self.trust_config, &self.home)
    }

    fn verify_identity(&self, file: &Path, bundle: &Path, identity: &str, issuer: &str) -> Output {
        run(self
            .sigstore()
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(bundle)
            .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
            .arg(file))
    }
}

fn vouch_verify(
    file: &Path,
    bundle: &Path,
    identity: &str,
    issuer: &str,
    trusted_root: &Path,
) -> Output {
    run(vouch()
        .arg("verify")
        .arg(file)
        .arg("--bundle")
        .arg(bundle)
        .args([
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
        ])
        .arg("--trusted-root")
        .arg(trusted_root)
        .arg("--json"))
}

/// Asserts a sigstore-python refusal: exit 1 and the reason on stderr.
fn py_refused(out: &Output, reason: &str, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(err.contains(reason), "{what}: expected {reason:?}: {err}");
}

/// Asserts a `vouch verify --json` refusal: exit 1 and exactly the expected code.
fn refused(out: Output, code: &str, what: &str) {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{what}: no JSON on stdout; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(1), "{what}: {v}");
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
}

#[test]
fn sigstore_python_and_vouch_sign_and_verify_each_other() {
    vouch_testkit::process::py_venv();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &[]);
    let base = server.url.clone();
    let issuer = format!("{base}/oidc");
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}");

    // The instance's client trust configuration, and its trusted root for vouch.
    let (status, body) = get(&base, "/api/v1/trust-config");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let trust_config = dir.path().join("trust-config.json");
    std::fs::write(&trust_config, &body).unwrap();
    let config: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        config["mediaType"],
        "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
    );
    let trusted_root = dir.path().join("trusted_root.json");
    std::fs::write(
        &trusted_root,
        serde_json::to_vec(&config["trustedRoot"]).unwrap(),
    )
    .unwrap();
    let py = Py {
        trust_config,
        home: dir.path().join("home"),
    };
    std::fs::create_dir_all(&py.home).unwrap();

    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"hello from vouch's interop test\n").unwrap();
    let tampered = dir.path().join("tampered.txt");
    std::fs::write(&tampered, b"hello from vouch's interop test!\n").unwrap();

    // sigstore-python signs (hashedrekord) and attests (DSSE, logged as a hashedrekord
    // over the PAE) against vouch.
    let signed = dir.path().join("artifact.sigstore.json");
    let predicate = dir.path().join("predicate.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://vouch.example/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main"}}}"#,
    )
    .unwrap();
    let attested = dir.path().join("artifact.intoto.sigstore.json");
    sigstore_python_sign_and_attest(
        || py.sigstore(),
        &base,
        &artifact,
        &signed,
        &predicate,
        &attested,
    );

    // Both bundles carry a Rekor v2 entry from vouch's log and an RFC 3161 timestamp.
    for b in [&signed, &attested] {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(b).unwrap()).unwrap();
        let entry = &v["verificationMaterial"]["tlogEntries"][0];
        assert_eq!(entry["kindVersion"]["version"], "0.0.2", "{v}");
        assert!(entry["inclusionProof"]["checkpoint"]["envelope"].is_string());
        assert!(
            v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
                ["signedTimestamp"]
                .is_string(),
            "{v}"
        );
    }

    // vouch verifies both with the expected identity and issuer...
    for b in [&signed, &attested] {
        ok(
            vouch_verify(&artifact, b, &identity, &issuer, &trusted_root),
            &format!("vouch verify {}", b.display()),
        );
    }
    // ...refuses them for another identity or issuer...
    let other = format!("https://github.com/{REPOSITORY}/.github/workflows/other.yml@{REF}");
    for b in [&signed, &attested] {
        refused(
            vouch_verify(&artifact, b, &other, &issuer, &trusted_root),
            "VERIFY_E024",
            "another identity",
        );
        refused(
            vouch_verify(
                &artifact,
                b,
                &identity,
                "https://token.actions.githubusercontent.com",
                &trusted_root,
            ),
            "VERIFY_E025",
            "another issuer",
        );
        // ...and refuses a tampered artifact.
        refused(
            vouch_verify(&tampered, b, &identity, &issuer, &trusted_root),
            "VERIFY_E011",
            "tampered artifact",
        );
    }

    // sigstore-python agrees on its own bundle, and fails the tampered artifact.
    ok(
        py.verify_identity(&artifact, &signed, &identity, &issuer),
        "sigstore verify identity (sigstore-python bundle)",
    );
    let out = py.verify_identity(&tampered, &signed, &identity, &issuer);
    py_refused(
        &out,
        "Bundle message digest mismatch",
        "sigstore-python, tampered artifact",
    );

    // `vouch sign` output verifies with sigstore-python (and with vouch), and a
    // tampered artifact fails on both sides.
    let vouch_bundle = dir.path().join("artifact.vouch.sigstore.json");
    ok(
        run(vouch()
            .arg("sign")
            .arg(&artifact)
            .args([
                "--identity-token",
                &token(&base),
                "--server",
                &base,
                "--bundle",
            ])
            .arg(&vouch_bundle)),
        "vouch sign",
    );
    ok(
        py.verify_identity(&artifact, &vouch_bundle, &identity, &issuer),
        "sigstore verify identity (vouch sign bundle)",
    );
    ok(
        vouch_verify(&artifact, &vouch_bundle, &identity, &issuer, &trusted_root),
        "vouch verify (vouch sign bundle)",
    );
    let out = py.verify_identity(&tampered, &vouch_bundle, &identity, &issuer);
    py_refused(
        &out,
        "Bundle message digest mismatch",
        "sigstore-python, tampered artifact",
    );
    refused(
        vouch_verify(&tampered, &vouch_bundle, &identity, &issuer, &trusted_root),
        "VERIFY_E011",
        "tampered artifact (vouch sign bundle)",
    );
}
