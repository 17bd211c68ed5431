//! Issue 13's connection-level attacks, performed against a real listener on loopback with small limits: idle and half-sent connections are closed, connections over the caps get a coded 503 at once, and a body that trickles is answered 408.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vouch_registry::config::{LockConfig, ObjectsConfig};
use vouch_registry::{App, Runtime, Secrets, ServeConfig};

const PER_CLIENT: usize = 4;
const HEADER_TIMEOUT: u64 = 1;

struct Server {
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
    _app: App,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = ServeConfig::dev(dir.path());
    cfg.storage.objects = ObjectsConfig::Memory;
    cfg.storage.lock = LockConfig::Sqlite {
        path: dir.path().join("lock.db"),
    };
    cfg.limits.header_read_timeout_secs = HEADER_TIMEOUT;
    cfg.limits.body_timeout_secs = 1;
    cfg.limits.max_connections = 3 * PER_CLIENT;
    cfg.limits.max_connections_per_ip = PER_CLIENT;
    let secrets = Secrets::dev(dir.path(), &cfg).unwrap();
    let app = vouch_registry::open(
        &cfg,
        secrets,
        Runtime::dev(dir.path(), &format!("http://{addr}")),
        Arc::new(vouch_log::SystemClock),
    )
    .await
    .unwrap();
    let served = app.clone();
    tokio::spawn(async move {
        let _ = vouch_registry::serve(listener, served, std::future::pending()).await;
    });
    Server {
        addr,
        _dir: dir,
        _app: app,
    }
}

/// Reads until the server closes the connection (or `limit` passes); returns what came.
async fn read_to_close(s: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(limit, s.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

async fn get_checkpoint(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /log/checkpoint HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    read_to_close(&mut s, Duration::from_secs(5)).await.unwrap()
}

/// 300 idle sockets took a server offline. Now a client holds at most its share of
/// connections, the rest are answered 503 `SERVE_E009` at once, and the idle ones are
/// closed after the header-read timeout, after which the server answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_and_capped() {
    let server = start().await;
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..PER_CLIENT - 1 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Half-sent headers count as idle too.
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /log/checkpoint HTTP/1.1\r\nhost:")
        .await
        .unwrap();
    idle.push(half);
    // Over the per-client cap: refused at once, with a code, not left hanging.
    let mut extra = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let answer = read_to_close(&mut s, Duration::from_millis(500))
            .await
            .expect("a refused connection is answered and closed at once");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("\"code\":\"SERVE_E009\""), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("retry-after: 1"));
        extra.push(s);
    }
    // The idle ones are closed by the server within the header-read timeout.
    for s in &mut idle {
        let rest = read_to_close(s, Duration::from_secs(HEADER_TIMEOUT + 3)).await;
        assert!(rest.is_some(), "an idle connection was left open");
    }
    assert!(started.elapsed() < Duration::from_secs(HEADER_TIMEOUT + 4));
    // And the server answers again.
    let answer = get_checkpoint(server.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A kept-alive connection that goes quiet after a response is closed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let server = start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /log/checkpoint HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(std::str::from_utf8(&buf[..n])
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let t = Instant::now();
    let rest = read_to_close(&mut s, Duration::from_secs(HEADER_TIMEOUT + 3)).await;
    assert!(
        rest.is_some(),
        "the idle keep-alive connection was left open"
    );
    assert!(t.elapsed() >= Duration::from_millis(HEADER_TIMEOUT * 1000 - 200));
}

/// A body that trickles is answered 408 `SERVE_E008` once the body timeout passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_answered_408() {
    let server = start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /api/v2/log/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    let t = Instant::now();
    let writer = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.write_all(b" ").await.is_err() {
                break;
            }
        }
        s
    });
    let mut s = writer.await.unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(3)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"SERVE_E008\""), "{answer}");
    assert!(t.elapsed() < Duration::from_secs(4));
}
