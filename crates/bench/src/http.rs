//! `vouch bench http`: a bounded HTTP/1.1 GET load generator for servers on this machine
//! (loopback only), reporting requests per second and latency. Also the one
//! request/response exchange the other load generators ([`crate::rekor`]) use.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{loopback, micros_since, percentile_ms, refuse, Result};

/// What to load: GET each URL in turn over `concurrency` keep-alive connections for
/// `seconds`. Bounded: at most 1024 connections and 300 seconds.
#[derive(Debug, Clone)]
pub struct HttpLoad {
    /// `http://HOST:PORT/PATH` URLs on a loopback host.
    pub urls: Vec<String>,
    /// Concurrent keep-alive connections.
    pub concurrency: usize,
    /// Duration of the run.
    pub seconds: u64,
}

/// The figures of a run (`vouch bench http --json`).
#[derive(Debug, Clone, Serialize)]
pub struct HttpReport {
    pub urls: Vec<String>,
    pub concurrency: usize,
    pub seconds: f64,
    pub requests: u64,
    pub requests_per_s: f64,
    /// Answers by HTTP status.
    pub status: BTreeMap<String, u64>,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl HttpReport {
    /// No transport error and every answer a 200.
    pub fn clean(&self) -> bool {
        self.errors == 0 && self.status.keys().all(|s| s == "200")
    }
}

/// The one-line summary `vouch bench http` prints.
impl std::fmt::Display for HttpReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} requests/s over {:.1} s ({} requests, {} errors), p50 {:.2} ms, p99 {:.2} ms",
            self.requests_per_s, self.seconds, self.requests, self.errors, self.p50_ms, self.p99_ms
        )
    }
}

#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    /// The request bytes, prebuilt.
    request: Vec<u8>,
}

/// Parses `http://HOST:PORT/PATH` and insists HOST is loopback.
fn parse_target(url: &str) -> Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| refuse(format!("{url}: only http:// URLs are supported")))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| refuse(format!("{url}: bad port")))?,
        ),
        _ => (hostport, 80),
    };
    let ip = loopback(url, host, "bench http")?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: vouch-bench\r\n\r\n");
    Ok(Target {
        addr: SocketAddr::new(ip, port),
        request: request.into_bytes(),
    })
}

/// Runs the load and reports; refuses (`BENCH_E001`) non-loopback targets and
/// out-of-bounds settings before sending anything.
pub fn run(load: &HttpLoad) -> Result<HttpReport> {
    if load.concurrency == 0 || load.concurrency > 1024 || load.seconds == 0 || load.seconds > 300 {
        return Err(refuse(
            "--concurrency must be 1..=1024 and --seconds 1..=300",
        ));
    }
    let targets: Vec<Target> = load
        .urls
        .iter()
        .map(|u| parse_target(u))
        .collect::<Result<_>>()?;
    let tally =
        crate::runtime()?.block_on(drive(Arc::new(targets), load.concurrency, load.seconds));
    let mut lat = tally.latencies_us;
    lat.sort_unstable();
    Ok(HttpReport {
        urls: load.urls.clone(),
        concurrency: load.concurrency,
        seconds: tally.elapsed_s,
        requests: tally.requests,
        requests_per_s: tally.requests as f64 / tally.elapsed_s,
        status: by_status(&tally.status),
        errors: tally.errors,
        p50_ms: percentile_ms(&lat, 0.50),
        p99_ms: percentile_ms(&lat, 0.99),
    })
}

/// Answer counts keyed by the status as text, for the JSON reports.
pub(crate) fn by_status(status: &BTreeMap<u16, u64>) -> BTreeMap<String, u64> {
    status.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    errors: u64,
    status: BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
    elapsed_s: f64,
}

async fn drive(targets: Arc<Vec<Target>>, concurrency: usize, seconds: u64) -> Tally {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let targets = Arc::clone(&targets);
        tasks.push(tokio::spawn(async move {
            connection(&targets, c, deadline).await
        }));
    }
    let mut total = Tally::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.requests += r.requests;
            total.errors += r.errors;
            for (k, v) in r.status {
                *total.status.entry(k).or_default() += v;
            }
            total.latencies_us.extend(r.latencies_us);
        }
    }
    total.elapsed_s = start.elapsed().as_secs_f64();
    total
}

/// One keep-alive connection issuing requests back to back, rotating over targets.
async fn connection(targets: &[Target], offset: usize, deadline: Instant) -> Tally {
    let mut r = Tally::default();
    let mut buf = Vec::with_capacity(64 << 10);
    let mut conn: Option<TcpStream> = None;
    let mut i = offset;
    while Instant::now() < deadline {
        let Some(t) = targets.get(i % targets.len().max(1)) else {
            break;
        };
        i += 1;
        let Some(stream) = connected(&mut conn, t.addr).await else {
            r.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let t0 = Instant::now();
        match exchange(stream, &t.request, &mut buf).await {
            Ok((status, _)) => {
                r.requests += 1;
                *r.status.entry(status).or_default() += 1;
                // Sample latencies (1 in 8) to bound memory on long runs.
                if r.requests % 8 == 0 {
                    r.latencies_us.push(micros_since(t0));
                }
            }
            Err(_) => {
                r.errors += 1;
                conn = None;
            }
        }
    }
    r
}

/// The keep-alive connection in `conn`, opened to `addr` (without Nagle delay) when
/// there is none; `None` when it cannot be opened.
pub(crate) async fn connected(
    conn: &mut Option<TcpStream>,
    addr: SocketAddr,
) -> Option<&mut TcpStream> {
    if conn.is_none() {
        let s = TcpStream::connect(addr).await.ok()?;
        let _ = s.set_nodelay(true);
        *conn = Some(s);
    }
    conn.as_mut()
}

/// Sends one request and reads one Content-Length-framed response into `buf`;
/// returns the status and where the body starts.
pub(crate) async fn exchange(
    s: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, usize)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    s.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 16 << 10];
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed"));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let head = buf
        .get(..header_end)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("non-UTF-8 headers"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or_else(|| bad("no content-length"))?;
    while buf.len() - header_end < len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed mid-body"));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok((status, header_end))
}

#[cfg(test)]
mod tests {
    use super::parse_target;

    #[test]
    fn only_loopback_targets() {
        for good in [
            "http://127.0.0.1:8080/log/checkpoint",
            "http://localhost:1/x",
            "http://[::1]:8080/",
        ] {
            assert!(parse_target(good).is_ok(), "{good}");
        }
        for bad in [
            "http://10.0.0.1:8080/",
            "http://example.com/",
            "https://127.0.0.1/",
        ] {
            assert_eq!(parse_target(bad).unwrap_err().code(), "BENCH_E001", "{bad}");
        }
    }
}
