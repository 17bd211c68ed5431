//! `vouch bench ca`: certificate-issuance load against a running `vouch serve --dev` on
//! this machine, reporting certificates per second and latency.
//!
//! Everything a client prepares is done before the clock starts: one dev token per
//! request (each token's `jti` buys exactly one certificate) and one fresh P-256 key and
//! CSR per request. The timed phase is only `POST /api/v2/signingCert` over keep-alive
//! connections, so the figure is the server's: token verification, replay record,
//! proof of possession, issuance and the CT log commit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;
use vouch_api_client::{error_envelope, Outcome};

use crate::{failed, loopback, micros_since, percentile_ms, refuse, CodedError, Result};

/// The figures of a run (`vouch bench ca --json`).
#[derive(Debug, Clone, Serialize)]
pub struct CaReport {
    pub server: String,
    pub requests: usize,
    pub concurrency: usize,
    pub seconds: f64,
    /// Seconds spent minting tokens and making CSRs, before the clock started.
    pub prepare_seconds: f64,
    /// Certificates issued (201 answers).
    pub certificates: u64,
    pub certificates_per_s: f64,
    pub status: BTreeMap<String, u64>,
    /// The error codes of refused requests, counted.
    pub refusal_codes: BTreeMap<String, u64>,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl CaReport {
    /// Every request issued a certificate, with no transport error.
    pub fn clean(&self) -> bool {
        self.errors == 0 && self.certificates as usize == self.requests
    }
}

/// The one-line summary `vouch bench ca` prints.
impl std::fmt::Display for CaReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} certificates/s over {:.2} s ({} issued of {}, {} transport errors), p50 {:.2} ms, p99 {:.2} ms",
            self.certificates_per_s,
            self.seconds,
            self.certificates,
            self.requests,
            self.errors,
            self.p50_ms,
            self.p99_ms
        )
    }
}

/// Issues `requests` certificates from a `vouch serve --dev` server at `server` (a
/// loopback URL) over `concurrency` keep-alive connections (1..=200000 and 1..=1024).
pub fn run(server: &str, requests: usize, concurrency: usize) -> Result<CaReport> {
    if !(1..=200_000).contains(&requests) || !(1..=1024).contains(&concurrency) {
        return Err(refuse(
            "--requests must be 1..=200000 and --concurrency 1..=1024",
        ));
    }
    check_loopback(server)?;
    crate::runtime()?.block_on(bench(server, requests, concurrency))
}

fn check_loopback(server: &str) -> Result<()> {
    let rest = server
        .strip_prefix("http://")
        .or_else(|| server.strip_prefix("https://"))
        .ok_or_else(|| refuse(format!("{server}: expected http:// or https://")))?;
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    loopback(server, host, "bench ca").map(|_| ()).map_err(|_| {
        refuse(format!(
            "{server}: bench ca only targets a server on this machine (loopback)"
        ))
    })
}

/// DER length octets.
fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

/// A PKCS#10 CSR (PEM, then base64 as Fulcio's `certificateSigningRequest`) for a fresh
/// P-256 key: empty subject, no attributes, ecdsa-with-SHA256.
fn csr_field(rng: &SystemRandom) -> Result<String> {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, rng)
        .map_err(|_| refuse("generating a P-256 key failed"))?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
        .map_err(|_| refuse("loading a P-256 key failed"))?;
    // SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 } || BIT STRING(point).
    let mut spki = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    spki.extend_from_slice(key.public_key().as_ref());
    let mut info = vec![0x02, 0x01, 0x00, 0x30, 0x00];
    info.extend_from_slice(&spki);
    info.extend_from_slice(&[0xa0, 0x00]);
    let info = der(0x30, &info);
    let sig = key
        .sign(rng, &info)
        .map_err(|_| refuse("signing the CSR failed"))?;
    let mut bits = vec![0x00];
    bits.extend_from_slice(sig.as_ref());
    let mut req = info;
    // AlgorithmIdentifier { ecdsa-with-SHA256 }
    req.extend_from_slice(&[
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    ]);
    req.extend_from_slice(&der(0x03, &bits));
    let req = der(0x30, &req);
    let pem = vouch_ca::pki::pem("CERTIFICATE REQUEST", &req);
    Ok(STANDARD.encode(pem))
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    status: BTreeMap<u16, u64>,
    errors: u64,
    codes: BTreeMap<String, u64>,
}

async fn bench(server: &str, requests: usize, concurrency: usize) -> Result<CaReport> {
    let base = server.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| failed("building the HTTP client", e))?;

    // Preparation (not timed): tokens from the dev issuer, keys and CSRs.
    let prep = Instant::now();
    let mut tokens = Vec::with_capacity(requests);
    let mut batch = Vec::new();
    for _ in 0..requests {
        let (client, url) = (client.clone(), format!("{base}/oidc/dev/token"));
        batch.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .json(&serde_json::json!({"repository": "bench/ca",
                    "workflow": ".github/workflows/bench.yml", "ref": "refs/heads/main"}))
                .send()
                .await?;
            let status = r.status();
            let v: serde_json::Value = r.json().await?;
            Ok::<_, reqwest::Error>((status, v))
        }));
        if batch.len() == concurrency {
            for h in batch.drain(..) {
                tokens.push(token_of(joined(h.await)?.map_err(|e| mint_failed(&e))?)?);
            }
        }
    }
    for h in batch.drain(..) {
        tokens.push(token_of(joined(h.await)?.map_err(|e| mint_failed(&e))?)?);
    }
    let csrs = tokio::task::spawn_blocking(move || {
        let rng = SystemRandom::new();
        (0..tokens.len())
            .map(|_| csr_field(&rng))
            .collect::<Result<Vec<String>>>()
            .map(|c| (tokens, c))
    })
    .await;
    let csrs = joined(csrs)??;
    let (tokens, csrs) = csrs;
    let prep_s = prep.elapsed().as_secs_f64();
    let bodies: Vec<(String, String)> = tokens
        .into_iter()
        .zip(csrs)
        .map(|(t, c)| {
            (
                t,
                serde_json::json!({ "certificateSigningRequest": c }).to_string(),
            )
        })
        .collect();
    let work = Arc::new(bodies);

    // Timed phase.
    let next = Arc::new(AtomicUsize::new(0));
    let url = Arc::new(format!("{base}/api/v2/signingCert"));
    let start = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, work, next, url) = (client.clone(), work.clone(), next.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((token, body)) = work.get(i) else {
                    return out;
                };
                let t0 = Instant::now();
                let r = client
                    .post(url.as_str())
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let text = resp.bytes().await.unwrap_or_default();
                        out.latencies_us.push(micros_since(t0));
                        *out.status.entry(status).or_default() += 1;
                        if status != 201 {
                            let code =
                                error_envelope(&text).map_or_else(|| "?".to_owned(), |(c, _)| c);
                            *out.codes.entry(code).or_default() += 1;
                        }
                    }
                    Err(_) => out.errors += 1,
                }
            }
        }));
    }
    let mut total = Tally::default();
    for w in workers {
        let o = joined(w.await)?;
        total.latencies_us.extend(o.latencies_us);
        total.errors += o.errors;
        for (k, v) in o.status {
            *total.status.entry(k).or_default() += v;
        }
        for (k, v) in o.codes {
            *total.codes.entry(k).or_default() += v;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let issued = total.status.get(&201).copied().unwrap_or(0);
    let mut lat = total.latencies_us;
    lat.sort_unstable();
    Ok(CaReport {
        server: base,
        requests,
        concurrency,
        seconds: elapsed,
        prepare_seconds: prep_s,
        certificates: issued,
        certificates_per_s: issued as f64 / elapsed,
        status: total
            .status
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        refusal_codes: total.codes,
        errors: total.errors,
        p50_ms: percentile_ms(&lat, 0.50),
        p99_ms: percentile_ms(&lat, 0.99),
    })
}

/// A task's result, or `BENCH_E001` when the task panicked.
fn joined<T>(r: std::result::Result<T, tokio::task::JoinError>) -> Result<T> {
    r.map_err(|e| failed("a load task failed", e))
}

fn mint_failed(e: &reqwest::Error) -> CodedError {
    failed("minting a dev token", vouch_api_client::error_chain(e))
}

#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
fn token_of((status, v): (reqwest::StatusCode, serde_json::Value)) -> Result<String> {
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(CodedError::new(
            vouch_api_client::codes::DEV_NO_ISSUER,
            Outcome::Error,
            "the server has no development OIDC issuer: bench ca needs `vouch serve --dev`",
        ));
    }
    v["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| refuse(format!("minting a dev token failed: HTTP {status}: {v}")))
}
