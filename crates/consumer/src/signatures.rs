//! `audit signatures`: re-verifies every lockfile entry's Sigstore bundle offline, from
//! the bundles and archives cached beside the lockfile, and reports each entry
//! verified, unverified or mismatched.
//!
//! Scale: entries are verified on all cores, each worker taking the next entry, hashing
//! its cached archive, reading and verifying its bundle and keeping only the verdict;
//! so memory holds one bundle per worker, not one per entry. Only bundle-independent
//! material is shared: one parsed trusted root (a [`Verifier`]) per registry. Verdicts
//! are never cached: every run verifies every bundle again.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::Path;

use serde_json::json;
use vouch_api_client::{get_bytes, http, CodedError, Result};
use vouch_policy::PolicyFile;
use vouch_verify::{Artifact, ParsedBundle, TrustRoot, Verifier};

use crate::claims::{check_claims, policy_for, RecordedBinding};
use crate::fetch::MAX_BUNDLE_BYTES;
use crate::lockfile::{base_dir, blob_rel, hash_file, write_atomic, LockedPackage, Lockfile};

/// What the audit found for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The bundle verified against the locked digest, signer and binding.
    Verified,
    /// The entry could not be checked (locked without a verified bundle, bundle
    /// missing, trusted root unusable); the text says why.
    Unverified(String),
    /// The bundle, the cached archive or the signer disagrees with the lock.
    Mismatched { code: &'static str, detail: String },
}

/// Whether an audit may download a bundle missing from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Download missing bundles from their registry (and cache them).
    Refill,
    /// Files only: a missing bundle leaves its entry unverified (for CI checks).
    Offline,
}

/// The audit's result: the lockfile it read and one status per entry, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    pub lock: Lockfile,
    pub statuses: Vec<Status>,
}

impl SignatureReport {
    /// Entries verified, unverified, mismatched.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Status) -> bool| self.statuses.iter().filter(|s| f(s)).count();
        (
            count(|s| matches!(s, Status::Verified)),
            count(|s| matches!(s, Status::Unverified(_))),
            count(|s| matches!(s, Status::Mismatched { .. })),
        )
    }

    /// Whether every entry verified.
    pub fn all_verified(&self) -> bool {
        self.statuses.iter().all(|s| matches!(s, Status::Verified))
    }

    /// The refusal a command exits with (`AUDIT_E002`) unless every entry verified.
    pub fn error(&self) -> Option<CodedError> {
        let (verified, unverified, mismatched) = self.counts();
        let total = self.statuses.len();
        (!self.all_verified()).then(|| {
            CodedError::refused(
                vouch_tiles_client::ops::AUDIT_UNVERIFIED,
                format!(
                    "{} of {total} lockfile entries did not verify ({unverified} unverified, {mismatched} mismatched)",
                    total - verified
                ),
            )
        })
    }

    /// The report as `vouch audit signatures --json` prints it.
    pub fn to_json(&self, lockfile: &Path) -> serde_json::Value {
        let (verified, unverified, mismatched) = self.counts();
        let rows = self.lock.packages.iter().zip(&self.statuses);
        let entries: Vec<_> = rows
            .map(|(p, s)| {
                let (status, code, detail) = s.parts();
                json!({"name": p.name, "version": p.version, "status": status,
                       "code": code, "detail": detail, "identity": p.identity,
                       "log_index": p.log_index})
            })
            .collect();
        json!({
            "lockfile": lockfile.display().to_string(),
            "ok": self.all_verified(),
            "verified": verified, "unverified": unverified, "mismatched": mismatched,
            "entries": entries,
        })
    }

    /// The report as `vouch audit signatures` prints it: a table of package, status and
    /// detail (the mismatch code and why, or the signer), then the counts. Lockfile and
    /// bundle text is untrusted: a caller printing to a terminal escapes each line.
    pub fn lines(&self) -> Vec<String> {
        let ids = self.lock.packages.iter().map(|p| p.id().len());
        let width = ids.max().unwrap_or(7).max(7);
        let mut out = Vec::with_capacity(self.statuses.len() + 2);
        out.push(format!("{:<width$}  {:<10}  detail", "package", "status"));
        for (p, s) in self.lock.packages.iter().zip(&self.statuses) {
            let (status, detail) = match s.parts() {
                (w, Some(code), Some(d)) => (w, format!("{code}: {d}")),
                (w, None, Some(d)) => (w, d.to_owned()),
                (w, _, None) => (w, p.identity.clone()),
            };
            out.push(format!("{:<width$}  {status:<10}  {detail}", p.id()));
        }
        let (verified, unverified, mismatched) = self.counts();
        out.push(format!(
            "{verified} verified, {unverified} unverified, {mismatched} mismatched"
        ));
        out
    }
}

impl Status {
    /// The status word, the mismatch code and the detail.
    pub fn parts(&self) -> (&'static str, Option<&'static str>, Option<&str>) {
        match self {
            Status::Verified => ("verified", None, None),
            Status::Unverified(d) => ("unverified", None, Some(d)),
            Status::Mismatched { code, detail } => ("mismatched", Some(*code), Some(detail)),
        }
    }
}

/// Reads the lockfile at `path` and audits every entry's signature; with a policy file,
/// every entry's signer must also be one of the policy's rules for its package name
/// (`POLICY_E003`/`POLICY_E004` mismatches otherwise). With `trusted_root` (a
/// `trusted_root.json`, e.g. an instance's root verified through TUF), every entry is
/// verified against it instead of the root cached beside the lockfile.
pub fn audit_signatures(
    path: &Path,
    network: Network,
    policy: Option<&PolicyFile>,
    trusted_root: Option<&Path>,
) -> Result<SignatureReport> {
    let lock = Lockfile::load(path)?;
    let statuses = audit(path, &lock, network, policy, trusted_root)?;
    Ok(SignatureReport { lock, statuses })
}

/// Why the cached trusted root of `server` is not the one the lockfile recorded
/// (`trusted_root_sha256`), if it is not; lockfiles without a digest are not checked.
fn root_tampered(dir: &Path, server: &crate::lockfile::ServerEntry) -> Option<String> {
    let recorded = server.trusted_root_sha256.as_deref()?;
    let path = dir.join(&server.trusted_root);
    let found = std::fs::read(&path).map(|b| crate::fetch::root_digest(&b));
    match found {
        Ok(d) if d == recorded => None,
        Ok(d) => Some(format!(
            "expected the cached trusted root {} to be {recorded}, found {d}",
            path.display()
        )),
        Err(e) => Some(format!(
            "expected the cached trusted root {}: {e}",
            path.display()
        )),
    }
}

/// One entry's outcome before any download: a verdict, or "the bundle is not cached".
enum Pass {
    Done(Status),
    NeedsBundle,
}

/// Audits every entry of `lock` (read from `lockfile`); statuses in lockfile order.
/// `trusted_root` replaces every registry's cached root (and its recorded-digest check:
/// the root given is the one trusted now).
#[allow(
    clippy::indexing_slicing,
    reason = "statuses has one slot per lock.packages entry and every index comes from enumerating lock.packages"
)]
pub fn audit(
    lockfile: &Path,
    lock: &Lockfile,
    network: Network,
    policy: Option<&PolicyFile>,
    trusted_root: Option<&Path>,
) -> Result<Vec<Status>> {
    let dir = base_dir(lockfile);
    let mut statuses: Vec<Option<Status>> = vec![None; lock.packages.len()];
    let mut by_server: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in lock.packages.iter().enumerate() {
        by_server.entry(p.server.as_str()).or_default().push(i);
    }
    let threads = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    for (server, idx) in by_server {
        // The trusted root is parsed once per registry: bundle-independent material.
        let root_path = match trusted_root {
            Some(given) => Some(given.to_owned()),
            None => lock.server(server).map(|s| dir.join(&s.trusted_root)),
        };
        let verifier = match root_path {
            Some(path) => TrustRoot::from_file(&path)
                .and_then(|r| Verifier::new(&r))
                .map_err(|e| format!("trusted root {}: {e}", path.display())),
            None => Err(format!("no [[server]] table for {server}")),
        };
        // A cached root that is not the one the lockfile recorded: nothing verifies.
        let tampered = lock
            .server(server)
            .filter(|_| trusted_root.is_none())
            .and_then(|s| root_tampered(&dir, s));
        if let Some(detail) = tampered {
            for &i in &idx {
                statuses[i] = Some(Status::Mismatched {
                    code: vouch_tiles_client::ops::AUDIT_ROOT_CHANGED,
                    detail: detail.clone(),
                });
            }
            continue;
        }
        let passes = run_parallel(&idx, threads, |i| {
            first_pass(&dir, &lock.packages[i], verifier.as_ref(), policy)
        });
        let mut missing = Vec::new();
        for (&i, pass) in idx.iter().zip(passes) {
            match pass {
                Pass::Done(s) => statuses[i] = Some(s),
                Pass::NeedsBundle => missing.push(i),
            }
        }
        if missing.is_empty() {
            continue;
        }
        let Ok(verifier) = verifier.as_ref() else {
            continue; // every entry already carries the trusted root's reason
        };
        match network {
            Network::Offline => {
                for i in missing {
                    statuses[i] = Some(Status::Unverified("bundle not cached".into()));
                }
            }
            Network::Refill => {
                for (i, s) in refill(&dir, lock, &missing, verifier, policy)? {
                    statuses[i] = Some(s);
                }
            }
        }
    }
    Ok(statuses
        .into_iter()
        .map(|s| {
            s.unwrap_or_else(|| Status::Unverified("internal: the entry was not audited".into()))
        })
        .collect())
}

/// Runs `f` over `idx` on `threads` workers taking the next index from one counter;
/// results come back in `idx` order.
fn run_parallel<T: Send>(
    idx: &[usize],
    threads: NonZeroUsize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    vouch_verify::map_on_threads(idx, threads, |&i| f(i))
}

/// Checks the cached archive and, when the bundle is cached, verifies it.
fn first_pass(
    dir: &Path,
    p: &LockedPackage,
    verifier: std::result::Result<&Verifier, &String>,
    policy: Option<&PolicyFile>,
) -> Pass {
    let Some(rel) = p.bundle.as_deref().filter(|_| p.sigstore_verified) else {
        return Pass::Done(Status::Unverified(
            "locked without a verified Sigstore bundle".into(),
        ));
    };
    let blob = dir.join(blob_rel(&p.blake3));
    if blob.exists() {
        match hash_file(&blob) {
            Ok((size, sha, b3)) if size == p.size && sha == p.sha256 && b3 == p.blake3 => {}
            Ok((size, sha, _)) => {
                return Pass::Done(Status::Mismatched {
                    code: "FETCH_E001",
                    detail: format!(
                    "cached archive is {size} bytes sha256 {sha}, the lock says {} bytes sha256 {}",
                    p.size, p.sha256
                ),
                })
            }
            Err(e) => {
                return Pass::Done(Status::Unverified(format!(
                    "cannot read the cached archive: {e}"
                )))
            }
        }
    }
    let verifier = match verifier {
        Ok(v) => v,
        Err(why) => return Pass::Done(Status::Unverified(why.clone())),
    };
    match std::fs::read(dir.join(rel)) {
        Ok(bundle) => Pass::Done(verify_entry(verifier, p, &bundle, policy)),
        Err(_) => Pass::NeedsBundle,
    }
}

/// Verifies one entry's bundle against its locked digest, signer and binding, and
/// the policy file's rules for its package name when one is given.
pub fn verify_entry(
    verifier: &Verifier,
    p: &LockedPackage,
    bundle: &[u8],
    policy: Option<&PolicyFile>,
) -> Status {
    let artifact = match Artifact::parse_digest(&format!("sha256:{}", p.sha256)) {
        Ok(a) => a,
        Err(e) => {
            return Status::Mismatched {
                code: e.code(),
                detail: format!("locked sha256 is unusable: {e}"),
            }
        }
    };
    let signer_policy = match policy_for(&p.identity, &p.issuer) {
        Ok(pol) => pol,
        Err(e) => {
            return Status::Mismatched {
                code: "FETCH_E003",
                detail: e.to_string(),
            }
        }
    };
    let verified = ParsedBundle::from_json(bundle)
        .and_then(|parsed| verifier.verify(&artifact, &parsed, &signer_policy));
    match verified {
        Ok(v) => {
            let binding = RecordedBinding {
                provider: p.provider.as_deref(),
                repository: p.repository.as_deref(),
                workflow: p.workflow.as_deref(),
            };
            if let Err(e) = check_claims(&v, binding) {
                return Status::Mismatched {
                    code: "FETCH_E003",
                    detail: e.message,
                };
            }
            match policy.map(|pol| pol.check(&p.name, &v.signer)) {
                Some(Err(e)) => Status::Mismatched {
                    code: e.code(),
                    detail: e.to_string(),
                },
                _ => Status::Verified,
            }
        }
        Err(e) => Status::Mismatched {
            code: e.code(),
            detail: e.to_string(),
        },
    }
}

/// Downloads the bundles missing from the cache (caching them) and verifies them.
#[allow(
    clippy::indexing_slicing,
    reason = "missing holds indices of lock.packages (from audit's enumerate)"
)]
fn refill(
    dir: &Path,
    lock: &Lockfile,
    missing: &[usize],
    verifier: &Verifier,
    policy: Option<&PolicyFile>,
) -> Result<Vec<(usize, Status)>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            vouch_api_client::CodedError::error(
                vouch_api_client::codes::REG_UNREACHABLE,
                format!("starting the async runtime: {e}"),
            )
        })?;
    let http = http()?;
    let mut out = Vec::new();
    for &i in missing {
        let p = &lock.packages[i];
        let url = format!("{}/blobs/{}.sigstore", p.server, p.blake3);
        let status = match rt.block_on(get_bytes(
            &http,
            &url,
            "downloading a bundle",
            MAX_BUNDLE_BYTES,
        )) {
            Ok(bytes) => {
                if let Some(rel) = &p.bundle {
                    // The cache is a convenience: a failed write only costs a download.
                    let _ = write_atomic(&dir.join(rel), &bytes);
                }
                verify_entry(verifier, p, &bytes, policy)
            }
            Err(e) => Status::Unverified(format!("bundle not cached and not downloadable: {e}")),
        };
        out.push((i, status));
    }
    Ok(out)
}
