//! `vouch verify` at two trust boundaries no other test reaches, through the CLI:
//! a vouch bundle checked against a trusted root whose log and TSA are the signing
//! instance's but whose CA is another instance's (VERIFY_E013), and a Rekor v1 entry
//! whose integrated time, authenticated by a valid SET, lies in the future (VERIFY_E021).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod common_support;
mod serve_support;
use common_support::{sign, REF, REPOSITORY, WORKFLOW};
use serve_support::start;

/// `vouch verify FILE --bundle B --trusted-root R --json` for `identity` and `issuer`:
/// the exit status and the JSON object.
fn verify(
    artifact: &Path,
    bundle: &Path,
    root: &Path,
    identity: &str,
    issuer: &str,
) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .arg("verify")
        .arg(artifact)
        .arg("--bundle")
        .arg(bundle)
        .args([
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--json",
        ])
        .arg("--trusted-root")
        .arg(root)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON on stdout; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn trusted_root(base: &str) -> Value {
    let config: Value = reqwest::blocking::get(format!("{base}/api/v1/trust-config"))
        .unwrap()
        .json()
        .unwrap();
    config["trustedRoot"].clone()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

#[test]
fn a_bundle_is_refused_when_the_trusted_ca_is_another_instances() {
    let dir = tempfile::tempdir().unwrap();
    let signer = start(&dir.path().join("a"), &[]);
    let other = start(&dir.path().join("b"), &[]);
    let (a, b) = (signer.url.as_str(), other.url.as_str());

    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed by instance A\n").unwrap();
    let bundle = dir.path().join("artifact.sigstore.json");
    sign(a, &artifact, &bundle);
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}");
    let issuer = format!("{a}/oidc");

    // A's own root verifies the bundle.
    let root_a = trusted_root(a);
    let own = dir.path().join("root-a.json");
    write_json(&own, &root_a);
    let (code, v) = verify(&artifact, &bundle, &own, &identity, &issuer);
    assert_eq!((code, &v["verified"]), (0, &json!(true)), "{v}");

    // A's log, CT log and TSA, but B's certificate authority.
    let mut hybrid = root_a.clone();
    hybrid["certificateAuthorities"] = trusted_root(b)["certificateAuthorities"].clone();
    assert_ne!(
        hybrid["certificateAuthorities"], root_a["certificateAuthorities"],
        "the two instances have distinct CAs"
    );
    let path = dir.path().join("root-hybrid.json");
    write_json(&path, &hybrid);
    let (code, v) = verify(&artifact, &bundle, &path, &identity, &issuer);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "VERIFY_E013", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("untrusted signing certificate: "),
        "{v}"
    );
}

/// A conformance bundle (hashedrekord v0.0.1 with a SET) whose log key we replace
/// with our own P-256 key (made with openssl), so we can sign SETs over any integrated
/// time. A time in the past but after the certificate expired is an authenticated
/// signing time at which the certificate was not valid (VERIFY_E014); the same
/// construction with a time in the future is VERIFY_E021.
#[test]
fn a_set_backed_integrated_time_in_the_future_is_refused() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors/sigstore-conformance/bundle-verify/trust-root-tlog-validity-end-inclusive");
    let artifact = case.join("../../a.txt");
    let dir = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl is required for this test (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "log.pem",
    ]);
    openssl(&[
        "pkey", "-in", "log.pem", "-pubout", "-outform", "DER", "-out", "log.der",
    ]);
    let spki = std::fs::read(dir.path().join("log.der")).unwrap();
    let log_id: [u8; 32] = Sha256::digest(&spki).into();
    let b64 = base64::engine::general_purpose::STANDARD;

    let mut root: Value =
        serde_json::from_slice(&std::fs::read(case.join("trusted_root.json")).unwrap()).unwrap();
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap()).unwrap();
    let real_id = bundle["verificationMaterial"]["tlogEntries"][0]["logId"]["keyId"].clone();
    let tlog = root["tlogs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["logId"]["keyId"] == real_id)
        .expect("the bundle's log is in the case's root");
    tlog["publicKey"] = json!({
        "rawBytes": b64.encode(&spki),
        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
        "validFor": {"start": "2021-01-01T00:00:00Z"},
    });
    tlog["logId"] = json!({"keyId": b64.encode(log_id)});
    let root_path = dir.path().join("root.json");
    write_json(&root_path, &root);

    // The bundle's entry with integrated time `t` and a SET over it from our log key
    // (the Rekor v1 SET: the canonical JSON of body, integratedTime, logID, logIndex).
    let with_time = |t: i64| -> std::path::PathBuf {
        let mut b = bundle.clone();
        let e = &mut b["verificationMaterial"]["tlogEntries"][0];
        e["logId"] = json!({"keyId": b64.encode(log_id)});
        e["integratedTime"] = json!(t.to_string());
        let index: i64 = e["logIndex"].as_str().unwrap().parse().unwrap();
        let payload = format!(
            r#"{{"body":"{}","integratedTime":{t},"logID":"{}","logIndex":{index}}}"#,
            e["canonicalizedBody"].as_str().unwrap(),
            hex::encode(log_id)
        );
        std::fs::write(dir.path().join("set.json"), payload).unwrap();
        openssl(&[
            "dgst", "-sha256", "-sign", "log.pem", "-out", "set.der", "set.json",
        ]);
        let set = std::fs::read(dir.path().join("set.der")).unwrap();
        e["inclusionPromise"] = json!({"signedEntryTimestamp": b64.encode(set)});
        let path = dir.path().join(format!("bundle-{t}.json"));
        write_json(&path, &b);
        path
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The policy is never reached: the signing time is established first.
    let (identity, issuer) = ("https://example.invalid/any", "https://example.invalid");

    let (code, v) = verify(
        &artifact,
        &with_time(now - 60),
        &root_path,
        identity,
        issuer,
    );
    assert_eq!(
        (code, &v["error"]["code"]),
        (1, &json!("VERIFY_E014")),
        "a past SET-backed time after the certificate expired: {v}"
    );

    let (code, v) = verify(
        &artifact,
        &with_time(now + 3600),
        &root_path,
        identity,
        issuer,
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "VERIFY_E021", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is in the future"),
        "{v}"
    );
}
