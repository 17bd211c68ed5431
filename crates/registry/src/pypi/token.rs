//! PyPI's trusted-publishing exchange: a CI's OIDC token becomes a short-lived upload token scoped to the projects whose bindings accept it.
//!
//! `GET /_/oidc/audience` names the audience the CI token must carry (this server's
//! public URL, so a token minted for PyPI or for Fulcio is not accepted here), and
//! `POST /_/oidc/mint-token` `{"token": JWT}` verifies it (issuer, signature, claims,
//! spent `jti`), reads what it presents as the CA would, and matches it against every
//! Python project's active and pending bindings with `vouch-binding`'s one rule.
//! The answer, `{"success": true, "token": ..., "expires": ...}`, is an upload token
//! sealed (AES-256-GCM) under TOKEN_ENC_KEY, so every node opens it and nothing is
//! stored: it carries the projects and the presented identity, and each upload matches
//! that identity against the project's bindings again (a binding removed meanwhile
//! stops the upload). It expires after [`TOKEN_LIFETIME_SECS`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use vouch_binding::{CiProvider, Presented, WorkflowClaim};
use vouch_ca::{EncryptedKeyMaterial, EncryptionKey};
use vouch_package::PublishError;
use vouch_store::meta::Publisher;

use super::error::PypiError;
use super::names;
use crate::packages::identity::{self, Refusal};
use crate::{ApiError, AppState};

/// Cap on a `POST /_/oidc/mint-token` body.
pub const MAX_MINT_BODY: usize = 32 * 1024;
/// How long an upload token lives (PyPI's live 15 minutes too).
pub const TOKEN_LIFETIME_SECS: i64 = 900;
/// Every upload token starts with this.
pub const TOKEN_PREFIX: &str = "pypi-vouch-";
/// The sealing purpose (bound into the AES-GCM associated data).
const PURPOSE: &str = "vouch pypi upload token v1";
/// Longest upload token opened.
const MAX_TOKEN_CHARS: usize = 16 * 1024;

/// What an upload token grants: uploads to `projects` (normalised names) until `exp`,
/// by the identity it presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub exp: i64,
    pub projects: Vec<String>,
    /// The token's subject alternative name (for the audit and the attestation check).
    pub identity: String,
    pub issuer: String,
    pub presented: PresentedWire,
}

/// [`Presented`] as carried inside an upload token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "a short-lived wire form, serialized once per token"
)]
pub enum PresentedWire {
    Ci {
        provider: String,
        repository: String,
        /// `(repository, path, ref)` of a workflow file, or absent.
        workflow: Option<(String, String, String)>,
        /// A pipeline-definition id (CircleCI).
        workflow_id: Option<String>,
        /// `(repository, path, ref)` of the calling workflow when `workflow` is a
        /// reusable one (GitHub, Forgejo).
        #[serde(default)]
        caller: Option<(String, String, String)>,
        environment: Option<String>,
        event_name: Option<String>,
        repository_owner_id: Option<String>,
    },
    Email {
        email: String,
    },
}

impl PresentedWire {
    pub fn from_presented(p: &Presented) -> Self {
        match p {
            Presented::Email { email } => PresentedWire::Email {
                email: email.clone(),
            },
            Presented::Ci {
                provider,
                repository,
                workflow,
                caller,
                environment,
                event_name,
                repository_owner_id,
            } => {
                let caller = match caller {
                    Some(WorkflowClaim::Ref {
                        repository,
                        path,
                        git_ref,
                    }) => Some((repository.clone(), path.clone(), git_ref.clone())),
                    _ => None,
                };
                let (workflow, workflow_id) = match workflow {
                    WorkflowClaim::Ref {
                        repository,
                        path,
                        git_ref,
                    } => (
                        Some((repository.clone(), path.clone(), git_ref.clone())),
                        None,
                    ),
                    WorkflowClaim::Id(id) => (None, Some(id.clone())),
                    WorkflowClaim::None => (None, None),
                };
                PresentedWire::Ci {
                    provider: provider.as_str().to_owned(),
                    repository: repository.clone(),
                    workflow,
                    workflow_id,
                    caller,
                    environment: environment.clone(),
                    event_name: event_name.clone(),
                    repository_owner_id: repository_owner_id.clone(),
                }
            }
        }
    }

    pub fn to_presented(&self) -> Option<Presented> {
        Some(match self {
            PresentedWire::Email { email } => Presented::Email {
                email: email.clone(),
            },
            PresentedWire::Ci {
                provider,
                repository,
                workflow,
                workflow_id,
                caller,
                environment,
                event_name,
                repository_owner_id,
            } => Presented::Ci {
                provider: CiProvider::parse(provider)?,
                repository: repository.clone(),
                workflow: match (workflow, workflow_id) {
                    (Some((repository, path, git_ref)), None) => WorkflowClaim::Ref {
                        repository: repository.clone(),
                        path: path.clone(),
                        git_ref: git_ref.clone(),
                    },
                    (None, Some(id)) => WorkflowClaim::Id(id.clone()),
                    (None, None) => WorkflowClaim::None,
                    (Some(_), Some(_)) => return None,
                },
                caller: caller
                    .as_ref()
                    .map(|(repository, path, git_ref)| WorkflowClaim::Ref {
                        repository: repository.clone(),
                        path: path.clone(),
                        git_ref: git_ref.clone(),
                    }),
                environment: environment.clone(),
                event_name: event_name.clone(),
                repository_owner_id: repository_owner_id.clone(),
            },
        })
    }
}

/// Seals a grant into an upload token.
pub fn seal(key: &EncryptionKey, grant: &Grant) -> Result<String, ApiError> {
    let plain = serde_json::to_vec(grant).map_err(|e| ApiError::internal(&e))?;
    let sealed =
        EncryptedKeyMaterial::seal(key, PURPOSE, &plain).map_err(|e| ApiError::internal(&e))?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(sealed.as_bytes())
    ))
}

/// Opens an upload token and checks it has not expired at `now`.
pub fn open(key: &EncryptionKey, token: &str, now: i64) -> Result<Grant, PypiError> {
    let bad = |detail: &str| PypiError::BadToken {
        detail: detail.to_owned(),
    };
    let body = token
        .strip_prefix(TOKEN_PREFIX)
        .filter(|b| b.len() <= MAX_TOKEN_CHARS)
        .ok_or_else(|| {
            bad("expected an upload token from POST /_/oidc/mint-token (pypi-vouch-...)")
        })?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| bad("the upload token is not base64url"))?;
    let sealed = EncryptedKeyMaterial::from_bytes(bytes)
        .map_err(|_| bad("the upload token is malformed"))?;
    let plain = sealed
        .open(key, PURPOSE)
        .map_err(|_| bad("the upload token was not minted by this registry"))?;
    let grant: Grant =
        serde_json::from_slice(&plain).map_err(|_| bad("the upload token is malformed"))?;
    if grant.exp <= now {
        return Err(PypiError::TokenExpired {
            expired_at: grant.exp,
        });
    }
    Ok(grant)
}

/// The upload token of a request: HTTP Basic with user `__token__` (twine, uv), or a
/// bearer token.
pub fn from_headers(headers: &HeaderMap) -> Result<String, PypiError> {
    let missing = || {
        PypiError::BadToken {
        detail: "an upload token is required: HTTP Basic with user __token__ and the token from POST /_/oidc/mint-token as the password".to_owned(),
    }
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    let (scheme, rest) = value.trim().split_once(' ').ok_or_else(missing)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(rest.trim().to_owned());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(missing());
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| missing())?;
    let decoded = String::from_utf8(decoded).map_err(|_| missing())?;
    match decoded.split_once(':') {
        Some(("__token__", password)) => Ok(password.to_owned()),
        _ => Err(PypiError::BadToken {
            detail: "the user name must be __token__ (only trusted-publishing upload tokens are accepted)".to_owned(),
        }),
    }
}

/// `GET /_/oidc/audience`.
pub async fn audience(State(app): State<Arc<AppState>>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "audience": app.pypi.audience })),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    token: String,
}

/// What a verified token presents, in the certificate's terms.
fn refused(r: Refusal) -> ApiError {
    let e = match r {
        Refusal::NoBinding(detail) => PublishError::NoBinding { detail },
        Refusal::Mismatch(detail) => PublishError::IdentityMismatch { detail },
        Refusal::ScopeNotOwned(detail) => PublishError::ScopeNotOwned { detail },
    };
    ApiError::from(e).with_message()
}

/// `POST /_/oidc/mint-token`.
pub async fn mint(
    State(app): State<Arc<AppState>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let bad = |detail: String| ApiError::from(PypiError::BadMintRequest { detail });
    let body = body.map_err(|e| bad(format!("the body could not be read: {e}")))?;
    let req: MintRequest = serde_json::from_slice(&body)
        .map_err(|_| bad("expected JSON {\"token\": \"<OIDC token>\"}".to_owned()))?;
    let verified = app
        .pypi
        .verifier
        .verify(&req.token)
        .await
        .map_err(|e| ApiError::from(e).with_message())?;
    let trust = app.packages.trust();
    let presented = identity::present(
        &crate::packages::identity::token_claims(&verified),
        &trust.issuers,
    )
    .map_err(refused)?;
    let (provider, repository) = match &presented {
        Presented::Ci {
            provider,
            repository,
            ..
        } => (provider.as_str(), repository.clone()),
        Presented::Email { .. } => {
            return Err(refused(Refusal::NoBinding(
                "trusted publishing of Python projects takes CI identities, not email ones"
                    .to_owned(),
            )))
        }
    };
    let (active, pending) = app
        .meta
        .pypi_candidate_bindings(provider, &repository)
        .await
        .map_err(crate::packages::codes::meta)?;
    let projects = matching_projects(&active, &pending, &presented)?;
    let now = app.sigstore.clock.unix_seconds() as i64;
    let exp = now + TOKEN_LIFETIME_SECS;
    let grant = Grant {
        exp,
        projects,
        identity: verified.identity.san.value().to_owned(),
        issuer: verified.issuer.clone(),
        presented: PresentedWire::from_presented(&presented),
    };
    let token = seal(&app.enc_key, &grant)?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "success": true, "token": token, "expires": exp })),
    )
        .into_response())
}

/// The projects whose bindings accept `presented`: per package, the same `select` the
/// upload runs. Nothing accepted is the nearest refusal (naming the claim).
fn matching_projects(
    active: &[(String, vouch_store::meta::Binding)],
    pending: &[vouch_store::meta::PendingBinding],
    presented: &Presented,
) -> Result<Vec<String>, ApiError> {
    let mut by_package: std::collections::BTreeMap<&str, Vec<(i64, &Publisher)>> =
        Default::default();
    for (package, b) in active {
        by_package
            .entry(package.as_str())
            .or_default()
            .push((b.id.0, &b.publisher));
    }
    for p in pending {
        // A name that exists has its active bindings; pending ones are for new names.
        if !active.iter().any(|(n, _)| n == &p.package_name) {
            by_package
                .entry(p.package_name.as_str())
                .or_default()
                .push((p.id.0, &p.publisher));
        }
    }
    let mut projects = Vec::new();
    let mut nearest: Option<Refusal> = None;
    for (package, bindings) in by_package {
        match vouch_binding::select(bindings.iter().copied(), presented, package) {
            Ok(_) => {
                if let Some(p) = names::project_of(package) {
                    projects.push(p.to_owned());
                }
            }
            Err(r) => {
                if nearest.is_none() || matches!(r, Refusal::Mismatch(_)) {
                    nearest = Some(r);
                }
            }
        }
    }
    if projects.is_empty() {
        let why = nearest.unwrap_or_else(|| {
            let repo = match presented {
                Presented::Ci { repository, .. } => repository.as_str(),
                Presented::Email { email } => email.as_str(),
            };
            Refusal::NoBinding(format!(
                "no Python project has a {} trusted publisher for {repo}",
                vouch_binding::provider_name(presented)
            ))
        });
        return Err(refused(why));
    }
    Ok(projects)
}
