//! Issuance throughput: parse a Fulcio v2 JSON request, check its proof of possession,
//! and issue a certificate with an embedded SCT (the CA's whole per-request work, minus
//! OIDC and HTTP). Run with `cargo bench -p vouch-ca --bench issue`; not run in CI.

use std::sync::Arc;

use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use vouch_ca::{
    CaConfig, CaMaterial, CertificateAuthority, CertificateIdentity, San, SigningRequest,
    SystemClock, OID_BUILD_SIGNER_URI,
};

const SUBJECT: &str = "repo:octo/demo:ref:refs/heads/main";

fn bench_issue(c: &mut Criterion) {
    let material = CaMaterial::generate(&CaConfig::default(), std::time::SystemTime::now())
        .expect("fresh CA material");
    let ca = CertificateAuthority::new(material, Arc::new(SystemClock)).expect("CA");
    let key = SigningKey::random(&mut rand_core::OsRng);
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM");
    let proof: DerSignature = key.sign(SUBJECT.as_bytes());
    let body = serde_json::to_vec(&serde_json::json!({
        "credentials": {"oidcIdentityToken": "t"},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem},
            "proofOfPossession": base64::engine::general_purpose::STANDARD.encode(proof.as_bytes()),
        }
    }))
    .expect("JSON");
    let identity = CertificateIdentity {
        san: San::Uri(
            "https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main".into(),
        ),
        issuer: "https://token.actions.githubusercontent.com".into(),
        extensions: vec![(OID_BUILD_SIGNER_URI, "https://github.com/octo/demo".into())],
    };

    let mut group = c.benchmark_group("ca");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_prove_issue_p256", |b| {
        b.iter(|| {
            let request = SigningRequest::from_json(&body).expect("request");
            let proven = request.prove_possession(SUBJECT).expect("proof");
            let issued = ca.issue(&proven, &identity).expect("issue");
            issued.to_response().expect("response")
        })
    });
    let proven = SigningRequest::from_json(&body)
        .expect("request")
        .prove_possession(SUBJECT)
        .expect("proof");
    group.bench_function("issue_only", |b| {
        b.iter(|| ca.issue(&proven, &identity).expect("issue"))
    });
    // Reference: one pure-Rust (RustCrypto `p256`) signature, the signer the hot path
    // no longer uses.
    group.bench_function("rustcrypto_p256_sign_reference", |b| {
        b.iter(|| -> DerSignature { key.sign(SUBJECT.as_bytes()) })
    });
    group.finish();
}

criterion_group!(benches, bench_issue);
criterion_main!(benches);
