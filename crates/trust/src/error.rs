//! The crate's one error type: what a TUF refresh or a repository signing step refused, with a stable code.

/// Everything this crate refuses. Codes are stable and documented in docs/errors.md.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A role's version went backwards against what the client already trusts.
    #[error("rollback of {role}: trusted version {trusted}, offered version {offered}")]
    Rollback {
        role: String,
        trusted: u64,
        offered: u64,
    },
    /// Metadata past its `expires` (a freeze attack, or a repository nobody refreshes).
    #[error("{role} metadata expired at {expires} (now {now})")]
    Expired {
        role: String,
        expires: String,
        now: String,
    },
    /// Fewer valid signatures than the role's threshold.
    #[error("{role}: {found} valid signature(s), the threshold is {threshold}")]
    Threshold {
        role: String,
        found: usize,
        threshold: usize,
    },
    /// A new root whose version is not exactly one more than the trusted one.
    #[error("root version must be {expected}, found {found}")]
    RootVersion { expected: u64, found: u64 },
    /// Metadata that does not match the version, length or hash its parent role pins.
    #[error("mix-and-match: {detail}")]
    MixAndMatch { detail: String },
    /// A target whose bytes do not match the length and hashes the targets role lists.
    #[error("target {target}: {detail}")]
    TargetMismatch { target: String, detail: String },
    /// A download longer than its pinned length or the configured maximum.
    #[error("{what} is longer than the {max} bytes allowed")]
    Oversized { what: String, max: u64 },
    /// The repository could not be reached or answered an error.
    #[error("cannot fetch {what}: {detail}")]
    Unreachable { what: String, detail: String },
    /// Metadata that is not well-formed TUF.
    #[error("malformed TUF metadata: {detail}")]
    Malformed { detail: String },
    /// No root to start from: neither `--root FILE`, an embedded root, nor a cached one.
    #[error("no trusted TUF root for {instance}: expected --root FILE or an earlier `vouch audit roots --instance {instance} --root FILE`")]
    NoRoot { instance: String },
    /// The repository does not list a target the client needs.
    #[error("the repository lists no target {target}")]
    TargetMissing { target: String },
    /// Reading or writing the local cache failed.
    #[error("cache {path}: {detail}")]
    Cache { path: String, detail: String },
    /// A key file that is not what `vouch admin tuf` writes, or a signing failure.
    #[error("TUF key: expected {expected}, found {found}")]
    Key { expected: String, found: String },
    /// Offline use with nothing cached yet.
    #[error("no cached trust root for {instance} in {dir}: run `vouch audit roots` once with network access")]
    NotCached { instance: String, dir: String },
    /// A repository-side request that cannot be satisfied (wrong role, bad threshold, ...).
    #[error("repository: expected {expected}, found {found}")]
    Repository { expected: String, found: String },
    /// A key file or a file of the operator's staging directory that cannot be read
    /// or written (a key file is never written over).
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
    /// The instance's trust material changed but the published targets still list the
    /// old one, and the server holds no targets key to sign new ones.
    #[error("the published TUF targets (version {targets_version}) no longer match the instance's trust material ({detail}): sign a new targets version offline (`vouch admin tuf targets`, `sign`, `publish`)")]
    StaleTargets {
        targets_version: u64,
        detail: String,
    },
    /// A role signed offline (root, targets) expires soon or has expired: the server
    /// cannot re-sign it, and clients refuse the repository once it has.
    #[error("{role} version {version} expires at {expires}: sign a new version offline before then (`vouch admin tuf rotate-root` or `targets`, `sign`, `publish`)")]
    Expiring {
        role: String,
        version: u64,
        expires: String,
    },
}

impl Error {
    /// The stable code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Rollback { .. } => "TUF_E001",
            Error::Expired { .. } => "TUF_E002",
            Error::Threshold { .. } => "TUF_E003",
            Error::RootVersion { .. } => "TUF_E004",
            Error::MixAndMatch { .. } => "TUF_E005",
            Error::TargetMismatch { .. } => "TUF_E006",
            Error::Oversized { .. } => "TUF_E007",
            Error::Unreachable { .. } => "TUF_E008",
            Error::Malformed { .. } => "TUF_E009",
            Error::NoRoot { .. } => "TUF_E010",
            Error::TargetMissing { .. } => "TUF_E011",
            Error::Cache { .. } => "TUF_E012",
            Error::Key { .. } => "TUF_E013",
            Error::NotCached { .. } => "TUF_E014",
            Error::Repository { .. } => "TUF_E015",
            Error::File { .. } => "TUF_E016",
            Error::StaleTargets { .. } => "TUF_E017",
            Error::Expiring { .. } => "TUF_E018",
        }
    }

    /// True when the refusal is a verification failure (exit 1) rather than an
    /// operational one (exit 2).
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            Error::Unreachable { .. }
                | Error::Cache { .. }
                | Error::NoRoot { .. }
                | Error::NotCached { .. }
                | Error::Key { .. }
                | Error::Repository { .. }
                | Error::File { .. }
                | Error::StaleTargets { .. }
                | Error::Expiring { .. }
        )
    }
}
