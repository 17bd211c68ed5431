//! `vouch bench ca`: certificate-issuance load against a running `vouch serve --dev` on this machine, reporting certificates per second and latency.
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

use anyhow::Context;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::output::{outln, print_json, CodedError, Exit};

/// Issue certificates from a `vouch serve --dev` server as fast as it answers: tokens and
/// CSRs are prepared first, then `--requests` signingCert calls run over `--concurrency`
/// keep-alive connections. Prints certificates/s and p50/p99 latency.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server base URL (loopback), e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Certificates to request (1..=200000).
    #[arg(long, default_value_t = 5000)]
    requests: usize,
    /// Concurrent connections (1..=1024).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn refuse(msg: String) -> anyhow::Error {
    CodedError::new("BENCH_E001", Exit::Error, msg).into()
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
fn csr_field(rng: &SystemRandom) -> anyhow::Result<String> {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, rng)
        .map_err(|_| refuse("generating a P-256 key failed".into()))?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
        .map_err(|_| refuse("loading a P-256 key failed".into()))?;
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
        .map_err(|_| refuse("signing the CSR failed".into()))?;
    let mut bits = vec![0x00];
    bits.extend_from_slice(sig.as_ref());
    let mut req = info;
    // AlgorithmIdentifier { ecdsa-with-SHA256 }
    req.extend_from_slice(&[
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    ]);
    req.extend_from_slice(&der(0x03, &bits));
    let req = der(0x30, &req);
    let b64 = STANDARD.encode(req);
    let mut pem = String::from("-----BEGIN CERTIFICATE REQUEST-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE REQUEST-----\n");
    Ok(STANDARD.encode(pem))
}

fn check_loopback(server: &str) -> anyhow::Result<()> {
    let rest = server
        .strip_prefix("http://")
        .or_else(|| server.strip_prefix("https://"))
        .ok_or_else(|| refuse(format!("{server}: expected http:// or https://")))?;
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(refuse(format!(
            "{server}: bench ca only targets a server on this machine (loopback)"
        )));
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if !(1..=200_000).contains(&args.requests) || !(1..=1024).contains(&args.concurrency) {
        return Err(refuse(
            "--requests must be 1..=200000 and --concurrency 1..=1024".into(),
        ));
    }
    check_loopback(&args.server)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(bench(args))
}

#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u32>,
    status: BTreeMap<u16, u64>,
    errors: u64,
    codes: BTreeMap<String, u64>,
}

async fn bench(args: Args) -> anyhow::Result<Exit> {
    let base = args.server.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;

    // Preparation (not timed): tokens from the dev issuer, keys and CSRs.
    let prep = Instant::now();
    let mut tokens = Vec::with_capacity(args.requests);
    let mut batch = Vec::new();
    for _ in 0..args.requests {
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
        if batch.len() == args.concurrency {
            for h in batch.drain(..) {
                tokens.push(token_of(h.await.context("mint task")??)?);
            }
        }
    }
    for h in batch.drain(..) {
        tokens.push(token_of(h.await.context("mint task")??)?);
    }
    let csrs = tokio::task::spawn_blocking(move || {
        let rng = SystemRandom::new();
        (0..tokens.len())
            .map(|_| csr_field(&rng))
            .collect::<anyhow::Result<Vec<String>>>()
            .map(|c| (tokens, c))
    })
    .await
    .context("CSR task")??;
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
    let mut workers = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let (client, work, next, url) = (client.clone(), work.clone(), next.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Outcome::default();
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
                        out.latencies_us
                            .push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                        *out.status.entry(status).or_default() += 1;
                        if status != 201 {
                            let code = super::dev::server_error(&String::from_utf8_lossy(&text))
                                .map_or_else(|| "?".to_owned(), |(c, _)| c);
                            *out.codes.entry(code).or_default() += 1;
                        }
                    }
                    Err(_) => out.errors += 1,
                }
            }
        }));
    }
    let mut total = Outcome::default();
    for w in workers {
        let o = w.await.context("worker")?;
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
    let per_s = issued as f64 / elapsed;
    let mut lat = total.latencies_us;
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        f64::from(lat[i]) / 1000.0
    };
    let status: BTreeMap<String, u64> = total
        .status
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let value = serde_json::json!({
        "server": base,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "prepare_seconds": prep_s,
        "certificates": issued,
        "certificates_per_s": per_s,
        "status": status,
        "refusal_codes": total.codes,
        "errors": total.errors,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    });
    if args.json {
        print_json(&value)?;
    } else {
        outln!(
            "{per_s:.0} certificates/s over {elapsed:.2} s ({issued} issued of {}, {} transport errors), p50 {:.2} ms, p99 {:.2} ms",
            args.requests,
            total.errors,
            pct(0.5),
            pct(0.99)
        )?;
    }
    let ok = total.errors == 0 && issued as usize == args.requests;
    Ok(if ok { Exit::Ok } else { Exit::Error })
}

fn token_of((status, v): (reqwest::StatusCode, serde_json::Value)) -> anyhow::Result<String> {
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(CodedError::new(
            "DEV_E001",
            Exit::Error,
            "the server has no development OIDC issuer: bench ca needs `vouch serve --dev`",
        )
        .into());
    }
    v["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| refuse(format!("minting a dev token failed: HTTP {status}: {v}")))
}
