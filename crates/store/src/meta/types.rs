//! Plain row types of the metadata store: what goes in and what comes out (no serde: API types live in the server).

use std::fmt;

/// Seconds since the Unix epoch (UTC). Every time the store records is one of these,
/// passed in by the caller so tests can inject a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user (a person who owns packages).
    UserId
);
id_type!(
    /// An API token of a user.
    TokenId
);
id_type!(
    /// A package `@scope/name`.
    PackageId
);
id_type!(
    /// A published version (index entry).
    VersionId
);
id_type!(
    /// An active or removed trusted-publisher binding.
    BindingId
);
id_type!(
    /// A pending binding (for a package that does not exist yet).
    PendingBindingId
);
id_type!(
    /// An audit log row; ids only grow, so they are the paging cursor.
    AuditId
);

/// A person who can own packages and hold API tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Unique login name.
    pub name: String,
    pub email: Option<String>,
    pub created_at: Timestamp,
    /// Set when an administrator disabled the user: none of its tokens authenticates.
    pub disabled_at: Option<Timestamp>,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenScope {
    /// The owner API (publisher bindings) for the packages its user owns.
    Owner,
    /// The administrator API.
    Admin,
}

impl TokenScope {
    /// The value stored in the `scope` column.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Owner => "owner",
            TokenScope::Admin => "admin",
        }
    }

    /// Parses a stored or requested scope.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(TokenScope::Owner),
            "admin" => Some(TokenScope::Admin),
            _ => None,
        }
    }
}

/// What a presented token turned out to be ([`super::MetaStore::check_token`]). Only
/// `Valid` authenticates; the other variants let the server say why it refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    Valid(User, ApiToken),
    /// No token has this hash.
    Unknown,
    /// The token was revoked (at the time given).
    Revoked(Timestamp),
    /// The token expired (at the time given).
    Expired(Timestamp),
    /// The token's user is disabled.
    UserDisabled(String),
}

/// What [`super::MetaStore::issue_token`] creates.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    pub user: UserId,
    pub label: &'a str,
    pub scope: TokenScope,
    /// Owner tokens only: the packages it is limited to.
    pub packages: Option<&'a [String]>,
    pub expires_at: Option<Timestamp>,
}

/// An API token's metadata. The secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    /// What the owner called it ("laptop", "admin script").
    pub label: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// What the token may do.
    pub scope: TokenScope,
    /// Owner tokens: the only packages it may act on (`None`: every package its user
    /// owns, and names nobody owns yet).
    pub packages: Option<Vec<String>>,
}

/// The plaintext of a freshly created token (`vouch_` + 64 hex digits). Shown once:
/// `Debug` is redacted so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(pub(crate) String);

impl TokenSecret {
    /// The token text to hand to the user, once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// A package and its newest version, for the public package list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSummary {
    pub name: String,
    /// The most recently published version; `None` before the first publish.
    pub latest: Option<String>,
    /// When `latest` was published.
    pub published_at: Option<Timestamp>,
}

/// A package `@scope/name`. The store takes names as the canonical string the caller
/// parsed (`vouch_package::PackageName`); it does not re-validate their grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub id: PackageId,
    pub name: String,
    pub created_at: Timestamp,
}

/// Who may publish (a CI workflow or a person's email identity) and the CI systems
/// whose identity can: defined with the matching rule in `vouch-binding`.
pub use vouch_binding::{CiProvider, Publisher};

/// The column values of a [`Publisher`], with the normalised copies used for matching.
pub(crate) struct PublisherCols {
    pub provider: &'static str,
    pub repository: String,
    pub repository_lc: String,
    pub workflow: String,
    pub environment: Option<String>,
    pub environment_lc: String,
    pub email: Option<String>,
    pub email_lc: String,
}

/// The column values of a [`Publisher`] (a trait because the type is `vouch-binding`'s).
pub(crate) trait Cols {
    fn cols(&self) -> PublisherCols;
}

impl Cols for Publisher {
    fn cols(&self) -> PublisherCols {
        match self {
            Publisher::Ci {
                provider,
                repository,
                workflow,
                environment,
            } => PublisherCols {
                provider: provider.as_str(),
                repository: repository.clone(),
                repository_lc: repository.to_lowercase(),
                workflow: workflow.clone(),
                environment: environment.clone(),
                environment_lc: environment.as_deref().unwrap_or("").to_lowercase(),
                email: None,
                email_lc: String::new(),
            },
            Publisher::Email { email } => PublisherCols {
                provider: "email",
                repository: String::new(),
                repository_lc: String::new(),
                workflow: String::new(),
                environment: None,
                environment_lc: String::new(),
                email: Some(email.clone()),
                email_lc: email.to_lowercase(),
            },
        }
    }
}

/// A trusted-publisher binding of an existing package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub id: BindingId,
    pub package_id: PackageId,
    pub publisher: Publisher,
    /// The repository owner's numeric id (GitHub `repository_owner_id`), recorded on
    /// the first publish through this binding; a later publish presenting another id
    /// is refused (the owner account was deleted and the name re-registered).
    pub repository_owner_id: Option<String>,
    pub created_by: UserId,
    pub created_at: Timestamp,
    /// Set when the binding was removed; removed bindings stay for the versions that
    /// reference them and never match again.
    pub removed_at: Option<Timestamp>,
}

/// A binding registered by a user for a package name that does not exist yet. The
/// first publish through it creates the package (owned by `created_by`) and turns it
/// into a [`Binding`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBinding {
    pub id: PendingBindingId,
    pub package_name: String,
    pub publisher: Publisher,
    pub created_by: UserId,
    pub created_at: Timestamp,
}

/// What the publish path reads before it commits ([`crate::meta::MetaStore::publish_context`]),
/// from one connection. Advisory: the commit re-checks all of it in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishContext {
    /// The package, if it exists.
    pub package: Option<Package>,
    /// Its active bindings (empty while the package does not exist).
    pub bindings: Vec<Binding>,
    /// The pending bindings for the name (only read while the package does not exist).
    pub pending: Vec<PendingBinding>,
    /// Whether the version is already published.
    pub version_exists: bool,
}

/// Everything recorded about a version at publish; becomes a [`VersionEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    pub version: String,
    pub blake3: [u8; 32],
    pub sha256: [u8; 32],
    pub size: u64,
    /// Object key of the Sigstore bundle (`blobs/<b3>.sigstore`).
    pub bundle_key: String,
    /// Index of the signing event in the transparency log.
    pub log_index: u64,
    /// The certificate's subject alternative name (publisher identity).
    pub publisher: String,
    /// The OIDC issuer of that identity.
    pub issuer: String,
    /// The repository owner id the token presented, checked against (or recorded on)
    /// the binding in the same transaction.
    pub repository_owner_id: Option<String>,
    pub created_at: Timestamp,
    /// The audit event of this publish, appended in the version's own transaction so
    /// the event exists exactly when the version does (and the publish costs one
    /// commit, not two).
    pub audit: Option<PublishAudit>,
}

/// The audit event a publish appends with its version: `subject` is the package name
/// and `at` the version's `created_at`. The store adds `binding_id` and
/// `created_package` to `details`, since only the transaction knows them for a first
/// publish through a pending binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishAudit {
    pub event: String,
    pub actor: String,
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// An immutable published version: one index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub id: VersionId,
    pub package_id: PackageId,
    pub version: String,
    pub blake3: [u8; 32],
    pub sha256: [u8; 32],
    pub size: u64,
    pub bundle_key: String,
    pub log_index: u64,
    pub publisher: String,
    pub issuer: String,
    /// The binding the publish went through (`None` for versions recorded without
    /// one, such as ingested releases).
    pub binding_id: Option<BindingId>,
    pub created_at: Timestamp,
}

/// The result of a publish through a pending binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotedPublish {
    /// The package the publish created.
    pub package: Package,
    /// The binding the pending binding became.
    pub binding: Binding,
    pub version: VersionEntry,
}

/// What [`crate::meta::MetaStore::insert_jti_if_absent`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// First sighting (or the earlier one had expired): accept the token.
    Inserted,
    /// Seen before and not expired: a replay, refuse the token.
    AlreadyPresent,
}

/// One audit log row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: AuditId,
    /// Dotted event name, e.g. `publish.refused`.
    pub event: String,
    /// Who did it (a user name, a publisher identity), if anyone.
    pub actor: Option<String>,
    /// What it was done to (a package name, a release), if anything.
    pub subject: Option<String>,
    /// A JSON object with the details, as the caller serialised it.
    pub details_json: String,
    pub at: Timestamp,
}

/// Which audit rows to list: all filters are conjunctive, rows come in ascending id
/// order starting after `after`, at most `limit` (capped at [`MAX_AUDIT_PAGE`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Rows whose event starts with this (`publish.` matches `publish.ok`).
    pub event_prefix: Option<String>,
    pub subject: Option<String>,
    /// Rows at or after this time.
    pub since: Option<Timestamp>,
    /// Rows strictly before this time.
    pub until: Option<Timestamp>,
    /// Paging cursor: the last id of the previous page.
    pub after: Option<AuditId>,
    pub limit: u32,
}

/// Largest audit page one call returns.
pub const MAX_AUDIT_PAGE: u32 = 1000;

/// A new administrator web session ([`super::MetaStore::create_web_session`]). Times
/// are unix milliseconds.
#[derive(Debug, Clone)]
pub struct NewWebSession<'a> {
    /// Hex SHA-256 of the cookie value (the cookie itself is never stored).
    pub key: &'a str,
    pub token_id: i64,
    pub label: &'a str,
    /// The session's synchronizer (CSRF) token.
    pub csrf: &'a str,
    pub now_ms: i64,
    /// How long the session lives without a request.
    pub idle_ms: i64,
    /// How long the session lives after sign-in, however active.
    pub absolute_ms: i64,
    /// Most live sessions kept: signing in beyond it ends the one closest to expiry.
    pub cap: u64,
}

/// A live administrator web session, as [`super::MetaStore::touch_web_session`]
/// returns it (with the deadlines the touch left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSessionRow {
    pub token_id: i64,
    pub label: String,
    pub csrf: String,
    pub created_at_ms: i64,
    pub idle_expires_at_ms: i64,
    pub absolute_expires_at_ms: i64,
}

/// The message a session's next page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFlash {
    pub kind: String,
    pub code: Option<String>,
    pub text: String,
}
