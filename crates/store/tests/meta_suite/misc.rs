//! Schema migrations, the OIDC replay store and the audit log.

use std::sync::Arc;

use vouch_store::meta::{
    AuditFilter, AuditId, MetaError, MetaStore, ReplayOutcome, MAX_AUDIT_PAGE,
};

use crate::harness::{t, Fresh};

pub async fn schema_is_explicit_and_migrate_is_idempotent(f: &Fresh) {
    f.store.check_schema().await.unwrap();
    f.store.migrate().await.unwrap();
    f.store.check_schema().await.unwrap();

    let (empty, _guard) = f.unmigrated().await;
    let err = empty.check_schema().await.unwrap_err();
    assert!(
        matches!(err, MetaError::SchemaOutdated { found: 0, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E002");
    // Nothing was created implicitly: using the store fails.
    let err = empty.create_user("alice", None, t(1)).await.unwrap_err();
    assert!(matches!(err, MetaError::Database { .. }), "{err:?}");
    assert_eq!(err.code(), "META_E001");
    empty.migrate().await.unwrap();
    empty.check_schema().await.unwrap();
    empty.create_user("alice", None, t(1)).await.unwrap();
}

pub async fn replay_store_insert_expiry_sweep(f: &Fresh) {
    let s = &*f.store;
    let iss = "https://token.actions.githubusercontent.com";
    assert_eq!(
        s.insert_jti_if_absent(iss, "j1", t(100), t(10))
            .await
            .unwrap(),
        ReplayOutcome::Inserted
    );
    assert_eq!(
        s.insert_jti_if_absent(iss, "j1", t(100), t(11))
            .await
            .unwrap(),
        ReplayOutcome::AlreadyPresent
    );
    // Same jti from another issuer is another token.
    assert_eq!(
        s.insert_jti_if_absent("https://gitlab.com", "j1", t(100), t(11))
            .await
            .unwrap(),
        ReplayOutcome::Inserted
    );
    // At `expires_at` the record counts as absent and is replaced (with the new expiry).
    assert_eq!(
        s.insert_jti_if_absent(iss, "j1", t(200), t(100))
            .await
            .unwrap(),
        ReplayOutcome::Inserted
    );
    assert_eq!(
        s.insert_jti_if_absent(iss, "j1", t(200), t(150))
            .await
            .unwrap(),
        ReplayOutcome::AlreadyPresent
    );
    assert_eq!(
        s.insert_jti_if_absent(iss, "j2", t(50), t(10))
            .await
            .unwrap(),
        ReplayOutcome::Inserted
    );

    assert_eq!(s.sweep_replay(t(10)).await.unwrap(), 0);
    assert_eq!(
        s.sweep_replay(t(100)).await.unwrap(),
        2,
        "j2 and gitlab's j1"
    );
    assert_eq!(s.sweep_replay(t(100)).await.unwrap(), 0, "idempotent");
    assert_eq!(
        s.insert_jti_if_absent(iss, "j1", t(300), t(199))
            .await
            .unwrap(),
        ReplayOutcome::AlreadyPresent
    );
    assert_eq!(
        s.insert_jti_if_absent(iss, "j2", t(300), t(100))
            .await
            .unwrap(),
        ReplayOutcome::Inserted
    );
}

pub async fn concurrent_replay_inserts_one_wins(f: &Fresh) {
    // Also race against an expired record being replaced.
    f.store
        .insert_jti_if_absent("iss", "old", t(5), t(1))
        .await
        .unwrap();
    for jti in ["fresh", "old"] {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s: Arc<dyn MetaStore> = f.store.clone();
                tokio::spawn(async move { s.insert_jti_if_absent("iss", jti, t(100), t(10)).await })
            })
            .collect();
        let mut inserted = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() == ReplayOutcome::Inserted {
                inserted += 1;
            }
        }
        assert_eq!(inserted, 1, "jti {jti}: exactly one concurrent insert wins");
    }
}

pub async fn audit_filters_and_paging(f: &Fresh) {
    let s = &*f.store;
    let rows = [
        ("publish.ok", Some("alice"), Some("@acme/widget"), 10),
        ("publish.refused", None, Some("@acme/widget"), 20),
        ("binding.add", Some("alice"), Some("@acme/widget"), 30),
        ("publish.ok", Some("bob"), Some("@acme/other"), 40),
        ("publish_x%.weird", None, None, 50),
    ];
    let mut ids = Vec::new();
    for (event, actor, subject, at) in rows {
        let details = format!("{{\"at\":{at}}}");
        ids.push(
            s.append_audit(event, actor, subject, &details, t(at))
                .await
                .unwrap(),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow");

    let list = |filter: AuditFilter| async move { s.list_audit(&filter).await.unwrap() };
    let all = list(AuditFilter {
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].event, "publish.ok");
    assert_eq!(all[0].actor.as_deref(), Some("alice"));
    assert_eq!(all[0].subject.as_deref(), Some("@acme/widget"));
    assert_eq!(all[0].details_json, "{\"at\":10}");
    assert_eq!(all[0].at, t(10));
    assert_eq!(all[4].actor, None);

    let events =
        |v: Vec<vouch_store::meta::AuditEvent>| v.into_iter().map(|e| e.at.0).collect::<Vec<_>>();
    let by_prefix = |p: &str| AuditFilter {
        event_prefix: Some(p.into()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(events(list(by_prefix("publish.")).await), [10, 20, 40]);
    assert_eq!(events(list(by_prefix("publish")).await), [10, 20, 40, 50]);
    // `%` and `_` are literal, not wildcards.
    assert_eq!(events(list(by_prefix("publish_x%")).await), [50]);
    assert!(list(by_prefix("publish_y")).await.is_empty());
    let by_subject = AuditFilter {
        subject: Some("@acme/widget".into()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(events(list(by_subject).await), [10, 20, 30]);
    let window = AuditFilter {
        since: Some(t(20)),
        until: Some(t(40)),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(events(list(window).await), [20, 30]);
    let combined = AuditFilter {
        event_prefix: Some("publish.".into()),
        subject: Some("@acme/widget".into()),
        since: Some(t(15)),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(events(list(combined).await), [20]);

    // Paging by id cursor, two at a time.
    let mut seen = Vec::new();
    let mut after: Option<AuditId> = None;
    loop {
        let page = list(AuditFilter {
            after,
            limit: 2,
            ..Default::default()
        })
        .await;
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.into_iter().map(|e| e.id));
    }
    assert_eq!(seen, ids);
    // A zero limit returns nothing; an oversized one is capped.
    assert!(list(AuditFilter {
        limit: 0,
        ..Default::default()
    })
    .await
    .is_empty());
    assert_eq!(
        list(AuditFilter {
            limit: MAX_AUDIT_PAGE + 5,
            ..Default::default()
        })
        .await
        .len(),
        5
    );
}

pub async fn schema_refuses_changes_and_tampering(f: &Fresh) {
    let s = &*f.store;
    let alice = s.create_user("alice", None, t(1)).await.unwrap().id;
    s.create_package("@acme/widget", alice, t(1)).await.unwrap();
    s.insert_version("@acme/widget", None, &crate::harness::version("1.0.0", 1))
        .await
        .unwrap();
    s.append_audit("publish.ok", None, None, "{}", t(1))
        .await
        .unwrap();
    // Versions are immutable and the audit log append-only below the API too.
    for sql in [
        "UPDATE versions SET size = 1",
        "DELETE FROM versions",
        "UPDATE audit_log SET event = 'x'",
        "DELETE FROM audit_log",
    ] {
        // Refused by the table's trigger (SQLite: "versions are immutable",
        // PostgreSQL: "versions is append-only"), not by anything else.
        let err = f.raw(sql).await.expect_err(sql).to_string();
        let table = if sql.contains("versions") {
            "versions"
        } else {
            "audit_log"
        };
        assert!(
            err.contains(&format!("{table} are immutable"))
                || err.contains(&format!("{table} is append-only")),
            "{sql}: {err}"
        );
    }
    assert_eq!(s.versions("@acme/widget").await.unwrap()[0].size, 1234);
    assert_eq!(
        s.list_audit(&AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        1
    );

    // A row the store cannot read back is reported, not guessed at.
    f.raw(&format!(
        "INSERT INTO versions (package_id, version, blake3, sha256, size, bundle_key, \
         log_index, publisher, issuer, created_at, version_key) SELECT id, '6.6.6', '{}', \
         '{}', 1, 'k', 0, 'p', 'i', 1, '6.6.6' FROM packages",
        "z".repeat(64),
        "0".repeat(64)
    ))
    .await
    .unwrap();
    let err = s.version("@acme/widget", "6.6.6").await.unwrap_err();
    assert!(
        matches!(
            err,
            MetaError::Corrupt {
                column: "blake3",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E015");

    // An applied migration that differs from the embedded one stops everything.
    f.raw("UPDATE vouch_meta_migrations SET sha256 = 'edited'")
        .await
        .unwrap();
    let err = s.check_schema().await.unwrap_err();
    assert!(
        matches!(err, MetaError::SchemaMismatch { version: 1 }),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E003");
    let err = s.migrate().await.unwrap_err();
    assert!(matches!(err, MetaError::SchemaMismatch { .. }), "{err:?}");
}
