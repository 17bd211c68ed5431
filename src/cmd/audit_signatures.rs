//! `vouch audit signatures`: wires flags to `vouch_consumer::audit_signatures` and
//! prints its report as a table or one JSON object.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;
use vouch_consumer::{Network, Status, DEFAULT_LOCKFILE};

use crate::output::{clean, print_json, CodedError, Exit};

/// Kept for `bench_publish` until it calls `vouch_consumer` directly.

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

/// The status word, the mismatch code and the detail of one entry.
fn parts(s: &Status) -> (&'static str, Option<&'static str>, Option<&str>) {
    match s {
        Status::Verified => ("verified", None, None),
        Status::Unverified(d) => ("unverified", None, Some(d)),
        Status::Mismatched { code, detail } => ("mismatched", Some(*code), Some(detail)),
    }
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let report = vouch_consumer::audit_signatures(&args.lockfile, Network::Refill)?;
    let (verified, unverified, mismatched) = report.counts();
    let rows = report.lock.packages.iter().zip(&report.statuses);
    if args.json {
        let entries: Vec<_> = rows
            .map(|(p, s)| {
                let (status, code, detail) = parts(s);
                json!({"name": p.name, "version": p.version, "status": status,
                       "code": code, "detail": detail, "identity": p.identity,
                       "log_index": p.log_index})
            })
            .collect();
        print_json(&json!({
            "lockfile": args.lockfile.display().to_string(),
            "ok": report.all_verified(),
            "verified": verified, "unverified": unverified, "mismatched": mismatched,
            "entries": entries,
        }))?;
    } else {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let ids = report.lock.packages.iter().map(|p| p.id().len());
        let width = ids.max().unwrap_or(7).max(7);
        writeln!(out, "{:<width$}  {:<10}  detail", "package", "status")?;
        for (p, s) in rows {
            let detail = match parts(s) {
                (_, Some(code), Some(d)) => format!("{code}: {d}"),
                (_, None, Some(d)) => d.to_owned(),
                _ => p.identity.clone(),
            };
            // Lockfile and bundle text is untrusted: printed escaped.
            let (id, status) = (p.id(), parts(s).0);
            writeln!(
                out,
                "{:<width$}  {status:<10}  {}",
                clean(&id),
                clean(&detail)
            )?;
        }
        writeln!(
            out,
            "{verified} verified, {unverified} unverified, {mismatched} mismatched"
        )?;
    }
    if report.all_verified() {
        return Ok(Exit::Ok);
    }
    let total = report.statuses.len();
    Err(CodedError::new(
        "AUDIT_E002",
        Exit::VerifyFailed,
        format!(
            "{} of {total} lockfile entries did not verify ({unverified} unverified, {mismatched} mismatched)",
            total - verified
        ),
    )
    .into())
}
