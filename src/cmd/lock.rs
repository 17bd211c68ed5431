//! `vouch lock --check`: a cheap, offline consistency check of `vouch.lock` for CI.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use super::audit_signatures::{audit_offline, bundle_rel, Status};
use crate::lockfile::{base_dir, Lockfile, DEFAULT_LOCKFILE};
use crate::output::{clean, print_json, CodedError, Exit};

/// Check the lockfile: well-formed, its [provenance] block agrees with its entries, every
/// entry names a registry whose log key is pinned, and (with --strict-sigstore) every
/// entry's cached Sigstore bundle verifies, offline, against the entry's recorded digest
/// and signer identity (the lockfile's own "verified" flags are not trusted).
///
/// This reads files only (no network); `vouch audit transparency` re-proves the log
/// entries. Exit 1 when an entry is unverified or its bundle is missing under
/// --strict-sigstore (LOCK_E002), or its bundle does not verify against what the entry
/// records (LOCK_E004); exit 2 when the provenance block disagrees (LOCK_E003).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check the lockfile (the only mode today; required so that a bare `vouch lock`
    /// never does something surprising).
    #[arg(long, required = true)]
    check: bool,
    /// Fail on any entry without a verified, cached Sigstore bundle.
    #[arg(long)]
    strict_sigstore: bool,
    /// The lockfile to check.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let lock = Lockfile::load(&args.lockfile)?;
    let dir = base_dir(&args.lockfile);
    let computed = lock.computed_provenance();
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    if computed != lock.provenance {
        problems.push((
            "LOCK_E003",
            format!(
                "[provenance] says {} verified and unverified {:?}, the entries say {} and {:?}",
                lock.provenance.sigstore_verified_count,
                lock.provenance.sigstore_unverified,
                computed.sigstore_verified_count,
                computed.sigstore_unverified
            ),
        ));
    }
    for p in &lock.packages {
        if lock.server(&p.server).is_none() {
            problems.push((
                "LOCK_E003",
                format!(
                    "{} names server {} without a [[server]] table",
                    p.id(),
                    p.server
                ),
            ));
        }
    }
    if args.strict_sigstore {
        // Re-verify: a hand-edited identity (or digest) must not pass on the strength
        // of the lockfile's own `sigstore_verified = true`. The same path as
        // `vouch audit signatures`, without its network refill.
        let statuses = audit_offline(&args.lockfile, &lock)?;
        for (p, status) in lock.packages.iter().zip(&statuses) {
            let cached = p
                .bundle
                .as_deref()
                .is_some_and(|b| b == bundle_rel(&p.blake3) && dir.join(b).is_file());
            let problem = if !p.sigstore_verified {
                (
                    "LOCK_E002",
                    format!("{} has no verified Sigstore bundle", p.id()),
                )
            } else if !cached {
                (
                    "LOCK_E002",
                    format!(
                        "{}: its bundle is not cached at {}",
                        p.id(),
                        bundle_rel(&p.blake3)
                    ),
                )
            } else {
                match status {
                    Status::Verified => continue,
                    Status::Unverified(why) => (
                        "LOCK_E002",
                        format!("{}: its bundle cannot be verified: {why}", p.id()),
                    ),
                    Status::Mismatched { code, detail } => (
                        "LOCK_E004",
                        format!(
                            "{}: its cached bundle does not verify against the entry's \
                             recorded digest and identity ({}, issuer {}): {code}: {detail}",
                            p.id(),
                            p.identity,
                            p.issuer
                        ),
                    ),
                }
            };
            problems.push(problem);
        }
    }
    if args.json {
        print_json(&json!({
            "lockfile": args.lockfile.display().to_string(),
            "ok": problems.is_empty(),
            "entries": lock.packages.len(),
            "sigstore_verified_count": computed.sigstore_verified_count,
            "sigstore_unverified": computed.sigstore_unverified,
            "problems": problems.iter().map(|(c, d)| json!({"code": c, "detail": d})).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for (code, detail) in &problems {
            writeln!(out, "{code}  {}", clean(detail))?;
        }
        writeln!(
            out,
            "{}: {} entries, {} with verified Sigstore bundles",
            args.lockfile.display(),
            lock.packages.len(),
            computed.sigstore_verified_count
        )?;
    }
    match problems.first() {
        None => Ok(Exit::Ok),
        Some((code, detail)) => Err(CodedError::new(
            *code,
            Exit::VerifyFailed,
            format!(
                "{detail} ({} problem(s) in {})",
                problems.len(),
                args.lockfile.display()
            ),
        )
        .into()),
    }
}
