//! Trusted-publisher bindings: the registry call that lets a CI workflow (or a person's
//! email identity) publish a package with no upload token.

use std::path::PathBuf;

use serde_json::{json, Value};
use vouch_api_client::{
    api_error, base_url, caps, read_json_capped, unreachable, CodedError, Result,
};

/// The identity provider a CI (or a person) signs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Github,
    Gitlab,
    Buildkite,
    Circleci,
    Forgejo,
    Email,
}

impl Provider {
    /// Every provider, in the order a help text lists them.
    pub const ALL: [Provider; 6] = [
        Provider::Github,
        Provider::Gitlab,
        Provider::Buildkite,
        Provider::Circleci,
        Provider::Forgejo,
        Provider::Email,
    ];

    /// The provider's name in the registry's API.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Buildkite => "buildkite",
            Provider::Circleci => "circleci",
            Provider::Forgejo => "forgejo",
            Provider::Email => "email",
        }
    }
}

impl std::str::FromStr for Provider {
    type Err = String;

    /// A provider by its name in the registry's API.
    fn from_str(name: &str) -> Result<Self, String> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| format!("unknown provider {name:?}"))
    }
}

/// A binding to register.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The registry's base URL.
    pub server: String,
    /// An owner's registry API token, or a file holding it.
    pub api_token: Option<String>,
    pub api_token_file: Option<PathBuf>,
    /// The package, `@scope/name`.
    pub package: String,
    pub provider: Provider,
    /// `OWNER/REPO` and the workflow file (not for [`Provider::Email`]).
    pub repository: Option<String>,
    pub workflow: Option<String>,
    /// A reusable workflow, `OWNER/REPO/PATH` (GitHub, Forgejo): the certificate's Build
    /// Signer URI must name it; `workflow`, then optional, is the calling workflow.
    pub signer_workflow: Option<String>,
    /// Only this deployment environment may publish.
    pub environment: Option<String>,
    /// The email identity ([`Provider::Email`]).
    pub email: Option<String>,
}

/// A binding as the registry stored it: a GitHub workflow given as `release.yml` is
/// stored as `.github/workflows/release.yml`, and this says so.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: Option<u64>,
    pub package: String,
    /// The package does not exist yet: the first publish through the binding creates it.
    pub pending: bool,
    pub provider: String,
    pub repository: Option<String>,
    pub workflow: Option<String>,
    pub environment: Option<String>,
    pub email: Option<String>,
    /// The registry's whole answer.
    pub answer: Value,
}

impl Registered {
    /// Who may publish, as stored: `OWNER/REPO WORKFLOW`, or the email address.
    pub fn who(&self) -> String {
        match (&self.email, &self.repository, &self.workflow) {
            (Some(e), _, _) => e.clone(),
            (None, Some(r), Some(w)) => format!("{r} {w}"),
            (None, Some(r), None) => r.clone(),
            _ => String::new(),
        }
    }
}

fn usage(msg: impl Into<String>) -> CodedError {
    CodedError::error(vouch_api_client::codes::REG_USAGE, msg)
}

/// Registers `reg`'s binding (`POST /api/v1/publishers`) and returns what the registry
/// stored. REG_E007 for a missing token or flags that do not fit the provider; the
/// registry's refusals pass through with their codes.
pub async fn register(reg: &Registration) -> Result<Registered> {
    let base = base_url(&reg.server)?;
    let token = match (&reg.api_token, &reg.api_token_file) {
        (Some(t), _) => t.trim().to_owned(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| usage(format!("cannot read --token-file {}: {e}", f.display())))?
            .trim()
            .to_owned(),
        (None, None) => {
            return Err(usage(
                "an owner API token is required: --token, --token-file or VOUCH_TOKEN",
            ))
        }
    };
    let is_email = reg.provider == Provider::Email;
    if is_email && reg.email.is_none() {
        return Err(usage("--provider email needs --email ADDR"));
    }
    if !is_email
        && (reg.repository.is_none() || (reg.workflow.is_none() && reg.signer_workflow.is_none()))
    {
        return Err(usage(format!(
            "--provider {} needs --repo OWNER/REPO and --workflow FILE",
            reg.provider.as_str()
        )));
    }
    let body = json!({
        "package": reg.package,
        "provider": reg.provider.as_str(),
        "repository": reg.repository,
        "workflow": reg.workflow,
        "signer_workflow": reg.signer_workflow,
        "environment": reg.environment,
        "email": reg.email,
    });
    let url = format!("{base}/api/v1/publishers");
    let resp = vouch_api_client::http()?
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .map_err(|e| unreachable("registering the publisher", &url, &e))?;
    if !resp.status().is_success() {
        return Err(api_error("registering the publisher", resp).await);
    }
    let answer =
        read_json_capped(resp, caps::API_ANSWER, "reading the registration answer").await?;
    Ok(registered(reg, answer))
}

/// The stored binding from the registry's answer; a field the answer lacks is taken
/// from the request.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
fn registered(reg: &Registration, answer: Value) -> Registered {
    let text = |k: &str, asked: &Option<String>| match answer.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) => None,
        _ => asked.clone(),
    };
    Registered {
        id: answer["id"].as_u64(),
        package: text("package", &None).unwrap_or_else(|| reg.package.clone()),
        pending: answer["pending"] == true,
        provider: text("provider", &None).unwrap_or_else(|| reg.provider.as_str().to_owned()),
        repository: text("repository", &reg.repository),
        workflow: text("workflow", &reg.workflow),
        environment: text("environment", &reg.environment),
        email: text("email", &reg.email),
        answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(workflow: &str) -> Registration {
        Registration {
            server: "http://127.0.0.1:1".into(),
            api_token: Some("t".into()),
            api_token_file: None,
            package: "@acme/widget".into(),
            provider: Provider::Github,
            repository: Some("acme/widget".into()),
            workflow: Some(workflow.into()),
            signer_workflow: None,
            environment: None,
            email: None,
        }
    }

    /// Regression (issue 15, item 7): `publish register --workflow release.yml` printed
    /// `release.yml` while the registry stored `.github/workflows/release.yml`.
    #[test]
    fn the_stored_workflow_is_reported_not_the_one_asked_for() {
        let answer = json!({"id": 3, "package": "@acme/widget", "pending": true,
            "provider": "github", "repository": "acme/widget",
            "workflow": ".github/workflows/release.yml", "environment": null, "email": null});
        let r = registered(&github("release.yml"), answer);
        assert_eq!(r.workflow.as_deref(), Some(".github/workflows/release.yml"));
        assert_eq!(r.who(), "acme/widget .github/workflows/release.yml");
        assert_eq!((r.id, r.pending), (Some(3), true));
    }

    #[test]
    fn providers_round_trip_through_their_names() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        assert!("GitHub".parse::<Provider>().is_err());
    }

    #[test]
    fn flags_that_do_not_fit_the_provider_are_reg_e007() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut reg = github("release.yml");
        reg.workflow = None;
        assert_eq!(rt.block_on(register(&reg)).unwrap_err().code(), "REG_E007");
        let mut reg = github("release.yml");
        reg.provider = Provider::Email;
        assert_eq!(rt.block_on(register(&reg)).unwrap_err().code(), "REG_E007");
        let mut reg = github("release.yml");
        reg.api_token = None;
        assert_eq!(rt.block_on(register(&reg)).unwrap_err().code(), "REG_E007");
        // Everything in order: the (closed) port is REG_E001.
        assert_eq!(
            rt.block_on(register(&github("release.yml")))
                .unwrap_err()
                .code(),
            "REG_E001"
        );
    }
}
