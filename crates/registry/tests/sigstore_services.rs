//! The Sigstore services over HTTP: the dev issuer, `signingCert` (issuance, every bad-input refusal with its code, nothing issued or logged on refusal), the TSA, the trust config (parsed by vouch-verify and by sigstore-python), restarts (sealed material, replay store) and HTTPS.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod harness;
use harness::{call, Resp};

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use der::{Decode, Encode};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_log::ManualClock;
use vouch_oidc::{DevIssuer, DevTokenRequest, UnixTime};
use vouch_registry::{App, Runtime, Secrets, ServeConfig};

const REPO: &str = "octo/widget";
const WORKFLOW: &str = ".github/workflows/release.yml";
const IDENTITY: &str =
    "https://github.com/octo/widget/.github/workflows/release.yml@refs/heads/main";

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[derive(Debug)]
struct TestApp {
    app: App,
    clock: Arc<ManualClock>,
}

async fn open_with(
    dir: &std::path::Path,
    rt: Runtime,
    tweak: impl FnOnce(&mut Secrets),
) -> Result<TestApp, vouch_registry::ServeError> {
    let cfg = ServeConfig::dev(dir);
    let mut secrets = Secrets::dev(dir, &cfg).unwrap();
    tweak(&mut secrets);
    let clock = Arc::new(ManualClock::new(now_secs()));
    let app = vouch_registry::open(&cfg, secrets, rt, clock.clone()).await?;
    Ok(TestApp { app, clock })
}

async fn dev_app(dir: &std::path::Path) -> TestApp {
    open_with(dir, Runtime::dev(dir, "http://127.0.0.1:0"), |_| {})
        .await
        .unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_json(uri: &str, body: &Value, bearer: Option<&str>) -> Request<Body> {
    let mut b = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

async fn mint(app: &App, extra: Value) -> Resp {
    let mut body = json!({"repository": REPO, "workflow": WORKFLOW, "ref": "refs/heads/main"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    call(app, post_json("/oidc/dev/token", &body, None)).await
}

async fn token(app: &App) -> String {
    let r = mint(app, json!({})).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["token"].as_str().unwrap().to_owned()
}

fn new_key() -> SigningKey {
    loop {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).unwrap();
        if let Ok(k) = SigningKey::from_slice(&seed) {
            return k;
        }
    }
}

/// A PKCS#10 CSR (PEM) for `key`; `tamper` flips a bit of the signature.
fn csr_pem(key: &SigningKey, tamper: bool) -> String {
    use p256::ecdsa::signature::Signer;
    use x509_cert::request::{CertReq, CertReqInfo};
    let spki_der = key.verifying_key().to_public_key_der().unwrap();
    let info = CertReqInfo {
        version: x509_cert::request::Version::V1,
        subject: x509_cert::name::RdnSequence(Vec::new()),
        public_key: spki::SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes()).unwrap(),
        attributes: Default::default(),
    };
    let sig: DerSignature = key.sign(&info.to_der().unwrap());
    let mut sig = sig.as_bytes().to_vec();
    if tamper {
        let last = sig.len() - 1;
        sig[last] ^= 1;
    }
    let req = CertReq {
        info,
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        },
        signature: der::asn1::BitString::from_bytes(&sig).unwrap(),
    };
    let b64 = STANDARD.encode(req.to_der().unwrap());
    let mut pem = String::from("-----BEGIN CERTIFICATE REQUEST-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE REQUEST-----\n");
    pem
}

fn csr_body(key: &SigningKey, tamper: bool) -> Value {
    json!({"certificateSigningRequest": STANDARD.encode(csr_pem(key, tamper))})
}

fn ct_size(app: &App) -> u64 {
    app.state.sigstore.ct_log.local().unwrap().latest().size
}

/// The dev issuer as the server holds it (same key file), for hand-made tokens.
fn dev_issuer(dir: &std::path::Path, app: &App) -> DevIssuer {
    let pem = std::fs::read_to_string(dir.join("oidc_dev.key")).unwrap();
    let iss = app
        .state
        .sigstore
        .dev_issuer
        .as_ref()
        .unwrap()
        .issuer()
        .to_owned();
    DevIssuer::from_pkcs8_pem(&iss, &pem).unwrap()
}

fn b64url(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

#[tokio::test]
async fn issues_a_certificate_with_the_token_identity_and_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let t = dev_app(dir.path()).await;
    let tok = token(&t.app).await;
    let before = ct_size(&t.app);
    let r = call(
        &t.app,
        post_json(
            "/api/v2/signingCert",
            &csr_body(&new_key(), false),
            Some(&tok),
        ),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let chain = r.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"].clone();
    let chain: Vec<String> = serde_json::from_value(chain).unwrap();
    assert_eq!(chain.len(), 3);
    let leaf = x509_cert::Certificate::from_der(
        &vouch_ca::pki::certificate_der_from_pem(&chain[0], "leaf").unwrap(),
    )
    .unwrap();
    let der = leaf.to_der().unwrap();
    let text = String::from_utf8_lossy(&der);
    assert!(text.contains(IDENTITY), "SAN missing");
    let v = &leaf.tbs_certificate.validity;
    let life = v.not_after.to_unix_duration() - v.not_before.to_unix_duration();
    assert_eq!(life.as_secs(), 600);
    assert_eq!(
        ct_size(&t.app),
        before + 1,
        "the precertificate is in the CT log"
    );

    // The same token again: a replay, refused, nothing logged.
    let r = call(
        &t.app,
        post_json(
            "/api/v2/signingCert",
            &csr_body(&new_key(), false),
            Some(&tok),
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "OIDC_E016")
    );
    assert_eq!(ct_size(&t.app), before + 1);

    let r = call(&t.app, get("/api/v2/trustBundle")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json()["chains"][0]["certificates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = call(&t.app, get("/ct/checkpoint")).await;
    assert!(String::from_utf8_lossy(&r.body).starts_with("localhost/vouch-dev/ct\n"));
}

#[tokio::test]
async fn concurrent_issuance_is_batched_into_the_ct_log() {
    let dir = tempfile::tempdir().unwrap();
    let t = dev_app(dir.path()).await;
    let mut tokens = Vec::new();
    for _ in 0..32 {
        tokens.push(token(&t.app).await);
    }
    let before = ct_size(&t.app);
    let mut handles = Vec::new();
    for tok in tokens {
        let app = t.app.clone();
        handles.push(tokio::spawn(async move {
            call(
                &app,
                post_json(
                    "/api/v2/signingCert",
                    &csr_body(&new_key(), false),
                    Some(&tok),
                ),
            )
            .await
            .status
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(ct_size(&t.app), before + 32);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_codes_and_nothing_is_issued() {
    let dir = tempfile::tempdir().unwrap();
    let t = dev_app(dir.path()).await;
    let issuer = dev_issuer(dir.path(), &t.app);
    let now = UnixTime(i64::try_from(now_secs()).unwrap());
    let req = DevTokenRequest::new(REPO, WORKFLOW, "refs/heads/main");
    let claims = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = issuer.claims_for(&req, now).unwrap();
        f(c.as_object_mut().unwrap());
        c
    };
    let signed = |c: &Value| issuer.sign_claims(c, Some(issuer.kid())).unwrap();
    let n = now.secs();

    let expired = signed(&claims(&|c| {
        c.insert("iat".into(), json!(n - 1000));
        c.insert("nbf".into(), json!(n - 1000));
        c.insert("exp".into(), json!(n - 700));
    }));
    let not_yet = signed(&claims(&|c| {
        c.insert("nbf".into(), json!(n + 600));
        c.insert("exp".into(), json!(n + 900));
    }));
    let unconfigured = signed(&claims(&|c| {
        c.insert("iss".into(), json!("https://issuer.example.org"));
    }));
    let unknown_kid = issuer
        .sign_claims(&claims(&|_| {}), Some("no-such-key"))
        .unwrap();
    let payload = b64url(&claims(&|_| {}));
    let alg_none = format!(
        "{}.{payload}.",
        b64url(&json!({"alg": "none", "typ": "JWT"}))
    );
    let hs_input = format!(
        "{}.{payload}",
        b64url(&json!({"alg": "HS256", "typ": "JWT", "kid": issuer.kid()}))
    );
    let hs_sig = hmac_sha256(issuer.jwks().as_bytes(), hs_input.as_bytes());
    let hmac = format!("{hs_input}.{}", URL_SAFE_NO_PAD.encode(hs_sig));
    let wrong_aud = mint(&t.app, json!({"audience": "not-sigstore"}))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let cases: Vec<(&str, String, StatusCode, &[&str])> = vec![
        ("expired", expired, StatusCode::UNAUTHORIZED, &["OIDC_E011"]),
        (
            "not yet valid",
            not_yet,
            StatusCode::UNAUTHORIZED,
            &["OIDC_E012"],
        ),
        (
            "wrong audience",
            wrong_aud,
            StatusCode::UNAUTHORIZED,
            &["OIDC_E009"],
        ),
        (
            "alg none",
            alg_none,
            StatusCode::UNAUTHORIZED,
            &["OIDC_E003", "OIDC_E002"],
        ),
        (
            "HMAC with the public key",
            hmac,
            StatusCode::UNAUTHORIZED,
            &["OIDC_E003"],
        ),
        (
            "unknown kid",
            unknown_kid,
            StatusCode::UNAUTHORIZED,
            &["OIDC_E006"],
        ),
        (
            "unconfigured issuer",
            unconfigured,
            StatusCode::UNAUTHORIZED,
            &["OIDC_E005"],
        ),
        (
            "not a JWT",
            "garbage".into(),
            StatusCode::UNAUTHORIZED,
            &["OIDC_E002"],
        ),
    ];
    let before = ct_size(&t.app);
    for (what, tok, status, codes) in cases {
        let r = call(
            &t.app,
            post_json(
                "/api/v2/signingCert",
                &csr_body(&new_key(), false),
                Some(&tok),
            ),
        )
        .await;
        assert_eq!(
            r.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(codes.contains(&r.code().as_str()), "{what}: {}", r.code());
        assert!(r.json()["message"].as_str().unwrap().starts_with(&r.code()));
    }
    assert_eq!(ct_size(&t.app), before, "nothing logged on refusal");
}

#[tokio::test]
async fn bad_requests_are_refused_before_the_token_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let t = dev_app(dir.path()).await;
    let tok = token(&t.app).await;
    let before = ct_size(&t.app);
    let key = new_key();

    // A CSR whose signature does not verify: refused, and the token is not spent.
    let r = call(
        &t.app,
        post_json("/api/v2/signingCert", &csr_body(&key, true), Some(&tok)),
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "CA_E011")
    );
    // A public key whose proof of possession does not verify.
    let pem = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    let pop = json!({"publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": pem},
        "proofOfPossession": STANDARD.encode([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])}});
    let tok2 = token(&t.app).await;
    let r = call(&t.app, post_json("/api/v2/signingCert", &pop, Some(&tok2))).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "CA_E009")
    );
    // Malformed JSON, unknown fields, no key source, no token, two different tokens.
    let raw = |body: &str| {
        Request::post("/api/v2/signingCert")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {tok}"))
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let r = call(&t.app, raw("{not json")).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "CA_E002")
    );
    let r = call(&t.app, raw(r#"{"surprise": 1}"#)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "CA_E002")
    );
    let r = call(&t.app, raw("{}")).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "CA_E003")
    );
    let r = call(
        &t.app,
        post_json("/api/v2/signingCert", &csr_body(&key, false), None),
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "SIGSTORE_E010")
    );
    let mut both = csr_body(&key, false);
    both["credentials"] = json!({"oidcIdentityToken": "other"});
    let r = call(&t.app, post_json("/api/v2/signingCert", &both, Some(&tok))).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "SIGSTORE_E011")
    );
    // Oversized body.
    let big = format!(
        r#"{{"certificateSigningRequest": "{}"}}"#,
        "A".repeat(70 * 1024)
    );
    let r = call(&t.app, raw(&big)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "SIGSTORE_E013")
    );
    // Wrong media type.
    let r = call(
        &t.app,
        Request::post("/api/v2/signingCert")
            .header("content-type", "text/plain")
            .body(Body::from("x"))
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "SIGSTORE_E012")
    );
    assert_eq!(ct_size(&t.app), before, "nothing logged on refusal");

    // The token survived every refusal above: it still gets a certificate.
    let r = call(
        &t.app,
        post_json("/api/v2/signingCert", &csr_body(&key, false), Some(&tok)),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(ct_size(&t.app), before + 1);
}

#[tokio::test]
async fn dev_token_requests_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let t = dev_app(dir.path()).await;
    let r = mint(&t.app, json!({"repository": "no-slash"})).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "OIDC_E027")
    );
    let r = mint(&t.app, json!({"colour": "blue"})).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "SIGSTORE_E014")
    );
    let r = mint(&t.app, json!({"event_name": "workflow_dispatch", "repository_owner_id": "1001", "environment": "prod"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let tok = r.json()["token"].as_str().unwrap().to_owned();
    let payload = tok.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["event_name"], "workflow_dispatch");
    assert_eq!(claims["repository_owner_id"], "1001");
    assert_eq!(claims["environment"], "prod");
    assert_eq!(claims["aud"], "sigstore");
    let wf = format!("{REPO}/{WORKFLOW}@refs/heads/main");
    assert_eq!(claims["job_workflow_ref"], wf.as_str());
    assert_eq!(claims["workflow_ref"], wf.as_str());
    let d = call(&t.app, get("/oidc/.well-known/openid-configuration")).await;
    assert_eq!(d.json()["issuer"], "http://127.0.0.1:0/oidc");
    let k = call(&t.app, get("/oidc/jwks")).await;
    assert_eq!(k.json()["keys"].as_array().unwrap().len(), 1);
}

fn timestamp_query() -> Vec<u8> {
    // TimeStampReq v1 { messageImprint { sha256, 32 bytes }, certReq TRUE }, DER by hand.
    let mut imprint = vec![0x30, 0x31, 0x30, 0x0d, 0x06, 0x09];
    imprint.extend_from_slice(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]);
    imprint.extend_from_slice(&[0x05, 0x00, 0x04, 0x20]);
    imprint.extend_from_slice(&Sha256::digest(b"hello"));
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend_from_slice(&imprint);
    body.extend_from_slice(&[0x01, 0x01, 0xff]);
    let mut out = vec![0x30, body.len() as u8];
    out.extend_from_slice(&body);
    out
}

#[tokio::test]
async fn timestamp_authority_grants_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let t = dev_app(dir.path()).await;
    let q = |ct: &str, body: Vec<u8>| {
        Request::post("/api/v1/timestamp")
            .header("content-type", ct)
            .body(Body::from(body))
            .unwrap()
    };
    let r = call(&t.app, q("application/timestamp-query", timestamp_query())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/timestamp-reply");
    assert_eq!(r.body[0], 0x30);
    let r = call(&t.app, q("application/octet-stream", timestamp_query())).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "SIGSTORE_E012")
    );
    let r = call(
        &t.app,
        q("application/timestamp-query", b"garbage".to_vec()),
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "TSA_E002")
    );
    let r = call(&t.app, q("application/timestamp-query", vec![0x30; 5000])).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "SIGSTORE_E013")
    );
    let r = call(&t.app, get("/api/v1/timestamp/certchain")).await;
    assert_eq!(
        String::from_utf8_lossy(&r.body)
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
}

#[tokio::test]
async fn trust_config_parses_with_vouch_verify_and_names_this_server() {
    let dir = tempfile::tempdir().unwrap();
    let t = dev_app(dir.path()).await;
    let r = call(&t.app, get("/api/v1/trust-config")).await;
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
    );
    let doc = r.json();
    let root = serde_json::to_vec(&doc["trustedRoot"]).unwrap();
    let parsed = vouch_verify::TrustRoot::from_json(&root).unwrap();
    assert_eq!(parsed.certificate_authorities(), 1);
    // One tile log under two log IDs: its Rekor v2 (Ed25519 note key) and Rekor v1
    // (ECDSA P-256) faces.
    assert_eq!(parsed.transparency_logs(), 2);
    assert_eq!(parsed.timestamp_authorities(), 1);
    // The tlog key id's first four bytes are the checkpoint signature's key hint.
    let key_id = STANDARD
        .decode(
            doc["trustedRoot"]["tlogs"][0]["logId"]["keyId"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let hint = t.app.state.log.verifier().key_id().to_be_bytes();
    assert_eq!(&key_id[..4], &hint);
    let sc = &doc["signingConfig"];
    assert_eq!(sc["rekorTlogUrls"][0]["majorApiVersion"], 2);
    assert_eq!(sc["rekorTlogUrls"][1]["majorApiVersion"], 1);
    assert_eq!(
        sc["tsaUrls"][0]["url"],
        "http://127.0.0.1:0/api/v1/timestamp"
    );
    assert_eq!(sc["oidcUrls"][0]["url"], "http://127.0.0.1:0/oidc");

    // sigstore-python (4.5.1) must accept it too.
    let root_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::process::Command::new("bash")
        .arg(root_dir.join("scripts/py-venv.sh"))
        .current_dir(&root_dir)
        .status()
        .unwrap();
    assert!(venv.success(), "scripts/py-venv.sh failed");
    let file = dir.path().join("trust.json");
    std::fs::write(&file, &r.body).unwrap();
    let out = std::process::Command::new(root_dir.join("target/py-venv/bin/python"))
        .arg("-c")
        .arg(
            "import sys\nfrom sigstore.models import ClientTrustConfig\n\
             c = ClientTrustConfig.from_json(open(sys.argv[1]).read())\n\
             c.trusted_root.rekor_keyring(__import__('sigstore._internal.trust', fromlist=['x']).KeyringPurpose.VERIFY)\n\
             c.trusted_root.ct_keyring(__import__('sigstore._internal.trust', fromlist=['x']).KeyringPurpose.VERIFY)\n\
             assert len(c.trusted_root.get_fulcio_certs()) == 2\n\
             assert len(c.trusted_root.get_timestamp_authorities()) == 1\n\
             s = c.signing_config\n\
             print(s.get_fulcio().url, len(s.get_tlogs()), len(s.get_tsas()), s.get_oidc_url())",
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sigstore-python refused the trust config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "http://127.0.0.1:0 1 1 http://127.0.0.1:0/oidc"
    );
}

#[tokio::test]
async fn restart_keeps_keys_and_replay_records_and_a_wrong_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (tok, root, kid) = {
        let t = dev_app(dir.path()).await;
        let tok = token(&t.app).await;
        let r = call(
            &t.app,
            post_json(
                "/api/v2/signingCert",
                &csr_body(&new_key(), false),
                Some(&tok),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let root = t.app.state.sigstore.ca.root_der().to_vec();
        let kid = t
            .app
            .state
            .sigstore
            .dev_issuer
            .as_ref()
            .unwrap()
            .kid()
            .to_owned();
        t.app.state.log.shutdown().await;
        t.app.state.sigstore.shutdown().await;
        (tok, root, kid)
    };
    let t = dev_app(dir.path()).await;
    assert_eq!(
        t.app.state.sigstore.ca.root_der(),
        &root[..],
        "same CA after restart"
    );
    assert_eq!(t.app.state.sigstore.dev_issuer.as_ref().unwrap().kid(), kid);
    assert_eq!(ct_size(&t.app), 1);
    let r = call(
        &t.app,
        post_json(
            "/api/v2/signingCert",
            &csr_body(&new_key(), false),
            Some(&tok),
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "OIDC_E016"),
        "replay across restart"
    );
    t.app.state.log.shutdown().await;
    t.app.state.sigstore.shutdown().await;
    drop(t);

    // Production refuses a log origin that its public URL does not imply.
    let rt = Runtime {
        dev: false,
        ..Runtime::dev(dir.path(), "http://127.0.0.1:0")
    };
    let Err(err) = open_with(dir.path(), rt, |_| {}).await else {
        panic!("opened a log whose origin the public URL does not imply");
    };
    assert_eq!(err.code(), "SERVE_E110", "{err}");

    // Without --dev the issuer routes answer a coded 404. (Production holds the log
    // origin to the public URL: this data directory's log is `localhost/vouch-dev`.)
    let rt = Runtime {
        dev: false,
        ..Runtime::dev(dir.path(), "http://localhost/vouch-dev")
    };
    let t = open_with(dir.path(), rt, |_| {}).await.unwrap();
    let r = mint(&t.app, json!({})).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "SIGSTORE_E020")
    );
    assert!(r.json()["detail"].as_str().unwrap().contains("--dev"));
    let r = call(&t.app, get("/oidc/jwks")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    t.app.state.log.shutdown().await;
    t.app.state.sigstore.shutdown().await;
    drop(t);

    // Another TOKEN_ENC_KEY cannot open the sealed material: refuse to start.
    let Err(err) = open_with(
        dir.path(),
        Runtime::dev(dir.path(), "http://127.0.0.1:0"),
        |s| {
            s.enc_key = vouch_ca::EncryptionKey::from_bytes([7; 32]);
        },
    )
    .await
    else {
        panic!("opened with the wrong TOKEN_ENC_KEY");
    };
    assert_eq!(err.code(), "SIGSTORE_E001", "{err}");
}

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is required for the TLS test");
    assert!(status.success());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("https://{addr}");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let t = open_with(&data, Runtime::dev(&data, &base), |_| {})
        .await
        .unwrap();
    let tls = vouch_registry::tls::server_config(&cert, &key).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vouch_registry::serve_tls(
        listener,
        tls,
        t.app.clone(),
        async {
            let _ = stop_rx.await;
        },
    ));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let r = client
        .get(format!("{base}/api/v1/trust-config"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["signingConfig"]["caUrls"][0]["url"], base.as_str());
    // The dev issuer lives under the https URL and its tokens verify.
    let tok: Value = client
        .post(format!("{base}/oidc/dev/token"))
        .json(&json!({"repository": REPO, "workflow": WORKFLOW, "ref": "main"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = client
        .post(format!("{base}/api/v2/signingCert"))
        .bearer_auth(tok["token"].as_str().unwrap())
        .json(&csr_body(&new_key(), false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A client that does not trust the certificate fails the handshake.
    let strict = reqwest::Client::builder().build().unwrap();
    let err = strict
        .get(format!("{base}/api/v1/trust-config"))
        .send()
        .await
        .expect_err("an untrusted certificate must fail the handshake");
    // Refused while connecting (the TLS handshake), not by an HTTP answer.
    assert!(err.is_connect() && err.status().is_none(), "{err:?}");
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    let _ = t.clock;
}

#[tokio::test]
async fn the_same_token_presented_concurrently_gets_exactly_one_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let t = dev_app(dir.path()).await;
    let tok = token(&t.app).await;
    let before = ct_size(&t.app);
    let mut handles = Vec::new();
    for _ in 0..16 {
        let (app, tok) = (t.app.clone(), tok.clone());
        handles.push(tokio::spawn(async move {
            let r = call(
                &app,
                post_json(
                    "/api/v2/signingCert",
                    &csr_body(&new_key(), false),
                    Some(&tok),
                ),
            )
            .await;
            (
                r.status,
                if r.status == StatusCode::CREATED {
                    String::new()
                } else {
                    r.code()
                },
            )
        }));
    }
    let mut created = 0;
    for h in handles {
        match h.await.unwrap() {
            (StatusCode::CREATED, _) => created += 1,
            (status, code) => assert_eq!(
                (status, code.as_str()),
                (StatusCode::UNAUTHORIZED, "OIDC_E016")
            ),
        }
    }
    assert_eq!(
        created, 1,
        "one jti buys one certificate, even within one replay batch"
    );
    assert_eq!(ct_size(&t.app), before + 1);
}
