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

/// Audits `lockfile` `runs` times (at least once); every entry must verify
/// (`BENCH_E003` otherwise).
pub fn bench_audit(lockfile: &Path, runs: usize) -> Result<AuditBench> {
    let mut times = Vec::new();
    let mut entries = 0;
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let report = audit_signatures(lockfile, Network::Refill)?;
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
                "BENCH_E003",
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
