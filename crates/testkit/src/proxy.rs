//! A faulty HTTP/1 proxy on loopback: forwards every request to one upstream
//! (`127.0.0.1:PORT`, e.g. a [`crate::seaweed::SeaweedFs`]) unchanged, `Host` header
//! included so SigV4 signatures still verify, except the next N requests, which get a
//! [`Fault`] instead.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What the proxy does to a request instead of (or besides) forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status without forwarding: the upstream never sees the request.
    Status(u16),
    /// Forward the request, wait for the upstream's answer, then answer this status
    /// instead: the request took effect and the client is told it failed.
    StatusAfterForward(u16),
    /// Read the request and never answer (until the client gives up).
    Stall,
}

type Body = BoxBody<Bytes, hyper::Error>;

#[derive(Debug, Default)]
struct Plan {
    /// What happens to the next requests, in order (`None`: forwarded).
    next: Mutex<VecDeque<Option<Fault>>>,
    /// Applied to every request once `next` is empty, until cleared.
    always: Mutex<Option<Fault>>,
    requests: AtomicU64,
    faulted: AtomicU64,
}

impl Plan {
    fn take(&self) -> Option<Fault> {
        let queued = self
            .next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        match queued {
            Some(planned) => planned,
            None => *self.always.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

/// A running proxy (queued faults first, then the permanent one, if any); dropped, it stops accepting (requests in flight are abandoned).
#[derive(Debug)]
pub struct FaultyProxy {
    addr: SocketAddr,
    plan: Arc<Plan>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultyProxy {
    /// Starts a proxy on a free loopback port in front of `127.0.0.1:upstream_port`.
    /// Must be called inside a Tokio runtime, which runs it.
    pub async fn start(upstream_port: u16) -> std::io::Result<FaultyProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let plan = Arc::new(Plan::default());
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&plan),
            client,
            upstream_port,
        ));
        Ok(FaultyProxy { addr, plan, task })
    }

    /// `http://127.0.0.1:PORT`, the endpoint to give the client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `n` requests get `fault` (after any already queued).
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.script(std::iter::repeat_n(Some(fault), n));
    }

    /// The next requests, in order, get these faults (`None`: forwarded as usual),
    /// after any already queued.
    pub fn script(&self, plan: impl IntoIterator<Item = Option<Fault>>) {
        let mut next = self.plan.next.lock().unwrap_or_else(|p| p.into_inner());
        next.extend(plan);
    }

    /// Every request gets `fault` until [`FaultyProxy::heal`].
    pub fn fail_all(&self, fault: Fault) {
        *self.plan.always.lock().unwrap_or_else(|p| p.into_inner()) = Some(fault);
    }

    /// Forward everything again: clears queued and permanent faults.
    pub fn heal(&self) {
        self.plan
            .next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.plan.always.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.plan.requests.load(Ordering::SeqCst)
    }

    /// Requests that got a fault so far.
    pub fn faulted(&self) -> u64 {
        self.plan.faulted.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    plan: Arc<Plan>,
    client: Client<HttpConnector, Incoming>,
    upstream_port: u16,
) {
    // Connections are tracked so that stopping the proxy also stops them.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let plan = Arc::clone(&plan);
        let client = client.clone();
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                handle(req, Arc::clone(&plan), client.clone(), upstream_port)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

fn status(code: u16) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>",
        ))
        .map_err(|never: Infallible| match never {})
        .boxed(),
    );
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

async fn handle(
    req: Request<Incoming>,
    plan: Arc<Plan>,
    client: Client<HttpConnector, Incoming>,
    upstream_port: u16,
) -> Result<Response<Body>, Infallible> {
    plan.requests.fetch_add(1, Ordering::SeqCst);
    let fault = plan.take();
    if fault.is_some() {
        plan.faulted.fetch_add(1, Ordering::SeqCst);
    }
    match fault {
        Some(Fault::Status(code)) => return Ok(status(code)),
        Some(Fault::Stall) => {
            // Hold the request well past any client timeout; the client hangs up first.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(status(504));
        }
        Some(Fault::StatusAfterForward(_)) | None => {}
    }
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    parts.uri = match format!("http://127.0.0.1:{upstream_port}{path}").parse() {
        Ok(u) => u,
        Err(_) => return Ok(status(400)),
    };
    let upstream = client.request(Request::from_parts(parts, body)).await;
    match (upstream, fault) {
        (Ok(resp), Some(Fault::StatusAfterForward(code))) => {
            // Let the upstream finish the request before lying about it.
            let _ = resp.into_body().collect().await;
            Ok(status(code))
        }
        (Ok(resp), _) => Ok(resp.map(|b| b.boxed())),
        (Err(_), _) => Ok(status(502)),
    }
}
