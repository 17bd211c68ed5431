//! Writes through any node, reads on every node: three in-process `App`s on loopback ports sharing one fresh PostgreSQL database (lock rows and metadata) and one object directory. A Rekor v2 entry POSTed to a follower is sequenced by the leader and answered with an inclusion proof that verifies against a checkpoint signed by the log; the internal batch route refuses a missing or wrong token (SERVE_E006) and a follower refuses a forwarded batch (SERVE_E013); with no leader, or a leader that cannot be reached, writes answer 503 with `Retry-After` (SERVE_E011, SERVE_E012) and nothing is logged; after the leader stops another node leads and writes through every node succeed.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod harness;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};
use vouch_log::ManualClock;
use vouch_registry::config::{DatabaseConfig, LockConfig, ObjectsConfig};
use vouch_registry::{App, Membership, Secrets, ServeConfig};
use vouch_testkit::pg::PgDatabase;
use vouch_tlog::open_checkpoint;

/// One node: its app, its base URL, and how to stop it.
struct Node {
    app: App,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Node {
    async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.served.take() {
            h.await.unwrap();
        }
    }
}

/// Starts a node on a loopback port: every node shares `shared` (keys, internal token,
/// objects) and the database; each has its own data directory.
async fn node(
    shared: &std::path::Path,
    own: &std::path::Path,
    db: &PgDatabase,
    membership: Membership,
) -> Node {
    let mut cfg = ServeConfig::dev(shared);
    let secrets_cfg = cfg.clone();
    cfg.storage.objects = ObjectsConfig::Local {
        path: shared.join("objects"),
    };
    cfg.storage.lock = LockConfig::Postgres {
        url_env: "UNUSED_LOCK_URL".into(),
    };
    cfg.database = DatabaseConfig::Postgres {
        url_env: "UNUSED_DB_URL".into(),
    };
    let mut secrets = Secrets::dev(shared, &secrets_cfg).unwrap();
    secrets.postgres_url = Some(db.url());
    secrets.database_url = Some(db.url());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = vouch_registry::open_as(
        &cfg,
        secrets,
        vouch_registry::Runtime::dev(own, &url),
        Arc::new(ManualClock::new(1_700_000_000)),
        membership,
    )
    .await
    .unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(vouch_registry::serve(listener, app.clone(), async move {
        let _ = rx.await;
    }));
    let served = tokio::spawn(async move {
        served.await.unwrap().unwrap();
    });
    Node {
        app,
        url,
        stop: Some(stop),
        served: Some(served),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A hashedrekord v0.0.2 request over `artifact`, signed by a fresh P-256 key.
fn hashedrekord(artifact: &[u8]) -> Vec<u8> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let d = digest::digest(&digest::SHA256, artifact);
    let sig = key.sign_digest(&d).unwrap();
    let spki = key.public_key().as_der().unwrap();
    serde_json::to_vec(&json!({
        "hashedRekordRequestV002": {
            "digest": B64.encode(d.as_ref()),
            "signature": {
                "content": B64.encode(sig.as_ref()),
                "verifier": {
                    "publicKey": {"rawBytes": B64.encode(spki.as_ref())},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256"
                }
            }
        }
    }))
    .unwrap()
}

async fn post_entry(node: &Node, body: Vec<u8>) -> (u16, Option<String>, Value) {
    let r = client()
        .post(format!("{}/api/v2/log/entries", node.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let v = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, retry, v)
}

/// Checks a 201 Rekor answer against the log's key (taken from `leader`, the node
/// that holds it) and returns (index, tree size).
fn check_entry(leader: &App, v: &Value) -> (u64, u64) {
    let logged = harness::verify_logged(leader, v);
    (logged.index, logged.size)
}

async fn internal_batch(node: &Node, token: Option<&str>, origin: &str) -> (u16, Value) {
    let e = bytes::Bytes::from_static(b"entry");
    let body = vouch_registry::cluster::encode_batch(origin, &[&e]);
    let mut req = client()
        .post(format!("{}/internal/log/add", node.url))
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json::<Value>().await.unwrap_or(Value::Null))
}

async fn committed_size(node: &App) -> u64 {
    node.state.log.committed().await.unwrap().size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_through_any_node_reads_on_every_node() {
    let db = PgDatabase::create();
    let shared = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut a = node(shared.path(), dirs[0].path(), &db, Membership::Sequencer).await;
    let follow_a = || Membership::Follower {
        leader_address: Some(a.url.clone()),
    };
    let mut b = node(shared.path(), dirs[1].path(), &db, follow_a()).await;
    let mut c = node(shared.path(), dirs[2].path(), &db, follow_a()).await;
    assert!(a.app.state.log.is_leader() && !b.app.state.log.is_leader());

    // A Rekor v2 entry POSTed to a follower: sequenced by the leader, answered by the
    // follower with a proof against a checkpoint the log signed.
    let (s, _, v) = post_entry(&b, hashedrekord(b"through b")).await;
    assert_eq!(s, 201, "{v}");
    let (index, size) = check_entry(&a.app, &v);
    assert_eq!(index, 0);
    assert!(size >= 1);
    assert_eq!(
        a.app.state.log.local().unwrap().latest().size,
        1,
        "the leader sequenced it"
    );

    // Many at once through both followers and the leader: every answer verifies, every
    // index is distinct (followers batch them into few requests).
    let mut tasks = Vec::new();
    for i in 0..60 {
        let n = [&a, &b, &c][i % 3];
        let (url, body) = (n.url.clone(), hashedrekord(format!("entry {i}").as_bytes()));
        tasks.push(tokio::spawn(async move {
            let r = client()
                .post(format!("{url}/api/v2/log/entries"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut indices = std::collections::BTreeSet::new();
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, 201, "{v}");
        indices.insert(check_entry(&a.app, &v).0);
    }
    assert_eq!(indices, (1..=60).collect(), "61 distinct indices");

    // Reads on every node: the checkpoint (the follower's from the lock row, cached for
    // at most COMMITTED_TTL, so it may take that long to show the last write) and tiles.
    for n in [&a, &b, &c] {
        let deadline = std::time::Instant::now() + 3 * vouch_registry::cluster::COMMITTED_TTL;
        let cp = loop {
            let r = client()
                .get(format!("{}/log/checkpoint", n.url))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let note = r.bytes().await.unwrap();
            let cp = open_checkpoint(
                &note,
                a.app.state.log.origin(),
                &[a.app.state.log.verifier()],
            )
            .unwrap()
            .checkpoint;
            if cp.size == 61 || std::time::Instant::now() > deadline {
                break cp;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(cp.size, 61, "{}", n.url);
        let r = client()
            .get(format!("{}/log/tile/0/000.p/61", n.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", n.url);
        assert_eq!(r.bytes().await.unwrap().len(), 61 * 32);
        // Beyond the committed tree: 404 on every node.
        let r = client()
            .get(format!("{}/log/tile/0/000.p/62", n.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{}", n.url);
    }
    // readyz on a follower: ready, reporting its role and leader.
    let r = client()
        .get(format!("{}/readyz", b.url))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let facts: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{facts}");
    assert_eq!(facts["role"], "follower");
    assert_eq!(facts["leader"], json!(a.url));

    // The internal route: no token, a wrong one: 401 SERVE_E006; a follower refuses a
    // forwarded batch with SERVE_E013; an unknown origin is 404.
    let origin = a.app.state.log.origin().to_owned();
    let token = a.app.state.internal_token.clone().unwrap();
    let (s, v) = internal_batch(&a, None, &origin).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("SERVE_E006")), "{v}");
    let (s, v) = internal_batch(&a, Some("not-the-token"), &origin).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("SERVE_E006")), "{v}");
    let wrong_len = format!("{token}x");
    let (s, v) = internal_batch(&a, Some(&wrong_len), &origin).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("SERVE_E006")), "{v}");
    let (s, v) = internal_batch(&b, Some(&token), &origin).await;
    assert_eq!((s, v["code"].as_str()), (503, Some("SERVE_E013")), "{v}");
    let (s, v) = internal_batch(&a, Some(&token), "no.such/log").await;
    assert_eq!((s, v["code"].as_str()), (404, Some("SERVE_E002")), "{v}");
    assert_eq!(
        committed_size(&a.app).await,
        61,
        "nothing refused was logged"
    );
    // With the token, on the leader: logged, answered with a covering checkpoint.
    let (s, v) = internal_batch(&a, Some(&token), &origin).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["results"][0]["index"], 61);

    // No leader known (an election pending): 503 SERVE_E011 with Retry-After.
    vouch_registry::follow(&c.app.state, None).await;
    let (s, retry, v) = post_entry(&c, hashedrekord(b"no leader")).await;
    assert_eq!((s, v["code"].as_str()), (503, Some("SERVE_E011")), "{v}");
    assert!(retry.is_some());
    // A leader that cannot be reached: 503 SERVE_E012 with Retry-After, nothing logged.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    vouch_registry::follow(&c.app.state, Some(dead_url)).await;
    let (s, retry, v) = post_entry(&c, hashedrekord(b"dead leader")).await;
    assert_eq!((s, v["code"].as_str()), (503, Some("SERVE_E012")), "{v}");
    assert!(retry.is_some());
    assert_eq!(committed_size(&a.app).await, 62, "nothing was logged");

    // A "leader" that answers 200 with a checkpoint the log never signed (or one that
    // does not cover the index): not acknowledged, 503 SERVE_E012.
    let liar = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let liar_url = format!("http://{}", liar.local_addr().unwrap());
    let forged = format!(
        "{origin}\n1000\n{}\n\n— {origin} AAAAAAAA\n",
        B64.encode([7u8; 32])
    );
    let real = String::from_utf8(a.app.state.log.committed().await.unwrap().note.to_vec()).unwrap();
    let answers = Arc::new(std::sync::Mutex::new(vec![
        json!({"checkpoint": real, "results": [{"index": 5000}]}),
        json!({"checkpoint": forged, "results": [{"index": 0}]}),
    ]));
    let liar_app = axum::Router::new().route(
        "/internal/log/add",
        axum::routing::post(move || {
            let answers = Arc::clone(&answers);
            async move { axum::Json(answers.lock().unwrap().pop().unwrap_or(Value::Null)) }
        }),
    );
    let liar_task = tokio::spawn(async move { axum::serve(liar, liar_app).await.unwrap() });
    vouch_registry::follow(&c.app.state, Some(liar_url)).await;
    for what in ["forged checkpoint", "index beyond the checkpoint"] {
        let (s, retry, v) = post_entry(&c, hashedrekord(what.as_bytes())).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (503, Some("SERVE_E012")),
            "{what}: {v}"
        );
        assert!(retry.is_some());
    }
    liar_task.abort();

    // The leader stops; b takes over (as the election will decide) and c follows b.
    a.stop().await;
    let (s, _, v) = post_entry(&b, hashedrekord(b"leader gone")).await;
    assert_eq!(s, 503, "{v}");
    assert!(
        ["SERVE_E012", "SERVE_E005"].contains(&v["code"].as_str().unwrap()),
        "{v}"
    );
    vouch_registry::lead(&b.app.state).await.unwrap();
    vouch_registry::follow(&c.app.state, Some(b.url.clone())).await;
    assert!(b.app.state.log.is_leader());
    for (i, n) in [&b, &c, &b, &c].into_iter().enumerate() {
        let (s, _, v) = post_entry(n, hashedrekord(format!("after {i}").as_bytes())).await;
        assert_eq!(s, 201, "{v}");
        let (index, _) = check_entry(&b.app, &v);
        assert_eq!(index, 62 + i as u64, "the tree continues where a left it");
    }
    // A CT entry (a certificate) through the follower reaches the new leader's CT log.
    let ct = &c.app.state.sigstore.ct_log;
    let appended = ct
        .add(bytes::Bytes::from_static(b"precert leaf"))
        .await
        .unwrap();
    assert_eq!(appended.index, 0);
    assert_eq!(
        b.app.state.sigstore.ct_log.local().unwrap().latest().size,
        1
    );

    b.stop().await;
    c.stop().await;
    drop((a, b, c));
    drop(db);
}

/// Throughput through three nodes (writes spread over the leader and two followers)
/// against the leader alone, over the internal add-entry route (no signature checks, so
/// the log path is what is measured). A figure, not a check: run with
/// `cargo nextest run -p vouch-registry --test cluster_forward --run-ignored only --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement; prints entries/s"]
async fn throughput_three_nodes_against_one() {
    let db = PgDatabase::create();
    let shared = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut a = node(shared.path(), dirs[0].path(), &db, Membership::Sequencer).await;
    let follow = || Membership::Follower {
        leader_address: Some(a.url.clone()),
    };
    let mut b = node(shared.path(), dirs[1].path(), &db, follow()).await;
    let mut c = node(shared.path(), dirs[2].path(), &db, follow()).await;
    let token = a.app.state.internal_token.clone().unwrap();
    let n = 3000usize;
    let run = |urls: Vec<String>| {
        let token = token.clone();
        async move {
            let start = std::time::Instant::now();
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut tasks = Vec::new();
            // 24 in all: under `[limits] max_connections_per_ip` (32) with the followers'
            // forwards, and the same concurrency for one node as for three.
            for w in 0..24 {
                let (url, token, next) = (
                    urls[w % urls.len()].clone(),
                    token.clone(),
                    Arc::clone(&next),
                );
                tasks.push(tokio::spawn(async move {
                    let c = client();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            return;
                        }
                        let r = c
                            .post(format!("{url}/log/internal/add-entry"))
                            .bearer_auth(&token)
                            .body(format!("entry {i} {url}"))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status().as_u16(), 200);
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            n as f64 / start.elapsed().as_secs_f64()
        }
    };
    let one = run(vec![a.url.clone()]).await;
    let three = run(vec![a.url.clone(), b.url.clone(), c.url.clone()]).await;
    println!(
        "entries/s: one node {one:.0}, three nodes {three:.0} (ratio {:.2})",
        three / one
    );
    a.stop().await;
    b.stop().await;
    c.stop().await;
    drop((a, b, c));
    drop(db);
}
