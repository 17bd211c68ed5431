//! Sequencer tests: acknowledgements, pushback, size limits, proofs, and crash recovery under injected storage faults at every write, checked with the whole-log invariant after each step.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use vouch_log::invariants::check_log;
use vouch_log::{proofs, Log, LogConfig, LogError};
use vouch_store::faulty::{FaultPlan, FaultPoint, Faulty};
use vouch_store::{CheckpointLock, LocalDir, MemoryLock, Objects, RemoteObjects, SqliteLock};
use vouch_tlog::{verify_inclusion, KeyType, Signer};

const ORIGIN: &str = "test.vouch.invalid/log";

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, KeyType::Ed25519, &[1u8; 32]).unwrap()
}

fn config() -> LogConfig {
    LogConfig::new(ORIGIN)
        .with_batch_interval(Duration::from_millis(2))
        .with_batch_max_entries(300)
}

async fn open(objects: Arc<dyn Objects>, lock: Arc<dyn CheckpointLock>) -> Result<Log, LogError> {
    Log::open(config(), objects, lock, signer(), true).await
}

/// Adds `entries` concurrently; returns index -> entry for every acknowledged one.
async fn add_all(log: &Arc<Log>, entries: Vec<Bytes>) -> BTreeMap<u64, Bytes> {
    let mut tasks = Vec::new();
    for e in entries {
        let log = Arc::clone(log);
        tasks.push(tokio::spawn(async move { (log.add(e.clone()).await, e) }));
    }
    let mut acked = BTreeMap::new();
    for t in tasks {
        if let (Ok(i), e) = t.await.unwrap() {
            assert!(acked.insert(i, e).is_none(), "index {i} acknowledged twice");
        }
    }
    acked
}

fn batch(tag: &str, n: usize) -> Vec<Bytes> {
    (0..n).map(|i| Bytes::from(format!("{tag}-{i}"))).collect()
}

/// Checks the whole log and that every acknowledged entry is at its index.
async fn check(
    objects: &dyn Objects,
    lock: &dyn CheckpointLock,
    acked: &BTreeMap<u64, Bytes>,
    seen: &[Bytes],
) -> u64 {
    let report = check_log(objects, lock, ORIGIN, &signer().verifier(), seen)
        .await
        .expect("log invariants hold");
    for (i, e) in acked {
        assert_eq!(
            report.entries.get(*i as usize),
            Some(e),
            "entry at index {i}"
        );
    }
    report.size
}

#[tokio::test]
async fn acknowledged_entries_are_at_their_index() {
    let objects: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let lock: Arc<dyn CheckpointLock> = Arc::new(MemoryLock::new());
    let log = Arc::new(open(Arc::clone(&objects), Arc::clone(&lock)).await.unwrap());
    let mut acked = add_all(&log, batch("a", 1000)).await;
    assert_eq!(acked.len(), 1000);
    assert_eq!(log.latest().size, 1000);
    let seen = vec![log.latest().note.clone()];
    acked.extend(add_all(&log, batch("b", 333)).await);
    assert_eq!(check(&*objects, &*lock, &acked, &seen).await, 1333);
    // Reopening finds the same state and goes on.
    log.shutdown().await;
    drop(log);
    let log = Arc::new(open(Arc::clone(&objects), Arc::clone(&lock)).await.unwrap());
    assert_eq!(log.latest().size, 1333);
    acked.extend(add_all(&log, batch("c", 5)).await);
    assert_eq!(check(&*objects, &*lock, &acked, &seen).await, 1338);
}

#[tokio::test]
async fn oversize_entries_are_refused() {
    let log = open(
        Arc::new(RemoteObjects::memory()),
        Arc::new(MemoryLock::new()),
    )
    .await
    .unwrap();
    let err = log.add(Bytes::from(vec![0u8; 65_536])).await.unwrap_err();
    assert!(matches!(
        err,
        LogError::EntryTooLarge {
            size: 65_536,
            max: 65_535
        }
    ));
    assert_eq!(log.add(Bytes::from(vec![0u8; 65_535])).await.unwrap(), 0);
    assert_eq!(log.add(Bytes::new()).await.unwrap(), 1);
}

#[tokio::test]
async fn full_pool_pushes_back() {
    let cfg = LogConfig::new(ORIGIN)
        .with_batch_interval(Duration::from_secs(3600))
        .with_batch_max_entries(1000)
        .with_pool_limits(10, 1 << 20);
    let log = Log::open(
        cfg,
        Arc::new(RemoteObjects::memory()),
        Arc::new(MemoryLock::new()),
        signer(),
        true,
    )
    .await
    .unwrap();
    // The first batch is due at once; wait for the sequencer to go idle on the hour-long timer.
    log.add(Bytes::from_static(b"first")).await.unwrap();
    let pending: Vec<_> = (0..10)
        .map(|i| log.enqueue(Bytes::from(format!("p{i}"))).unwrap())
        .collect();
    match log.enqueue(Bytes::from_static(b"one too many")) {
        Err(LogError::PoolFull { retry_after_ms }) => assert!(retry_after_ms >= 100),
        other => panic!("expected PoolFull, got {other:?}"),
    }
    assert_eq!(log.pooled(), 10);
    // Shutdown sequences what was pooled.
    log.shutdown().await;
    for (i, rx) in pending.into_iter().enumerate() {
        assert_eq!(rx.await.unwrap().unwrap(), 1 + i as u64);
    }
    assert!(matches!(
        log.add(Bytes::from_static(b"late")).await,
        Err(LogError::Closed)
    ));
}

#[tokio::test]
async fn proofs_from_stored_tiles_verify() {
    let objects: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let log = Arc::new(
        open(Arc::clone(&objects), Arc::new(MemoryLock::new()))
            .await
            .unwrap(),
    );
    let entries = batch("p", 1100);
    let mut leaves = Vec::new();
    for chunk in entries.chunks(97) {
        add_all(&log, chunk.to_vec()).await;
    }
    let size = log.latest().size;
    let root = log.latest().root;
    for i in 0..size {
        let e = log_entry(&*objects, i, size).await;
        leaves.push(vouch_tlog::leaf_hash(&e));
    }
    for index in [0, 1, 255, 256, 257, size / 2, size - 1] {
        let proof = proofs::inclusion_proof(&*objects, index, size, size)
            .await
            .unwrap();
        verify_inclusion(index, size, &leaves[index as usize], &proof, &root).unwrap();
    }
    // A size that was never a checkpoint still gets proofs (wider tiles are cut down).
    let old = 300;
    let old_root = vouch_tlog::root_of(&leaves[..old as usize]);
    let proof = proofs::consistency_proof(&*objects, old, size, size)
        .await
        .unwrap();
    vouch_tlog::verify_consistency(old, size, &proof, &old_root, &root).unwrap();
    assert!(matches!(
        proofs::inclusion_proof(&*objects, size, size, size).await,
        Err(LogError::OutOfRange { .. })
    ));
    assert!(matches!(
        proofs::consistency_proof(&*objects, 1, size + 1, size).await,
        Err(LogError::OutOfRange { .. })
    ));
}

async fn log_entry(objects: &dyn Objects, i: u64, size: u64) -> Bytes {
    let w = 256u64;
    let width = (size - (i / w) * w).min(w) as u16;
    let id = vouch_tlog::BundleId {
        index: i / w,
        width,
    };
    let key = vouch_store::ObjectKey::new(id.path()).unwrap();
    let b = objects.get(&key).await.unwrap().unwrap();
    let entries = vouch_tlog::decode_entry_bundle(&b).unwrap();
    Bytes::copy_from_slice(entries[(i % w) as usize])
}

#[tokio::test]
async fn a_second_sequencer_loses_the_swap_and_stops() {
    let objects: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let lock: Arc<dyn CheckpointLock> = Arc::new(MemoryLock::new());
    let a = Arc::new(open(Arc::clone(&objects), Arc::clone(&lock)).await.unwrap());
    let b = Arc::new(open(Arc::clone(&objects), Arc::clone(&lock)).await.unwrap());
    let acked = add_all(&a, batch("a", 10)).await;
    let err = b.add(Bytes::from_static(b"zombie")).await.unwrap_err();
    match err {
        LogError::BatchFailed { cause } => {
            assert!(matches!(
                *cause,
                LogError::LostLock {
                    ours: 0,
                    found_size: 10
                }
            ))
        }
        other => panic!("expected LostLock, got {other:?}"),
    }
    assert!(matches!(
        b.add(Bytes::from_static(b"again")).await,
        Err(LogError::SteppedDown { .. })
    ));
    // The zombie's in-memory checkpoint (size 0) is older than the committed one (10):
    // it is never offered as current again.
    assert!(matches!(b.current(), Err(LogError::SteppedDown { .. })));
    assert!(!b.is_sequencing());
    assert_eq!(a.current().unwrap().size, 10);
    // The zombie's tiles lie beyond the committed tree; the log is intact, and `a` goes on.
    let mut acked = acked;
    acked.extend(add_all(&a, batch("a2", 300)).await);
    check(&*objects, &*lock, &acked, &[]).await;
}

/// Defect (issue 12): a second `vouch serve` on the same lock database lost the swap
/// once, then answered 503 forever while serving its stale checkpoint as current. A
/// process now claims the lock database before sequencing, and the second is refused
/// naming the first; a log that lost its lock anyway serves no checkpoint as current.
#[tokio::test]
async fn second_sequencer_on_same_lock_is_refused_and_never_serves_stale() {
    let objects: Arc<dyn Objects> = Arc::new(RemoteObjects::memory());
    let lock: Arc<dyn CheckpointLock> = Arc::new(MemoryLock::new());
    let ttl = std::time::Duration::from_secs(60);
    let lease = lock.acquire_lease("node A", "http://a", ttl).await.unwrap();
    assert_eq!(lease.map(|l| l.epoch), Some(1));
    assert!(lock
        .acquire_lease("node B", "http://b", ttl)
        .await
        .unwrap()
        .is_none());
    // A writer that bypasses the claim (an older binary, a hand edit) still cannot make
    // the stopped log serve its old checkpoint.
    let a = Arc::new(open(Arc::clone(&objects), Arc::clone(&lock)).await.unwrap());
    let b = open(Arc::clone(&objects), Arc::clone(&lock)).await.unwrap();
    add_all(&a, batch("a", 3)).await;
    assert_eq!(
        b.current().unwrap().size,
        0,
        "b has not tried to commit yet"
    );
    assert!(b.add(Bytes::from_static(b"late")).await.is_err());
    assert!(matches!(b.current(), Err(LogError::SteppedDown { .. })));
}

/// Fails the k-th storage write (object or lock) of a run at each fault point, for
/// every k, then "restarts" from the real stores and checks: the log's invariants,
/// every acknowledged entry at its index, every checkpoint seen consistent.
async fn crash_at_every_write(
    objects: Arc<dyn Objects>,
    lock: Arc<dyn CheckpointLock>,
    k: u64,
    point: FaultPoint,
) -> CrashRun {
    let plan = FaultPlan::new();
    let f_objects: Arc<dyn Objects> =
        Arc::new(Faulty::new(Arc::clone(&objects), Arc::clone(&plan)));
    let f_lock: Arc<dyn CheckpointLock> =
        Arc::new(Faulty::new(Arc::clone(&lock), Arc::clone(&plan)));
    let mut acked = BTreeMap::new();
    let mut seen = Vec::new();
    let mut submitted = 0usize;
    // The plan is armed only after opening, so opening cannot fail.
    let log = Arc::new(
        open(Arc::clone(&f_objects), Arc::clone(&f_lock))
            .await
            .expect("opening before the fault is armed"),
    );
    plan.fail_write(k, point);
    for round in 0..6 {
        let entries = batch(&format!("r{round}"), 40 + round * 70);
        submitted += entries.len();
        let got = add_all(&log, entries).await;
        acked.extend(got);
        seen.push(log.latest().note.clone());
        if plan.tripped() {
            break;
        }
    }
    log.abort();
    let start = log.latest().size;
    let run = CrashRun {
        fired: plan.tripped(),
        submitted,
        acked: acked.len(),
    };
    // Restart on the real stores.
    let log = Arc::new(open(Arc::clone(&objects), Arc::clone(&lock)).await.unwrap());
    let size = check(&*objects, &*lock, &acked, &seen).await;
    assert!(size >= start.min(acked.len() as u64));
    acked.extend(add_all(&log, batch("after", 300)).await);
    seen.push(log.latest().note.clone());
    check(&*objects, &*lock, &acked, &seen).await;
    run
}

/// What one crash run did, so the sweep can prove its faults really fired.
#[derive(Debug)]
struct CrashRun {
    /// The armed fault was hit (the "process" died).
    fired: bool,
    submitted: usize,
    acked: usize,
}

/// A sweep is only a crash test if every armed fault fired, some faults cut entries
/// off before their acknowledgement, and some runs saw acknowledged entries survive.
/// (Not every fault cuts: one at the checkpoint object's publication, after the
/// commit, still acknowledges the batch it belongs to.)
fn assert_sweep(runs: &[(u64, FaultPoint, CrashRun)]) {
    for (k, point, run) in runs {
        assert!(
            run.fired,
            "the fault at write {k} ({point:?}) never fired: {run:?}"
        );
    }
    assert!(
        runs.iter().any(|(_, _, r)| r.acked < r.submitted),
        "no fault cut an entry off before its acknowledgement"
    );
    assert!(
        runs.iter().any(|(_, _, r)| r.acked > 0),
        "no run acknowledged anything before its fault"
    );
}

#[tokio::test]
async fn crash_at_every_write_memory() {
    let mut runs = Vec::new();
    for point in [
        FaultPoint::BeforePersist,
        FaultPoint::Partial,
        FaultPoint::AfterPersist,
    ] {
        for k in 0..22 {
            let run = crash_at_every_write(
                Arc::new(RemoteObjects::memory()),
                Arc::new(MemoryLock::new()),
                k,
                point,
            )
            .await;
            runs.push((k, point, run));
        }
    }
    assert_sweep(&runs);
}

#[tokio::test]
async fn crash_at_every_write_local_dir_and_sqlite() {
    let mut runs = Vec::new();
    for point in [FaultPoint::BeforePersist, FaultPoint::AfterPersist] {
        for k in [0, 1, 2, 3, 5, 8, 13] {
            let dir = tempfile::tempdir().unwrap();
            let objects = Arc::new(LocalDir::create(dir.path().join("tiles")).unwrap());
            let lock = Arc::new(
                SqliteLock::open(&dir.path().join("lock.db"), true)
                    .await
                    .unwrap(),
            );
            let run = crash_at_every_write(objects, lock, k, point).await;
            runs.push((k, point, run));
        }
    }
    assert_sweep(&runs);
}

#[tokio::test]
async fn production_mode_needs_an_existing_log() {
    let r = Log::open(
        config(),
        Arc::new(RemoteObjects::memory()),
        Arc::new(MemoryLock::new()),
        signer(),
        false,
    )
    .await;
    assert!(matches!(r, Err(LogError::NotInitialized { .. })));
}

/// Bytes of every file under `dir`.
fn disk_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            disk_bytes(&e.path())
        } else {
            m.len()
        };
    }
    total
}

/// Polls until `dir` holds at most `max` bytes, or gives up after five seconds.
async fn shrinks_to(dir: &std::path::Path, max: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = disk_bytes(dir);
        if n <= max || std::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Issue 13, finding 2: every batch wrote a new partial bundle holding all entries so
/// far and none was removed (60 entries of 40 KB grew the disk by 72 MB). Now each
/// superseded partial is deleted after the grace period, a restart sweeps what a crash
/// left, the committed tree's own partials are never touched, and disk stays linear.
#[tokio::test]
async fn superseded_partial_tiles_are_removed_and_disk_stays_linear() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = dir.path().join("tiles");
    let objects: Arc<dyn Objects> = Arc::new(LocalDir::create(&tiles).unwrap());
    let lock: Arc<dyn CheckpointLock> = Arc::new(MemoryLock::new());
    let entry = |i: usize| Bytes::from(vec![b'a' + (i % 26) as u8; 40_000]);
    let data = 60 * 40_000u64;
    let linear = 2 * data;

    // The attack: one 40 KB entry per batch, 60 batches. Grace 0: deleted at once.
    let cfg = config().with_partial_grace(Duration::ZERO);
    let log = Log::open(cfg, Arc::clone(&objects), Arc::clone(&lock), signer(), true)
        .await
        .unwrap();
    let mut acked = BTreeMap::new();
    for i in 0..60 {
        acked.insert(log.add(entry(i)).await.unwrap(), entry(i));
    }
    let used = shrinks_to(&tiles, linear).await;
    assert!(
        used <= linear,
        "{used} bytes on disk for {data} bytes of entries"
    );
    let seen = vec![log.latest().note.clone()];
    assert_eq!(check(&*objects, &*lock, &acked, &seen).await, 60);
    log.shutdown().await;

    // A crash before the grace period ends leaves the partials; the next start sweeps
    // them, keeping the committed tree's own.
    let cfg = config().with_partial_grace(Duration::from_secs(3600));
    let log = Log::open(cfg, Arc::clone(&objects), Arc::clone(&lock), signer(), true)
        .await
        .unwrap();
    for i in 60..100 {
        acked.insert(log.add(entry(i)).await.unwrap(), entry(i));
    }
    let before = disk_bytes(&tiles);
    assert!(before > 10 * data, "the partials are still there: {before}");
    log.abort();
    drop(log);
    let log = Log::open(
        config(),
        Arc::clone(&objects),
        Arc::clone(&lock),
        signer(),
        true,
    )
    .await
    .unwrap();
    let used = shrinks_to(&tiles, 2 * 100 * 40_000).await;
    assert!(
        used <= 2 * 100 * 40_000,
        "{used} bytes left after the restart sweep"
    );
    let seen = vec![log.latest().note.clone()];
    assert_eq!(check(&*objects, &*lock, &acked, &seen).await, 100);
}
