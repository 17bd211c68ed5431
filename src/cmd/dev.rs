//! `vouch dev token`: asks a `vouch serve --dev` server's development OIDC issuer for a GitHub-Actions-shaped identity token.

use std::path::PathBuf;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::Subcommand;

use crate::output::{error_chain, outln, print_json, CodedError, Exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
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
    /// PEM certificate to trust for an https server with a private certificate.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Print one JSON object: token, identity, issuer, expires_at.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    match args.sub {
        Sub::Token(a) => token(a),
    }
}

/// A blocking HTTP client trusting `tls_ca` (if given) besides the platform roots.
pub fn http_client(
    tls_ca: Option<&PathBuf>,
    code: &'static str,
) -> anyhow::Result<reqwest::blocking::Client> {
    let mut b = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = tls_ca {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            CodedError::new(
                code,
                Exit::Error,
                format!("{}: not a PEM certificate: {e}", path.display()),
            )
        })?;
        b = b.add_root_certificate(cert);
    }
    b.build().context("building the HTTP client")
}

/// `code` and `detail` of a coded JSON error body, if it is one.
pub fn server_error(body: &str) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some((
        v["code"].as_str()?.to_owned(),
        v["detail"].as_str().unwrap_or("").to_owned(),
    ))
}

fn token(a: TokenArgs) -> anyhow::Result<Exit> {
    let base = a.server.trim_end_matches('/');
    let client = http_client(a.tls_ca.as_ref(), "DEV_E002")?;
    let body = serde_json::json!({
        "repository": a.repository,
        "workflow": a.workflow,
        "ref": a.git_ref,
        "environment": a.environment,
        "audience": a.audience,
        "event_name": a.event_name,
    });
    let url = format!("{base}/oidc/dev/token");
    let resp = client.post(&url).json(&body).send().map_err(|e| {
        CodedError::new(
            "DEV_E002",
            Exit::Error,
            format!(
                "cannot reach {url}: {} (is `vouch serve --dev` running there?)",
                error_chain(&e)
            ),
        )
    })?;
    let status = resp.status();
    let text = String::from_utf8_lossy(&super::registry_api::read_capped_blocking(
        resp,
        super::registry_api::caps::ERROR_BODY,
        "minting a dev token",
    )?)
    .into_owned();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(CodedError::new(
            "DEV_E001",
            Exit::Error,
            format!(
                "the server at {base} has no development OIDC issuer: the server must run with \
                 `vouch serve --dev` (dev tokens exist only there)"
            ),
        )
        .into());
    }
    if !status.is_success() {
        let why = match server_error(&text) {
            Some((code, detail)) => format!("{code}: {detail}"),
            None => text.chars().take(300).collect(),
        };
        return Err(CodedError::new(
            "DEV_E003",
            Exit::Error,
            format!("the dev issuer refused the request (HTTP {status}): {why}"),
        )
        .into());
    }
    let token = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            CodedError::new(
                "DEV_E003",
                Exit::Error,
                "the server's answer has no `token`",
            )
        })?;
    if a.json {
        let claims = token
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .unwrap_or_default();
        let identity = claims["job_workflow_ref"]
            .as_str()
            .map(|r| format!("https://github.com/{r}"));
        print_json(&serde_json::json!({
            "token": token,
            "identity": identity,
            "issuer": claims["iss"],
            "expires_at": claims["exp"],
        }))?;
    } else {
        outln!("{token}")?;
    }
    Ok(Exit::Ok)
}
