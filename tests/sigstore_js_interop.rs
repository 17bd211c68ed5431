//! Interoperability with sigstore-js (issue 12): `@sigstore/verify` 4.1.3 from npm, the
//! Sigstore client npm itself uses, verifies `vouch sign` bundles (message signature and
//! DSSE in-toto) against a running `vouch serve --dev`'s trusted root, and refuses them
//! for another identity.
//!
//! sigstore-js finds the log of a checkpoint signature by key hint AND requires the
//! signer's name (the log origin) to appear in that log's `baseUrl`, as public Rekor v2
//! logs do; vouch derives its origin from its public URL for this. Before that it
//! refused every vouch bundle with "invalid checkpoint signature".
//!
//! Needs node and npm: `npm ci` installs exactly what tests/sigstore_js/package-lock.json
//! pins into target/sigstore-js/. A missing tool FAILS the test, it never skips.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod common_support;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common_support::{get, ok, root, token, vouch, REF, REPOSITORY, WORKFLOW};
use serve_support::start;

/// Copies the node project into target/sigstore-js and runs `npm ci` there.
fn install_sigstore_js() -> PathBuf {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "sigstore_js_interop needs node on PATH (found: {node:?}); CI must install it"
    );
    let dir = root().join("target/sigstore-js");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["package.json", "package-lock.json", "verify.mjs"] {
        std::fs::copy(root().join("tests/sigstore_js").join(f), dir.join(f)).unwrap();
    }
    let out = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`npm ci` in {} failed (is the npm registry reachable?): {}",
            dir.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("sigstore_js_interop needs npm on PATH: {e}; CI must install it"),
    }
    dir
}

/// sigstore-js's verdict on one bundle, as the script's JSON line, and its exit status.
fn sigstore_js(
    js: &Path,
    trust_config: &Path,
    bundle: &Path,
    artifact: Option<&Path>,
    identity: &str,
    issuer: &str,
) -> (Option<i32>, serde_json::Value) {
    let out = Command::new("node")
        .arg(js.join("verify.mjs"))
        .arg(trust_config)
        .arg(bundle)
        .arg(artifact.map_or_else(|| "-".into(), |a| a.as_os_str().to_owned()))
        .args([identity, issuer])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let verdict = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
        panic!(
            "sigstore-js printed no verdict ({e}):\nstdout: {line}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), verdict)
}

#[test]
fn sigstore_js_verifies_vouch_sign_bundles() {
    let js = install_sigstore_js();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &[]);
    let base = server.url.clone();
    let issuer = format!("{base}/oidc");
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}");

    let (status, body) = get(&base, "/api/v1/trust-config");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let trust_config = dir.path().join("trust-config.json");
    std::fs::write(&trust_config, &body).unwrap();
    // The log's origin is its public URL's host:port, which its baseUrl contains.
    let (_, checkpoint) = get(&base, "/log/checkpoint");
    let origin = String::from_utf8_lossy(&checkpoint)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(format!("http://{origin}"), base);

    // A message signature over a file.
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"hello from vouch's sigstore-js interop test\n").unwrap();
    let signed = dir.path().join("artifact.sigstore.json");
    ok(
        vouch()
            .arg("sign")
            .arg(&artifact)
            .args(["--identity-token", &token(&base), "--server", &base])
            .arg("--bundle")
            .arg(&signed)
            .output()
            .unwrap(),
        "vouch sign",
    );
    // A DSSE envelope over an in-toto statement.
    let statement = root().join("../shared/vectors/sigstore-conformance/statement.json");
    let attested = dir.path().join("statement.sigstore.json");
    ok(
        vouch()
            .arg("sign")
            .arg(&statement)
            .args(["--in-toto", "--identity-token", &token(&base)])
            .args(["--server", &base, "--bundle"])
            .arg(&attested)
            .output()
            .unwrap(),
        "vouch sign --in-toto",
    );

    for (bundle, artifact) in [(&signed, Some(artifact.as_path())), (&attested, None)] {
        let (code, verdict) = sigstore_js(&js, &trust_config, bundle, artifact, &identity, &issuer);
        assert_eq!(code, Some(0), "{}: {verdict}", bundle.display());
        assert_eq!(verdict["verified"], true, "{verdict}");
        assert_eq!(
            verdict["identity"]["subjectAlternativeName"], identity,
            "{verdict}"
        );

        // Another identity is refused, for that reason and no other.
        let other = format!("https://github.com/{REPOSITORY}/.github/workflows/evil.yml@{REF}");
        let (code, verdict) = sigstore_js(&js, &trust_config, bundle, artifact, &other, &issuer);
        assert_eq!(code, Some(1), "{}: {verdict}", bundle.display());
        assert_eq!(verdict["verified"], false, "{verdict}");
        assert_eq!(verdict["code"], "UNTRUSTED_SIGNER_ERROR", "{verdict}");
        let message = verdict["message"].as_str().unwrap();
        assert!(message.contains("identity"), "{verdict}");
    }
}
