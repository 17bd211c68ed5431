//! `MetaError`: every way a metadata store call fails, each with a stable `META_E***` code.

/// A failed metadata store call. Conflicts the caller must act on (an existing
/// version, the binding cap, a changed repository owner) are their own variants; an
/// outage is [`MetaError::Database`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The database failed or was unreachable; the operation may or may not have
    /// committed unless the method says otherwise.
    #[error("metadata database error during {op}")]
    Database {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The schema is missing or older than this binary (run `migrate`, or `--dev`).
    #[error(
        "metadata schema is at version {found}, this binary needs {expected} (run the migrations)"
    )]
    SchemaOutdated { found: i64, expected: i64 },
    /// An applied migration differs from the one this binary embeds, or the database
    /// is newer than this binary.
    #[error("metadata migration {version} applied to the database differs from this binary's")]
    SchemaMismatch { version: i64 },
    #[error("user {name:?} already exists")]
    UserExists { name: String },
    #[error("no user with id {id}")]
    UnknownUser { id: super::UserId },
    #[error("package {name:?} already exists")]
    PackageExists { name: String },
    #[error("no package named {name:?}")]
    UnknownPackage { name: String },
    /// The (package, version) pair is taken: versions are immutable (PUB_E007).
    #[error("{package} version {version} already exists")]
    VersionExists { package: String, version: String },
    /// An identical active binding (or pending binding) is already registered.
    #[error("an identical publisher binding already exists for {package:?}")]
    BindingExists { package: String },
    #[error("package {package:?} already has the maximum of {max} publisher bindings")]
    TooManyBindings { package: String, max: usize },
    /// No active binding with this id (for this package).
    #[error("no active publisher binding {id}")]
    UnknownBinding { id: super::BindingId },
    /// The token's repository owner id differs from the one recorded on first use:
    /// the owner account was likely deleted and its name re-registered.
    #[error(
        "binding {binding}: repository owner id {presented:?} differs from recorded {recorded:?}"
    )]
    RepositoryOwnerChanged {
        binding: super::BindingId,
        recorded: String,
        presented: String,
    },
    /// The pending binding is gone (used by a concurrent first publish, or removed).
    #[error("no pending publisher binding {id}")]
    UnknownPendingBinding { id: super::PendingBindingId },
    /// A number does not fit the database's signed 64-bit integers.
    #[error("{field} {value} is out of range")]
    OutOfRange { field: &'static str, value: u64 },
    /// A stored row could not be read back (hand-edited database?).
    #[error("corrupt {column} in {table}: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        reason: &'static str,
    },
    #[error("no API token {id}")]
    UnknownToken { id: super::TokenId },
    /// The scope is owned by other users: only its owners create packages or
    /// pending bindings in it. Says nothing about who owns it.
    #[error("scope @{scope} is claimed by another user")]
    ScopeClaimed { scope: String },
    /// The name normalises (PEP 503: case, runs of `-`, `_`, `.`) to an existing
    /// package's name.
    #[error("package name {name:?} is too similar to the existing package {existing:?}")]
    NameConflict { name: String, existing: String },
    /// The version equals an existing one but for build metadata.
    #[error(
        "{package} version {version} equals the existing version {existing} but for build metadata"
    )]
    VersionBuildConflict {
        package: String,
        version: String,
        existing: String,
    },
    /// A package name without the `@scope/` the store needs to find its scope.
    #[error("package name {name:?} has no @scope/ prefix")]
    UnscopedName { name: String },
    /// The operating system's random source failed while making a token.
    #[error("no randomness available for a new token: {reason}")]
    Randomness { reason: String },
    /// The user is disabled: no token is issued to it.
    #[error("user {id} is disabled")]
    UserDisabled { id: super::UserId },
}

impl MetaError {
    /// The stable code; documented, never renumbered or reused.
    pub fn code(&self) -> &'static str {
        match self {
            MetaError::Database { .. } => "META_E001",
            MetaError::SchemaOutdated { .. } => "META_E002",
            MetaError::SchemaMismatch { .. } => "META_E003",
            MetaError::UserExists { .. } => "META_E004",
            MetaError::UnknownUser { .. } => "META_E005",
            MetaError::PackageExists { .. } => "META_E006",
            MetaError::UnknownPackage { .. } => "META_E007",
            MetaError::VersionExists { .. } => "META_E008",
            MetaError::BindingExists { .. } => "META_E009",
            MetaError::TooManyBindings { .. } => "META_E010",
            MetaError::UnknownBinding { .. } => "META_E011",
            MetaError::RepositoryOwnerChanged { .. } => "META_E012",
            MetaError::UnknownPendingBinding { .. } => "META_E013",
            MetaError::OutOfRange { .. } => "META_E014",
            MetaError::Corrupt { .. } => "META_E015",
            MetaError::UnknownToken { .. } => "META_E016",
            MetaError::Randomness { .. } => "META_E017",
            MetaError::UserDisabled { .. } => "META_E018",
            MetaError::ScopeClaimed { .. } => "META_E019",
            MetaError::NameConflict { .. } => "META_E020",
            MetaError::VersionBuildConflict { .. } => "META_E021",
            MetaError::UnscopedName { .. } => "META_E022",
        }
    }

    pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> MetaError {
        move |source| MetaError::Database { op, source }
    }
}

/// True if `e` is a UNIQUE (or primary key) violation: the signal that a concurrent
/// or earlier writer took the row.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
