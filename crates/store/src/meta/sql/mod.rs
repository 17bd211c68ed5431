//! The SQL both backends share, compiled once per dialect: `sqlite.rs` and `postgres.rs` each include this module with their own `Db`, `Store` and dialect hooks (`begin_write`, `lock_name`, `MIGRATIONS`, `MIGRATIONS_TABLE_EXISTS`).
//!
//! Queries use `$N` placeholders, which both sqlx drivers accept, and only types
//! both databases share (64-bit integers, text, bytes). Every write runs in a
//! transaction from `begin_write`, which on SQLite takes the write lock up front
//! (`BEGIN IMMEDIATE`), so reads inside it see a state no other writer can change.

mod bindings;
mod migrate;
mod packages;
mod replay_audit;
mod rows;
mod users;

use async_trait::async_trait;

use super::{begin_write, lock_name, Db, Store, MIGRATIONS, MIGRATIONS_TABLE_EXISTS};
use crate::meta::*;

#[async_trait]
impl MetaStore for Store {
    async fn migrate(&self) -> Result<(), MetaError> {
        migrate::migrate(&self.pool).await
    }

    async fn check_schema(&self) -> Result<(), MetaError> {
        migrate::check(&self.pool).await
    }

    async fn create_user(
        &self,
        name: &str,
        email: Option<&str>,
        now: Timestamp,
    ) -> Result<User, MetaError> {
        users::create_user(&self.pool, name, email, now).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, MetaError> {
        users::user(&self.pool, id).await
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>, MetaError> {
        users::user_by_name(&self.pool, name).await
    }

    async fn create_token(
        &self,
        user: UserId,
        label: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(ApiToken, TokenSecret), MetaError> {
        users::create_token(&self.pool, user, label, expires_at, now).await
    }

    async fn authenticate(
        &self,
        secret: &str,
        now: Timestamp,
    ) -> Result<Option<(User, ApiToken)>, MetaError> {
        users::authenticate(&self.pool, secret, now).await
    }

    async fn tokens(&self, user: UserId) -> Result<Vec<ApiToken>, MetaError> {
        users::tokens(&self.pool, user).await
    }

    async fn revoke_token(&self, id: TokenId, now: Timestamp) -> Result<(), MetaError> {
        users::revoke_token(&self.pool, id, now).await
    }

    async fn create_package(
        &self,
        name: &str,
        owner: UserId,
        now: Timestamp,
    ) -> Result<Package, MetaError> {
        packages::create_package(&self.pool, name, owner, now).await
    }

    async fn package(&self, name: &str) -> Result<Option<Package>, MetaError> {
        packages::package(&self.pool, name).await
    }

    async fn add_owner(
        &self,
        package: &str,
        user: UserId,
        now: Timestamp,
    ) -> Result<(), MetaError> {
        packages::add_owner(&self.pool, package, user, now).await
    }

    async fn owners(&self, package: &str) -> Result<Vec<User>, MetaError> {
        packages::owners(&self.pool, package).await
    }

    async fn insert_version(
        &self,
        package: &str,
        binding: Option<BindingId>,
        version: &NewVersion,
    ) -> Result<VersionEntry, MetaError> {
        packages::insert_version(&self.pool, package, binding, version).await
    }

    async fn publish_pending(
        &self,
        pending: PendingBindingId,
        version: &NewVersion,
    ) -> Result<PromotedPublish, MetaError> {
        bindings::publish_pending(&self.pool, pending, version).await
    }

    async fn version(
        &self,
        package: &str,
        version: &str,
    ) -> Result<Option<VersionEntry>, MetaError> {
        packages::version(&self.pool, package, version).await
    }

    async fn versions(&self, package: &str) -> Result<Vec<VersionEntry>, MetaError> {
        packages::versions(&self.pool, package).await
    }

    async fn blob_referenced(&self, blake3: &[u8; 32]) -> Result<bool, MetaError> {
        packages::blob_referenced(&self.pool, blake3).await
    }

    async fn add_binding(
        &self,
        package: &str,
        publisher: &Publisher,
        created_by: UserId,
        now: Timestamp,
    ) -> Result<Binding, MetaError> {
        bindings::add_binding(&self.pool, package, publisher, created_by, now).await
    }

    async fn bindings(&self, package: &str) -> Result<Vec<Binding>, MetaError> {
        bindings::bindings(&self.pool, package, None).await
    }

    async fn matching_bindings(
        &self,
        package: &str,
        presented: &Publisher,
    ) -> Result<Vec<Binding>, MetaError> {
        bindings::bindings(&self.pool, package, Some(presented)).await
    }

    async fn remove_binding(&self, id: BindingId, now: Timestamp) -> Result<(), MetaError> {
        bindings::remove_binding(&self.pool, id, now).await
    }

    async fn add_pending_binding(
        &self,
        package_name: &str,
        publisher: &Publisher,
        created_by: UserId,
        now: Timestamp,
    ) -> Result<PendingBinding, MetaError> {
        bindings::add_pending(&self.pool, package_name, publisher, created_by, now).await
    }

    async fn pending_bindings(&self, package_name: &str) -> Result<Vec<PendingBinding>, MetaError> {
        bindings::pending(&self.pool, package_name, None).await
    }

    async fn matching_pending_bindings(
        &self,
        package_name: &str,
        presented: &Publisher,
    ) -> Result<Vec<PendingBinding>, MetaError> {
        bindings::pending(&self.pool, package_name, Some(presented)).await
    }

    async fn remove_pending_binding(&self, id: PendingBindingId) -> Result<(), MetaError> {
        bindings::remove_pending(&self.pool, id).await
    }

    async fn insert_jti_if_absent(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<ReplayOutcome, MetaError> {
        replay_audit::insert_jti(&self.pool, issuer, jti, expires_at, now).await
    }

    async fn sweep_replay(&self, now: Timestamp) -> Result<u64, MetaError> {
        replay_audit::sweep(&self.pool, now).await
    }

    async fn append_audit(
        &self,
        event: &str,
        actor: Option<&str>,
        subject: Option<&str>,
        details_json: &str,
        at: Timestamp,
    ) -> Result<AuditId, MetaError> {
        replay_audit::append(&self.pool, event, actor, subject, details_json, at).await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, MetaError> {
        replay_audit::list(&self.pool, filter).await
    }
}
