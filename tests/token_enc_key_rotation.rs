//! `vouch admin rotate-token-enc-key --dev` through the binary, against a stopped `vouch serve --dev` instance: a crashed earlier attempt changes nothing, a wrong old key is refused with nothing changed (SIGSTORE_E001), the rotation re-seals everything, a rerun after the commit finishes, the old key no longer starts the server (SIGSTORE_E001), and with the new key the same trust config and registry key serve, old bundles verify and signing works.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod sealed_keys_support;

use std::path::Path;
use std::process::Output;

use sealed_keys_support::*;

fn rotate(data: &Path, new_key: &str) -> Output {
    vouch()
        .args(["admin", "rotate-token-enc-key", "--dev", "--data"])
        .arg(data)
        .args(["--new-key-env", "VOUCH_TEST_NEW_TOKEN_ENC_KEY", "--json"])
        .env("VOUCH_TEST_NEW_TOKEN_ENC_KEY", new_key)
        .output()
        .unwrap()
}

#[test]
fn rotate_token_enc_key_then_restart_serves_the_same_instance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed before the rotation\n").unwrap();
    let old_bundle = dir.path().join("old.sigstore.json");
    let root = dir.path().join("trusted_root.json");

    let server = start(&data, port);
    let trust_before = get(&server.base, "/api/v1/trust-config");
    let jwks_before = get(&server.base, "/.well-known/registry-key.json");
    let config: serde_json::Value = serde_json::from_slice(&trust_before).unwrap();
    std::fs::write(&root, serde_json::to_vec(&config["trustedRoot"]).unwrap()).unwrap();
    sign(&server.base, &artifact, &old_bundle);
    ok(verify(&server.base, &artifact, &old_bundle, &root));
    drop(server);

    // What a rotation that crashed before its commit leaves: a next-generation object
    // (here a torn one). The instance still opens with the old key and ignores it.
    std::fs::write(data.join("tiles/sigstore/ca.sealed.g2"), b"torn").unwrap();
    let server = start(&data, port);
    assert_eq!(get(&server.base, "/api/v1/trust-config"), trust_before);
    drop(server);

    let key_file = data.join("token_enc.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();
    let new_key = "5e".repeat(32);

    // A wrong old key: refused before anything is written.
    let before = sealed_objects(&data);
    std::fs::write(&key_file, "a1".repeat(32)).unwrap();
    let err = refused(rotate(&data, &new_key), "SIGSTORE_E001");
    assert!(err.contains("sigstore/ca.sealed"), "{err}");
    assert_eq!(sealed_objects(&data), before, "nothing was written");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), "a1".repeat(32));
    std::fs::write(&key_file, &old_key).unwrap();

    // The new key equal to the old one is refused too.
    refused(rotate(&data, old_key.trim()), "ADMIN_E031");
    assert_eq!(sealed_objects(&data), before);

    // The rotation (over the leftover): generation 2, every key re-sealed, the key
    // file replaced, the previous generation deleted.
    let out = ok(rotate(&data, &new_key));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["already_rotated"], false, "{v}");
    assert_eq!(
        (v["from_generation"].as_u64(), v["generation"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(v["registry_keys"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), new_key);
    let names: Vec<String> = sealed_objects(&data).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "ca.sealed.g2",
            "ct-note.sealed.g2",
            "rekor-v1.sealed.g2",
            "tsa.sealed.g2"
        ]
    );

    // A crash after the commit but before the key file was replaced: the rerun with
    // the old key in the file finds the instance rotated and finishes.
    let after = sealed_objects(&data);
    std::fs::write(&key_file, &old_key).unwrap();
    let out = ok(rotate(&data, &new_key));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["already_rotated"], true, "{v}");
    assert_eq!(v["generation"].as_u64(), Some(2));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), new_key);
    assert_eq!(sealed_objects(&data), after, "the rerun rewrote nothing");

    // The old key no longer starts the server.
    std::fs::write(&key_file, &old_key).unwrap();
    let out = vouch()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("error[SIGSTORE_E001]"), "{err}");
    assert!(err.contains("sigstore/ca.sealed.g2"), "{err}");
    std::fs::write(&key_file, &new_key).unwrap();

    // With the new key: same trust config and registry key set, the old bundle
    // still verifies, a new signature works.
    let server = start(&data, port);
    assert_eq!(
        String::from_utf8_lossy(&get(&server.base, "/api/v1/trust-config")),
        String::from_utf8_lossy(&trust_before)
    );
    assert_eq!(
        get(&server.base, "/.well-known/registry-key.json"),
        jwks_before
    );
    ok(verify(&server.base, &artifact, &old_bundle, &root));
    let new_bundle = dir.path().join("new.sigstore.json");
    sign(&server.base, &artifact, &new_bundle);
    ok(verify(&server.base, &artifact, &new_bundle, &root));

    // The audit log has the rotation.
    let token = data.join("admin.token");
    let out = ok(vouch()
        .args(["admin", "audit", "--server", &server.base, "--token-file"])
        .arg(&token)
        .args(["--action", "instance.token_enc_key_rotated", "--json"])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{v}");
}
