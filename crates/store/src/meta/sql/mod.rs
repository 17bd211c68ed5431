//! The SQL both backends share, compiled once per dialect: `sqlite.rs` and `postgres.rs` each include this module with their own `Db`, `Store` and dialect hooks (`begin_write`, `lock_name`, `MIGRATIONS`, `MIGRATIONS_TABLE_EXISTS`).
//!
//! Queries use `$N` placeholders, which both sqlx drivers accept, and only types
//! both databases share (64-bit integers, text, bytes). Every write runs in a
//! transaction from `begin_write`, which on SQLite takes the write lock up front
//! (`BEGIN IMMEDIATE`), so reads inside it see a state no other writer can change.

mod bindings;
mod cargo;
mod integrity;
mod migrate;
mod packages;
mod pypi;
mod replay_audit;
mod rows;
mod users;
mod web_sessions;

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

    async fn issue_token(
        &self,
        spec: &NewToken<'_>,
        now: Timestamp,
    ) -> Result<(ApiToken, TokenSecret), MetaError> {
        users::issue_token(&self.pool, spec, now).await
    }

    async fn check_token(&self, secret: &str, now: Timestamp) -> Result<TokenCheck, MetaError> {
        users::check_token(&self.pool, secret, now).await
    }

    async fn token(&self, id: TokenId) -> Result<Option<ApiToken>, MetaError> {
        users::token_by_id(&self.pool, id).await
    }

    async fn list_users(&self) -> Result<Vec<User>, MetaError> {
        users::list_users(&self.pool).await
    }

    async fn disable_user(&self, id: UserId, now: Timestamp) -> Result<bool, MetaError> {
        users::disable_user(&self.pool, id, now).await
    }

    async fn remove_owner(&self, package: &str, user: UserId) -> Result<bool, MetaError> {
        packages::remove_owner(&self.pool, package, user).await
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

    async fn package_summaries(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<PackageSummary>, MetaError> {
        packages::summaries(&self.pool, after, limit).await
    }

    async fn grant_scope(
        &self,
        scope: &str,
        user: UserId,
        now: Timestamp,
    ) -> Result<(), MetaError> {
        packages::grant_scope(&self.pool, scope, user, now).await
    }

    async fn scope_owners(&self, scope: &str) -> Result<Vec<User>, MetaError> {
        packages::scope_owners(&self.pool, scope).await
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

    async fn publish_context(
        &self,
        package: &str,
        version: &str,
    ) -> Result<PublishContext, MetaError> {
        packages::publish_context(&self.pool, package, version).await
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

    async fn remove_binding(
        &self,
        id: BindingId,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), MetaError> {
        bindings::remove_binding(&self.pool, id, actor, now).await
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

    async fn remove_pending_binding(
        &self,
        id: PendingBindingId,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), MetaError> {
        bindings::remove_pending(&self.pool, id, actor, now).await
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

    async fn insert_jtis_if_absent(
        &self,
        keys: &[(String, String, Timestamp)],
        now: Timestamp,
    ) -> Result<Vec<ReplayOutcome>, MetaError> {
        replay_audit::insert_jtis(&self.pool, keys, now).await
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

    async fn binding(&self, id: BindingId) -> Result<Option<Binding>, MetaError> {
        bindings::binding_by_id(&self.pool, id).await
    }

    async fn version_by_blob(
        &self,
        blake3: &[u8; 32],
    ) -> Result<Option<(String, VersionEntry)>, MetaError> {
        packages::version_by_blob(&self.pool, blake3).await
    }

    async fn instance_id(&self) -> Result<String, MetaError> {
        integrity::instance_id(&self.pool).await
    }

    async fn registry_keys(&self) -> Result<Vec<StoredRegistryKey>, MetaError> {
        integrity::registry_keys(&self.pool).await
    }

    async fn rotate_registry_key(
        &self,
        expected_current: Option<&str>,
        new: &StoredRegistryKey,
    ) -> Result<bool, MetaError> {
        integrity::rotate_registry_key(&self.pool, expected_current, new).await
    }

    async fn commit_reseal(
        &self,
        reseal: &[(String, Vec<u8>)],
        setting: (&str, &str),
        event: &str,
        actor: &str,
        details_json: &str,
        now: Timestamp,
    ) -> Result<(), MetaError> {
        integrity::commit_reseal(
            &self.pool,
            reseal,
            setting,
            (event, actor, details_json),
            now,
        )
        .await
    }

    async fn setting(&self, name: &str) -> Result<Option<String>, MetaError> {
        integrity::setting(&self.pool, name).await
    }

    async fn put_setting(&self, name: &str, value: &str, now: Timestamp) -> Result<(), MetaError> {
        integrity::put_setting(&self.pool, name, value, now).await
    }

    async fn create_admin_token(
        &self,
        label: &str,
        now: Timestamp,
    ) -> Result<(AdminToken, TokenSecret), MetaError> {
        integrity::create_admin_token(&self.pool, label, now).await
    }

    async fn authenticate_admin(&self, secret: &str) -> Result<Option<AdminToken>, MetaError> {
        integrity::authenticate_admin(&self.pool, secret).await
    }

    async fn upsert_release(&self, release: &NewRelease) -> Result<(ReleaseRow, bool), MetaError> {
        integrity::upsert_release(&self.pool, release).await
    }

    async fn release_by_id(&self, id: i64) -> Result<Option<ReleaseRow>, MetaError> {
        integrity::release_by_id(&self.pool, id).await
    }

    async fn insert_release_asset(&self, asset: &ReleaseAsset) -> Result<AssetInsert, MetaError> {
        integrity::insert_release_asset(&self.pool, asset).await
    }

    async fn release_assets(&self, release_id: i64) -> Result<Vec<ReleaseAsset>, MetaError> {
        integrity::release_assets(&self.pool, release_id).await
    }

    async fn releases_without_integrity(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ReleaseRow>, MetaError> {
        integrity::releases_without_integrity(&self.pool, after, limit).await
    }

    async fn versions_without_integrity(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<UnrecordedVersion>, MetaError> {
        integrity::versions_without_integrity(&self.pool, after, limit).await
    }

    async fn insert_attestation(&self, attestation: &StoredAttestation) -> Result<bool, MetaError> {
        integrity::insert_attestation(&self.pool, attestation).await
    }

    async fn attestations(
        &self,
        release_id: i64,
        asset_name: &str,
    ) -> Result<Vec<StoredAttestation>, MetaError> {
        integrity::attestations(&self.pool, release_id, asset_name).await
    }

    async fn insert_integrity_record(
        &self,
        record: &NewIntegrityRecord,
    ) -> Result<(IntegrityRow, bool), MetaError> {
        let mut done =
            integrity::insert_integrity_records(&self.pool, std::slice::from_ref(record)).await?;
        done.pop()
            .ok_or_else(|| MetaError::db("insert integrity record")(sqlx::Error::RowNotFound))
    }

    async fn insert_integrity_records(
        &self,
        records: &[NewIntegrityRecord],
    ) -> Result<Vec<(IntegrityRow, bool)>, MetaError> {
        integrity::insert_integrity_records(&self.pool, records).await
    }

    async fn integrity_record(
        &self,
        kind: RecordKind,
        subject: &str,
        version: Option<&str>,
    ) -> Result<Option<IntegrityRow>, MetaError> {
        integrity::integrity_record(&self.pool, kind, subject, version).await
    }

    async fn create_web_session(&self, session: &NewWebSession<'_>) -> Result<(), MetaError> {
        web_sessions::create(&self.pool, session).await
    }

    async fn touch_web_session(
        &self,
        key: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Option<(WebSessionRow, Option<WebFlash>)>, MetaError> {
        web_sessions::touch(&self.pool, key, now_ms, idle_ms).await
    }

    async fn flash_web_session(&self, key: &str, flash: &WebFlash) -> Result<(), MetaError> {
        web_sessions::flash(&self.pool, key, flash).await
    }

    async fn end_web_session(&self, key: &str) -> Result<(), MetaError> {
        web_sessions::end(&self.pool, key).await
    }

    async fn end_web_sessions_for_token(&self, token_id: i64) -> Result<u64, MetaError> {
        web_sessions::end_for_token(&self.pool, token_id).await
    }

    async fn live_web_sessions(&self, now_ms: i64) -> Result<u64, MetaError> {
        web_sessions::live(&self.pool, now_ms).await
    }

    async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(MetaError::db("ping"))
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            open: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn pypi_insert_file(
        &self,
        file: &NewPyFile,
        publisher: PyPublisher,
    ) -> Result<PyFileInsert, MetaError> {
        pypi::insert_file(&self.pool, file, publisher).await
    }

    async fn pypi_files(&self, package: &str) -> Result<Vec<PyFile>, MetaError> {
        pypi::files(&self.pool, package).await
    }

    async fn pypi_file(&self, filename: &str) -> Result<Option<PyFile>, MetaError> {
        pypi::file(&self.pool, filename).await
    }

    async fn pypi_projects(&self) -> Result<Vec<String>, MetaError> {
        pypi::projects(&self.pool).await
    }

    async fn pypi_set_yanked(
        &self,
        package: &str,
        version: &str,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, MetaError> {
        pypi::set_yanked(&self.pool, package, version, reason, now).await
    }

    async fn pypi_candidate_bindings(
        &self,
        provider: &str,
        repository: &str,
    ) -> Result<(Vec<(String, Binding)>, Vec<PendingBinding>), MetaError> {
        pypi::candidate_bindings(&self.pool, provider, repository).await
    }
}
