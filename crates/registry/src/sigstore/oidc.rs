//! OIDC on the server: the token verifier over the configured issuers with its `jti` replay store in the metadata database, and the `--dev` issuer (key in `DATA/oidc_dev.key`, discovery, JWKS, `POST /oidc/dev/token`).
//!
//! The server never fetches its own dev issuer over HTTP: the verifier's fetcher serves
//! the dev discovery document and JWKS from memory and passes every other URL to a real
//! (https-only outside `--dev`) fetcher.

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use vouch_log::Clock;
use vouch_oidc::{
    BoxFuture, DevIssuer, DevKeyAlgorithm, DevTokenRequest, Insertion, MemoryFetcher, ReplayKey,
    ReplayStore, ReplayStoreError, ReqwestFetcher, TransportPolicy, UnixTime, Verifier,
};
use vouch_store::meta::{MetaStore, ReplayOutcome, Timestamp};

use super::error::{self, body_rejection};
use super::keys::OidcClock;
use super::settings::OidcSection;
use super::SetupError;
use crate::app::AppState;
use crate::ApiError;

/// The dev issuer's path under the server's public URL.
pub const DEV_ISSUER_PATH: &str = "/oidc";
/// File in the data directory holding the dev issuer's PKCS#8 key.
pub const DEV_KEY_FILE: &str = "oidc_dev.key";
/// Cap on a `POST /oidc/dev/token` body.
pub const MAX_MINT_BODY: usize = 16 * 1024;

/// Most token ids recorded in one replay-store transaction.
const REPLAY_BATCH_MAX: usize = 4096;
/// Token ids waiting for the replay store's writer.
const REPLAY_QUEUE: usize = 65_536;

/// The `jti` replay store in the metadata database, with group commit: concurrent
/// verifications queue their `(issuer, jti)`, and one writer task records everything
/// queued in one transaction ([`MetaStore::insert_jtis_if_absent`]), so a burst of
/// tokens costs one commit (one fsync) rather than one each. Each key is still decided
/// atomically by the database's primary key, across restarts and across nodes sharing
/// the database; a verification returns only after its batch committed.
#[derive(Debug)]
pub struct MetaReplayStore {
    queue: mpsc::Sender<Pending>,
}

#[derive(Debug)]
struct Pending {
    key: (String, String, Timestamp),
    now: i64,
    reply: oneshot::Sender<Result<ReplayOutcome, String>>,
}

impl MetaReplayStore {
    /// Starts the writer task (on the current tokio runtime).
    pub fn new(meta: Arc<dyn MetaStore>) -> Self {
        let (queue, rx) = mpsc::channel(REPLAY_QUEUE);
        tokio::spawn(replay_writer(meta, rx));
        MetaReplayStore { queue }
    }
}

/// Drains the queue batch by batch until every sender is gone.
async fn replay_writer(meta: Arc<dyn MetaStore>, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < REPLAY_BATCH_MAX {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let now = batch.iter().map(|p| p.now).max().unwrap_or(0);
        let keys: Vec<(String, String, Timestamp)> = batch.iter().map(|p| p.key.clone()).collect();
        match meta.insert_jtis_if_absent(&keys, Timestamp(now)).await {
            Ok(outcomes) if outcomes.len() == batch.len() => {
                for (p, o) in batch.into_iter().zip(outcomes) {
                    let _ = p.reply.send(Ok(o));
                }
            }
            Ok(outcomes) => {
                let e = format!("{} outcomes for {} keys", outcomes.len(), batch.len());
                for p in batch {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, keys = batch.len(), "replay store write failed");
                let e = e.to_string();
                for p in batch {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// A failure of the replay store's writer (the token is refused, OIDC_E022).
#[derive(Debug, thiserror::Error)]
#[error("replay store: {0}")]
struct ReplayFailure(String);

impl ReplayStore for MetaReplayStore {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<Insertion, ReplayStoreError>> {
        Box::pin(async move {
            let fail = |m: String| -> ReplayStoreError { Box::new(ReplayFailure(m)) };
            let (reply, answer) = oneshot::channel();
            let pending = Pending {
                key: (
                    key.issuer.clone(),
                    key.jti.clone(),
                    Timestamp(expires_at.secs()),
                ),
                now: now.secs(),
                reply,
            };
            self.queue
                .send(pending)
                .await
                .map_err(|_| fail("the writer task stopped".to_owned()))?;
            let outcome = answer
                .await
                .map_err(|_| fail("the writer task stopped".to_owned()))?
                .map_err(fail)?;
            Ok(match outcome {
                ReplayOutcome::Inserted => Insertion::Inserted,
                ReplayOutcome::AlreadyPresent => Insertion::AlreadyPresent,
            })
        })
    }
}

/// Loads the dev issuer's key from `DATA/oidc_dev.key`, generating it (0600) when absent.
pub fn dev_issuer(data_dir: &Path, public_url: &str) -> Result<DevIssuer, SetupError> {
    let path = data_dir.join(DEV_KEY_FILE);
    let issuer_url = format!("{public_url}{DEV_ISSUER_PATH}");
    let err = |reason: String| SetupError::DevIssuerKey {
        path: path.clone(),
        reason,
    };
    match std::fs::read_to_string(&path) {
        Ok(pem) => DevIssuer::from_pkcs8_pem(&issuer_url, &pem)
            .map_err(|e| err(format!("{}: {e}", e.code()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let issuer = DevIssuer::generate(&issuer_url, DevKeyAlgorithm::Es256)
                .map_err(|e| err(format!("{}: {e}", e.code())))?;
            let pem = issuer
                .to_pkcs8_pem()
                .map_err(|e| err(format!("{}: {e}", e.code())))?;
            write_private(&path, pem.as_bytes()).map_err(|e| err(e.to_string()))?;
            Ok(issuer)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The `--dev` email issuer (`{public_url}/oidc/email`): the dev issuer's key under its own
/// issuer URL, mapped to email identities, for the laptop sign-in flow.
pub fn dev_login(
    dev: &DevIssuer,
    public_url: &str,
    cfg: &OidcSection,
) -> Result<vouch_oidc::DevLogin, SetupError> {
    let err = |e: vouch_oidc::OidcError| SetupError::Config {
        reason: format!("{}: {e}", e.code()),
    };
    let pem = dev.to_pkcs8_pem().map_err(err)?;
    let url = format!("{public_url}{}", vouch_oidc::EMAIL_ISSUER_PATH);
    let issuer = DevIssuer::from_pkcs8_pem(&url, &pem).map_err(err)?;
    if !(1..=3600).contains(&cfg.dev_device_code_secs) {
        return Err(SetupError::Config {
            reason: format!(
                "oidc.dev_device_code_secs must be 1 to 3600, found {}",
                cfg.dev_device_code_secs
            ),
        });
    }
    let secs = i64::try_from(cfg.dev_device_code_secs).unwrap_or(3600);
    Ok(vouch_oidc::DevLogin::new(issuer, cfg.audience.clone()).with_device_code_lifetime(secs))
}

/// The verifier: `[oidc]` issuers plus, with `--dev`, the dev issuer (served from memory).
pub fn verifier(
    cfg: &OidcSection,
    dev: Option<&DevIssuer>,
    meta: Arc<dyn MetaStore>,
    clock: Arc<dyn Clock>,
) -> Result<Verifier, SetupError> {
    verifier_with_login(cfg, dev, None, meta, clock)
}

/// [`verifier`], also trusting the `--dev` email issuer of the laptop sign-in (both
/// served from memory).
pub fn verifier_with_login(
    cfg: &OidcSection,
    dev: Option<&DevIssuer>,
    login: Option<&vouch_oidc::DevLogin>,
    meta: Arc<dyn MetaStore>,
    clock: Arc<dyn Clock>,
) -> Result<Verifier, SetupError> {
    // Loopback http: `--dev` (its own issuer) or when the config asks for it; any
    // other plain http is refused by the policy either way.
    let policy = if dev.is_some() || cfg.allow_loopback_http {
        TransportPolicy::AllowLoopbackHttp
    } else {
        TransportPolicy::HttpsOnly
    };
    let oidc_err = |e: vouch_oidc::OidcError| SetupError::Config {
        reason: format!("{}: {e}", e.code()),
    };
    let real = Arc::new(ReqwestFetcher::new(policy).map_err(oidc_err)?);
    let fetcher = MemoryFetcher::with_fallback(real);
    let mut builder = Verifier::builder(
        Arc::new(fetcher_with(fetcher, dev, login)),
        Arc::new(MetaReplayStore::new(meta)),
    )
    .transport_policy(policy)
    .clock(Arc::new(OidcClock(clock)));
    for spec in &cfg.issuers {
        builder = builder.issuer(spec.to_issuer_config(&cfg.audience)?);
    }
    if let Some(dev) = dev {
        builder = builder.issuer(dev.issuer_config(cfg.audience.clone()));
    }
    if let Some(login) = login {
        builder = builder.issuer(login.issuer_config());
    }
    builder.build().map_err(|e| match e {
        vouch_oidc::OidcError::InsecureUrl { .. } if dev.is_some() => SetupError::Config {
            reason: format!(
                "{}: {e}; with --dev over plain http the public URL must be a loopback address",
                e.code()
            ),
        },
        e => oidc_err(e),
    })
}

fn fetcher_with(
    fetcher: MemoryFetcher,
    dev: Option<&DevIssuer>,
    login: Option<&vouch_oidc::DevLogin>,
) -> MemoryFetcher {
    if let Some(dev) = dev {
        fetcher.put(&dev.discovery_url(), dev.discovery_document().into_bytes());
        fetcher.put(&dev.jwks_url(), dev.jwks().into_bytes());
    }
    if let Some(login) = login {
        fetcher.put(
            &login.discovery_url(),
            login.discovery_document().into_bytes(),
        );
        fetcher.put(
            &login.issuer().jwks_url(),
            login.issuer().jwks().into_bytes(),
        );
    }
    fetcher
}

fn dev(app: &AppState) -> Result<&DevIssuer, ApiError> {
    app.sigstore
        .dev_issuer
        .as_deref()
        .ok_or_else(error::dev_disabled)
}

/// A discovery document or key set: JSON, cacheable for a minute.
pub(super) fn json(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        body,
    )
        .into_response()
}

/// `GET /oidc/.well-known/openid-configuration` (only `--dev`).
pub async fn discovery(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    Ok(json(dev(&app)?.discovery_document()))
}

/// `GET /oidc/jwks` and `GET /oidc/.well-known/jwks.json` (only `--dev`).
pub async fn jwks(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    Ok(json(dev(&app)?.jwks()))
}

/// The `POST /oidc/dev/token` body (CONTRACT.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    repository: String,
    workflow: String,
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    event_name: Option<String>,
    #[serde(default)]
    repository_owner_id: Option<String>,
    /// A reusable workflow `OWNER/REPO/PATH@REF` the job ran (GitHub's
    /// `job_workflow_ref`), when it is not the calling workflow.
    #[serde(default)]
    job_workflow_ref: Option<String>,
}

/// `OWNER/REPO/PATH@REF` with plain segments (no whitespace, control characters or `..`).
fn job_workflow_ref_ok(v: &str) -> bool {
    let Some((left, git_ref)) = v.rsplit_once('@') else {
        return false;
    };
    let plain = |s: &str| {
        !s.is_empty() && s != ".." && !s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    v.len() <= 512
        && plain(git_ref)
        && left.split('/').count() >= 3
        && left.split('/').all(|s| plain(s) && !s.contains('@'))
}

fn plain_claim(field: &'static str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::from(vouch_oidc::OidcError::InvalidDevRequest {
            field,
            expected: "1 to 256 characters of [A-Za-z0-9_.-]",
        }))
    }
}

/// `POST /oidc/dev/token`: mints a GitHub-Actions-shaped token (only `--dev`).
pub async fn mint(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let issuer = dev(&app)?;
    let body = body.map_err(|e| body_rejection(e, MAX_MINT_BODY))?;
    require_json(&headers)?;
    let req: MintRequest = serde_json::from_slice(&body).map_err(|e| {
        error::refuse(
            StatusCode::BAD_REQUEST,
            "SIGSTORE_E014",
            format!(
                "dev token request is not the expected JSON: {}",
                json_reason(&e)
            ),
        )
    })?;
    let token = mint_for(&app, issuer, req)?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "token": token })),
    )
        .into_response())
}

/// Mints the token a dev request asks for.
fn mint_for(app: &AppState, issuer: &DevIssuer, req: MintRequest) -> Result<String, ApiError> {
    let mut request = DevTokenRequest::new(req.repository, req.workflow, req.git_ref);
    if let Some(env) = req.environment {
        request = request.with_environment(env);
    }
    if let Some(aud) = req.audience {
        request = request.with_audience(aud);
    }
    let now = UnixTime(i64::try_from(app.sigstore.clock.unix_seconds()).unwrap_or(i64::MAX));
    let mut claims = issuer.claims_for(&request, now)?;
    if let Value::Object(members) = &mut claims {
        if let Some(event) = req.event_name {
            plain_claim("event_name", &event)?;
            members.insert("event_name".to_owned(), Value::String(event));
        }
        if let Some(job) = req.job_workflow_ref {
            if !job_workflow_ref_ok(&job) {
                return Err(ApiError::from(vouch_oidc::OidcError::InvalidDevRequest {
                    field: "job_workflow_ref",
                    expected: "OWNER/REPO/PATH@REF",
                }));
            }
            members.insert("job_workflow_ref".to_owned(), Value::String(job));
        }
        if let Some(owner_id) = req.repository_owner_id {
            plain_claim("repository_owner_id", &owner_id)?;
            members.insert("repository_owner_id".to_owned(), Value::String(owner_id));
        }
    }
    Ok(issuer.sign_claims(&claims, Some(issuer.kid()))?)
}

/// The query of [`github_actions_token`].
#[derive(Debug, Deserialize)]
pub struct ActionsQuery {
    #[serde(default)]
    audience: Option<String>,
}

/// `GET /oidc/github/token?audience=AUD` (only `--dev`): answers like GitHub's
/// `ACTIONS_ID_TOKEN_REQUEST_URL`, `{"value": JWT}`, so tools that fetch their own
/// token in GitHub Actions (uv, twine's trusted publishing, `vouch publish`) run
/// unchanged in tests. The bearer token (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`) is the
/// base64url of the JSON a `POST /oidc/dev/token` takes, without `audience`: it chooses
/// the workflow the token names. Other query parameters (`api-version`) are ignored.
pub async fn github_actions_token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<ActionsQuery>,
) -> Result<Response, ApiError> {
    use base64::Engine as _;
    let issuer = dev(&app)?;
    let refuse = |detail: &str| {
        error::refuse(
            StatusCode::UNAUTHORIZED,
            "SIGSTORE_E014",
            format!(
                "{detail}: the bearer request token must be the base64url of a dev token request JSON (repository, workflow, ref)"
            ),
        )
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| refuse("no bearer request token"))?;
    if bearer.len() > MAX_MINT_BODY {
        return Err(refuse("the request token is too long"));
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(bearer.trim().trim_end_matches('='))
        .map_err(|_| refuse("the request token is not base64url"))?;
    let mut req: MintRequest = serde_json::from_slice(&json).map_err(|e| {
        refuse(&format!(
            "the request token is not the expected JSON ({})",
            json_reason(&e)
        ))
    })?;
    if req.audience.is_some() {
        return Err(refuse(
            "the request token may not name an audience (the query does)",
        ));
    }
    req.audience = query.audience;
    let token = mint_for(&app, issuer, req)?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "value": token })),
    )
        .into_response())
}

/// JSON routes accept `application/json` (or no content type, as curl without `-H`).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) {
        None => Ok(()),
        Some(Ok(ct)) if ct.split(';').next().map(str::trim) == Some("application/json") => Ok(()),
        Some(_) => Err(error::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "SIGSTORE_E012",
            "expected Content-Type: application/json",
        )),
    }
}

/// A JSON error described without echoing values (they may be tokens).
pub(crate) fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => "invalid JSON".to_owned(),
        Category::Data => {
            let m = e.to_string();
            if m.starts_with("unknown field") || m.starts_with("missing field") {
                m.split(" at line ")
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect()
            } else {
                "a field has the wrong type".to_owned()
            }
        }
    }
}
