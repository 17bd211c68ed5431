//! The claims of a development token: GitHub Actions' claim set, with ids derived
//! deterministically from names so that the same repository always has the same ids.

use aws_lc_rs::digest::{digest, SHA256};
use serde_json::{json, Value};

use crate::clock::UnixTime;
use crate::dev::{DevIssuer, DevTokenRequest, DEV_TOKEN_LIFETIME_SECS};
use crate::error::OidcError;

fn invalid(field: &'static str, expected: &'static str) -> OidcError {
    OidcError::InvalidDevRequest { field, expected }
}

fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
}

/// A decimal id in 1..=999_999_999 derived from `kind` and `name`.
#[allow(
    clippy::indexing_slicing,
    reason = "a SHA-256 digest is 32 bytes, more than 8"
)]
fn derived_id(kind: &str, name: &str) -> String {
    let d = digest(&SHA256, format!("vouch-dev:{kind}:{name}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    (u64::from_be_bytes(first) % 999_999_999 + 1).to_string()
}

/// A 40-hex "commit" derived from repository and ref, so a dev token names a stable `sha`.
#[allow(
    clippy::indexing_slicing,
    reason = "a SHA-256 digest is 32 bytes, more than 20"
)]
fn derived_sha(repository: &str, git_ref: &str) -> String {
    let d = digest(
        &SHA256,
        format!("vouch-dev:sha:{repository}\n{git_ref}").as_bytes(),
    );
    d.as_ref()[..20]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn claims(
    issuer: &DevIssuer,
    req: &DevTokenRequest,
    now: UnixTime,
) -> Result<Value, OidcError> {
    let (owner, repo) = req
        .repository
        .split_once('/')
        .filter(|(o, r)| is_plain(o) && is_plain(r) && !r.contains('/'))
        .ok_or_else(|| invalid("repository", "OWNER/REPO"))?;
    let workflow = req.workflow.trim_start_matches("./");
    if !is_plain(workflow)
        || workflow.starts_with('/')
        || workflow.split('/').any(|s| s.is_empty() || s == "..")
    {
        return Err(invalid(
            "workflow",
            "a relative file path such as .github/workflows/release.yml",
        ));
    }
    if !is_plain(&req.git_ref) {
        return Err(invalid("ref", "a git ref such as refs/heads/main"));
    }
    let git_ref = if req.git_ref.starts_with("refs/") {
        req.git_ref.clone()
    } else {
        format!("refs/heads/{}", req.git_ref)
    };
    let ref_type = if git_ref.starts_with("refs/tags/") {
        "tag"
    } else {
        "branch"
    };
    if req.audience.is_empty() {
        return Err(invalid("audience", "non-empty"));
    }
    let environment = match &req.environment {
        Some(e) if !is_plain(e) => return Err(invalid("environment", "a name without spaces")),
        other => other.clone(),
    };

    let repository = format!("{owner}/{repo}");
    let workflow_ref = format!("{repository}/{workflow}@{git_ref}");
    let sha = derived_sha(&repository, &git_ref);
    let owner_id = derived_id("owner", owner);
    let workflow_name = workflow.rsplit('/').next().unwrap_or(workflow);
    let workflow_name = workflow_name
        .rsplit_once('.')
        .map_or(workflow_name, |(stem, _)| stem);
    let run_id = u64::from_be_bytes(issuer.random_bytes::<8>()?) % 10_000_000_000;
    let subject = match &environment {
        Some(env) => format!("repo:{repository}:environment:{env}"),
        None => format!("repo:{repository}:ref:{git_ref}"),
    };

    let mut claims = json!({
        "iss": issuer.issuer(),
        "aud": req.audience,
        "sub": subject,
        "jti": hex(&issuer.random_bytes::<16>()?),
        "iat": now.secs(),
        "nbf": now.secs(),
        "exp": now.plus(DEV_TOKEN_LIFETIME_SECS).secs(),
        "ref": git_ref,
        "ref_type": ref_type,
        "ref_protected": "false",
        "sha": sha,
        "repository": repository,
        "repository_id": derived_id("repository", &repository),
        "repository_owner": owner,
        "repository_owner_id": owner_id,
        "repository_visibility": "public",
        "actor": owner,
        "actor_id": owner_id,
        "workflow": workflow_name,
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": sha,
        "event_name": "push",
        "head_ref": "",
        "base_ref": "",
        "run_id": run_id.to_string(),
        "run_number": "1",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
    });
    if let (Some(env), Value::Object(members)) = (environment, &mut claims) {
        members.insert("environment".to_owned(), Value::String(env));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        assert_eq!(derived_id("owner", "octo"), derived_id("owner", "octo"));
        assert_ne!(derived_id("owner", "octo"), derived_id("owner", "octa"));
        assert_eq!(derived_sha("o/r", "refs/heads/main").len(), 40);
    }
}
