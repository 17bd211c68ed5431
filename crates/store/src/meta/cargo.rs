//! The Cargo registry's metadata (issue 19): crates, their owners, immutable versions with a separate yank state, trusted-publisher bindings and the short-lived publish tokens of the trusted-publishing exchange.
//!
//! [`CargoMeta`] is a supertrait of [`super::MetaStore`], so every metadata store
//! (SQLite and PostgreSQL, the same SQL in `sql/cargo.rs`) answers it and callers holding
//! an `Arc<dyn MetaStore>` call it directly. Uniqueness (normalised crate names,
//! versions without build metadata, active bindings) is decided by database constraints.

use async_trait::async_trait;

use super::{MetaError, Publisher, Timestamp, User, UserId};

/// Cargo's crate-name normalisation: ASCII lowercase, `-` and `_` alike. Two names that
/// normalise alike are the same crate (crates.io refuses the second spelling).
pub fn cargo_name_norm(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// A crate. `name` is the spelling of its first publish or claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoCrate {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
}

/// What claiming a crate name for a user found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CargoClaim {
    /// The crate did not exist: it now does, owned by the user.
    Created(CargoCrate),
    /// The crate exists and the user owns it.
    Owned(CargoCrate),
    /// The crate exists and the user is not among its owners.
    Foreign(CargoCrate),
}

/// A version to append (the commit point of a publish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCargoVersion {
    pub crate_id: i64,
    pub vers: String,
    /// The version without build metadata: unique per crate.
    pub vers_key: String,
    /// SHA-256 of the `.crate` (hex), computed by the registry.
    pub cksum: String,
    /// BLAKE3 of the `.crate` (hex): the blob's address.
    pub blake3: String,
    pub size: u64,
    /// The index line (JSON, `yanked` set to false: the yank state is kept apart).
    pub index_line: String,
    /// JSON `{"id","login","name"}` of the user whose token published, if any.
    pub published_by: Option<String>,
    /// JSON `trustpub_data` (provider, repository, workflow, environment, run) when
    /// published through trusted publishing.
    pub trustpub_data: Option<String>,
    /// The canonical JSON the version's integrity record commits to.
    pub provenance: String,
    pub pubtime: Timestamp,
}

/// A stored version with its yank state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoVersion {
    pub id: i64,
    /// What its publish appended (never changed afterwards).
    pub published: NewCargoVersion,
    pub yanked: bool,
    /// When the yank state last changed (`None`: never).
    pub yank_changed_at: Option<Timestamp>,
}

/// An active (or, for lookups by id, removed) trusted-publisher binding of a crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoBinding {
    pub id: i64,
    pub crate_id: i64,
    /// The crate's name (joined in for the exchange, which scopes tokens by name).
    pub crate_name: String,
    pub publisher: Publisher,
    pub created_by: UserId,
    pub created_at: Timestamp,
}

/// A publish token from the trusted-publishing exchange (stored as its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoPublishToken {
    /// Normalised names of the crates it may publish.
    pub crates: Vec<String>,
    /// JSON of who exchanged it (the `trustpub_data` its publishes record).
    pub publisher: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// The Cargo registry's metadata. Same durability and concurrency contract as
/// [`super::MetaStore`]: each write is one transaction, uniqueness is the database's.
#[async_trait]
pub trait CargoMeta: Send + Sync {
    /// The crate whose normalised name is `cargo_name_norm(name)`.
    async fn cargo_crate(&self, name: &str) -> Result<Option<CargoCrate>, MetaError>;

    /// Creates the crate owned by `user` unless it exists; says which.
    async fn cargo_claim(
        &self,
        name: &str,
        user: UserId,
        now: Timestamp,
    ) -> Result<CargoClaim, MetaError>;

    async fn cargo_owners(&self, crate_id: i64) -> Result<Vec<User>, MetaError>;

    /// Adds an owner (idempotent).
    async fn cargo_add_owner(
        &self,
        crate_id: i64,
        user: UserId,
        now: Timestamp,
    ) -> Result<(), MetaError>;

    /// Removes an owner unless it is the last one; `false` when it was not an owner or
    /// is the last.
    async fn cargo_remove_owner(&self, crate_id: i64, user: UserId) -> Result<bool, MetaError>;

    /// Appends a version: [`MetaError::VersionExists`] when the crate has it (build
    /// metadata ignored).
    async fn cargo_insert_version(
        &self,
        version: &NewCargoVersion,
    ) -> Result<CargoVersion, MetaError>;

    /// Every version of a crate, oldest first.
    async fn cargo_versions(&self, crate_id: i64) -> Result<Vec<CargoVersion>, MetaError>;

    /// Sets a version's yank state; `false` when the crate has no such version.
    async fn cargo_set_yanked(
        &self,
        crate_id: i64,
        vers: &str,
        yanked: bool,
        now: Timestamp,
    ) -> Result<bool, MetaError>;

    /// Registers a binding (GitHub or GitLab). [`MetaError::BindingExists`] for an
    /// identical active one.
    async fn cargo_add_binding(
        &self,
        crate_id: i64,
        publisher: &Publisher,
        created_by: UserId,
        now: Timestamp,
    ) -> Result<CargoBinding, MetaError>;

    /// Active bindings of a crate, oldest first.
    async fn cargo_bindings(&self, crate_id: i64) -> Result<Vec<CargoBinding>, MetaError>;

    /// Active bindings of every crate for `provider` and `repository` (compared
    /// case-insensitively): the candidates of a trusted-publishing exchange.
    async fn cargo_bindings_for_repository(
        &self,
        provider: &str,
        repository: &str,
    ) -> Result<Vec<CargoBinding>, MetaError>;

    /// Removes an active binding of `crate_id`; `false` when there is none with `id`.
    async fn cargo_remove_binding(
        &self,
        crate_id: i64,
        id: i64,
        now: Timestamp,
    ) -> Result<bool, MetaError>;

    /// Stores a publish token's hash with its scope.
    async fn cargo_insert_publish_token(
        &self,
        hash: &[u8; 32],
        token: &CargoPublishToken,
    ) -> Result<(), MetaError>;

    /// The publish token with this hash, whatever its state.
    async fn cargo_publish_token(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<CargoPublishToken>, MetaError>;

    /// Revokes a publish token (idempotent); `false` when unknown.
    async fn cargo_revoke_publish_token(
        &self,
        hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<bool, MetaError>;
}
