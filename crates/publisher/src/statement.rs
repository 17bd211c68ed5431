//! The in-toto Statement v1 with an SLSA provenance v1 predicate that `vouch publish`
//! signs, built from the identity token's claims.

use serde_json::{json, Value};

use crate::token::Token;

/// The in-toto statement type (in-toto attestation framework, Statement v1).
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA provenance v1.
pub const SLSA_PREDICATE: &str = "https://slsa.dev/provenance/v1";
/// The build type of GitHub Actions workflows (as GitHub's own attestations use).
const GITHUB_BUILD_TYPE: &str = "https://actions.github.io/buildtypes/workflow/v1";
/// The build type of GitLab CI jobs.
const GITLAB_BUILD_TYPE: &str =
    "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/main/docs/buildtype/v1";
/// Any other OIDC-identified build: the external parameters are the token's claims.
const OIDC_BUILD_TYPE: &str = "https://vouch.dev/buildtypes/oidc/v1";

/// The in-toto Statement v1 for the archive, with SLSA provenance v1 from the token.
pub fn slsa_statement(filename: &str, sha256: &str, token: &Token) -> Value {
    let predicate =
        if token.claim("workflow_ref").is_some() || token.claim("job_workflow_ref").is_some() {
            github_predicate(token)
        } else if token.claim("project_path").is_some() {
            gitlab_predicate(token)
        } else {
            oidc_predicate(token)
        };
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": filename, "digest": { "sha256": sha256 } }],
        "predicateType": SLSA_PREDICATE,
        "predicate": predicate,
    })
}

/// GitHub Actions: the shape of GitHub's own build provenance.
#[allow(
    clippy::indexing_slicing,
    reason = "IndexMut on a json! object literal built in this function never panics"
)]
fn github_predicate(t: &Token) -> Value {
    let server = t.github_server.as_deref().unwrap_or("https://github.com");
    let repo = t.claim("repository").unwrap_or_default();
    let workflow_ref = t
        .claim("workflow_ref")
        .or_else(|| t.claim("job_workflow_ref"))
        .unwrap_or_default();
    // `owner/repo/.github/workflows/x.yml@refs/heads/main` -> path and ref.
    let (path_part, git_ref) = workflow_ref.split_once('@').unwrap_or((workflow_ref, ""));
    let path = path_part
        .strip_prefix(repo)
        .map(|p| p.trim_start_matches('/'))
        .unwrap_or(path_part);
    let git_ref = t.claim("ref").unwrap_or(git_ref);
    let repo_uri = format!("{server}/{repo}");
    let mut dep = json!({ "uri": format!("git+{repo_uri}@{git_ref}") });
    if let Some(sha) = t.claim("sha") {
        dep["digest"] = json!({ "gitCommit": sha });
    }
    let run_id = t.claim("run_id").unwrap_or("0");
    let attempt = t.claim("run_attempt").unwrap_or("1");
    json!({
        "buildDefinition": {
            "buildType": GITHUB_BUILD_TYPE,
            "externalParameters": {
                "workflow": { "ref": git_ref, "repository": repo_uri, "path": path }
            },
            "internalParameters": {
                "github": {
                    "event_name": t.claim("event_name"),
                    "repository_id": t.claim("repository_id"),
                    "repository_owner_id": t.claim("repository_owner_id"),
                    "runner_environment": t.claim("runner_environment"),
                }
            },
            "resolvedDependencies": [dep],
        },
        "runDetails": {
            "builder": { "id": format!("{server}/{}", t.claim("job_workflow_ref").unwrap_or(workflow_ref)) },
            "metadata": { "invocationId": format!("{repo_uri}/actions/runs/{run_id}/attempts/{attempt}") },
        },
    })
}

/// GitLab CI: project, pipeline source and config reference from the id token.
#[allow(
    clippy::indexing_slicing,
    reason = "IndexMut on a json! object literal built in this function never panics"
)]
fn gitlab_predicate(t: &Token) -> Value {
    let server = t.gitlab_server.as_deref().unwrap_or("https://gitlab.com");
    let project = t.claim("project_path").unwrap_or_default();
    let git_ref = t.claim("ref").unwrap_or_default();
    let repo_uri = format!("{server}/{project}");
    let mut dep = json!({ "uri": format!("git+{repo_uri}@{git_ref}") });
    if let Some(sha) = t.claim("sha") {
        dep["digest"] = json!({ "gitCommit": sha });
    }
    json!({
        "buildDefinition": {
            "buildType": GITLAB_BUILD_TYPE,
            "externalParameters": {
                "workflow": { "ref": git_ref, "repository": repo_uri,
                              "path": t.claim("ci_config_ref_uri") },
                "source": repo_uri,
            },
            "internalParameters": {
                "gitlab": { "pipeline_source": t.claim("pipeline_source"),
                            "project_id": t.claim("project_id"),
                            "namespace_id": t.claim("namespace_id") }
            },
            "resolvedDependencies": [dep],
        },
        "runDetails": {
            "builder": { "id": format!("{server}/{}", t.claim("ci_config_ref_uri").unwrap_or(project)) },
            "metadata": { "invocationId": format!("{repo_uri}/-/jobs/{}", t.claim("job_id").unwrap_or("0")) },
        },
    })
}

/// Any other issuer (an email identity, Buildkite, CircleCI, Forgejo): the claims that
/// name the build, as they are.
fn oidc_predicate(t: &Token) -> Value {
    let issuer = t.claim("iss").unwrap_or_default();
    let subject = t
        .claim("email")
        .or_else(|| t.claim("sub"))
        .unwrap_or_default();
    json!({
        "buildDefinition": {
            "buildType": OIDC_BUILD_TYPE,
            "externalParameters": {
                "workflow": { "ref": t.claim("ref"), "repository": t.claim("repository"),
                              "path": t.claim("workflow") },
                "issuer": issuer, "subject": subject,
            },
            "internalParameters": {},
            "resolvedDependencies": [],
        },
        "runDetails": {
            "builder": { "id": format!("{issuer}#{subject}") },
            "metadata": { "invocationId": t.claim("jti").unwrap_or_default() },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::CiEnv;
    use base64::Engine as _;

    fn token(claims: Value, env: CiEnv) -> Token {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!("e30.{}.c2ln", b64.encode(claims.to_string()));
        Token::from_jwt(&jwt, "flag", &env).unwrap()
    }

    #[test]
    fn github_statement_has_slsa_v1_fields() {
        let t = token(
            json!({
                "iss": "https://token.actions.githubusercontent.com",
                "repository": "acme/widget", "ref": "refs/heads/main", "sha": "abc123",
                "workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
                "job_workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
                "run_id": "42", "run_attempt": "2", "event_name": "push",
            }),
            CiEnv::from_pairs::<&str, &str>([]),
        );
        let s = slsa_statement("acme-widget-1.0.0.tar.zst", &"ab".repeat(32), &t);
        assert_eq!(s["_type"], STATEMENT_TYPE);
        assert_eq!(s["predicateType"], SLSA_PREDICATE);
        assert_eq!(s["subject"][0]["digest"]["sha256"], "ab".repeat(32));
        let p = &s["predicate"];
        assert_eq!(p["buildDefinition"]["buildType"], GITHUB_BUILD_TYPE);
        let wf = &p["buildDefinition"]["externalParameters"]["workflow"];
        assert_eq!(wf["path"], ".github/workflows/release.yml");
        assert_eq!(wf["repository"], "https://github.com/acme/widget");
        assert_eq!(wf["ref"], "refs/heads/main");
        assert_eq!(
            p["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"],
            "abc123"
        );
        assert_eq!(
            p["runDetails"]["metadata"]["invocationId"],
            "https://github.com/acme/widget/actions/runs/42/attempts/2"
        );
    }

    #[test]
    fn the_forge_url_comes_from_the_job_environment() {
        let env = CiEnv::from_pairs([("GITHUB_SERVER_URL", "https://ghe.example")]);
        let t = token(
            json!({"repository": "a/b", "workflow_ref": "a/b/.github/workflows/r.yml@refs/tags/v1"}),
            env,
        );
        let s = slsa_statement("f", "00", &t);
        let wf = &s["predicate"]["buildDefinition"]["externalParameters"]["workflow"];
        assert_eq!(wf["repository"], "https://ghe.example/a/b");
        let env = CiEnv::from_pairs([("CI_SERVER_URL", "https://gl.example")]);
        let t = token(
            json!({"project_path": "g/p", "ref": "main", "job_id": "7"}),
            env,
        );
        let s = slsa_statement("f", "00", &t);
        assert_eq!(
            s["predicate"]["buildDefinition"]["buildType"],
            GITLAB_BUILD_TYPE
        );
        assert_eq!(
            s["predicate"]["runDetails"]["metadata"]["invocationId"],
            "https://gl.example/g/p/-/jobs/7"
        );
    }

    #[test]
    fn any_other_issuer_gets_the_oidc_build_type() {
        let t = token(
            json!({"iss": "https://agent.buildkite.com", "sub": "org:acme:pipeline:w", "jti": "j1"}),
            CiEnv::from_pairs::<&str, &str>([]),
        );
        let s = slsa_statement("f", "00", &t);
        let p = &s["predicate"];
        assert_eq!(p["buildDefinition"]["buildType"], OIDC_BUILD_TYPE);
        assert_eq!(
            p["runDetails"]["builder"]["id"],
            "https://agent.buildkite.com#org:acme:pipeline:w"
        );
        assert_eq!(p["runDetails"]["metadata"]["invocationId"], "j1");
    }
}
