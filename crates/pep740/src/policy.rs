//! Who must have published: a trusted publisher (GitHub or GitLab repository, optionally
//! its workflow and environment, and the OIDC issuer that vouches for it) or any keyless
//! identity the verify layer can express (an email, another CI).

use vouch_verify::{CiClaim, IdentityPolicy, Matcher, PolicyField};

use crate::error::Pep740Error;
use crate::model::Publisher;

/// The issuer of GitHub Actions tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The issuer of gitlab.com CI tokens.
pub const GITLAB_COM_ISSUER: &str = "https://gitlab.com";

/// The forge a trusted publisher's repository lives on, as PyPI names publisher kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublisherKind {
    /// GitHub Actions (`kind: "GitHub"`).
    GitHub,
    /// GitLab CI/CD (`kind: "GitLab"`).
    GitLab,
}

impl PublisherKind {
    /// The name PyPI gives the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            PublisherKind::GitHub => "GitHub",
            PublisherKind::GitLab => "GitLab",
        }
    }
}

/// A trusted publisher to verify against: the attestation's certificate must come from
/// `issuer`, name the repository as its source, and (when given) the workflow as its
/// build config and the environment as its deployment environment.
#[derive(Debug, Clone)]
pub struct TrustedPublisher {
    kind: PublisherKind,
    server_url: String,
    repository: String,
    workflow: Option<String>,
    environment: Option<String>,
    issuer: String,
    issuer_regexp: Option<String>,
    identity: Option<Matcher>,
    claims: Vec<(CiClaim, Matcher)>,
}

impl PartialEq for TrustedPublisher {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string() && self.issuer == other.issuer
    }
}

impl TrustedPublisher {
    /// From a repository URL `https://github.com/OWNER/REPO` or
    /// `https://gitlab.com/NAMESPACE/PROJECT` (a trailing `/` or `.git` is dropped). The
    /// issuer is the forge's own; [`TrustedPublisher::with_issuer`] changes it (a
    /// self-hosted vouch, GitHub Enterprise).
    pub fn from_repository_url(url: &str) -> Result<Self, Pep740Error> {
        let invalid = |detail: String| Pep740Error::InvalidPolicy { detail };
        let rest = url.strip_prefix("https://").ok_or_else(|| {
            invalid(format!(
                "expected an https://github.com/... or https://gitlab.com/... repository URL, found {url:?}"
            ))
        })?;
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid(format!("the repository URL {url:?} has no path")))?;
        let kind = match host {
            "github.com" => PublisherKind::GitHub,
            "gitlab.com" => PublisherKind::GitLab,
            other => {
                return Err(invalid(format!(
                    "expected a github.com or gitlab.com repository, found host {other:?}"
                )))
            }
        };
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        Self::new(kind, &format!("https://{host}"), path)
    }

    /// A publisher of `kind` for `repository` (`OWNER/REPO`, GitLab subgroups allowed)
    /// on the forge at `server_url`.
    pub fn new(
        kind: PublisherKind,
        server_url: &str,
        repository: &str,
    ) -> Result<Self, Pep740Error> {
        let segments: Vec<&str> = repository.split('/').collect();
        let well_formed = match kind {
            PublisherKind::GitHub => segments.len() == 2,
            PublisherKind::GitLab => segments.len() >= 2,
        } && segments
            .iter()
            .all(|s| !s.is_empty() && s != &"." && s != &".." && !s.contains(char::is_whitespace));
        if !well_formed {
            return Err(Pep740Error::InvalidPolicy {
                detail: format!(
                    "expected a {} repository as OWNER/REPO, found {repository:?}",
                    kind.as_str()
                ),
            });
        }
        let issuer = match kind {
            PublisherKind::GitHub => GITHUB_ACTIONS_ISSUER,
            PublisherKind::GitLab => GITLAB_COM_ISSUER,
        };
        Ok(Self {
            kind,
            server_url: server_url.trim_end_matches('/').to_owned(),
            repository: repository.to_owned(),
            workflow: None,
            environment: None,
            issuer: issuer.to_owned(),
            issuer_regexp: None,
            identity: None,
            claims: Vec::new(),
        })
    }

    /// Requires this workflow: a GitHub workflow file name (`release.yml`, looked up under
    /// `.github/workflows/`) or a path in the repository (`.gitlab-ci.yml`,
    /// `.github/workflows/release.yml`).
    pub fn with_workflow(mut self, workflow: impl Into<String>) -> Self {
        self.workflow = Some(workflow.into());
        self
    }

    /// Requires this deployment environment in the certificate.
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Trusts this OIDC issuer instead of the forge's own.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self.issuer_regexp = None;
        self
    }

    /// Trusts any OIDC issuer matching this regular expression (anchored at both ends)
    /// instead of the forge's own.
    pub fn with_issuer_regexp(mut self, pattern: impl Into<String>) -> Self {
        self.issuer_regexp = Some(pattern.into());
        self
    }

    /// Also requires the certificate identity (SAN) to match.
    pub fn with_identity(mut self, identity: Matcher) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Also requires a Fulcio CI claim (a ref, a trigger, a runner) to match.
    pub fn with_claim(mut self, claim: CiClaim, matcher: Matcher) -> Self {
        self.claims.push((claim, matcher));
        self
    }

    /// The forge.
    pub fn kind(&self) -> PublisherKind {
        self.kind
    }

    /// `OWNER/REPO`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The repository URL the certificate's source repository claim must equal.
    pub fn repository_url(&self) -> String {
        format!("{}/{}", self.server_url, self.repository)
    }

    /// The required workflow, as given.
    pub fn workflow(&self) -> Option<&str> {
        self.workflow.as_deref()
    }

    /// The required environment.
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The trusted issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The workflow's path in the repository.
    pub(crate) fn workflow_path(&self) -> Option<String> {
        self.workflow
            .as_deref()
            .map(|w| workflow_path(self.kind, w))
    }

    /// The build config URI a certificate made at `suffix` (a commit or ref) carries.
    pub(crate) fn build_config(&self, path: &str, suffix: &str) -> String {
        match self.kind {
            PublisherKind::GitHub => format!("{}/{path}@{suffix}", self.repository_url()),
            // GitLab's config_ref_uri separates project and file path with `//`.
            PublisherKind::GitLab => format!("{}//{path}@{suffix}", self.repository_url()),
        }
    }

    /// Issuer and source repository, for the verify layer (the rest is checked here).
    pub(crate) fn identity_policy(&self) -> Result<IdentityPolicy, Pep740Error> {
        let invalid = |e: vouch_verify::PolicyError| Pep740Error::InvalidPolicy {
            detail: e.to_string(),
        };
        let field = PolicyField::Claim(CiClaim::SourceRepository);
        let identity = match &self.identity {
            Some(m) => m.clone(),
            // A trusted publisher is named by its claims; the SAN (the workflow that
            // signed, possibly a reusable one) is not part of PyPI's policy.
            None => Matcher::regex(PolicyField::Identity, "(?s).+").map_err(invalid)?,
        };
        let issuer = match &self.issuer_regexp {
            Some(pattern) => Matcher::regex(PolicyField::Issuer, pattern).map_err(invalid)?,
            None => Matcher::exact(PolicyField::Issuer, self.issuer.clone()).map_err(invalid)?,
        };
        let mut policy = IdentityPolicy::new(identity, issuer);
        for (claim, matcher) in &self.claims {
            policy = policy.require_claim(*claim, matcher.clone());
        }
        // Last, so that no extra claim can replace the publisher's repository.
        Ok(policy.require_claim(
            CiClaim::SourceRepository,
            Matcher::exact(field, self.repository_url()).map_err(invalid)?,
        ))
    }

    /// This policy narrowed by what a provenance object says its publisher was: the
    /// publisher must be of the same kind and repository (and workflow and environment,
    /// where both name one); a workflow or environment only the publisher names is
    /// required too, as `pypi-attestations verify pypi` requires the publisher's.
    pub fn for_publisher(&self, publisher: &Publisher) -> Result<Self, Pep740Error> {
        let mismatch = || Pep740Error::Publisher {
            expected: self.to_string(),
            found: publisher.to_string(),
        };
        let (kind, repository, workflow, environment) = match publisher {
            Publisher::GitHub {
                repository,
                workflow,
                environment,
            } => (PublisherKind::GitHub, repository, workflow, environment),
            Publisher::GitLab {
                repository,
                workflow_filepath,
                environment,
            } => (
                PublisherKind::GitLab,
                repository,
                workflow_filepath,
                environment,
            ),
            Publisher::Google { .. } => return Err(mismatch()),
        };
        if kind != self.kind || *repository != self.repository {
            return Err(mismatch());
        }
        let mut narrowed = self.clone();
        match self.workflow_path() {
            Some(path) if path != workflow_path(kind, workflow) => return Err(mismatch()),
            Some(_) => {}
            None => narrowed.workflow = Some(workflow.clone()),
        }
        match (&self.environment, environment) {
            (Some(expected), Some(found)) if expected != found => return Err(mismatch()),
            _ => {}
        }
        Ok(narrowed)
    }
}

impl std::fmt::Display for TrustedPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} repository {}", self.kind.as_str(), self.repository)?;
        if let Some(w) = &self.workflow {
            write!(f, " (workflow {w})")?;
        }
        if let Some(e) = &self.environment {
            write!(f, " (environment {e})")?;
        }
        Ok(())
    }
}

fn workflow_path(kind: PublisherKind, workflow: &str) -> String {
    let w = workflow.trim_start_matches("./");
    match kind {
        PublisherKind::GitHub if !w.contains('/') => format!(".github/workflows/{w}"),
        _ => w.to_owned(),
    }
}

/// Who must have signed an attestation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Identity {
    /// A trusted publisher (what PyPI records and `pypi-attestations verify pypi` checks).
    Publisher(TrustedPublisher),
    /// Any keyless identity: certificate identity and issuer, with optional CI claims
    /// (what `pypi-attestations verify attestation --identity` checks, and more).
    Keyless(IdentityPolicy),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_urls_name_a_forge_and_a_repository() {
        let p = TrustedPublisher::from_repository_url("https://github.com/o/r.git/").unwrap();
        assert_eq!(p.kind(), PublisherKind::GitHub);
        assert_eq!(p.repository_url(), "https://github.com/o/r");
        assert_eq!(p.issuer(), GITHUB_ACTIONS_ISSUER);
        let p = TrustedPublisher::from_repository_url("https://gitlab.com/g/sub/p").unwrap();
        assert_eq!(
            (p.kind(), p.repository()),
            (PublisherKind::GitLab, "g/sub/p")
        );
        for bad in [
            "http://github.com/o/r",
            "https://example.com/o/r",
            "https://github.com/o",
            "https://github.com/o/r/x",
            "https://github.com//r",
            "github.com/o/r",
        ] {
            let err = TrustedPublisher::from_repository_url(bad).unwrap_err();
            assert_eq!(err.code(), "PEP740_E012", "{bad}");
        }
    }

    #[test]
    fn build_config_follows_each_forge() {
        let gh = TrustedPublisher::from_repository_url("https://github.com/o/r")
            .unwrap()
            .with_workflow("release.yml");
        let path = gh.workflow_path().unwrap();
        assert_eq!(
            gh.build_config(&path, "refs/heads/main"),
            "https://github.com/o/r/.github/workflows/release.yml@refs/heads/main"
        );
        let gl = TrustedPublisher::from_repository_url("https://gitlab.com/g/p")
            .unwrap()
            .with_workflow(".gitlab-ci.yml");
        let path = gl.workflow_path().unwrap();
        assert_eq!(
            gl.build_config(&path, "abc"),
            "https://gitlab.com/g/p//.gitlab-ci.yml@abc"
        );
    }

    #[test]
    fn a_provenance_publisher_must_agree() {
        let p = TrustedPublisher::from_repository_url("https://github.com/o/r").unwrap();
        let publisher = Publisher::GitHub {
            repository: "o/r".into(),
            workflow: "release.yml".into(),
            environment: Some("pypi".into()),
        };
        let narrowed = p.for_publisher(&publisher).unwrap();
        assert_eq!(narrowed.workflow(), Some("release.yml"));
        let same = p
            .clone()
            .with_workflow(".github/workflows/release.yml")
            .for_publisher(&publisher);
        assert!(same.is_ok());
        for policy in [
            p.clone().with_workflow("other.yml"),
            p.clone().with_environment("staging"),
            TrustedPublisher::from_repository_url("https://github.com/o/other").unwrap(),
            TrustedPublisher::from_repository_url("https://gitlab.com/o/r").unwrap(),
        ] {
            let err = policy.for_publisher(&publisher).unwrap_err();
            assert_eq!(err.code(), "PEP740_E011", "{policy}");
        }
    }
}
