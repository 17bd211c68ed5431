//! What `vouch publish` says about a build: the CI's OIDC identity token (from a flag, a
//! file, GitHub Actions or GitLab CI) and the in-toto Statement v1 with an SLSA
//! provenance v1 predicate built from that token's claims.
//!
//! The token's claims are read without verifying its signature: they only fill in the
//! provenance text. The certificate authority verifies the token, and the registry
//! checks the certificate, so nothing here is trusted by anyone.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::output::{CodedError, Exit};

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

/// Where the identity token comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// The OIDC identity token (a JWT). Without it vouch asks GitHub Actions or GitLab CI.
    #[arg(
        long,
        env = "VOUCH_IDENTITY_TOKEN",
        hide_env_values = true,
        value_name = "JWT",
        conflicts_with = "identity_token_file"
    )]
    pub identity_token: Option<String>,
    /// Read the OIDC identity token from this file.
    #[arg(long, value_name = "FILE")]
    pub identity_token_file: Option<PathBuf>,
    /// GitLab CI: the `id_tokens:` variable holding a token with `aud: sigstore`.
    #[arg(long, value_name = "VAR", default_value = "SIGSTORE_ID_TOKEN")]
    pub gitlab_token_var: String,
}

/// An identity token and its (unverified) claims.
pub struct Token {
    pub jwt: String,
    pub claims: Value,
    /// Where the token came from: `flag`, `file`, `github-actions`, `gitlab-ci`.
    pub source: &'static str,
}

fn no_token(msg: String) -> anyhow::Error {
    CodedError::new("PUB_E002", Exit::Error, msg).into()
}

/// The token's payload claims, or an error naming what is wrong with it.
fn claims_of(jwt: &str) -> anyhow::Result<Value> {
    let payload = jwt
        .trim()
        .split('.')
        .nth(1)
        .ok_or_else(|| no_token("the identity token is not a JWT (no payload part)".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| {
            no_token(format!(
                "the identity token's payload is not base64url: {e}"
            ))
        })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| no_token(format!("the identity token's payload is not JSON: {e}")))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Obtains the identity token: flag, file, GitHub Actions, GitLab CI, in that order.
/// PUB_E002 names what is missing.
pub async fn identity_token(args: &TokenArgs, http: &reqwest::Client) -> anyhow::Result<Token> {
    let (jwt, source) = if let Some(t) = &args.identity_token {
        (t.trim().to_owned(), "flag")
    } else if let Some(f) = &args.identity_token_file {
        let t = std::fs::read_to_string(f).map_err(|e| {
            no_token(format!(
                "cannot read --identity-token-file {}: {e}",
                f.display()
            ))
        })?;
        (t.trim().to_owned(), "file")
    } else if let (Some(url), Some(bearer)) = (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (github_token(http, &url, &bearer).await?, "github-actions")
    } else if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        return Err(no_token(
            "running in GitHub Actions without ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN: \
             the workflow (or job) needs `permissions: id-token: write`"
                .into(),
        ));
    } else if let Some(t) = env(&args.gitlab_token_var) {
        (t.trim().to_owned(), "gitlab-ci")
    } else if env("GITLAB_CI").as_deref() == Some("true") {
        return Err(no_token(format!(
            "running in GitLab CI without ${}: add `id_tokens: {}: aud: sigstore` to the job",
            args.gitlab_token_var, args.gitlab_token_var
        )));
    } else {
        return Err(no_token(
            "no OIDC identity token: not in GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL unset) \
             or GitLab CI (SIGSTORE_ID_TOKEN unset); pass --identity-token or --identity-token-file"
                .into(),
        ));
    };
    let claims = claims_of(&jwt)?;
    Ok(Token {
        jwt,
        claims,
        source,
    })
}

/// GitHub Actions' token endpoint: GET the request URL with `audience=sigstore` and the
/// request token as bearer; the answer is `{"value": JWT}`.
async fn github_token(http: &reqwest::Client, url: &str, bearer: &str) -> anyhow::Result<String> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience=sigstore");
    let resp = http
        .get(&full)
        .bearer_auth(bearer)
        .send()
        .await
        .map_err(|e| {
            no_token(format!(
                "GitHub Actions' token endpoint is unreachable: {e}"
            ))
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(no_token(format!(
            "GitHub Actions' token endpoint answered {status}: does the job have `permissions: id-token: write`?"
        )));
    }
    let v = super::registry_api::read_json_capped(
        resp,
        super::registry_api::caps::ERROR_BODY,
        "reading GitHub Actions' token answer",
    )
    .await
    .map_err(|e| no_token(format!("GitHub Actions' token endpoint: {e:#}")))?;
    v["value"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| no_token("GitHub Actions' token endpoint sent no `value`".into()))
}

impl Token {
    /// A token given directly (its claims read for the provenance text).
    pub fn from_jwt(jwt: &str, source: &'static str) -> anyhow::Result<Self> {
        Ok(Token {
            jwt: jwt.trim().to_owned(),
            claims: claims_of(jwt)?,
            source,
        })
    }

    fn claim(&self, key: &str) -> Option<&str> {
        self.claims[key].as_str().filter(|s| !s.is_empty())
    }

    /// The identity the CA will most likely certify, for messages only.
    pub fn subject_hint(&self) -> String {
        if let Some(w) = self.claim("job_workflow_ref") {
            return format!("https://github.com/{w}");
        }
        self.claim("email")
            .or_else(|| self.claim("sub"))
            .unwrap_or("unknown")
            .to_owned()
    }
}

/// The in-toto Statement v1 for the archive, with SLSA provenance v1 from the token.
pub fn slsa_statement(filename: &str, sha256: &str, token: &Token) -> anyhow::Result<Value> {
    let predicate =
        if token.claim("workflow_ref").is_some() || token.claim("job_workflow_ref").is_some() {
            github_predicate(token)
        } else if token.claim("project_path").is_some() {
            gitlab_predicate(token)
        } else {
            oidc_predicate(token)
        };
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": filename, "digest": { "sha256": sha256 } }],
        "predicateType": SLSA_PREDICATE,
        "predicate": predicate,
    }))
}

/// GitHub Actions: the shape of GitHub's own build provenance.
fn github_predicate(t: &Token) -> Value {
    let server = env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
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
fn gitlab_predicate(t: &Token) -> Value {
    let server = env("CI_SERVER_URL").unwrap_or_else(|| "https://gitlab.com".into());
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

    fn token(claims: Value) -> Token {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!("e30.{}.c2ln", b64.encode(claims.to_string()));
        Token {
            claims: claims_of(&jwt).unwrap(),
            jwt,
            source: "flag",
        }
    }

    #[test]
    fn github_statement_has_slsa_v1_fields() {
        let t = token(json!({
            "iss": "https://token.actions.githubusercontent.com",
            "repository": "acme/widget", "ref": "refs/heads/main", "sha": "abc123",
            "workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
            "job_workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
            "run_id": "42", "run_attempt": "2", "event_name": "push",
        }));
        let s = slsa_statement("acme-widget-1.0.0.tar.zst", &"ab".repeat(32), &t).unwrap();
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
    fn no_token_anywhere_is_pub_e002() {
        assert!(claims_of("not-a-jwt").is_err());
        let err = claims_of("a.!!!.c").unwrap_err();
        let coded = err.downcast_ref::<CodedError>().unwrap();
        assert_eq!(coded.code, "PUB_E002");
    }
}
