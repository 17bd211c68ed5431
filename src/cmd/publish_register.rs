//! `vouch publish register`: creates a trusted-publisher binding (package, provider,
//! repository, workflow, optional environment, or an email identity) with an owner's
//! registry API token.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use super::registry_api::{api_error, base_url, http, runtime, unreachable};
use crate::output::{print_json, CodedError, Exit};

/// Register a trusted publisher for a package: which CI workflow (or which person's
/// email identity) may publish it with no upload token.
///
/// If the package does not exist yet the binding is pending, and the first publish
/// through it creates the package, owned by you. The registry matches the calling
/// workflow exactly, compares repository and environment case-insensitively, pins the
/// repository owner's numeric id on first use, and refuses pull_request_target and
/// workflow_run events.
///
/// Authenticate with an API token (`vouch_...`): --token, --token-file or VOUCH_TOKEN.
/// `vouch serve --dev` writes its owner token to DATA/owner.token.
///
/// Example: vouch publish register --server https://registry.example --token-file
/// ~/.vouch-token --package @acme/widget --provider github --repo acme/widget
/// --workflow .github/workflows/release.yml --environment release
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The registry's base URL.
    #[arg(long, env = "VOUCH_SERVER", value_name = "URL")]
    server: String,
    /// A registry API token of the package's owner.
    #[arg(
        long,
        env = "VOUCH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// Read the API token from this file.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The package, `@scope/name`.
    #[arg(long, value_name = "@SCOPE/NAME")]
    package: String,
    /// The identity provider the CI (or person) signs in with.
    #[arg(long, value_enum)]
    provider: Provider,
    /// The repository, `OWNER/REPO` (not for --provider email).
    #[arg(long, value_name = "OWNER/REPO", required_unless_present = "email")]
    repo: Option<String>,
    /// The workflow file allowed to publish, e.g. `.github/workflows/release.yml`.
    #[arg(long, value_name = "FILE", required_unless_present = "email")]
    workflow: Option<String>,
    /// Only this deployment environment may publish (compared case-insensitively).
    #[arg(long, value_name = "ENV")]
    environment: Option<String>,
    /// The email identity allowed to publish (--provider email).
    #[arg(long, value_name = "ADDR")]
    email: Option<String>,
    /// Print the registry's answer as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Provider {
    Github,
    Gitlab,
    Buildkite,
    Circleci,
    Forgejo,
    Email,
}

impl Provider {
    fn as_str(self) -> &'static str {
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

fn usage(msg: impl Into<String>) -> anyhow::Error {
    CodedError::new("REG_E007", Exit::Error, msg).into()
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let base = base_url(&args.server)?;
    let token = match (&args.token, &args.token_file) {
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
    let is_email = matches!(args.provider, Provider::Email);
    if is_email && args.email.is_none() {
        return Err(usage("--provider email needs --email ADDR"));
    }
    if !is_email && (args.repo.is_none() || args.workflow.is_none()) {
        return Err(usage(format!(
            "--provider {} needs --repo OWNER/REPO and --workflow FILE",
            args.provider.as_str()
        )));
    }
    let body = json!({
        "package": args.package,
        "provider": args.provider.as_str(),
        "repository": args.repo,
        "workflow": args.workflow,
        "environment": args.environment,
        "email": args.email,
    });
    let url = format!("{base}/api/v1/publishers");
    let rt = runtime()?;
    let answer: serde_json::Value = rt.block_on(async {
        let resp = http()?
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable("registering the publisher", &url, &e))?;
        if !resp.status().is_success() {
            return Err(api_error("registering the publisher", resp).await);
        }
        super::registry_api::read_json_capped(
            resp,
            super::registry_api::caps::API_ANSWER,
            "reading the registration answer",
        )
        .await
    })?;
    if args.json {
        print_json(&answer)?;
    } else {
        let mut o = std::io::stdout().lock();
        let who = match (&args.repo, &args.workflow, &args.email) {
            (_, _, Some(e)) if is_email => e.clone(),
            (Some(r), Some(w), _) => format!("{r} {w}"),
            _ => String::new(),
        };
        writeln!(
            o,
            "registered publisher #{} for {}: {} {who}{}",
            answer["id"],
            args.package,
            args.provider.as_str(),
            args.environment
                .as_deref()
                .map(|e| format!(" (environment {e})"))
                .unwrap_or_default()
        )?;
        if answer["pending"] == true {
            writeln!(
                o,
                "  pending: the package does not exist yet; the first publish through this binding creates it"
            )?;
        }
    }
    Ok(Exit::Ok)
}
