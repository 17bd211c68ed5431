//! The sequencer under a lease: a leader paused past its lease is fenced out, steps
//! down and publishes nothing; the published checkpoint never shrinks; a crash
//! between the commit and the tile writes is recovered from staging with identical
//! tiles. On the in-memory lock, SQLite and a fresh PostgreSQL database.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use vouch_log::invariants::check_log;
use vouch_log::{Candidate, Election, Log, LogConfig, LogError, CHECKPOINT_KEY};
use vouch_store::faulty::{FaultPlan, FaultPoint, Faulty};
use vouch_store::{
    CheckpointLock, MemoryLock, ObjectKey, Objects, PostgresLock, RemoteObjects, SqliteLock,
};
use vouch_tlog::{open_checkpoint, KeyType, Signer};

const ORIGIN: &str = "test.vouch.invalid/lease";

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, KeyType::Ed25519, &[3u8; 32]).unwrap()
}

fn config() -> LogConfig {
    LogConfig::new(ORIGIN)
        .with_batch_interval(Duration::from_millis(2))
        .with_batch_max_entries(300)
}

fn batch(tag: &str, n: usize) -> Vec<Bytes> {
    (0..n).map(|i| Bytes::from(format!("{tag}-{i}"))).collect()
}

async fn add_all(log: &Log, entries: Vec<Bytes>) -> Vec<Result<u64, LogError>> {
    let rx: Vec<_> = entries
        .into_iter()
        .map(|e| log.enqueue(e).unwrap())
        .collect();
    let mut out = Vec::new();
    for r in rx {
        out.push(r.await.unwrap_or(Err(LogError::Closed)));
    }
    out
}

/// Opens the log fenced with `epoch` (`create`: a missing log is created empty).
async fn open_fenced(
    objects: Arc<dyn Objects>,
    lock: &Arc<dyn CheckpointLock>,
    create: bool,
    epoch: i64,
) -> Log {
    Log::open_fenced(config(), objects, Arc::clone(lock), signer(), create, epoch)
        .await
        .unwrap()
}

/// Node `name` (address `http://NAME`) standing for election on `lock` with `ttl`; as
/// leader it opens the log on `objects` fenced with its epoch.
fn elect(
    objects: &Arc<dyn Objects>,
    lock: &Arc<dyn CheckpointLock>,
    name: &str,
    ttl: Duration,
) -> Election<Arc<Log>> {
    let (objects, lock2) = (Arc::clone(objects), Arc::clone(lock));
    Election::start(
        Arc::clone(lock),
        Candidate {
            holder: name.into(),
            address: format!("http://{name}"),
            ttl,
        },
        move |epoch| {
            let (objects, lock) = (Arc::clone(&objects), Arc::clone(&lock2));
            async move {
                Log::open_fenced(config(), objects, lock, signer(), true, epoch)
                    .await
                    .map(Arc::new)
            }
        },
    )
}

/// The size of the published `checkpoint` object.
async fn published_size(objects: &dyn Objects) -> u64 {
    let note = objects
        .get(&ObjectKey::new(CHECKPOINT_KEY).unwrap())
        .await
        .unwrap()
        .expect("a published checkpoint");
    open_checkpoint(&note, ORIGIN, &[signer().verifier()])
        .unwrap()
        .checkpoint
        .size
}

/// A leader whose lease expired (it was paused: it did not renew) and was taken over
/// tries to commit: the fenced swap is refused, it steps down (SEQ_E013 on `add` and
/// `current`) and publishes nothing; the new leader goes on from the committed tree and
/// the published checkpoint only grows.
async fn paused_leader_is_fenced(lock: Arc<dyn CheckpointLock>) {
    let objects: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let ttl = Duration::from_millis(1000);
    let la = lock
        .acquire_lease("A", "http://a", ttl)
        .await
        .unwrap()
        .unwrap();
    let a = open_fenced(Arc::clone(&objects), &lock, true, la.epoch).await;
    assert_eq!(a.epoch(), Some(la.epoch));
    let acks = add_all(&a, batch("a", 10)).await;
    assert!(acks.iter().all(|r| r.is_ok()), "{acks:?}");
    assert_eq!(published_size(&*objects).await, 10);

    // A is "paused": no renewal. B takes over after the TTL and commits more.
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    let lb = lock
        .acquire_lease("B", "http://b", ttl)
        .await
        .unwrap()
        .expect("an expired lease is taken over");
    assert_eq!(lb.epoch, la.epoch + 1);
    let b = open_fenced(Arc::clone(&objects), &lock, false, lb.epoch).await;
    let acks = add_all(&b, batch("b", 5)).await;
    assert!(acks.iter().all(|r| r.is_ok()), "{acks:?}");
    assert_eq!(published_size(&*objects).await, 15);

    // A wakes up and its next batch tries to commit on top of ITS tree (size 10).
    let acks = add_all(&a, batch("late", 3)).await;
    for r in &acks {
        match r {
            Err(LogError::BatchFailed { cause }) => {
                assert_eq!(cause.code(), "SEQ_E013", "{cause}")
            }
            other => panic!("expected a fenced batch, got {other:?}"),
        }
    }
    assert!(a.stepped_down());
    assert_eq!(a.current().unwrap_err().code(), "SEQ_E013");
    assert_eq!(
        a.add(Bytes::from_static(b"more")).await.unwrap_err().code(),
        "SEQ_E013"
    );
    // Nothing of A's late batch was published or committed; no shrink.
    assert_eq!(published_size(&*objects).await, 15);
    let report = check_log(&*objects, &*lock, ORIGIN, &signer().verifier(), &[])
        .await
        .expect("log invariants hold");
    assert_eq!(report.size, 15);
    assert!(!report.entries.iter().any(|e| e.starts_with(b"late")));
    // B carries on.
    let acks = add_all(&b, batch("c", 4)).await;
    assert_eq!(acks.last().unwrap().as_ref().unwrap(), &18);
    assert_eq!(published_size(&*objects).await, 19);
    b.shutdown().await;
}

#[tokio::test]
async fn paused_leader_is_fenced_memory() {
    paused_leader_is_fenced(Arc::new(MemoryLock::new())).await;
}

#[tokio::test]
async fn paused_leader_is_fenced_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let lock = SqliteLock::open(&dir.path().join("lock.db"), true)
        .await
        .unwrap();
    paused_leader_is_fenced(Arc::new(lock)).await;
}

#[tokio::test]
async fn paused_leader_is_fenced_postgres() {
    let db = vouch_testkit::pg::PgDatabase::create();
    let lock = PostgresLock::connect(&db.url(), true).await.unwrap();
    paused_leader_is_fenced(Arc::new(lock.clone())).await;
    lock.close().await;
}

/// The leader dies after its commit (the swap) and before writing the tiles: the next
/// leader finds the committed tree's tiles missing, writes them from the staging object,
/// byte for byte what a clean run writes, and goes on.
#[tokio::test]
async fn crash_between_commit_and_tiles_is_recovered_from_staging() {
    // Nothing written, or half the tiles (a kill in the middle of the writes).
    crash_after_commit(FaultPoint::BeforePersist, 50).await;
    for n in [50, 212, 300] {
        crash_after_commit(FaultPoint::Partial, n).await;
    }
}

async fn crash_after_commit(point: FaultPoint, n: usize) {
    let inner: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let lock: Arc<dyn CheckpointLock> = Arc::new(MemoryLock::new());
    let plan = FaultPlan::new();
    let faulty: Arc<dyn Objects> = Arc::new(Faulty::new(Arc::clone(&inner), Arc::clone(&plan)));
    let ttl = Duration::from_secs(30);
    let la = lock.acquire_lease("A", "a", ttl).await.unwrap().unwrap();
    let a = open_fenced(faulty, &lock, true, la.epoch).await;
    let acks = add_all(&a, batch("x", 300)).await;
    assert!(acks.iter().all(|r| r.is_ok()));
    // Write 0 of the next batch is the staging object, write 1 the tiles.
    plan.fail_write(1, point);
    let acks = add_all(&a, batch("y", n)).await;
    assert!(acks.iter().all(|r| r.is_err()), "{acks:?}");
    assert!(plan.tripped());
    a.abort();
    let committed = lock.load(ORIGIN).await.unwrap().unwrap();
    let cp = open_checkpoint(&committed, ORIGIN, &[signer().verifier()])
        .unwrap()
        .checkpoint;
    assert_eq!(cp.size, 300 + n as u64, "the swap went through");
    let skey = vouch_log::staging::key(cp.size, &cp.root);
    let staged =
        vouch_log::staging::decode(&skey, inner.get(&skey).await.unwrap().unwrap()).unwrap();
    let mut missing = 0;
    for (k, _) in &staged {
        missing += usize::from(inner.get(k).await.unwrap().is_none());
    }
    assert!(missing > 0, "{point:?}: some tiles not written");
    assert_eq!(published_size(&*inner).await, 300);

    // The next leader (the lease was released) recovers from staging.
    lock.release_lease(&la).await.unwrap();
    let lb = lock.acquire_lease("B", "b", ttl).await.unwrap().unwrap();
    let b = open_fenced(Arc::clone(&inner), &lock, false, lb.epoch).await;
    assert_eq!(b.current().unwrap().size, 300 + n as u64);
    assert_eq!(published_size(&*inner).await, 300 + n as u64);
    assert!(inner.get(&skey).await.unwrap().is_none(), "staging deleted");

    // The same entries through a clean log write the same bytes at every staged path.
    let clean: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let reference = Log::open(
        config(),
        Arc::clone(&clean),
        Arc::new(MemoryLock::new()),
        signer(),
        true,
    )
    .await
    .unwrap();
    let mut all = batch("x", 300);
    all.extend(batch("y", n));
    add_all(&reference, all).await;
    assert_eq!(reference.latest().root, cp.root);
    for (k, v) in &staged {
        let got = inner.get(k).await.unwrap();
        let want = clean.get(k).await.unwrap();
        // The clean run may have swept a superseded partial; every full tile is there.
        if want.is_some() {
            assert_eq!(got.as_ref(), want.as_ref(), "{k}");
        }
        assert_eq!(got.as_ref(), Some(v), "{k}");
    }
    let acks = add_all(&b, batch("z", 10)).await;
    assert!(acks.iter().all(|r| r.is_ok()));
    let report = check_log(
        &*inner,
        &*lock,
        ORIGIN,
        &signer().verifier(),
        &[committed.into()],
    )
    .await
    .expect("log invariants hold");
    assert_eq!(report.size, 310 + n as u64);
    b.shutdown().await;
    reference.shutdown().await;
}

/// Two nodes elect on one lock: one leads and the other follows, told the leader's
/// address; the leader resigns (SIGTERM) and the follower takes over at once with the
/// next epoch, on the same tree; the old leader's log has stepped down.
#[tokio::test]
async fn election_hands_over_on_resign() {
    use vouch_log::Role;
    let objects: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let lock: Arc<dyn CheckpointLock> = Arc::new(MemoryLock::new());
    let node = |name: &str| elect(&objects, &lock, name, Duration::from_millis(900));
    let a = node("a");
    let a_log = tokio::time::timeout(Duration::from_secs(5), a.leader())
        .await
        .expect("a leads");
    let b = node("b");
    let mut b_role = b.role();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Role::Follower {
                leader_address: Some(addr),
            } = &*b_role.borrow_and_update()
            {
                assert_eq!(addr, "http://a");
                break;
            }
            b_role.changed().await.unwrap();
        }
    })
    .await
    .expect("b follows a");
    assert!(add_all(&a_log, batch("a", 7))
        .await
        .iter()
        .all(|r| r.is_ok()));
    // Leading survives several TTLs by renewing.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(a_log.is_sequencing());
    assert!(!b.role().borrow().is_leader());

    let t = std::time::Instant::now();
    a_log.shutdown().await;
    a.resign().await;
    let b_log = tokio::time::timeout(Duration::from_secs(5), b.leader())
        .await
        .expect("b takes over");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(b_log.epoch(), Some(2));
    assert_eq!(b_log.current().unwrap().size, 7);
    assert!(add_all(&b_log, batch("b", 2))
        .await
        .iter()
        .all(|r| r.is_ok()));
    assert_eq!(published_size(&*objects).await, 9);
    b_log.shutdown().await;
    b.resign().await;
    assert!(lock.current_lease().await.unwrap().is_none());
}

/// A leader that cannot renew in time steps down: its lease is taken by another
/// holder behind its back (as if the database expired it during a pause), the
/// renewal fails, the role goes back to follower and the log refuses with SEQ_E013.
#[tokio::test]
async fn leader_steps_down_when_renewal_fails() {
    use vouch_log::Role;
    let objects: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let lock: Arc<dyn CheckpointLock> = Arc::new(MemoryLock::new());
    let ttl = Duration::from_millis(600);
    let a = elect(&objects, &lock, "a", ttl);
    let a_log = tokio::time::timeout(Duration::from_secs(5), a.leader())
        .await
        .expect("a leads");
    let lease = lock.current_lease().await.unwrap().unwrap();
    // Steal it: release it as if it had expired, and take it as someone else.
    lock.release_lease(&lease).await.unwrap();
    let thief = lock
        .acquire_lease("z", "http://z", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let mut role = a.role();
    tokio::time::timeout(Duration::from_secs(3), async {
        while role.borrow_and_update().is_leader() {
            role.changed().await.unwrap();
        }
    })
    .await
    .expect("a steps down within a renewal period");
    assert!(matches!(&*a.role().borrow(), Role::Follower { .. }));
    assert_eq!(
        a_log
            .add(Bytes::from_static(b"x"))
            .await
            .unwrap_err()
            .code(),
        "SEQ_E013"
    );
    assert_eq!(
        lock.current_lease().await.unwrap().unwrap().epoch,
        thief.epoch
    );
    a.resign().await;
}
