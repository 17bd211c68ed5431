//! What a publish writes in one commit (the version and its audit event) and the batched insert of integrity records.

use vouch_store::meta::{
    AuditFilter, CiProvider, MetaError, MetaStore, NewIntegrityRecord, PublishAudit, Publisher,
    RecordKind,
};

use crate::harness::{t, user, version, Fresh};

fn publisher() -> Publisher {
    Publisher::Ci {
        provider: CiProvider::Github,
        repository: "acme/widget".into(),
        workflow: ".github/workflows/release.yml".into(),
        environment: None,
    }
}

fn audit(v: &str) -> PublishAudit {
    let mut details = serde_json::Map::new();
    details.insert("version".into(), v.into());
    PublishAudit {
        event: "package.publish".into(),
        actor: "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1".into(),
        details,
    }
}

async fn publish_events(s: &dyn MetaStore, package: &str) -> Vec<serde_json::Value> {
    s.list_audit(&AuditFilter {
        event_prefix: Some("package.publish".into()),
        subject: Some(package.into()),
        limit: 100,
        ..Default::default()
    })
    .await
    .unwrap()
    .iter()
    .map(|e| {
        assert_eq!(e.event, "package.publish");
        assert_eq!(e.actor.as_deref(), Some(audit("x").actor.as_str()));
        serde_json::from_str(&e.details_json).unwrap()
    })
    .collect()
}

pub async fn publish_audit_commits_with_the_version(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;

    // First publish through a pending binding: the event names the binding the
    // transaction created and says the package was created.
    let pending = s
        .add_pending_binding("@acme/widget", &publisher(), alice, t(1))
        .await
        .unwrap();
    let mut v = version("1.0.0", 1);
    v.audit = Some(audit("1.0.0"));
    let done = s.publish_pending(pending.id, &v).await.unwrap();
    let events = publish_events(s, "@acme/widget").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["version"], "1.0.0");
    assert_eq!(events[0]["binding_id"], done.binding.id.0);
    assert_eq!(events[0]["created_package"], true);

    // Later publish through the active binding.
    let mut v = version("1.1.0", 2);
    v.audit = Some(audit("1.1.0"));
    s.insert_version("@acme/widget", Some(done.binding.id), &v)
        .await
        .unwrap();
    let events = publish_events(s, "@acme/widget").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["version"], "1.1.0");
    assert_eq!(events[1]["binding_id"], done.binding.id.0);
    assert_eq!(events[1]["created_package"], false);

    // A publish that loses (the version exists) leaves no event: the audit append is
    // rolled back with the version.
    let mut again = version("1.1.0", 3);
    again.audit = Some(audit("1.1.0"));
    let err = s
        .insert_version("@acme/widget", Some(done.binding.id), &again)
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::VersionExists { .. }), "{err:?}");
    assert_eq!(publish_events(s, "@acme/widget").await.len(), 2);

    // Without an audit nothing is appended.
    s.insert_version("@acme/widget", Some(done.binding.id), &version("1.2.0", 4))
        .await
        .unwrap();
    assert_eq!(publish_events(s, "@acme/widget").await.len(), 2);
}

pub async fn publish_context_reads_what_the_commit_needs(f: &Fresh) {
    let s = &*f.store;
    let alice = user(s, "alice").await;
    // Nothing yet.
    let ctx = s.publish_context("@acme/widget", "1.0.0").await.unwrap();
    assert_eq!(ctx.package, None);
    assert!(ctx.bindings.is_empty() && ctx.pending.is_empty());
    assert!(!ctx.version_exists);

    // A pending binding for the name.
    let pending = s
        .add_pending_binding("@acme/widget", &publisher(), alice, t(1))
        .await
        .unwrap();
    let ctx = s.publish_context("@acme/widget", "1.0.0").await.unwrap();
    assert_eq!(ctx.package, None);
    assert_eq!(ctx.pending, vec![pending.clone()]);
    assert!(ctx.bindings.is_empty());

    // After the first publish: the package, its active binding, the version taken;
    // pending bindings are no longer read.
    let done = s
        .publish_pending(pending.id, &version("1.0.0", 1))
        .await
        .unwrap();
    let ctx = s.publish_context("@acme/widget", "1.0.0").await.unwrap();
    assert_eq!(ctx.package.as_ref(), Some(&done.package));
    assert_eq!(ctx.bindings, vec![done.binding.clone()]);
    assert!(ctx.pending.is_empty());
    assert!(ctx.version_exists);
    let ctx = s.publish_context("@acme/widget", "1.0.1").await.unwrap();
    assert!(!ctx.version_exists);

    // A removed binding is not offered.
    s.remove_binding(done.binding.id, "alice", t(5))
        .await
        .unwrap();
    let ctx = s.publish_context("@acme/widget", "1.0.1").await.unwrap();
    assert!(ctx.bindings.is_empty());
}

fn record(subject: &str, v: &str, log_index: u64) -> NewIntegrityRecord {
    NewIntegrityRecord {
        kind: RecordKind::Package,
        subject: subject.into(),
        version: v.into(),
        kid: "0123456789abcdef".into(),
        jws: format!("header.{subject}-{v}.sig"),
        log_index,
        created_at: t(10),
    }
}

pub async fn integrity_records_insert_in_batches(f: &Fresh) {
    let s = &*f.store;
    assert!(s.insert_integrity_records(&[]).await.unwrap().is_empty());
    let (first, created) = s
        .insert_integrity_record(&record("@acme/a", "1.0.0", 5))
        .await
        .unwrap();
    assert!(created);

    // A batch with one subject already recorded: that one comes back unchanged with
    // `false`, the others are stored, all in input order.
    let batch = [
        record("@acme/b", "1.0.0", 7),
        record("@acme/a", "1.0.0", 99),
        record("@acme/c", "2.0.0", 8),
    ];
    let done = s.insert_integrity_records(&batch).await.unwrap();
    assert_eq!(done.len(), 3);
    assert!(done[0].1 && !done[1].1 && done[2].1);
    assert_eq!(done[0].0.subject, "@acme/b");
    assert_eq!(done[0].0.log_index, 7);
    assert_eq!(
        done[1].0, first,
        "the existing record is returned, not replaced"
    );
    assert_eq!(done[2].0.version, "2.0.0");
    for (row, _) in &done {
        let stored = s
            .integrity_record(RecordKind::Package, &row.subject, Some(&row.version))
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), Some(row));
    }

    // A batch that fails part-way (a kid the schema refuses) stores none of it.
    let mut bad = record("@acme/e", "1.0.0", 12);
    bad.kid = "short".into();
    let err = s
        .insert_integrity_records(&[record("@acme/d", "1.0.0", 11), bad])
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::Database { .. }), "{err:?}");
    assert_eq!(
        s.integrity_record(RecordKind::Package, "@acme/d", None)
            .await
            .unwrap(),
        None
    );
}
