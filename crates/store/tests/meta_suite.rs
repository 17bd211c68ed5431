//! The metadata store's integration suite: every case runs against SQLite (a temp file) and PostgreSQL (a fresh database per test, dropped after, even on failure).
//!
//! PostgreSQL is the local trust-auth server at 127.0.0.1:5432 (admin connection as
//! `postgres`, or set `VOUCH_TEST_PG` to another admin URL).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

#[path = "meta_suite/bindings.rs"]
mod bindings;
#[path = "meta_suite/harness.rs"]
mod harness;
#[path = "meta_suite/hostile.rs"]
mod hostile;
#[path = "meta_suite/misc.rs"]
mod misc;
#[path = "meta_suite/packages.rs"]
mod packages;
#[path = "meta_suite/publish_records.rs"]
mod publish_records;
#[path = "meta_suite/reseal.rs"]
mod reseal;
#[path = "meta_suite/users.rs"]
mod users;
#[path = "meta_suite/web_sessions.rs"]
mod web_sessions;

/// One `#[tokio::test]` per (backend, case).
macro_rules! suite {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fresh = crate::harness::Fresh::sqlite().await;
                    crate::$module::$case(&fresh).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fresh = crate::harness::Fresh::postgres().await;
                    crate::$module::$case(&fresh).await;
                }
            )*
        }
    };
}

suite! {
    misc::schema_is_explicit_and_migrate_is_idempotent,
    users::users_roundtrip_and_duplicates,
    users::tokens_hashed_expiring_revocable,
    users::token_checks_scopes_and_disabled_users,
    users::owners_are_removable,
    packages::packages_and_owners,
    packages::versions_roundtrip_and_errors,
    packages::concurrent_version_inserts_one_wins,
    packages::repository_owner_id_recorded_then_refused,
    packages::package_summaries_list_the_latest_version,
    bindings::bindings_match_case_insensitively,
    bindings::binding_cap_and_removal,
    bindings::pending_binding_promotion_is_atomic,
    bindings::concurrent_pending_promotion_one_wins,
    bindings::pending_binding_errors_and_cap,
    bindings::pending_binding_ids_are_never_reused_and_deletions_are_audited,
    misc::replay_store_insert_expiry_sweep,
    misc::concurrent_replay_inserts_one_wins,
    misc::audit_filters_and_paging,
    misc::schema_refuses_changes_and_tampering,
    publish_records::publish_audit_commits_with_the_version,
    publish_records::integrity_records_insert_in_batches,
    publish_records::publish_context_reads_what_the_commit_needs,
    hostile::pending_binding_squat_in_foreign_scope_is_refused,
    hostile::legacy_foreign_pending_binding_cannot_publish,
    hostile::confusable_package_names_are_refused,
    hostile::versions_differing_only_in_build_metadata_are_refused,
    reseal::registry_keys_reseal_atomically_and_only_the_sealed_column,
    web_sessions::sessions_are_shared_by_every_node,
    web_sessions::deadlines_are_enforced_in_sql,
    web_sessions::the_cap_evicts_the_closest_to_expiry_and_sweeps,
    web_sessions::flash_is_taken_once_by_any_node,
    web_sessions::a_missing_lower_migration_is_outdated_despite_the_highest,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_migration_4_carries_legacy_collisions() {
    hostile::migration_4_carries_legacy_collisions(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_migration_4_carries_legacy_collisions() {
    hostile::migration_4_carries_legacy_collisions(true).await;
}
