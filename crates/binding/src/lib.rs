//! Trusted-publisher bindings and the one rule that matches a certificate's claims
//! against them. The registry calls it when it decides whether an upload may publish;
//! the consumer calls it when it re-checks a fetched or locked entry; so a certificate
//! one side refuses the other refuses too.
//!
//! Rules, after PyPI's and crates.io's trusted publishing:
//! - The workflow is matched through the job's workflow ref (Fulcio 1.9 Build Signer
//!   URI, GitHub's `job_workflow_ref`; GitLab's `ci_config_ref_uri`): its repository
//!   must be the binding's and its path must equal the registered workflow file
//!   exactly. The git ref is free (any branch or tag may publish). A reusable workflow
//!   from another repository therefore never matches such a binding.
//! - Reusable workflows (GitHub, Forgejo): a binding may name the reusable workflow
//!   (`OWNER/REPO/PATH`, matched against the Build Signer URI, `job_workflow_ref`)
//!   separately from the calling workflow (a path in the binding's repository, matched
//!   against the Build Config URI, `workflow_ref`), and require either or both, as
//!   `gh attestation verify --signer-workflow` does. Stored as one string
//!   ([`WorkflowSpec`]): `CALLER`, `CALLER>SIGNER` or `>SIGNER`.
//! - Repository and environment compare case-insensitively (both providers treat
//!   them so); a binding without an environment accepts any.
//! - `pull_request_target` and `workflow_run` events are refused: they run with the
//!   base repository's privileges on behalf of code from elsewhere.
//!
//! This crate has no I/O and no dependencies: it is pure matching over strings.

/// A CI system whose OIDC identity can publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CiProvider {
    Github,
    Gitlab,
    Buildkite,
    Circleci,
    Forgejo,
}

impl CiProvider {
    /// Every provider, for exhaustive tests and help texts.
    pub const ALL: [CiProvider; 5] = [
        CiProvider::Github,
        CiProvider::Gitlab,
        CiProvider::Buildkite,
        CiProvider::Circleci,
        CiProvider::Forgejo,
    ];

    /// The lowercase name stored in the `provider` column.
    pub fn as_str(self) -> &'static str {
        match self {
            CiProvider::Github => "github",
            CiProvider::Gitlab => "gitlab",
            CiProvider::Buildkite => "buildkite",
            CiProvider::Circleci => "circleci",
            CiProvider::Forgejo => "forgejo",
        }
    }

    /// Parses a stored or user-supplied provider name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Who may publish: a CI workflow or a person's email identity. Used both for a
/// binding (what was registered) and for a lookup (what the token presented).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publisher {
    /// A CI workflow. `repository` (`OWNER/REPO` or the provider's equivalent) and
    /// `environment` compare case-insensitively; `workflow` (a file path) exactly.
    /// On a binding, `environment: None` accepts any environment; on a lookup it
    /// means the token named none.
    Ci {
        provider: CiProvider,
        repository: String,
        workflow: String,
        environment: Option<String>,
    },
    /// A person's email identity (compared case-insensitively).
    Email { email: String },
}

/// Separates the calling workflow from the reusable one in a stored workflow string.
pub const SIGNER_SEPARATOR: char = '>';

/// A binding's workflow requirement, read from its stored `workflow` string:
/// `CALLER` (today's form: the workflow that asked for the certificate is CALLER in the
/// binding's repository), `CALLER>OWNER/REPO/PATH` (a reusable workflow called from
/// CALLER) or `>OWNER/REPO/PATH` (the reusable workflow, called from any workflow of
/// the binding's repository).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkflowSpec<'a> {
    /// The calling workflow's path in the binding's repository.
    pub caller: Option<&'a str>,
    /// The reusable workflow: its repository (`OWNER/REPO`) and path.
    pub signer: Option<(&'a str, &'a str)>,
}

impl<'a> WorkflowSpec<'a> {
    /// Reads a stored workflow string (`None` when its signer part is not
    /// `OWNER/REPO/PATH`).
    pub fn parse(stored: &'a str) -> Option<Self> {
        let Some((caller, signer)) = stored.split_once(SIGNER_SEPARATOR) else {
            return Some(Self {
                caller: Some(stored),
                signer: None,
            });
        };
        let mut parts = signer.splitn(3, '/');
        let (owner, repo, path) = (parts.next()?, parts.next()?, parts.next()?);
        if owner.is_empty() || repo.is_empty() || path.is_empty() {
            return None;
        }
        let repository = signer.get(..owner.len() + 1 + repo.len())?;
        Some(Self {
            caller: (!caller.is_empty()).then_some(caller),
            signer: Some((repository, path)),
        })
    }

    /// The stored form of a caller and a reusable workflow (`OWNER/REPO/PATH`).
    pub fn join(caller: Option<&str>, signer: Option<&str>) -> String {
        match signer {
            Some(s) => format!("{}{SIGNER_SEPARATOR}{s}", caller.unwrap_or_default()),
            None => caller.unwrap_or_default().to_owned(),
        }
    }
}

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
    /// 1.18 Build Config URI (`{server}/{workflow_ref}`): the calling workflow.
    pub build_config_uri: Option<String>,
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
#[allow(
    clippy::large_enum_variant,
    reason = "a short-lived value, one per certificate checked; boxing would only add an allocation"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    Ci {
        provider: CiProvider,
        repository: String,
        /// The workflow that asked for the certificate (Build Signer URI).
        workflow: WorkflowClaim,
        /// The calling workflow (Build Config URI), when the provider names one
        /// (GitHub, Forgejo); equal to `workflow` unless a reusable workflow ran.
        caller: Option<WorkflowClaim>,
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

/// Why a certificate cannot be read as a CI identity: the claim it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingClaim(pub &'static str);

/// Reads what a CI certificate presents for `provider`. `server_url` is the forge's base
/// URL (`https://github.com`), needed for GitHub, Forgejo and GitLab, whose Fulcio
/// claims are URLs under it; Buildkite and CircleCI identities live under fixed bases.
pub fn present_ci(
    provider: CiProvider,
    server_url: &str,
    claims: &CertClaims,
) -> Result<Presented, MissingClaim> {
    let base = server_url.trim_end_matches('/');
    let ci = |repository, workflow| Presented::Ci {
        provider,
        repository,
        workflow,
        caller: match provider {
            CiProvider::Github | CiProvider::Forgejo => {
                strip_base(claims.build_config_uri.as_deref(), base)
                    .and_then(|c| github_workflow_ref(&c))
            }
            _ => None,
        },
        environment: claims.environment.clone().filter(|e| !e.is_empty()),
        event_name: claims.build_trigger.clone(),
        repository_owner_id: claims.repository_owner_id.clone(),
    };
    match provider {
        CiProvider::Github | CiProvider::Forgejo | CiProvider::Gitlab => {
            // The forge's names for the repository and the workflow claims, and how the
            // workflow claim reads.
            let (repository_claim, workflow_claim, workflow_of): (
                _,
                _,
                fn(&str) -> Option<WorkflowClaim>,
            ) = if provider == CiProvider::Gitlab {
                ("project_path", "ci_config_ref_uri", gitlab_config_ref)
            } else {
                ("repository", "job_workflow_ref", github_workflow_ref)
            };
            let repository = strip_base(claims.source_repository_uri.as_deref(), base)
                .ok_or(MissingClaim(repository_claim))?;
            let signer = strip_base(claims.build_signer_uri.as_deref(), base)
                .ok_or(MissingClaim(workflow_claim))?;
            let workflow = workflow_of(&signer).ok_or(MissingClaim(workflow_claim))?;
            Ok(ci(repository, workflow))
        }
        CiProvider::Buildkite => {
            let pipeline = strip_base(claims.san_uri.as_deref(), "https://buildkite.com")
                .filter(|p| p.split('/').count() == 2)
                .ok_or(MissingClaim("organization_slug/pipeline_slug"))?;
            Ok(ci(pipeline, WorkflowClaim::None))
        }
        CiProvider::Circleci => {
            let rest = strip_base(
                claims.san_uri.as_deref(),
                "https://circleci.com/api/v2/projects",
            )
            .ok_or(MissingClaim("project-id"))?;
            let (project, definition) = rest
                .split_once("/pipeline-definitions/")
                .filter(|(p, d)| !p.is_empty() && !d.is_empty())
                .ok_or(MissingClaim("pipeline-definition-id"))?;
            Ok(ci(
                project.to_owned(),
                WorkflowClaim::Id(definition.to_owned()),
            ))
        }
    }
}

/// The refusal for an event that may never publish (`pull_request_target`,
/// `workflow_run`), if `presented` names one.
pub fn refused_event(presented: &Presented) -> Option<String> {
    match presented {
        Presented::Ci {
            event_name: Some(event),
            ..
        } if REFUSED_EVENTS.contains(&event.as_str()) => Some(format!(
            "claim `event_name`: `{event}` events may not publish (they run with the base repository's privileges for code from elsewhere)"
        )),
        _ => None,
    }
}

/// `BASE/rest` -> `rest` (non-empty).
pub fn strip_base(value: Option<&str>, base: &str) -> Option<String> {
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
                caller: found_caller,
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
                } if *provider != CiProvider::Gitlab && workflow.contains(SIGNER_SEPARATOR) => {
                    let Some(spec) = WorkflowSpec::parse(workflow) else {
                        return fail(
                            2,
                            "job_workflow_ref",
                            workflow.clone(),
                            "unusable binding".into(),
                        );
                    };
                    if let Some((signer_repo, signer_path)) = spec.signer {
                        if !same(wf_repo, signer_repo) || path != signer_path {
                            return fail(
                                2,
                                "job_workflow_ref",
                                format!("{signer_repo}/{signer_path}@<any ref>"),
                                format!("{wf_repo}/{path}@{git_ref}"),
                            );
                        }
                    }
                    if let Some(caller) = spec.caller {
                        let found = match found_caller {
                            Some(WorkflowClaim::Ref {
                                repository: r,
                                path: p,
                                git_ref: g,
                            }) => {
                                if same(r, repository) && p == caller {
                                    None
                                } else {
                                    Some(format!("{r}/{p}@{g}"))
                                }
                            }
                            _ => Some("none".to_owned()),
                        };
                        if let Some(found) = found {
                            return fail(
                                3,
                                "workflow_ref",
                                format!("{repository}/{caller}@<any ref>"),
                                found,
                            );
                        }
                    }
                }
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
                            4,
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
    if let Some(why) = refused_event(presented) {
        return Err(Refusal::Mismatch(why));
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

    const WF: &str = ".github/workflows/release.yml";

    fn claims(signer_repo: &str) -> CertClaims {
        CertClaims {
            source_repository_uri: Some("https://github.com/acme/widget".into()),
            build_signer_uri: Some(format!(
                "https://github.com/{signer_repo}/{WF}@refs/heads/main"
            )),
            build_trigger: Some("push".into()),
            ..CertClaims::default()
        }
    }

    fn binding() -> Publisher {
        Publisher::Ci {
            provider: CiProvider::Github,
            repository: "acme/widget".into(),
            workflow: WF.into(),
            environment: None,
        }
    }

    #[test]
    fn the_bound_workflow_matches_at_any_ref() {
        let p = present_ci(
            CiProvider::Github,
            "https://github.com/",
            &claims("acme/widget"),
        )
        .unwrap();
        assert_eq!(check(&binding(), &p), Ok(()));
    }

    #[test]
    fn a_reusable_workflow_from_another_repository_never_matches() {
        let p = present_ci(
            CiProvider::Github,
            "https://github.com",
            &claims("evil/shared"),
        )
        .unwrap();
        let m = check(&binding(), &p).unwrap_err();
        assert_eq!(m.claim, "job_workflow_ref");
        assert!(m.found.starts_with("evil/shared/"), "{m}");
    }

    /// A reusable workflow of `acme/shared` called from `caller_repo`'s `ci.yml`.
    fn reusable(caller_repo: &str, signer_repo: &str) -> Presented {
        let c = CertClaims {
            source_repository_uri: Some(format!("https://github.com/{caller_repo}")),
            build_signer_uri: Some(format!(
                "https://github.com/{signer_repo}/.github/workflows/publish.yml@refs/heads/v1"
            )),
            build_config_uri: Some(format!(
                "https://github.com/{caller_repo}/.github/workflows/ci.yml@refs/tags/v2.0.0"
            )),
            build_trigger: Some("push".into()),
            ..CertClaims::default()
        };
        present_ci(CiProvider::Github, "https://github.com", &c).unwrap()
    }

    fn reusable_binding(workflow: &str) -> Publisher {
        Publisher::Ci {
            provider: CiProvider::Github,
            repository: "acme/widget".into(),
            workflow: workflow.into(),
            environment: None,
        }
    }

    #[test]
    fn a_binding_can_name_the_reusable_workflow_the_caller_or_both() {
        let signer = "acme/shared/.github/workflows/publish.yml";
        let both = WorkflowSpec::join(Some(".github/workflows/ci.yml"), Some(signer));
        assert_eq!(
            both,
            ".github/workflows/ci.yml>acme/shared/.github/workflows/publish.yml"
        );
        let p = reusable("acme/widget", "acme/shared");
        for stored in [both.as_str(), &WorkflowSpec::join(None, Some(signer))] {
            assert_eq!(check(&reusable_binding(stored), &p), Ok(()), "{stored}");
        }
        // Today's form names the workflow that asked for the certificate: the reusable
        // one lives elsewhere, so it is still refused.
        let m = check(&reusable_binding(".github/workflows/ci.yml"), &p).unwrap_err();
        assert_eq!(m.claim, "job_workflow_ref");

        // Another reusable workflow than the bound one.
        let other = reusable("acme/widget", "evil/shared");
        let m = check(&reusable_binding(&both), &other).unwrap_err();
        assert_eq!(
            (m.claim, m.found.starts_with("evil/shared/")),
            ("job_workflow_ref", true)
        );
        // The bound reusable workflow, called from another workflow of the repository.
        let mut wrong_caller = reusable("acme/widget", "acme/shared");
        if let Presented::Ci { caller, .. } = &mut wrong_caller {
            *caller =
                github_workflow_ref("acme/widget/.github/workflows/other.yml@refs/heads/main");
        }
        let m = check(&reusable_binding(&both), &wrong_caller).unwrap_err();
        assert_eq!(m.claim, "workflow_ref");
        assert!(m.found.contains("other.yml"), "{m}");
        // ... which a signer-only binding accepts.
        assert_eq!(
            check(
                &reusable_binding(&WorkflowSpec::join(None, Some(signer))),
                &wrong_caller
            ),
            Ok(())
        );
        // No caller claim at all.
        if let Presented::Ci { caller, .. } = &mut wrong_caller {
            *caller = None;
        }
        let m = check(&reusable_binding(&both), &wrong_caller).unwrap_err();
        assert_eq!((m.claim, m.found.as_str()), ("workflow_ref", "none"));
        // The repository is still the binding's.
        let m = check(
            &reusable_binding(&both),
            &reusable("evil/widget", "acme/shared"),
        )
        .unwrap_err();
        assert_eq!(m.claim, "repository");
        assert_eq!(WorkflowSpec::parse(">acme"), None);
    }

    #[test]
    fn gitlab_config_refs_and_missing_claims() {
        let c = CertClaims {
            source_repository_uri: Some("https://gitlab.com/grp/proj".into()),
            build_signer_uri: Some(
                "https://gitlab.com/grp/proj//.gitlab-ci.yml@refs/heads/main".into(),
            ),
            ..CertClaims::default()
        };
        let p = present_ci(CiProvider::Gitlab, "https://gitlab.com", &c).unwrap();
        let b = Publisher::Ci {
            provider: CiProvider::Gitlab,
            repository: "grp/proj".into(),
            workflow: ".gitlab-ci.yml".into(),
            environment: None,
        };
        assert_eq!(check(&b, &p), Ok(()));
        let bare = CertClaims::default();
        assert_eq!(
            present_ci(CiProvider::Github, "https://github.com", &bare),
            Err(MissingClaim("repository"))
        );
    }
}
