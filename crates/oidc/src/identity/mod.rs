//! Mapping verified claims to a certificate identity the way Fulcio does: a SAN, the issuer
//! extensions and the CI extensions of Sigstore's OID arc 1.3.6.1.4.1.57264.1 (Fulcio's
//! `docs/oid-info.md` and `config/identity/config.yaml`), plus the claims a trusted-publishing
//! binding is checked against.

mod ci;
mod oids;

pub use oids::{Extension, ExtensionEncoding, FulcioExtension};

use serde_json::{Map, Value};

use crate::config::Provider;
use crate::error::OidcError;

/// The certificate's subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum San {
    /// A URI SAN (CI workload identities).
    Uri(String),
    /// An rfc822Name SAN (verified email identities).
    Email(String),
}

impl San {
    /// The SAN's value, whatever its kind.
    pub fn value(&self) -> &str {
        match self {
            San::Uri(v) | San::Email(v) => v,
        }
    }
}

/// What a certificate for this token must say: SAN, issuer and Fulcio extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// Subject alternative name.
    pub san: San,
    /// The token's `iss`.
    pub issuer: String,
    /// Extensions in the order Fulcio renders them; empty values are omitted, as Fulcio does.
    /// The issuer appears twice: 1.1 (deprecated, raw) and 1.8 (UTF8String).
    pub extensions: Vec<Extension>,
}

impl CertificateIdentity {
    /// The value of one extension, if present.
    pub fn extension(&self, kind: FulcioExtension) -> Option<&str> {
        self.extensions
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| e.value.as_str())
    }
}

/// The claims a trusted-publishing binding is checked against, normalised across providers.
/// `None` where the provider has no equivalent; see [`map`] for each provider's sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BindingClaims {
    /// `sub`.
    pub subject: String,
    /// `OWNER/REPO` (GitHub, Forgejo), `project_path` (GitLab), `ORG/PIPELINE` (Buildkite).
    pub repository: Option<String>,
    /// Immutable repository id (`repository_id`, GitLab `project_id`).
    pub repository_id: Option<String>,
    /// `repository_owner` (GitLab `namespace_path`, Buildkite `organization_slug`).
    pub repository_owner: Option<String>,
    /// Immutable owner id (`repository_owner_id`, GitLab `namespace_id`).
    pub repository_owner_id: Option<String>,
    /// Top-level workflow, `OWNER/REPO/PATH@REF` (GitLab `ci_config_ref_uri`).
    pub workflow_ref: Option<String>,
    /// Workflow that ran the job, possibly reusable (GitLab `ci_config_ref_uri`).
    pub job_workflow_ref: Option<String>,
    /// Deployment environment, when the job has one.
    pub environment: Option<String>,
    /// Trigger (`event_name`, GitLab `pipeline_source`, Buildkite `build_source`).
    pub event_name: Option<String>,
    /// Full git ref, `refs/heads/…` or `refs/tags/…` (CircleCI `vcs-ref`).
    pub git_ref: Option<String>,
}

/// Maps a verified token's claims to the certificate identity and binding claims for the
/// issuer's provider. Claims Fulcio's templates need are required (OIDC_E023 when absent);
/// `environment` is optional everywhere.
///
/// Provider rules (Fulcio's `config/identity/config.yaml`):
/// - GitHub Actions: SAN `{server}/{job_workflow_ref}`; 1.2–1.6 and 1.9–1.23 from
///   `event_name`, `sha`, `workflow`, `repository`, `ref`, `job_workflow_sha`,
///   `runner_environment`, `repository_id`, `repository_owner(_id)`, `workflow_ref`,
///   `workflow_sha`, `run_id`, `run_attempt`, `repository_visibility`, `environment`.
/// - Forgejo Actions (not in Fulcio): GitHub's claim names under the instance URL; only
///   `job_workflow_ref` (or `workflow_ref`), `repository`, `ref` and `sha` are required.
/// - GitLab CI: SAN `https://{ci_config_ref_uri}`; ref `refs/heads|tags/{ref}` by `ref_type`.
/// - Buildkite: SAN `https://buildkite.com/{organization_slug}/{pipeline_slug}`.
/// - CircleCI: SAN `{api}/projects/{project-id}/pipeline-definitions/{pipeline-definition-id}`.
/// - Email: rfc822Name SAN from `email`, only when `email_verified` is the JSON `true`.
pub fn map(
    provider: &Provider,
    issuer: &str,
    claims: &Map<String, Value>,
) -> Result<(CertificateIdentity, BindingClaims), OidcError> {
    let reader = ClaimReader {
        provider: provider.name(),
        claims,
    };
    let mut ext = Extensions::with_issuer(issuer);
    let (san, binding) = match provider {
        Provider::GitHubActions { server_url } => ci::github(&reader, server_url, &mut ext)?,
        Provider::ForgejoActions { server_url } => ci::forgejo(&reader, server_url, &mut ext)?,
        Provider::GitLabCi { server_url } => ci::gitlab(&reader, server_url, &mut ext)?,
        Provider::Buildkite => ci::buildkite(&reader, &mut ext)?,
        Provider::CircleCi => ci::circleci(&reader, &mut ext)?,
        Provider::Email => email(&reader)?,
    };
    let mut binding = binding;
    binding.subject = reader.opt("sub").unwrap_or_default();
    let mut extensions = ext.0;
    // Fulcio renders in OID order (1.1–1.6, then 1.8 onwards); the sort is stable.
    extensions.sort_by_key(|e| e.kind.arc());
    let identity = CertificateIdentity {
        san,
        issuer: issuer.to_owned(),
        extensions,
    };
    Ok((identity, binding))
}

fn email(reader: &ClaimReader<'_>) -> Result<(San, BindingClaims), OidcError> {
    // Fulcio's email principal: the address counts only when the issuer says it is verified,
    // and only a JSON boolean says so.
    if reader.claims.get("email_verified") != Some(&Value::Bool(true)) {
        return Err(OidcError::EmailNotVerified);
    }
    let address = reader.req_nonempty("email")?;
    if !address.contains('@') {
        return Err(reader.bad("email"));
    }
    Ok((San::Email(address), BindingClaims::default()))
}

/// Reads claims as strings for one provider, reporting absences as OIDC_E023.
pub(crate) struct ClaimReader<'a> {
    pub provider: &'static str,
    pub claims: &'a Map<String, Value>,
}

impl ClaimReader<'_> {
    /// A claim as a string: strings as-is, integers and booleans in their JSON spelling.
    /// Objects, arrays, null and fractional numbers have no string form and count as absent.
    pub fn opt(&self, name: &str) -> Option<String> {
        match self.claims.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        }
    }

    /// A claim that must be present (it may be empty; an empty value omits its extension).
    pub fn req(&self, name: &str) -> Result<String, OidcError> {
        self.opt(name).ok_or_else(|| self.bad(name))
    }

    /// A claim that must be present and non-empty (it forms part of the SAN).
    pub fn req_nonempty(&self, name: &str) -> Result<String, OidcError> {
        self.opt(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| self.bad(name))
    }

    pub fn bad(&self, name: &str) -> OidcError {
        OidcError::IdentityClaim {
            provider: self.provider,
            claim: name.to_owned(),
        }
    }
}

/// Extensions in rendering order; empty values are dropped (Fulcio's `Render`).
pub(crate) struct Extensions(Vec<Extension>);

impl Extensions {
    fn with_issuer(issuer: &str) -> Self {
        let mut ext = Extensions(Vec::new());
        ext.push(FulcioExtension::Issuer, issuer.to_owned());
        ext.push(FulcioExtension::IssuerV2, issuer.to_owned());
        ext
    }

    pub fn push(&mut self, kind: FulcioExtension, value: String) {
        if !value.is_empty() {
            self.0.push(Extension { kind, value });
        }
    }
}

/// Checks that a SAN URI parses as an absolute URI, as Fulcio's `url.Parse` does.
pub(crate) fn uri_san(
    reader: &ClaimReader<'_>,
    value: String,
    claim: &str,
) -> Result<San, OidcError> {
    match url::Url::parse(&value) {
        Ok(_) => Ok(San::Uri(value)),
        Err(_) => Err(reader.bad(claim)),
    }
}
