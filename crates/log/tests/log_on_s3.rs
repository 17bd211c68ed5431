//! A log on a real S3 server (SeaweedFS from `vouch-testkit`) with a SQLite lock:
//! entries are sequenced into tiles on S3, the log is closed and reopened from S3 and
//! the lock, and inclusion and consistency proofs read from S3 verify.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use vouch_log::invariants::check_log;
use vouch_log::{proofs, Log, LogConfig};
use vouch_store::{CheckpointLock, Objects, RemoteObjects, S3Options, SqliteLock};
use vouch_testkit::seaweed::{self, SeaweedFs};
use vouch_tlog::{verify_consistency, verify_inclusion, KeyType, Signer};

const ORIGIN: &str = "test.vouch.invalid/s3-log";

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, KeyType::Ed25519, &[3u8; 32]).unwrap()
}

fn s3_objects(s3: &SeaweedFs) -> Arc<dyn Objects> {
    let mut o = S3Options::new(seaweed::BUCKET);
    o.endpoint = Some(s3.endpoint());
    o.region = Some(seaweed::REGION.into());
    o.prefix = "log".into();
    o.allow_http = true;
    o.credentials = Some((seaweed::ACCESS_KEY.into(), seaweed::SECRET_KEY.into()));
    Arc::new(RemoteObjects::s3(&o).unwrap())
}

async fn open(objects: Arc<dyn Objects>, lock: Arc<dyn CheckpointLock>) -> Arc<Log> {
    let config = LogConfig::new(ORIGIN)
        .with_batch_interval(Duration::from_millis(5))
        .with_batch_max_entries(256);
    Arc::new(
        Log::open(config, objects, lock, signer(), true)
            .await
            .unwrap(),
    )
}

async fn add_all(log: &Arc<Log>, tag: &str, n: usize) -> Vec<(u64, Bytes)> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let log = Arc::clone(log);
            let e = Bytes::from(format!("{tag}-{i}"));
            tokio::spawn(async move { (log.add(e.clone()).await.unwrap(), e) })
        })
        .collect();
    let mut acked = Vec::new();
    for t in tasks {
        acked.push(t.await.unwrap());
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn log_on_s3_survives_reopen_and_proves() {
    let s3 = SeaweedFs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join("lock.db");

    let lock: Arc<dyn CheckpointLock> = Arc::new(SqliteLock::open(&lock_path, true).await.unwrap());
    let log = open(s3_objects(&s3), lock).await;
    let mut acked = add_all(&log, "a", 300).await;
    let first = log.latest();
    assert_eq!(first.size, 300);
    log.shutdown().await;
    drop(log);

    // Reopened from S3 and the lock file alone (a new client, as another process would).
    let objects = s3_objects(&s3);
    let lock: Arc<dyn CheckpointLock> =
        Arc::new(SqliteLock::open(&lock_path, false).await.unwrap());
    let log = open(Arc::clone(&objects), Arc::clone(&lock)).await;
    assert_eq!(log.latest().size, 300);
    assert_eq!(log.latest().root, first.root);
    acked.extend(add_all(&log, "b", 200).await);
    let latest = log.latest();
    assert_eq!(latest.size, 500);

    // The whole log as stored on S3: every acknowledged entry at its index.
    let report = check_log(
        &*objects,
        &*lock,
        ORIGIN,
        &signer().verifier(),
        &[first.note.clone(), latest.note.clone()],
    )
    .await
    .expect("log invariants hold on S3");
    assert_eq!(report.size, 500);
    for (i, e) in &acked {
        assert_eq!(report.entries.get(*i as usize), Some(e), "entry {i}");
    }
    let leaves: Vec<_> = report
        .entries
        .iter()
        .map(|e| vouch_tlog::leaf_hash(e))
        .collect();
    for index in [0u64, 255, 256, 299, 300, 499] {
        let proof = proofs::inclusion_proof(&*objects, index, 500, 500)
            .await
            .unwrap();
        verify_inclusion(index, 500, &leaves[index as usize], &proof, &latest.root).unwrap();
    }
    let proof = proofs::consistency_proof(&*objects, 300, 500, 500)
        .await
        .unwrap();
    verify_consistency(300, 500, &proof, &first.root, &latest.root).unwrap();
    log.shutdown().await;
}
