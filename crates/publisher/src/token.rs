//! The CI's OIDC identity token: from a flag, a file, GitHub Actions' token endpoint,
//! GitLab CI's `id_tokens:` variable, or the Buildkite or CircleCI agent, and its
//! (unverified) claims.
//!
//! The claims are read without verifying the token's signature: they only fill in the
//! provenance text. The certificate authority verifies the token, and the registry
//! checks the certificate, so nothing here is trusted by anyone.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::Value;
use vouch_api_client::{caps, read_json_capped, CodedError};

/// Answers a variable's value.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;
/// Runs a CI agent's command and returns its standard output, or says why it failed.
type Runner = Box<dyn Fn(&str, &[&str]) -> Result<String, String> + Send + Sync>;

/// The environment a CI job runs in: its variables, and the agent commands that hand
/// out identity tokens (`buildkite-agent`, `circleci`). Both are explicit inputs, so a
/// test (or an embedding tool) supplies them without touching the process.
pub struct CiEnv {
    lookup: Lookup,
    run: Runner,
}

impl CiEnv {
    /// The process environment, and commands run from the `PATH`.
    pub fn process() -> Self {
        Self::from_fn(|name| std::env::var(name).ok()).with_runner(run_command)
    }

    /// Variables answered by `lookup`; no command can be run.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Box::new(lookup),
            run: Box::new(|program, _| Err(format!("{program} cannot be run here"))),
        }
    }

    /// Exactly these variables, nothing else.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars: std::collections::HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_fn(move |name| vars.get(name).cloned())
    }

    /// Agent commands run by `run(program, args)`, which returns standard output.
    pub fn with_runner(
        mut self,
        run: impl Fn(&str, &[&str]) -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.run = Box::new(run);
        self
    }

    /// A variable's value, unless it is unset or blank.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }
}

/// Runs `program args` with no standard input; its standard output on exit status 0.
fn run_command(program: &str, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{program} exited with {}: {}",
            out.status,
            err.trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{program} printed a non-UTF-8 token"))
}

impl std::fmt::Debug for CiEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CiEnv(..)")
    }
}

/// Where the identity token comes from, in the order tried: `jwt`, then `file`, then
/// the CI environment.
#[derive(Debug, Clone)]
pub struct TokenSource {
    /// The token itself (`--identity-token`).
    pub jwt: Option<String>,
    /// A file holding it (`--identity-token-file`).
    pub file: Option<PathBuf>,
    /// GitLab CI: the `id_tokens:` variable holding a token with `aud: sigstore`.
    pub gitlab_token_var: String,
}

impl Default for TokenSource {
    fn default() -> Self {
        Self {
            jwt: None,
            file: None,
            gitlab_token_var: "SIGSTORE_ID_TOKEN".into(),
        }
    }
}

/// An identity token and its (unverified) claims.
#[derive(Debug, Clone)]
pub struct Token {
    pub jwt: String,
    pub claims: Value,
    /// Where the token came from: `flag`, `file`, `github-actions`, `gitlab-ci`,
    /// `buildkite`, `circleci`.
    pub source: &'static str,
    /// The forge's base URL for the provenance text (`GITHUB_SERVER_URL` or
    /// `CI_SERVER_URL` of the job; github.com or gitlab.com without them).
    pub(crate) github_server: Option<String>,
    pub(crate) gitlab_server: Option<String>,
}

fn no_token(msg: impl Into<String>) -> CodedError {
    CodedError::error(vouch_package::publish_codes::TOKEN_UNUSABLE, msg)
}

/// The token's payload claims, or PUB_E002 naming what is wrong with it.
pub(crate) fn claims_of(jwt: &str) -> Result<Value, CodedError> {
    let payload = jwt
        .trim()
        .split('.')
        .nth(1)
        .ok_or_else(|| no_token("the identity token is not a JWT (no payload part)"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| {
            no_token(format!(
                "the identity token's payload is not base64url: {e}"
            ))
        })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| no_token(format!("the identity token's payload is not JSON: {e}")))
}

/// The command that prints a Buildkite job's OIDC token for Sigstore.
const BUILDKITE_TOKEN: [&str; 4] = ["oidc", "request-token", "--audience", "sigstore"];
/// The command that prints a CircleCI job's OIDC token for Sigstore (as sigstore-python).
const CIRCLECI_TOKEN: [&str; 5] = ["run", "oidc", "get", "--claims", r#"{"aud":"sigstore"}"#];

/// Obtains the identity token: flag, file, GitHub Actions, GitLab CI, Buildkite,
/// CircleCI, in that order. PUB_E002 names what is missing.
pub async fn identity_token(
    src: &TokenSource,
    env: &CiEnv,
    http: &reqwest::Client,
) -> Result<Token, CodedError> {
    let (jwt, source) = if let Some(t) = &src.jwt {
        (t.trim().to_owned(), "flag")
    } else if let Some(f) = &src.file {
        let t = std::fs::read_to_string(f).map_err(|e| {
            no_token(format!(
                "cannot read --identity-token-file {}: {e}",
                f.display()
            ))
        })?;
        (t.trim().to_owned(), "file")
    } else if let (Some(url), Some(bearer)) = (
        env.var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env.var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (github_token(http, &url, &bearer).await?, "github-actions")
    } else if env.var("GITHUB_ACTIONS").as_deref() == Some("true") {
        return Err(no_token(
            "running in GitHub Actions without ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN: \
             the workflow (or job) needs `permissions: id-token: write`",
        ));
    } else if let Some(t) = env.var(&src.gitlab_token_var) {
        (t.trim().to_owned(), "gitlab-ci")
    } else if env.var("GITLAB_CI").as_deref() == Some("true") {
        return Err(no_token(format!(
            "running in GitLab CI without ${}: add `id_tokens: {}: aud: sigstore` to the job",
            src.gitlab_token_var, src.gitlab_token_var
        )));
    } else if env.var("BUILDKITE").as_deref() == Some("true") {
        (
            agent_token(env, "buildkite-agent", &BUILDKITE_TOKEN)?,
            "buildkite",
        )
    } else if env.var("CIRCLECI").as_deref() == Some("true") {
        (agent_token(env, "circleci", &CIRCLECI_TOKEN)?, "circleci")
    } else {
        return Err(no_token(
            "no OIDC identity token: not in GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL unset), \
             GitLab CI (SIGSTORE_ID_TOKEN unset), Buildkite or CircleCI; pass --identity-token \
             or --identity-token-file, or sign in (--device, or run on a terminal)",
        ));
    };
    Token::from_jwt(&jwt, source, env)
}

/// A token printed by the CI agent's command (Buildkite, CircleCI).
fn agent_token(env: &CiEnv, program: &str, args: &[&str]) -> Result<String, CodedError> {
    let shown = format!("{program} {}", args.join(" "));
    let out = (env.run)(program, args)
        .map_err(|e| no_token(format!("`{shown}` gave no identity token: {e}")))?;
    let jwt = out.trim();
    if jwt.is_empty() {
        return Err(no_token(format!("`{shown}` printed no identity token")));
    }
    Ok(jwt.to_owned())
}

/// GitHub Actions' token endpoint: GET the request URL with `audience=sigstore` and the
/// request token as bearer; the answer is `{"value": JWT}`.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
async fn github_token(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
) -> Result<String, CodedError> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience=sigstore");
    let resp = http
        .get(&full)
        .bearer_auth(bearer)
        .send()
        .await
        .map_err(|e| {
            no_token(format!(
                "GitHub Actions' token endpoint is unreachable: {e}"
            ))
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(no_token(format!(
            "GitHub Actions' token endpoint answered {status}: does the job have `permissions: id-token: write`?"
        )));
    }
    let v = read_json_capped(
        resp,
        caps::ERROR_BODY,
        "reading GitHub Actions' token answer",
    )
    .await
    .map_err(|e| no_token(format!("GitHub Actions' token endpoint: {e}")))?;
    v["value"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| no_token("GitHub Actions' token endpoint sent no `value`"))
}

impl Token {
    /// A token given directly (its claims read for the provenance text; the forge's URL
    /// from `env`).
    pub fn from_jwt(jwt: &str, source: &'static str, env: &CiEnv) -> Result<Self, CodedError> {
        Ok(Token {
            jwt: jwt.trim().to_owned(),
            claims: claims_of(jwt)?,
            source,
            github_server: env.var("GITHUB_SERVER_URL"),
            gitlab_server: env.var("CI_SERVER_URL"),
        })
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
    )]
    pub(crate) fn claim(&self, key: &str) -> Option<&str> {
        self.claims[key].as_str().filter(|s| !s.is_empty())
    }

    /// The identity the CA will most likely certify, for messages only.
    pub fn subject_hint(&self) -> String {
        if let Some(w) = self.claim("job_workflow_ref") {
            return format!("https://github.com/{w}");
        }
        self.claim("email")
            .or_else(|| self.claim("sub"))
            .unwrap_or("unknown")
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("e30.{}.c2ln", b64.encode(claims))
    }

    fn acquire(src: &TokenSource, env: CiEnv) -> Result<Token, CodedError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(identity_token(src, &env, &reqwest::Client::new()))
    }

    #[test]
    fn no_token_anywhere_is_pub_e002() {
        assert!(claims_of("not-a-jwt").is_err());
        assert_eq!(claims_of("a.!!!.c").unwrap_err().code(), "PUB_E002");
        let e = acquire(&TokenSource::default(), CiEnv::from_pairs::<&str, &str>([])).unwrap_err();
        assert_eq!(e.code(), "PUB_E002");
        assert!(e.message.contains("--identity-token"), "{e}");
    }

    #[test]
    fn github_actions_without_id_token_permission_is_pub_e002() {
        let e = acquire(
            &TokenSource::default(),
            CiEnv::from_pairs([("GITHUB_ACTIONS", "true")]),
        )
        .unwrap_err();
        assert_eq!(e.code(), "PUB_E002");
        assert!(e.message.contains("id-token: write"), "{e}");
    }

    #[test]
    fn gitlab_ci_token_comes_from_the_named_variable() {
        let env = CiEnv::from_pairs([
            ("GITLAB_CI", "true"),
            ("MY_TOKEN", &*jwt(r#"{"project_path":"g/p"}"#)),
            ("CI_SERVER_URL", "https://gitlab.example"),
        ]);
        let src = TokenSource {
            gitlab_token_var: "MY_TOKEN".into(),
            ..TokenSource::default()
        };
        let t = acquire(&src, env).unwrap();
        assert_eq!(t.source, "gitlab-ci");
        assert_eq!(t.claims["project_path"], "g/p");
        assert_eq!(t.gitlab_server.as_deref(), Some("https://gitlab.example"));
        // In GitLab CI without the variable: PUB_E002 names it.
        let e = acquire(&src, CiEnv::from_pairs([("GITLAB_CI", "true")])).unwrap_err();
        assert_eq!(e.code(), "PUB_E002");
        assert!(e.message.contains("$MY_TOKEN"), "{e}");
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let src = TokenSource {
            jwt: Some(format!(" {} ", jwt(r#"{"sub":"me"}"#))),
            ..TokenSource::default()
        };
        let t = acquire(&src, CiEnv::from_pairs([("GITLAB_CI", "true")])).unwrap();
        assert_eq!((t.source, t.subject_hint().as_str()), ("flag", "me"));
    }

    #[test]
    fn buildkite_and_circleci_tokens_come_from_their_agents() {
        let token = jwt(r#"{"iss":"https://agent.buildkite.com","sub":"org:acme"}"#);
        let printed = format!("{token}\n");
        let runner = move |program: &str, args: &[&str]| match (program, args) {
            ("buildkite-agent", ["oidc", "request-token", "--audience", "sigstore"]) => {
                Ok(printed.clone())
            }
            ("circleci", ["run", "oidc", "get", "--claims", r#"{"aud":"sigstore"}"#]) => {
                Ok(printed.clone())
            }
            other => Err(format!("unexpected command {other:?}")),
        };
        let runner = std::sync::Arc::new(runner);
        for (var, source) in [("BUILDKITE", "buildkite"), ("CIRCLECI", "circleci")] {
            let r = std::sync::Arc::clone(&runner);
            let env = CiEnv::from_pairs([(var, "true")]).with_runner(move |p, a| r(p, a));
            let t = acquire(&TokenSource::default(), env).unwrap();
            assert_eq!((t.source, t.jwt.as_str()), (source, token.as_str()));
        }
        // An agent that fails: PUB_E002 with the command and its error.
        let env = CiEnv::from_pairs([("BUILDKITE", "true")])
            .with_runner(|_, _| Err("exited with 1: not in a job".into()));
        let e = acquire(&TokenSource::default(), env).unwrap_err();
        assert_eq!(e.code(), "PUB_E002");
        assert!(
            e.message.contains("buildkite-agent oidc request-token"),
            "{e}"
        );
        assert!(e.message.contains("not in a job"), "{e}");
    }

    #[tokio::test]
    async fn github_actions_token_endpoint_is_asked_for_audience_sigstore() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = jwt(r#"{"repository":"acme/widget"}"#);
        let answer = format!("{{\"value\":\"{token}\"}}");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            s.write_all(resp.as_bytes()).await.unwrap();
            req
        });
        let env = CiEnv::from_pairs([
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("http://{addr}/token?x=1"),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer-secret".into()),
        ]);
        let t = identity_token(&TokenSource::default(), &env, &reqwest::Client::new())
            .await
            .unwrap();
        let req = server.await.unwrap();
        assert!(
            req.starts_with("GET /token?x=1&audience=sigstore "),
            "{req}"
        );
        assert!(req
            .to_ascii_lowercase()
            .contains("authorization: bearer bearer-secret"));
        assert_eq!(
            (t.source, t.jwt.as_str()),
            ("github-actions", token.as_str())
        );
    }
}
