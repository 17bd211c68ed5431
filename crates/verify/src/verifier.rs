//! The [`Verifier`]: a trusted root parsed once, shared by every verification on every
//! thread, and the policy layer on top of sigstore-verify.
//!
//! sigstore-verify does the cryptography (certificate path, SCT, SET, inclusion proofs,
//! checkpoints, RFC 3161, signatures, log-entry consistency). This module decides which
//! of its checks run (always all of them), owns the identity policy (exact or anchored
//! regex, CI claims), and refuses a result unless the checks it relies on really ran.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use sigstore_crypto::CertificateInfo;
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult};

use crate::artifact::{open_file, open_stdin, Artifact, Opened};
use crate::bundle::ParsedBundle;
use crate::error::{Authority, Input, SignerKind, VerifyError};
use crate::outcome::{log_entries, Content, Signer, Verified};
use crate::policy::{CiClaim, IdentityPolicy, Policy};
use crate::tlog;
use crate::trust::TrustRoot;
use crate::upstream::map_error;

/// Verifies bundles against one trusted root. Build once, share freely: it is
/// `Send + Sync` and every method takes `&self`.
pub struct Verifier {
    inner: sigstore_verify::Verifier,
    /// The trusted root's Rekor keys, for the log checks run in [`crate::tlog`].
    rekor_keys: sigstore_crypto::Keyring,
    certificate_authorities: usize,
    /// Key IDs of the trusted root's Rekor logs.
    log_ids: Vec<Vec<u8>>,
}

/// Checked at compile time: the batch path shares one `Verifier` across threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Verifier>();
};

/// A bundle for [`Verifier::verify_many`]: JSON to parse (counted in the work) or parsed.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum BundleInput<'a> {
    /// Bundle JSON, parsed by the worker.
    Json(&'a [u8]),
    /// An already parsed bundle.
    Parsed(&'a ParsedBundle),
}

/// One verification for the batch path.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The artifact.
    pub artifact: &'a Artifact,
    /// The bundle.
    pub bundle: BundleInput<'a>,
    /// The policy.
    pub policy: &'a Policy,
}

impl Verifier {
    /// Prepares the trusted root's keys and certificates once.
    pub fn new(root: &TrustRoot) -> Result<Self, VerifyError> {
        let inner = sigstore_verify::Verifier::new(&root.root).map_err(map_error)?;
        Ok(Self {
            inner,
            rekor_keys: root
                .root
                .rekor_keys()
                .map_err(|e| VerifyError::InvalidTrustRoot {
                    detail: crate::trust::one_line(&e.to_string()),
                })?,
            certificate_authorities: root.certificate_authorities(),
            log_ids: root
                .root
                .tlogs
                .iter()
                .map(|log| log.log_id.key_id.as_bytes().to_vec())
                .collect(),
        })
    }

    /// Verifies one bundle for one artifact against a policy.
    pub fn verify(
        &self,
        artifact: &Artifact,
        bundle: &ParsedBundle,
        policy: &Policy,
    ) -> Result<Verified, VerifyError> {
        self.check_applicable(bundle, policy)?;
        let (signer, result) = match policy {
            Policy::Keyless(identity) => {
                let (result, log_verified) = self.run_keyless(artifact, bundle)?;
                if !log_verified {
                    return Err(not_checked("transparency log inclusion"));
                }
                let signer = check_keyless(&result, identity)?;
                (signer, result)
            }
            Policy::ManagedKey(key) => {
                let result = self.run_upstream(
                    artifact,
                    bundle,
                    &PublicKeyVerificationPolicy::new(key.der().clone()),
                )?;
                if !result.tlog_verified() {
                    return Err(not_checked("transparency log inclusion"));
                }
                (Signer::ManagedKey, result)
            }
        };
        // A SET and a TSA token often attest the same second; list each time once.
        let mut signing_times = result.verified_timestamps().to_vec();
        signing_times.sort_unstable();
        signing_times.dedup();
        Ok(Verified {
            bundle_version: bundle.version(),
            content: Content::of(bundle),
            signer,
            signing_times,
            log_entries: log_entries(bundle),
        })
    }

    /// Verifies many jobs on all available cores; results come back in job order.
    pub fn verify_many(&self, jobs: &[Job<'_>]) -> Vec<Result<Verified, VerifyError>> {
        self.verify_many_on(jobs, default_threads())
    }

    /// Verifies many jobs on `threads` worker threads; results come back in job order.
    ///
    /// Workers pull job indices from one atomic counter, so a slow job (a large artifact)
    /// does not hold up a fixed share of the others.
    pub fn verify_many_on(
        &self,
        jobs: &[Job<'_>],
        threads: NonZeroUsize,
    ) -> Vec<Result<Verified, VerifyError>> {
        map_on_threads(jobs, threads, |job| self.run_job(job))
    }

    fn run_job(&self, job: &Job<'_>) -> Result<Verified, VerifyError> {
        match job.bundle {
            BundleInput::Json(json) => {
                let bundle = ParsedBundle::from_json(json)?;
                self.verify(job.artifact, &bundle, job.policy)
            }
            BundleInput::Parsed(bundle) => self.verify(job.artifact, bundle, job.policy),
        }
    }

    /// Checks that need no cryptography and give a precise error: the bundle's signer
    /// kind matches the policy's, and the trusted root has the authorities it needs.
    fn check_applicable(&self, bundle: &ParsedBundle, policy: &Policy) -> Result<(), VerifyError> {
        let expected = match policy {
            Policy::Keyless(_) => SignerKind::Certificate,
            Policy::ManagedKey(_) => SignerKind::PublicKey,
        };
        let found = bundle.signer_kind();
        if found != expected {
            return Err(VerifyError::SignerKindMismatch { expected, found });
        }
        if expected == SignerKind::Certificate && self.certificate_authorities == 0 {
            return Err(VerifyError::MissingAuthority {
                authority: Authority::CertificateAuthority,
                detail: "the trusted root lists no certificate authorities".into(),
            });
        }
        // Upstream reports an entry from an unknown log as whichever check first looks
        // for its key (often the SET); name the real reason instead.
        for entry in &bundle.bundle.verification_material.tlog_entries {
            let id = entry.log_id.key_id.as_bytes();
            if !self.log_ids.iter().any(|known| known == id) {
                return Err(VerifyError::MissingAuthority {
                    authority: Authority::TransparencyLog,
                    detail: format!(
                        "the entry's log {} is not in the trusted root",
                        hex::encode(id)
                    ),
                });
            }
        }
        Ok(())
    }

    /// A keyless bundle through upstream, with identity matched afterwards by our policy
    /// layer (regexes, CI claims). Returns the result and whether log inclusion was
    /// verified. When upstream's time step verifies every SET of the bundle, its log
    /// step (which would verify each SET a second time) is replaced by
    /// [`tlog::verify_entries`]; otherwise upstream runs everything.
    fn run_keyless(
        &self,
        artifact: &Artifact,
        bundle: &ParsedBundle,
    ) -> Result<(VerificationResult, bool), VerifyError> {
        let b = &bundle.bundle;
        if !tlog::sets_verified_by_time_step(b) {
            let result =
                self.run_upstream(artifact, bundle, &VerificationPolicy::any_identity())?;
            let log_verified = result.tlog_verified();
            return Ok((result, log_verified));
        }
        // Upstream's structure check with its log step on (an inclusion proof is
        // required); with the step skipped it would no longer ask for one.
        sigstore_bundle::validate_bundle_with_options(
            b,
            &sigstore_bundle::ValidationOptions::new()
                .with_require_inclusion_proof(true)
                .with_require_timestamp(false),
        )
        .map_err(|e| map_error(sigstore_verify::Error::Bundle(e)))?;
        let policy = VerificationPolicy::any_identity().skip_tlog_unsafe();
        let result = self.run_upstream(artifact, bundle, &policy)?;
        let cert = result
            .certificate()
            .ok_or_else(|| not_checked("signing certificate"))?;
        tlog::verify_entries(b, &self.rekor_keys, cert.not_before, cert.not_after)?;
        Ok((result, true))
    }

    fn run_upstream<P: sigstore_verify::Policy>(
        &self,
        artifact: &Artifact,
        bundle: &ParsedBundle,
        policy: &P,
    ) -> Result<VerificationResult, VerifyError> {
        let inner = &self.inner;
        let b = &bundle.bundle;
        let result = match artifact {
            Artifact::Bytes(bytes) => inner.verify(&bytes[..], b, policy),
            Artifact::Digest(digest) => inner.verify(digest.clone(), b, policy),
            Artifact::File(path) => match open_file(path)? {
                Opened::Bytes(bytes) => inner.verify(&bytes[..], b, policy),
                Opened::Stream(file) => stream(inner.verify_reader(file, b, policy), path)?,
            },
            Artifact::Stdin => match open_stdin()? {
                Opened::Bytes(bytes) => inner.verify(&bytes[..], b, policy),
                Opened::Stream(input) => {
                    stream(inner.verify_reader(input, b, policy), Path::new("-"))?
                }
            },
        };
        result.map_err(map_error)
    }
}

/// Applies the identity policy to a keyless result, after confirming upstream really
/// verified the certificate chain and SCT (our policy never skips them, so a result
/// without them means an upstream behaviour change, which must fail closed). Log
/// inclusion is confirmed by the caller: it may have been checked in [`tlog`].
fn check_keyless(
    result: &VerificationResult,
    policy: &IdentityPolicy,
) -> Result<Signer, VerifyError> {
    if !result.certificate_verified() {
        return Err(not_checked("certificate chain"));
    }
    if !result.sct_verified() {
        return Err(not_checked("signed certificate timestamp"));
    }
    let cert: &CertificateInfo = result
        .certificate()
        .ok_or_else(|| not_checked("signing certificate"))?;
    let identity = cert.identity.as_ref().map(|s| s.as_str());
    let issuer = cert.issuer.as_deref();
    policy.check(identity, issuer, &cert.ci_claims)?;
    Ok(Signer::Certificate {
        // `check` succeeded, so both are present; `unwrap_or_default` keeps this total.
        identity: identity.unwrap_or_default().to_owned(),
        issuer: issuer.unwrap_or_default().to_owned(),
        claims: CiClaim::ALL
            .iter()
            .filter_map(|c| c.value(&cert.ci_claims).map(|v| (*c, v.to_owned())))
            .collect(),
    })
}

/// A streamed artifact's read error is the artifact's, named by its path.
fn stream(
    result: Result<VerificationResult, sigstore_verify::Error>,
    path: &Path,
) -> Result<Result<VerificationResult, sigstore_verify::Error>, VerifyError> {
    match result {
        Err(sigstore_verify::Error::ArtifactRead(error)) => Err(VerifyError::Read {
            input: Input::Artifact,
            path: path.to_owned(),
            error,
        }),
        other => Ok(other),
    }
}

fn not_checked(what: &str) -> VerifyError {
    VerifyError::InvalidBundle {
        detail: format!("{what} was not verified"),
    }
}

fn default_threads() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// `f` over `items` on up to `threads` scoped threads, each taking the next item, with
/// the results in the items' order. With one thread (or one item) it runs inline. A panic
/// in `f` is re-raised on the caller's thread rather than losing results silently.
pub fn map_on_threads<T: Sync, R: Send>(
    items: &[T],
    threads: NonZeroUsize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.get().min(items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut indexed: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    indexed.sort_unstable_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, r)| r).collect()
}
