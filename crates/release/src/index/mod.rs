//! Comparing what a package index serves with what a release sealed.
//!
//! Three index shapes are understood: PyPI's JSON API ([`pypi`]), crates.io's API
//! ([`crates_io`]) and vouch's own index ([`vouch`]). Each turns one fetch into a list of
//! per-artifact verdicts; [`run`] repeats the fetch with bounded exponential backoff
//! while anything is still missing (propagation lag) or the index is temporarily down,
//! and returns the last observation. Nothing is written anywhere, so re-runs are
//! idempotent; a drifted digest is reported at once and never retried away.

pub mod crates_io;
pub mod fetch;
pub mod pypi;
pub mod query;
pub mod vouch;

use std::time::Duration;

pub use crate::check::Drift;
use crate::error::ReleaseError;
pub use fetch::{Fetched, Fetcher, Limits};
pub use query::{IndexKind, IndexQuery};

/// The labels of [`ArtifactStatus`], in report order.
pub const LABELS: [&str; 5] = ["ok", "missing", "mismatch", "unexpected", "manual_publish"];

/// The verdict for one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactStatus {
    /// Served with the sealed digest.
    Ok,
    /// In the manifest but not served, still after every retry.
    Missing,
    /// Served with a different field than the manifest records: drift.
    Mismatch(Drift),
    /// Served but not in the manifest.
    Unexpected,
    /// A crate version published by a person (or by nobody known) without trusted
    /// publishing, and not recorded as `manual_token_publish`.
    ManualPublish { publisher: Option<String> },
}

impl ArtifactStatus {
    pub fn label(&self) -> &'static str {
        match self {
            ArtifactStatus::Ok => "ok",
            ArtifactStatus::Missing => "missing",
            ArtifactStatus::Mismatch(_) => "mismatch",
            ArtifactStatus::Unexpected => "unexpected",
            ArtifactStatus::ManualPublish { .. } => "manual_publish",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactResult {
    /// File name (PyPI, vouch) or `NAME@VERSION` (crates.io).
    pub artifact: String,
    pub status: ArtifactStatus,
}

impl ArtifactResult {
    /// The row as `vouch release verify-index --json` reports it.
    #[allow(
        clippy::indexing_slicing,
        reason = "IndexMut on a json! object literal built in this function never panics"
    )]
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({"artifact": self.artifact, "status": self.status.label()});
        match &self.status {
            ArtifactStatus::Mismatch(drift) => drift.put_json(&mut v),
            ArtifactStatus::ManualPublish { publisher } => {
                v["published_by"] = publisher.clone().into();
            }
            _ => {}
        }
        v
    }

    /// What the text report prints after the artifact, given the attempts made.
    pub fn detail(&self, attempts: u32) -> String {
        match &self.status {
            ArtifactStatus::Mismatch(drift) => drift.detail(),
            ArtifactStatus::ManualPublish { publisher } => format!(
                "  published by {} with a token, not recorded as manual_token_publish",
                publisher.as_deref().unwrap_or("an unnamed user")
            ),
            ArtifactStatus::Missing => format!("  not served after {attempts} attempt(s)"),
            _ => String::new(),
        }
    }
}

/// One look at the index.
#[derive(Debug)]
pub enum Observation {
    /// The index answered; these are the verdicts.
    Seen(Vec<ArtifactResult>),
    /// The index could not be asked this time.
    Transient { url: String, detail: String },
}

/// Something that can look at an index once.
pub trait Source {
    /// The URL(s) asked, for the report.
    fn urls(&self) -> Vec<String>;
    /// One attempt. Hard errors (malformed, oversized, unexpected status) end the run.
    fn observe(&self, fetcher: &Fetcher) -> Result<Observation, ReleaseError>;
}

/// A retry about to happen, for progress output.
#[derive(Debug, Clone)]
pub struct RetryEvent {
    /// 1-based number of the retry about to run.
    pub retry: u32,
    pub of: u32,
    pub delay_ms: u64,
    pub reason: String,
}

/// The final verdict of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexReport {
    pub urls: Vec<String>,
    /// Attempts made, the first included.
    pub attempts: u32,
    /// Sorted by artifact.
    pub results: Vec<ArtifactResult>,
}

impl IndexReport {
    pub fn passed(&self) -> bool {
        !self.results.is_empty() && self.results.iter().all(|r| r.status == ArtifactStatus::Ok)
    }

    pub fn count(&self, label: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.status.label() == label)
            .count()
    }

    /// Each label of [`LABELS`] with its count.
    pub fn counts_json(&self) -> serde_json::Map<String, serde_json::Value> {
        crate::report::label_counts(&LABELS, |l| self.count(l))
    }

    /// `"N ok, N missing, N mismatch, N unexpected, N manual_publish"`.
    pub fn summary(&self) -> String {
        crate::report::label_summary(&LABELS, |l| self.count(l))
    }
}

/// Observes `source` until nothing is missing or the retries are spent.
pub fn run(
    source: &dyn Source,
    fetcher: &Fetcher,
    on_retry: &dyn Fn(&RetryEvent),
) -> Result<IndexReport, ReleaseError> {
    let limits = fetcher.limits();
    let mut attempt = 0u32;
    loop {
        let observation = source.observe(fetcher)?;
        attempt += 1;
        let reason = match &observation {
            Observation::Seen(results) => {
                let missing = results
                    .iter()
                    .filter(|r| r.status == ArtifactStatus::Missing)
                    .count();
                if missing == 0 || attempt > limits.retries {
                    let mut results = results.clone();
                    results.sort_by(|a, b| a.artifact.cmp(&b.artifact));
                    return Ok(IndexReport {
                        urls: source.urls(),
                        attempts: attempt,
                        results,
                    });
                }
                format!("{missing} artifact(s) not served yet")
            }
            Observation::Transient { url, detail } => {
                if attempt > limits.retries {
                    return Err(ReleaseError::IndexUnreachable {
                        url: url.clone(),
                        attempts: attempt,
                        detail: detail.clone(),
                    });
                }
                detail.clone()
            }
        };
        let delay_ms = limits.delay_ms(attempt - 1);
        on_retry(&RetryEvent {
            retry: attempt,
            of: limits.retries,
            delay_ms,
            reason,
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
    }
}

/// Joins a base URL and path segments (each percent-encoded).
pub(crate) fn url(base: &str, segments: &[&str]) -> String {
    let mut out = base.trim_end_matches('/').to_owned();
    for s in segments {
        out.push('/');
        out.push_str(&fetch::segment(s));
    }
    out
}

/// A malformed-response error for `url`.
pub(crate) fn malformed(url: &str, detail: impl Into<String>) -> ReleaseError {
    ReleaseError::IndexMalformed {
        url: url.to_owned(),
        detail: detail.into(),
    }
}

/// Reads a required string field of a JSON object.
pub(crate) fn str_field<'a>(
    url: &str,
    value: &'a serde_json::Value,
    path: &str,
    key: &str,
) -> Result<&'a str, ReleaseError> {
    value
        .get(key)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| malformed(url, format!("{path}.{key} is missing or not a string")))
}

/// Reads a required 64-hex-digit field and returns it lowercased.
pub(crate) fn hex_field(
    url: &str,
    value: &serde_json::Value,
    path: &str,
    key: &str,
) -> Result<String, ReleaseError> {
    let text = str_field(url, value, path, key)?;
    crate::digest::Sha256::from_hex(text)
        .map(|d| d.to_hex())
        .ok_or_else(|| malformed(url, format!("{path}.{key} is not 64 hex digits")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A source that reports `missing_for` missing observations, then all ok.
    struct Flaky {
        seen: Cell<u32>,
        missing_for: u32,
        transient: bool,
    }

    impl Source for Flaky {
        fn urls(&self) -> Vec<String> {
            vec!["test://".into()]
        }
        fn observe(&self, _: &Fetcher) -> Result<Observation, ReleaseError> {
            let n = self.seen.get();
            self.seen.set(n + 1);
            if n < self.missing_for && self.transient {
                return Ok(Observation::Transient {
                    url: "test://".into(),
                    detail: "down".into(),
                });
            }
            let status = if n < self.missing_for {
                ArtifactStatus::Missing
            } else {
                ArtifactStatus::Ok
            };
            Ok(Observation::Seen(vec![ArtifactResult {
                artifact: "a".into(),
                status,
            }]))
        }
    }

    fn fetcher(retries: u32) -> Fetcher {
        Fetcher::new(Limits {
            retries,
            backoff_ms: 1,
            max_backoff_ms: 2,
            ..Limits::default()
        })
        .unwrap()
    }

    #[test]
    fn retries_until_present_and_stops_at_the_limit() {
        let events = std::sync::Mutex::new(Vec::new());
        let log = |e: &RetryEvent| events.lock().unwrap().push(e.retry);
        let src = Flaky {
            seen: Cell::new(0),
            missing_for: 3,
            transient: false,
        };
        let report = run(&src, &fetcher(3), &log).unwrap();
        assert!(report.passed());
        assert_eq!(report.attempts, 4);
        assert_eq!(*events.lock().unwrap(), [1, 2, 3]);

        let src = Flaky {
            seen: Cell::new(0),
            missing_for: 3,
            transient: false,
        };
        let report = run(&src, &fetcher(2), &|_| {}).unwrap();
        assert_eq!(report.count("missing"), 1);
        assert_eq!(report.attempts, 3);
    }

    #[test]
    fn transient_failures_become_an_error_when_retries_run_out() {
        let src = Flaky {
            seen: Cell::new(0),
            missing_for: 9,
            transient: true,
        };
        let err = run(&src, &fetcher(2), &|_| {}).unwrap_err();
        assert_eq!(err.code(), "RELEASE_E007");
        let src = Flaky {
            seen: Cell::new(0),
            missing_for: 1,
            transient: true,
        };
        assert!(run(&src, &fetcher(2), &|_| {}).unwrap().passed());
    }
}
