//! `vouch sign --key` (issue 20, item 5): signing with a managed key. `vouch keygen
//! signing-key` writes an unencrypted P-256 PKCS#8 key (a SEC1 `EC PRIVATE KEY` of the
//! same key signs too); the bundle names the key by cosign's and sigstore-go's hint
//! (base64 of SHA-256 of the DER public key) and is logged in vouch's Rekor: v2 by default
//! (with an RFC 3161 timestamp), v1 when the signing config offers only v1. `vouch verify
//! --key` accepts it and refuses it for another key or without a key; sigstore-js
//! (`@sigstore/verify`, which finds the key by that hint) verifies it too; an encrypted
//! cosign key is refused with SIGN_E023.
//!
//! Needs node and npm for the sigstore-js half (as tests/sigstore_js_interop.rs): a
//! missing tool FAILS the test.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vouch(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    for var in ["SIGSTORE_ID_TOKEN", "GITHUB_ACTIONS", "VOUCH_SERVER"] {
        cmd.env_remove(var);
    }
    cmd.args(args).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn ok(out: Output) -> Output {
    vouch_testkit::process::assert_success(&out, "vouch");
    out
}

#[track_caller]
fn fails_with(out: &Output, exit: i32, code: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit), "{err}");
    assert!(
        err.contains(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Copies the node project into its own target directory and runs `npm ci` there.
fn install_sigstore_js() -> PathBuf {
    let dir = root().join("target/sigstore-js-key");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["package.json", "package-lock.json", "verify-key.mjs"] {
        std::fs::copy(root().join("tests/sigstore_js").join(f), dir.join(f)).unwrap();
    }
    if !dir.join("node_modules/@sigstore/verify").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .args(["--loglevel=error"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("sign_key needs npm on PATH: {e}"));
        assert!(
            out.status.success(),
            "`npm ci` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

fn sigstore_js(js: &Path, config: &Path, bundle: &Path, file: &Path, key: &Path) -> Output {
    Command::new("node")
        .arg(js.join("verify-key.mjs"))
        .args([config, bundle, file, key])
        .output()
        .unwrap()
}

fn spki_hint(public_pem: &str) -> String {
    let b64: String = public_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(der))
}

#[test]
fn sign_with_a_managed_key_and_verify_with_its_public_key() {
    let js = install_sigstore_js();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = serve_support::start(&d.join("data"), &[]);
    let base = server.url.clone();

    // The served trust config (trusted root and signing config), and a v1-only copy.
    let config: serde_json::Value = reqwest::blocking::get(format!("{base}/api/v1/trust-config"))
        .unwrap()
        .json()
        .unwrap();
    let config_path = d.join("trust-config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let root_path = d.join("trusted_root.json");
    std::fs::write(&root_path, config["trustedRoot"].to_string()).unwrap();
    let mut v1 = config.clone();
    let v1_log = v1["signingConfig"]["rekorTlogUrls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["majorApiVersion"] == 1)
        .cloned()
        .unwrap();
    v1["signingConfig"]["rekorTlogUrls"] = serde_json::json!([v1_log]);
    v1["signingConfig"]["tsaUrls"] = serde_json::json!([]);
    let v1_path = d.join("trust-config-v1.json");
    std::fs::write(&v1_path, v1.to_string()).unwrap();

    // Two keys; the public halves as `vouch keygen` prints them.
    let key = d.join("signing.key");
    let public =
        String::from_utf8(ok(vouch(&["keygen", "signing-key", "--out", s(&key)])).stdout).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let public_path = d.join("signing.pub");
    std::fs::write(&public_path, &public).unwrap();
    let other = d.join("other.key");
    let other_public = ok(vouch(&["keygen", "signing-key", "--out", s(&other)])).stdout;
    let other_path = d.join("other.pub");
    std::fs::write(&other_path, other_public).unwrap();

    let file = d.join("artifact.txt");
    std::fs::write(&file, b"signed with a managed key\n").unwrap();
    let verify = |bundle: &Path, key: &Path| {
        vouch(&[
            "verify",
            s(&file),
            "--bundle",
            s(bundle),
            "--key",
            s(key),
            "--trusted-root",
            s(&root_path),
        ])
    };

    for (name, services) in [
        ("v2", ["--server", base.as_str()]),
        ("v1", ["--trust-config", s(&v1_path)]),
    ] {
        let bundle = d.join(format!("artifact.{name}.sigstore.json"));
        let out = ok(vouch(&[
            "sign",
            s(&file),
            "--key",
            s(&key),
            services[0],
            services[1],
            "--bundle",
            s(&bundle),
            "--json",
        ]));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(report["log_index"].as_u64().is_some(), "{report}");
        let b: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
        let material = &b["verificationMaterial"];
        assert_eq!(
            material["publicKey"]["hint"].as_str(),
            Some(spki_hint(&public).as_str()),
            "{name}: {material}"
        );
        assert!(material.get("certificate").is_none(), "{material}");
        let entry = &material["tlogEntries"][0];
        let kind = &entry["kindVersion"];
        let timestamps = material["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map_or(0, Vec::len);
        match name {
            "v2" => {
                assert_eq!(kind["version"], "0.0.2", "{entry}");
                assert_eq!(timestamps, 1, "{material}");
            }
            _ => {
                assert_eq!(kind["version"], "0.0.1", "{entry}");
                assert!(entry["inclusionPromise"].is_object(), "{entry}");
            }
        }
        // The log names the public key (not a certificate).
        let body: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(entry["canonicalizedBody"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let body = body.to_string();
        assert!(!body.contains("x509Certificate"), "{name}: {body}");

        ok(verify(&bundle, &public_path));
        // Another key: refused by the signature check (exit 1, a VERIFY_E code).
        let wrong = verify(&bundle, &other_path);
        assert_eq!(wrong.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&wrong.stderr);
        assert!(err.starts_with("error[VERIFY_E"), "{name}: {err}");
        // Without a key, a managed-key bundle is not mistaken for a keyless one.
        let keyless = vouch(&[
            "verify",
            s(&file),
            "--bundle",
            s(&bundle),
            "--certificate-identity",
            "ada@example.org",
            "--certificate-oidc-issuer",
            &format!("{base}/oidc/email"),
            "--trusted-root",
            s(&root_path),
        ]);
        assert_eq!(keyless.status.code(), Some(1), "{name}");

        // sigstore-js finds the key by the hint and verifies; not with another key.
        let js_ok = sigstore_js(&js, &config_path, &bundle, &file, &public_path);
        assert!(
            js_ok.status.success(),
            "sigstore-js ({name}): {}{}",
            String::from_utf8_lossy(&js_ok.stdout),
            String::from_utf8_lossy(&js_ok.stderr)
        );
        let js_wrong = sigstore_js(&js, &config_path, &bundle, &file, &other_path);
        assert_eq!(
            js_wrong.status.code(),
            Some(1),
            "sigstore-js ({name}) with another key"
        );
    }

    // The same key as SEC1 (`EC PRIVATE KEY`) signs as the same signer.
    let sec1 = d.join("signing.sec1.key");
    let openssl = Command::new("openssl")
        .args(["ec", "-in", s(&key), "-out", s(&sec1)])
        .output();
    if openssl.as_ref().is_ok_and(|o| o.status.success()) {
        let bundle = d.join("artifact.sec1.sigstore.json");
        ok(vouch(&[
            "sign",
            s(&file),
            "--key",
            s(&sec1),
            "--server",
            &base,
            "--bundle",
            s(&bundle),
        ]));
        ok(verify(&bundle, &public_path));
    }

    // cosign's password-encrypted key format, and a public key, are refused by code.
    let encrypted = d.join("cosign.key");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
    )
    .unwrap();
    for bad in [&encrypted, &public_path] {
        let out = vouch(&[
            "sign",
            s(&file),
            "--key",
            s(bad),
            "--server",
            &base,
            "--bundle",
            s(&d.join("never.json")),
        ]);
        fails_with(&out, 2, "SIGN_E023");
    }
    assert!(!d.join("never.json").exists());
}
