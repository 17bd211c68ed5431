//! Trusted-publisher matching: what a verified certificate presents (read from its Fulcio extensions), and whether a binding accepts it.
//!
//! Rules, after PyPI's and crates.io's trusted publishing:
//! - The workflow is matched through the job's workflow ref (Fulcio 1.9 Build Signer
//!   URI, GitHub's `job_workflow_ref`; GitLab's `ci_config_ref_uri`): its repository
//!   must be the binding's and its path must equal the registered workflow file
//!   exactly. The git ref is free (any branch or tag may publish).
//! - Repository and environment compare case-insensitively (both providers treat
//!   them so); a binding without an environment accepts any.
//! - `pull_request_target` and `workflow_run` events are refused: they run with the
//!   base repository's privileges on behalf of code from elsewhere.
//! - The repository owner's numeric id (Fulcio 1.17) is recorded on the first publish
//!   and must not change afterwards; that check is the metadata store's, inside the
//!   publish transaction (`MetaError::RepositoryOwnerChanged`).

use vouch_oidc::{IssuerConfig, Provider};
use vouch_store::meta::{CiProvider, Publisher};

/// Events that may never publish (PyPI refuses the same two).
pub const REFUSED_EVENTS: [&str; 2] = ["pull_request_target", "workflow_run"];

/// The certificate facts matching needs, copied out of a verified certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertClaims {
    /// A URI SAN (CI workloads).
    pub san_uri: Option<String>,
    /// An rfc822Name SAN (people).
    pub san_email: Option<String>,
    /// Fulcio 1.8 (or 1.1): the OIDC issuer.
    pub issuer: String,
    /// 1.9 Build Signer URI (`{server}/{job_workflow_ref}`).
    pub build_signer_uri: Option<String>,
    /// 1.12 Source Repository URI (`{server}/{repository}`).
    pub source_repository_uri: Option<String>,
    /// 1.17 Source Repository Owner Identifier (`repository_owner_id`).
    pub repository_owner_id: Option<String>,
    /// 1.20 Build Trigger (`event_name`).
    pub build_trigger: Option<String>,
    /// 1.23 Deployment Environment.
    pub environment: Option<String>,
}

/// The workflow a CI identity ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkflowClaim {
    /// A workflow file at a ref: `REPOSITORY/PATH@REF` (GitHub, Forgejo) or
    /// `HOST/REPOSITORY//PATH@REF` (GitLab).
    Ref {
        repository: String,
        path: String,
        git_ref: String,
    },
    /// CircleCI's pipeline definition id.
    Id(String),
    /// Buildkite identities name no workflow file.
    None,
}

/// What a certificate presents, in the terms bindings are registered in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    Ci {
        provider: CiProvider,
        repository: String,
        workflow: WorkflowClaim,
        environment: Option<String>,
        event_name: Option<String>,
        repository_owner_id: Option<String>,
    },
    Email {
        email: String,
    },
}

/// Why an identity cannot publish: PUB_E001 (nothing registered for it), PUB_E006
/// (registered, but a claim differs) or PUB_E014 (the pending binding it matched was
/// registered by someone who does not own the scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoBinding(String),
    Mismatch(String),
    ScopeNotOwned(String),
}

/// A binding claim the presented identity does not satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub claim: &'static str,
    pub expected: String,
    pub found: String,
    /// How far matching got (higher is closer), to report the nearest binding.
    rank: u8,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "claim `{}`: expected {}, found {}",
            self.claim, self.expected, self.found
        )
    }
}

/// The binding-provider name of a presented identity.
pub fn provider_name(p: &Presented) -> &'static str {
    match p {
        Presented::Ci { provider, .. } => provider.as_str(),
        Presented::Email { .. } => "email",
    }
}

/// The provider name a binding is registered for.
pub fn binding_provider(b: &Publisher) -> &'static str {
    match b {
        Publisher::Ci { provider, .. } => provider.as_str(),
        Publisher::Email { .. } => "email",
    }
}

/// Reads what `claims` presents, using the configured issuers to know how.
pub fn present(claims: &CertClaims, issuers: &[IssuerConfig]) -> Result<Presented, Refusal> {
    let Some(cfg) = issuers.iter().find(|i| i.issuer() == claims.issuer) else {
        return Err(Refusal::NoBinding(format!(
            "identities from issuer {:?} cannot match a publisher binding: the issuer is not configured on this registry",
            claims.issuer
        )));
    };
    let missing = |claim: &str| {
        Refusal::Mismatch(format!(
            "the certificate lacks the `{claim}` claim a {} identity must carry",
            cfg.provider().name()
        ))
    };
    let ci = |provider, repository, workflow| Presented::Ci {
        provider,
        repository,
        workflow,
        environment: claims.environment.clone().filter(|e| !e.is_empty()),
        event_name: claims.build_trigger.clone(),
        repository_owner_id: claims.repository_owner_id.clone(),
    };
    match cfg.provider() {
        Provider::Email => {
            let email = claims.san_email.clone().ok_or_else(|| missing("email"))?;
            Ok(Presented::Email { email })
        }
        Provider::GitHubActions { server_url } | Provider::ForgejoActions { server_url } => {
            let provider = match cfg.provider() {
                Provider::GitHubActions { .. } => CiProvider::Github,
                _ => CiProvider::Forgejo,
            };
            let base = server_url.trim_end_matches('/');
            let repository = strip_base(claims.source_repository_uri.as_deref(), base)
                .ok_or_else(|| missing("repository"))?;
            let job = strip_base(claims.build_signer_uri.as_deref(), base)
                .ok_or_else(|| missing("job_workflow_ref"))?;
            let workflow = github_workflow_ref(&job).ok_or_else(|| missing("job_workflow_ref"))?;
            Ok(ci(provider, repository, workflow))
        }
        Provider::GitLabCi { server_url } => {
            let base = server_url.trim_end_matches('/');
            let repository = strip_base(claims.source_repository_uri.as_deref(), base)
                .ok_or_else(|| missing("project_path"))?;
            let config = strip_base(claims.build_signer_uri.as_deref(), base)
                .ok_or_else(|| missing("ci_config_ref_uri"))?;
            let workflow =
                gitlab_config_ref(&config).ok_or_else(|| missing("ci_config_ref_uri"))?;
            Ok(ci(CiProvider::Gitlab, repository, workflow))
        }
        Provider::Buildkite => {
            let pipeline = strip_base(claims.san_uri.as_deref(), "https://buildkite.com")
                .filter(|p| p.split('/').count() == 2)
                .ok_or_else(|| missing("organization_slug/pipeline_slug"))?;
            Ok(ci(CiProvider::Buildkite, pipeline, WorkflowClaim::None))
        }
        Provider::CircleCi => {
            let rest = strip_base(
                claims.san_uri.as_deref(),
                "https://circleci.com/api/v2/projects",
            )
            .ok_or_else(|| missing("project-id"))?;
            let (project, definition) = rest
                .split_once("/pipeline-definitions/")
                .filter(|(p, d)| !p.is_empty() && !d.is_empty())
                .ok_or_else(|| missing("pipeline-definition-id"))?;
            Ok(ci(
                CiProvider::Circleci,
                project.to_owned(),
                WorkflowClaim::Id(definition.to_owned()),
            ))
        }
        _ => Err(Refusal::NoBinding(format!(
            "identities from issuer {:?} cannot match a publisher binding",
            claims.issuer
        ))),
    }
}

/// `BASE/rest` -> `rest` (non-empty).
fn strip_base(value: Option<&str>, base: &str) -> Option<String> {
    let rest = value?.strip_prefix(base)?.strip_prefix('/')?;
    (!rest.is_empty()).then(|| rest.to_owned())
}

/// `OWNER/REPO/PATH@REF`.
fn github_workflow_ref(job: &str) -> Option<WorkflowClaim> {
    let (left, git_ref) = job.rsplit_once('@')?;
    let mut parts = left.splitn(3, '/');
    let (owner, repo, path) = (parts.next()?, parts.next()?, parts.next()?);
    if owner.is_empty() || repo.is_empty() || path.is_empty() {
        return None;
    }
    Some(WorkflowClaim::Ref {
        repository: format!("{owner}/{repo}"),
        path: path.to_owned(),
        git_ref: git_ref.to_owned(),
    })
}

/// `PROJECT_PATH//PATH@REF` (the server's host already stripped).
fn gitlab_config_ref(config: &str) -> Option<WorkflowClaim> {
    let (left, git_ref) = config.rsplit_once('@')?;
    let (repository, path) = left.split_once("//")?;
    if repository.is_empty() || path.is_empty() {
        return None;
    }
    Some(WorkflowClaim::Ref {
        repository: repository.to_owned(),
        path: path.to_owned(),
        git_ref: git_ref.to_owned(),
    })
}

fn same(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Whether `binding` accepts `presented`; the first claim that differs otherwise.
pub fn check(binding: &Publisher, presented: &Presented) -> Result<(), Mismatch> {
    let fail = |rank, claim, expected: String, found: String| {
        Err(Mismatch {
            claim,
            expected,
            found,
            rank,
        })
    };
    match (binding, presented) {
        (Publisher::Email { email }, Presented::Email { email: found }) => {
            if same(email, found) {
                Ok(())
            } else {
                fail(1, "email", email.clone(), found.clone())
            }
        }
        (
            Publisher::Ci {
                provider,
                repository,
                workflow,
                environment,
            },
            Presented::Ci {
                provider: p,
                repository: found_repo,
                workflow: found_workflow,
                environment: found_env,
                ..
            },
        ) if provider == p => {
            if !same(repository, found_repo) {
                return fail(1, "repository", repository.clone(), found_repo.clone());
            }
            match found_workflow {
                WorkflowClaim::Ref {
                    repository: wf_repo,
                    path,
                    git_ref,
                } => {
                    if !same(wf_repo, repository) || path != workflow {
                        let (claim, sep) = match provider {
                            CiProvider::Gitlab => ("ci_config_ref_uri", "//"),
                            _ => ("job_workflow_ref", "/"),
                        };
                        return fail(
                            2,
                            claim,
                            format!("{repository}{sep}{workflow}@<any ref>"),
                            format!("{wf_repo}{sep}{path}@{git_ref}"),
                        );
                    }
                }
                WorkflowClaim::Id(id) => {
                    if id != workflow {
                        return fail(2, "pipeline-definition-id", workflow.clone(), id.clone());
                    }
                }
                WorkflowClaim::None => {
                    if !workflow.is_empty() {
                        return fail(2, "workflow", workflow.clone(), "none".into());
                    }
                }
            }
            if let Some(env) = environment {
                match found_env {
                    Some(found) if same(env, found) => {}
                    other => {
                        return fail(
                            3,
                            "environment",
                            env.clone(),
                            other.clone().unwrap_or_else(|| "none".into()),
                        )
                    }
                }
            }
            Ok(())
        }
        (b, p) => fail(
            0,
            "provider",
            binding_provider(b).into(),
            provider_name(p).into(),
        ),
    }
}

/// Picks the binding among `bindings` that accepts `presented`, or says why none does.
/// Returns the index of the accepting binding.
pub fn select<'a, I>(bindings: I, presented: &Presented, package: &str) -> Result<usize, Refusal>
where
    I: IntoIterator<Item = (i64, &'a Publisher)>,
{
    if let Presented::Ci {
        event_name: Some(event),
        ..
    } = presented
    {
        if REFUSED_EVENTS.contains(&event.as_str()) {
            return Err(Refusal::Mismatch(format!(
                "claim `event_name`: `{event}` events may not publish (they run with the base repository's privileges for code from elsewhere)"
            )));
        }
    }
    let mut nearest: Option<(i64, Mismatch)> = None;
    let mut same_provider = 0usize;
    for (i, (id, binding)) in bindings.into_iter().enumerate() {
        if binding_provider(binding) != provider_name(presented) {
            continue;
        }
        same_provider += 1;
        match check(binding, presented) {
            Ok(()) => return Ok(i),
            Err(m) => {
                if nearest.as_ref().is_none_or(|(_, n)| m.rank > n.rank) {
                    nearest = Some((id, m));
                }
            }
        }
    }
    match nearest {
        Some((id, m)) if same_provider > 0 => Err(Refusal::Mismatch(format!(
            "the identity does not match publisher binding {id} of {package}: {m}"
        ))),
        _ => Err(Refusal::NoBinding(format!(
            "no {} publisher binding is registered for {package}",
            provider_name(presented)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GH: &str = "https://token.actions.githubusercontent.com";

    fn issuers() -> Vec<IssuerConfig> {
        vec![
            IssuerConfig::github_actions("sigstore"),
            IssuerConfig::gitlab_com("sigstore"),
            IssuerConfig::buildkite("sigstore"),
            IssuerConfig::new("https://mail.example", Provider::Email, "sigstore"),
        ]
    }

    fn gh_claims(repo: &str, workflow: &str, env: Option<&str>, event: &str) -> CertClaims {
        let job = format!("https://github.com/{repo}/{workflow}@refs/tags/v1");
        CertClaims {
            san_uri: Some(job.clone()),
            san_email: None,
            issuer: GH.into(),
            build_signer_uri: Some(job),
            source_repository_uri: Some(format!("https://github.com/{repo}")),
            repository_owner_id: Some("1001".into()),
            build_trigger: Some(event.into()),
            environment: env.map(str::to_owned),
        }
    }

    fn gh_binding(repo: &str, workflow: &str, env: Option<&str>) -> Publisher {
        Publisher::Ci {
            provider: CiProvider::Github,
            repository: repo.into(),
            workflow: workflow.into(),
            environment: env.map(str::to_owned),
        }
    }

    fn sel(bindings: &[Publisher], p: &Presented) -> Result<usize, Refusal> {
        select(
            bindings.iter().enumerate().map(|(i, b)| (i as i64 + 1, b)),
            p,
            "@a/b",
        )
    }

    const WF: &str = ".github/workflows/release.yml";

    #[test]
    fn github_identity_is_read_from_fulcio_claims() {
        let p = present(&gh_claims("Org/Repo", WF, Some("prod"), "push"), &issuers()).unwrap();
        assert_eq!(
            p,
            Presented::Ci {
                provider: CiProvider::Github,
                repository: "Org/Repo".into(),
                workflow: WorkflowClaim::Ref {
                    repository: "Org/Repo".into(),
                    path: WF.into(),
                    git_ref: "refs/tags/v1".into()
                },
                environment: Some("prod".into()),
                event_name: Some("push".into()),
                repository_owner_id: Some("1001".into()),
            }
        );
    }

    #[test]
    fn repository_and_environment_compare_case_insensitively_workflow_exactly() {
        let p = present(&gh_claims("ORG/repo", WF, Some("PROD"), "push"), &issuers()).unwrap();
        assert_eq!(sel(&[gh_binding("org/Repo", WF, Some("prod"))], &p), Ok(0));
        let upper = ".github/workflows/Release.yml";
        let err = sel(&[gh_binding("org/repo", upper, None)], &p).unwrap_err();
        assert!(
            matches!(&err, Refusal::Mismatch(d) if d.contains("job_workflow_ref")),
            "{err:?}"
        );
    }

    #[test]
    fn any_ref_publishes_and_no_environment_accepts_any() {
        let mut c = gh_claims("o/r", WF, Some("staging"), "release");
        c.build_signer_uri = Some(format!("https://github.com/o/r/{WF}@refs/heads/feature"));
        let p = present(&c, &issuers()).unwrap();
        assert_eq!(sel(&[gh_binding("o/r", WF, None)], &p), Ok(0));
    }

    #[test]
    fn each_mismatching_claim_is_named() {
        let p = present(&gh_claims("o/r", WF, Some("dev"), "push"), &issuers()).unwrap();
        let cases = [
            (gh_binding("o/other", WF, None), "`repository`"),
            (
                gh_binding("o/r", ".github/workflows/x.yml", None),
                "`job_workflow_ref`",
            ),
            (gh_binding("o/r", WF, Some("prod")), "`environment`"),
        ];
        for (b, claim) in cases {
            match sel(&[b], &p) {
                Err(Refusal::Mismatch(d)) => assert!(d.contains(claim), "{d}"),
                other => panic!("{claim}: {other:?}"),
            }
        }
        // A binding requiring an environment refuses a job without one.
        let none = present(&gh_claims("o/r", WF, None, "push"), &issuers()).unwrap();
        assert!(matches!(
            sel(&[gh_binding("o/r", WF, Some("prod"))], &none),
            Err(Refusal::Mismatch(d)) if d.contains("`environment`")
        ));
    }

    #[test]
    fn reusable_workflow_from_another_repository_does_not_match() {
        let mut c = gh_claims("o/r", WF, None, "push");
        c.build_signer_uri = Some(format!("https://github.com/evil/r/{WF}@refs/heads/main"));
        let p = present(&c, &issuers()).unwrap();
        assert!(matches!(
            sel(&[gh_binding("o/r", WF, None)], &p),
            Err(Refusal::Mismatch(d)) if d.contains("job_workflow_ref")
        ));
    }

    #[test]
    fn dangerous_events_are_refused() {
        for event in REFUSED_EVENTS {
            let p = present(&gh_claims("o/r", WF, None, event), &issuers()).unwrap();
            match sel(&[gh_binding("o/r", WF, None)], &p) {
                Err(Refusal::Mismatch(d)) => assert!(d.contains("event_name"), "{d}"),
                other => panic!("{event}: {other:?}"),
            }
        }
    }

    #[test]
    fn nothing_registered_for_the_provider_is_no_binding() {
        let p = present(&gh_claims("o/r", WF, None, "push"), &issuers()).unwrap();
        assert!(matches!(sel(&[], &p), Err(Refusal::NoBinding(_))));
        let email = Publisher::Email {
            email: "a@b.c".into(),
        };
        assert!(matches!(sel(&[email], &p), Err(Refusal::NoBinding(_))));
        let mut c = gh_claims("o/r", WF, None, "push");
        c.issuer = "https://unknown.example".into();
        assert!(matches!(
            present(&c, &issuers()),
            Err(Refusal::NoBinding(_))
        ));
    }

    #[test]
    fn nearest_binding_is_reported() {
        let p = present(&gh_claims("o/r", WF, Some("dev"), "push"), &issuers()).unwrap();
        let bindings = [
            gh_binding("x/y", WF, None),
            gh_binding("o/r", WF, Some("prod")),
        ];
        match sel(&bindings, &p) {
            Err(Refusal::Mismatch(d)) => {
                assert!(d.contains("binding 2") && d.contains("environment"), "{d}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_claims_fail_closed() {
        let mut c = gh_claims("o/r", WF, None, "push");
        c.build_signer_uri = None;
        assert!(
            matches!(present(&c, &issuers()), Err(Refusal::Mismatch(d)) if d.contains("job_workflow_ref"))
        );
        let mut c = gh_claims("o/r", WF, None, "push");
        c.source_repository_uri = Some("https://evil.example/o/r".into());
        assert!(matches!(present(&c, &issuers()), Err(Refusal::Mismatch(_))));
        let mut c = gh_claims("o/r", WF, None, "push");
        c.build_signer_uri = Some("https://github.com/o/r@refs/heads/main".into());
        assert!(matches!(present(&c, &issuers()), Err(Refusal::Mismatch(_))));
    }

    #[test]
    fn gitlab_buildkite_circleci_and_email() {
        let c = CertClaims {
            san_uri: Some("https://gitlab.com/g/sub/p//ci/release.yml@refs/heads/main".into()),
            issuer: "https://gitlab.com".into(),
            build_signer_uri: Some(
                "https://gitlab.com/g/sub/p//ci/release.yml@refs/heads/main".into(),
            ),
            source_repository_uri: Some("https://gitlab.com/g/sub/p".into()),
            ..CertClaims::default()
        };
        let p = present(&c, &issuers()).unwrap();
        let b = Publisher::Ci {
            provider: CiProvider::Gitlab,
            repository: "G/Sub/P".into(),
            workflow: "ci/release.yml".into(),
            environment: None,
        };
        assert_eq!(sel(&[b], &p), Ok(0));

        let c = CertClaims {
            san_uri: Some("https://buildkite.com/acme/release".into()),
            issuer: "https://agent.buildkite.com".into(),
            ..CertClaims::default()
        };
        let p = present(&c, &issuers()).unwrap();
        let b = Publisher::Ci {
            provider: CiProvider::Buildkite,
            repository: "acme/release".into(),
            workflow: String::new(),
            environment: None,
        };
        assert_eq!(sel(&[b], &p), Ok(0));

        let mut all = issuers();
        all.push(IssuerConfig::circleci("org-1", "sigstore"));
        let circle_issuer = all.last().unwrap().issuer().to_owned();
        let c = CertClaims {
            san_uri: Some(
                "https://circleci.com/api/v2/projects/p-1/pipeline-definitions/d-9".into(),
            ),
            issuer: circle_issuer,
            ..CertClaims::default()
        };
        let p = present(&c, &all).unwrap();
        let b = |d: &str| Publisher::Ci {
            provider: CiProvider::Circleci,
            repository: "p-1".into(),
            workflow: d.into(),
            environment: None,
        };
        assert_eq!(sel(&[b("d-9")], &p), Ok(0));
        assert!(matches!(sel(&[b("d-8")], &p), Err(Refusal::Mismatch(_))));

        let c = CertClaims {
            san_email: Some("Dev@Example.org".into()),
            issuer: "https://mail.example".into(),
            ..CertClaims::default()
        };
        let p = present(&c, &issuers()).unwrap();
        let e = |m: &str| Publisher::Email { email: m.into() };
        assert_eq!(sel(&[e("dev@example.ORG")], &p), Ok(0));
        assert!(matches!(
            sel(&[e("x@example.org")], &p),
            Err(Refusal::Mismatch(_))
        ));
    }
}
