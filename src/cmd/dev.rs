//! `vouch dev token`: asks a `vouch serve --dev` server's development OIDC issuer for a GitHub-Actions-shaped identity token.

use std::path::PathBuf;

use clap::Subcommand;
use vouch_api_client::dev::{mint_dev_token, DevTokenRequest};

use crate::output::{outln, print_json, Exit};

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Mint an identity token from the dev issuer of a server started with `--dev`.
    ///
    /// The token is shaped like a GitHub Actions token: `job_workflow_ref` and
    /// `workflow_ref` are `REPOSITORY/WORKFLOW@REF`, so certificates issued for it carry
    /// the identity `https://github.com/REPOSITORY/WORKFLOW@REF`. It is valid for five
    /// minutes and can be exchanged for one certificate (its `jti` is then spent).
    Token(TokenArgs),
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Repository, OWNER/REPO.
    #[arg(long, value_name = "OWNER/REPO")]
    repository: String,
    /// Workflow file path in the repository, e.g. .github/workflows/release.yml.
    #[arg(long, value_name = "PATH")]
    workflow: String,
    /// Git ref, e.g. refs/heads/main or refs/tags/v1.0.0 (a bare name is a branch).
    #[arg(long = "ref", value_name = "REF")]
    git_ref: String,
    /// Deployment environment claim.
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// Audience (default: sigstore).
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    /// Trigger (`event_name` claim; default push).
    #[arg(long, value_name = "EVENT")]
    event_name: Option<String>,
    /// A reusable workflow the job ran, `OWNER/REPO/PATH@REF` (`job_workflow_ref`: the
    /// certificate's SAN and Build Signer); --workflow stays the caller (`workflow_ref`).
    #[arg(long, value_name = "OWNER/REPO/PATH@REF")]
    job_workflow_ref: Option<String>,
    /// PEM certificate to trust for an https server with a private certificate.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Print one JSON object: token, identity, issuer, expires_at.
    #[arg(long)]
    json: bool,
}

pub fn run(sub: Sub) -> anyhow::Result<Exit> {
    let Sub::Token(a) = sub;
    let req = DevTokenRequest {
        repository: a.repository,
        workflow: a.workflow,
        git_ref: a.git_ref,
        environment: a.environment,
        audience: a.audience,
        event_name: a.event_name,
        job_workflow_ref: a.job_workflow_ref,
    };
    let t = mint_dev_token(&a.server, a.tls_ca.as_deref(), &req)?;
    if a.json {
        print_json(&serde_json::to_value(&t)?)?;
    } else {
        outln!("{}", t.token)?;
    }
    Ok(Exit::Ok)
}
