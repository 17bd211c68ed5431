//! Rekor v2 `POST /api/v2/log/entries`: hashedrekord and DSSE entries round-trip with proofs that verify with `vouch_tlog`; every bad input is refused with its code and leaves the tree unchanged; concurrent requests share checkpoints.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod harness;
use harness::app;

use std::sync::Arc;
use std::time::SystemTime;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P384_SHA384_ASN1_SIGNING,
};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vouch_ca::{
    CaConfig, CaMaterial, CertificateAuthority, CertificateIdentity, San, SubjectPublicKey,
    SystemClock,
};
use vouch_registry::rekor::{log_id, pae};
use vouch_registry::App;

async fn post(app: &App, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::post("/api/v2/log/entries")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let r = app.router.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

enum TestKey {
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl TestKey {
    fn p256() -> Self {
        TestKey::P256(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap())
    }
    fn p384() -> Self {
        TestKey::P384(EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING).unwrap())
    }
    fn ed25519() -> Self {
        TestKey::Ed25519(Ed25519KeyPair::generate().unwrap())
    }
    fn details(&self) -> &'static str {
        match self {
            TestKey::P256(_) => "PKIX_ECDSA_P256_SHA_256",
            TestKey::P384(_) => "PKIX_ECDSA_P384_SHA_384",
            TestKey::Ed25519(_) => "PKIX_ED25519",
        }
    }
    fn spki(&self) -> Vec<u8> {
        match self {
            TestKey::P256(k) | TestKey::P384(k) => {
                k.public_key().as_der().unwrap().as_ref().to_vec()
            }
            TestKey::Ed25519(k) => k.public_key().as_der().unwrap().as_ref().to_vec(),
        }
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            TestKey::P256(k) | TestKey::P384(k) => k.sign(&rng, msg).unwrap().as_ref().to_vec(),
            TestKey::Ed25519(k) => k.sign(msg).as_ref().to_vec(),
        }
    }
    /// The digest this key's hashedrekord carries, and the signature over it.
    fn sign_digest(&self, msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
        match self {
            TestKey::P256(k) => {
                let d = digest::digest(&digest::SHA256, msg);
                (
                    d.as_ref().to_vec(),
                    k.sign_digest(&d).unwrap().as_ref().to_vec(),
                )
            }
            TestKey::P384(k) => {
                let d = digest::digest(&digest::SHA384, msg);
                (
                    d.as_ref().to_vec(),
                    k.sign_digest(&d).unwrap().as_ref().to_vec(),
                )
            }
            TestKey::Ed25519(_) => panic!("no digest signing with pure Ed25519"),
        }
    }
    /// A 10-minute certificate for this key from a fresh vouch CA.
    fn certificate(&self) -> Vec<u8> {
        let clock: Arc<dyn vouch_ca::Clock> = Arc::new(SystemClock);
        let material = CaMaterial::generate(&CaConfig::default(), SystemTime::now()).unwrap();
        let ca = CertificateAuthority::new(material, clock).unwrap();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            B64.encode(self.spki())
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        );
        let proven = SubjectPublicKey::from_pem(&pem)
            .unwrap()
            .prove_with_signature("subject", &self.sign(b"subject"))
            .unwrap();
        let identity = CertificateIdentity {
            san: San::Uri("https://github.com/o/r/.github/workflows/x.yml@refs/heads/main".into()),
            issuer: "https://token.actions.githubusercontent.com".into(),
            extensions: vec![],
        };
        ca.issue(&proven, &identity).unwrap().certificate_der
    }
}

fn hashedrekord(digest: &[u8], sig: &[u8], verifier: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "hashedRekordRequestV002": {
            "digest": B64.encode(digest),
            "signature": {"content": B64.encode(sig), "verifier": verifier}
        }
    }))
    .unwrap()
}

fn cert_verifier(der: &[u8], details: &str) -> Value {
    json!({"x509Certificate": {"rawBytes": B64.encode(der)}, "keyDetails": details})
}

fn key_verifier(spki: &[u8], details: &str) -> Value {
    json!({"publicKey": {"rawBytes": B64.encode(spki)}, "keyDetails": details})
}

fn dsse(payload: &[u8], sigs: &[Vec<u8>], verifiers: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "dsseRequestV002": {
            "envelope": {
                "payload": B64.encode(payload),
                "payloadType": "application/vnd.in-toto+json",
                "signatures": sigs.iter().map(|s| json!({"sig": B64.encode(s), "keyid": ""})).collect::<Vec<_>>()
            },
            "verifiers": verifiers
        }
    }))
    .unwrap()
}

const STATEMENT: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}"#;

/// Checks a 201 answer: the proof verifies against the checkpoint, the checkpoint is
/// signed by the log, the log ID is the note key ID; returns the decoded body.
fn check_entry(app: &App, status: StatusCode, v: &Value, kind: &str) -> Value {
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["kindVersion"], json!({"kind": kind, "version": "0.0.2"}));
    assert!(v.get("integratedTime").is_none() && v.get("inclusionPromise").is_none());
    let id = log_id(&app.state.log.verifier());
    assert_eq!(v["logId"]["keyId"], json!(B64.encode(id)));
    assert_eq!(v["inclusionProof"]["logIndex"], v["logIndex"]);
    let logged = harness::verify_logged(app, v);
    // The signature line's key hint is the log ID's first four bytes.
    let sig_line = logged.note.lines().last().unwrap();
    let sig = B64.decode(sig_line.rsplit(' ').next().unwrap()).unwrap();
    assert_eq!(sig[..4], id[..4]);
    serde_json::from_slice(&logged.body).unwrap()
}

#[tokio::test]
async fn hashedrekord_with_certificates_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    for key in [TestKey::p256(), TestKey::p384()] {
        let cert = key.certificate();
        let (d, sig) = key.sign_digest(b"artifact bytes");
        let (status, v) = post(
            &app,
            hashedrekord(&d, &sig, cert_verifier(&cert, key.details())),
        )
        .await;
        let body = check_entry(&app, status, &v, "hashedrekord");
        let alg = if d.len() == 32 {
            "SHA2_256"
        } else {
            "SHA2_384"
        };
        // Exactly the bytes sigstore-python and sigstore-verify rebuild: sorted keys,
        // no whitespace.
        let expected = format!(
            r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"{alg}","digest":"{}"}},"signature":{{"content":"{}","verifier":{{"keyDetails":"{}","x509Certificate":{{"rawBytes":"{}"}}}}}}}}}}}}"#,
            B64.encode(&d),
            B64.encode(&sig),
            key.details(),
            B64.encode(&cert)
        );
        assert_eq!(
            B64.decode(v["canonicalizedBody"].as_str().unwrap())
                .unwrap(),
            expected.as_bytes()
        );
        assert_eq!(body["kind"], "hashedrekord");
    }
}

#[tokio::test]
async fn hashedrekord_with_public_key_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let key = TestKey::p256();
    let (d, sig) = key.sign_digest(b"x");
    let (status, v) = post(
        &app,
        hashedrekord(&d, &sig, key_verifier(&key.spki(), key.details())),
    )
    .await;
    let body = check_entry(&app, status, &v, "hashedrekord");
    assert_eq!(
        body["spec"]["hashedRekordV002"]["signature"]["verifier"]["publicKey"]["rawBytes"],
        json!(B64.encode(key.spki()))
    );
}

#[tokio::test]
async fn dsse_entries_round_trip_for_ecdsa_and_ed25519() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let message = pae("application/vnd.in-toto+json", STATEMENT);
    for key in [TestKey::p256(), TestKey::p384(), TestKey::ed25519()] {
        let cert = key.certificate();
        let sig = key.sign(&message);
        let (status, v) = post(
            &app,
            dsse(
                STATEMENT,
                std::slice::from_ref(&sig),
                vec![cert_verifier(&cert, key.details())],
            ),
        )
        .await;
        let body = check_entry(&app, status, &v, "dsse");
        let spec = &body["spec"]["dsseV002"];
        assert_eq!(
            spec["payloadHash"],
            json!({"algorithm": "SHA2_256", "digest": B64.encode(digest::digest(&digest::SHA256, STATEMENT))})
        );
        assert_eq!(spec["signatures"][0]["content"], json!(B64.encode(&sig)));
        assert_eq!(
            spec["signatures"][0]["verifier"],
            cert_verifier(&cert, key.details())
        );
    }
}

#[tokio::test]
async fn sigstore_python_dsse_as_hashedrekord_over_pae() {
    // sigstore-python 4.x uploads DSSE as a hashedrekord whose digest is Hash(PAE).
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let key = TestKey::p256();
    let cert = key.certificate();
    let (d, sig) = key.sign_digest(&pae("application/vnd.in-toto+json", STATEMENT));
    let (status, v) = post(
        &app,
        hashedrekord(&d, &sig, cert_verifier(&cert, key.details())),
    )
    .await;
    check_entry(&app, status, &v, "hashedrekord");
}

async fn refused(app: &App, body: Vec<u8>, status: StatusCode, code: &str) -> Value {
    let before = app.state.log.local().unwrap().latest().size;
    let (s, v) = post(app, body).await;
    assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{v}");
    assert_eq!(
        app.state.log.local().unwrap().latest().size,
        before,
        "nothing is logged"
    );
    assert_eq!(app.state.log.pooled(), 0, "nothing is pooled");
    v
}

#[tokio::test]
async fn bad_input_is_refused_with_its_code_and_nothing_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let bad = StatusCode::BAD_REQUEST;
    let key = TestKey::p256();
    let cert = key.certificate();
    let good_verifier = cert_verifier(&cert, key.details());
    let (d, sig) = key.sign_digest(b"artifact");

    // REKOR_E001: oversized body.
    let mut huge = hashedrekord(&d, &sig, good_verifier.clone());
    huge.resize(300 << 10, b' ');
    refused(&app, huge, StatusCode::PAYLOAD_TOO_LARGE, "REKOR_E001").await;

    // REKOR_E002: malformed JSON, unknown fields, both or neither kind, two verifiers.
    refused(&app, b"{not json".to_vec(), bad, "REKOR_E002").await;
    refused(&app, b"{}".to_vec(), bad, "REKOR_E002").await;
    let mut v: Value =
        serde_json::from_slice(&hashedrekord(&d, &sig, good_verifier.clone())).unwrap();
    v["extra"] = json!(1);
    refused(&app, serde_json::to_vec(&v).unwrap(), bad, "REKOR_E002").await;
    let mut both = v.clone();
    both.as_object_mut().unwrap().remove("extra");
    both["dsseRequestV002"] =
        json!({"envelope": {"payload": "", "payloadType": "", "signatures": []}, "verifiers": []});
    refused(&app, serde_json::to_vec(&both).unwrap(), bad, "REKOR_E002").await;
    let mut two = good_verifier.clone();
    two["publicKey"] = json!({"rawBytes": B64.encode(key.spki())});
    refused(&app, hashedrekord(&d, &sig, two), bad, "REKOR_E002").await;

    // REKOR_E003: bad base64 in each bytes field.
    let mut b =
        serde_json::from_slice::<Value>(&hashedrekord(&d, &sig, good_verifier.clone())).unwrap();
    b["hashedRekordRequestV002"]["digest"] = json!("***");
    let v = refused(&app, serde_json::to_vec(&b).unwrap(), bad, "REKOR_E003").await;
    assert!(v["detail"].as_str().unwrap().contains("digest"));
    let mut b =
        serde_json::from_slice::<Value>(&hashedrekord(&d, &sig, good_verifier.clone())).unwrap();
    b["hashedRekordRequestV002"]["signature"]["verifier"]["x509Certificate"]["rawBytes"] =
        json!("%%");
    refused(&app, serde_json::to_vec(&b).unwrap(), bad, "REKOR_E003").await;

    // REKOR_E004: digest length wrong for the key (expected vs found in the detail).
    let v = refused(
        &app,
        hashedrekord(&d[..31], &sig, good_verifier.clone()),
        bad,
        "REKOR_E004",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("31 bytes"));
    refused(
        &app,
        hashedrekord(&[0u8; 48], &sig, good_verifier.clone()),
        bad,
        "REKOR_E004",
    )
    .await;

    // REKOR_E005: unsupported keyDetails; pure Ed25519 in a hashedrekord.
    refused(
        &app,
        hashedrekord(
            &d,
            &sig,
            cert_verifier(&cert, "PKIX_RSA_PKCS1V15_2048_SHA256"),
        ),
        bad,
        "REKOR_E005",
    )
    .await;
    let ed = TestKey::ed25519();
    refused(
        &app,
        hashedrekord(&d, &ed.sign(&d), key_verifier(&ed.spki(), "PKIX_ED25519")),
        bad,
        "REKOR_E005",
    )
    .await;

    // REKOR_E006: keyDetails disagree with the certificate's key.
    let v = refused(
        &app,
        hashedrekord(&d, &sig, cert_verifier(&cert, "PKIX_ECDSA_P384_SHA_384")),
        bad,
        "REKOR_E006",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("P-256"));

    // REKOR_E007: a certificate or key that does not parse.
    refused(
        &app,
        hashedrekord(&d, &sig, cert_verifier(b"not a certificate", key.details())),
        bad,
        "REKOR_E007",
    )
    .await;
    refused(
        &app,
        hashedrekord(&d, &sig, key_verifier(&cert, key.details())),
        bad,
        "REKOR_E007",
    )
    .await;

    // REKOR_E008: a signature over another digest, another key's signature, an empty
    // signature, a DSSE signature over a different payload.
    let (other_d, _) = key.sign_digest(b"other artifact");
    refused(
        &app,
        hashedrekord(&other_d, &sig, good_verifier.clone()),
        bad,
        "REKOR_E008",
    )
    .await;
    let (_, other_sig) = TestKey::p256().sign_digest(b"artifact");
    refused(
        &app,
        hashedrekord(&d, &other_sig, good_verifier.clone()),
        bad,
        "REKOR_E008",
    )
    .await;
    refused(
        &app,
        hashedrekord(&d, &[], good_verifier.clone()),
        bad,
        "REKOR_E008",
    )
    .await;
    let dsse_sig = key.sign(&pae("application/vnd.in-toto+json", STATEMENT));
    refused(
        &app,
        dsse(
            b"{\"tampered\":1}",
            std::slice::from_ref(&dsse_sig),
            vec![good_verifier.clone()],
        ),
        bad,
        "REKOR_E008",
    )
    .await;
    // DSSE: one verified signature does not excuse an unverified second one.
    refused(
        &app,
        dsse(
            STATEMENT,
            &[dsse_sig.clone(), other_sig],
            vec![good_verifier.clone()],
        ),
        bad,
        "REKOR_E008",
    )
    .await;

    // REKOR_E009: a canonical entry over 65,535 bytes (the most signatures allowed,
    // each too long to fit; refused before any is checked).
    let sigs = vec![vec![0x30u8; 8 << 10]; vouch_registry::rekor::MAX_DSSE_SIGNATURES];
    refused(
        &app,
        dsse(STATEMENT, &sigs, vec![good_verifier.clone()]),
        StatusCode::PAYLOAD_TOO_LARGE,
        "REKOR_E009",
    )
    .await;

    // And the good request still goes through.
    let (status, v) = post(&app, hashedrekord(&d, &sig, good_verifier)).await;
    check_entry(&app, status, &v, "hashedrekord");
    assert_eq!(app.state.log.local().unwrap().latest().size, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_batched_into_shared_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let key = TestKey::p256();
    let cert = key.certificate();
    let n = 300;
    let mut tasks = Vec::new();
    for i in 0..n {
        let (d, sig) = key.sign_digest(format!("artifact {i}").as_bytes());
        let body = hashedrekord(&d, &sig, cert_verifier(&cert, key.details()));
        let app = app.clone();
        tasks.push(tokio::spawn(async move { post(&app, body).await }));
    }
    let mut indices = std::collections::BTreeSet::new();
    let mut sizes = std::collections::BTreeSet::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        check_entry(&app, status, &v, "hashedrekord");
        indices.insert(v["logIndex"].as_str().unwrap().to_owned());
        sizes.insert(v["inclusionProof"]["treeSize"].as_str().unwrap().to_owned());
    }
    assert_eq!(indices.len(), n);
    assert_eq!(app.state.log.local().unwrap().latest().size, n as u64);
    // Group commit: far fewer checkpoints than requests.
    assert!(
        sizes.len() < n / 10,
        "{} checkpoints for {n} entries",
        sizes.len()
    );
}

/// Issue 13, finding 1: 1000 signatures × 600 verifiers took 43 s of CPU on the async
/// workers. Now the counts and the smallest possible canonical entry are checked before
/// any signature, and the worst request the limits allow finishes quickly while
/// `GET /log/checkpoint` keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsse_signature_flood_is_refused_before_cryptography() {
    use vouch_registry::rekor::{MAX_DSSE_SIGNATURES, MAX_DSSE_VERIFIERS};
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let too_large = StatusCode::PAYLOAD_TOO_LARGE;
    let key = TestKey::p256();
    let spki = key.spki();
    let junk = vec![0x30u8; 72];

    // The attack as reported (scaled to the 256 KiB body limit): refused by count.
    let started = std::time::Instant::now();
    let many_sigs = vec![junk.clone(); 1000];
    let verifiers = vec![key_verifier(&spki, key.details()); 40];
    let v = refused(
        &app,
        dsse(STATEMENT, &many_sigs, verifiers),
        too_large,
        "REKOR_E010",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("1000"), "{v}");
    let sigs = vec![junk.clone(); MAX_DSSE_SIGNATURES];
    let verifiers = vec![key_verifier(&spki, key.details()); MAX_DSSE_VERIFIERS + 1];
    refused(
        &app,
        dsse(STATEMENT, &sigs, verifiers),
        too_large,
        "REKOR_E011",
    )
    .await;
    // Signatures that cannot fit the log are refused by size, not by verification
    // (they are junk: had they been checked first the answer would be REKOR_E008).
    let big = vec![vec![0x30u8; 8 << 10]; MAX_DSSE_SIGNATURES];
    let verifiers = vec![key_verifier(&spki, key.details())];
    refused(
        &app,
        dsse(STATEMENT, &big, verifiers),
        too_large,
        "REKOR_E009",
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));

    // The worst the limits allow: every signature is valid only for the last of the
    // verifiers, so each request makes MAX_DSSE_SIGNATURES × MAX_DSSE_VERIFIERS checks.
    let keys: Vec<TestKey> = (0..MAX_DSSE_VERIFIERS).map(|_| TestKey::p256()).collect();
    let verifiers: Vec<Value> = keys
        .iter()
        .map(|k| key_verifier(&k.spki(), k.details()))
        .collect();
    let signer = keys.last().unwrap();
    let message = pae("application/vnd.in-toto+json", STATEMENT);
    let sigs: Vec<Vec<u8>> = (0..MAX_DSSE_SIGNATURES)
        .map(|_| signer.sign(&message))
        .collect();
    let worst = dsse(STATEMENT, &sigs, verifiers);
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (app, body) = (app.clone(), worst.clone());
        tasks.push(tokio::spawn(async move { post(&app, body).await }));
    }
    let mut slowest = std::time::Duration::ZERO;
    while !tasks.iter().all(|t| t.is_finished()) {
        let t = std::time::Instant::now();
        let req = Request::get("/log/checkpoint").body(Body::empty()).unwrap();
        let r = app.router.clone().oneshot(req).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        slowest = slowest.max(t.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for t in tasks {
        let (status, v) = t.await.unwrap();
        let body = check_entry(&app, status, &v, "dsse");
        let logged = body["spec"]["dsseV002"]["signatures"].as_array().unwrap();
        assert_eq!(logged.len(), MAX_DSSE_SIGNATURES);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "six worst-case requests took {:?}",
        started.elapsed()
    );
    assert!(
        slowest < std::time::Duration::from_millis(500),
        "GET /log/checkpoint took {slowest:?} while they ran"
    );
}
