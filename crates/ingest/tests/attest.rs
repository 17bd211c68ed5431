//! The attestation relay with a REAL GitHub Actions attestation: the conda package and
//! its Sigstore bundle from sigstore-rust's test data (signed by a workflow of
//! prefix-dev/sigstore-example; see crates/verify/tests/data/real-world/SOURCE), served
//! by the fake forge in GitHub's `{"attestations":[{"bundle":...}]}` shape. It verifies
//! for its own repository and digest, and is rejected for another repository, another
//! digest, or a damaged bundle; failures are values, never panics.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod support;

use std::path::PathBuf;

use serde_json::json;
use support::{FakeForge, Reply};
use vouch_ingest::{AttestationVerifier, ForgeKind, IngestError, RepoRef};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../verify/tests/data/real-world")
        .join(name)
}

fn conda_sha256() -> [u8; 32] {
    use sha2::Digest;
    let bytes = std::fs::read(data("signed-package-2.1.0-hb0f4dca_0.conda")).unwrap();
    sha2::Sha256::digest(bytes).into()
}

fn bundle() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(data("conda.sigstore.json")).unwrap()).unwrap()
}

fn path(owner: &str, repo: &str, sha: &[u8; 32]) -> String {
    format!(
        "/repos/{owner}/{repo}/attestations/sha256:{}",
        hex::encode(sha)
    )
}

fn rejected_code(e: &IngestError) -> &'static str {
    match e {
        IngestError::AttestationRejected { code, .. } => code,
        other => panic!("expected AttestationRejected, found {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_attestation_verifies_for_its_repository() {
    let forge = FakeForge::start().await;
    let sha = conda_sha256();
    let answer = Reply::json(&json!({"attestations": [{"bundle": bundle(), "repository_id": 1}]}));
    forge.route(
        &path("prefix-dev", "sigstore-example", &sha),
        answer.clone(),
    );
    // GitHub treats owner and repository names case-insensitively; so does the policy.
    forge.route(&path("Prefix-Dev", "Sigstore-Example", &sha), answer);
    let fetcher = forge.fetcher(ForgeKind::GitHub);
    let verifier = AttestationVerifier::public_good().unwrap();

    for name in ["prefix-dev/sigstore-example", "Prefix-Dev/Sigstore-Example"] {
        let repo = RepoRef::parse(name).unwrap();
        let relayed = fetcher
            .fetch_attestations(&verifier, &repo, &sha)
            .await
            .unwrap();
        assert!(relayed.rejected.is_empty(), "{:?}", relayed.rejected);
        assert_eq!(relayed.accepted.len(), 1);
        let a = &relayed.accepted[0];
        assert_eq!(
            a.identity,
            "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main"
        );
        assert_eq!(a.issuer, "https://token.actions.githubusercontent.com");
        // Stored exactly as served.
        let stored: serde_json::Value = serde_json::from_str(&a.bundle_json).unwrap();
        assert_eq!(stored, bundle());
    }
    let q = &forge.requests()[0];
    assert_eq!(q.query, "per_page=100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attestations_failing_verification_are_rejected_not_fatal() {
    let forge = FakeForge::start().await;
    let sha = conda_sha256();
    let fetcher = forge.fetcher(ForgeKind::GitHub);
    let verifier = AttestationVerifier::public_good().unwrap();
    let answer = |bundles: Vec<serde_json::Value>| {
        Reply::json(
            &json!({"attestations": bundles.into_iter().map(|b| json!({"bundle": b})).collect::<Vec<_>>()}),
        )
    };

    // Another repository serving this bundle: the identity is not its workflow.
    // (A repository whose name only starts the same way must not match either.)
    for (owner, repo) in [
        ("someone", "sigstore-example"),
        ("prefix-dev", "sigstore-exampl"),
        ("prefix-dev", "sigstore"),
    ] {
        forge.route(&path(owner, repo, &sha), answer(vec![bundle()]));
        let r = RepoRef::new(owner, repo).unwrap();
        let relayed = fetcher
            .fetch_attestations(&verifier, &r, &sha)
            .await
            .unwrap();
        assert!(relayed.accepted.is_empty(), "{owner}/{repo}");
        assert_eq!(
            rejected_code(&relayed.rejected[0]),
            "VERIFY_E024",
            "{:?}",
            relayed.rejected
        );
        assert_eq!(relayed.rejected[0].code(), "INGEST_E022");
    }

    // The right repository, but served for another digest (tampered subject).
    let mut other = sha;
    other[0] ^= 0xff;
    forge.route(
        &path("prefix-dev", "sigstore-example", &other),
        answer(vec![bundle()]),
    );
    let repo = RepoRef::parse("prefix-dev/sigstore-example").unwrap();
    let relayed = fetcher
        .fetch_attestations(&verifier, &repo, &other)
        .await
        .unwrap();
    assert!(relayed.accepted.is_empty());
    assert!(
        ["VERIFY_E011", "VERIFY_E020"].contains(&rejected_code(&relayed.rejected[0])),
        "{:?}",
        relayed.rejected
    );

    // A damaged signature, a non-bundle and a missing bundle beside a good one: the good
    // one is kept, each bad one reported with its index.
    let mut damaged = bundle();
    let sig = damaged["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if sig.starts_with('M') {
        sig.replacen('M', "N", 1)
    } else {
        format!("M{}", &sig[1..])
    };
    damaged["dsseEnvelope"]["signatures"][0]["sig"] = json!(flipped);
    forge.route(
        &path("prefix-dev", "sigstore-example", &sha),
        Reply::json(&json!({"attestations": [
            {"bundle": damaged},
            {"bundle": {"mediaType": "nonsense"}},
            {"bundle": null, "bundle_url": "https://example.invalid/b"},
            {"bundle": bundle()},
        ]})),
    );
    let relayed = fetcher
        .fetch_attestations(&verifier, &repo, &sha)
        .await
        .unwrap();
    assert_eq!(relayed.accepted.len(), 1);
    let indices: Vec<usize> = relayed
        .rejected
        .iter()
        .map(|e| match e {
            IngestError::AttestationRejected { index, .. } => *index,
            _ => usize::MAX,
        })
        .collect();
    assert_eq!(indices, [0, 1, 2]);
    assert!(rejected_code(&relayed.rejected[0]).starts_with("VERIFY_E"));
    assert_eq!(rejected_code(&relayed.rejected[1]), "VERIFY_E004");
    assert_eq!(rejected_code(&relayed.rejected[2]), "INGEST_E022");

    // No attestations: an empty result. A broken answer: an error value.
    let none = RepoRef::parse("acme/widget").unwrap();
    let relayed = fetcher
        .fetch_attestations(&verifier, &none, &sha)
        .await
        .unwrap();
    assert!(relayed.accepted.is_empty() && relayed.rejected.is_empty());
    forge.route(&path("acme", "widget", &sha), Reply::ok("<html>"));
    let e = fetcher
        .fetch_attestations(&verifier, &none, &sha)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INGEST_E011");
    // Other forges have no attestation API.
    let gitea = forge.fetcher(ForgeKind::Gitea);
    assert_eq!(
        gitea
            .fetch_attestations(&verifier, &none, &sha)
            .await
            .unwrap_err()
            .code(),
        "INGEST_E021"
    );
}
