//! Trusted publishing as crates.io does it: a CI identity token exchanged at `POST /api/v1/trusted_publishing/tokens` for a 30-minute publish token scoped to the crates whose bindings match (the one rule of `vouch-binding`), revoked by `DELETE` on the same path; bindings registered at `POST /api/v1/trusted_publishing/{github,gitlab}_configs`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use vouch_binding::{CiProvider, Presented, Publisher, Refusal};
use vouch_oidc::{Provider, VerifiedToken};
use vouch_package::PublishError;
use vouch_store::meta::{
    cargo_name_norm, CargoClaim, CargoPublishToken, MetaError, Timestamp, TokenCheck, TokenScope,
    User,
};

use super::index::{presented_token, token_refusal};
use super::CargoError;
use crate::AppState;

/// How long a publish token lives (crates.io's trusted-publishing tokens: 30 minutes).
pub const PUBLISH_TOKEN_SECS: i64 = 30 * 60;
/// The prefix of publish tokens, so they are told apart from user API tokens unread.
pub const PUBLISH_TOKEN_PREFIX: &str = "vouchtp_";

/// Whether `token` has the shape of a publish token.
pub fn is_publish_token(token: &str) -> bool {
    token.starts_with(PUBLISH_TOKEN_PREFIX)
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The live publish token `token` is: CARGO_E006 when unknown, revoked or expired.
pub async fn live_publish_token(
    state: &AppState,
    token: &str,
) -> Result<CargoPublishToken, CargoError> {
    let row = state
        .meta
        .cargo_publish_token(&hash(token))
        .await?
        .ok_or_else(|| CargoError::bad_token("the publish token is not known to this registry"))?;
    let now = Timestamp::now();
    if let Some(at) = row.revoked_at {
        return Err(CargoError::bad_token(format!(
            "the publish token was revoked at {} (unix seconds)",
            at.0
        )));
    }
    if row.expires_at.0 <= now.0 {
        return Err(CargoError::bad_token(format!(
            "the publish token expired at {} (unix seconds); exchange a new identity token",
            row.expires_at.0
        )));
    }
    Ok(row)
}

/// The user an owner-scope API token in `Authorization` belongs to (CARGO_E005 without
/// one, CARGO_E006 when it does not check out).
pub async fn user_of(state: &AppState, headers: &HeaderMap) -> Result<User, CargoError> {
    let token = presented_token(headers)?.ok_or_else(CargoError::no_token)?;
    match state.meta.check_token(token, Timestamp::now()).await? {
        TokenCheck::Valid(user, t) if t.scope == TokenScope::Owner => Ok(user),
        TokenCheck::Valid(_, _) => Err(CargoError::bad_token(
            "an administrator token cannot act on crates: use a user's API token",
        )),
        other => Err(CargoError::bad_token(token_refusal(&other))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeBody {
    jwt: String,
}

/// `POST /api/v1/trusted_publishing/tokens`: `{"jwt"}` -> `{"token"}`.
pub async fn exchange(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, CargoError> {
    let body: ExchangeBody = serde_json::from_slice(&body).map_err(|e| {
        CargoError::malformed(format!("expected a JSON body {{\"jwt\": \"...\"}}: {e}"))
    })?;
    let token = state
        .sigstore
        .verifier
        .verify(&body.jwt)
        .await
        .map_err(|e| CargoError::jwt(e.code(), &e))?;
    let (presented, trustpub) = presented_identity(&token)?;
    let crates = matching_crates(&state, &presented).await?;
    let secret = new_token()?;
    let now = Timestamp::now();
    let row = CargoPublishToken {
        crates,
        publisher: trustpub.to_string(),
        created_at: now,
        expires_at: Timestamp(now.0 + PUBLISH_TOKEN_SECS),
        revoked_at: None,
    };
    state
        .meta
        .cargo_insert_publish_token(&hash(&secret), &row)
        .await?;
    Ok((
        StatusCode::OK,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"token": secret})),
    )
        .into_response())
}

fn new_token() -> Result<String, CargoError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| CargoError::internal(&std::io::Error::other(e.to_string())))?;
    Ok(format!("{PUBLISH_TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// What a verified token presents, and the `trustpub_data` a publish through it records
/// (the CI claims the provenance keeps).
pub fn presented_identity(
    token: &VerifiedToken,
) -> Result<(Presented, serde_json::Value), CargoError> {
    let (provider, server_url) = match &token.provider {
        Provider::GitHubActions { server_url } => (CiProvider::Github, server_url.as_str()),
        Provider::GitLabCi { server_url } => (CiProvider::Gitlab, server_url.as_str()),
        other => {
            return Err(CargoError::identity(&PublishError::NoBinding {
                detail: format!(
                    "trusted publishing of crates takes GitHub Actions or GitLab CI identities, found a {} identity",
                    other.name()
                ),
            }))
        }
    };
    let claims = crate::packages::identity::token_claims(token);
    let presented = vouch_binding::present_ci(provider, server_url, &claims).map_err(|m| {
        CargoError::identity(&PublishError::IdentityMismatch {
            detail: format!("the identity token lacks the `{}` claim", m.0),
        })
    })?;
    let (repository, workflow, git_ref) = match &presented {
        Presented::Ci {
            repository,
            workflow: vouch_binding::WorkflowClaim::Ref { path, git_ref, .. },
            ..
        } => (repository.clone(), path.clone(), git_ref.clone()),
        Presented::Ci { repository, .. } => (repository.clone(), String::new(), String::new()),
        Presented::Email { email } => (email.clone(), String::new(), String::new()),
    };
    let claim = |n: &str| token.claim_str(n).map(str::to_owned);
    let trustpub = json!({
        "provider": provider.as_str(),
        "issuer": token.issuer,
        "subject": token.subject,
        "repository": repository,
        "workflow": workflow,
        "ref": git_ref,
        "environment": claims.environment,
        "event_name": claims.build_trigger,
        "repository_owner_id": claims.repository_owner_id,
        "job_workflow_ref": claims.build_signer_uri,
        "run_id": claim("run_id").or_else(|| claim("pipeline_id")),
        "sha": claim("sha"),
    });
    Ok((presented, trustpub))
}

/// The normalised names of the crates whose active bindings accept `presented`:
/// PUB_E001 when no crate has a binding for its repository, PUB_E006 naming the claim
/// that differs when bindings exist but none accepts it.
pub async fn matching_crates(
    state: &AppState,
    presented: &Presented,
) -> Result<Vec<String>, CargoError> {
    let Presented::Ci {
        provider,
        repository,
        ..
    } = presented
    else {
        return Err(CargoError::identity(&PublishError::NoBinding {
            detail: "only CI identities publish crates".into(),
        }));
    };
    let candidates = state
        .meta
        .cargo_bindings_for_repository(provider.as_str(), repository)
        .await?;
    if let Some(why) = vouch_binding::refused_event(presented) {
        return Err(CargoError::identity(&PublishError::IdentityMismatch {
            detail: why,
        }));
    }
    let mut crates: Vec<String> = candidates
        .iter()
        .filter(|b| vouch_binding::check(&b.publisher, presented).is_ok())
        .map(|b| cargo_name_norm(&b.crate_name))
        .collect();
    crates.sort();
    crates.dedup();
    if !crates.is_empty() {
        return Ok(crates);
    }
    let refusal = vouch_binding::select(
        candidates.iter().map(|b| (b.id, &b.publisher)),
        presented,
        "any crate",
    )
    .err();
    Err(CargoError::identity(&match refusal {
        Some(Refusal::Mismatch(detail)) => PublishError::IdentityMismatch {
            detail: format!(
                "a trusted publisher is registered for {} repository {repository}, but {detail}",
                provider.as_str()
            ),
        },
        _ => PublishError::NoBinding {
            detail: format!(
                "no crate of this registry has a trusted publisher for {} repository {repository}",
                provider.as_str()
            ),
        },
    }))
}

/// `DELETE /api/v1/trusted_publishing/tokens`: revokes the publish token in
/// `Authorization` (204).
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, CargoError> {
    let token = presented_token(&headers)?.ok_or_else(CargoError::no_token)?;
    if !is_publish_token(token)
        || !state
            .meta
            .cargo_revoke_publish_token(&hash(token), Timestamp::now())
            .await?
    {
        return Err(CargoError::bad_token(
            "the Authorization header holds no publish token of this registry",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GithubBody {
    github_config: GithubConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GithubConfig {
    #[serde(rename = "crate")]
    krate: String,
    repository_owner: String,
    repository_name: String,
    workflow_filename: String,
    #[serde(default)]
    environment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitlabBody {
    gitlab_config: GitlabConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitlabConfig {
    #[serde(rename = "crate")]
    krate: String,
    namespace: String,
    project: String,
    workflow_filepath: String,
    #[serde(default)]
    environment: Option<String>,
}

fn plain(field: &str, value: &str, extra: &str) -> Result<(), CargoError> {
    let ok = !value.is_empty()
        && value.len() <= 200
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || extra.contains(c));
    if ok {
        Ok(())
    } else {
        Err(CargoError::binding(format!(
            "{field} must be 1 to 200 characters of [A-Za-z0-9._-{extra}], found {value:?}"
        )))
    }
}

/// `POST /api/v1/trusted_publishing/github_configs` (a user's API token): the
/// workflow is a file name under `.github/workflows/`, as on crates.io.
pub async fn add_github(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, CargoError> {
    let b: GithubBody = serde_json::from_slice(&body).map_err(|e| {
        CargoError::binding(format!("expected {{\"github_config\": {{\"crate\", \"repository_owner\", \"repository_name\", \"workflow_filename\", \"environment\"}}}}: {e}"))
    })?;
    let c = b.github_config;
    plain("repository_owner", &c.repository_owner, "")?;
    plain("repository_name", &c.repository_name, "")?;
    plain("workflow_filename", &c.workflow_filename, "")?;
    let publisher = Publisher::Ci {
        provider: CiProvider::Github,
        repository: format!("{}/{}", c.repository_owner, c.repository_name),
        workflow: format!(".github/workflows/{}", c.workflow_filename),
        environment: env(c.environment)?,
    };
    let (id, crate_name) = register(&state, &headers, &c.krate, &publisher).await?;
    Ok(axum::Json(json!({"github_config": {
        "id": id, "crate": crate_name, "repository_owner": c.repository_owner,
        "repository_name": c.repository_name, "workflow_filename": c.workflow_filename,
        "environment": binding_env(&publisher),
    }}))
    .into_response())
}

/// `POST /api/v1/trusted_publishing/gitlab_configs` (a user's API token).
pub async fn add_gitlab(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, CargoError> {
    let b: GitlabBody = serde_json::from_slice(&body).map_err(|e| {
        CargoError::binding(format!("expected {{\"gitlab_config\": {{\"crate\", \"namespace\", \"project\", \"workflow_filepath\", \"environment\"}}}}: {e}"))
    })?;
    let c = b.gitlab_config;
    plain("namespace", &c.namespace, "/")?;
    plain("project", &c.project, "")?;
    plain("workflow_filepath", &c.workflow_filepath, "/")?;
    let publisher = Publisher::Ci {
        provider: CiProvider::Gitlab,
        repository: format!("{}/{}", c.namespace, c.project),
        workflow: c.workflow_filepath.clone(),
        environment: env(c.environment)?,
    };
    let (id, crate_name) = register(&state, &headers, &c.krate, &publisher).await?;
    Ok(axum::Json(json!({"gitlab_config": {
        "id": id, "crate": crate_name, "namespace": c.namespace, "project": c.project,
        "workflow_filepath": c.workflow_filepath, "environment": binding_env(&publisher),
    }}))
    .into_response())
}

fn env(e: Option<String>) -> Result<Option<String>, CargoError> {
    match e.filter(|e| !e.is_empty()) {
        Some(e) => {
            plain("environment", &e, " ")?;
            Ok(Some(e))
        }
        None => Ok(None),
    }
}

fn binding_env(p: &Publisher) -> Option<String> {
    match p {
        Publisher::Ci { environment, .. } => environment.clone(),
        Publisher::Email { .. } => None,
    }
}

/// Registers `publisher` for `name` on behalf of the token's user: a crate that does
/// not exist yet is claimed for that user (so its first publish can come from CI,
/// which crates.io does not offer); an existing crate must be theirs (CARGO_E007).
async fn register(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    publisher: &Publisher,
) -> Result<(i64, String), CargoError> {
    let user = user_of(state, headers).await?;
    super::publish::check_name(name)?;
    let krate = match state
        .meta
        .cargo_claim(name, user.id, Timestamp::now())
        .await?
    {
        CargoClaim::Created(c) | CargoClaim::Owned(c) => c,
        CargoClaim::Foreign(c) => {
            return Err(CargoError::forbidden(format!(
                "user {} is not an owner of crate {}",
                user.name, c.name
            )))
        }
    };
    if krate.name != name {
        return Err(CargoError::name_conflict(name, &krate.name));
    }
    let binding = state
        .meta
        .cargo_add_binding(krate.id, publisher, user.id, Timestamp::now())
        .await
        .map_err(|e| match e {
            MetaError::BindingExists { .. } => {
                CargoError::binding(format!("crate {name} already has this trusted publisher"))
            }
            other => other.into(),
        })?;
    state.cargo.invalidate(&cargo_name_norm(name));
    Ok((binding.id, krate.name))
}
