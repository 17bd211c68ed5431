//! Shared by the registry's HTTP tests: a dev `App` in a temporary directory (in-memory objects, a SQLite lock file), one request through its router with the answer collected, and the check of a Rekor v2 answer's inclusion proof.
#![allow(dead_code, reason = "each test binary uses part of this")]

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vouch_log::ManualClock;
use vouch_registry::config::{LockConfig, ObjectsConfig};
use vouch_registry::{App, Secrets, ServeConfig};
use vouch_tlog::{leaf_hash, open_checkpoint, verify_inclusion, Hash};

/// A dev app over `dir` with in-memory objects and its lock in `dir/lock.db`.
pub async fn app(dir: &Path) -> App {
    app_with(dir, |_| {}).await
}

/// [`app`] with the config changed by `tweak` first.
pub async fn app_with(dir: &Path, tweak: impl FnOnce(&mut ServeConfig)) -> App {
    node(dir, "lock.db", tweak).await
}

/// A node of a dev install in `dir`: in-memory objects, the lock database `lock` in
/// `dir` (another name than [`app`]'s makes another node with its own sequencer
/// claim, sharing the data directory and metadata database).
pub async fn node(dir: &Path, lock: &str, tweak: impl FnOnce(&mut ServeConfig)) -> App {
    let mut cfg = ServeConfig::dev(dir);
    cfg.storage.objects = ObjectsConfig::Memory;
    cfg.storage.lock = LockConfig::Sqlite {
        path: dir.join(lock),
    };
    tweak(&mut cfg);
    let secrets = Secrets::dev(dir, &cfg).unwrap();
    open(dir, &cfg, secrets).await
}

/// Opens `cfg` with `secrets` as a dev runtime on a manual clock at 2023-11-14.
pub async fn open(dir: &Path, cfg: &ServeConfig, secrets: Secrets) -> App {
    vouch_registry::open(
        cfg,
        secrets,
        vouch_registry::Runtime::dev(dir, "http://127.0.0.1:0"),
        Arc::new(ManualClock::new(1_700_000_000)),
    )
    .await
    .unwrap()
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The error envelope's `code`, or "".
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_owned()
    }
}

/// `req` through the app's router.
pub async fn call(app: &App, req: Request<Body>) -> Resp {
    let r = app.router.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// `GET path`.
pub async fn get(app: &App, path: &str) -> Resp {
    call(app, Request::get(path).body(Body::empty()).unwrap()).await
}

/// A Rekor v2 answer whose inclusion proof verified.
pub struct LoggedEntry {
    pub index: u64,
    pub size: u64,
    /// The signed checkpoint note the proof is against.
    pub note: String,
    /// The canonicalized body (the log leaf).
    pub body: Vec<u8>,
}

/// Checks a Rekor v2 answer `v` against the log's key (taken from `app`, a node that
/// holds it): its checkpoint is signed by the log and names the proof's size and root,
/// and the inclusion proof of its canonicalized body verifies against that root.
pub fn verify_logged(app: &App, v: &Value) -> LoggedEntry {
    let verifier = app.state.log.verifier();
    let index: u64 = v["logIndex"].as_str().unwrap().parse().unwrap();
    let proof = &v["inclusionProof"];
    let size: u64 = proof["treeSize"].as_str().unwrap().parse().unwrap();
    let root = Hash::from_base64(proof["rootHash"].as_str().unwrap()).unwrap();
    let note = proof["checkpoint"]["envelope"].as_str().unwrap();
    let cp = open_checkpoint(note.as_bytes(), app.state.log.origin(), &[verifier])
        .unwrap()
        .checkpoint;
    assert_eq!((cp.size, cp.root), (size, root));
    let body = B64
        .decode(v["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    verify_inclusion(index, size, &leaf_hash(&body), &hashes, &root).unwrap();
    LoggedEntry {
        index,
        size,
        note: note.to_owned(),
        body,
    }
}
