//! `vouch audit signatures`: re-verifies every lockfile entry's Sigstore bundle, in
//! parallel, from the bundles and blobs cached beside the lockfile (downloading a missing
//! bundle from its registry), and reports each entry verified, unverified or mismatched.
//!
//! Also holds the checks `vouch fetch` shares: the identity policy a locked entry's
//! binding implies, and the repository/workflow claim check.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;
use vouch_verify::{
    Artifact, BundleInput, CiClaim, IdentityPolicy, Job, Matcher, Policy, PolicyField, Signer,
    TrustRoot, Verified, Verifier,
};

use super::registry_api::{get_bytes, runtime};
use crate::lockfile::{base_dir, LockedPackage, Lockfile, CACHE_DIR, DEFAULT_LOCKFILE};
use crate::output::{clean, print_json, CodedError, Exit};

/// Largest bundle the audit reads or downloads.
const MAX_BUNDLE_BYTES: u64 = 16 << 20;

/// Verify every lockfile entry's Sigstore bundle against the digest and the signer
/// identity the lockfile recorded, on all cores, with no network when the bundles are
/// cached (under .vouch/ beside the lockfile; a missing one is downloaded again).
///
/// Each entry is reported `verified`, `unverified` (locked without a verified bundle) or
/// `mismatched` (the bundle, the cached archive or the signer disagrees with the lock).
/// Exit 0 only when every entry verified; 1 otherwise.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lockfile to audit.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// What the audit found for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Verified,
    Unverified(String),
    Mismatched { code: &'static str, detail: String },
}

/// The policy a locked entry's signer must satisfy: the exact SAN and issuer the
/// registry's binding recorded.
pub fn policy_for(identity: &str, issuer: &str) -> anyhow::Result<Policy> {
    let m = |f, v: &str| {
        Matcher::exact(f, v).map_err(|e| {
            CodedError::new(
                "FETCH_E003",
                Exit::VerifyFailed,
                format!("the recorded signer is unusable as a policy: {e}"),
            )
        })
    };
    Ok(Policy::Keyless(IdentityPolicy::new(
        m(PolicyField::Identity, identity)?,
        m(PolicyField::Issuer, issuer)?,
    )))
}

/// Checks the verified certificate's repository and workflow claims against the binding
/// (repository compared case-insensitively, as the registry does). A certificate without
/// the Fulcio claim is checked through its SAN, which carries both for CI identities.
pub fn check_claims(
    verified: &Verified,
    repository: Option<&str>,
    workflow: Option<&str>,
) -> Result<(), String> {
    let Signer::Certificate {
        identity, claims, ..
    } = &verified.signer
    else {
        return Err("the bundle is not signed by a certificate".into());
    };
    let claim = |c: CiClaim| {
        claims
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_str())
    };
    if let Some(repo) = repository.filter(|r| !r.is_empty()) {
        let seen = claim(CiClaim::SourceRepository).unwrap_or(identity);
        let (seen_l, repo_l) = (seen.to_ascii_lowercase(), repo.to_ascii_lowercase());
        let ok = seen_l == repo_l
            || seen_l.ends_with(&format!("/{repo_l}"))
            || seen_l.contains(&format!("/{repo_l}/"));
        if !ok {
            return Err(format!(
                "repository claim: expected {repo}, the certificate says {seen}"
            ));
        }
    }
    if let Some(wf) = workflow.filter(|w| !w.is_empty()) {
        let candidates = [
            claim(CiClaim::BuildSigner),
            claim(CiClaim::BuildConfig),
            Some(identity.as_str()),
        ];
        if !candidates.iter().flatten().any(|v| v.contains(wf)) {
            return Err(format!(
                "workflow claim: expected {wf}, the certificate says {}",
                claim(CiClaim::BuildSigner).unwrap_or(identity)
            ));
        }
    }
    Ok(())
}

/// Where fetch caches a bundle and an archive, relative to the lockfile's directory.
pub fn bundle_rel(blake3: &str) -> String {
    format!("{CACHE_DIR}/bundles/{blake3}.sigstore")
}

/// The cached archive path, relative to the lockfile's directory.
pub fn blob_rel(blake3: &str) -> String {
    format!("{CACHE_DIR}/blobs/{blake3}")
}

/// Streams a file and returns (size, sha256 hex, blake3 hex).
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String, String)> {
    use sha2::Digest as _;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let (mut s, mut b, mut n) = (sha2::Sha256::new(), blake3::Hasher::new(), 0u64);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        s.update(&buf[..k]);
        b.update(&buf[..k]);
        n += k as u64;
    }
    Ok((
        n,
        hex::encode(s.finalize()),
        b.finalize().to_hex().to_string(),
    ))
}

struct Prepared {
    bundle: Option<Vec<u8>>,
    artifact: Option<Artifact>,
    policy: Option<Policy>,
    early: Option<Status>,
}

fn prepare(dir: &Path, p: &LockedPackage) -> Prepared {
    let mut out = Prepared {
        bundle: None,
        artifact: None,
        policy: None,
        early: None,
    };
    let Some(rel) = p.bundle.as_deref().filter(|_| p.sigstore_verified) else {
        out.early = Some(Status::Unverified(
            "locked without a verified Sigstore bundle".into(),
        ));
        return out;
    };
    let blob = dir.join(blob_rel(&p.blake3));
    if blob.exists() {
        match hash_file(&blob) {
            Ok((size, sha, b3)) if size == p.size && sha == p.sha256 && b3 == p.blake3 => {}
            Ok((size, sha, _)) => {
                out.early = Some(Status::Mismatched {
                    code: "FETCH_E001",
                    detail: format!(
                        "cached archive is {size} bytes sha256 {sha}, the lock says {} bytes sha256 {}",
                        p.size, p.sha256
                    ),
                });
                return out;
            }
            Err(e) => {
                out.early = Some(Status::Unverified(format!(
                    "cannot read the cached archive: {e}"
                )));
                return out;
            }
        }
    }
    out.bundle = std::fs::read(dir.join(rel)).ok();
    match Artifact::parse_digest(&format!("sha256:{}", p.sha256)) {
        Ok(a) => out.artifact = Some(a),
        Err(e) => {
            out.early = Some(Status::Mismatched {
                code: e.code(),
                detail: format!("locked sha256 is unusable: {e}"),
            });
            return out;
        }
    }
    match policy_for(&p.identity, &p.issuer) {
        Ok(pol) => out.policy = Some(pol),
        Err(e) => {
            out.early = Some(Status::Mismatched {
                code: "FETCH_E003",
                detail: format!("{e:#}"),
            })
        }
    }
    out
}

/// Downloads bundles missing from the cache (and caches them).
fn refill(dir: &Path, lock: &Lockfile, prepared: &mut [Prepared]) -> anyhow::Result<()> {
    let missing: Vec<usize> = prepared
        .iter()
        .enumerate()
        .filter(|(_, p)| p.early.is_none() && p.bundle.is_none())
        .map(|(i, _)| i)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let rt = runtime()?;
    let http = super::registry_api::http()?;
    for i in missing {
        let p = &lock.packages[i];
        let url = format!("{}/blobs/{}.sigstore", p.server, p.blake3);
        match rt.block_on(get_bytes(
            &http,
            &url,
            "downloading a bundle",
            MAX_BUNDLE_BYTES,
        )) {
            Ok(bytes) => {
                if let Some(rel) = &p.bundle {
                    let _ = crate::lockfile::write_atomic(&dir.join(rel), &bytes);
                }
                prepared[i].bundle = Some(bytes);
            }
            Err(e) => {
                prepared[i].early = Some(Status::Unverified(format!(
                    "bundle not cached and not downloadable: {e:#}"
                )))
            }
        }
    }
    Ok(())
}

/// Audits every entry; results in lockfile order. A bundle missing from the cache is
/// downloaded from its registry.
pub fn audit(lockfile: &Path, lock: &Lockfile) -> anyhow::Result<Vec<Status>> {
    audit_with(lockfile, lock, true)
}

/// [`audit`] with no network: a bundle missing from the cache leaves its entry
/// unverified (`vouch lock --check --strict-sigstore`, which must run offline in CI).
pub fn audit_offline(lockfile: &Path, lock: &Lockfile) -> anyhow::Result<Vec<Status>> {
    audit_with(lockfile, lock, false)
}

fn audit_with(lockfile: &Path, lock: &Lockfile, download: bool) -> anyhow::Result<Vec<Status>> {
    let dir = base_dir(lockfile);
    let mut prepared: Vec<Prepared> = lock.packages.iter().map(|p| prepare(&dir, p)).collect();
    if download {
        refill(&dir, lock, &mut prepared)?;
    } else {
        for p in prepared.iter_mut() {
            if p.early.is_none() && p.bundle.is_none() {
                p.early = Some(Status::Unverified("bundle not cached".into()));
            }
        }
    }
    let mut statuses: Vec<Option<Status>> = prepared.iter_mut().map(|p| p.early.take()).collect();
    let mut by_server: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in lock.packages.iter().enumerate() {
        if statuses[i].is_none() {
            by_server.entry(p.server.as_str()).or_default().push(i);
        }
    }
    for (server, idx) in by_server {
        let verifier = match lock.server(server).map(|s| dir.join(&s.trusted_root)) {
            Some(path) => TrustRoot::from_file(&path)
                .and_then(|r| Verifier::new(&r))
                .map_err(|e| format!("trusted root {}: {e}", path.display())),
            None => Err(format!("no [[server]] table for {server}")),
        };
        let verifier = match verifier {
            Ok(v) => v,
            Err(why) => {
                for i in idx {
                    statuses[i] = Some(Status::Unverified(why.clone()));
                }
                continue;
            }
        };
        let jobs: Vec<Job<'_>> = idx
            .iter()
            .filter_map(|&i| {
                let p = &prepared[i];
                Some(Job {
                    artifact: p.artifact.as_ref()?,
                    bundle: BundleInput::Json(p.bundle.as_deref()?),
                    policy: p.policy.as_ref()?,
                })
            })
            .collect();
        let results = verifier.verify_many(&jobs);
        for (&i, result) in idx.iter().zip(results) {
            let p = &lock.packages[i];
            statuses[i] = Some(match result {
                Ok(v) => match check_claims(&v, p.repository.as_deref(), p.workflow.as_deref()) {
                    Ok(()) => Status::Verified,
                    Err(detail) => Status::Mismatched {
                        code: "FETCH_E003",
                        detail,
                    },
                },
                Err(e) => Status::Mismatched {
                    code: e.code(),
                    detail: e.to_string(),
                },
            });
        }
    }
    statuses
        .into_iter()
        .map(|s| s.context("internal: an entry was not audited"))
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let lock = Lockfile::load(&args.lockfile)?;
    let statuses = audit(&args.lockfile, &lock)?;
    let count = |f: fn(&Status) -> bool| statuses.iter().filter(|s| f(s)).count();
    let verified = count(|s| matches!(s, Status::Verified));
    let unverified = count(|s| matches!(s, Status::Unverified(_)));
    let mismatched = count(|s| matches!(s, Status::Mismatched { .. }));
    if args.json {
        let entries: Vec<_> = lock
            .packages
            .iter()
            .zip(&statuses)
            .map(|(p, s)| {
                let (status, code, detail) = match s {
                    Status::Verified => ("verified", None, None),
                    Status::Unverified(d) => ("unverified", None, Some(d.clone())),
                    Status::Mismatched { code, detail } => {
                        ("mismatched", Some(*code), Some(detail.clone()))
                    }
                };
                json!({"name": p.name, "version": p.version, "status": status,
                       "code": code, "detail": detail, "identity": p.identity,
                       "log_index": p.log_index})
            })
            .collect();
        print_json(&json!({
            "lockfile": args.lockfile.display().to_string(),
            "ok": verified == statuses.len(),
            "verified": verified, "unverified": unverified, "mismatched": mismatched,
            "entries": entries,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        let width = lock
            .packages
            .iter()
            .map(|p| p.id().len())
            .max()
            .unwrap_or(7)
            .max(7);
        writeln!(out, "{:<width$}  {:<10}  detail", "package", "status")?;
        for (p, s) in lock.packages.iter().zip(&statuses) {
            let (status, detail) = match s {
                Status::Verified => ("verified", p.identity.clone()),
                Status::Unverified(d) => ("unverified", d.clone()),
                Status::Mismatched { code, detail } => ("mismatched", format!("{code}: {detail}")),
            };
            // Lockfile and bundle text is untrusted: printed escaped.
            writeln!(
                out,
                "{:<width$}  {status:<10}  {}",
                clean(&p.id()),
                clean(&detail)
            )?;
        }
        writeln!(
            out,
            "{verified} verified, {unverified} unverified, {mismatched} mismatched"
        )?;
    }
    if verified == statuses.len() {
        Ok(Exit::Ok)
    } else {
        Err(CodedError::new(
            "AUDIT_E002",
            Exit::VerifyFailed,
            format!(
                "{} of {} lockfile entries did not verify ({unverified} unverified, {mismatched} mismatched)",
                statuses.len() - verified,
                statuses.len()
            ),
        )
        .into())
    }
}
