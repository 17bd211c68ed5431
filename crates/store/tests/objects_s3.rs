//! The `Objects` contract on a real S3 server (SeaweedFS, started by `vouch-testkit`:
//! the same `check_*` functions the local directory and the in-memory store run), and
//! S3 faults (5xx, stalls) injected by a proxy between the client and the server.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use vouch_store::{ObjectKey, Objects, RemoteObjects, S3Options};
use vouch_testkit::proxy::{Fault, FaultyProxy};
use vouch_testkit::seaweed::{self, SeaweedFs};

fn options(endpoint: &str, prefix: &str) -> S3Options {
    let mut o = S3Options::new(seaweed::BUCKET);
    o.endpoint = Some(endpoint.to_string());
    o.region = Some(seaweed::REGION.to_string());
    o.prefix = prefix.to_string();
    o.allow_http = true;
    o.credentials = Some((seaweed::ACCESS_KEY.into(), seaweed::SECRET_KEY.into()));
    o
}

fn store(opts: &S3Options) -> Arc<dyn Objects> {
    Arc::new(RemoteObjects::s3(opts).unwrap())
}

fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).unwrap()
}

/// Round trip, `put_many`, and create-if-absent with its 16-writer race, each under its
/// own prefix of one bucket. SeaweedFS honours `If-None-Match: *`: exactly one of the 16
/// conditional PUTs wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_objects_contract() {
    let s3 = SeaweedFs::start().await;
    vouch_store::check_round_trip(store(&options(&s3.endpoint(), "round-trip"))).await;
    vouch_store::check_put_many(store(&options(&s3.endpoint(), "put-many"))).await;
    vouch_store::check_create_if_absent(store(&options(&s3.endpoint(), "race"))).await;
    // The prefix isolates: nothing written under one is visible under another.
    let other = store(&options(&s3.endpoint(), "elsewhere"));
    assert_eq!(other.get(&key("race/tile")).await.unwrap(), None);
}

/// 5xx answers are retried and the write lands; a write that took effect although the
/// client was told 500 is retried into `If-None-Match`'s refusal and accepted as
/// identical; persistent 5xx and stalls fail with `STORE_E003` within the configured
/// bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_faults_are_retried_then_reported_in_bounded_time() {
    let s3 = SeaweedFs::start().await;
    let proxy = FaultyProxy::start(s3.s3_port()).await.unwrap();
    let direct = store(&options(&s3.endpoint(), "faults"));
    let mut opts = options(&proxy.endpoint(), "faults");
    opts.max_retries = 3;
    opts.retry_timeout = Duration::from_secs(5);
    opts.init_backoff = Duration::from_millis(20);
    opts.request_timeout = Duration::from_secs(1);
    opts.connect_timeout = Duration::from_secs(1);
    let via_proxy = store(&opts);

    // Transient 503s: retried, the write lands, and it is really on the server.
    proxy.fail_next(2, Fault::Status(503));
    let before = proxy.requests();
    via_proxy
        .put(&key("transient"), Bytes::from_static(b"landed"))
        .await
        .unwrap();
    assert_eq!(proxy.faulted(), 2);
    assert_eq!(
        proxy.requests() - before,
        3,
        "two refused attempts, one good"
    );
    assert_eq!(
        direct.get(&key("transient")).await.unwrap().as_deref(),
        Some(&b"landed"[..])
    );

    // A create that took effect while the client saw 500: the retry is refused by
    // If-None-Match, the stored bytes are compared, and the call succeeds.
    proxy.fail_next(1, Fault::StatusAfterForward(500));
    via_proxy
        .put_if_absent(&key("created-once"), Bytes::from_static(b"tile"))
        .await
        .unwrap();
    assert_eq!(
        direct.get(&key("created-once")).await.unwrap().as_deref(),
        Some(&b"tile"[..])
    );
    // ... and the same situation with different bytes stored is still refused.
    let err = via_proxy
        .put_if_absent(&key("created-once"), Bytes::from_static(b"other"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "STORE_E011", "{err}");

    // Persistent 503: 1 + max_retries attempts, then STORE_E003, well inside the bound.
    proxy.fail_all(Fault::Status(503));
    let before = proxy.requests();
    let t = Instant::now();
    let err = via_proxy
        .put(&key("never"), Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(err.code(), "STORE_E003", "{err}");
    assert_eq!(
        proxy.requests() - before,
        4,
        "one attempt and three retries"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    let err = via_proxy.get(&key("transient")).await.unwrap_err();
    assert_eq!(err.code(), "STORE_E003", "{err}");
    proxy.heal();
    assert_eq!(direct.get(&key("never")).await.unwrap(), None);

    // A stalled server: each attempt gives up after request_timeout, the call fails
    // with STORE_E003 before retry_timeout + request_timeout. (Plain puts and gets are
    // idempotent and retried after a timeout; a conditional create is not.)
    opts.max_retries = 1;
    opts.retry_timeout = Duration::from_secs(2);
    let via_proxy = store(&opts);
    proxy.fail_all(Fault::Stall);
    let bound = opts.retry_timeout + opts.request_timeout + Duration::from_millis(500);
    for op in ["put", "create", "get"] {
        let t = Instant::now();
        let err = match op {
            "put" => via_proxy
                .put(&key("stalled"), Bytes::from_static(b"x"))
                .await
                .unwrap_err(),
            "create" => via_proxy
                .put_if_absent(&key("stalled"), Bytes::from_static(b"x"))
                .await
                .unwrap_err(),
            _ => via_proxy.get(&key("transient")).await.unwrap_err(),
        };
        let took = t.elapsed();
        eprintln!("{op} against a stalled server failed after {took:?}");
        assert_eq!(err.code(), "STORE_E003", "{op}: {err}");
        assert!(took >= opts.request_timeout, "{op} gave up early: {took:?}");
        assert!(took < bound, "{op} took {took:?}, bound {bound:?}");
    }
    proxy.heal();
    assert_eq!(direct.get(&key("stalled")).await.unwrap(), None);
}

/// A `put_many` that fails partway (some requests land, some are told 500 after
/// landing, the rest refused or stalled) returns an error, and afterwards every object
/// reads back whole or not at all: nothing torn, nothing acknowledged that is not
/// stored. Retrying the batch then completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_failed_put_many_leaves_whole_objects_or_none() {
    let s3 = SeaweedFs::start().await;
    let proxy = FaultyProxy::start(s3.s3_port()).await.unwrap();
    let direct = store(&options(&s3.endpoint(), "partial"));
    let mut opts = options(&proxy.endpoint(), "partial");
    opts.max_retries = 0;
    opts.request_timeout = Duration::from_secs(1);
    let via_proxy = store(&opts);

    let objects: Vec<(ObjectKey, Bytes)> = (0..40u8)
        .map(|i| {
            (
                key(&format!("tile/entries/{i:03}")),
                Bytes::from(vec![i; 200_000 + usize::from(i)]),
            )
        })
        .collect();
    proxy.script(
        std::iter::repeat_n(None, 10)
            .chain(std::iter::repeat_n(Some(Fault::StatusAfterForward(500)), 5))
            .chain(std::iter::repeat_n(Some(Fault::Status(503)), 5)),
    );
    proxy.fail_all(Fault::Stall);
    let err = via_proxy.put_many(objects.clone()).await.unwrap_err();
    assert_eq!(err.code(), "STORE_E003", "{err}");
    proxy.heal();
    // A request the client had already handed to its connection may still reach the
    // proxy after the failed call returned; healed, the proxy forwards it.
    let seen_at_heal = proxy.requests();

    let mut stored = 0;
    for (k, v) in &objects {
        if let Some(got) = direct.get(k).await.unwrap() {
            assert_eq!(&got, v, "{k:?} is torn");
            stored += 1;
        }
    }
    // Only forwarded requests can have landed (ten, and five told 500 afterwards, plus
    // any straggler that arrived after the heal); the failed call abandons the ones
    // still in flight, some cut off mid-body, and none of them left a torn object above.
    let late = proxy.requests() - seen_at_heal;
    assert!(
        stored <= 15 + late,
        "{stored} of 40 stored, {late} late requests"
    );
    assert!(proxy.faulted() >= 1, "the failure came from the proxy");
    eprintln!("{stored} of 40 objects stored by the failed put_many");

    // Retrying the whole batch, as the sequencer does, completes it.
    via_proxy.put_many(objects.clone()).await.unwrap();
    for (k, v) in &objects {
        assert_eq!(direct.get(k).await.unwrap().as_ref(), Some(v), "{k:?}");
    }
}
