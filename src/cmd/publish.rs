//! `vouch publish`: trusted publishing from CI (the work is `vouch_publisher::publish_dir`);
//! `vouch publish register` creates the publisher binding that allows it.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use vouch_publisher::{publish_dir, CiEnv, PublishRequest, TokenSource};

use super::registry_api::{runtime, TermProgress};
use crate::output::{answer, from_publisher, Exit};

/// Publish a package version from CI (or a laptop) with no upload token.
///
/// Reads DIR/vouch.toml (name, version, include/exclude), builds the deterministic
/// archive (sorted tar, mtime 0, fixed owner and mode, zstd: the same bytes on every
/// machine), hashes it, and obtains the CI's OIDC identity token: --identity-token(-file),
/// else GitHub Actions (needs `permissions: id-token: write`), else GitLab CI (an
/// `id_tokens:` entry named SIGSTORE_ID_TOKEN with `aud: sigstore`), else Buildkite
/// (`buildkite-agent oidc request-token`) or CircleCI (`circleci run oidc get`); outside CI,
/// a sign-in at the server's email issuer (an email binding accepts it). A short-lived
/// certificate for a fresh in-memory key signs an in-toto statement (SLSA provenance v1)
/// that the transparency log records; archive and bundle are then uploaded. The registry
/// checks the certificate's identity against the package's publisher binding
/// (`vouch publish register`).
///
/// Errors: PUB_E001 no binding, PUB_E002 no OIDC token (says what is missing), PUB_E003
/// the CA refused the token, PUB_E004 the log is unreachable (there is no offline
/// signing), PUB_E005 the registry could not verify the bundle, PUB_E006 the identity
/// does not match the binding, PUB_E007 the version exists, PUB_E008 key rotation in
/// progress. Exit 1 for PUB_E001/E005/E006 (the registry's checks did not hold), 2 for
/// the rest.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    /// The package directory holding vouch.toml.
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The registry's base URL.
    #[arg(long, env = "VOUCH_SERVER", value_name = "URL", required = true)]
    server: Option<String>,
    /// The OIDC identity token (a JWT). Without it vouch asks the CI (GitHub Actions,
    /// GitLab CI, Buildkite, CircleCI).
    #[arg(
        long,
        env = "VOUCH_IDENTITY_TOKEN",
        hide_env_values = true,
        value_name = "JWT",
        conflicts_with = "identity_token_file"
    )]
    identity_token: Option<String>,
    /// Read the OIDC identity token from this file.
    #[arg(long, value_name = "FILE")]
    identity_token_file: Option<PathBuf>,
    /// GitLab CI: the `id_tokens:` variable holding a token with `aud: sigstore`.
    #[arg(long, value_name = "VAR", default_value = "SIGSTORE_ID_TOKEN")]
    gitlab_token_var: String,
    /// Write the archive here too (it is otherwise built in a temporary directory).
    #[arg(long, value_name = "FILE")]
    archive_out: Option<PathBuf>,
    // Without a token outside CI: sign in (browser or device flow) when stderr is a
    // terminal or one of these flags is given; otherwise PUB_E002.
    #[command(flatten)]
    sign_in: super::sign::SignInArgs,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Register a trusted publisher: the CI workflow (or email identity) allowed to
    /// publish a package. Needs a registry API token of the package's owner.
    Register(super::publish_register::Args),
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if let Some(Sub::Register(r)) = args.sub {
        return super::publish_register::run(r);
    }
    let req = PublishRequest {
        server: args.server.context("--server is required")?,
        dir: args.dir,
        token: TokenSource {
            jwt: args.identity_token,
            file: args.identity_token_file,
            gitlab_token_var: args.gitlab_token_var,
        },
        archive_out: args.archive_out,
        sign_in: (args.sign_in.asked() || std::io::stderr().is_terminal())
            .then(|| args.sign_in.sign_in()),
    };
    let p = runtime()?
        .block_on(publish_dir(
            &req,
            &CiEnv::process(),
            &TermProgress::default(),
        ))
        .map_err(from_publisher)?;
    answer(args.json, &p.to_json(), &p.lines())
}
