//! Per-provider CI claim mappings, following Fulcio's `ci-issuer-metadata` templates claim for
//! claim (Forgejo, which Fulcio lacks, reuses GitHub's claim names).

use super::{uri_san, BindingClaims, ClaimReader, Extensions, FulcioExtension as X, San};
use crate::error::OidcError;

/// GitHub Actions (`github-workflow` in Fulcio).
pub(super) fn github(
    c: &ClaimReader<'_>,
    server_url: &str,
    ext: &mut Extensions,
) -> Result<(San, BindingClaims), OidcError> {
    let url = server_url.trim_end_matches('/');
    let job_workflow_ref = c.req_nonempty("job_workflow_ref")?;
    let repository = c.req_nonempty("repository")?;
    let event_name = c.req("event_name")?;
    let sha = c.req("sha")?;
    let git_ref = c.req("ref")?;
    let owner = c.req("repository_owner")?;
    let workflow_ref = c.req("workflow_ref")?;
    let signer = format!("{url}/{job_workflow_ref}");

    ext.push(X::GithubWorkflowTrigger, event_name.clone());
    ext.push(X::GithubWorkflowSha, sha.clone());
    ext.push(X::GithubWorkflowName, c.req("workflow")?);
    ext.push(X::GithubWorkflowRepository, repository.clone());
    ext.push(X::GithubWorkflowRef, git_ref.clone());
    ext.push(X::BuildSignerUri, signer.clone());
    ext.push(X::BuildSignerDigest, c.req("job_workflow_sha")?);
    ext.push(X::RunnerEnvironment, c.req("runner_environment")?);
    ext.push(X::SourceRepositoryUri, format!("{url}/{repository}"));
    ext.push(X::SourceRepositoryDigest, sha);
    ext.push(X::SourceRepositoryRef, git_ref.clone());
    ext.push(X::SourceRepositoryIdentifier, c.req("repository_id")?);
    ext.push(X::SourceRepositoryOwnerUri, format!("{url}/{owner}"));
    ext.push(
        X::SourceRepositoryOwnerIdentifier,
        c.req("repository_owner_id")?,
    );
    ext.push(X::BuildConfigUri, format!("{url}/{workflow_ref}"));
    ext.push(X::BuildConfigDigest, c.req("workflow_sha")?);
    ext.push(X::BuildTrigger, event_name.clone());
    let (run_id, attempt) = (c.req("run_id")?, c.req("run_attempt")?);
    ext.push(
        X::RunInvocationUri,
        format!("{url}/{repository}/actions/runs/{run_id}/attempts/{attempt}"),
    );
    ext.push(
        X::SourceRepositoryVisibilityAtSigning,
        c.req("repository_visibility")?,
    );
    let environment = c.opt("environment").filter(|e| !e.is_empty());
    ext.push(
        X::DeploymentEnvironment,
        environment.clone().unwrap_or_default(),
    );

    let san = uri_san(c, signer, "job_workflow_ref")?;
    Ok((
        san,
        github_like_binding(
            c,
            repository,
            workflow_ref,
            job_workflow_ref,
            environment,
            event_name,
            git_ref,
        ),
    ))
}

/// Forgejo Actions: GitHub-compatible claim names under the instance's URL. Fulcio has no
/// template for it, so only what the SAN and the binding need is required; every other
/// extension is emitted when its claim is present.
pub(super) fn forgejo(
    c: &ClaimReader<'_>,
    server_url: &str,
    ext: &mut Extensions,
) -> Result<(San, BindingClaims), OidcError> {
    let url = server_url.trim_end_matches('/');
    let job_workflow_ref = match c.opt("job_workflow_ref").filter(|v| !v.is_empty()) {
        Some(v) => v,
        None => c.req_nonempty("workflow_ref")?,
    };
    let repository = c.req_nonempty("repository")?;
    let git_ref = c.req("ref")?;
    let sha = c.req("sha")?;
    let event_name = c.opt("event_name").unwrap_or_default();
    let workflow_ref = c
        .opt("workflow_ref")
        .unwrap_or_else(|| job_workflow_ref.clone());
    let signer = format!("{url}/{job_workflow_ref}");

    ext.push(X::BuildSignerUri, signer.clone());
    ext.push(
        X::BuildSignerDigest,
        c.opt("job_workflow_sha").unwrap_or_default(),
    );
    ext.push(
        X::RunnerEnvironment,
        c.opt("runner_environment").unwrap_or_default(),
    );
    ext.push(X::SourceRepositoryUri, format!("{url}/{repository}"));
    ext.push(X::SourceRepositoryDigest, sha);
    ext.push(X::SourceRepositoryRef, git_ref.clone());
    ext.push(
        X::SourceRepositoryIdentifier,
        c.opt("repository_id").unwrap_or_default(),
    );
    if let Some(owner) = c.opt("repository_owner").filter(|o| !o.is_empty()) {
        ext.push(X::SourceRepositoryOwnerUri, format!("{url}/{owner}"));
    }
    ext.push(
        X::SourceRepositoryOwnerIdentifier,
        c.opt("repository_owner_id").unwrap_or_default(),
    );
    ext.push(X::BuildConfigUri, format!("{url}/{workflow_ref}"));
    ext.push(
        X::BuildConfigDigest,
        c.opt("workflow_sha").unwrap_or_default(),
    );
    ext.push(X::BuildTrigger, event_name.clone());
    ext.push(
        X::SourceRepositoryVisibilityAtSigning,
        c.opt("repository_visibility").unwrap_or_default(),
    );
    let environment = c.opt("environment").filter(|e| !e.is_empty());
    ext.push(
        X::DeploymentEnvironment,
        environment.clone().unwrap_or_default(),
    );

    let san = uri_san(c, signer, "job_workflow_ref")?;
    Ok((
        san,
        github_like_binding(
            c,
            repository,
            workflow_ref,
            job_workflow_ref,
            environment,
            event_name,
            git_ref,
        ),
    ))
}

fn github_like_binding(
    c: &ClaimReader<'_>,
    repository: String,
    workflow_ref: String,
    job_workflow_ref: String,
    environment: Option<String>,
    event_name: String,
    git_ref: String,
) -> BindingClaims {
    BindingClaims {
        subject: String::new(),
        repository: Some(repository),
        repository_id: c.opt("repository_id"),
        repository_owner: c.opt("repository_owner"),
        repository_owner_id: c.opt("repository_owner_id"),
        workflow_ref: Some(workflow_ref),
        job_workflow_ref: Some(job_workflow_ref),
        environment,
        event_name: Some(event_name).filter(|e| !e.is_empty()),
        git_ref: Some(git_ref).filter(|r| !r.is_empty()),
    }
}

/// GitLab CI (`gitlab-pipeline` in Fulcio).
pub(super) fn gitlab(
    c: &ClaimReader<'_>,
    server_url: &str,
    ext: &mut Extensions,
) -> Result<(San, BindingClaims), OidcError> {
    let url = server_url.trim_end_matches('/');
    let config_ref_uri = c.req_nonempty("ci_config_ref_uri")?;
    let project_path = c.req_nonempty("project_path")?;
    let namespace_path = c.req("namespace_path")?;
    let ref_kind = if c.req("ref_type")? == "branch" {
        "heads"
    } else {
        "tags"
    };
    let git_ref = format!("refs/{ref_kind}/{}", c.req("ref")?);
    let pipeline_source = c.req("pipeline_source")?;
    let config_sha = c.req("ci_config_sha")?;
    let signer = format!("https://{config_ref_uri}");

    ext.push(X::BuildSignerUri, signer.clone());
    ext.push(X::BuildSignerDigest, config_sha.clone());
    ext.push(X::RunnerEnvironment, c.req("runner_environment")?);
    ext.push(X::SourceRepositoryUri, format!("{url}/{project_path}"));
    ext.push(X::SourceRepositoryDigest, c.req("sha")?);
    ext.push(X::SourceRepositoryRef, git_ref.clone());
    ext.push(X::SourceRepositoryIdentifier, c.req("project_id")?);
    ext.push(
        X::SourceRepositoryOwnerUri,
        format!("{url}/{namespace_path}"),
    );
    ext.push(X::SourceRepositoryOwnerIdentifier, c.req("namespace_id")?);
    ext.push(X::BuildConfigUri, signer.clone());
    ext.push(X::BuildConfigDigest, config_sha);
    ext.push(X::BuildTrigger, pipeline_source.clone());
    ext.push(
        X::RunInvocationUri,
        format!("{url}/{project_path}/-/jobs/{}", c.req("job_id")?),
    );
    ext.push(
        X::SourceRepositoryVisibilityAtSigning,
        c.req("project_visibility")?,
    );
    let environment = c.opt("environment").filter(|e| !e.is_empty());
    ext.push(
        X::DeploymentEnvironment,
        environment.clone().unwrap_or_default(),
    );

    let san = uri_san(c, signer, "ci_config_ref_uri")?;
    let binding = BindingClaims {
        subject: String::new(),
        repository: Some(project_path),
        repository_id: c.opt("project_id"),
        repository_owner: Some(namespace_path),
        repository_owner_id: c.opt("namespace_id"),
        workflow_ref: Some(config_ref_uri.clone()),
        job_workflow_ref: Some(config_ref_uri),
        environment,
        event_name: Some(pipeline_source),
        git_ref: Some(git_ref),
    };
    Ok((san, binding))
}

/// Buildkite (`buildkite-job` in Fulcio).
pub(super) fn buildkite(
    c: &ClaimReader<'_>,
    ext: &mut Extensions,
) -> Result<(San, BindingClaims), OidcError> {
    const URL: &str = "https://buildkite.com";
    let org = c.req_nonempty("organization_slug")?;
    let pipeline = c.req_nonempty("pipeline_slug")?;
    let build_source = c.req("build_source")?;
    let run = format!(
        "{URL}/{org}/{pipeline}/builds/{}#{}",
        c.req("build_number")?,
        c.req("job_id")?
    );

    ext.push(X::RunnerEnvironment, c.req("runner_environment")?);
    ext.push(X::SourceRepositoryDigest, c.req("build_commit")?);
    ext.push(X::BuildTrigger, build_source.clone());
    ext.push(X::RunInvocationUri, run);

    let san = uri_san(c, format!("{URL}/{org}/{pipeline}"), "pipeline_slug")?;
    let binding = BindingClaims {
        repository: Some(format!("{org}/{pipeline}")),
        repository_owner: Some(org),
        event_name: Some(build_source),
        ..BindingClaims::default()
    };
    Ok((san, binding))
}

/// CircleCI (`circleci-job` in Fulcio). URLs are built exactly as Fulcio's templates build
/// them, including the doubled slash after `https://app.circleci.com/` in the run URI, so that
/// certificates match those of the public instance.
pub(super) fn circleci(
    c: &ClaimReader<'_>,
    ext: &mut Extensions,
) -> Result<(San, BindingClaims), OidcError> {
    const API: &str = "https://circleci.com/api/v2";
    const PLATFORM: &str = "https://app.circleci.com/";
    let claim = |name: &str| c.req_nonempty(&format!("oidc.circleci.com/{name}"));
    let signer = format!(
        "{API}/projects/{}/pipeline-definitions/{}",
        claim("project-id")?,
        claim("pipeline-definition-id")?
    );
    ext.push(X::BuildSignerUri, signer.clone());
    // Fulcio's template emits "ssh-rerun" for a rerun with SSH; otherwise nothing usable.
    if c.opt("oidc.circleci.com/ssh-rerun").as_deref() == Some("true") {
        ext.push(X::RunnerEnvironment, "ssh-rerun".to_owned());
    }
    let origin = c.opt("oidc.circleci.com/vcs-origin").unwrap_or_default();
    let vcs_ref = c.opt("oidc.circleci.com/vcs-ref").unwrap_or_default();
    ext.push(X::SourceRepositoryUri, origin.clone());
    ext.push(X::SourceRepositoryRef, vcs_ref.clone());
    ext.push(
        X::BuildConfigUri,
        format!("{API}/pipeline/{}/config", claim("pipeline-id")?),
    );
    ext.push(
        X::RunInvocationUri,
        format!(
            "{PLATFORM}/workflow/{}/job/{}",
            claim("workflow-id")?,
            claim("job-id")?
        ),
    );

    let san = uri_san(c, signer, "oidc.circleci.com/project-id")?;
    let binding = BindingClaims {
        repository: Some(origin).filter(|o| !o.is_empty()),
        repository_id: c.opt("oidc.circleci.com/project-id"),
        git_ref: Some(vcs_ref).filter(|r| !r.is_empty()),
        ..BindingClaims::default()
    };
    Ok((san, binding))
}
