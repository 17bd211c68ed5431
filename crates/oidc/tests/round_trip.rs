//! Dev issuer → verifier → identity mapping, for both key types, and key persistence.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod common;

use std::sync::Arc;
use vouch_oidc::Clock as _;

use common::{Fixture, AUDIENCE, ISSUER};
use vouch_oidc::{
    DevIssuer, DevKeyAlgorithm, DevTokenRequest, FulcioExtension as X, InMemoryReplayStore,
    ManualClock, MemoryFetcher, OidcError, San, TransportPolicy, UnixTime, Verifier,
};

const SAN: &str =
    "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main";

#[tokio::test]
async fn dev_token_round_trips_to_the_github_identity() {
    for alg in [DevKeyAlgorithm::Es256, DevKeyAlgorithm::Rs256] {
        let f = Fixture::new(alg);
        let verified = f.verifier.verify(&f.mint()).await.expect("accepted");
        assert_eq!(verified.identity.san, San::Uri(SAN.to_owned()), "{alg:?}");
        assert_eq!(verified.identity.issuer, ISSUER);
        assert_eq!(verified.audience, AUDIENCE);
        let id = &verified.identity;
        assert_eq!(id.extension(X::Issuer), Some(ISSUER));
        assert_eq!(id.extension(X::IssuerV2), Some(ISSUER));
        assert_eq!(id.extension(X::BuildSignerUri), Some(SAN));
        assert_eq!(id.extension(X::BuildConfigUri), Some(SAN));
        assert_eq!(
            id.extension(X::SourceRepositoryUri),
            Some("https://github.com/octo-org/octo-repo")
        );
        assert_eq!(
            id.extension(X::SourceRepositoryOwnerUri),
            Some("https://github.com/octo-org")
        );
        assert_eq!(
            id.extension(X::SourceRepositoryRef),
            Some("refs/heads/main")
        );
        assert_eq!(id.extension(X::RunnerEnvironment), Some("github-hosted"));
        assert_eq!(id.extension(X::BuildTrigger), Some("push"));
        assert_eq!(id.extension(X::GithubWorkflowTrigger), Some("push"));
        assert_eq!(id.extension(X::GithubWorkflowName), Some("release"));
        assert_eq!(
            id.extension(X::SourceRepositoryVisibilityAtSigning),
            Some("public")
        );
        assert_eq!(id.extension(X::DeploymentEnvironment), None);
        let run = id.extension(X::RunInvocationUri).expect("run uri");
        assert!(
            run.starts_with("https://github.com/octo-org/octo-repo/actions/runs/")
                && run.ends_with("/attempts/1")
        );
        assert_eq!(
            id.extension(X::SourceRepositoryDigest).map(str::len),
            Some(40)
        );
        // Rendered in OID order.
        let arcs: Vec<u32> = id.extensions.iter().map(|e| e.kind.arc()).collect();
        let mut sorted = arcs.clone();
        sorted.sort_unstable();
        assert_eq!(arcs, sorted);

        let b = &verified.binding;
        assert_eq!(b.repository.as_deref(), Some("octo-org/octo-repo"));
        assert_eq!(b.repository_owner.as_deref(), Some("octo-org"));
        assert_eq!(
            b.workflow_ref.as_deref(),
            Some("octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main")
        );
        assert_eq!(b.job_workflow_ref, b.workflow_ref);
        assert_eq!(b.event_name.as_deref(), Some("push"));
        assert_eq!(b.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(b.environment, None);
        assert_eq!(b.subject, "repo:octo-org/octo-repo:ref:refs/heads/main");
        assert!(b
            .repository_owner_id
            .as_deref()
            .is_some_and(|id| id.parse::<u64>().is_ok()));
    }
}

#[tokio::test]
async fn environment_and_bare_ref_are_carried() {
    let f = Fixture::es256();
    let req = DevTokenRequest::new(
        "octo-org/octo-repo",
        ".github/workflows/release.yml",
        "v1.2.3",
    )
    .with_environment("production");
    let token = f.dev.mint(&req, f.clock.now()).expect("mint");
    let verified = f.verifier.verify(&token).await.expect("accepted");
    assert_eq!(verified.binding.environment.as_deref(), Some("production"));
    assert_eq!(
        verified.binding.git_ref.as_deref(),
        Some("refs/heads/v1.2.3")
    );
    assert_eq!(
        verified.identity.extension(X::DeploymentEnvironment),
        Some("production")
    );
    assert_eq!(
        verified.subject,
        "repo:octo-org/octo-repo:environment:production"
    );
    assert_eq!(verified.claim_str("ref_type"), Some("branch"));
}

#[tokio::test]
async fn ids_are_deterministic_and_jtis_unique() {
    let f = Fixture::es256();
    let a = f.verifier.verify(&f.mint()).await.expect("a");
    let b = f.verifier.verify(&f.mint()).await.expect("b");
    assert_ne!(a.jti, b.jti);
    assert_eq!(a.binding.repository_id, b.binding.repository_id);
    assert_eq!(a.binding.repository_owner_id, b.binding.repository_owner_id);
    assert_eq!(
        a.expires_at.secs() - a.issued_at.secs(),
        vouch_oidc::DEV_TOKEN_LIFETIME_SECS
    );
}

#[tokio::test]
async fn persisted_key_restores_the_same_issuer() {
    for alg in [DevKeyAlgorithm::Es256, DevKeyAlgorithm::Rs256] {
        let original = DevIssuer::generate(ISSUER, alg).expect("key");
        let pem = original.to_pkcs8_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let restored = DevIssuer::from_pkcs8_pem(ISSUER, &pem).expect("restore");
        assert_eq!(restored.kid(), original.kid());
        assert_eq!(restored.jwks(), original.jwks());
        assert_eq!(restored.algorithm(), original.algorithm());
        // A token from the restored key verifies against the original's JWKS.
        let f = Fixture::new(alg);
        let fetcher = Arc::new(MemoryFetcher::new());
        common::serve(&fetcher, &original);
        let verifier = Verifier::builder(fetcher, Arc::new(InMemoryReplayStore::new()))
            .clock(Arc::new(f.clock.clone()))
            .issuer(original.issuer_config(AUDIENCE))
            .build()
            .expect("config");
        let token = restored
            .mint(&Fixture::request(), f.clock.now())
            .expect("mint");
        assert!(verifier.verify(&token).await.is_ok(), "{alg:?}");
    }
    assert!(matches!(
        DevIssuer::from_pkcs8_pem(ISSUER, "garbage"),
        Err(OidcError::SigningKey { .. })
    ));
}

#[tokio::test]
async fn loopback_dev_issuer_needs_the_dev_transport_policy() {
    let dev =
        DevIssuer::generate("http://127.0.0.1:8080/oidc", DevKeyAlgorithm::Es256).expect("key");
    let fetcher = Arc::new(MemoryFetcher::new());
    common::serve(&fetcher, &dev);
    let strict = Verifier::builder(fetcher.clone(), Arc::new(InMemoryReplayStore::new()))
        .issuer(dev.issuer_config(AUDIENCE))
        .build();
    assert!(matches!(strict, Err(OidcError::InsecureUrl { .. })));
    let clock = ManualClock::new(UnixTime(common::START));
    let verifier = Verifier::builder(fetcher, Arc::new(InMemoryReplayStore::new()))
        .clock(Arc::new(clock.clone()))
        .transport_policy(TransportPolicy::AllowLoopbackHttp)
        .issuer(dev.issuer_config(AUDIENCE))
        .build()
        .expect("dev config");
    let token = dev.mint(&Fixture::request(), clock.now()).expect("mint");
    let verified = verifier.verify(&token).await.expect("accepted");
    assert_eq!(verified.identity.san.value(), SAN);
    assert_eq!(verified.issuer, "http://127.0.0.1:8080/oidc");
}

#[test]
fn dev_documents_are_well_formed() {
    let dev = DevIssuer::generate(ISSUER, DevKeyAlgorithm::Es256).expect("key");
    let discovery: serde_json::Value =
        serde_json::from_str(&dev.discovery_document()).expect("json");
    assert_eq!(discovery["issuer"], ISSUER);
    assert_eq!(
        discovery["jwks_uri"],
        format!("{ISSUER}/.well-known/jwks.json")
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"][0],
        "ES256"
    );
    let jwks: serde_json::Value = serde_json::from_str(&dev.jwks()).expect("json");
    assert_eq!(jwks["keys"][0]["kid"], dev.kid());
    assert_eq!(jwks["keys"][0]["crv"], "P-256");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "no private material in the JWKS"
    );
}

#[test]
fn dev_requests_are_validated() {
    let dev = DevIssuer::generate(ISSUER, DevKeyAlgorithm::Es256).expect("key");
    let now = UnixTime(common::START);
    let bad = [
        DevTokenRequest::new("no-slash", ".github/workflows/r.yml", "refs/heads/main"),
        DevTokenRequest::new("a/b/c", ".github/workflows/r.yml", "refs/heads/main"),
        DevTokenRequest::new("o/r", "/abs/path.yml", "refs/heads/main"),
        DevTokenRequest::new("o/r", ".github/../x.yml", "refs/heads/main"),
        DevTokenRequest::new("o/r", ".github/workflows/r.yml", "refs/heads/a b"),
        DevTokenRequest::new("o/r", ".github/workflows/r@x.yml", "refs/heads/main"),
        DevTokenRequest::new("o/r", ".github/workflows/r.yml", "main").with_audience(""),
    ];
    for req in bad {
        let err = dev.mint(&req, now).expect_err("refused");
        assert_eq!(err.code(), "OIDC_E027", "{req:?}");
    }
}
