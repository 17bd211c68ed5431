//! A fake forge for the integration tests: a raw HTTP/1.1 server on 127.0.0.1:0 whose
//! routes answer whatever a test scripts, including lies a real server library would not
//! let us tell (a Content-Length that differs from the body, bytes past the listed size).
//! It records every request so tests can assert what was (not) fetched and which
//! headers were sent.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;
use vouch_ingest::{Fetcher, ForgeConfig, ForgeKind, StaticResolver};

/// How the body is framed on the wire.
#[derive(Clone, Debug)]
pub enum Framing {
    /// `Content-Length` equal to the body.
    Length,
    /// `Transfer-Encoding: chunked` (no length announced).
    Chunked,
    /// `Content-Length: n` whatever the body is (then the connection closes).
    Declared(u64),
}

#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub framing: Framing,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status: 200,
            headers: vec![],
            body: body.into(),
            framing: Framing::Length,
        }
    }
    pub fn json(value: &serde_json::Value) -> Self {
        let mut r = Self::ok(serde_json::to_vec(value).unwrap());
        r.headers
            .push(("Content-Type".into(), "application/json".into()));
        r
    }
    pub fn chunked(mut self) -> Self {
        self.framing = Framing::Chunked;
        self
    }
    pub fn declared(mut self, n: u64) -> Self {
        self.framing = Framing::Declared(n);
        self
    }
    pub fn status(code: u16) -> Self {
        Reply {
            status: code,
            headers: vec![],
            body: vec![],
            framing: Framing::Length,
        }
    }
    pub fn redirect(location: &str) -> Self {
        let mut r = Self::status(302);
        r.headers.push(("Location".into(), location.into()));
        r
    }
}

#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub query: String,
    /// Lowercased header names.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = Arc<dyn Fn(&Request, usize) -> Reply + Send + Sync>;

#[derive(Default)]
struct State {
    routes: HashMap<String, Handler>,
    hits: HashMap<String, usize>,
    log: Vec<Request>,
}

#[derive(Clone)]
pub struct FakeForge {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeForge {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, st).await;
                });
            }
        });
        FakeForge { addr, state }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).unwrap()
    }

    /// `http://HOST:PORT` with a name (resolved by a test's static resolver).
    pub fn named(&self, host: &str) -> Url {
        Url::parse(&format!("http://{host}:{}", self.addr.port())).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `reply` at `path` (query ignored).
    pub fn route(&self, path: &str, reply: Reply) {
        self.route_fn(path, move |_, _| reply.clone());
    }

    /// Serves `f(request, hit number from 0)` at `path`.
    pub fn route_fn(
        &self,
        path: &str,
        f: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_owned(), Arc::new(f));
    }

    pub fn hits(&self, path: &str) -> usize {
        *self.state.lock().unwrap().hits.get(path).unwrap_or(&0)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().log.clone()
    }

    /// A fetcher for this forge with the address guard off (loopback test server).
    pub fn fetcher(&self, kind: ForgeKind) -> Fetcher {
        Fetcher::with_resolver(self.config(kind), Arc::new(StaticResolver::new())).unwrap()
    }

    pub fn config(&self, kind: ForgeKind) -> ForgeConfig {
        let mut c = ForgeConfig::new(kind, self.base()).unwrap();
        c.allow_private_for_tests = true;
        c.allow_http = true;
        c
    }
}

async fn serve(mut sock: tokio::net::TcpStream, st: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut tmp).await?;
        if n == 0 || buf.len() > 64 << 10 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_owned();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target.clone(), String::new()),
    };
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let req = Request {
        path: path.clone(),
        query,
        headers,
    };
    let (handler, hit) = {
        let mut s = st.lock().unwrap();
        s.log.push(req.clone());
        let hit = {
            let h = s.hits.entry(path.clone()).or_insert(0);
            *h += 1;
            *h - 1
        };
        (s.routes.get(&path).cloned(), hit)
    };
    let reply = match handler {
        Some(h) => h(&req, hit),
        None => Reply::status(404),
    };
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    match reply.framing {
        Framing::Length => out.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len())),
        Framing::Declared(n) => out.push_str(&format!("Content-Length: {n}\r\n\r\n")),
        Framing::Chunked => out.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    sock.write_all(out.as_bytes()).await?;
    match reply.framing {
        Framing::Chunked => {
            for c in reply.body.chunks(16 << 10) {
                sock.write_all(format!("{:x}\r\n", c.len()).as_bytes())
                    .await?;
                sock.write_all(c).await?;
                sock.write_all(b"\r\n").await?;
            }
            sock.write_all(b"0\r\n\r\n").await?;
        }
        _ => sock.write_all(&reply.body).await?,
    }
    sock.flush().await?;
    sock.shutdown().await
}

/// A GitHub/Gitea-shaped release object.
pub fn release_json(id: u64, tag: &str, assets: &[serde_json::Value]) -> serde_json::Value {
    serde_json::json!({
        "id": id, "tag_name": tag, "name": tag, "draft": false, "prerelease": false,
        "published_at": "2025-06-01T12:00:00Z", "assets": assets,
    })
}

/// A GitHub/Gitea-shaped asset object.
pub fn asset_json(name: &str, size: u64, url: &str) -> serde_json::Value {
    serde_json::json!({"id": 1, "name": name, "size": size, "browser_download_url": url})
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Deterministic test bytes.
pub fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
