//! Regression tests for issue 13 (hostile clients), items 4, 9 and 10: owned scopes, normalised package names, versions unique without build metadata.

use vouch_store::meta::{CiProvider, MetaError, Publisher};

use crate::harness::{t, user, version, Fresh};

fn gh(repo: &str) -> Publisher {
    Publisher::Ci {
        provider: CiProvider::Github,
        repository: repo.into(),
        workflow: ".github/workflows/release.yml".into(),
        environment: None,
    }
}

/// Issue 13 item 4: a second user's pending binding naming the first user's workflow
/// in the first user's scope would have made the first user's CI publish create a
/// package the second user owns. Now the scope is owned and the stranger is refused.
pub async fn pending_binding_squat_in_foreign_scope_is_refused(f: &Fresh) {
    let s = &*f.store;
    let dev = user(s, "dev").await;
    let mallory = user(s, "mallory").await;
    s.grant_scope("dev", dev, t(1)).await.unwrap();
    let err = s
        .add_pending_binding("@dev/lib3", &gh("dev/lib3"), mallory, t(2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MetaError::ScopeClaimed { scope } if scope == "dev"),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E019");
    assert!(!err.to_string().contains("dev\""), "names no owner: {err}");
    assert!(s.pending_bindings("@dev/lib3").await.unwrap().is_empty());
    // Spellings that normalise to the same scope are the same scope.
    let err = s
        .add_pending_binding("@Dev/lib4", &gh("dev/lib4"), mallory, t(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "META_E019", "{err:?}");
    let err = s
        .create_package("@dev/lib3", mallory, t(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "META_E019", "{err:?}");
    // The owner registers and publishes; the package is hers.
    let p = s
        .add_pending_binding("@dev/lib3", &gh("dev/lib3"), dev, t(3))
        .await
        .unwrap();
    let done = s.publish_pending(p.id, &version("1.0.0", 1)).await.unwrap();
    let owners: Vec<_> = s
        .owners("@dev/lib3")
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(owners, [dev]);
    assert_eq!(done.binding.created_by, dev);

    // An unclaimed scope goes to its first user; the second is told only "claimed".
    s.add_pending_binding("@fresh/a", &gh("m/a"), mallory, t(4))
        .await
        .unwrap();
    let err = s
        .add_pending_binding("@fresh/b", &gh("d/b"), dev, t(5))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "META_E019", "{err:?}");
    assert!(!err.to_string().contains("mallory"), "{err}");
    let ids: Vec<_> = s
        .scope_owners("fresh")
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, [mallory]);
    // An administrator's grant lets a second user in (idempotently).
    s.grant_scope("fresh", dev, t(6)).await.unwrap();
    s.grant_scope("fresh", dev, t(7)).await.unwrap();
    s.add_pending_binding("@fresh/b", &gh("d/b"), dev, t(8))
        .await
        .unwrap();
    assert_eq!(s.scope_owners("fresh").await.unwrap().len(), 2);
    let err = s.grant_scope("a/b", dev, t(9)).await.unwrap_err();
    assert_eq!(err.code(), "META_E022", "{err:?}");
    let err = s.create_package("noscope", dev, t(9)).await.unwrap_err();
    assert_eq!(err.code(), "META_E022", "{err:?}");
}

/// A pending binding from before scopes were owned (played here by raw SQL) whose
/// registrant does not own the scope cannot create the package at publish time.
pub async fn legacy_foreign_pending_binding_cannot_publish(f: &Fresh) {
    let s = &*f.store;
    let dev = user(s, "dev").await;
    let mallory = user(s, "mallory").await;
    s.grant_scope("dev", dev, t(1)).await.unwrap();
    f.raw(&format!(
        "INSERT INTO pending_bindings (package_name, provider, repository, repository_lc, \
         workflow, environment, environment_lc, email, email_lc, created_by, created_at) \
         VALUES ('@dev/lib9', 'github', 'dev/lib9', 'dev/lib9', \
         '.github/workflows/release.yml', NULL, '', NULL, '', {}, 1)",
        mallory.0
    ))
    .await
    .unwrap();
    let p = &s.pending_bindings("@dev/lib9").await.unwrap()[0];
    let err = s
        .publish_pending(p.id, &version("1.0.0", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "META_E019", "{err:?}");
    assert_eq!(s.package("@dev/lib9").await.unwrap(), None, "rolled back");
}

/// Issue 13 item 9: `@dev/lib_`, `@dev/l.ib` beside `@dev/l-ib` (and case variants)
/// were separate packages. Names now normalise as PEP 503 says (plus case folding) and
/// a database UNIQUE index refuses a second spelling, naming the existing package.
pub async fn confusable_package_names_are_refused(f: &Fresh) {
    let s = &*f.store;
    let dev = user(s, "dev").await;
    s.create_package("@dev/l-ib", dev, t(1)).await.unwrap();
    s.create_package("@dev/lib", dev, t(1)).await.unwrap();
    for name in ["@dev/l.ib", "@dev/l_ib", "@dev/l--ib", "@DEV/L-IB"] {
        let err = s.create_package(name, dev, t(2)).await.unwrap_err();
        assert!(
            matches!(&err, MetaError::NameConflict { existing, .. } if existing == "@dev/l-ib"),
            "{name}: {err:?}"
        );
        assert_eq!(err.code(), "META_E020");
        let err = s
            .add_pending_binding(name, &gh("dev/x"), dev, t(2))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "META_E020", "{name}: {err:?}");
    }
    // `lib_` is `lib-` under PEP 503, distinct from `lib`; `lib.` and `lib-` are not.
    s.create_package("@dev/lib_", dev, t(3)).await.unwrap();
    let err = s.create_package("@dev/lib.", dev, t(3)).await.unwrap_err();
    assert!(
        matches!(&err, MetaError::NameConflict { existing, .. } if existing == "@dev/lib_"),
        "{err:?}"
    );
    // The database itself refuses a row whose normalised name is missing or wrong.
    let raw = f
        .raw("INSERT INTO packages (name, name_norm, created_at) VALUES ('@dev/zz', '@dev/other', 1)")
        .await;
    assert!(raw.is_err(), "a wrong name_norm was stored");
    let raw = f
        .raw("INSERT INTO packages (name, created_at) VALUES ('@dev/zz', 1)")
        .await;
    assert!(raw.is_err(), "a missing name_norm was stored");
}

/// Issue 13 item 10: `1.0.0+evil` beside `1.0.0`. Build metadata takes no part in
/// SemVer precedence, so the second is refused, naming the existing version.
pub async fn versions_differing_only_in_build_metadata_are_refused(f: &Fresh) {
    let s = &*f.store;
    let dev = user(s, "dev").await;
    s.create_package("@dev/lib", dev, t(1)).await.unwrap();
    s.insert_version("@dev/lib", None, &version("1.0.0", 1))
        .await
        .unwrap();
    for v in ["1.0.0+evil", "1.0.0+1"] {
        let err = s
            .insert_version("@dev/lib", None, &version(v, 2))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, MetaError::VersionBuildConflict { existing, .. } if existing == "1.0.0"),
            "{v}: {err:?}"
        );
        assert_eq!(err.code(), "META_E021");
    }
    let err = s
        .insert_version("@dev/lib", None, &version("1.0.0", 3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "META_E008", "{err:?}");
    // Pre-releases are different versions.
    s.insert_version("@dev/lib", None, &version("1.0.0-rc.1+b", 4))
        .await
        .unwrap();
    let err = s
        .insert_version("@dev/lib", None, &version("1.0.0-rc.1", 5))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "META_E021", "{err:?}");
    // The index decides when the friendly check is bypassed (raw SQL, same key).
    let raw = f
        .raw(
            "INSERT INTO versions (package_id, version, blake3, sha256, size, bundle_key, \
             log_index, publisher, issuer, created_at, version_key) SELECT id, '1.0.0+raw', \
             'aa', 'bb', 1, 'k', 1, 'p', 'i', 1, '1.0.0' FROM packages WHERE name = '@dev/lib'",
        )
        .await;
    assert!(raw.is_err(), "a second 1.0.0 was stored");
    assert_eq!(s.versions("@dev/lib").await.unwrap().len(), 2);
}

/// Migration 4 on a database that already holds what the old schema allowed: names
/// that normalise alike, a build-metadata twin, packages of two users in one scope.
/// Nothing is lost, the oldest row keeps the normalised key, and scopes go to the
/// owners of their oldest package.
pub async fn migration_4_carries_legacy_collisions(postgres: bool) {
    let f = Fresh::at_v2(postgres).await;
    let s = &*f.store;
    let err = s.check_schema().await.unwrap_err();
    assert_eq!(err.code(), "META_E002", "{err:?}");
    let digest = "a".repeat(64);
    f.raw(&format!(
        "INSERT INTO users (name, created_at) VALUES ('alice', 1), ('bob', 1);
         INSERT INTO packages (name, created_at) VALUES ('@acme/l-ib', 1), ('@acme/l_ib', 2),
             ('@other/p', 3);
         INSERT INTO package_owners (package_id, user_id, added_at)
             SELECT p.id, u.id, 1 FROM packages p, users u
             WHERE (p.name = '@acme/l-ib' AND u.name = 'alice')
                OR (p.name = '@acme/l_ib' AND u.name = 'bob')
                OR (p.name = '@other/p' AND u.name = 'bob');
         INSERT INTO versions (package_id, version, blake3, sha256, size, bundle_key,
             log_index, publisher, issuer, created_at)
             SELECT id, v.version, '{digest}', '{digest}', 1, 'k', 0, 'p', 'i', 1
             FROM packages, (SELECT '1.0.0' AS version UNION ALL SELECT '1.0.0+evil') v
             WHERE name = '@acme/l-ib';"
    ))
    .await
    .unwrap();
    s.migrate().await.unwrap();
    s.check_schema().await.unwrap();

    // Every legacy row is still there and readable.
    assert!(s.package("@acme/l-ib").await.unwrap().is_some());
    assert!(s.package("@acme/l_ib").await.unwrap().is_some());
    let versions: Vec<_> = s
        .versions("@acme/l-ib")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, ["1.0.0", "1.0.0+evil"]);
    // New rows meet the rules; the oldest legacy row holds the key.
    let alice = s.user_by_name("alice").await.unwrap().unwrap().id;
    let bob = s.user_by_name("bob").await.unwrap().unwrap().id;
    let err = s
        .create_package("@acme/l.ib", alice, t(9))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MetaError::NameConflict { existing, .. } if existing == "@acme/l-ib"),
        "{err:?}"
    );
    let err = s
        .insert_version("@acme/l-ib", None, &version("1.0.0+x", 3))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MetaError::VersionBuildConflict { existing, .. } if existing == "1.0.0"),
        "{err:?}"
    );
    // Scope acme went to alice (oldest package); bob keeps @acme/l_ib but makes no new
    // names there; scope other is bob's.
    let owners = |scope: &'static str| async move {
        s.scope_owners(scope)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(owners("acme").await, [alice]);
    assert_eq!(owners("other").await, [bob]);
    let err = s.create_package("@acme/new", bob, t(9)).await.unwrap_err();
    assert_eq!(err.code(), "META_E019", "{err:?}");
    s.create_package("@acme/new", alice, t(9)).await.unwrap();
    s.create_package("@other/new", bob, t(9)).await.unwrap();
}
