//! Registry metadata: users, API tokens, packages, versions, trusted-publisher bindings, the OIDC replay store and the audit log, in SQLite or PostgreSQL.
//!
//! [`MetaStore`] is the one contract; [`SqliteMeta`] (embedded default, one file under
//! the data directory) and [`PostgresMeta`] (several `vouch serve` nodes) implement it
//! with the same SQL, compiled once per dialect from `meta/sql/` (see
//! `sqlite.rs`/`postgres.rs` for the few dialect hooks). The schema lives in versioned
//! migrations (`migrations/sqlite`, `migrations/postgres`) applied only by an explicit
//! [`MetaStore::migrate`]; opening a store never creates anything.

mod cargo;
mod error;
mod integrity_types;
mod names;
mod postgres;
mod pypi_types;
mod sqlite;
mod token;
mod types;

use async_trait::async_trait;

pub use cargo::*;
pub use error::MetaError;
pub use integrity_types::*;
pub use names::{normalized_name, normalized_scope, version_key};
pub use postgres::PostgresMeta;
pub use pypi_types::*;
pub use sqlite::SqliteMeta;
pub use token::{hash as token_hash, TOKEN_PREFIX};
pub use types::*;

/// One embedded schema migration of one dialect.
#[derive(Debug)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Most active publisher bindings one package may have; the same cap applies to the
/// pending bindings of one package name.
pub const MAX_BINDINGS_PER_PACKAGE: usize = 20;

/// The registry's metadata.
///
/// Durability: when a write returns `Ok`, its transaction has committed durably (SQLite
/// in WAL mode with `synchronous=FULL`; PostgreSQL with its default
/// `synchronous_commit=on`). Each write is one transaction: on `Err` nothing of it is
/// visible, except that after [`MetaError::Database`] the commit itself may or may
/// not have happened (re-read before retrying a non-idempotent write).
///
/// The commit point of a publish is the version row ([`MetaStore::insert_version`],
/// [`MetaStore::publish_pending`]): blobs and bundles are stored before it, and a
/// crash before it leaves only unreferenced content-addressed blobs, which clients
/// never see because the server serves blobs through index entries.
///
/// Concurrency: every method may run concurrently with every other, from any number
/// of processes sharing the database. Uniqueness is decided by the database (UNIQUE
/// constraints and primary keys), never by a read-then-write in Rust: of two
/// concurrent inserts of the same version exactly one succeeds and the other gets
/// [`MetaError::VersionExists`]; of two concurrent [`MetaStore::insert_jti_if_absent`]
/// calls for the same (issuer, jti) exactly one sees [`ReplayOutcome::Inserted`].
/// Caps (bindings per package) are checked under a per-name lock (SQLite: the write
/// lock of `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock).
///
/// Idempotence: reads, [`MetaStore::migrate`], [`MetaStore::sweep_replay`] and
/// [`MetaStore::revoke_token`] are idempotent. Inserts are not: a retried insert that
/// had committed reports the matching `...Exists` error (or `AlreadyPresent`), which
/// tells the caller its first attempt won. The audit log is append-only: there is no
/// update or delete, and the schema's triggers refuse both; versions are likewise
/// immutable in the schema.
#[async_trait]
pub trait MetaStore: CargoMeta + Send + Sync + std::fmt::Debug + 'static {
    // --- schema -------------------------------------------------------------------

    /// Applies every embedded migration not yet applied, all in one transaction,
    /// serialised across processes (idempotent). Production calls this only when asked to; `--dev`
    /// calls it at startup.
    async fn migrate(&self) -> Result<(), MetaError>;

    /// Checks that the schema is exactly at this binary's version
    /// ([`MetaError::SchemaOutdated`] / [`MetaError::SchemaMismatch`] otherwise).
    async fn check_schema(&self) -> Result<(), MetaError>;

    // --- users and tokens ---------------------------------------------------------

    /// Creates a user; [`MetaError::UserExists`] if the name is taken.
    async fn create_user(
        &self,
        name: &str,
        email: Option<&str>,
        now: Timestamp,
    ) -> Result<User, MetaError>;

    async fn user(&self, id: UserId) -> Result<Option<User>, MetaError>;

    async fn user_by_name(&self, name: &str) -> Result<Option<User>, MetaError>;

    /// Creates an API token for `user` and returns its plaintext, the only time it
    /// exists outside the caller's hands: only its SHA-256 is stored.
    async fn create_token(
        &self,
        user: UserId,
        label: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(ApiToken, TokenSecret), MetaError>;

    /// The user and token a presented secret belongs to, if it is an owner-scope
    /// token, known, not revoked, not expired at `now`, and its user is not disabled. Looks up by hash; the hashes are then compared in
    /// constant time.
    async fn authenticate(
        &self,
        secret: &str,
        now: Timestamp,
    ) -> Result<Option<(User, ApiToken)>, MetaError>;

    async fn tokens(&self, user: UserId) -> Result<Vec<ApiToken>, MetaError>;

    /// Creates a token as `spec` says and returns its plaintext once (only its SHA-256
    /// is stored). [`MetaError::UnknownUser`], or [`MetaError::UserDisabled`] when the
    /// user is disabled (checked in the same transaction).
    async fn issue_token(
        &self,
        spec: &NewToken<'_>,
        now: Timestamp,
    ) -> Result<(ApiToken, TokenSecret), MetaError>;

    /// What a presented secret is, of any scope: valid, unknown, revoked, expired at
    /// `now`, or belonging to a disabled user (checked in that order). Looks up by
    /// hash; the hashes are then compared in constant time. [`MetaStore::authenticate`]
    /// is the owner API's narrowing of this.
    async fn check_token(&self, secret: &str, now: Timestamp) -> Result<TokenCheck, MetaError>;

    /// A token by id, of any state.
    async fn token(&self, id: TokenId) -> Result<Option<ApiToken>, MetaError>;

    /// Every user, oldest first.
    async fn list_users(&self) -> Result<Vec<User>, MetaError>;

    /// Disables a user: from the commit on, none of its tokens authenticates. `false`
    /// when it already was disabled (idempotent; the first time is kept).
    async fn disable_user(&self, id: UserId, now: Timestamp) -> Result<bool, MetaError>;

    /// Removes an owner from a package; `false` if the user was not an owner.
    /// [`MetaError::UnknownPackage`] if there is no such package.
    async fn remove_owner(&self, package: &str, user: UserId) -> Result<bool, MetaError>;

    /// Revokes a token (idempotent: revoking again keeps the first time).
    async fn revoke_token(&self, id: TokenId, now: Timestamp) -> Result<(), MetaError>;

    // --- packages and versions ----------------------------------------------------

    /// Creates a package owned by `owner`; [`MetaError::PackageExists`] if taken,
    /// [`MetaError::NameConflict`] if the name normalises ([`normalized_name`]) like an
    /// existing package's, [`MetaError::ScopeClaimed`] if other users own its scope (an
    /// unclaimed scope becomes `owner`'s).
    async fn create_package(
        &self,
        name: &str,
        owner: UserId,
        now: Timestamp,
    ) -> Result<Package, MetaError>;

    async fn package(&self, name: &str) -> Result<Option<Package>, MetaError>;

    /// Packages by name after `after` (exclusive), at most `limit`, each with its most
    /// recently published version (read-only; any number may run concurrently).
    async fn package_summaries(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<PackageSummary>, MetaError>;

    /// Makes `user` an owner of `scope` (without `@`; normalised), claiming it if
    /// nobody owns it yet: an administrator's grant. Idempotent.
    async fn grant_scope(&self, scope: &str, user: UserId, now: Timestamp)
        -> Result<(), MetaError>;

    /// The owners of `scope` (without `@`), oldest first; empty while unclaimed.
    async fn scope_owners(&self, scope: &str) -> Result<Vec<User>, MetaError>;

    /// Adds an owner (idempotent).
    async fn add_owner(&self, package: &str, user: UserId, now: Timestamp)
        -> Result<(), MetaError>;

    async fn owners(&self, package: &str) -> Result<Vec<User>, MetaError>;

    /// Appends an index entry: the commit point of a publish. A version equal to an
    /// existing one but for build metadata is [`MetaError::VersionBuildConflict`]. With `binding`, the
    /// binding must be active and belong to the package, and the presented
    /// `repository_owner_id` is recorded on first use or must equal the recorded one
    /// ([`MetaError::RepositoryOwnerChanged`]), in the same transaction.
    /// [`MetaError::VersionExists`] if (package, version) is taken.
    async fn insert_version(
        &self,
        package: &str,
        binding: Option<BindingId>,
        version: &NewVersion,
    ) -> Result<VersionEntry, MetaError>;

    /// The first publish through a pending binding, atomically: creates the package
    /// (owned by whoever registered the pending binding), turns the pending binding
    /// into an active one (recording the repository owner id), deletes the other
    /// pending bindings for that name, and appends the version. Either all of it
    /// commits or none. [`MetaError::UnknownPendingBinding`] if a concurrent publish
    /// used it first; [`MetaError::PackageExists`] if the name was taken otherwise;
    /// [`MetaError::ScopeClaimed`] if the binding's registrant does not own the scope
    /// (a pending binding from before scopes were owned); [`MetaError::NameConflict`].
    async fn publish_pending(
        &self,
        pending: PendingBindingId,
        version: &NewVersion,
    ) -> Result<PromotedPublish, MetaError>;

    async fn version(
        &self,
        package: &str,
        version: &str,
    ) -> Result<Option<VersionEntry>, MetaError>;

    /// What a publish reads before its commit, in one go: see [`PublishContext`].
    async fn publish_context(
        &self,
        package: &str,
        version: &str,
    ) -> Result<PublishContext, MetaError>;

    /// All versions of a package, oldest first.
    async fn versions(&self, package: &str) -> Result<Vec<VersionEntry>, MetaError>;

    /// Whether some index entry references the blob: the server serves a blob only
    /// then, so blobs left by a crashed publish stay invisible.
    async fn blob_referenced(&self, blake3: &[u8; 32]) -> Result<bool, MetaError>;

    // --- trusted publishers -------------------------------------------------------

    /// Registers a binding for an existing package. [`MetaError::BindingExists`] for
    /// an identical active one (repository and environment compared
    /// case-insensitively), [`MetaError::TooManyBindings`] beyond
    /// [`MAX_BINDINGS_PER_PACKAGE`].
    async fn add_binding(
        &self,
        package: &str,
        publisher: &Publisher,
        created_by: UserId,
        now: Timestamp,
    ) -> Result<Binding, MetaError>;

    /// Active bindings of a package, oldest first.
    async fn bindings(&self, package: &str) -> Result<Vec<Binding>, MetaError>;

    /// Active bindings of `package` that accept a token presenting `presented`.
    async fn matching_bindings(
        &self,
        package: &str,
        presented: &Publisher,
    ) -> Result<Vec<Binding>, MetaError>;

    /// Removes a binding (it stays in the table for the versions referencing it), with
    /// a `publisher.removed` audit event by `actor` in the same transaction.
    async fn remove_binding(
        &self,
        id: BindingId,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), MetaError>;

    /// Registers a pending binding for a package name nobody owns yet, in a scope
    /// `created_by` owns (an unclaimed scope becomes theirs).
    /// [`MetaError::PackageExists`] if the package exists, [`MetaError::NameConflict`]
    /// if another package's name normalises alike, [`MetaError::ScopeClaimed`] if other
    /// users own the scope, plus the errors of [`MetaStore::add_binding`].
    async fn add_pending_binding(
        &self,
        package_name: &str,
        publisher: &Publisher,
        created_by: UserId,
        now: Timestamp,
    ) -> Result<PendingBinding, MetaError>;

    async fn pending_bindings(&self, package_name: &str) -> Result<Vec<PendingBinding>, MetaError>;

    /// Pending bindings for `package_name` that accept `presented`.
    async fn matching_pending_bindings(
        &self,
        package_name: &str,
        presented: &Publisher,
    ) -> Result<Vec<PendingBinding>, MetaError>;

    /// Deletes a pending binding, with a `publisher.pending.removed` audit event by
    /// `actor` in the same transaction. Its id is never given out again.
    async fn remove_pending_binding(
        &self,
        id: PendingBindingId,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), MetaError>;

    // --- OIDC replay store --------------------------------------------------------

    /// Records (issuer, jti) unless an unexpired record exists, in one atomic
    /// statement. A record whose `expires_at <= now` counts as absent and is replaced.
    async fn insert_jti_if_absent(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<ReplayOutcome, MetaError>;

    /// [`MetaStore::insert_jti_if_absent`] for many `(issuer, jti, expires_at)` in one
    /// write transaction (one commit, one fsync): the replay store's group commit.
    /// Outcomes are in input order; a key repeated within `keys` is `AlreadyPresent`
    /// after its first occurrence. Durable (committed) when it returns `Ok`; on `Err`
    /// nothing was recorded. The default runs the single inserts one by one.
    async fn insert_jtis_if_absent(
        &self,
        keys: &[(String, String, Timestamp)],
        now: Timestamp,
    ) -> Result<Vec<ReplayOutcome>, MetaError> {
        let mut out = Vec::with_capacity(keys.len());
        for (issuer, jti, expires_at) in keys {
            out.push(
                self.insert_jti_if_absent(issuer, jti, *expires_at, now)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Deletes expired replay records; returns how many.
    async fn sweep_replay(&self, now: Timestamp) -> Result<u64, MetaError>;

    // --- audit log ----------------------------------------------------------------

    /// Appends one event. There is deliberately no way to change or remove it.
    async fn append_audit(
        &self,
        event: &str,
        actor: Option<&str>,
        subject: Option<&str>,
        details_json: &str,
        at: Timestamp,
    ) -> Result<AuditId, MetaError>;

    /// Lists events matching `filter` (see [`AuditFilter`]). Ids are assigned at
    /// insert, so on PostgreSQL a page read while appends are in flight may miss a row
    /// that commits later with a smaller id; audits reading "everything up to now"
    /// should bound `until` a few seconds in the past.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, MetaError>;

    // --- publish lookups (registry HTTP) --------------------------------------------

    /// A binding by id, active or removed (index entries name the binding a version
    /// was published through, which may since have been removed).
    async fn binding(&self, id: BindingId) -> Result<Option<Binding>, MetaError>;

    /// The oldest index entry referencing the blob, with its package name: how the
    /// server finds the bundle to serve at `/blobs/<b3>.sigstore` (bundles are stored
    /// under their own content address, see `NewVersion::bundle_key`).
    async fn version_by_blob(
        &self,
        blake3: &[u8; 32],
    ) -> Result<Option<(String, VersionEntry)>, MetaError>;

    // --- registry integrity (schema v2) -------------------------------------------

    /// This database's instance id (32 hex digits), made once when the schema was
    /// created. Sealed registry keys bind it into their additional authenticated data.
    async fn instance_id(&self) -> Result<String, MetaError>;

    /// Every registry signing key: the current one first, then retired ones, newest
    /// first. Keys are never deleted.
    async fn registry_keys(&self) -> Result<Vec<StoredRegistryKey>, MetaError>;

    /// In one transaction (serialised across processes): if the current key's kid is
    /// `expected_current` (`None`: there is no key yet), retires it at
    /// `new.created_at` and inserts `new` as the current key. Returns `false`, writing
    /// nothing, when another key is current (a concurrent rotation won).
    async fn rotate_registry_key(
        &self,
        expected_current: Option<&str>,
        new: &StoredRegistryKey,
    ) -> Result<bool, MetaError>;

    /// The commit point of a TOKEN_ENC_KEY rotation or Sigstore key reset, in ONE
    /// transaction: replaces the `sealed` column of each named registry key (kid, new
    /// sealed bytes; nothing else about a key changes, migration 0005's trigger
    /// enforces it), sets the instance setting `setting` to `value`, and appends the
    /// audit event `event` with `details_json`. All of it or none of it; an unknown
    /// kid is [`MetaError::Corrupt`] and writes nothing.
    async fn commit_reseal(
        &self,
        reseal: &[(String, Vec<u8>)],
        setting: (&str, &str),
        event: &str,
        actor: &str,
        details_json: &str,
        now: Timestamp,
    ) -> Result<(), MetaError>;

    /// An instance setting's value, if set.
    async fn setting(&self, name: &str) -> Result<Option<String>, MetaError>;

    /// Sets (inserts or replaces) an instance setting.
    async fn put_setting(&self, name: &str, value: &str, now: Timestamp) -> Result<(), MetaError>;

    /// Creates an administrator token; returns its plaintext once (only its SHA-256
    /// is stored).
    async fn create_admin_token(
        &self,
        label: &str,
        now: Timestamp,
    ) -> Result<(AdminToken, TokenSecret), MetaError>;

    /// The unrevoked administrator token a presented secret belongs to (lookup by
    /// hash, then a constant-time comparison).
    async fn authenticate_admin(&self, secret: &str) -> Result<Option<AdminToken>, MetaError>;

    /// Records a release, or finds the one already recorded for (forge, repository,
    /// tag): idempotent. The flag says whether this call inserted it.
    async fn upsert_release(&self, release: &NewRelease) -> Result<(ReleaseRow, bool), MetaError>;

    async fn release_by_id(&self, id: i64) -> Result<Option<ReleaseRow>, MetaError>;

    /// Records an asset, idempotent on (release, name): an identical row is
    /// [`AssetInsert::Unchanged`], a different one [`AssetInsert::Conflict`] (nothing
    /// written; assets are immutable, and the schema refuses updates and deletes).
    async fn insert_release_asset(&self, asset: &ReleaseAsset) -> Result<AssetInsert, MetaError>;

    /// The assets of a release in the order they were recorded.
    async fn release_assets(&self, release_id: i64) -> Result<Vec<ReleaseAsset>, MetaError>;

    /// Releases with id above `after` that have no integrity record, oldest first.
    async fn releases_without_integrity(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ReleaseRow>, MetaError>;

    /// Package versions with id above `after` that have no integrity record.
    async fn versions_without_integrity(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<UnrecordedVersion>, MetaError>;

    /// Stores a verified attestation bundle of an asset (idempotent on the bundle's
    /// SHA-256); `true` if this call stored it.
    async fn insert_attestation(&self, attestation: &StoredAttestation) -> Result<bool, MetaError>;

    async fn attestations(
        &self,
        release_id: i64,
        asset_name: &str,
    ) -> Result<Vec<StoredAttestation>, MetaError>;

    /// Stores a logged integrity record. Unique on (kind, subject, version): when one
    /// exists, nothing is written and the stored row comes back with `false`.
    async fn insert_integrity_record(
        &self,
        record: &NewIntegrityRecord,
    ) -> Result<(IntegrityRow, bool), MetaError>;

    /// Stores several logged integrity records in one transaction, each as
    /// [`MetaStore::insert_integrity_record`] would; results in input order.
    async fn insert_integrity_records(
        &self,
        records: &[NewIntegrityRecord],
    ) -> Result<Vec<(IntegrityRow, bool)>, MetaError>;

    /// The integrity record of a subject (and version, when given).
    async fn integrity_record(
        &self,
        kind: RecordKind,
        subject: &str,
        version: Option<&str>,
    ) -> Result<Option<IntegrityRow>, MetaError>;

    // --- administrator web sessions -------------------------------------------------

    /// Starts a web session (migration 0008): in one transaction serialised across
    /// nodes, deletes every session past a deadline, ends the ones closest to expiry
    /// while `cap` would be exceeded, and inserts this one with its idle deadline
    /// (`now + idle`, never after the absolute one) and absolute deadline
    /// (`now + absolute`). A key already present is a database error (keys are
    /// SHA-256 of 32 random bytes).
    async fn create_web_session(&self, session: &NewWebSession<'_>) -> Result<(), MetaError>;

    /// The live session under `key` (both deadlines after `now_ms`, checked in SQL),
    /// with its idle deadline moved to `now_ms + idle_ms` (never past the absolute one)
    /// and its flash message taken (deleted): shown once, by whichever node serves the
    /// next page. A session past a deadline is deleted and `None` returned.
    async fn touch_web_session(
        &self,
        key: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Option<(WebSessionRow, Option<WebFlash>)>, MetaError>;

    /// Leaves `flash` for the session's next page (replacing an unshown one); nothing
    /// when the session does not exist.
    async fn flash_web_session(&self, key: &str, flash: &WebFlash) -> Result<(), MetaError>;

    /// Ends the session under `key` on every node (idempotent).
    async fn end_web_session(&self, key: &str) -> Result<(), MetaError>;

    /// Ends every session signed in with administrator token `token_id`; returns how
    /// many ended.
    async fn end_web_sessions_for_token(&self, token_id: i64) -> Result<u64, MetaError>;

    /// Sessions live at `now_ms` (metrics and tests).
    async fn live_web_sessions(&self, now_ms: i64) -> Result<u64, MetaError>;

    // --- operations ---------------------------------------------------------------

    /// One round trip to the database (`SELECT 1`): readiness checks. Fails when the
    /// database is gone or unreachable.
    async fn ping(&self) -> Result<(), MetaError>;

    /// The connection pool's occupancy now (metrics); never waits.
    fn pool_stats(&self) -> PoolStats;

    // --- the Python index (issue 18) ------------------------------------------------

    /// Adds a file to a Python project, authorised by `publisher`, in one transaction:
    /// through a pending binding the project is created first (as
    /// [`MetaStore::publish_pending`] does). A taken file name is never changed: the
    /// stored file comes back as [`PyFileInsert::Existing`] and nothing is written.
    async fn pypi_insert_file(
        &self,
        file: &NewPyFile,
        publisher: PyPublisher,
    ) -> Result<PyFileInsert, MetaError>;

    /// Every file of a Python project (its vouch package name), oldest first, with
    /// each release's yank state.
    async fn pypi_files(&self, package: &str) -> Result<Vec<PyFile>, MetaError>;

    /// One file by name.
    async fn pypi_file(&self, filename: &str) -> Result<Option<PyFile>, MetaError>;

    /// The vouch names of the packages that have Python files, sorted.
    async fn pypi_projects(&self) -> Result<Vec<String>, MetaError>;

    /// Yanks (`Some(reason)`) or un-yanks (`None`) a release. False when the project has
    /// no file of that version.
    async fn pypi_set_yanked(
        &self,
        package: &str,
        version: &str,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, MetaError>;

    /// The active bindings (with their package names) and the pending bindings of
    /// Python projects registered for `provider` and `repository` (compared
    /// case-insensitively): the candidates a trusted-publishing token is matched against.
    async fn pypi_candidate_bindings(
        &self,
        provider: &str,
        repository: &str,
    ) -> Result<(Vec<(String, Binding)>, Vec<PendingBinding>), MetaError>;
}

/// A connection pool's occupancy at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (idle and in use).
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool will open.
    pub max: u32,
}
