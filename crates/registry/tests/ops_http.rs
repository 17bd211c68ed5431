//! Operations endpoints through the router: `/healthz`, `/readyz` (200 with its facts; 503 `OPS_E001` naming the failing fact when the sequencer is stopped or the PostgreSQL database is dropped) and `/metrics`, parsed with a Prometheus text-format parser after some traffic.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod harness;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use vouch_registry::{App, Secrets, ServeConfig};

async fn app(dir: &std::path::Path, database_url: Option<String>) -> App {
    let cfg = ServeConfig::dev(dir);
    let mut secrets = Secrets::dev(dir, &cfg).unwrap();
    secrets.database_url = database_url;
    harness::open(dir, &cfg, secrets).await
}

async fn call(app: &App, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let r = harness::call(app, req).await;
    (r.status, r.headers, r.body)
}

async fn get(app: &App, path: &str) -> (StatusCode, Vec<u8>) {
    let (s, _, b) = call(app, Request::get(path).body(Body::empty()).unwrap()).await;
    (s, b)
}

async fn readyz(app: &App) -> (StatusCode, serde_json::Value) {
    let (s, b) = get(app, "/readyz").await;
    (s, serde_json::from_slice(&b).unwrap())
}

async fn add(app: &App, dir: &std::path::Path, body: &str) -> StatusCode {
    let token = std::fs::read_to_string(dir.join("internal.token")).unwrap();
    let req = Request::post("/log/internal/add-entry")
        .header("authorization", format!("Bearer {}", token.trim()))
        .body(Body::from(body.to_owned()))
        .unwrap();
    call(app, req).await.0
}

/// Every sample of a Prometheus text exposition, parsed by the reference parser
/// (`prometheus_client.parser` from PyPI, in the test venv of `scripts/py-venv.sh`).
struct Scrape(Vec<(String, serde_json::Map<String, serde_json::Value>, f64)>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let venv = std::process::Command::new("bash")
            .arg(root.join("scripts/py-venv.sh"))
            .status()
            .expect("run scripts/py-venv.sh");
        assert!(venv.success(), "scripts/py-venv.sh failed");
        let mut child = std::process::Command::new(root.join("target/py-venv/bin/python"))
            .args([
                "-c",
                "import json, sys\n\
                 from prometheus_client.parser import text_string_to_metric_families as parse\n\
                 out = [[s.name, s.labels, s.value] for f in parse(sys.stdin.read()) for s in f.samples]\n\
                 print(json.dumps(out))",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the venv's python");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the Prometheus parser refused /metrics: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Vec<(String, serde_json::Map<String, serde_json::Value>, f64)> =
            serde_json::from_slice(&out.stdout).unwrap();
        Scrape(v)
    }
}

/// The value of the one sample named `name` whose labels include every `labels` pair.
fn sample(m: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<_> =
        m.0.iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).and_then(|x| x.as_str()) == Some(*v))
            })
            .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].2
}

#[tokio::test]
async fn healthz_readyz_and_metrics_after_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None).await;

    let (s, b) = get(&app, "/healthz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&b).unwrap()["status"],
        "alive"
    );

    let (s, facts) = readyz(&app).await;
    assert_eq!(s, StatusCode::OK, "{facts}");
    assert_eq!(facts["ready"], true);
    assert_eq!(facts["sequencer"]["running"], true);
    assert_eq!(facts["sequencer"]["committing"], true);
    assert_eq!(facts["database"]["reachable"], true);

    // Traffic: three entries, two blob misses under different raw paths, a bad publish.
    for i in 0..3 {
        assert_eq!(
            add(&app, dir.path(), &format!("entry {i}")).await,
            StatusCode::OK
        );
    }
    for b in ["/blobs/aaaa", "/blobs/bbbb"] {
        assert_eq!(get(&app, b).await.0, StatusCode::NOT_FOUND);
    }
    let (s, _, body) = call(
        &app,
        Request::post("/api/v1/publish")
            .header("content-type", "text/plain")
            .body(Body::from("not multipart"))
            .unwrap(),
    )
    .await;
    let code = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(s.is_client_error(), "{s} {code}");
    assert_eq!(get(&app, "/no/such/route").await.0, StatusCode::NOT_FOUND);

    let (s, headers, body) =
        call(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(body).unwrap();
    let m = Scrape::parse(&text);

    // Per-route counts under the route template, never the raw path.
    let blobs = [
        ("route", "/blobs/{file}"),
        ("method", "GET"),
        ("status", "404"),
    ];
    assert_eq!(sample(&m, "vouch_http_requests_total", &blobs), 2.0);
    assert!(
        !text.contains("aaaa") && !text.contains("/no/such/route"),
        "{text}"
    );
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(sample(&m, "vouch_http_requests_total", &unmatched), 1.0);
    let adds = [("route", "/log/internal/add-entry"), ("status", "200")];
    assert_eq!(sample(&m, "vouch_http_requests_total", &adds), 3.0);
    // Latency histogram: the +Inf bucket and the count hold every request of the route.
    let lat = [("route", "/log/internal/add-entry"), ("method", "POST")];
    assert_eq!(
        sample(&m, "vouch_http_request_duration_seconds_count", &lat),
        3.0
    );
    let inf = [
        ("route", "/log/internal/add-entry"),
        ("method", "POST"),
        ("le", "+Inf"),
    ];
    assert_eq!(
        sample(&m, "vouch_http_request_duration_seconds_bucket", &inf),
        3.0
    );
    assert!(sample(&m, "vouch_http_request_duration_seconds_sum", &lat) > 0.0);

    // Sequencer: three entries committed, in one to three batches.
    let main = [("log", "main")];
    let batches = sample(
        &m,
        "vouch_log_batches_total",
        &[("log", "main"), ("outcome", "committed")],
    );
    assert!((1.0..=3.0).contains(&batches), "{batches}");
    assert_eq!(sample(&m, "vouch_log_batch_entries_sum", &main), 3.0);
    assert_eq!(sample(&m, "vouch_log_batch_entries_count", &main), batches);
    assert_eq!(
        sample(&m, "vouch_log_batch_duration_seconds_count", &main),
        batches
    );

    // Pool occupancy: the metadata pool's maximum, and a plausible idle count.
    assert_eq!(
        sample(&m, "vouch_db_pool_connections", &[("state", "max")]),
        8.0
    );
    let idle = sample(&m, "vouch_db_pool_connections", &[("state", "idle")]);
    assert!((0.0..=8.0).contains(&idle), "{idle}");

    // Publishes by outcome code.
    assert_eq!(
        sample(&m, "vouch_publishes_total", &[("outcome", &code)]),
        1.0
    );

    // The sequencer stopped (as after a fatal error): not ready, and says which fact.
    app.state.log.local().unwrap().abort();
    let (s, facts) = readyz(&app).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{facts}");
    assert_eq!(facts["code"], "OPS_E001");
    assert_eq!(facts["failing"], serde_json::json!(["sequencer.running"]));
    assert_eq!(facts["sequencer"]["running"], false);
    assert_eq!(facts["database"]["reachable"], true);
    // Liveness is not readiness: the process still answers.
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = vouch_testkit::pg::PgDatabase::create();
    let app = app(dir.path(), Some(db.url())).await;
    let (s, facts) = readyz(&app).await;
    assert_eq!(s, StatusCode::OK, "{facts}");

    // The database disappears under the running server (its connections are killed).
    drop(db);
    let (s, facts) = readyz(&app).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{facts}");
    assert_eq!(facts["code"], "OPS_E001");
    assert_eq!(facts["failing"], serde_json::json!(["database.reachable"]));
    assert_eq!(facts["database"]["reachable"], false);
    assert!(
        facts["database"]["error"]
            .as_str()
            .unwrap()
            .starts_with("META_E"),
        "{facts}"
    );
}
