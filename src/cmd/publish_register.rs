//! `vouch publish register`: creates a trusted-publisher binding with an owner's registry
//! API token (the work is `vouch_publisher::register`) and prints it as the registry
//! stored it.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser as _};

use vouch_publisher::{register, Provider, Registration};

use super::registry_api::runtime;
use crate::output::{answer, Exit};

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
    #[arg(long, value_parser = PossibleValuesParser::new(Provider::ALL.map(Provider::as_str))
        .try_map(|name| name.parse::<Provider>()))]
    provider: Provider,
    /// The repository, `OWNER/REPO` (not for --provider email).
    #[arg(long, value_name = "OWNER/REPO", required_unless_present = "email")]
    repo: Option<String>,
    /// The workflow file allowed to publish, e.g. `.github/workflows/release.yml`.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["email", "signer_workflow"])]
    workflow: Option<String>,
    /// A reusable workflow allowed to publish, `OWNER/REPO/PATH` (GitHub, Forgejo): the
    /// certificate's Build Signer (job_workflow_ref) must name it, at any ref; with
    /// --workflow, only when called from that workflow (its workflow_ref).
    #[arg(long, value_name = "OWNER/REPO/PATH")]
    signer_workflow: Option<String>,
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

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let reg = Registration {
        server: args.server,
        api_token: args.token,
        api_token_file: args.token_file,
        package: args.package,
        provider: args.provider,
        repository: args.repo,
        workflow: args.workflow,
        signer_workflow: args.signer_workflow,
        environment: args.environment,
        email: args.email,
    };
    let r = runtime()?.block_on(register(&reg))?;
    answer(args.json, &r.answer, &r.lines())
}
