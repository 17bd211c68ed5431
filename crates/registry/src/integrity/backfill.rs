//! The integrity backfill: records every release and package version that has no integrity record, in a background task, idempotently, reporting through the audit log.
//!
//! - A release is recorded from the asset observations stored at ingest (assets over
//!   the hash budget stay unhashed: counted as `skipped`).
//! - A package version is re-hashed from its stored blob; the digests must equal the
//!   index entry's (a mismatch is an error, audited `package.blob_mismatch`, and
//!   nothing is signed).
//!
//! Audit: `release.backfill_started`, `release.backfill_progress` every
//! [`PROGRESS_EVERY`] subjects, and `release.backfill_run` with
//! `{processed, skipped, errors}` at the end. A second run right after finds nothing
//! to do (`processed: 0`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;
use vouch_integrity::{AssetEntry, AssetHasher, Subject};
use vouch_store::meta::{AssetStatus, ReleaseRow, UnrecordedVersion};

use super::audit;
use super::error::BootError;
use super::records::{record_package, sign_and_log};
use crate::AppState;

/// Subjects fetched per page.
const PAGE: u32 = 100;
/// A progress event every this many subjects.
pub const PROGRESS_EVERY: u64 = 100;

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// Records made.
    pub processed: u64,
    /// Assets left unhashed (over the budget).
    pub skipped: u64,
    pub errors: u64,
}

/// Whether any release or version lacks a record.
pub async fn lagging(state: &AppState) -> Result<bool, BootError> {
    Ok(!state
        .meta
        .releases_without_integrity(0, 1)
        .await?
        .is_empty()
        || !state
            .meta
            .versions_without_integrity(0, 1)
            .await?
            .is_empty())
}

/// Starts a run in the background unless one is running; returns whether it started.
pub fn spawn(state: Arc<AppState>, actor: String) -> bool {
    if state
        .integrity
        .backfill_running
        .swap(true, Ordering::AcqRel)
    {
        return false;
    }
    tokio::spawn(async move {
        let report = run(&state, &actor).await;
        state
            .integrity
            .backfill_running
            .store(false, Ordering::Release);
        tracing::info!(?report, "integrity backfill finished");
    });
    true
}

/// One full run (callers normally go through [`spawn`]).
pub async fn run(state: &AppState, actor: &str) -> BackfillReport {
    let _ = audit::record(
        state,
        "release.backfill_started",
        Some(actor),
        None,
        json!({}),
    )
    .await;
    let mut report = BackfillReport::default();
    let mut seen = 0u64;
    let mut after = 0i64;
    loop {
        let page = match state.meta.releases_without_integrity(after, PAGE).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "backfill: listing releases failed");
                report.errors += 1;
                break;
            }
        };
        let Some(last) = page.last() else { break };
        after = last.id;
        for release in &page {
            match record_release(state, release).await {
                Ok((made, skipped)) => {
                    report.processed += u64::from(made);
                    report.skipped += skipped;
                }
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(release = release.id, code = e.code(), error = %e, "backfill: release failed");
                }
            }
            seen += 1;
            progress(state, actor, seen, &report).await;
        }
    }
    let mut after = 0i64;
    loop {
        let page = match state.meta.versions_without_integrity(after, PAGE).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "backfill: listing versions failed");
                report.errors += 1;
                break;
            }
        };
        let Some(last) = page.last() else { break };
        after = last.version.id.0;
        for v in &page {
            match record_version(state, v).await {
                Ok(made) => report.processed += u64::from(made),
                Err(reason) => {
                    report.errors += 1;
                    let _ = audit::record(
                        state,
                        "package.backfill_failed",
                        Some(actor),
                        Some(&v.package),
                        json!({"version": v.version.version, "reason": reason}),
                    )
                    .await;
                }
            }
            seen += 1;
            progress(state, actor, seen, &report).await;
        }
    }
    let _ = audit::record(
        state,
        "release.backfill_run",
        Some(actor),
        None,
        json!({"processed": report.processed, "skipped": report.skipped, "errors": report.errors}),
    )
    .await;
    report
}

async fn progress(state: &AppState, actor: &str, seen: u64, r: &BackfillReport) {
    if seen % PROGRESS_EVERY == 0 {
        let _ = audit::record(
            state,
            "release.backfill_progress",
            Some(actor),
            None,
            json!({"seen": seen, "processed": r.processed, "skipped": r.skipped, "errors": r.errors}),
        )
        .await;
    }
}

/// Records a release from its stored asset observations. Returns (record made,
/// assets skipped).
pub(crate) async fn record_release(
    state: &AppState,
    release: &ReleaseRow,
) -> Result<(bool, u64), BootError> {
    let assets = state.meta.release_assets(release.id).await?;
    let listing: Vec<(String, u64)> = assets.iter().map(|a| (a.name.clone(), a.size)).collect();
    let mut skipped = 0;
    let mut hashed = Vec::new();
    for a in &assets {
        match (a.status, a.sha256, a.blake3) {
            (AssetStatus::Hashed, Some(sha256), Some(blake3)) => hashed.push(AssetEntry {
                name: a.name.clone(),
                size: a.size,
                sha256,
                blake3,
            }),
            _ => skipped += 1,
        }
    }
    let r = sign_and_log(
        state,
        Subject::Release {
            id: release.id.to_string(),
        },
        &release.tag,
        &listing,
        hashed,
    )
    .await?;
    Ok((r.created, skipped))
}

/// Re-hashes a version's stored blob and records it if the digests match the index.
async fn record_version(state: &AppState, v: &UnrecordedVersion) -> Result<bool, String> {
    let entry = &v.version;
    let bytes = state
        .blobs
        .get(&entry.blake3)
        .await
        .map_err(|e| format!("reading the blob failed: {e}"))?
        .ok_or_else(|| "the blob is missing from the store".to_owned())?;
    let mut h = AssetHasher::new();
    h.update(&bytes);
    let got = h.finish("blob");
    if got.size != entry.size || got.sha256 != entry.sha256 || got.blake3 != entry.blake3 {
        let _ = audit::record(
            state,
            "package.blob_mismatch",
            None,
            Some(&v.package),
            json!({"version": entry.version, "expectedSize": entry.size, "foundSize": got.size}),
        )
        .await;
        return Err("the stored blob does not match the index entry".into());
    }
    record_package(state, &v.package, entry)
        .await
        .map(|r| r.created)
        .map_err(|e| format!("{}: {e}", e.code()))
}
