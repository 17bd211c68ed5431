//! `vouch lock`: rewrites `vouch.lock` normalised, or with `--check` checks it offline
//! for CI; both through `vouch_consumer`.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;
use vouch_consumer::DEFAULT_LOCKFILE;

use crate::output::{clean, print_json, Exit};

/// Normalise the lockfile, or check it (--check).
///
/// Without --check: rewrites the lockfile as `vouch fetch` writes it (entries and
/// servers sorted, the [provenance] block recomputed from the entries) and says what
/// changed; nothing is verified or downloaded. Use it after merging or hand-editing
/// vouch.lock, then run `vouch lock --check`.
///
/// With --check: the lockfile is well-formed, its [provenance] block agrees with its
/// entries, every entry names a registry whose log key is pinned, and (with
/// --strict-sigstore) every entry's cached Sigstore bundle verifies, offline, against the
/// entry's recorded digest and signer identity (the lockfile's own "verified" flags are
/// not trusted). This reads files only (no network); `vouch audit transparency`
/// re-proves the log entries. Exit 1 when an entry is unverified or its bundle is
/// missing under --strict-sigstore (LOCK_E002), or its bundle does not verify against
/// what the entry records (LOCK_E004); exit 2 when the provenance block disagrees
/// (LOCK_E003).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check the lockfile instead of rewriting it.
    #[arg(long)]
    check: bool,
    /// With --check: fail on any entry without a verified, cached Sigstore bundle.
    #[arg(long, requires = "check")]
    strict_sigstore: bool,
    /// The lockfile.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if !args.check {
        return normalise(&args);
    }
    let r = vouch_consumer::check_lockfile(&args.lockfile, args.strict_sigstore)?;
    if args.json {
        let problems: Vec<_> = r
            .problems
            .iter()
            .map(|p| json!({"code": p.code, "detail": p.detail}))
            .collect();
        print_json(&json!({
            "lockfile": args.lockfile.display().to_string(),
            "ok": r.problems.is_empty(),
            "entries": r.entries,
            "sigstore_verified_count": r.computed.sigstore_verified_count,
            "sigstore_unverified": r.computed.sigstore_unverified,
            "problems": problems,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for p in &r.problems {
            writeln!(out, "{}  {}", p.code, clean(&p.detail))?;
        }
        let (file, n) = (args.lockfile.display(), r.entries);
        let verified = r.computed.sigstore_verified_count;
        writeln!(
            out,
            "{file}: {n} entries, {verified} with verified Sigstore bundles"
        )?;
    }
    match r.error(&args.lockfile) {
        None => Ok(Exit::Ok),
        Some(e) => Err(e.into()),
    }
}

fn normalise(args: &Args) -> anyhow::Result<Exit> {
    let n = vouch_consumer::normalise_lockfile(&args.lockfile)?;
    let file = args.lockfile.display().to_string();
    if args.json {
        let prov = n.provenance.as_ref().map(|(old, new)| {
            json!({"old_verified_count": old.sigstore_verified_count,
                   "new_verified_count": new.sigstore_verified_count,
                   "old_unverified": old.sigstore_unverified,
                   "new_unverified": new.sigstore_unverified})
        });
        print_json(
            &json!({"lockfile": file, "entries": n.entries, "rewritten": n.rewritten,
                           "reordered": n.reordered, "provenance": prov}),
        )?;
        return Ok(Exit::Ok);
    }
    let mut out = std::io::stdout().lock();
    if let Some((old, new)) = &n.provenance {
        let (o, w) = (old.sigstore_verified_count, new.sigstore_verified_count);
        writeln!(
            out,
            "[provenance] recomputed: {o} -> {w} verified, unverified {:?} -> {:?}",
            old.sigstore_unverified, new.sigstore_unverified
        )?;
    }
    if n.reordered {
        writeln!(out, "entries sorted by name, version and server")?;
    }
    let verb = if n.rewritten {
        "rewritten"
    } else {
        "already normalised, unchanged"
    };
    writeln!(
        out,
        "{file}: {} entries, {verb}; check it with `vouch lock --check`",
        n.entries
    )?;
    Ok(Exit::Ok)
}
