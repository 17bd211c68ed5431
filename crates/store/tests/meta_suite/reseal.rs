//! Migration 0005 and `commit_reseal`: registry keys can be re-sealed (TOKEN_ENC_KEY rotation) but their identity never changes, and the re-seal, the generation setting and the audit event commit together or not at all.

use vouch_store::meta::{AuditFilter, MetaError, StoredRegistryKey, Timestamp};

use crate::harness::Fresh;

fn key(n: u8, at: i64) -> StoredRegistryKey {
    StoredRegistryKey {
        kid: format!("{n:016x}"),
        public_key: [n; 32],
        sealed: vec![n; 40],
        instance_id: "i".repeat(32),
        created_at: Timestamp(at),
        retired_at: None,
    }
}

async fn audit_count(f: &Fresh) -> usize {
    let filter = AuditFilter {
        event_prefix: Some("instance.".into()),
        subject: None,
        since: None,
        until: None,
        after: None,
        limit: 100,
    };
    f.store.list_audit(&filter).await.unwrap().len()
}

pub async fn registry_keys_reseal_atomically_and_only_the_sealed_column(f: &Fresh) {
    let s = &f.store;
    assert!(s.rotate_registry_key(None, &key(1, 10)).await.unwrap());
    assert!(s
        .rotate_registry_key(Some(&key(1, 10).kid), &key(2, 20))
        .await
        .unwrap());

    // An unknown kid: nothing of the batch lands (the first row, the setting, the audit).
    let err = s
        .commit_reseal(
            &[
                (key(2, 0).kid, vec![7; 40]),
                ("ffffffffffffffff".into(), vec![7; 40]),
            ],
            ("sigstore.sealed_generation", "2"),
            "instance.token_enc_key_rotated",
            "test",
            "{}",
            Timestamp(30),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MetaError::Corrupt {
                table: "registry_keys",
                ..
            }
        ),
        "{err:?}"
    );
    let rows = s.registry_keys().await.unwrap();
    assert_eq!(rows[0].sealed, vec![2; 40]);
    assert_eq!(s.setting("sigstore.sealed_generation").await.unwrap(), None);
    assert_eq!(audit_count(f).await, 0);

    // The current and the retired key re-sealed, with the setting and the audit event.
    s.commit_reseal(
        &[(key(2, 0).kid, vec![8; 40]), (key(1, 0).kid, vec![9; 40])],
        ("sigstore.sealed_generation", "2"),
        "instance.token_enc_key_rotated",
        "test",
        "{}",
        Timestamp(30),
    )
    .await
    .unwrap();
    let rows = s.registry_keys().await.unwrap();
    assert_eq!(
        (rows[0].sealed.clone(), rows[1].sealed.clone()),
        (vec![8; 40], vec![9; 40])
    );
    assert_eq!(
        (rows[0].retired_at, rows[1].retired_at),
        (None, Some(Timestamp(20)))
    );
    assert_eq!(
        s.setting("sigstore.sealed_generation")
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    assert_eq!(audit_count(f).await, 1);

    // Everything else about a key stays refused by the trigger.
    let kid1 = key(1, 0).kid;
    let kid2 = key(2, 0).kid;
    for sql in [
        format!("UPDATE registry_keys SET public_key = '{}' WHERE kid = '{kid2}'", "ab".repeat(32)),
        format!("UPDATE registry_keys SET instance_id = 'other' WHERE kid = '{kid2}'"),
        format!("UPDATE registry_keys SET created_at = 1 WHERE kid = '{kid2}'"),
        format!("UPDATE registry_keys SET retired_at = NULL WHERE kid = '{kid1}'"),
        format!("UPDATE registry_keys SET retired_at = 99 WHERE kid = '{kid1}'"),
        // Retiring and re-sealing in one statement is neither a retire nor a re-seal.
        format!("UPDATE registry_keys SET retired_at = 40, sealed = sealed || sealed WHERE kid = '{kid2}'"),
        format!("DELETE FROM registry_keys WHERE kid = '{kid1}'"),
    ] {
        let err = f.raw(&sql).await.expect_err(&sql);
        assert!(
            err.to_string().contains("registry keys"),
            "{sql}: {err}"
        );
    }
    let after = s.registry_keys().await.unwrap();
    assert_eq!(after, rows);
}
