//! Administrator web sessions (migration 0008): shared by every node on the database,
//! deadlines enforced in SQL, the cap, the sweep, flash messages shown once.

use vouch_store::meta::{NewWebSession, WebFlash};

use crate::harness::Fresh;

const IDLE: i64 = 3_600_000;
const ABSOLUTE: i64 = 8 * 3_600_000;

fn new<'a>(key: &'a str, token_id: i64, now_ms: i64, cap: u64) -> NewWebSession<'a> {
    NewWebSession {
        key,
        token_id,
        label: "ops",
        csrf: "c5rf",
        now_ms,
        idle_ms: IDLE,
        absolute_ms: ABSOLUTE,
        cap,
    }
}

pub async fn sessions_are_shared_by_every_node(f: &Fresh) {
    let a = &*f.store;
    let b = f.another_node().await;
    a.create_web_session(&new("k1", 7, 1_000, 10))
        .await
        .unwrap();
    // Node B sees node A's session, with its CSRF token.
    let (row, flash) = b
        .touch_web_session("k1", 2_000, IDLE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.token_id, row.label.as_str()), (7, "ops"));
    assert_eq!(row.csrf, "c5rf");
    assert_eq!(row.created_at_ms, 1_000);
    assert_eq!(row.idle_expires_at_ms, 2_000 + IDLE);
    assert_eq!(row.absolute_expires_at_ms, 1_000 + ABSOLUTE);
    assert!(flash.is_none());
    assert!(b
        .touch_web_session("other", 2_000, IDLE)
        .await
        .unwrap()
        .is_none());
    // Ended on B: ended on A.
    b.end_web_session("k1").await.unwrap();
    assert!(a
        .touch_web_session("k1", 3_000, IDLE)
        .await
        .unwrap()
        .is_none());
    b.end_web_session("k1").await.unwrap();
    // Revoking a token ends its sessions everywhere.
    a.create_web_session(&new("k2", 7, 4_000, 10))
        .await
        .unwrap();
    a.create_web_session(&new("k3", 8, 4_000, 10))
        .await
        .unwrap();
    assert_eq!(b.end_web_sessions_for_token(7).await.unwrap(), 1);
    assert!(a
        .touch_web_session("k2", 5_000, IDLE)
        .await
        .unwrap()
        .is_none());
    assert!(a
        .touch_web_session("k3", 5_000, IDLE)
        .await
        .unwrap()
        .is_some());
    assert_eq!(b.live_web_sessions(5_000).await.unwrap(), 1);
}

pub async fn deadlines_are_enforced_in_sql(f: &Fresh) {
    let s = &*f.store;
    s.create_web_session(&new("idle", 1, 0, 10)).await.unwrap();
    // One millisecond before the idle deadline: live, and the deadline moves.
    assert!(s
        .touch_web_session("idle", IDLE - 1, IDLE)
        .await
        .unwrap()
        .is_some());
    assert!(s
        .touch_web_session("idle", 2 * IDLE - 2, IDLE)
        .await
        .unwrap()
        .is_some());
    // Exactly at it: ended, and the row is gone.
    assert!(s
        .touch_web_session("idle", 3 * IDLE - 2, IDLE)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.live_web_sessions(0).await.unwrap(),
        0,
        "the row was deleted"
    );

    // Active all along, still ended at the absolute deadline.
    s.create_web_session(&new("abs", 1, 0, 10)).await.unwrap();
    let mut at = 0;
    while at + IDLE / 2 < ABSOLUTE {
        at += IDLE / 2;
        let (row, _) = s.touch_web_session("abs", at, IDLE).await.unwrap().unwrap();
        assert!(
            row.idle_expires_at_ms <= ABSOLUTE,
            "never past the absolute deadline"
        );
    }
    assert!(s
        .touch_web_session("abs", ABSOLUTE - 1, IDLE)
        .await
        .unwrap()
        .is_some());
    assert!(s
        .touch_web_session("abs", ABSOLUTE, IDLE)
        .await
        .unwrap()
        .is_none());
}

pub async fn the_cap_evicts_the_closest_to_expiry_and_sweeps(f: &Fresh) {
    let s = &*f.store;
    s.create_web_session(&new("old", 1, 0, 3)).await.unwrap();
    s.create_web_session(&new("mid", 2, 10, 3)).await.unwrap();
    s.create_web_session(&new("new", 3, 20, 3)).await.unwrap();
    // "old" is refreshed, so "mid" is now the closest to expiry.
    s.touch_web_session("old", 30, IDLE).await.unwrap().unwrap();
    s.create_web_session(&new("4th", 4, 40, 3)).await.unwrap();
    assert_eq!(s.live_web_sessions(40).await.unwrap(), 3);
    assert!(s
        .touch_web_session("mid", 50, IDLE)
        .await
        .unwrap()
        .is_none());
    for k in ["old", "new", "4th"] {
        assert!(
            s.touch_web_session(k, 50, IDLE).await.unwrap().is_some(),
            "{k}"
        );
    }
    // Sessions past a deadline are swept by the next sign-in, not counted against
    // the cap.
    let later = 50 + IDLE;
    s.create_web_session(&new("late", 5, later, 3))
        .await
        .unwrap();
    assert_eq!(s.live_web_sessions(later).await.unwrap(), 1);
    assert_eq!(
        s.live_web_sessions(0).await.unwrap(),
        1,
        "expired rows deleted"
    );
}

pub async fn flash_is_taken_once_by_any_node(f: &Fresh) {
    let a = &*f.store;
    let b = f.another_node().await;
    a.create_web_session(&new("k", 1, 0, 10)).await.unwrap();
    let msg = WebFlash {
        kind: "error".into(),
        code: Some("ADMIN_E004".into()),
        text: "too big".into(),
    };
    a.flash_web_session("k", &msg).await.unwrap();
    let (_, got) = b.touch_web_session("k", 1, IDLE).await.unwrap().unwrap();
    assert_eq!(got.as_ref(), Some(&msg));
    let (_, again) = a.touch_web_session("k", 2, IDLE).await.unwrap().unwrap();
    assert!(again.is_none(), "shown once");
    // A flash for a session that does not exist is dropped, not an error.
    a.flash_web_session("nobody", &msg).await.unwrap();
    // Ending the session drops its flash with it.
    a.flash_web_session("k", &msg).await.unwrap();
    a.end_web_session("k").await.unwrap();
    a.create_web_session(&new("k", 1, 3, 10)).await.unwrap();
    let (_, none) = b.touch_web_session("k", 4, IDLE).await.unwrap().unwrap();
    assert!(none.is_none(), "the ended session's flash went with it");
}

/// Migration versions may have gaps (0007 is another change's): the schema is current
/// only when every embedded version is applied, not merely the highest.
pub async fn a_missing_lower_migration_is_outdated_despite_the_highest(f: &Fresh) {
    f.store.check_schema().await.unwrap();
    f.raw("DELETE FROM vouch_meta_migrations WHERE version = 6")
        .await
        .unwrap();
    let err = f.store.check_schema().await.unwrap_err();
    assert_eq!(err.code(), "META_E002", "{err:?}");
    assert!(err.to_string().contains("version 5"), "{err}");
}
