//! Rekor v1 on vouch's log (issue 18): sigstore-python 4.5.1 signs and attests against `vouch serve --dev` with a signing config that offers ONLY Rekor v1 and `vouch verify` accepts the bundles (SET and inclusion proof); `vouch sign` with that config makes a v1 bundle sigstore-python verifies; each check fails with its code (bad SET, wrong log index, signature not matching, unknown kind, duplicate); the v1 read routes answer.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod common_support;
mod serve_support;

use std::path::Path;
use std::process::Output;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common_support::{
    ok, sigstore_python, sigstore_python_sign_and_attest, token, vouch, REF, REPOSITORY, WORKFLOW,
};
use serde_json::{json, Value};

/// The bytes of a base64 string field of a bundle.
fn b64_field(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// `vouch verify --json` of `file` against `bundle`.
fn vouch_verify(file: &Path, bundle: &Path, identity: &str, issuer: &str, root: &Path) -> Output {
    vouch()
        .arg("verify")
        .arg(file)
        .arg("--bundle")
        .arg(bundle)
        .args(["--certificate-identity", identity])
        .args(["--certificate-oidc-issuer", issuer])
        .arg("--trusted-root")
        .arg(root)
        .arg("--json")
        .output()
        .unwrap()
}

/// Asserts a `vouch verify --json` refusal with exactly `code`.
fn refused(out: Output, code: &str, what: &str) {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{what}: no JSON on stdout; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(1), "{what}: {v}");
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
}

fn pem(der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[test]
fn sigstore_python_and_vouch_sign_and_verify_rekor_v1_bundles() {
    vouch_testkit::process::py_venv();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_support::start(&dir.path().join("data"), &[]);
    let base = server.url.clone();
    let issuer = format!("{base}/oidc");
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}");
    let http = reqwest::blocking::Client::new();

    // The served trust config offers v2 and v1; keep only v1 (and no TSA: the SET is
    // the signing time).
    let mut config: Value = http
        .get(format!("{base}/api/v1/trust-config"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let versions: Vec<u64> = config["signingConfig"]["rekorTlogUrls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["majorApiVersion"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, vec![2, 1], "{config}");
    assert_eq!(config["trustedRoot"]["tlogs"].as_array().unwrap().len(), 2);
    let trusted_root = dir.path().join("trusted_root.json");
    write_json(&trusted_root, &config["trustedRoot"]);
    config["signingConfig"]["rekorTlogUrls"] = json!([config["signingConfig"]["rekorTlogUrls"][1]]);
    config["signingConfig"]["tsaUrls"] = json!([]);
    let v1_config = dir.path().join("trust-config-v1.json");
    write_json(&v1_config, &config);

    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let sigstore = || sigstore_python(&v1_config, &home);
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"hello from vouch's Rekor v1 test\n").unwrap();

    // sigstore-python signs (hashedrekord 0.0.1) and attests (dsse 0.0.1) through v1.
    let signed = dir.path().join("py.sigstore.json");
    let predicate = dir.path().join("predicate.json");
    std::fs::write(&predicate, br#"{"buildDefinition":{"buildType":"https://vouch.example/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"x"}}}"#).unwrap();
    let attested = dir.path().join("py.intoto.sigstore.json");
    sigstore_python_sign_and_attest(sigstore, &base, &artifact, &signed, &predicate, &attested);
    for (b, kind) in [(&signed, "hashedrekord"), (&attested, "dsse")] {
        let v = read_json(b);
        let e = &v["verificationMaterial"]["tlogEntries"][0];
        assert_eq!(
            e["kindVersion"],
            json!({"kind": kind, "version": "0.0.1"}),
            "{v}"
        );
        assert!(
            e["inclusionPromise"]["signedEntryTimestamp"].is_string(),
            "{v}"
        );
        assert!(e["integratedTime"].is_string(), "{v}");
        assert!(
            e["inclusionProof"]["checkpoint"]["envelope"].is_string(),
            "{v}"
        );
        assert!(
            v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
                .as_array()
                .is_none_or(|a| a.is_empty())
        );
        // vouch verifies it: the SET is its only signing time.
        ok(
            vouch_verify(&artifact, b, &identity, &issuer, &trusted_root),
            &format!("vouch verify {kind} v1 bundle"),
        );
    }

    // `vouch sign` with the v1-only config writes a v1 bundle sigstore-python verifies.
    let vouch_bundle = dir.path().join("vouch.sigstore.json");
    ok(
        vouch()
            .arg("sign")
            .arg(&artifact)
            .args(["--identity-token", &token(&base), "--trust-config"])
            .arg(&v1_config)
            .arg("--bundle")
            .arg(&vouch_bundle)
            .output()
            .unwrap(),
        "vouch sign (v1)",
    );
    let vb = read_json(&vouch_bundle);
    let entry = vb["verificationMaterial"]["tlogEntries"][0].clone();
    assert_eq!(entry["kindVersion"]["version"], "0.0.1", "{vb}");
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    ok(
        sigstore()
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(&vouch_bundle)
            .args(["--cert-identity", &identity, "--cert-oidc-issuer", &issuer])
            .arg(&artifact)
            .output()
            .unwrap(),
        "sigstore verify identity (vouch sign v1 bundle)",
    );
    ok(
        vouch_verify(&artifact, &vouch_bundle, &identity, &issuer, &trusted_root),
        "vouch verify (vouch sign v1 bundle)",
    );

    // Each check fails with its code: a flipped SET byte...
    let tampered = dir.path().join("tampered.sigstore.json");
    let mut bad = vb.clone();
    let mut set = b64_field(&entry["inclusionPromise"]["signedEntryTimestamp"]);
    let n = set.len();
    set[n - 3] ^= 1;
    bad["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"] =
        json!(STANDARD.encode(&set));
    write_json(&tampered, &bad);
    let bad_set = vouch_verify(&artifact, &tampered, &identity, &issuer, &trusted_root);
    refused(bad_set, "VERIFY_E019", "bad SET");
    // ...another log index (covered by the SET)...
    let mut bad = vb.clone();
    let index: u64 = entry["logIndex"].as_str().unwrap().parse().unwrap();
    bad["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!((index + 1).to_string());
    write_json(&tampered, &bad);
    refused(
        vouch_verify(&artifact, &tampered, &identity, &issuer, &trusted_root),
        "VERIFY_E019",
        "wrong logIndex",
    );
    // ...and a proof for another leaf position.
    let mut bad = vb.clone();
    bad["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["logIndex"] =
        json!((index + 1).to_string());
    write_json(&tampered, &bad);
    refused(
        vouch_verify(&artifact, &tampered, &identity, &issuer, &trusted_root),
        "VERIFY_E017",
        "wrong proof index",
    );

    // The server refuses before logging: signature not matching, unknown kind, duplicate.
    let cert = b64_field(&vb["verificationMaterial"]["certificate"]["rawBytes"]);
    let sig = vb["messageSignature"]["signature"].as_str().unwrap();
    let digest = b64_field(&vb["messageSignature"]["messageDigest"]["digest"]);
    let proposal = |digest: &[u8], kind: &str| {
        json!({"apiVersion": "0.0.1", "kind": kind, "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
            "signature": {"content": sig, "publicKey": {"content": STANDARD.encode(pem(&cert))}},
        }})
    };
    let post = |body: &Value| {
        let r = http
            .post(format!("{base}/api/v1/log/entries"))
            .json(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap())
    };
    let (status, v) = post(&proposal(&[7u8; 32], "hashedrekord"));
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("REKOR_E008")),
        "{v}"
    );
    let (status, v) = post(&proposal(&digest, "rekord"));
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("REKOR_E014")),
        "{v}"
    );
    let (status, v) = post(&proposal(&digest, "hashedrekord"));
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("REKOR_E016")),
        "{v}"
    );

    // The v1 reads answer the same entry, SET and all.
    let body = entry["canonicalizedBody"].as_str().unwrap();
    let by_index: Value = http
        .get(format!("{base}/api/v1/log/entries?logIndex={index}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let (uuid, got) = by_index.as_object().unwrap().iter().next().unwrap();
    assert_eq!(got["body"], body);
    assert_eq!(
        got["integratedTime"].as_i64().unwrap().to_string(),
        entry["integratedTime"]
    );
    let by_uuid: Value = http
        .get(format!("{base}/api/v1/log/entries/{uuid}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_uuid[uuid]["body"], body);
    let retrieved: Value = http
        .post(format!("{base}/api/v1/log/entries/retrieve"))
        .json(&json!({"logIndexes": [index], "entries": [proposal(&digest, "hashedrekord")]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(retrieved.as_array().unwrap().len(), 2, "{retrieved}");
    let r = http
        .get(format!("{base}/api/v1/log/entries/{}", "0".repeat(64)))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.json::<Value>().unwrap()["code"], "REKOR_E015");
    let info: Value = http
        .get(format!("{base}/api/v1/log"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let size = info["treeSize"].as_u64().unwrap();
    assert!(size > index, "{info}");
    assert_eq!(
        info["signedTreeHead"]
            .as_str()
            .unwrap()
            .matches('\u{2014}')
            .count(),
        2
    );
    let proof: Value = http
        .get(format!(
            "{base}/api/v1/log/proof?firstSize=1&lastSize={size}"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(proof["rootHash"], info["rootHash"], "{proof}");
    let r = http
        .get(format!("{base}/api/v1/log/proof?firstSize=5&lastSize=2"))
        .send()
        .unwrap();
    assert_eq!(r.json::<Value>().unwrap()["code"], "REKOR_E017");
    let key = http
        .get(format!("{base}/api/v1/log/publicKey"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(key.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{key}");
}
