//! Trusted-publisher bindings over HTTP: owners register them (`POST /api/v1/publishers`), anyone lists them.
//!
//! A binding for a package that exists may be registered by its owners only. For a
//! name nobody owns yet, any authenticated user may register a *pending* binding; the
//! first publish through it creates the package owned by that user (PyPI's pending
//! publishers). Both kinds are capped per package name by the store.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_package::PackageName;
use vouch_store::meta::{Binding, CiProvider, MetaError, PendingBinding, Publisher, Timestamp};

use super::{auth, codes};
use crate::{ApiError, AppState};

/// Longest repository, workflow, environment or email accepted.
const MAX_FIELD: usize = 255;

/// The request body of `POST /api/v1/publishers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub package: String,
    pub provider: String,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub workflow: Option<String>,
    /// A reusable workflow (`OWNER/REPO/PATH`, GitHub and Forgejo): the Build Signer
    /// the certificate must name, with `workflow` (optional then) the caller.
    #[serde(default)]
    pub signer_workflow: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

fn field<'a>(v: &'a Option<String>, name: &str, expected: &str) -> Result<&'a str, ApiError> {
    match v.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(codes::bad_binding(name, expected, "nothing")),
    }
}

fn absent(v: &Option<String>, name: &str, provider: &str) -> Result<(), ApiError> {
    match v.as_deref() {
        None | Some("") => Ok(()),
        Some(s) => Err(codes::bad_binding(
            name,
            &format!("no {name} for provider {provider}"),
            s,
        )),
    }
}

fn plain(s: &str) -> bool {
    s.len() <= MAX_FIELD && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn segment_ok(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `OWNER/REPO` (exactly two segments) or, with `nested`, `GROUP/.../PROJECT`.
fn repository_ok(s: &str, nested: bool) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    s.len() <= MAX_FIELD
        && (parts.len() == 2 || (nested && parts.len() > 2))
        && parts.iter().all(|p| segment_ok(p))
}

/// A relative workflow file path inside the repository.
fn workflow_path_ok(s: &str) -> bool {
    plain(s)
        && !s.starts_with('/')
        && !s.contains('@')
        && !s.contains('\\')
        && s.split('/').all(segment_ok)
        && (s.ends_with(".yml") || s.ends_with(".yaml"))
}

/// The reusable workflow `OWNER/REPO/PATH` of a request, checked (GitHub's under
/// `.github/workflows/`).
fn signer_workflow(
    req: &RegisterRequest,
    provider: CiProvider,
) -> Result<Option<String>, ApiError> {
    let Some(s) = req.signer_workflow.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut parts = s.splitn(3, '/');
    let (owner, repo, path) = (parts.next(), parts.next(), parts.next());
    let ok = match (owner, repo, path) {
        (Some(o), Some(r), Some(p)) => {
            repository_ok(&format!("{o}/{r}"), false)
                && workflow_path_ok(p)
                && (provider != CiProvider::Github || p.starts_with(".github/workflows/"))
        }
        _ => false,
    };
    if !ok {
        return Err(codes::bad_binding(
            "signer_workflow",
            "OWNER/REPO/PATH of a .yml or .yaml workflow (GitHub: under .github/workflows/)",
            s,
        ));
    }
    Ok(Some(s.to_owned()))
}

/// Checks a request and turns it into the store's terms.
pub fn validate(req: &RegisterRequest) -> Result<(PackageName, Publisher), ApiError> {
    let name = PackageName::parse(&req.package).map_err(|e| codes::package_error(&e))?;
    if req.provider == "email" {
        for (v, n) in [
            (&req.repository, "repository"),
            (&req.workflow, "workflow"),
            (&req.signer_workflow, "signer_workflow"),
            (&req.environment, "environment"),
        ] {
            absent(v, n, "email")?;
        }
        let email = field(&req.email, "email", "an email address")?;
        let ok = plain(email)
            && email
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
        if !ok {
            return Err(codes::bad_binding("email", "an email address", email));
        }
        return Ok((
            name,
            Publisher::Email {
                email: email.to_owned(),
            },
        ));
    }
    let provider = CiProvider::parse(&req.provider).ok_or_else(|| {
        codes::bad_binding(
            "provider",
            "one of github, gitlab, buildkite, circleci, forgejo, email",
            &req.provider,
        )
    })?;
    absent(&req.email, "email", provider.as_str())?;
    let repository = field(&req.repository, "repository", "the repository")?;
    if provider != CiProvider::Github && provider != CiProvider::Forgejo {
        absent(&req.signer_workflow, "signer_workflow", provider.as_str())?;
    }
    let workflow = 'wf: {
        match provider {
            CiProvider::Github | CiProvider::Forgejo | CiProvider::Gitlab => {
                let nested = provider == CiProvider::Gitlab;
                if !repository_ok(repository, nested) {
                    let expected = if nested {
                        "GROUP/PROJECT (subgroups allowed)"
                    } else {
                        "OWNER/REPO"
                    };
                    return Err(codes::bad_binding("repository", expected, repository));
                }
                let signer = signer_workflow(req, provider)?;
                if signer.is_some() && req.workflow.as_deref().is_none_or(str::is_empty) {
                    break 'wf vouch_binding::WorkflowSpec::join(None, signer.as_deref());
                }
                let wf = field(&req.workflow, "workflow", "the workflow file path")?;
                // GitHub's workflows all live in one directory; a bare file name means it.
                let wf = if provider == CiProvider::Github && !wf.contains('/') {
                    format!(".github/workflows/{wf}")
                } else {
                    wf.to_owned()
                };
                let in_dir = provider != CiProvider::Github || wf.starts_with(".github/workflows/");
                if !workflow_path_ok(&wf) || !in_dir {
                    let expected = match provider {
                        CiProvider::Github => {
                            "a file under .github/workflows/ ending in .yml or .yaml"
                        }
                        _ => "a relative path to a .yml or .yaml file in the repository",
                    };
                    return Err(codes::bad_binding("workflow", expected, &wf));
                }
                vouch_binding::WorkflowSpec::join(Some(&wf), signer.as_deref())
            }
            CiProvider::Buildkite => {
                if !repository_ok(repository, false) {
                    return Err(codes::bad_binding(
                        "repository",
                        "ORGANIZATION/PIPELINE",
                        repository,
                    ));
                }
                absent(&req.workflow, "workflow", "buildkite")?;
                String::new()
            }
            _ => {
                // CircleCI: the project id and the pipeline definition id.
                if !segment_ok(repository) {
                    return Err(codes::bad_binding(
                        "repository",
                        "the CircleCI project id",
                        repository,
                    ));
                }
                let wf = field(&req.workflow, "workflow", "the pipeline definition id")?;
                if !segment_ok(wf) {
                    return Err(codes::bad_binding(
                        "workflow",
                        "the pipeline definition id",
                        wf,
                    ));
                }
                wf.to_owned()
            }
        }
    };
    let environment = match req.environment.as_deref() {
        None | Some("") => None,
        Some(e) if plain(e) => Some(e.to_owned()),
        Some(e) => {
            return Err(codes::bad_binding(
                "environment",
                "at most 255 characters without spaces or control characters",
                e,
            ))
        }
    };
    Ok((
        name,
        Publisher::Ci {
            provider,
            repository: repository.to_owned(),
            workflow,
            environment,
        },
    ))
}

pub(crate) fn rfc3339(t: Timestamp) -> String {
    jiff::Timestamp::from_second(t.0)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn publisher_json(p: &Publisher) -> Value {
    match p {
        Publisher::Ci {
            provider,
            repository,
            workflow,
            environment,
        } => json!({
            "provider": provider.as_str(),
            "repository": repository,
            "workflow": workflow,
            "environment": environment,
            "email": null,
        }),
        Publisher::Email { email } => json!({
            "provider": "email",
            "repository": null,
            "workflow": null,
            "environment": null,
            "email": email,
        }),
    }
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

pub(crate) fn binding_json(package: &str, b: &Binding) -> Value {
    merge(
        json!({
            "id": b.id.0,
            "package": package,
            "pending": false,
            "created_at": rfc3339(b.created_at),
            "repository_owner_id_recorded": b.repository_owner_id.is_some(),
        }),
        publisher_json(&b.publisher),
    )
}

fn pending_json(p: &PendingBinding) -> Value {
    merge(
        json!({
            "id": p.id.0,
            "package": p.package_name,
            "pending": true,
            "created_at": rfc3339(p.created_at),
            "repository_owner_id_recorded": false,
        }),
        publisher_json(&p.publisher),
    )
}

/// `POST /api/v1/publishers`.
pub async fn register(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, token) = auth::owner(&*state.meta, &headers).await?;
    let req: RegisterRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BIND_E001",
            format!("the body must be a JSON publisher binding request: {e}"),
        )
    })?;
    let (name, publisher) = validate(&req)?;
    let name = name.to_string();
    auth::may_act_on(&token, &name)?;
    let meta = &*state.meta;
    let now = Timestamp::now();
    // At most two rounds: the package may be created between the read and the write.
    for _ in 0..2 {
        let body = if meta.package(&name).await.map_err(codes::meta)?.is_some() {
            let owners = meta.owners(&name).await.map_err(codes::meta)?;
            if !owners.iter().any(|o| o.id == user.id) {
                return Err(codes::not_owner(&user.name, &name));
            }
            match meta.add_binding(&name, &publisher, user.id, now).await {
                Ok(b) => binding_json(&name, &b),
                Err(MetaError::UnknownPackage { .. }) => continue,
                Err(e) => return Err(codes::meta(e)),
            }
        } else {
            match meta
                .add_pending_binding(&name, &publisher, user.id, now)
                .await
            {
                Ok(p) => pending_json(&p),
                Err(MetaError::PackageExists { .. }) => continue,
                Err(e) => return Err(codes::meta(e)),
            }
        };
        audit(&state, &user.name, &name, &body).await;
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "BIND_E004",
        format!("{name} changed while the binding was registered; retry"),
    ))
}

async fn audit(state: &AppState, user: &str, package: &str, body: &Value) {
    let details = body.to_string();
    if let Err(e) = state
        .meta
        .append_audit(
            "publisher.register",
            Some(user),
            Some(package),
            &details,
            Timestamp::now(),
        )
        .await
    {
        tracing::error!(error = %e, package, "audit append failed for publisher.register");
    }
}

/// `GET /api/v1/packages/@scope/name/publishers`: active bindings, or the pending ones
/// while the package does not exist.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Path((scope, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let name = super::index::package_name(&scope, &name)?;
    let meta = &*state.meta;
    let publishers: Vec<Value> = if meta.package(&name).await.map_err(codes::meta)?.is_some() {
        meta.bindings(&name)
            .await
            .map_err(codes::meta)?
            .iter()
            .map(|b| binding_json(&name, b))
            .collect()
    } else {
        meta.pending_bindings(&name)
            .await
            .map_err(codes::meta)?
            .iter()
            .map(pending_json)
            .collect()
    };
    Ok(Json(json!({ "package": name, "publishers": publishers })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(provider: &str, repo: Option<&str>, wf: Option<&str>) -> RegisterRequest {
        RegisterRequest {
            package: "@acme/tool".into(),
            provider: provider.into(),
            repository: repo.map(str::to_owned),
            workflow: wf.map(str::to_owned),
            signer_workflow: None,
            environment: None,
            email: None,
        }
    }

    fn code(r: RegisterRequest) -> &'static str {
        validate(&r).unwrap_err().code
    }

    #[test]
    fn github_bindings_normalise_and_validate() {
        let (n, p) = validate(&req("github", Some("Org/Repo"), Some("release.yml"))).unwrap();
        assert_eq!(n.to_string(), "@acme/tool");
        assert_eq!(
            p,
            Publisher::Ci {
                provider: CiProvider::Github,
                repository: "Org/Repo".into(),
                workflow: ".github/workflows/release.yml".into(),
                environment: None
            }
        );
        for (repo, wf) in [
            ("org", ".github/workflows/r.yml"),
            ("o/r/x", ".github/workflows/r.yml"),
            ("o/..", ".github/workflows/r.yml"),
            ("o/r", "ci/r.yml"),
            ("o/r", ".github/workflows/../r.yml"),
            ("o/r", ".github/workflows/r.yml@main"),
            ("o/r", ".github/workflows/r.sh"),
            ("o r/x", ".github/workflows/r.yml"),
        ] {
            assert_eq!(
                code(req("github", Some(repo), Some(wf))),
                "BIND_E001",
                "{repo} {wf}"
            );
        }
        assert_eq!(code(req("github", None, Some("r.yml"))), "BIND_E001");
        assert_eq!(code(req("github", Some("o/r"), None)), "BIND_E001");
    }

    #[test]
    fn other_providers() {
        assert!(validate(&req("gitlab", Some("g/sub/p"), Some(".gitlab-ci.yml"))).is_ok());
        assert!(validate(&req(
            "forgejo",
            Some("o/r"),
            Some(".forgejo/workflows/r.yml")
        ))
        .is_ok());
        assert!(validate(&req("buildkite", Some("org/pipe"), None)).is_ok());
        assert_eq!(
            code(req("buildkite", Some("org/pipe"), Some("x.yml"))),
            "BIND_E001"
        );
        assert!(validate(&req("circleci", Some("proj-uuid"), Some("def-uuid"))).is_ok());
        assert_eq!(code(req("travis", Some("o/r"), Some("x.yml"))), "BIND_E001");
        let mut e = req("email", None, None);
        e.email = Some("dev@example.org".into());
        assert!(validate(&e).is_ok());
        e.repository = Some("o/r".into());
        assert_eq!(code(e), "BIND_E001");
        let mut e = req("email", None, None);
        e.email = Some("not-an-address".into());
        assert_eq!(code(e), "BIND_E001");
        let mut bad_env = req("github", Some("o/r"), Some("r.yml"));
        bad_env.environment = Some("has space".into());
        assert_eq!(code(bad_env), "BIND_E001");
    }

    #[test]
    fn bad_package_names_keep_their_package_code() {
        let mut r = req("github", Some("o/r"), Some("r.yml"));
        r.package = "NoScope".into();
        assert_eq!(code(r), "PKG_E005");
    }
}
