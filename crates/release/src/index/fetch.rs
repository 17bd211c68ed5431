//! Bounded HTTP GETs of JSON documents from package indexes: a timeout over each whole exchange, a cap on
//! the body size (checked against `Content-Length` and again while reading), a small
//! redirect limit, and a classification of every answer into found / not found /
//! transient (worth retrying) / hard error.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::error::ReleaseError;

/// The limits every index request runs under. All are configurable on the command line
/// and printed before the first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Retries after the first attempt while something is missing or the index is down.
    pub retries: u32,
    /// Delay before the first retry; doubled for each further one.
    pub backoff_ms: u64,
    /// Ceiling of the delay between two attempts.
    pub max_backoff_ms: u64,
    /// Timeout of one request, connection through last body byte.
    pub timeout_ms: u64,
    /// Largest response body accepted.
    pub max_response_bytes: u64,
}

impl Limits {
    /// The limits as `vouch release verify-index --json` reports them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "retries": self.retries, "backoff_ms": self.backoff_ms,
            "max_backoff_ms": self.max_backoff_ms, "timeout_ms": self.timeout_ms,
            "max_response_bytes": self.max_response_bytes,
        })
    }
}

/// `retries R, backoff B ms doubling to at most M ms, timeout T ms per whole request,
/// responses up to N bytes`.
impl std::fmt::Display for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "retries {}, backoff {} ms doubling to at most {} ms, timeout {} ms per whole \
             request, responses up to {} bytes",
            self.retries,
            self.backoff_ms,
            self.max_backoff_ms,
            self.timeout_ms,
            self.max_response_bytes
        )
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            retries: 5,
            backoff_ms: 2_000,
            max_backoff_ms: 60_000,
            timeout_ms: 30_000,
            max_response_bytes: 16 << 20,
        }
    }
}

impl Limits {
    /// The delay after failed attempt `attempt` (0-based): `backoff_ms * 2^attempt`,
    /// capped at `max_backoff_ms`.
    pub fn delay_ms(&self, attempt: u32) -> u64 {
        let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
        self.backoff_ms
            .saturating_mul(factor)
            .min(self.max_backoff_ms)
    }
}

/// How one GET ended, when it did not end in a hard error.
#[derive(Debug)]
pub enum Fetched {
    /// 2xx with a JSON body.
    Json(serde_json::Value),
    /// 404: the package or version is not (yet) there.
    NotFound,
    /// Connection failure, timeout, 429 or 5xx: worth another attempt.
    Transient(String),
}

/// A reusable client with the limits applied.
pub struct Fetcher {
    client: reqwest::blocking::Client,
    limits: Limits,
}

impl Fetcher {
    pub fn new(limits: Limits) -> Result<Self, ReleaseError> {
        let timeout = Duration::from_millis(limits.timeout_ms.max(1));
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("vouch-release/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ReleaseError::IndexUnreachable {
                url: String::new(),
                attempts: 0,
                detail: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(Self { client, limits })
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// GETs `url` and classifies the answer. `timeout_ms` bounds the whole exchange,
    /// connection through last body byte: the exchange runs on a worker thread that
    /// this call waits for at most that long (issue 13, item 8: the HTTP client's own
    /// timeout restarts with every read, so a server trickling one byte every half
    /// second held a request open indefinitely). The worker stops reading at the same
    /// deadline, so an abandoned exchange ends within one read of it.
    pub fn get_json(&self, url: &str) -> Result<Fetched, ReleaseError> {
        let budget = Duration::from_millis(self.limits.timeout_ms.max(1));
        let deadline = Instant::now() + budget;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let client = self.client.clone();
        let limits = self.limits;
        let target = url.to_owned();
        let worker = std::thread::Builder::new()
            .name("vouch-index-get".into())
            .spawn(move || {
                let _ = tx.send(exchange(&client, limits, &target, deadline));
            });
        if let Err(e) = worker {
            return Ok(Fetched::Transient(format!(
                "request failed: no worker thread: {e}"
            )));
        }
        match rx.recv_timeout(budget) {
            Ok(answer) => answer,
            Err(_) => Ok(Fetched::Transient(timed_out(limits.timeout_ms))),
        }
    }
}

fn timed_out(ms: u64) -> String {
    format!("timed out: no complete answer within {ms} ms")
}

/// One GET, reading the body until `deadline` at the latest.
#[allow(
    clippy::indexing_slicing,
    reason = "n never exceeds buf.len(): Read::read returns at most the length it is given"
)]
fn exchange(
    client: &reqwest::blocking::Client,
    limits: Limits,
    url: &str,
    deadline: Instant,
) -> Result<Fetched, ReleaseError> {
    let mut resp = match client.get(url).header("accept", "application/json").send() {
        Ok(r) => r,
        Err(e) => return Ok(Fetched::Transient(describe(&e))),
    };
    let status = resp.status().as_u16();
    match status {
        200..=299 => {}
        404 | 410 => return Ok(Fetched::NotFound),
        429 | 500..=599 => return Ok(Fetched::Transient(format!("HTTP {status}"))),
        _ => {
            return Err(ReleaseError::IndexStatus {
                url: url.to_owned(),
                status,
            })
        }
    }
    let cap = limits.max_response_bytes;
    let too_large = || ReleaseError::IndexTooLarge {
        url: url.to_owned(),
        limit_bytes: cap,
    };
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        if Instant::now() >= deadline {
            return Ok(Fetched::Transient(timed_out(limits.timeout_ms)));
        }
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Ok(Fetched::Transient(format!("reading body: {e}"))),
        };
        if (body.len() + n) as u64 > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&buf[..n]);
    }
    serde_json::from_slice(&body)
        .map(Fetched::Json)
        .map_err(|e| ReleaseError::IndexMalformed {
            url: url.to_owned(),
            detail: format!("not JSON: {e}"),
        })
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // The innermost cause says the most ("connection refused", "deadline has elapsed").
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    format!("{kind}: {source}")
}

/// Percent-encodes one URL path segment (RFC 3986 unreserved characters pass through).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let l = Limits {
            backoff_ms: 100,
            max_backoff_ms: 1_000,
            ..Limits::default()
        };
        let delays: Vec<u64> = (0..6).map(|a| l.delay_ms(a)).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(l.delay_ms(u32::MAX), 1_000);
    }

    /// Issue 13 item 8: a server trickling one byte every 100 ms (well inside any
    /// per-read timeout) is cut off when the whole exchange's `timeout_ms` is up.
    #[test]
    fn trickling_server_is_cut_off_at_the_timeout_regression() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/pypi/x/json", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = [0u8; 1024];
            let _ = conn.read(&mut head);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
            );
            for _ in 0..600 {
                if conn.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let f = Fetcher::new(Limits {
            timeout_ms: 700,
            ..Limits::default()
        })
        .unwrap();
        let started = Instant::now();
        let got = f.get_json(&url).unwrap();
        let took = started.elapsed();
        match got {
            Fetched::Transient(why) => assert!(why.starts_with("timed out"), "{why}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(
            took >= Duration::from_millis(600) && took < Duration::from_millis(1_500),
            "took {took:?}"
        );
    }

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("a-b_c.1~"), "a-b_c.1~");
        assert_eq!(segment("a/b c@"), "a%2Fb%20c%40");
    }
}
