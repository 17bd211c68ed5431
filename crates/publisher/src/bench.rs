//! The publish benchmark against a dev server: many small packages published through
//! [`Publisher::upload`], the function `vouch publish` itself uses, C at a time.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use vouch_api_client::{api_error, CodedError, NoProgress, Outcome};

use crate::publish::{pack_dir, Archive, Publisher, Upload};
use crate::token::{CiEnv, Token};
use crate::{Error, Result};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The dev server's base URL.
    pub base: String,
    /// An owner API token of that server.
    pub owner_token: String,
    /// Publishes to make, and how many are in flight at once.
    pub count: usize,
    pub concurrency: usize,
}

/// One version published.
#[derive(Debug, Clone)]
pub struct BenchPublished {
    pub archive: Archive,
    pub upload: Upload,
    /// The identity and issuer the registry recorded (or the token's, if it said none).
    pub identity: String,
    pub issuer: String,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct BenchRun {
    pub published: Vec<BenchPublished>,
    /// Workers (the concurrency actually used).
    pub workers: usize,
    /// Wall-clock seconds of the publishes, and of packing before the clock started.
    pub seconds: f64,
    pub pack_seconds: f64,
    /// Each publish's latency in milliseconds, sorted.
    pub latencies_ms: Vec<f64>,
}

fn local(what: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::local(what, e)
}

/// Refuses a run `bench_publish` should not make: a server not on this machine
/// (`BENCH_E001`), or a count or concurrency of 0 (`BENCH_E002`).
pub fn check_target(
    base: &str,
    count: usize,
    concurrency: usize,
) -> std::result::Result<(), CodedError> {
    let host = base
        .split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or(""))
        .unwrap_or("");
    let host = host
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(host)
        .trim_matches(['[', ']']);
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        let msg = format!("{base}: bench publish only targets a server on this machine (loopback)");
        return Err(CodedError::new(
            vouch_api_client::codes::BENCH_REFUSED_TARGET,
            Outcome::Error,
            msg,
        ));
    }
    if count == 0 || concurrency == 0 {
        let msg = "--count and --concurrency must be at least 1";
        return Err(CodedError::new(
            vouch_api_client::codes::BENCH_BAD_ARGS,
            Outcome::Error,
            msg,
        ));
    }
    Ok(())
}

/// Publishes `count` small packages through a `vouch serve --dev` server (`env` gives
/// the forge URL the provenance names, as for `vouch publish`).
///
/// Two things a CI runner does on its own machine happen before the clock starts, so
/// that they do not take the registry's cores: packing the archives and minting identity
/// tokens (the dev OIDC issuer stands in for the platform). Bindings: one package per
/// worker, registered with the owner token.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub async fn bench_publish(opts: &BenchOptions, env: &CiEnv) -> Result<BenchRun> {
    let (base, http) = (opts.base.as_str(), vouch_api_client::http()?);
    let workers = opts.concurrency.min(opts.count).max(1);
    let nonce = blake3::hash(
        format!(
            "{}{:?}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
        )
        .as_bytes(),
    )
    .to_hex()
    .chars()
    .take(10)
    .collect::<String>();
    let repo = format!("bench/r{nonce}");
    let workflow = ".github/workflows/release.yml";
    // One package per worker, each with a pending binding.
    for w in 0..workers {
        let package = format!("@bench/p{nonce}-{w}");
        let resp = http
            .post(format!("{base}/api/v1/publishers"))
            .bearer_auth(&opts.owner_token)
            .json(
                &json!({"package": package, "provider": "github", "repository": repo,
                          "workflow": workflow, "environment": null, "email": null}),
            )
            .send()
            .await
            .map_err(|e| local("registering a bench publisher", e))?;
        if !resp.status().is_success() {
            return Err(api_error("registering a bench publisher", resp)
                .await
                .into());
        }
    }
    // Tokens are single-use (their jti is spent by the CA): one per publish, minted first.
    let mut tokens = Vec::with_capacity(opts.count);
    for _ in 0..opts.count {
        let v: serde_json::Value = http
            .post(format!("{base}/oidc/dev/token"))
            .json(&json!({"repository": repo, "workflow": workflow, "ref": "refs/heads/main"}))
            .send()
            .await
            .map_err(|e| local("minting a dev token (is the server running with --dev?)", e))?
            .json()
            .await
            .map_err(|e| local("reading a dev token", e))?;
        let jwt = v["token"].as_str().ok_or_else(|| Error::Local {
            what: "the dev issuer sent no token".into(),
            source: None,
        })?;
        tokens.push(Token::from_jwt(jwt, "dev", env)?);
    }
    let publisher = Arc::new(Publisher::connect(http, base).await?);
    // Publish i goes to worker i % workers as that package's version i / workers.
    let pack_started = Instant::now();
    let mut queues: Vec<Vec<(Archive, Token)>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, token) in tokens.into_iter().enumerate() {
        let w = i % workers;
        let archive = pack_one(&format!("@bench/p{nonce}-{w}"), (i / workers) as u32, i)?;
        if let Some(q) = queues.get_mut(w) {
            q.push((archive, token));
        }
    }
    let pack_seconds = pack_started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for queue in queues {
        let publisher = Arc::clone(&publisher);
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(queue.len());
            let mut latencies = Vec::with_capacity(queue.len());
            for (archive, token) in queue {
                let t0 = Instant::now();
                let upload = publisher.upload(&archive, &token, &NoProgress).await?;
                latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                out.push(BenchPublished {
                    identity: upload
                        .identity
                        .clone()
                        .unwrap_or_else(|| token.subject_hint()),
                    issuer: upload
                        .issuer
                        .clone()
                        .or_else(|| token.claims["iss"].as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    archive,
                    upload,
                });
            }
            Ok::<_, Error>((out, latencies))
        });
    }
    let mut published = Vec::new();
    let mut latencies_ms = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (p, l) = done.map_err(|e| local("a bench worker panicked", e))??;
        published.extend(p);
        latencies_ms.extend(l);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_ms.sort_by(f64::total_cmp);
    Ok(BenchRun {
        published,
        workers,
        seconds,
        pack_seconds,
        latencies_ms,
    })
}

/// Packs version `1.0.VERSION` of `package` (contents unique to publish `i`) as
/// `vouch publish` would.
fn pack_one(package: &str, version: u32, i: usize) -> Result<Archive> {
    let io = |e: std::io::Error| local("writing a bench package", e);
    let dir = tempfile::tempdir().map_err(io)?;
    std::fs::create_dir_all(dir.path().join("src")).map_err(io)?;
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!("[package]\nname = \"{package}\"\nversion = \"1.0.{version}\"\n"),
    )
    .map_err(io)?;
    std::fs::write(
        dir.path().join("src/lib.txt"),
        format!("bench package {i}\n{}", "x".repeat(512)),
    )
    .map_err(io)?;
    pack_dir(dir.path())
}

#[cfg(test)]
mod tests {
    use super::check_target;

    #[test]
    fn only_loopback_and_at_least_one() {
        assert!(check_target("http://127.0.0.1:8080", 1, 1).is_ok());
        assert!(check_target("http://localhost:1", 1, 1).is_ok());
        assert!(check_target("http://[::1]:1", 1, 1).is_ok());
        let code = |base, n| check_target(base, n, 1).map_err(|e| e.code().to_owned());
        assert_eq!(code("http://10.0.0.1:80", 1), Err("BENCH_E001".into()));
        assert_eq!(code("https://example.com", 1), Err("BENCH_E001".into()));
        assert_eq!(code("http://127.0.0.1:1", 0), Err("BENCH_E002".into()));
    }
}
