//! The whole flow against an in-process mock of the four services (built from the vouch
//! CA and TSA libraries and a test log key) on an ephemeral loopback port: bundles verify
//! with `vouch-verify`, and each service failure maps to its code and stage.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::*;
use crate::{KeylessSigner, SignError, Stage, TrustConfig};

/// What the mock does wrong, if anything.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Fault {
    None = 0,
    CaRefuses = 1,
    LogDown = 2,
    LogForgesCheckpoint = 3,
    TsaHuge = 4,
}

struct Mock {
    material: Material,
    fault: AtomicU8,
    base: String,
}

impl Mock {
    fn fault(&self) -> Fault {
        match self.fault.load(Ordering::SeqCst) {
            1 => Fault::CaRefuses,
            2 => Fault::LogDown,
            3 => Fault::LogForgesCheckpoint,
            4 => Fault::TsaHuge,
            _ => Fault::None,
        }
    }
}

async fn signing_cert(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: Bytes) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if mock.fault() == Fault::CaRefuses || !bearer.starts_with("Bearer ") {
        return (StatusCode::UNAUTHORIZED, "token expired").into_response();
    }
    let chain = mock.material.issue_chain(&body);
    let pems: Vec<String> = chain
        .iter()
        .map(|der| der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).unwrap())
        .collect();
    axum::Json(serde_json::json!({
        "signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}
    }))
    .into_response()
}

async fn timestamp(State(mock): State<Arc<Mock>>, body: Bytes) -> Response {
    if mock.fault() == Fault::TsaHuge {
        return vec![0u8; 200 * 1024].into_response();
    }
    mock.material.tsa.respond(&body).into_response()
}

async fn log_entries(State(mock): State<Arc<Mock>>, body: Bytes) -> Response {
    if mock.fault() == Fault::LogDown {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let r = &request["hashedRekordRequestV002"];
    let b64 = |v: &serde_json::Value| B64.decode(v.as_str().unwrap()).unwrap();
    let digest: [u8; 32] = b64(&r["digest"]).try_into().unwrap();
    let canonical = hashedrekord_body(
        &digest,
        &b64(&r["signature"]["content"]),
        &b64(&r["signature"]["verifier"]["x509Certificate"]["rawBytes"]),
    );
    let stranger = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let key = (mock.fault() == Fault::LogForgesCheckpoint).then_some(&stranger);
    axum::Json(log_entry_json(&mock.material, &canonical, key, false)).into_response()
}

async fn trust_config(State(mock): State<Arc<Mock>>) -> Response {
    let root: serde_json::Value = serde_json::from_str(&mock.material.trusted_root_json()).unwrap();
    let signing: serde_json::Value =
        serde_json::from_str(&Material::signing_config_json(&mock.base)).unwrap();
    axum::Json(serde_json::json!({
        "mediaType": crate::CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": root,
        "signingConfig": signing,
    }))
    .into_response()
}

async fn start() -> Arc<Mock> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mock = Arc::new(Mock {
        material: Material::generate(),
        fault: AtomicU8::new(0),
        base,
    });
    let app = Router::new()
        .route("/api/v2/signingCert", post(signing_cert))
        .route("/api/v1/timestamp", post(timestamp))
        .route("/api/v2/log/entries", post(log_entries))
        .route("/api/v1/trust-config", get(trust_config))
        .with_state(mock.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    mock
}

const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

fn verify(mock: &Mock, cfg: &TrustConfig, bundle: &[u8], artifact: vouch_verify::Artifact) {
    use vouch_verify::{IdentityPolicy, Matcher, ParsedBundle, Policy, PolicyField, TrustRoot};
    let root = TrustRoot::from_json(cfg.trusted_root_json()).unwrap();
    let verifier = vouch_verify::Verifier::new(&root).unwrap();
    let bundle = ParsedBundle::from_json(bundle).unwrap();
    let policy = |identity: &str| {
        Policy::Keyless(IdentityPolicy::new(
            Matcher::exact(PolicyField::Identity, identity).unwrap(),
            Matcher::exact(PolicyField::Issuer, ISSUER).unwrap(),
        ))
    };
    verifier
        .verify(&artifact, &bundle, &policy(IDENTITY))
        .unwrap_or_else(|e| panic!("bundle does not verify: {e}"));
    let got = verifier.verify(&artifact, &bundle, &policy("https://github.com/evil/x"));
    assert!(
        matches!(&got, Err(vouch_verify::VerifyError::IdentityMismatch { found: Some(f), .. }) if f == IDENTITY),
        "{got:?}"
    );
    let _ = mock;
}

#[tokio::test]
async fn signs_and_the_bundles_verify() {
    let mock = start().await;
    let http = reqwest::Client::new();
    let cfg = TrustConfig::fetch(&http, &mock.base).await.unwrap();
    let signer = KeylessSigner::new(&cfg, TOKEN, http).await.unwrap();

    let artifact = b"hello vouch".to_vec();
    let digest: [u8; 32] = Sha256::digest(&artifact).into();
    let bundle = signer.sign_artifact_digest(digest).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(
        json["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(json["verificationMaterial"]["certificate"]["rawBytes"].is_string());
    assert_eq!(
        json["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    verify(
        &mock,
        &cfg,
        &bundle,
        vouch_verify::Artifact::bytes(artifact.clone()),
    );

    // The same signer signs again (one certificate, many signatures).
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "hello.txt", "digest": {"sha256": hex::encode(digest)}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://example.com/t"}},
    }))
    .unwrap();
    let bundle = signer.sign_in_toto(&statement).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(
        json["dsseEnvelope"]["payloadType"],
        crate::IN_TOTO_PAYLOAD_TYPE
    );
    verify(
        &mock,
        &cfg,
        &bundle,
        vouch_verify::Artifact::bytes(artifact),
    );
}

#[tokio::test]
async fn service_failures_carry_their_code_and_stage() {
    let mock = start().await;
    let http = reqwest::Client::new();
    let cfg = TrustConfig::fetch(&http, &mock.base).await.unwrap();

    mock.fault.store(Fault::CaRefuses as u8, Ordering::SeqCst);
    let err = KeylessSigner::new(&cfg, TOKEN, http.clone())
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.stage()), ("SIGN_E005", Stage::Ca), "{err}");
    assert!(err.to_string().contains("token expired"), "{err}");

    mock.fault.store(Fault::None as u8, Ordering::SeqCst);
    let signer = KeylessSigner::new(&cfg, TOKEN, http.clone()).await.unwrap();
    let cases: [(Fault, &str, Stage); 3] = [
        (Fault::LogDown, "SIGN_E014", Stage::Log),
        (Fault::LogForgesCheckpoint, "SIGN_E018", Stage::Log),
        (Fault::TsaHuge, "SIGN_E021", Stage::Timestamp),
    ];
    for (fault, code, stage) in cases {
        mock.fault.store(fault as u8, Ordering::SeqCst);
        let err: SignError = signer.sign_artifact_digest([1u8; 32]).await.unwrap_err();
        assert_eq!((err.code(), err.stage()), (code, stage), "{err}");
    }
    mock.fault.store(Fault::None as u8, Ordering::SeqCst);
    assert!(err_unavailable_is_flagged(&signer, &mock).await);

    // Nothing listens: the trust config cannot be fetched.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = TrustConfig::fetch(&http, &format!("http://{addr}"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SIGN_E003", "{err}");
    assert!(err.is_unavailable());
}

async fn err_unavailable_is_flagged(signer: &KeylessSigner, mock: &Mock) -> bool {
    mock.fault.store(Fault::LogDown as u8, Ordering::SeqCst);
    let err = signer.sign_artifact_digest([2u8; 32]).await.unwrap_err();
    mock.fault.store(Fault::None as u8, Ordering::SeqCst);
    err.is_unavailable()
}
