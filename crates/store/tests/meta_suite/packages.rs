//! Packages, owners and versions, including concurrent publishes of one version.

use std::sync::Arc;

use vouch_store::meta::{BindingId, CiProvider, MetaError, MetaStore, Publisher};

use crate::harness::{t, user, version, Fresh};

pub async fn packages_and_owners(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    let bob = user(s, "bob").await;
    let pkg = s.create_package("@acme/widget", alice, t(3)).await.unwrap();
    assert_eq!(pkg.name, "@acme/widget");
    assert_eq!(s.package("@acme/widget").await.unwrap(), Some(pkg.clone()));
    assert_eq!(s.package("@acme/other").await.unwrap(), None);
    let err = s
        .create_package("@acme/widget", bob, t(4))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::PackageExists { .. }), "{err:?}");
    assert_eq!(err.code(), "META_E006");
    let err = s
        .create_package("@acme/ghost", vouch_store::meta::UserId(987_654), t(4))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UnknownUser { .. }), "{err:?}");
    assert_eq!(s.package("@acme/ghost").await.unwrap(), None, "rolled back");

    s.add_owner("@acme/widget", bob, t(5)).await.unwrap();
    s.add_owner("@acme/widget", bob, t(6)).await.unwrap(); // idempotent
    let owners: Vec<_> = s
        .owners("@acme/widget")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(owners, ["alice", "bob"]);
    let err = s.add_owner("@acme/nope", bob, t(5)).await.unwrap_err();
    assert!(matches!(err, MetaError::UnknownPackage { .. }), "{err:?}");
    assert_eq!(err.code(), "META_E007");
}

pub async fn versions_roundtrip_and_errors(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    s.create_package("@acme/widget", alice, t(1)).await.unwrap();
    let err = s
        .insert_version("@acme/nope", None, &version("1.0.0", 1))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UnknownPackage { .. }), "{err:?}");

    let v1 = version("1.0.0", 1);
    let e1 = s.insert_version("@acme/widget", None, &v1).await.unwrap();
    assert_eq!(
        (
            e1.version.as_str(),
            e1.blake3,
            e1.sha256,
            e1.size,
            e1.log_index
        ),
        ("1.0.0", v1.blake3, v1.sha256, v1.size, v1.log_index)
    );
    assert_eq!(e1.bundle_key, v1.bundle_key);
    assert_eq!(
        (e1.publisher.as_str(), e1.issuer.as_str()),
        (v1.publisher.as_str(), v1.issuer.as_str())
    );
    assert_eq!((e1.binding_id, e1.created_at), (None, t(100)));
    let mut v2 = version("1.1.0", 2);
    v2.size = i64::MAX as u64;
    v2.log_index = 0;
    let e2 = s.insert_version("@acme/widget", None, &v2).await.unwrap();
    assert_eq!(e2.size, i64::MAX as u64);

    assert_eq!(
        s.version("@acme/widget", "1.0.0").await.unwrap(),
        Some(e1.clone())
    );
    assert_eq!(s.version("@acme/widget", "9.9.9").await.unwrap(), None);
    assert_eq!(
        s.versions("@acme/widget").await.unwrap(),
        vec![e1.clone(), e2]
    );
    assert!(s.blob_referenced(&[1; 32]).await.unwrap());
    assert!(!s.blob_referenced(&[9; 32]).await.unwrap());

    // Same version again, even with other content: refused, original kept.
    let err = s
        .insert_version("@acme/widget", None, &version("1.0.0", 7))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MetaError::VersionExists { package, version }
            if package == "@acme/widget" && version == "1.0.0"),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E008");
    assert_eq!(s.version("@acme/widget", "1.0.0").await.unwrap(), Some(e1));

    // Numbers the database cannot hold are refused before anything is written.
    let mut huge = version("2.0.0", 3);
    huge.size = u64::MAX;
    let err = s
        .insert_version("@acme/widget", None, &huge)
        .await
        .unwrap_err();
    assert!(
        matches!(err, MetaError::OutOfRange { field: "size", .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E014");
    assert_eq!(s.version("@acme/widget", "2.0.0").await.unwrap(), None);
}

pub async fn concurrent_version_inserts_one_wins(f: &Fresh) {
    let alice = user(&*f.store, "alice").await;
    f.store
        .create_package("@acme/widget", alice, t(1))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let s: Arc<dyn MetaStore> = f.store.clone();
            tokio::spawn(async move {
                s.insert_version("@acme/widget", None, &version("1.0.0", i))
                    .await
            })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(entry) => won.push(entry),
            Err(MetaError::VersionExists { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one concurrent insert wins");
    let stored = f.store.versions("@acme/widget").await.unwrap();
    assert_eq!(stored, won);
}

pub async fn repository_owner_id_recorded_then_refused(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    s.create_package("@acme/widget", alice, t(1)).await.unwrap();
    s.create_package("@acme/other", alice, t(1)).await.unwrap();
    let publisher = Publisher::Ci {
        provider: CiProvider::Github,
        repository: "acme/widget".into(),
        workflow: ".github/workflows/release.yml".into(),
        environment: None,
    };
    let b = s
        .add_binding("@acme/widget", &publisher, alice, t(2))
        .await
        .unwrap();
    assert_eq!(b.repository_owner_id, None);

    let mut v = version("1.0.0", 1);
    v.repository_owner_id = Some("1001".into());
    let e = s
        .insert_version("@acme/widget", Some(b.id), &v)
        .await
        .unwrap();
    assert_eq!(e.binding_id, Some(b.id));
    let recorded = s.bindings("@acme/widget").await.unwrap();
    assert_eq!(recorded[0].repository_owner_id.as_deref(), Some("1001"));

    // Account resurrection: same names, another owner id.
    let mut v2 = version("1.1.0", 2);
    v2.repository_owner_id = Some("6666".into());
    let err = s
        .insert_version("@acme/widget", Some(b.id), &v2)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MetaError::RepositoryOwnerChanged { recorded, presented, .. }
            if recorded == "1001" && presented == "6666"),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E012");
    assert_eq!(s.version("@acme/widget", "1.1.0").await.unwrap(), None);
    v2.repository_owner_id = Some("1001".into());
    s.insert_version("@acme/widget", Some(b.id), &v2)
        .await
        .unwrap();

    // A binding of another package, a removed one, or none at all: UnknownBinding.
    for (pkg, id) in [("@acme/other", b.id), ("@acme/widget", BindingId(987_654))] {
        let err = s
            .insert_version(pkg, Some(id), &version("3.0.0", 3))
            .await
            .unwrap_err();
        assert!(matches!(err, MetaError::UnknownBinding { .. }), "{err:?}");
        assert_eq!(err.code(), "META_E011");
    }
    s.remove_binding(b.id, "alice", t(5)).await.unwrap();
    let err = s
        .insert_version("@acme/widget", Some(b.id), &version("3.0.0", 3))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UnknownBinding { .. }), "{err:?}");
}

/// The web UI's package list: by name, paged after a name, each with the version
/// published last (issue 15: `/packages` answered a JSON 404).
pub async fn package_summaries_list_the_latest_version(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    assert_eq!(s.package_summaries("", 10).await.unwrap(), []);
    for name in ["@acme/widget", "@acme/empty", "@zeta/tool"] {
        s.create_package(name, alice, t(1)).await.unwrap();
    }
    s.insert_version("@acme/widget", None, &version("2.0.0", 1))
        .await
        .unwrap();
    let mut later = version("1.5.0", 2);
    later.created_at = t(200);
    s.insert_version("@acme/widget", None, &later)
        .await
        .unwrap();
    let all = s.package_summaries("", 10).await.unwrap();
    let got: Vec<_> = all
        .iter()
        .map(|p| (p.name.as_str(), p.latest.as_deref(), p.published_at))
        .collect();
    assert_eq!(
        got,
        [
            ("@acme/empty", None, None),
            ("@acme/widget", Some("1.5.0"), Some(t(200))),
            ("@zeta/tool", None, None),
        ]
    );
    let page: Vec<_> = s
        .package_summaries("@acme/empty", 1)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(page, ["@acme/widget"]);
}
