//! `vouch bench verify`: one bundle verified over and over through the batch path
//! ([`Verifier::verify_many_on`]: one shared verifier, every worker parsing the bundle
//! JSON afresh, as a lockfile audit does), after the bundle has verified once through
//! [`vouch_verify::verify_request`], the function `vouch verify` calls. The same run
//! measures the floor: the signature verifications one such bundle needs, done with the
//! same crypto library (aws-lc-rs) in a tight loop on the same number of threads.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::Serialize;
use serde_json::Value;
use vouch_verify::{
    limits, verify_request, Artifact, BundleInput, Input, Job, PolicySpec, TrustSpec, Verifier,
};

use crate::{failed, refuse, Result};

/// What to verify, how long, on how many threads.
#[derive(Debug, Clone)]
pub struct VerifyBench {
    /// The bundle file.
    pub bundle: PathBuf,
    /// The artifact: a path (read once into memory) or `sha256:<64 hex>`.
    pub artifact: String,
    /// Who must have signed.
    pub policy: PolicySpec,
    /// Which instance to trust.
    pub trust: TrustSpec,
    /// How long to measure verification (the floor gets half as long, at least 0.2 s).
    pub seconds: f64,
    /// Worker threads, for both measurements.
    pub threads: NonZeroUsize,
}

/// The figures of a run (`vouch bench verify --json`).
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub verifies_per_s: f64,
    pub threads: usize,
    pub verifies: usize,
    pub seconds: f64,
    pub bundle: String,
    /// Bundles' worth of signature verifications per second (see [`floor_checks`]).
    pub floor_verifies_per_s: f64,
    /// `verifies_per_s / floor_verifies_per_s`: 1 would be verification at the speed
    /// of its signature checks alone.
    pub ratio_to_floor: f64,
    /// The signature verifications the floor counts for one bundle.
    pub floor_checks: Vec<String>,
}

/// The one-line summary `vouch bench verify` prints.
impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} verifies/s on {} threads ({} in {:.2} s); floor {:.1}/s, {:.0}% of it",
            self.verifies_per_s,
            self.threads,
            self.verifies,
            self.seconds,
            self.floor_verifies_per_s,
            self.ratio_to_floor * 100.0
        )
    }
}

/// Jobs per batch per thread: large enough that thread start-up, the batch's tail (one
/// worker finishing its last job while the other waits) and dropping the results on the
/// calling thread are noise, as they are for an audit, which runs one batch of every
/// entry; small enough that the run ends close to `seconds` (about 0.15 s per batch).
const JOBS_PER_THREAD: usize = 256;

/// Verifies the bundle once through the command's path (its error, coded, if it does
/// not verify: failure paths stop early and would flatter), then measures.
pub fn run(bench: &VerifyBench) -> Result<VerifyReport> {
    if bench.artifact == "-" {
        return Err(refuse(
            "bench verify reads the artifact many times: give a file or a digest, not -",
        ));
    }
    verify_request(&bench.artifact, &bench.bundle, &bench.policy, &bench.trust)?;
    let policy = bench.policy.build()?;
    let verifier = Verifier::new(&bench.trust.load()?)?;
    let artifact = match Artifact::from_file_or_digest(&bench.artifact)? {
        Artifact::File(path) => Artifact::bytes(limits::read_limited(&path, Input::Artifact)?),
        other => other,
    };
    let bundle_json = limits::read_limited(&bench.bundle, Input::Bundle)?;
    let checks = floor_checks(&bundle_json)?;

    let threads = bench.threads;
    let job = Job {
        artifact: &artifact,
        bundle: BundleInput::Json(&bundle_json),
        policy: &policy,
    };
    let jobs = vec![job; JOBS_PER_THREAD * threads.get()];
    let budget = Duration::from_secs_f64(bench.seconds.clamp(0.1, 3600.0));
    let start = Instant::now();
    let mut verified = 0usize;
    while start.elapsed() < budget {
        for result in verifier.verify_many_on(&jobs, threads) {
            result?;
            verified += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let per_s = verified as f64 / elapsed;
    let hashed = match &artifact {
        Artifact::Bytes(bytes) => Some(&bytes[..]),
        _ => None,
    };
    let floor_budget = budget.mul_f64(0.5).max(Duration::from_millis(200));
    let floor = floor_rate(&checks, hashed, threads, floor_budget)?;
    let mut floor_checks: Vec<String> = checks.iter().map(|c| c.name.clone()).collect();
    if let Some(bytes) = hashed {
        floor_checks.push(format!("artifact SHA-256 ({} bytes)", bytes.len()));
    }
    Ok(VerifyReport {
        verifies_per_s: round(per_s, 10.0),
        threads: threads.get(),
        verifies: verified,
        seconds: round(elapsed, 1000.0),
        bundle: bench.bundle.display().to_string(),
        floor_verifies_per_s: round(floor, 10.0),
        ratio_to_floor: round(per_s / floor, 1000.0),
        floor_checks,
    })
}

fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

/// The key types the floor signs and verifies with.
#[derive(Debug, Clone, Copy)]
enum Alg {
    P256,
    P384,
    Ed25519,
}

/// One signature verification of the floor: a fresh key of the check's type, a message
/// of the size the real check covers, and a valid signature over it.
struct Check {
    name: String,
    alg: &'static dyn signature::VerificationAlgorithm,
    public_key: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl Check {
    fn new(what: &str, alg: Alg, message_len: usize) -> Result<Self> {
        let rng = SystemRandom::new();
        let mut message = vec![0u8; message_len.max(1)];
        rng.fill(&mut message)
            .map_err(|e| failed("making the floor", e))?;
        let sign_err = |e: aws_lc_rs::error::Unspecified| failed("making the floor", e);
        let (verify_alg, public_key, signature): (
            &'static dyn signature::VerificationAlgorithm,
            _,
            _,
        ) = match alg {
            Alg::P256 | Alg::P384 => {
                let (signing, verifying) = match alg {
                    Alg::P256 => (
                        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                        &signature::ECDSA_P256_SHA256_ASN1,
                    ),
                    _ => (
                        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                        &signature::ECDSA_P384_SHA384_ASN1,
                    ),
                };
                let key = EcdsaKeyPair::generate(signing).map_err(sign_err)?;
                let sig = key.sign(&rng, &message).map_err(sign_err)?;
                (
                    verifying,
                    key.public_key().as_ref().to_vec(),
                    sig.as_ref().to_vec(),
                )
            }
            Alg::Ed25519 => {
                let key = Ed25519KeyPair::generate().map_err(sign_err)?;
                let sig = key.sign(&message);
                (
                    &signature::ED25519,
                    key.public_key().as_ref().to_vec(),
                    sig.as_ref().to_vec(),
                )
            }
        };
        Ok(Check {
            name: format!("{what} ({alg:?}, {message_len} bytes)"),
            alg: verify_alg,
            public_key,
            message,
            signature,
        })
    }

    fn verify(&self) -> bool {
        UnparsedPublicKey::new(self.alg, &self.public_key)
            .verify(&self.message, &self.signature)
            .is_ok()
    }
}

/// The signature verifications the bundle needs, with the message sizes it implies:
/// for a certificate, its chain link (Fulcio's P-384 intermediate signing the leaf's
/// TBS) and its SCT (the CT log's P-256 key over the precertificate); per log entry, its
/// SET (P-256 over the canonical payload) and its checkpoint (P-256 for Rekor v1,
/// Ed25519 for Rekor v2 logs, as the public-good instance runs them); per RFC 3161
/// token, its signature and its certificate's link (P-384); and the artifact signature
/// (P-256 over the digest, or over the DSSE PAE). [`floor_rate`] also hashes the
/// artifact once per bundle, as verification must.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
fn floor_checks(bundle_json: &[u8]) -> Result<Vec<Check>> {
    let bad = |what: &str| refuse(format!("the bundle has no readable {what} for the floor"));
    let b: Value = serde_json::from_slice(bundle_json).map_err(|_| bad("JSON"))?;
    let material = &b["verificationMaterial"];
    let b64_len = |v: &Value| v.as_str().map_or(0, |s| s.len() / 4 * 3);
    let mut checks = Vec::new();
    let cert = material["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| material["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str());
    if let Some(cert) = cert {
        let len = cert.len() / 4 * 3;
        checks.push(Check::new("certificate chain", Alg::P384, len)?);
        checks.push(Check::new("SCT", Alg::P256, len)?);
    }
    for entry in material["tlogEntries"].as_array().into_iter().flatten() {
        let body = b64_len(&entry["canonicalizedBody"]);
        if entry.get("inclusionPromise").is_some() {
            checks.push(Check::new("SET", Alg::P256, body * 4 / 3 + 150)?);
        }
        if let Some(envelope) = entry["inclusionProof"]["checkpoint"]["envelope"].as_str() {
            let v2 = entry["kindVersion"]["version"].as_str() == Some("0.0.2")
                && entry["kindVersion"]["kind"].as_str() == Some("hashedrekord");
            let alg = if v2 { Alg::Ed25519 } else { Alg::P256 };
            checks.push(Check::new("checkpoint", alg, envelope.len())?);
        }
    }
    let timestamps = material["timestampVerificationData"]["rfc3161Timestamps"]
        .as_array()
        .map_or(0, Vec::len);
    for _ in 0..timestamps {
        checks.push(Check::new("timestamp signature", Alg::P384, 200)?);
        checks.push(Check::new("timestamp certificate", Alg::P384, 600)?);
    }
    let signed_len = match b["dsseEnvelope"]["payload"].as_str() {
        Some(payload) => payload.len() / 4 * 3 + 64,
        None => 32,
    };
    checks.push(Check::new("artifact signature", Alg::P256, signed_len)?);
    if checks.iter().any(|c| !c.verify()) {
        return Err(failed(
            "making the floor",
            "a floor signature does not verify",
        ));
    }
    Ok(checks)
}

/// Bundles' worth of `checks` (and a SHA-256 of `artifact`) per second on `threads`
/// threads for about `budget`.
fn floor_rate(
    checks: &[Check],
    artifact: Option<&[u8]>,
    threads: NonZeroUsize,
    budget: Duration,
) -> Result<f64> {
    let done = AtomicU64::new(0);
    let all_ok = std::sync::atomic::AtomicBool::new(true);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads.get() {
            scope.spawn(|| {
                let mut n = 0u64;
                while start.elapsed() < budget {
                    for _ in 0..16 {
                        if let Some(bytes) = artifact {
                            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
                            std::hint::black_box(d);
                        }
                        if !checks.iter().all(Check::verify) {
                            all_ok.store(false, Ordering::Relaxed);
                        }
                        n += 1;
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    if !all_ok.load(Ordering::Relaxed) {
        return Err(failed(
            "measuring the floor",
            "a floor signature stopped verifying",
        ));
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed)
}
