//! End to end against a real in-process `vouch serve --dev` (SQLite, ephemeral loopback
//! port): a dev OIDC token, a certificate from vouch's CA, timestamps from its TSA, an
//! entry in its Rekor v2 log; the bundles verify with `vouch-verify` and with
//! sigstore-python 4.5.1 (`sigstore verify identity --trust-config`), for the right
//! identity only, and a tampered artifact fails on both.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use vouch_registry::{Runtime, Secrets, ServeConfig};
use vouch_verify::{Artifact, IdentityPolicy, Matcher, ParsedBundle, Policy, PolicyField};

const REPO: &str = "octo/demo";
const WORKFLOW: &str = ".github/workflows/release.yml";
const GIT_REF: &str = "refs/heads/main";

struct Server {
    base: String,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cfg = ServeConfig::dev(dir.path());
    let secrets = Secrets::dev(dir.path(), &cfg).unwrap();
    let app = vouch_registry::open(
        &cfg,
        secrets,
        Runtime::dev(dir.path(), &base),
        Arc::new(vouch_log::SystemClock),
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        let _ = vouch_registry::serve(listener, app, std::future::pending()).await;
    });
    Server {
        base,
        _dir: dir,
        http: reqwest::Client::new(),
    }
}

impl Server {
    async fn token(&self) -> String {
        let resp = self
            .http
            .post(format!("{}/oidc/dev/token", self.base))
            .json(&serde_json::json!({
                "repository": REPO, "workflow": WORKFLOW, "ref": GIT_REF,
                "environment": null, "audience": "sigstore", "event_name": "push",
                "repository_owner_id": "1001"
            }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "dev token: {}", resp.status());
        let body: serde_json::Value = resp.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    fn identity(&self) -> String {
        format!("https://github.com/{REPO}/{WORKFLOW}@{GIT_REF}")
    }

    fn issuer(&self) -> String {
        format!("{}/oidc", self.base)
    }
}

fn policy(identity: &str, issuer: &str) -> Policy {
    Policy::Keyless(IdentityPolicy::new(
        Matcher::exact(PolicyField::Identity, identity).unwrap(),
        Matcher::exact(PolicyField::Issuer, issuer).unwrap(),
    ))
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The project's venv with sigstore-python (created on first use by scripts/py-venv.sh).
fn sigstore_python() -> PathBuf {
    let root = project_root();
    let status = Command::new("bash")
        .arg(root.join("scripts/py-venv.sh"))
        .status()
        .expect("run scripts/py-venv.sh");
    assert!(status.success(), "scripts/py-venv.sh failed");
    root.join("target/py-venv/bin/sigstore")
}

/// Asserts a sigstore-python refusal: exit 1 and the reason on stderr.
#[track_caller]
fn py_refused(out: &std::process::Output, reason: &str, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(err.contains(reason), "{what}: expected {reason:?}: {err}");
}

fn python_verify(
    trust_config: &Path,
    bundle: &Path,
    file: &Path,
    identity: &str,
    issuer: &str,
) -> std::process::Output {
    Command::new(sigstore_python())
        .arg("--trust-config")
        .arg(trust_config)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
        .arg(file)
        .output()
        .expect("run sigstore-python")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_from_vouch_services_verify_with_vouch_and_sigstore_python() {
    let server = start().await;
    let cfg = vouch_sign::TrustConfig::fetch(&server.http, &server.base)
        .await
        .unwrap();
    assert_eq!(
        cfg.services().rekor_urls,
        vec![server.base.clone()],
        "the server offers its Rekor v2 log"
    );
    let token = server.token().await;
    let signer = vouch_sign::KeylessSigner::new(&cfg, &token, server.http.clone())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", e.code()));
    let (identity, issuer) = signer.identity();
    assert_eq!(identity, server.identity());
    assert_eq!(issuer.as_deref(), Some(server.issuer().as_str()));

    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("app.tar.gz");
    std::fs::write(&artifact, b"release bytes").unwrap();
    let digest: [u8; 32] = Sha256::digest(b"release bytes").into();
    let blob_bundle = signer
        .sign_artifact_digest(digest)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", e.code()));
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app.tar.gz", "digest": {"sha256": hex::encode(digest)}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://vouch.dev/test"}, "runDetails": {}}
    }))
    .unwrap();
    let dsse_bundle = signer
        .sign_in_toto(&statement)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", e.code()));

    // vouch-verify: right identity passes, another fails, a tampered artifact fails.
    let root = vouch_verify::TrustRoot::from_json(cfg.trusted_root_json()).unwrap();
    let verifier = vouch_verify::Verifier::new(&root).unwrap();
    let good = policy(&server.identity(), &server.issuer());
    let wrong = policy(
        "https://github.com/evil/x/.github/workflows/x.yml@refs/heads/main",
        &server.issuer(),
    );
    for bundle in [&blob_bundle, &dsse_bundle] {
        let parsed = ParsedBundle::from_json(bundle).unwrap();
        verifier
            .verify(&Artifact::file(&artifact), &parsed, &good)
            .unwrap_or_else(|e| panic!("vouch verify: {e}"));
        let got = verifier.verify(&Artifact::file(&artifact), &parsed, &wrong);
        assert!(
            matches!(&got, Err(vouch_verify::VerifyError::IdentityMismatch { found: Some(f), .. }) if *f == server.identity()),
            "{got:?}"
        );
        let got = verifier.verify(&Artifact::bytes(b"tampered".to_vec()), &parsed, &good);
        assert!(
            matches!(got, Err(vouch_verify::VerifyError::ArtifactMismatch { .. })),
            "{got:?}"
        );
    }

    // sigstore-python, with the server's trust configuration.
    let trust_config = dir.path().join("trust-config.json");
    let doc = server
        .http
        .get(format!("{}/api/v1/trust-config", server.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(&trust_config, &doc).unwrap();
    let tampered = dir.path().join("tampered.tar.gz");
    std::fs::write(&tampered, b"release bytez").unwrap();
    // Each bundle kind fails a tampered artifact at its own check: the message digest
    // the hashedrekord bundle documents, the in-toto statement's subject for DSSE.
    for (name, bundle, tampered_reason) in [
        ("blob", &blob_bundle, "Bundle message digest mismatch"),
        (
            "dsse",
            &dsse_bundle,
            "in-toto statement has no subject for digest",
        ),
    ] {
        let path = dir.path().join(format!("{name}.sigstore.json"));
        std::fs::write(&path, bundle).unwrap();
        let out = python_verify(
            &trust_config,
            &path,
            &artifact,
            &server.identity(),
            &server.issuer(),
        );
        assert!(
            out.status.success(),
            "sigstore-python rejected the {name} bundle: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = python_verify(
            &trust_config,
            &path,
            &artifact,
            "https://github.com/evil/x/.github/workflows/x.yml@refs/heads/main",
            &server.issuer(),
        );
        py_refused(
            &out,
            "Certificate's SANs do not match",
            &format!("{name}: another identity"),
        );
        let tampered_path = dir.path().join(format!("{name}.tampered.sigstore.json"));
        std::fs::write(&tampered_path, bundle).unwrap();
        let out = python_verify(
            &trust_config,
            &tampered_path,
            &tampered,
            &server.identity(),
            &server.issuer(),
        );
        py_refused(
            &out,
            tampered_reason,
            &format!("{name}: a tampered artifact"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_refusal_is_a_ca_stage_error() {
    let server = start().await;
    let cfg = vouch_sign::TrustConfig::fetch(&server.http, &server.base)
        .await
        .unwrap();
    // A well-formed JWT the server's dev issuer never signed.
    let token = server.token().await;
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    let forged = parts.join(".");
    let err = vouch_sign::KeylessSigner::new(&cfg, &forged, server.http.clone())
        .await
        .unwrap_err();
    assert_eq!(err.stage(), vouch_sign::Stage::Ca, "{err}");
    assert_eq!(err.code(), "SIGN_E005", "{err}");
}
