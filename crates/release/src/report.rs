//! How the release tools' results read: the one JSON object each command prints with
//! `--json` (stable field names) and its text lines otherwise. File names and index
//! answers are untrusted text: a caller printing lines to a terminal escapes them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::check::CheckReport;
use crate::error::outcome_codes::{CHECKSUM_MISMATCH, INDEX_DRIFT};
use crate::index::{IndexReport, Limits};
use crate::seal::{Sealed, WriteSummary};
use crate::ReleaseError;

/// `"N LABEL, ..."`: each of `labels` in order with its `count`.
pub(crate) fn label_summary(labels: &[&str], count: impl Fn(&str) -> usize) -> String {
    labels
        .iter()
        .map(|l| format!("{} {l}", count(l)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `{"LABEL": N, ...}`: each of `labels` with its `count`.
pub(crate) fn label_counts(
    labels: &[&str],
    count: impl Fn(&str) -> usize,
) -> serde_json::Map<String, Value> {
    labels
        .iter()
        .map(|l| (l.to_string(), count(l).into()))
        .collect()
}

/// A sealed release as written: what `vouch release seal` reports.
#[derive(Debug, Clone)]
pub struct SealRun {
    pub dir: PathBuf,
    pub sealed: Sealed,
    pub written: WriteSummary,
    pub bytes_hashed: u64,
    /// From the start of the run (scan, hash and write).
    pub elapsed: Duration,
}

impl SealRun {
    /// Writes `sealed` into `dir` and records how long the run took since `started`.
    pub fn write(
        dir: PathBuf,
        sealed: Sealed,
        bytes_hashed: u64,
        started: Instant,
    ) -> Result<Self, ReleaseError> {
        let written = sealed.write(&dir)?;
        Ok(SealRun {
            dir,
            sealed,
            written,
            bytes_hashed,
            elapsed: started.elapsed(),
        })
    }

    /// Warnings for stderr: `.sha256` files whose asset is gone.
    pub fn warnings(&self) -> Vec<String> {
        let stale = &self.sealed.stale_sha256;
        stale
            .iter()
            .map(|s| {
                format!("warning: {s} has no asset beside it any more; delete it if it is stale")
            })
            .collect()
    }

    pub fn to_json(&self) -> Value {
        let (sealed, written) = (&self.sealed, &self.written);
        let assets: Vec<Value> = sealed.dist.assets.iter().map(|x| json!({"name": x.name.as_str(), "size": x.size, "sha256": x.sha256.to_hex(), "blake3": x.blake3.to_hex()})).collect();
        let crates: Vec<Value> = sealed.crates.iter().flat_map(|c| &c.crates).map(|c| json!({"name": c.id.name(), "version": c.id.version(), "checksum": c.checksum.to_hex(), "release_status": c.release_status.as_str()})).collect();
        json!({
            "ok": true, "dir": self.dir.display().to_string(), "tag": sealed.dist.tag,
            "commit": sealed.dist.commit, "generated_at": sealed.dist.generated_at,
            "assets": assets, "crates": crates, "written": written.written,
            "unchanged": written.unchanged, "stale_sha256": sealed.stale_sha256,
            "bytes_hashed": self.bytes_hashed, "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }

    /// One line per asset (`sha256  size  name`), then the summary with throughput.
    pub fn lines(&self) -> Vec<String> {
        let assets = &self.sealed.dist.assets;
        let mut out: Vec<String> = assets
            .iter()
            .map(|x| format!("{}  {:>12}  {}", x.sha256, x.size, x.name.as_str()))
            .collect();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let list = |names: &[String]| match names.is_empty() {
            true => "none".to_owned(),
            false => names.join(", "),
        };
        let total = self.bytes_hashed;
        out.push(format!(
            "sealed {} asset(s), {total} bytes in {secs:.2} s ({:.0} MiB/s); wrote {}; unchanged {}",
            assets.len(),
            total as f64 / secs / (1 << 20) as f64,
            list(&self.written.written),
            list(&self.written.unchanged),
        ));
        out
    }
}

impl IndexReport {
    /// `vouch release verify-index --json`; `index` names the index kind asked.
    #[allow(
        clippy::indexing_slicing,
        reason = "IndexMut on a json! object literal built here never panics"
    )]
    pub fn to_json(&self, index: &str, limits: &Limits) -> Value {
        let artifacts: Vec<Value> = self.results.iter().map(|r| r.to_json()).collect();
        let mut out = json!({
            "ok": self.passed(), "index": index, "urls": self.urls,
            "attempts": self.attempts, "limits": limits.to_json(),
            "artifacts": artifacts, "counts": self.counts_json(),
        });
        if !self.passed() {
            out["error"] = json!({"code": INDEX_DRIFT, "message": self.summary()});
        }
        out
    }

    /// One line per artifact, then the counts and attempts.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = (self.results.iter())
            .map(|r| {
                format!(
                    "{:<15}{}{}",
                    r.status.label(),
                    r.artifact,
                    r.detail(self.attempts)
                )
            })
            .collect();
        out.push(format!("{} ({} attempt(s))", self.summary(), self.attempts));
        out
    }
}

impl CheckReport {
    /// `vouch verify checksums --json` for the record at `record` (a dist manifest when
    /// `manifest`).
    #[allow(
        clippy::indexing_slicing,
        reason = "IndexMut on a json! object literal built here never panics"
    )]
    pub fn to_json(&self, record: &Path, manifest: bool, strict: bool) -> Value {
        let files: Vec<_> = self.results.iter().map(|r| r.to_json()).collect();
        let passed = self.passed(strict);
        let mut out = json!({
            "ok": passed, "record": record.display().to_string(),
            "kind": if manifest { "dist-manifest" } else { "sha256sums" },
            "strict": strict, "ignored_extra": self.ignored_extras(strict), "files": files,
            "counts": self.counts_json(),
        });
        if !passed {
            out["error"] = json!({"code": CHECKSUM_MISMATCH, "message": self.summary()});
        }
        out
    }

    /// One line per file, the counts, and how many unlisted files were not judged.
    pub fn lines(&self, strict: bool) -> Vec<String> {
        let mut out: Vec<String> = (self.results.iter())
            .map(|r| format!("{:<10}{}{}", r.status.label(), r.name, r.detail()))
            .collect();
        out.push(self.summary());
        let ignored = self.ignored_extras(strict);
        if ignored > 0 {
            out.push(format!("{ignored} file(s) not listed in the record were not checked; --strict fails on them"));
        }
        out
    }
}
