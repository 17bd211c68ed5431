//! Recovery from a lost TOKEN_ENC_KEY through the binary, against a stopped `vouch serve --dev` instance: `vouch admin keys reset-sigstore` (new CA, TSA and CT keys, a new CT log) plus `vouch admin keys reset` (registry key) bring the server back; new bundles verify against the new trusted root, old bundles only against the saved old one; the confirmation refusal (ADMIN_E035) writes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod sealed_keys_support;

use std::path::Path;
use std::process::Output;

use sealed_keys_support::*;

fn audit(base: &str, data: &Path, action: &str) -> Vec<serde_json::Value> {
    let out = ok(vouch()
        .args(["admin", "audit", "--server", base, "--token-file"])
        .arg(data.join("admin.token"))
        .args(["--action", action, "--json"])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["events"].as_array().unwrap().clone()
}

#[test]
fn lost_token_enc_key_recovers_with_a_new_trust_root() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed before the key was lost\n").unwrap();
    let old_bundle = dir.path().join("old.sigstore.json");
    let old_root = dir.path().join("old_trusted_root.json");
    let new_root = dir.path().join("new_trusted_root.json");

    let server = start(&data, port);
    let trust_before = get(&server.base, "/api/v1/trust-config");
    let config: serde_json::Value = serde_json::from_slice(&trust_before).unwrap();
    std::fs::write(
        &old_root,
        serde_json::to_vec(&config["trustedRoot"]).unwrap(),
    )
    .unwrap();
    sign(&server.base, &artifact, &old_bundle);
    ok(verify(&server.base, &artifact, &old_bundle, &old_root));
    drop(server);

    // TOKEN_ENC_KEY lost: a new random one in its place; the server refuses to start.
    let key_file = data.join("token_enc.key");
    std::fs::remove_file(&key_file).unwrap();
    ok(vouch()
        .args(["keygen", "token-enc-key", "--out"])
        .arg(&key_file)
        .output()
        .unwrap());
    let out = vouch()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("error[SIGSTORE_E001]"), "{err}");

    // Without --yes: refused, nothing written.
    let before = sealed_objects(&data);
    let tiles_before = tree(&data.join("tiles"));
    refused(reset_sigstore(&data, &[]), "ADMIN_E035");
    assert_eq!(sealed_objects(&data), before, "nothing was written");
    assert_eq!(tree(&data.join("tiles")), tiles_before);

    let out = ok(reset_sigstore(&data, &["--yes", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["from_generation"].as_u64(), v["generation"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert!(v["ct_origin"].as_str().unwrap().ends_with("/ct-g2"), "{v}");
    // The old objects are kept (evidence), the new generation sits beside them, and
    // the new CT log has its own objects.
    let names: Vec<String> = sealed_objects(&data).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "ca.sealed",
            "ca.sealed.g2",
            "ct-note.sealed",
            "ct-note.sealed.g2",
            "rekor-v1.sealed",
            "tsa.sealed",
            "tsa.sealed.g2"
        ]
    );
    assert_eq!(sealed_objects(&data)[0], before[0], "ca.sealed untouched");
    assert!(data.join("tiles/ct-g2").is_dir());
    assert!(data.join("tiles/ct").is_dir(), "the old CT log is kept");

    // The registry key was sealed under the lost key too.
    ok(vouch()
        .args(["admin", "keys", "reset", "--dev", "--yes", "--data"])
        .arg(&data)
        .output()
        .unwrap());

    let server = start(&data, port);
    let trust_after = get(&server.base, "/api/v1/trust-config");
    assert_ne!(trust_after, trust_before, "a new trust root");
    let config: serde_json::Value = serde_json::from_slice(&trust_after).unwrap();
    std::fs::write(
        &new_root,
        serde_json::to_vec(&config["trustedRoot"]).unwrap(),
    )
    .unwrap();
    let ct = String::from_utf8(get(&server.base, "/ct/checkpoint")).unwrap();
    assert!(ct.starts_with(v["ct_origin"].as_str().unwrap()), "{ct}");

    let new_bundle = dir.path().join("new.sigstore.json");
    sign(&server.base, &artifact, &new_bundle);
    ok(verify(&server.base, &artifact, &new_bundle, &new_root));
    // The old bundle chains to the old root only.
    verify_refused(
        verify(&server.base, &artifact, &old_bundle, &new_root),
        WRONG_ROOT,
    );
    ok(verify(&server.base, &artifact, &old_bundle, &old_root));
    verify_refused(
        verify(&server.base, &artifact, &new_bundle, &old_root),
        WRONG_ROOT,
    );

    let events = audit(&server.base, &data, "instance.sigstore_keys_reset");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        audit(&server.base, &data, "registry.signing_key.reset").len(),
        1
    );
}

/// A bundle checked against the other generation's trusted root: its timestamp's TSA
/// is not in that root (checked before the certificate chain).
const WRONG_ROOT: &str = "VERIFY_E022";

/// `vouch verify` refused the bundle (exit 1) with exactly `code`.
#[track_caller]
fn verify_refused(out: Output, code: &str) {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// An instance whose current sealed objects are not there (not initialised) is refused
/// before anything is written: no next generation, no new CT log.
#[test]
fn reset_sigstore_refuses_an_uninitialised_instance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    drop(start(&data, port));
    std::fs::remove_file(data.join("tiles/sigstore/tsa.sealed")).unwrap();
    let before = tree(&data.join("tiles"));
    let err = refused(reset_sigstore(&data, &["--yes"]), "ADMIN_E032");
    assert!(err.contains("sigstore/tsa.sealed"), "{err}");
    assert_eq!(tree(&data.join("tiles")), before, "nothing was written");
}
