//! Operations endpoints: `GET /healthz` (the process answers), `GET /readyz` (the sequencers commit and the database answers), `GET /metrics` (Prometheus text), and the middleware that counts and times every request by its route template.
//!
//! Metrics live in one [`prometheus::Registry`] per server (no global recorder), so
//! several servers in one test process never mix their series. Labels are bounded:
//! routes are axum's matched templates (`/blobs/{file}`), never raw paths, and codes
//! are the stable error codes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    exponential_buckets, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use serde_json::{json, Value};
use vouch_log::{BatchObserver, BatchReport, Health};

use crate::AppState;

/// A batch in flight longer than this, or a failed last batch, makes the server unready.
pub const SEQUENCER_STALL: Duration = Duration::from_secs(10);

/// How long `/readyz` waits for the database before calling it unreachable.
const DB_PING_TIMEOUT: Duration = Duration::from_secs(3);

/// The route of a publish, whose outcomes are counted by code.
const PUBLISH_ROUTE: &str = "/api/v1/publish";

/// The stable error code of an error response, put in the response's extensions by
/// [`crate::ApiError`] so the middleware can count outcomes without parsing bodies.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// The server's metric families.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    publishes: IntCounterVec,
    pool: IntGaugeVec,
    log_pooled: IntGaugeVec,
    /// One batch observer per log name: a node that leads again (several nodes) observes
    /// its new log with the same series instead of registering them twice.
    observers: std::sync::Mutex<std::collections::HashMap<&'static str, Arc<BatchMetrics>>>,
}

impl Metrics {
    /// Registers every family; the names are documented in the README.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "vouch_http_requests_total",
                "HTTP requests answered, by route template, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("static metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "vouch_http_request_duration_seconds",
                "Time to answer an HTTP request (until the response head), by route template and method.",
            ),
            &["route", "method"],
        )
        .expect("static metric definition");
        let publishes = IntCounterVec::new(
            Opts::new(
                "vouch_publishes_total",
                "Publish attempts by outcome: `ok` or the stable error code.",
            ),
            &["outcome"],
        )
        .expect("static metric definition");
        let pool = IntGaugeVec::new(
            Opts::new(
                "vouch_db_pool_connections",
                "Metadata database pool: connections by state (`in_use`, `idle`) and the `max`.",
            ),
            &["state"],
        )
        .expect("static metric definition");
        let log_pooled = IntGaugeVec::new(
            Opts::new(
                "vouch_log_pool_entries",
                "Entries waiting for the next sequencer batch, by log.",
            ),
            &["log"],
        )
        .expect("static metric definition");
        // The definitions above are constants with distinct names, so registering them
        // cannot fail; `expect` documents that invariant.
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(publishes.clone()),
            Box::new(pool.clone()),
            Box::new(log_pooled.clone()),
        ] {
            registry.register(c).expect("distinct metric names");
        }
        Metrics {
            registry,
            requests,
            latency,
            publishes,
            pool,
            log_pooled,
            observers: std::sync::Mutex::default(),
        }
    }

    /// A batch observer for the log named `log` (`main` or `ct`), reporting into this
    /// registry.
    pub fn batch_observer(&self, log: &'static str) -> Arc<dyn BatchObserver> {
        // Lookups and one insert: a panic cannot leave the map torn.
        let mut observers = self.observers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = observers.get(log) {
            return Arc::clone(o) as Arc<dyn BatchObserver>;
        }
        let entries = Histogram::with_opts(
            HistogramOpts::new(
                "vouch_log_batch_entries",
                "Entries per sequencer batch (one commit).",
            )
            .const_label("log", log)
            .buckets(exponential_buckets(1.0, 4.0, 9).expect("static buckets")),
        )
        .expect("static metric definition");
        let seconds = Histogram::with_opts(
            HistogramOpts::new(
                "vouch_log_batch_duration_seconds",
                "Time to commit one sequencer batch: tiles, checkpoint swap, publication.",
            )
            .const_label("log", log)
            .buckets(exponential_buckets(0.001, 2.0, 14).expect("static buckets")),
        )
        .expect("static metric definition");
        let outcomes = IntCounterVec::new(
            Opts::new(
                "vouch_log_batches_total",
                "Sequencer batches by outcome (`committed`, `failed`).",
            )
            .const_label("log", log),
            &["outcome"],
        )
        .expect("static metric definition");
        // Same name with a different const label is one family to Prometheus; the
        // registry accepts it as long as the label values differ.
        for c in [
            Box::new(entries.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(seconds.clone()),
            Box::new(outcomes.clone()),
        ] {
            if let Err(e) = self.registry.register(c) {
                tracing::warn!(error = %e, log, "sequencer metrics not registered");
            }
        }
        let o = Arc::new(BatchMetrics {
            entries,
            seconds,
            outcomes,
        });
        observers.insert(log, Arc::clone(&o));
        o
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
struct BatchMetrics {
    entries: Histogram,
    seconds: Histogram,
    outcomes: IntCounterVec,
}

impl BatchObserver for BatchMetrics {
    fn batch(&self, r: BatchReport) {
        self.entries.observe(r.entries as f64);
        self.seconds.observe(r.elapsed.as_secs_f64());
        let outcome = if r.committed { "committed" } else { "failed" };
        self.outcomes.with_label_values(&[outcome]).inc();
    }
}

/// Counts and times every request under its matched route template.
pub async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    let m = &state.metrics;
    let method = method_label(&method);
    m.latency
        .with_label_values(&[&route, method])
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .with_label_values(&[&route, method, resp.status().as_str()])
        .inc();
    if route == PUBLISH_ROUTE && method == "POST" {
        let outcome = match resp.extensions().get::<ErrorCode>() {
            Some(ErrorCode(code)) => code,
            None if resp.status().is_success() => "ok",
            None => "unknown",
        };
        m.publishes.with_label_values(&[outcome]).inc();
    }
    resp
}

/// Methods outside the standard set share one label value (bounded cardinality).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /healthz`: the process is up and answering. Says nothing about storage.
pub async fn healthz() -> Response {
    no_store((StatusCode::OK, axum::Json(json!({"status": "alive"}))).into_response())
}

fn sequencer_facts(h: &Health) -> Value {
    json!({
        "running": h.running,
        "committing": h.committing(SEQUENCER_STALL),
        "pooled_entries": h.pooled,
        "since_commit_ms": h.since_commit.as_millis() as u64,
        "batch_in_flight_ms": h.in_flight.map(|d| d.as_millis() as u64),
        // The cause stays in the server log (it may name paths): clients get the fact.
        "last_batch_failed": h.last_failure.is_some(),
    })
}

/// `GET /readyz`: on the leader, 200 when both sequencers (main log and CT log) are
/// running and committing and the metadata database answers; on a follower, when the
/// database answers, a leader is known and the committed checkpoint can be read from
/// the lock database. Otherwise 503 with code `OPS_E001` and `failing` naming each fact
/// that does not hold. Facts are reported either way, with `role` and `leader`.
#[allow(
    clippy::indexing_slicing,
    reason = "IndexMut on a json! object literal built in this function never panics"
)]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let mut failing = Vec::new();
    let mut facts = |name: &'static str, log: &crate::cluster::LogWriter| match log.health() {
        Some(h) => {
            if !h.running {
                failing.push(if name == "main" {
                    "sequencer.running"
                } else {
                    "ct_sequencer.running"
                });
            } else if !h.committing(SEQUENCER_STALL) {
                failing.push(if name == "main" {
                    "sequencer.committing"
                } else {
                    "ct_sequencer.committing"
                });
            }
            sequencer_facts(&h)
        }
        None => {
            if log.leader_address().is_none() {
                failing.push(if name == "main" {
                    "leader.known"
                } else {
                    "ct_leader.known"
                });
            }
            Value::Null
        }
    };
    let main_facts = facts("main", &state.log);
    let ct_facts = facts("ct", &state.sigstore.ct_log);
    let committed = state.log.committed().await;
    if committed.is_err() && !state.log.is_leader() {
        failing.push("checkpoint.known");
    }
    let start = Instant::now();
    let db = match tokio::time::timeout(DB_PING_TIMEOUT, state.meta.ping()).await {
        Ok(Ok(())) => json!({"reachable": true, "latency_ms": start.elapsed().as_millis() as u64}),
        Ok(Err(e)) => {
            failing.push("database.reachable");
            json!({"reachable": false, "error": format!("{}: {e}", e.code())})
        }
        Err(_) => {
            failing.push("database.reachable");
            json!({"reachable": false, "error": format!("no answer within {} s", DB_PING_TIMEOUT.as_secs())})
        }
    };
    let ready = failing.is_empty();
    let mut body = json!({
        "ready": ready,
        "role": if state.log.is_leader() { "leader" } else { "follower" },
        "leader": state.log.leader_address(),
        "sequencer": main_facts,
        "ct_sequencer": ct_facts,
        "database": db,
        "checkpoint_size": committed.ok().map(|p| p.size),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        body["code"] = json!("OPS_E001");
        body["failing"] = json!(failing);
        StatusCode::SERVICE_UNAVAILABLE
    };
    no_store((status, axum::Json(body)).into_response())
}

/// `GET /metrics`: every family in the Prometheus text exposition format 0.0.4.
/// Gauges that describe "now" (pool occupancy, pooled entries) are read at scrape time.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let m = &state.metrics;
    let p = state.meta.pool_stats();
    m.pool
        .with_label_values(&["in_use"])
        .set(i64::from(p.open.saturating_sub(p.idle)));
    m.pool.with_label_values(&["idle"]).set(i64::from(p.idle));
    m.pool.with_label_values(&["max"]).set(i64::from(p.max));
    set_pooled(m, "main", &state.log);
    set_pooled(m, "ct", &state.sigstore.ct_log);
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut buf) {
        return crate::ApiError::internal(&e).into_response();
    }
    let mut resp = (StatusCode::OK, buf).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    no_store(resp)
}

fn set_pooled(m: &Metrics, name: &str, log: &crate::cluster::LogWriter) {
    m.log_pooled
        .with_label_values(&[name])
        .set(log.pooled() as i64);
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
