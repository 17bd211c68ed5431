//! The accept loop of `vouch serve`: caps on open connections (in all and per client address), a header-read timeout that also closes idle keep-alive connections, bounded TLS handshakes, and a 503 instead of a hang when full.
//!
//! axum's own `serve` accepts without limit and never times out a silent client: 300
//! idle sockets against a 256-descriptor limit took a server offline (issue 13). Here a
//! connection is admitted only while both caps have room; past them a plain-HTTP client
//! gets a small `503 SERVE_E009` with `Retry-After` and the socket is closed at once (a
//! TLS client is closed without a handshake: answering would cost one). Each admitted
//! connection is served by hyper's HTTP/1.1 with `header_read_timeout`, which runs from
//! the moment hyper waits for a request head, so it also ends idle keep-alive.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::limits::LimitsSection;

/// Refusals being written at once; past this a refused socket is just closed.
const MAX_REFUSALS: usize = 64;
/// Time a refused client gets to take its 503.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);
/// How long shutdown waits for open connections to finish their requests.
const DRAIN: Duration = Duration::from_secs(10);

/// The answer to a connection over the caps.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 86\r\n\r\n\
{\"status\":503,\"code\":\"SERVE_E009\",\"detail\":\"too many open connections: retry shortly\"}";

/// The client key for the per-address cap: an IPv4 address, or an IPv6 /64 (one host
/// usually holds a whole /64).
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Open connections, in all and per client.
#[derive(Debug)]
pub struct ConnCaps {
    global: Arc<Semaphore>,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    max_per_client: usize,
}

/// An admitted connection's place under both caps, released on drop.
#[derive(Debug)]
pub struct Admitted {
    caps: Arc<ConnCaps>,
    client: IpAddr,
    _global: OwnedSemaphorePermit,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut map = self.caps.map();
        if let Some(n) = map.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.client);
            }
        }
    }
}

impl ConnCaps {
    pub fn new(max: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(ConnCaps {
            global: Arc::new(Semaphore::new(max.max(1))),
            per_client: Mutex::new(HashMap::new()),
            max_per_client: max_per_client.max(1),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Increments and decrements only: a panic cannot leave it torn.
        self.per_client.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a connection from `peer`, or `None` when either cap is reached.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Admitted> {
        let global = Arc::clone(&self.global).try_acquire_owned().ok()?;
        let client = client_key(peer);
        let mut map = self.map();
        let n = map.entry(client).or_insert(0);
        if *n >= self.max_per_client {
            return None;
        }
        *n += 1;
        Some(Admitted {
            caps: Arc::clone(self),
            client,
            _global: global,
        })
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) under `limits` until
/// `shutdown` resolves; then stops accepting and lets open connections finish their
/// requests for up to 10 s.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    router: Router,
    limits: &LimitsSection,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let caps = ConnCaps::new(limits.max_connections, limits.max_connections_per_ip);
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let handshakes = Arc::new(Semaphore::new(limits.max_tls_handshakes.max(1)));
    let acceptor = tls.map(TlsAcceptor::from);
    let (stop_tx, stop_rx) = watch::channel(false);
    let header_timeout = limits.header_read_timeout();
    let handshake_timeout = limits.tls_handshake_timeout();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(admitted) = caps.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: over the connection caps");
            if acceptor.is_none() {
                if let Ok(p) = Arc::clone(&refusals).try_acquire_owned() {
                    tokio::spawn(refuse(stream, p));
                }
            }
            continue;
        };
        let router = router.clone();
        let stop = stop_rx.clone();
        match &acceptor {
            None => {
                tokio::spawn(async move {
                    serve_one(TokioIo::new(stream), peer, router, header_timeout, stop).await;
                    drop(admitted);
                });
            }
            Some(acceptor) => {
                let (acceptor, handshakes) = (acceptor.clone(), Arc::clone(&handshakes));
                tokio::spawn(async move {
                    // The limit covers waiting for a handshake slot too.
                    let tls = tokio::time::timeout(handshake_timeout, async {
                        let _slot = handshakes.acquire().await.ok()?;
                        acceptor.accept(stream).await.ok()
                    })
                    .await;
                    match tls {
                        Ok(Some(tls)) => {
                            serve_one(TokioIo::new(tls), peer, router, header_timeout, stop).await
                        }
                        Ok(None) => tracing::debug!(%peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                    drop(admitted);
                });
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a global permit: all are back once every one has ended.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN, caps.global.acquire_many(all)).await;
    Ok(())
}

async fn refuse(mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await
    })
    .await;
}

/// One HTTP/1.1 connection, ending early (after the request in flight) on shutdown.
async fn serve_one<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = WithPeer { router, peer };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        }
        _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The router, with the peer address in each request's extensions as axum's
/// `ConnectInfo<SocketAddr>`.
#[derive(Clone)]
struct WithPeer {
    router: Router,
    peer: SocketAddr,
}

impl hyper::service::Service<hyper::Request<Incoming>> for WithPeer {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let mut router = self.router.clone();
        Box::pin(async move { tower_service::Service::call(&mut router, req).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_well_formed() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), len);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], "SERVE_E009");
    }

    #[test]
    fn caps_count_per_client_and_in_all() {
        let caps = ConnCaps::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b2: IpAddr = "2001:db8::2".parse().unwrap();
        let a1 = caps.admit(a).unwrap();
        let _a2 = caps.admit(a).unwrap();
        assert!(caps.admit(a).is_none(), "per-client cap");
        let _b1 = caps.admit(b).unwrap();
        assert!(caps.admit(b2).is_none(), "global cap");
        drop(a1);
        // The same /64 counts as one client.
        let _b2 = caps.admit(b2).unwrap();
        assert!(caps.admit(b).is_none());
    }
}
