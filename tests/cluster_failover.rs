//! Three `vouch serve` nodes on one fresh PostgreSQL database and one SeaweedFS bucket, under steady writes through all three, while the leader is SIGKILLed five times and SIGSTOPped past its lease twice (issue 16).
//!
//! Writers post distinct entries to every node's internal add-entry route and record
//! each acknowledgement (entry, index). A `vouch log monitor` per node follows that
//! node's checkpoint all along (one state file each: a node's own view must never go
//! back or fork). Faults: SIGKILL of whichever node holds the lease (then restarted on
//! the same address, so three nodes stay up), and SIGSTOP of the leader for longer than
//! its lease, then SIGCONT: by then another node leads, and the paused one must fail its
//! next commit (its epoch is fenced), step down and publish nothing older; then every
//! PostgreSQL backend of the database is terminated twice (as a database restart looks
//! to the nodes), and writes must resume with no operator action.
//!
//! At the end: the whole-log invariant check (`vouch_log::invariants::check_log`) over
//! the bucket and the lock row, with every checkpoint any node served; every
//! acknowledged entry is at its acknowledged index; no monitor saw a fork or rollback;
//! the sealed CA/TSA/CT objects were created once (the trust root every node serves is
//! the same); and a registry-key rotation made through one node is served by the others.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod install_support;
use install_support::{ok, Install};
use vouch_testkit::pg::PgDatabase;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vouch_testkit::process::ChildGuard;

use bytes::Bytes;
use vouch_testkit::seaweed::{self, SeaweedFs};

/// The sequencer lease: short, so failovers fit in a CI test.
const LEASE_TTL_SECS: u64 = 3;

/// Secrets, the shared config file and `admin init`, as docs/deployment.md's several-node
/// install does it.
fn install(pg: &PgDatabase, s3: &SeaweedFs, nodes: usize) -> Install {
    let mut install = Install::new(
        nodes,
        HashMap::from([
            ("VOUCH_PG_URL".to_owned(), pg.url()),
            (
                "AWS_ACCESS_KEY_ID".to_owned(),
                seaweed::ACCESS_KEY.to_owned(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY".to_owned(),
                seaweed::SECRET_KEY.to_owned(),
            ),
        ]),
    );
    // Secrets (docs/deployment.md, "1. Secrets"), shared by every node. The log's origin
    // is the public URL's host:port; the first node's address stands for the load balancer.
    let public = install.origin();
    install.keygen("cluster.test/witness");
    let config = format!(
        r#"[log]
origin = "{public}"
signing_key_env = "VOUCH_LOG_KEY"
batch_interval_ms = 20
lease_ttl_secs = {LEASE_TTL_SECS}

[storage.objects]
kind = "s3"
bucket = "{bucket}"
endpoint = "{endpoint}"
region = "{region}"
allow_http = true

[storage.lock]
kind = "postgres"
url_env = "VOUCH_PG_URL"

[database]
kind = "postgres"
url_env = "VOUCH_PG_URL"

[witness]
signing_key_env = "VOUCH_WITNESS_KEY"

[internal]
token_env = "VOUCH_INTERNAL_TOKEN"

[limits]
max_connections_per_ip = 4096

[registry]
public_url = "http://{public}"
token_enc_key_env = "TOKEN_ENC_KEY"
"#,
        bucket = seaweed::BUCKET,
        endpoint = s3.endpoint(),
        region = seaweed::REGION,
    );
    std::fs::write(install.p("etc/vouch.toml"), config).unwrap();
    let data = install.p("data-init");
    std::fs::create_dir_all(&data).unwrap();
    ok(&install.admin_init(&data, &["--json"]));
    install
}

struct Node {
    child: ChildGuard,
    url: String,
}

#[allow(
    clippy::zombie_processes,
    reason = "a node that fails to start fails the test; the child dies with it"
)]
fn start_node(install: &Install, i: usize) -> Node {
    let config = install.p("etc/vouch.toml");
    let data = install.p(&format!("data-{i}"));
    std::fs::create_dir_all(&data).unwrap();
    let listen = &install.listens[i];
    let mut child = install
        .command(&[
            "serve",
            "--config",
            &config,
            "--data",
            &data,
            "--listen",
            listen,
            "--advertise",
            &format!("http://{listen}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vouch serve");
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
    let stderr = child.stderr.take().unwrap();
    let tag = format!("node{i}");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if std::env::var_os("VOUCH_CLUSTER_LOGS").is_some() {
                eprintln!("[{tag}] {line}");
            }
        }
    });
    let url = format!("http://{listen}");
    let client = http();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if client
            .get(format!("{url}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return Node {
                child: ChildGuard(child),
                url,
            };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("node {i} exited at start with {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("node {i} did not answer /healthz within 60 s");
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn signal(node: &Node, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig}");
}

/// The lease row as the database holds it: (leader's advertised address, epoch).
fn lease(pg: &PgDatabase) -> Option<(String, i64)> {
    let out = Command::new("psql")
        .args([
            pg.url().as_str(),
            "-At",
            "-F",
            " ",
            "-c",
            "SELECT address, epoch FROM vouch_sequencer_lease WHERE expires_at > now()",
        ])
        .output()
        .expect("psql");
    vouch_testkit::process::assert_success(&out, "psql");
    let text = String::from_utf8_lossy(&out.stdout);
    let (addr, epoch) = text.trim().split_once(' ')?;
    Some((addr.to_owned(), epoch.parse().ok()?))
}

/// Terminates every backend connected to the test database; returns how many.
fn terminate_backends(pg: &PgDatabase) -> usize {
    let name = pg.url().rsplit('/').next().unwrap().to_owned();
    let admin = pg.url().replace(&format!("/{name}"), "/postgres");
    let out = Command::new("psql")
        .args([
            admin.as_str(),
            "-At",
            "-c",
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ),
        ])
        .output()
        .expect("psql");
    vouch_testkit::process::assert_success(&out, "psql");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// What the writers and monitors share.
#[derive(Default)]
struct Record {
    /// index → entry, for every acknowledged add.
    acked: Mutex<BTreeMap<u64, Vec<u8>>>,
    /// Every checkpoint any node served (signed note bytes).
    seen: Mutex<Vec<Bytes>>,
    /// Monitor failures (fork, rollback, inconsistency), with the node.
    monitor_failures: Mutex<Vec<String>>,
    acks: AtomicU64,
    refused: AtomicU64,
    stop: AtomicBool,
}

fn writer(record: Arc<Record>, url: String, token: String, w: usize) {
    let client = http();
    let mut seq = 0u64;
    while !record.stop.load(Ordering::Relaxed) {
        seq += 1;
        let entry = format!("cluster writer {w} entry {seq}").into_bytes();
        let answer = client
            .post(format!("{url}/log/internal/add-entry"))
            .bearer_auth(&token)
            .body(entry.clone())
            .send();
        match answer {
            Ok(r) if r.status().is_success() => {
                let v: serde_json::Value = r.json().expect("JSON ack");
                let index = v["index"].as_u64().expect("ack carries an index");
                let prev = record.acked.lock().unwrap().insert(index, entry.clone());
                assert!(
                    prev.is_none(),
                    "index {index} acknowledged twice (writer {w} entry {seq})"
                );
                record.acks.fetch_add(1, Ordering::Relaxed);
            }
            Ok(r) => {
                // Not acknowledged: 503 while no leader is known or a forward failed.
                let status = r.status();
                assert!(
                    status.as_u16() == 503 || status.as_u16() == 429,
                    "writer {w}: unexpected {status}: {}",
                    r.text().unwrap_or_default()
                );
                record.refused.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => {
                // The node is down (killed or stopped): try again shortly.
                record.refused.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Follows one node's log with `vouch log monitor --once` (one state file per node),
/// collecting every checkpoint it served.
fn monitor(record: Arc<Record>, install: Arc<Install>, url: String, vkey: String, n: usize) {
    let state = install.p(&format!("work/monitor-{n}.json"));
    let client = http();
    while !record.stop.load(Ordering::Relaxed) {
        if let Ok(r) = client.get(format!("{url}/log/checkpoint")).send() {
            if r.status().is_success() {
                if let Ok(b) = r.bytes() {
                    record.seen.lock().unwrap().push(b);
                }
            }
        }
        let out = install.vouch(&[
            "log",
            "monitor",
            "--once",
            "--json",
            "--state",
            &state,
            "--url",
            &format!("{url}/log"),
            "--key",
            &vkey,
        ]);
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            // A node that is down or has no committed state yet is not a log misbehaving;
            // a fork, rollback or inconsistency is (TILES_E005..E007, AUDIT_E001).
            if ["TILES_E005", "TILES_E006", "TILES_E007", "AUDIT_E001"]
                .iter()
                .any(|c| text.contains(c))
            {
                record
                    .monitor_failures
                    .lock()
                    .unwrap()
                    .push(format!("node {n}: {text}"));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the acknowledgements have grown by `by` since `from` (writes flow again).
fn wait_for_progress(record: &Record, by: u64, within: Duration) -> Duration {
    let from = record.acks.load(Ordering::Relaxed);
    let started = Instant::now();
    while started.elapsed() < within {
        if record.acks.load(Ordering::Relaxed) >= from + by {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "writes did not resume within {within:?} ({} acks, {} refused)",
        record.acks.load(Ordering::Relaxed),
        record.refused.load(Ordering::Relaxed)
    );
}

/// The node holding the lease and the lease's epoch, from one read (so a takeover
/// between two reads cannot pair one leader with another's epoch).
fn leader_index(install: &Install, pg: &PgDatabase) -> (usize, i64) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Some((addr, epoch)) = lease(pg) {
            if let Some(i) = install
                .listens
                .iter()
                .position(|l| addr.trim_end_matches('/') == format!("http://{l}"))
            {
                return (i, epoch);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no node holds the lease");
}

fn trust_root(url: &str) -> serde_json::Value {
    let v: serde_json::Value = http()
        .get(format!("{url}/api/v1/trust-config"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["trustedRoot"].clone()
}

/// What one run does: how many nodes, writers and faults.
#[derive(Default)]
struct Plan {
    nodes: usize,
    writers_per_node: usize,
    kills: usize,
    pauses: usize,
    /// Rounds of terminating every PostgreSQL backend of the instance's database.
    backend_kills: usize,
    /// Run the writers this long with no fault and report entries per second.
    steady: Option<Duration>,
    rotate: bool,
}

/// What one run measured.
struct Outcome {
    acked: usize,
    refused: u64,
    tree_size: u64,
    entries_per_s: Option<f64>,
    failovers: Vec<Duration>,
}

/// A fresh PostgreSQL database, a fresh SeaweedFS, `plan.nodes` nodes; at the end the
/// whole-log invariants, every acknowledged entry at its index, and no monitor alarm.
async fn cluster(plan: Plan) -> Outcome {
    let s3 = SeaweedFs::start().await;
    let pg = PgDatabase::create();
    let install = Arc::new(tokio::task::block_in_place(|| {
        install(&pg, &s3, plan.nodes)
    }));
    let vkey = {
        let key = std::fs::read_to_string(install.p("etc/log.key")).unwrap();
        vouch_tlog::Signer::parse(key.trim())
            .unwrap()
            .verifier()
            .to_string()
    };
    let (record, first_roots, entries_per_s, failovers) =
        tokio::task::block_in_place(|| run(&install, &pg, &vkey, &plan));

    // The whole log as the bucket and the lock row hold it.
    let objects = vouch_store::RemoteObjects::new(Arc::new(s3.client()));
    let lock = vouch_store::PostgresLock::connect(&pg.url(), false)
        .await
        .unwrap();
    let verifier = vouch_tlog::Verifier::parse(&vkey).unwrap();
    let seen = record.seen.lock().unwrap().clone();
    let report =
        vouch_log::invariants::check_log(&objects, &lock, verifier.name(), &verifier, &seen)
            .await
            .unwrap_or_else(|e| panic!("log invariants broken: {e:?}"));
    lock.close().await;
    let acked = record.acked.lock().unwrap().clone();
    for (i, e) in &acked {
        assert_eq!(
            report.entries.get(*i as usize).map(|b| &b[..]),
            Some(&e[..]),
            "acknowledged entry {i} is not at its index"
        );
    }
    // Keys were created once: every node served the same trust root from the start.
    assert!(
        first_roots.windows(2).all(|w| w[0] == w[1]),
        "nodes served different trust roots"
    );
    Outcome {
        acked: acked.len(),
        refused: record.refused.load(Ordering::Relaxed),
        tree_size: report.size,
        entries_per_s,
        failovers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_survive_leader_kills_and_pauses() {
    let out = cluster(Plan {
        nodes: 3,
        writers_per_node: 2,
        kills: 5,
        pauses: 2,
        backend_kills: 2,
        steady: None,
        rotate: true,
    })
    .await;
    assert!(
        out.acked > 100,
        "too few acknowledged writes: {}",
        out.acked
    );
    eprintln!(
        "cluster: {} acknowledged, {} refused, tree size {}; {}",
        out.acked,
        out.refused,
        out.tree_size,
        failover_summary(&out.failovers)
    );
}

/// The benchmark of docs/performance.md ("Several nodes"): entries per second through
/// three nodes against one, the same writers in all, then failover time over ten
/// leader kills. Run with
/// `cargo nextest run --release -p vouch --test cluster_failover --run-ignored only --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it on purpose (see docs/performance.md)"]
async fn bench_cluster() {
    const WRITERS: usize = 48;
    let steady = Some(Duration::from_secs(15));
    let one = cluster(Plan {
        nodes: 1,
        writers_per_node: WRITERS,
        steady,
        ..Plan::default()
    })
    .await;
    let three = cluster(Plan {
        nodes: 3,
        writers_per_node: WRITERS / 3,
        steady,
        ..Plan::default()
    })
    .await;
    let kills = cluster(Plan {
        nodes: 3,
        writers_per_node: 4,
        kills: 10,
        ..Plan::default()
    })
    .await;
    let (a, b) = (
        one.entries_per_s.unwrap_or_default(),
        three.entries_per_s.unwrap_or_default(),
    );
    eprintln!(
        "bench cluster: one node {a:.0} entries/s, three nodes {b:.0} entries/s ({:.2}x), \
         {WRITERS} writers; {} (lease TTL {LEASE_TTL_SECS} s)",
        b / a,
        failover_summary(&kills.failovers)
    );
}

fn failover_summary(failovers: &[Duration]) -> String {
    let mut f = failovers.to_vec();
    f.sort();
    match (f.get(f.len() / 2), f.last()) {
        (Some(p50), Some(max)) => format!(
            "failover (leader SIGKILL to the next acknowledged write): p50 {:.2} s, max {:.2} s over {} kills",
            p50.as_secs_f64(),
            max.as_secs_f64(),
            f.len()
        ),
        _ => "no failover measured".to_owned(),
    }
}

type RunResult = (
    Arc<Record>,
    Vec<serde_json::Value>,
    Option<f64>,
    Vec<Duration>,
);

fn run(install: &Arc<Install>, pg: &PgDatabase, vkey: &str, plan: &Plan) -> RunResult {
    let mut nodes: Vec<Node> = (0..plan.nodes).map(|i| start_node(install, i)).collect();
    let first_roots: Vec<serde_json::Value> = nodes.iter().map(|n| trust_root(&n.url)).collect();
    let record = Arc::new(Record::default());
    let token = install.env["VOUCH_INTERNAL_TOKEN"].clone();
    let mut threads = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for k in 0..plan.writers_per_node {
            let (r, url, t) = (Arc::clone(&record), node.url.clone(), token.clone());
            let w = n * plan.writers_per_node + k;
            threads.push(std::thread::spawn(move || writer(r, url, t, w)));
        }
        let (r, i, url, k) = (
            Arc::clone(&record),
            Arc::clone(install),
            node.url.clone(),
            vkey.to_owned(),
        );
        threads.push(std::thread::spawn(move || monitor(r, i, url, k, n)));
    }
    wait_for_progress(&record, 100, Duration::from_secs(60));
    let entries_per_s = plan.steady.map(|window| {
        let (a0, t0) = (record.acks.load(Ordering::Relaxed), Instant::now());
        std::thread::sleep(window);
        (record.acks.load(Ordering::Relaxed) - a0) as f64 / t0.elapsed().as_secs_f64()
    });

    let mut failovers = Vec::new();
    for round in 0..plan.kills {
        let (leader, before) = leader_index(install, pg);
        signal(&nodes[leader], "-KILL");
        let _ = nodes[leader].child.wait();
        // Acks of batches the killed leader committed may still arrive: count from a
        // few past the kill.
        let took = wait_for_progress(&record, 3, Duration::from_secs(10 * LEASE_TTL_SECS));
        let after = lease(pg).map(|(_, e)| e).unwrap_or(0);
        assert!(after > before, "round {round}: the epoch did not move on");
        eprintln!("kill {round}: node {leader} SIGKILLed, writes flowed again after {took:?}");
        failovers.push(took);
        nodes[leader] = start_node(install, leader);
        wait_for_progress(&record, 50, Duration::from_secs(30));
    }
    for round in 0..plan.pauses {
        let (leader, before) = leader_index(install, pg);
        signal(&nodes[leader], "-STOP");
        // Past its lease: another node must take over while this one sleeps.
        std::thread::sleep(Duration::from_secs(LEASE_TTL_SECS + 1));
        wait_for_progress(&record, 50, Duration::from_secs(10 * LEASE_TTL_SECS));
        let (addr, after) = lease(pg).expect("a lease");
        assert!(after > before, "pause {round}: nobody took over");
        assert_ne!(addr, format!("http://{}", install.listens[leader]));
        signal(&nodes[leader], "-CONT");
        eprintln!("pause {round}: node {leader} stopped past its lease, epoch {before} -> {after}");
        // The woken node's next commit is fenced; writes keep flowing.
        wait_for_progress(&record, 100, Duration::from_secs(30));
    }

    for round in 0..plan.backend_kills {
        // Every connection of every node to the database dies at once (a PostgreSQL
        // restart looks the same to them): the nodes reconnect with no operator action.
        let killed = terminate_backends(pg);
        assert!(
            killed > 0,
            "backend round {round}: no connection to terminate"
        );
        let took = wait_for_progress(&record, 100, Duration::from_secs(10 * LEASE_TTL_SECS));
        eprintln!("backends {round}: {killed} PostgreSQL connections terminated, 100 more writes after {took:?}");
    }

    if plan.rotate {
        rotation_reaches_every_node(install, &nodes);
    }

    record.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("writer or monitor thread");
    }
    let failures = record.monitor_failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "monitors saw the log misbehave: {failures:#?}"
    );
    drop(nodes);
    (record, first_roots, entries_per_s, failovers)
}

/// A registry-key rotation through one node is served by every node within the
/// documented bound (`[integrity] key_refresh_secs`, 5 s by default, plus a read).
fn rotation_reaches_every_node(install: &Install, nodes: &[Node]) {
    let rotated = ok(&install.vouch(&[
        "admin",
        "keys",
        "rotate",
        "--server",
        &nodes[1].url,
        "--token-file",
        &install.p("etc/admin.token"),
        "--json",
    ]));
    let kid = rotated["new_kid"]
        .as_str()
        .unwrap_or_else(|| panic!("rotation names the new kid: {rotated}"))
        .to_owned();
    for node in nodes {
        let started = Instant::now();
        loop {
            let jwks = http()
                .get(format!("{}/.well-known/registry-key.json", node.url))
                .send()
                .unwrap()
                .text()
                .unwrap();
            if jwks.contains(&kid) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{} never served the rotated key {kid}",
                node.url
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
