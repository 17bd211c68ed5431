//! `lock --check`: a cheap, offline consistency check of a lockfile for CI, and
//! `lock` without `--check`: the lockfile rewritten normalised.

use std::path::Path;

use serde_json::json;
use vouch_api_client::{CodedError, Result};

use crate::lockfile::{base_dir, bundle_rel, Lockfile, Provenance};
use crate::signatures::{audit, Network, Status};

/// One problem the check found, with its code (`LOCK_E002`, `LOCK_E003`, `LOCK_E004`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: &'static str,
    /// Names the entry; lockfile text, so untrusted: escape before printing.
    pub detail: String,
}

/// What `lock --check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub entries: usize,
    /// The `[provenance]` block the entries imply.
    pub computed: Provenance,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// The report as `vouch lock --check --json` prints it.
    pub fn to_json(&self, lockfile: &Path) -> serde_json::Value {
        let problems: Vec<_> = self
            .problems
            .iter()
            .map(|p| json!({"code": p.code, "detail": p.detail}))
            .collect();
        json!({
            "lockfile": lockfile.display().to_string(),
            "ok": self.problems.is_empty(),
            "entries": self.entries,
            "sigstore_verified_count": self.computed.sigstore_verified_count,
            "sigstore_unverified": self.computed.sigstore_unverified,
            "problems": problems,
        })
    }

    /// The report as `vouch lock --check` prints it: each problem, then the counts.
    pub fn lines(&self, lockfile: &Path) -> Vec<String> {
        let mut out: Vec<String> = (self.problems.iter())
            .map(|p| format!("{}  {}", p.code, p.detail))
            .collect();
        let (file, n) = (lockfile.display(), self.entries);
        let verified = self.computed.sigstore_verified_count;
        out.push(format!(
            "{file}: {n} entries, {verified} with verified Sigstore bundles"
        ));
        out
    }

    /// The first problem as the error a command exits with (a refusal), naming how
    /// many there were; `None` when the lockfile is sound.
    pub fn error(&self, lockfile: &Path) -> Option<CodedError> {
        self.problems.first().map(|p| {
            CodedError::refused(
                p.code,
                format!(
                    "{} ({} problem(s) in {})",
                    p.detail,
                    self.problems.len(),
                    lockfile.display()
                ),
            )
        })
    }
}

/// Checks the lockfile: well-formed, its `[provenance]` block agrees with its entries,
/// every entry names a registry whose log key is pinned, and (with `strict_sigstore`)
/// every entry's cached Sigstore bundle verifies, offline, against the entry's
/// recorded digest and signer (the lockfile's own "verified" flags are not trusted).
///
/// With a policy file, the lockfile must record that policy's digest (`LOCK_E006`: it
/// was fetched under another policy, or none), and every entry is re-verified as with
/// `strict_sigstore`, its signer checked against the policy's rules for its name
/// (`POLICY_E003`/`POLICY_E004`).
///
/// With `trusted_root` (an instance's root verified through TUF, `--instance`), the
/// bundles are re-verified against it instead of the cached roots (implies the
/// signature checks of `strict_sigstore`).
pub fn check_lockfile(
    path: &Path,
    strict_sigstore: bool,
    policy: Option<&vouch_policy::PolicyFile>,
    trusted_root: Option<&Path>,
) -> Result<CheckReport> {
    let lock = Lockfile::load(path)?;
    let dir = base_dir(path);
    let computed = lock.computed_provenance();
    let mut problems = Vec::new();
    if computed != lock.provenance {
        problems.push(Problem {
            code: "LOCK_E003",
            detail: format!(
                "[provenance] says {} verified and unverified {:?}, the entries say {} and {:?}",
                lock.provenance.sigstore_verified_count,
                lock.provenance.sigstore_unverified,
                computed.sigstore_verified_count,
                computed.sigstore_unverified
            ),
        });
    }
    for p in &lock.packages {
        if lock.server(&p.server).is_none() {
            problems.push(Problem {
                code: "LOCK_E003",
                detail: format!(
                    "{} names server {} without a [[server]] table",
                    p.id(),
                    p.server
                ),
            });
        }
    }
    if let Some(policy) = policy {
        if lock.policy.as_deref() != Some(policy.digest()) {
            problems.push(Problem {
                code: "LOCK_E006",
                detail: format!(
                    "the lockfile was written under policy {}, not {} ({})",
                    lock.policy.as_deref().unwrap_or("none"),
                    policy.digest(),
                    policy.source()
                ),
            });
        }
    }
    if strict_sigstore || policy.is_some() || trusted_root.is_some() {
        // Re-verify: a hand-edited identity (or digest) must not pass on the strength
        // of the lockfile's own `sigstore_verified = true`. The same path as
        // `audit signatures`, without its network refill.
        let statuses = audit(path, &lock, Network::Offline, policy, trusted_root)?;
        for (p, status) in lock.packages.iter().zip(&statuses) {
            let cached = p
                .bundle
                .as_deref()
                .is_some_and(|b| b == bundle_rel(&p.blake3) && dir.join(b).is_file());
            let (code, detail) = if !p.sigstore_verified {
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
                    Status::Mismatched { code, detail } if code.starts_with("POLICY_E") => {
                        (*code, format!("{}: {detail}", p.id()))
                    }
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
            problems.push(Problem { code, detail });
        }
    }
    Ok(CheckReport {
        entries: lock.packages.len(),
        computed,
        problems,
    })
}

/// What [`normalise_lockfile`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    pub entries: usize,
    /// The `[provenance]` block before and after, when it changed.
    pub provenance: Option<(Provenance, Provenance)>,
    /// Whether the entries or servers were out of order.
    pub reordered: bool,
    /// Whether the file's text changed at all (it is rewritten only then).
    pub rewritten: bool,
}

impl Normalised {
    /// As `vouch lock --json` prints it.
    pub fn to_json(&self, lockfile: &Path) -> serde_json::Value {
        let prov = self.provenance.as_ref().map(|(old, new)| {
            json!({"old_verified_count": old.sigstore_verified_count,
                   "new_verified_count": new.sigstore_verified_count,
                   "old_unverified": old.sigstore_unverified,
                   "new_unverified": new.sigstore_unverified})
        });
        json!({"lockfile": lockfile.display().to_string(), "entries": self.entries,
               "rewritten": self.rewritten, "reordered": self.reordered, "provenance": prov})
    }

    /// What `vouch lock` prints, one line each.
    pub fn lines(&self, lockfile: &Path) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some((old, new)) = &self.provenance {
            let (o, w) = (old.sigstore_verified_count, new.sigstore_verified_count);
            lines.push(format!(
                "[provenance] recomputed: {o} -> {w} verified, unverified {:?} -> {:?}",
                old.sigstore_unverified, new.sigstore_unverified
            ));
        }
        if self.reordered {
            lines.push("entries sorted by name, version and server".to_owned());
        }
        let verb = match self.rewritten {
            true => "rewritten",
            false => "already normalised, unchanged",
        };
        let (file, n) = (lockfile.display(), self.entries);
        lines.push(format!(
            "{file}: {n} entries, {verb}; check it with `vouch lock --check`"
        ));
        lines
    }
}

/// Rewrites the lockfile normalised, as `vouch fetch` writes it: entries and servers
/// sorted, the `[provenance]` block recomputed from the entries. Nothing is verified
/// (that is `check_lockfile` and the audits); the file is written atomically and only
/// when its text changes.
pub fn normalise_lockfile(path: &Path) -> Result<Normalised> {
    let before_text = std::fs::read_to_string(path).map_err(|e| {
        CodedError::error("LOCK_E001", format!("cannot read {}: {e}", path.display()))
    })?;
    let mut lock = Lockfile::parse(&before_text)
        .map_err(|e| CodedError::error("LOCK_E001", format!("{}: {e}", path.display())))?;
    let before = lock.clone();
    let text = lock.render()?;
    let reordered = {
        let mut sorted = before.clone();
        sorted.normalise();
        sorted.packages != before.packages || sorted.servers != before.servers
    };
    let provenance = (before.provenance != lock.provenance)
        .then(|| (before.provenance.clone(), lock.provenance.clone()));
    let rewritten = text != before_text;
    if rewritten {
        crate::lockfile::write_atomic(path, text.as_bytes())?;
    }
    Ok(Normalised {
        entries: lock.packages.len(),
        provenance,
        reordered,
        rewritten,
    })
}
