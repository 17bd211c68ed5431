//! Trusted-publisher bindings: case-insensitive matching, the cap, removal, pending bindings and their atomic promotion.

use std::sync::Arc;

use vouch_store::meta::{
    CiProvider, MetaError, MetaStore, PendingBindingId, Publisher, MAX_BINDINGS_PER_PACKAGE,
};

use crate::harness::{t, user, version, Fresh};

fn gh(repo: &str, workflow: &str, env: Option<&str>) -> Publisher {
    Publisher::Ci {
        provider: CiProvider::Github,
        repository: repo.into(),
        workflow: workflow.into(),
        environment: env.map(Into::into),
    }
}

const WF: &str = ".github/workflows/release.yml";

pub async fn bindings_match_case_insensitively(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    s.create_package("@acme/widget", alice, t(1)).await.unwrap();
    let any_env = s
        .add_binding("@acme/widget", &gh("Acme/Widget", WF, None), alice, t(2))
        .await
        .unwrap();
    assert_eq!(
        any_env.publisher,
        gh("Acme/Widget", WF, None),
        "stored as given"
    );
    let prod = s
        .add_binding(
            "@acme/widget",
            &gh("acme/tools", WF, Some("Prod")),
            alice,
            t(2),
        )
        .await
        .unwrap();
    let mail = s
        .add_binding(
            "@acme/widget",
            &Publisher::Email {
                email: "Alice@Example.com".into(),
            },
            alice,
            t(2),
        )
        .await
        .unwrap();

    // Duplicates differing only in case are refused.
    for dup in [
        gh("ACME/WIDGET", WF, None),
        gh("acme/tools", WF, Some("PROD")),
    ] {
        let err = s
            .add_binding("@acme/widget", &dup, alice, t(3))
            .await
            .unwrap_err();
        assert!(matches!(err, MetaError::BindingExists { .. }), "{err:?}");
        assert_eq!(err.code(), "META_E009");
    }

    let ids = |v: Vec<vouch_store::meta::Binding>| v.into_iter().map(|b| b.id).collect::<Vec<_>>();
    let m =
        |p: Publisher| async move { ids(s.matching_bindings("@acme/widget", &p).await.unwrap()) };
    assert_eq!(m(gh("acme/widget", WF, None)).await, [any_env.id]);
    assert_eq!(
        m(gh("ACME/widget", WF, Some("staging"))).await,
        [any_env.id]
    );
    assert_eq!(m(gh("acme/tools", WF, Some("prod"))).await, [prod.id]);
    assert_eq!(m(gh("acme/tools", WF, Some("PROD"))).await, [prod.id]);
    assert!(
        m(gh("acme/tools", WF, None)).await.is_empty(),
        "env required"
    );
    assert!(m(gh("acme/tools", WF, Some("dev"))).await.is_empty());
    // The workflow path compares exactly; other providers do not match.
    assert!(m(gh("acme/widget", ".github/workflows/Release.yml", None))
        .await
        .is_empty());
    let gitlab = Publisher::Ci {
        provider: CiProvider::Gitlab,
        repository: "acme/widget".into(),
        workflow: WF.into(),
        environment: None,
    };
    assert!(m(gitlab).await.is_empty());
    let email = |e: &str| Publisher::Email { email: e.into() };
    assert_eq!(m(email("alice@EXAMPLE.com")).await, [mail.id]);
    assert!(m(email("bob@example.com")).await.is_empty());
    assert!(s
        .matching_bindings("@acme/nope", &gh("acme/widget", WF, None))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.bindings("@acme/widget").await.unwrap().len(), 3);
}

pub async fn binding_cap_and_removal(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    let err = s
        .add_binding("@acme/nope", &gh("a/b", WF, None), alice, t(1))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UnknownPackage { .. }), "{err:?}");
    s.create_package("@acme/widget", alice, t(1)).await.unwrap();
    let err = s
        .add_binding(
            "@acme/widget",
            &gh("a/b", WF, None),
            vouch_store::meta::UserId(987_654),
            t(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UnknownUser { .. }), "{err:?}");

    let mut made = Vec::new();
    for i in 0..MAX_BINDINGS_PER_PACKAGE {
        let b = s
            .add_binding(
                "@acme/widget",
                &gh(&format!("acme/r{i}"), WF, None),
                alice,
                t(2),
            )
            .await
            .unwrap();
        made.push(b);
    }
    let err = s
        .add_binding("@acme/widget", &gh("acme/one-more", WF, None), alice, t(3))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MetaError::TooManyBindings { max, .. } if max == MAX_BINDINGS_PER_PACKAGE),
        "{err:?}"
    );
    assert_eq!(err.code(), "META_E010");

    // Removing one frees a slot; the removed binding no longer matches and can be
    // registered again; removing twice is an error.
    s.remove_binding(made[0].id, "alice", t(4)).await.unwrap();
    let err = s
        .remove_binding(made[0].id, "alice", t(5))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UnknownBinding { .. }), "{err:?}");
    assert!(s
        .matching_bindings("@acme/widget", &gh("acme/r0", WF, None))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.bindings("@acme/widget").await.unwrap().len(),
        MAX_BINDINGS_PER_PACKAGE - 1
    );
    let again = s
        .add_binding("@acme/widget", &gh("acme/r0", WF, None), alice, t(6))
        .await
        .unwrap();
    assert_ne!(again.id, made[0].id);
}

pub async fn pending_binding_promotion_is_atomic(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    let bob = user(s, "bob").await;
    let p1 = s
        .add_pending_binding("@acme/new", &gh("Acme/New", WF, None), alice, t(1))
        .await
        .unwrap();
    // Alice claimed scope acme; bob registers beside her as a granted co-owner.
    s.grant_scope("acme", bob, t(1)).await.unwrap();
    let p2 = s
        .add_pending_binding("@acme/new", &gh("acme/fork", WF, None), bob, t(1))
        .await
        .unwrap();
    assert_eq!(
        s.pending_bindings("@acme/new").await.unwrap(),
        vec![p1.clone(), p2.clone()]
    );
    let matched = s
        .matching_pending_bindings("@acme/new", &gh("ACME/NEW", WF, None))
        .await
        .unwrap();
    assert_eq!(matched, vec![p1.clone()]);

    // A failure inside the promotion (here: a size the database cannot hold, found
    // after the package row was inserted) rolls everything back.
    let mut bad = version("1.0.0", 1);
    bad.size = u64::MAX;
    let err = s.publish_pending(p1.id, &bad).await.unwrap_err();
    assert!(matches!(err, MetaError::OutOfRange { .. }), "{err:?}");
    assert_eq!(s.package("@acme/new").await.unwrap(), None);
    assert_eq!(s.pending_bindings("@acme/new").await.unwrap().len(), 2);

    let mut v = version("1.0.0", 1);
    v.repository_owner_id = Some("77".into());
    let done = s.publish_pending(p1.id, &v).await.unwrap();
    assert_eq!(done.package.name, "@acme/new");
    assert_eq!(done.binding.publisher, gh("Acme/New", WF, None));
    assert_eq!(done.binding.repository_owner_id.as_deref(), Some("77"));
    assert_eq!(done.binding.created_by, alice);
    assert_eq!(done.version.binding_id, Some(done.binding.id));
    assert_eq!(
        s.package("@acme/new").await.unwrap(),
        Some(done.package.clone())
    );
    let owners: Vec<_> = s
        .owners("@acme/new")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(owners, [alice]);
    assert_eq!(
        s.bindings("@acme/new").await.unwrap(),
        vec![done.binding.clone()]
    );
    assert!(
        s.pending_bindings("@acme/new").await.unwrap().is_empty(),
        "all consumed"
    );
    assert_eq!(
        s.version("@acme/new", "1.0.0").await.unwrap(),
        Some(done.version)
    );

    for id in [p1.id, p2.id] {
        let err = s
            .publish_pending(id, &version("1.0.1", 2))
            .await
            .unwrap_err();
        assert!(
            matches!(err, MetaError::UnknownPendingBinding { .. }),
            "{err:?}"
        );
        assert_eq!(err.code(), "META_E013");
    }
    // Later publishes go through the (now active) binding and its owner id.
    let mut next = version("1.0.1", 2);
    next.repository_owner_id = Some("78".into());
    let err = s
        .insert_version("@acme/new", Some(done.binding.id), &next)
        .await
        .unwrap_err();
    assert!(
        matches!(err, MetaError::RepositoryOwnerChanged { .. }),
        "{err:?}"
    );
}

pub async fn concurrent_pending_promotion_one_wins(f: &Fresh) {
    let alice = user(&*f.store, "alice").await;
    let mut ids: Vec<PendingBindingId> = Vec::new();
    for i in 0..4 {
        let p = f
            .store
            .add_pending_binding(
                "@acme/race",
                &gh(&format!("acme/r{i}"), WF, None),
                alice,
                t(1),
            )
            .await
            .unwrap();
        ids.push(p.id);
    }
    // Every pending binding twice, all at once.
    let tasks: Vec<_> = ids
        .iter()
        .chain(ids.iter())
        .enumerate()
        .map(|(i, id)| {
            let s: Arc<dyn MetaStore> = f.store.clone();
            let id = *id;
            tokio::spawn(async move { s.publish_pending(id, &version("1.0.0", i as u8)).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(MetaError::UnknownPendingBinding { .. } | MetaError::PackageExists { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(f.store.versions("@acme/race").await.unwrap().len(), 1);
    assert_eq!(f.store.bindings("@acme/race").await.unwrap().len(), 1);
    assert!(f
        .store
        .pending_bindings("@acme/race")
        .await
        .unwrap()
        .is_empty());
}

pub async fn pending_binding_errors_and_cap(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    s.create_package("@acme/taken", alice, t(1)).await.unwrap();
    let err = s
        .add_pending_binding("@acme/taken", &gh("a/b", WF, None), alice, t(1))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::PackageExists { .. }), "{err:?}");
    let err = s
        .add_pending_binding(
            "@acme/p",
            &gh("a/b", WF, None),
            vouch_store::meta::UserId(987_654),
            t(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::UnknownUser { .. }), "{err:?}");

    let first = s
        .add_pending_binding("@acme/p", &gh("a/b", WF, Some("Prod")), alice, t(1))
        .await
        .unwrap();
    let err = s
        .add_pending_binding("@acme/p", &gh("A/B", WF, Some("prod")), alice, t(1))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::BindingExists { .. }), "{err:?}");
    for i in 1..MAX_BINDINGS_PER_PACKAGE {
        s.add_pending_binding("@acme/p", &gh(&format!("a/r{i}"), WF, None), alice, t(1))
            .await
            .unwrap();
    }
    let err = s
        .add_pending_binding("@acme/p", &gh("a/over", WF, None), alice, t(1))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::TooManyBindings { .. }), "{err:?}");

    s.remove_pending_binding(first.id, "alice", t(2))
        .await
        .unwrap();
    let err = s
        .remove_pending_binding(first.id, "alice", t(2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MetaError::UnknownPendingBinding { .. }),
        "{err:?}"
    );
    assert_eq!(
        s.pending_bindings("@acme/p").await.unwrap().len(),
        MAX_BINDINGS_PER_PACKAGE - 1
    );
    // Creating the package directly leaves pending bindings unusable.
    s.create_package("@acme/p", alice, t(2)).await.unwrap();
    let left = s.pending_bindings("@acme/p").await.unwrap();
    let err = s
        .publish_pending(left[0].id, &version("1.0.0", 1))
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::PackageExists { .. }), "{err:?}");
}

/// Defect (issue 12): with two pending bindings, the first publish deleted the other
/// without an audit event, and its freed id was later given to a new binding (bindings
/// and pending bindings, listed side by side by id, had a sequence each). One shared
/// sequence now: no id is ever handed out twice, and every deletion is audited.
pub async fn pending_binding_ids_are_never_reused_and_deletions_are_audited(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    let p1 = s
        .add_pending_binding("@acme/new", &gh("acme/new", WF, None), alice, t(1))
        .await
        .unwrap();
    let p2 = s
        .add_pending_binding("@acme/new", &gh("acme/fork", WF, None), alice, t(1))
        .await
        .unwrap();
    let mut v = version("1.0.0", 1);
    v.audit = Some(vouch_store::meta::PublishAudit {
        event: "publish.ok".into(),
        actor: "https://github.com/acme/new/.github/workflows/release.yml@refs/tags/v1".into(),
        details: Default::default(),
    });
    let done = s.publish_pending(p1.id, &v).await.unwrap();
    let b3 = s
        .add_binding("@acme/new", &gh("acme/other", WF, None), alice, t(3))
        .await
        .unwrap();
    let mut seen = vec![p1.id.0, p2.id.0];
    for id in [done.binding.id.0, b3.id.0] {
        assert!(!seen.contains(&id), "id {id} handed out twice: {seen:?}");
        seen.push(id);
    }
    // Removing and re-adding does not bring an id back either.
    s.remove_binding(b3.id, "alice", t(4)).await.unwrap();
    let b4 = s
        .add_binding("@acme/new", &gh("acme/other", WF, None), alice, t(5))
        .await
        .unwrap();
    assert!(!seen.contains(&b4.id.0), "id {} reused: {seen:?}", b4.id.0);

    // Both pending bindings were deleted by the first publish; each has its event, and
    // the active binding's removal has its own.
    let events = s
        .list_audit(&vouch_store::meta::AuditFilter {
            event_prefix: Some("publisher.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let pending: Vec<serde_json::Value> = events
        .iter()
        .filter(|e| e.event == "publisher.pending.removed")
        .map(|e| {
            assert_eq!(e.subject.as_deref(), Some("@acme/new"));
            assert_eq!(
                e.actor.as_deref(),
                v.audit.as_ref().map(|a| a.actor.as_str())
            );
            serde_json::from_str(&e.details_json).unwrap()
        })
        .collect();
    assert_eq!(pending.len(), 2, "{events:?}");
    assert_eq!(pending[0]["pending_binding_id"], p1.id.0);
    assert!(pending[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("became binding"));
    assert_eq!(pending[1]["pending_binding_id"], p2.id.0);
    assert_eq!(pending[1]["repository"], "acme/fork");
    assert!(pending[1]["reason"]
        .as_str()
        .unwrap()
        .starts_with("superseded"));
    assert!(
        events
            .iter()
            .any(|e| e.event == "publisher.removed" && e.actor.as_deref() == Some("alice")),
        "{events:?}"
    );
}
