//! `vouch bench rekor`: a second-process load generator for a server's Rekor v2 entry API (loopback only): pre-signed hashedrekord requests posted concurrently, reporting entries per second and latency.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use tokio::net::TcpStream;

use crate::output::{outln, print_json, CodedError, Exit};

/// Post N signed hashedrekord entries (one P-256 key, one certificate from a throwaway
/// local CA, N distinct digests, all signed before the clock starts) to
/// `SERVER/api/v2/log/entries` over C keep-alive connections, and report entries per
/// second and latency percentiles. One in 64 answers is checked in full: its
/// inclusion proof must verify against its checkpoint. Loopback servers only; at most
/// 1,000,000 entries and 1024 connections.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of a running `vouch serve` (http:// on a loopback address).
    #[arg(long, value_name = "URL")]
    server: String,
    /// Entries to post.
    #[arg(long, default_value_t = 20_000)]
    entries: usize,
    /// Concurrent keep-alive connections (requests in flight).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn refuse(msg: String) -> anyhow::Error {
    CodedError::new("BENCH_E001", Exit::Error, msg).into()
}

/// `http://HOST:PORT` with HOST loopback; returns the address and the Host header.
fn parse_server(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let hostport = url
        .strip_prefix("http://")
        .ok_or_else(|| refuse(format!("{url}: only http:// URLs are supported")))?
        .trim_end_matches('/');
    if hostport.contains('/') {
        return Err(refuse(format!(
            "{url}: give the server's base URL, without a path"
        )));
    }
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| refuse(format!("{url}: a port is required")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| refuse(format!("{url}: bad port")))?;
    let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        h => h
            .parse()
            .map_err(|_| refuse(format!("{url}: host must be a loopback IP or localhost")))?,
    };
    if !ip.is_loopback() {
        return Err(refuse(format!(
            "{url}: {ip} is not a loopback address; bench rekor only targets this machine"
        )));
    }
    Ok((SocketAddr::new(ip, port), hostport.to_owned()))
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if args.entries == 0
        || args.entries > 1_000_000
        || args.concurrency == 0
        || args.concurrency > 1024
    {
        return Err(refuse(
            "--entries must be 1..=1000000 and --concurrency 1..=1024".into(),
        ));
    }
    let (addr, host) = parse_server(&args.server)?;
    let t0 = Instant::now();
    let requests = Arc::new(signed_requests(args.entries, &host)?);
    let prepare_s = t0.elapsed().as_secs_f64();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(load(addr, requests, args.concurrency));
    let ok = report.status.get(&201).copied().unwrap_or(0);
    let eps = ok as f64 / report.elapsed_s;
    let mut lat = report.latencies_us;
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        f64::from(lat[i]) / 1000.0
    };
    let status: BTreeMap<String, u64> = report
        .status
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let value = serde_json::json!({
        "server": args.server,
        "entries": args.entries,
        "concurrency": args.concurrency,
        "prepare_s": prepare_s,
        "seconds": report.elapsed_s,
        "logged": ok,
        "entries_per_s": eps,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "checkpoints": report.tree_sizes.len(),
        "proofs_checked": report.checked,
        "status": status,
        "errors": report.errors,
        "bad_answers": report.bad,
    });
    if args.json {
        print_json(&value)?;
    } else {
        outln!(
            "{eps:.0} entries/s: {ok} of {} logged in {:.2} s over {} connections \
             ({} checkpoints), p50 {:.1} ms, p99 {:.1} ms; {} proofs checked, {} errors",
            args.entries,
            report.elapsed_s,
            args.concurrency,
            report.tree_sizes.len(),
            pct(0.5),
            pct(0.99),
            report.checked,
            report.errors + report.bad,
        )?;
    }
    let clean = ok as usize == args.entries && report.errors == 0 && report.bad == 0;
    Ok(if clean { Exit::Ok } else { Exit::Error })
}

/// One P-256 key, a certificate for it from a throwaway local CA, and `n` HTTP
/// requests each carrying a distinct digest and its signature.
fn signed_requests(n: usize, host: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
    let cert = certificate(&key)?;
    let verifier = serde_json::json!({
        "x509Certificate": {"rawBytes": B64.encode(&cert)},
        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
    });
    let nonce = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let d = digest::digest(&digest::SHA256, format!("bench {nonce} {i}").as_bytes());
        let sig = key
            .sign_digest(&d)
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        let body = serde_json::to_vec(&serde_json::json!({
            "hashedRekordRequestV002": {
                "digest": B64.encode(d.as_ref()),
                "signature": {"content": B64.encode(sig.as_ref()), "verifier": verifier},
            }
        }))?;
        let mut req = format!(
            "POST /api/v2/log/entries HTTP/1.1\r\nHost: {host}\r\nUser-Agent: vouch-bench\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        out.push(req);
    }
    Ok(out)
}

/// A ten-minute certificate for `key` from a CA generated on the spot (the log checks
/// the signature with the certificate's key, not the chain).
fn certificate(key: &EcdsaKeyPair) -> anyhow::Result<Vec<u8>> {
    use vouch_ca::{
        CaConfig, CaMaterial, CertificateAuthority, CertificateIdentity, San, SubjectPublicKey,
        SystemClock,
    };
    let spki = key
        .public_key()
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the public key"))?;
    let b64 = B64.encode(spki.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let proof = key
        .sign(&rng, b"bench")
        .map_err(|_| anyhow::anyhow!("signing failed"))?;
    let proven = SubjectPublicKey::from_pem(&pem)?.prove_with_signature("bench", proof.as_ref())?;
    let ca = CertificateAuthority::new(
        CaMaterial::generate(&CaConfig::default(), SystemTime::now())?,
        Arc::new(SystemClock),
    )?;
    let identity = CertificateIdentity {
        san: San::Uri(
            "https://github.com/vouch/bench/.github/workflows/bench.yml@refs/heads/main".into(),
        ),
        issuer: "https://vouch.invalid/bench".into(),
        extensions: Vec::new(),
    };
    Ok(ca.issue(&proven, &identity)?.certificate_der)
}

#[derive(Debug, Default)]
struct Report {
    status: BTreeMap<u16, u64>,
    errors: u64,
    /// 201 answers whose sampled proof did not verify or that did not parse.
    bad: u64,
    checked: u64,
    tree_sizes: BTreeSet<u64>,
    latencies_us: Vec<u32>,
    elapsed_s: f64,
}

async fn load(addr: SocketAddr, requests: Arc<Vec<Vec<u8>>>, concurrency: usize) -> Report {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (requests, next) = (Arc::clone(&requests), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            connection(addr, &requests, &next).await
        }));
    }
    let mut total = Report::default();
    for t in tasks {
        if let Ok(r) = t.await {
            for (k, v) in r.status {
                *total.status.entry(k).or_default() += v;
            }
            total.errors += r.errors;
            total.bad += r.bad;
            total.checked += r.checked;
            total.tree_sizes.extend(r.tree_sizes);
            total.latencies_us.extend(r.latencies_us);
        }
    }
    total.elapsed_s = start.elapsed().as_secs_f64();
    total
}

/// One keep-alive connection posting the next unsent request until none are left.
async fn connection(addr: SocketAddr, requests: &[Vec<u8>], next: &AtomicUsize) -> Report {
    let mut r = Report::default();
    let mut buf = Vec::with_capacity(16 << 10);
    let mut conn: Option<TcpStream> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(req) = requests.get(i) else {
            return r;
        };
        if conn.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn = Some(s);
                }
                Err(_) => {
                    r.errors += 1;
                    continue;
                }
            }
        }
        let Some(stream) = conn.as_mut() else {
            continue;
        };
        let t0 = Instant::now();
        match super::bench_http::exchange(stream, req, &mut buf).await {
            Ok((status, body_at)) => {
                r.latencies_us
                    .push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                *r.status.entry(status).or_default() += 1;
                if status == 201 {
                    let body = &buf[body_at..];
                    match tree_size(body) {
                        Some(s) => {
                            r.tree_sizes.insert(s);
                        }
                        None => r.bad += 1,
                    }
                    if i % 64 == 0 {
                        r.checked += 1;
                        if !proof_verifies(body) {
                            r.bad += 1;
                        }
                    }
                }
            }
            Err(_) => {
                r.errors += 1;
                conn = None;
            }
        }
    }
}

/// `treeSize` of an answer without parsing all of it.
fn tree_size(body: &[u8]) -> Option<u64> {
    let key = b"\"treeSize\":\"";
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let end = body[at..].iter().position(|&b| b == b'"')? + at;
    std::str::from_utf8(&body[at..end]).ok()?.parse().ok()
}

/// Whether an answer's inclusion proof verifies for its body against its checkpoint
/// root (the checkpoint signature is the verifier's business; this checks the log
/// did the Merkle work right under load).
fn proof_verifies(body: &[u8]) -> bool {
    let check = || -> Option<()> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let p = &v["inclusionProof"];
        let index: u64 = v["logIndex"].as_str()?.parse().ok()?;
        let size: u64 = p["treeSize"].as_str()?.parse().ok()?;
        let root = vouch_tlog::Hash::from_base64(p["rootHash"].as_str()?).ok()?;
        let (cp, _) = vouch_tlog::checkpoint::parse_unverified(
            p["checkpoint"]["envelope"].as_str()?.as_bytes(),
        )
        .ok()?;
        if cp.size != size || cp.root != root {
            return None;
        }
        let leaf = B64.decode(v["canonicalizedBody"].as_str()?).ok()?;
        let hashes = p["hashes"]
            .as_array()?
            .iter()
            .map(|h| vouch_tlog::Hash::from_base64(h.as_str()?).ok())
            .collect::<Option<Vec<_>>>()?;
        vouch_tlog::verify_inclusion(index, size, &vouch_tlog::leaf_hash(&leaf), &hashes, &root)
            .ok()
    };
    check().is_some()
}

#[cfg(test)]
mod tests {
    use super::{parse_server, tree_size};

    #[test]
    fn only_loopback_servers() {
        assert!(parse_server("http://127.0.0.1:8080").is_ok());
        assert!(parse_server("http://localhost:1/").is_ok());
        assert!(parse_server("http://10.0.0.1:8080").is_err());
        assert!(parse_server("https://127.0.0.1:1").is_err());
        assert!(parse_server("http://127.0.0.1:1/api").is_err());
    }

    #[test]
    fn tree_size_is_found() {
        assert_eq!(tree_size(br#"{"a":1,"treeSize":"42","b":2}"#), Some(42));
        assert_eq!(tree_size(br#"{"a":1}"#), None);
    }
}
