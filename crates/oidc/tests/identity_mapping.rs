//! Per-provider claim mappings against claim sets shaped like each provider's documented tokens.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use serde_json::{json, Map, Value};
use vouch_oidc::identity::map;
use vouch_oidc::{FulcioExtension as X, OidcError, Provider, San};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn github_claims() -> Map<String, Value> {
    obj(json!({
        "sub": "repo:octo-org/octo-repo:environment:prod",
        "aud": "sigstore",
        "ref": "refs/heads/main",
        "sha": "example-sha",
        "repository": "octo-org/octo-repo",
        "repository_owner": "octo-org",
        "repository_owner_id": "123",
        "repository_id": "456",
        "repository_visibility": "private",
        "run_id": "789",
        "run_attempt": "2",
        "workflow": "Release",
        "workflow_ref": "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main",
        "workflow_sha": "wf-sha",
        "job_workflow_ref": "octo-org/shared/.github/workflows/build.yml@refs/tags/v1",
        "job_workflow_sha": "job-sha",
        "event_name": "workflow_dispatch",
        "runner_environment": "self-hosted",
        "environment": "prod",
    }))
}

#[test]
fn github_maps_every_fulcio_extension() {
    let (id, binding) = map(
        &Provider::github(),
        "https://token.actions.githubusercontent.com",
        &github_claims(),
    )
    .expect("maps");
    let signer = "https://github.com/octo-org/shared/.github/workflows/build.yml@refs/tags/v1";
    assert_eq!(id.san, San::Uri(signer.to_owned()));
    let expected: Vec<(&str, &str)> = vec![
        (
            "1.3.6.1.4.1.57264.1.1",
            "https://token.actions.githubusercontent.com",
        ),
        ("1.3.6.1.4.1.57264.1.2", "workflow_dispatch"),
        ("1.3.6.1.4.1.57264.1.3", "example-sha"),
        ("1.3.6.1.4.1.57264.1.4", "Release"),
        ("1.3.6.1.4.1.57264.1.5", "octo-org/octo-repo"),
        ("1.3.6.1.4.1.57264.1.6", "refs/heads/main"),
        (
            "1.3.6.1.4.1.57264.1.8",
            "https://token.actions.githubusercontent.com",
        ),
        ("1.3.6.1.4.1.57264.1.9", signer),
        ("1.3.6.1.4.1.57264.1.10", "job-sha"),
        ("1.3.6.1.4.1.57264.1.11", "self-hosted"),
        (
            "1.3.6.1.4.1.57264.1.12",
            "https://github.com/octo-org/octo-repo",
        ),
        ("1.3.6.1.4.1.57264.1.13", "example-sha"),
        ("1.3.6.1.4.1.57264.1.14", "refs/heads/main"),
        ("1.3.6.1.4.1.57264.1.15", "456"),
        ("1.3.6.1.4.1.57264.1.16", "https://github.com/octo-org"),
        ("1.3.6.1.4.1.57264.1.17", "123"),
        (
            "1.3.6.1.4.1.57264.1.18",
            "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main",
        ),
        ("1.3.6.1.4.1.57264.1.19", "wf-sha"),
        ("1.3.6.1.4.1.57264.1.20", "workflow_dispatch"),
        (
            "1.3.6.1.4.1.57264.1.21",
            "https://github.com/octo-org/octo-repo/actions/runs/789/attempts/2",
        ),
        ("1.3.6.1.4.1.57264.1.22", "private"),
        ("1.3.6.1.4.1.57264.1.23", "prod"),
    ];
    let got: Vec<(&str, &str)> = id
        .extensions
        .iter()
        .map(|e| (e.oid(), e.value.as_str()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        binding.job_workflow_ref.as_deref(),
        Some("octo-org/shared/.github/workflows/build.yml@refs/tags/v1")
    );
    assert_eq!(
        binding.workflow_ref.as_deref(),
        Some("octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main")
    );
    assert_eq!(binding.repository_owner_id.as_deref(), Some("123"));
    assert_eq!(binding.environment.as_deref(), Some("prod"));
    assert_eq!(binding.event_name.as_deref(), Some("workflow_dispatch"));
}

#[test]
fn github_requires_the_claims_fulcio_requires() {
    for claim in [
        "job_workflow_ref",
        "repository",
        "sha",
        "job_workflow_sha",
        "runner_environment",
        "run_id",
        "repository_visibility",
    ] {
        let mut claims = github_claims();
        claims.remove(claim);
        let err = map(&Provider::github(), "https://i", &claims).expect_err(claim);
        assert!(
            matches!(&err, OidcError::IdentityClaim { claim: c, .. } if c == claim),
            "{claim}: {err:?}"
        );
        assert_eq!(err.code(), "OIDC_E023");
    }
    let mut claims = github_claims();
    claims.insert("repository".into(), json!({"nested": true}));
    assert!(matches!(
        map(&Provider::github(), "https://i", &claims),
        Err(OidcError::IdentityClaim { .. })
    ));
}

#[test]
fn gitlab_follows_fulcio_templates() {
    let claims = obj(json!({
        "sub": "project_path:group/project:ref_type:tag:ref:v1.0.0",
        "namespace_id": "72", "namespace_path": "group",
        "project_id": "20", "project_path": "group/project",
        "pipeline_source": "push", "ref": "v1.0.0", "ref_type": "tag",
        "sha": "abc", "job_id": "302",
        "ci_config_ref_uri": "gitlab.com/group/project//.gitlab-ci.yml@refs/tags/v1.0.0",
        "ci_config_sha": "cfgsha", "runner_environment": "gitlab-hosted",
        "project_visibility": "public",
    }));
    let (id, binding) = map(&Provider::gitlab(), "https://gitlab.com", &claims).expect("maps");
    let signer = "https://gitlab.com/group/project//.gitlab-ci.yml@refs/tags/v1.0.0";
    assert_eq!(id.san, San::Uri(signer.to_owned()));
    assert_eq!(
        id.extension(X::SourceRepositoryRef),
        Some("refs/tags/v1.0.0")
    );
    assert_eq!(
        id.extension(X::SourceRepositoryUri),
        Some("https://gitlab.com/group/project")
    );
    assert_eq!(
        id.extension(X::SourceRepositoryOwnerUri),
        Some("https://gitlab.com/group")
    );
    assert_eq!(
        id.extension(X::RunInvocationUri),
        Some("https://gitlab.com/group/project/-/jobs/302")
    );
    assert_eq!(id.extension(X::BuildSignerDigest), Some("cfgsha"));
    assert_eq!(id.extension(X::BuildTrigger), Some("push"));
    assert_eq!(
        id.extension(X::SourceRepositoryVisibilityAtSigning),
        Some("public")
    );
    assert_eq!(
        id.extension(X::GithubWorkflowRef),
        None,
        "GitHub-only deprecated OIDs are absent"
    );
    assert_eq!(binding.repository.as_deref(), Some("group/project"));
    assert_eq!(binding.repository_owner_id.as_deref(), Some("72"));
    assert_eq!(binding.git_ref.as_deref(), Some("refs/tags/v1.0.0"));
}

#[test]
fn buildkite_follows_fulcio_templates() {
    let claims = obj(json!({
        "sub": "organization:acme:pipeline:release:ref:refs/heads/main:commit:c0ffee:step:build",
        "organization_slug": "acme", "pipeline_slug": "release",
        "build_number": 42, "job_id": "0184-uuid", "build_commit": "c0ffee",
        "build_source": "webhook", "runner_environment": "buildkite-hosted",
    }));
    let (id, binding) =
        map(&Provider::Buildkite, "https://agent.buildkite.com", &claims).expect("maps");
    assert_eq!(id.san.value(), "https://buildkite.com/acme/release");
    assert_eq!(
        id.extension(X::RunInvocationUri),
        Some("https://buildkite.com/acme/release/builds/42#0184-uuid")
    );
    assert_eq!(id.extension(X::SourceRepositoryDigest), Some("c0ffee"));
    assert_eq!(id.extension(X::BuildTrigger), Some("webhook"));
    assert_eq!(id.extension(X::RunnerEnvironment), Some("buildkite-hosted"));
    assert_eq!(binding.repository.as_deref(), Some("acme/release"));
}

#[test]
fn circleci_follows_fulcio_templates() {
    let claims = obj(json!({
        "sub": "org/o1/project/p1/user/u1",
        "oidc.circleci.com/project-id": "p1",
        "oidc.circleci.com/pipeline-definition-id": "pd1",
        "oidc.circleci.com/pipeline-id": "pl1",
        "oidc.circleci.com/workflow-id": "wf1",
        "oidc.circleci.com/job-id": "j1",
        "oidc.circleci.com/vcs-origin": "github.com/acme/app",
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/ssh-rerun": false,
    }));
    let (id, binding) = map(
        &Provider::CircleCi,
        "https://oidc.circleci.com/org/o1",
        &claims,
    )
    .expect("maps");
    let signer = "https://circleci.com/api/v2/projects/p1/pipeline-definitions/pd1";
    assert_eq!(id.san.value(), signer);
    assert_eq!(id.extension(X::BuildSignerUri), Some(signer));
    assert_eq!(
        id.extension(X::BuildConfigUri),
        Some("https://circleci.com/api/v2/pipeline/pl1/config")
    );
    assert_eq!(
        id.extension(X::RunInvocationUri),
        Some("https://app.circleci.com//workflow/wf1/job/j1")
    );
    assert_eq!(
        id.extension(X::SourceRepositoryRef),
        Some("refs/heads/main")
    );
    assert_eq!(id.extension(X::RunnerEnvironment), None);
    assert_eq!(binding.git_ref.as_deref(), Some("refs/heads/main"));
}

#[test]
fn forgejo_uses_the_instance_url() {
    let claims = obj(json!({
        "sub": "repo:me/app:ref:refs/heads/main",
        "repository": "me/app", "repository_owner": "me", "ref": "refs/heads/main", "sha": "abc",
        "workflow_ref": "me/app/.forgejo/workflows/release.yml@refs/heads/main",
        "event_name": "push", "run_id": "5",
    }));
    let provider = Provider::ForgejoActions {
        server_url: "https://code.example.org/".into(),
    };
    let (id, binding) =
        map(&provider, "https://code.example.org/api/actions", &claims).expect("maps");
    assert_eq!(
        id.san.value(),
        "https://code.example.org/me/app/.forgejo/workflows/release.yml@refs/heads/main"
    );
    assert_eq!(
        id.extension(X::SourceRepositoryUri),
        Some("https://code.example.org/me/app")
    );
    assert_eq!(
        id.extension(X::SourceRepositoryOwnerUri),
        Some("https://code.example.org/me")
    );
    assert_eq!(id.extension(X::BuildSignerDigest), None);
    assert_eq!(binding.job_workflow_ref, binding.workflow_ref);
}

#[test]
fn email_needs_email_verified_true() {
    let verified = obj(json!({"sub": "u1", "email": "dev@example.com", "email_verified": true}));
    let (id, _) = map(&Provider::Email, "https://accounts.example.com", &verified).expect("maps");
    assert_eq!(id.san, San::Email("dev@example.com".into()));
    assert_eq!(id.extensions.len(), 2, "issuer extensions only");
    for flag in [json!(false), json!("true"), Value::Null] {
        let claims = obj(json!({"sub": "u1", "email": "dev@example.com", "email_verified": flag}));
        let err = map(&Provider::Email, "https://i", &claims).expect_err("refused");
        assert!(matches!(err, OidcError::EmailNotVerified));
        assert_eq!(err.code(), "OIDC_E024");
    }
    let no_email = obj(json!({"sub": "u1", "email_verified": true}));
    assert!(matches!(
        map(&Provider::Email, "https://i", &no_email),
        Err(OidcError::IdentityClaim { .. })
    ));
}
