//! The audit benchmark: times [`crate::audit_signatures`], the function `vouch audit
//! signatures` calls, over a lockfile whose bundles and archives are cached.

use std::path::Path;
use std::time::Instant;

use vouch_api_client::{CodedError, Result};

use crate::signatures::{audit_signatures, Network, Status};

/// The figures of one audit benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditBench {
    pub entries: usize,
    pub threads: usize,
    /// Wall time of each run (parse the lockfile, load the trusted root, hash every
    /// cached archive, read and verify every bundle).
    pub runs_seconds: Vec<f64>,
    pub median_seconds: f64,
}

impl AuditBench {
    /// `vouch bench audit`'s JSON object; `lockfile` is the one the entries came from.
    pub fn to_json(&self, lockfile: &Path) -> serde_json::Value {
        serde_json::json!({
            "bench": "audit-signatures",
            "lockfile": lockfile.display().to_string(),
            "entries": self.entries,
            "threads": self.threads,
            "runs_seconds": self.runs_seconds,
            "median_seconds": self.median_seconds,
            "entries_per_sec": self.entries as f64 / self.median_seconds,
        })
    }
}

/// Audits `lockfile` `runs` times (at least once); every entry must verify
/// (`BENCH_E003` otherwise).
pub fn bench_audit(lockfile: &Path, runs: usize) -> Result<AuditBench> {
    let mut times = Vec::new();
    let mut entries = 0;
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let report = audit_signatures(lockfile, Network::Refill, None, None)?;
        times.push(t0.elapsed().as_secs_f64());
        entries = report.statuses.len();
        if let Some((p, s)) = report
            .lock
            .packages
            .iter()
            .zip(&report.statuses)
            .find(|(_, s)| !matches!(s, Status::Verified))
        {
            return Err(CodedError::refused(
                vouch_api_client::codes::BENCH_AUDIT_FAILED,
                format!("{} did not verify during the bench: {s:?}", p.id()),
            ));
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    Ok(AuditBench {
        entries,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        runs_seconds: times,
        median_seconds: median,
    })
}

/// Builds an `n`-entry lockfile in `dir` from the verified entries of `source` (one
/// fetched with `vouch fetch`, say): entry `i` is a copy of source entry `i mod len`
/// renamed `@bench/audit-i`, sharing its cached bundle and archive. Every copy is
/// verified on its own by the audit (verdicts are never cached), so the audit's cost
/// grows with `n` as it would for `n` distinct packages. Returns the new lockfile's path.
#[allow(
    clippy::indexing_slicing,
    reason = "verified is not empty: checked above"
)]
pub fn replicate_lockfile(source: &Path, dir: &Path, n: usize) -> Result<std::path::PathBuf> {
    use crate::lockfile::{base_dir, write_atomic, Lockfile};
    let src = Lockfile::load(source)?;
    let verified: Vec<_> = src
        .packages
        .iter()
        .filter(|p| p.sigstore_verified && p.bundle.is_some())
        .collect();
    if verified.is_empty() {
        return Err(CodedError::error(
            vouch_api_client::codes::BENCH_BAD_ARGS,
            format!("{} has no verified entry to replicate", source.display()),
        ));
    }
    let from = base_dir(source);
    let mut out = Lockfile {
        servers: src.servers.clone(),
        ..Lockfile::default()
    };
    let mut files: Vec<String> = out.servers.iter().map(|s| s.trusted_root.clone()).collect();
    for i in 0..n {
        let mut p = verified[i % verified.len()].clone();
        files.push(crate::lockfile::blob_rel(&p.blake3));
        files.extend(p.bundle.clone());
        p.name = format!("@bench/audit-{i}");
        out.packages.push(p);
    }
    files.sort();
    files.dedup();
    for rel in files {
        let (a, b) = (from.join(&rel), dir.join(&rel));
        if a.is_file() {
            let bytes = std::fs::read(&a).map_err(|e| {
                CodedError::error(
                    vouch_api_client::codes::BENCH_BAD_ARGS,
                    format!("reading {}: {e}", a.display()),
                )
            })?;
            write_atomic(&b, &bytes)?;
        }
    }
    let path = dir.join(crate::lockfile::DEFAULT_LOCKFILE);
    out.save(&path)?;
    Ok(path)
}
