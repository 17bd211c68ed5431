//! `vouch bench rekor`: a second-process load generator for a server's Rekor v2 entry
//! API (loopback only): pre-signed hashedrekord requests posted concurrently, reporting
//! entries per second and latency. Sampled answers are checked with
//! `vouch_tlog::verify_inclusion`, the proof check the log clients use.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::{loopback, micros_since, percentile_ms, refuse, CodedError, Result};

/// The figures of a run (`vouch bench rekor --json`).
#[derive(Debug, Clone, Serialize)]
pub struct RekorReport {
    pub server: String,
    pub entries: usize,
    pub concurrency: usize,
    /// Seconds spent signing the requests, before the clock started.
    pub prepare_s: f64,
    pub seconds: f64,
    /// Entries answered 201.
    pub logged: u64,
    pub entries_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Distinct checkpoints (tree sizes) seen in answers.
    pub checkpoints: usize,
    pub proofs_checked: u64,
    pub status: BTreeMap<String, u64>,
    pub errors: u64,
    /// 201 answers that did not parse or whose sampled proof did not verify.
    pub bad_answers: u64,
}

impl RekorReport {
    /// Every entry logged, no transport error, no bad answer.
    pub fn clean(&self) -> bool {
        self.logged as usize == self.entries && self.errors == 0 && self.bad_answers == 0
    }
}

/// The one-line summary `vouch bench rekor` prints.
impl std::fmt::Display for RekorReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} entries/s: {} of {} logged in {:.2} s over {} connections \
             ({} checkpoints), p50 {:.1} ms, p99 {:.1} ms; {} proofs checked, {} errors",
            self.entries_per_s,
            self.logged,
            self.entries,
            self.seconds,
            self.concurrency,
            self.checkpoints,
            self.p50_ms,
            self.p99_ms,
            self.proofs_checked,
            self.errors + self.bad_answers,
        )
    }
}

fn prepare(what: &str) -> CodedError {
    crate::failed("preparing the requests", what)
}

/// `http://HOST:PORT` with HOST loopback; returns the address and the Host header.
fn parse_server(url: &str) -> Result<(SocketAddr, String)> {
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
    let ip = loopback(url, host, "bench rekor")?;
    Ok((SocketAddr::new(ip, port), hostport.to_owned()))
}

/// Posts `entries` signed hashedrekord entries (one P-256 key, one certificate from a
/// throwaway local CA, distinct digests, all signed before the clock starts) to
/// `server/api/v2/log/entries` over `concurrency` keep-alive connections. One answer
/// in 64 is checked in full: its inclusion proof must verify against its checkpoint.
/// At most 1,000,000 entries and 1024 connections.
pub fn run(server: &str, entries: usize, concurrency: usize) -> Result<RekorReport> {
    if entries == 0 || entries > 1_000_000 || concurrency == 0 || concurrency > 1024 {
        return Err(refuse(
            "--entries must be 1..=1000000 and --concurrency 1..=1024",
        ));
    }
    let (addr, host) = parse_server(server)?;
    let t0 = Instant::now();
    let requests = Arc::new(signed_requests(entries, &host)?);
    let prepare_s = t0.elapsed().as_secs_f64();
    let tally = crate::runtime()?.block_on(load(addr, requests, concurrency));
    let logged = tally.status.get(&201).copied().unwrap_or(0);
    let mut lat = tally.latencies_us;
    lat.sort_unstable();
    Ok(RekorReport {
        server: server.to_owned(),
        entries,
        concurrency,
        prepare_s,
        seconds: tally.elapsed_s,
        logged,
        entries_per_s: logged as f64 / tally.elapsed_s,
        p50_ms: percentile_ms(&lat, 0.50),
        p99_ms: percentile_ms(&lat, 0.99),
        checkpoints: tally.tree_sizes.len(),
        proofs_checked: tally.checked,
        status: crate::http::by_status(&tally.status),
        errors: tally.errors,
        bad_answers: tally.bad,
    })
}

/// One P-256 key, a certificate for it from a throwaway local CA, and `n` HTTP
/// requests each carrying a distinct digest and its signature.
fn signed_requests(n: usize, host: &str) -> Result<Vec<Vec<u8>>> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|_| prepare("cannot generate a P-256 key"))?;
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
        let sig = key.sign_digest(&d).map_err(|_| prepare("signing failed"))?;
        let body = serde_json::to_vec(&serde_json::json!({
            "hashedRekordRequestV002": {
                "digest": B64.encode(d.as_ref()),
                "signature": {"content": B64.encode(sig.as_ref()), "verifier": verifier},
            }
        }))
        .map_err(|e| prepare(&e.to_string()))?;
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
fn certificate(key: &EcdsaKeyPair) -> Result<Vec<u8>> {
    use vouch_ca::{
        CaConfig, CaMaterial, CertificateAuthority, CertificateIdentity, San, SubjectPublicKey,
        SystemClock,
    };
    let spki = key
        .public_key()
        .as_der()
        .map_err(|_| prepare("cannot encode the public key"))?;
    let pem = vouch_ca::pki::pem("PUBLIC KEY", spki.as_ref());
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let proof = key
        .sign(&rng, b"bench")
        .map_err(|_| prepare("signing failed"))?;
    let ca_err = |e: vouch_ca::CaError| prepare(&e.to_string());
    let proven = SubjectPublicKey::from_pem(&pem)
        .and_then(|k| k.prove_with_signature("bench", proof.as_ref()))
        .map_err(ca_err)?;
    let material = CaMaterial::generate(&CaConfig::default(), SystemTime::now()).map_err(ca_err)?;
    let ca = CertificateAuthority::new(material, Arc::new(SystemClock)).map_err(ca_err)?;
    let identity = CertificateIdentity {
        san: San::Uri(
            "https://github.com/vouch/bench/.github/workflows/bench.yml@refs/heads/main".into(),
        ),
        issuer: "https://vouch.invalid/bench".into(),
        extensions: Vec::new(),
    };
    Ok(ca
        .issue(&proven, &identity)
        .map_err(ca_err)?
        .certificate_der)
}

#[derive(Debug, Default)]
struct Tally {
    status: BTreeMap<u16, u64>,
    errors: u64,
    /// 201 answers whose sampled proof did not verify or that did not parse.
    bad: u64,
    checked: u64,
    tree_sizes: BTreeSet<u64>,
    latencies_us: Vec<u32>,
    elapsed_s: f64,
}

async fn load(addr: SocketAddr, requests: Arc<Vec<Vec<u8>>>, concurrency: usize) -> Tally {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (requests, next) = (Arc::clone(&requests), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            connection(addr, &requests, &next).await
        }));
    }
    let mut total = Tally::default();
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
async fn connection(addr: SocketAddr, requests: &[Vec<u8>], next: &AtomicUsize) -> Tally {
    let mut r = Tally::default();
    let mut buf = Vec::with_capacity(16 << 10);
    let mut conn: Option<TcpStream> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(req) = requests.get(i) else {
            return r;
        };
        let Some(stream) = crate::http::connected(&mut conn, addr).await else {
            r.errors += 1;
            continue;
        };
        let t0 = Instant::now();
        match crate::http::exchange(stream, req, &mut buf).await {
            Ok((status, body_at)) => {
                r.latencies_us.push(micros_since(t0));
                *r.status.entry(status).or_default() += 1;
                if status == 201 {
                    let body = buf.get(body_at..).unwrap_or_default();
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
    let rest = body.get(at..)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    std::str::from_utf8(rest.get(..end)?).ok()?.parse().ok()
}

/// Whether an answer's inclusion proof verifies for its body against its checkpoint
/// root (the checkpoint signature is the verifier's business; this checks the log
/// did the Merkle work right under load).
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
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
        for good in ["http://127.0.0.1:8080", "http://localhost:1/"] {
            assert!(parse_server(good).is_ok(), "{good}");
        }
        for bad in [
            "http://10.0.0.1:8080",
            "https://127.0.0.1:1",
            "http://127.0.0.1:1/api",
        ] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tree_size_is_found() {
        assert_eq!(tree_size(br#"{"a":1,"treeSize":"42","b":2}"#), Some(42));
        assert_eq!(tree_size(br#"{"a":1}"#), None);
    }
}
