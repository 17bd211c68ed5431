//! Bounded HTTP GETs of JSON documents from package indexes: per-request timeout, a cap on
//! the body size (checked against `Content-Length` and again while reading), a small
//! redirect limit, and a classification of every answer into found / not found /
//! transient (worth retrying) / hard error.

use std::io::Read;
use std::time::Duration;

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

    /// GETs `url` and classifies the answer.
    pub fn get_json(&self, url: &str) -> Result<Fetched, ReleaseError> {
        let resp = match self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
        {
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
        let cap = self.limits.max_response_bytes;
        let too_large = || ReleaseError::IndexTooLarge {
            url: url.to_owned(),
            limit_bytes: cap,
        };
        if resp.content_length().is_some_and(|n| n > cap) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        if let Err(e) = resp.take(cap.saturating_add(1)).read_to_end(&mut body) {
            return Ok(Fetched::Transient(format!("reading body: {e}")));
        }
        if body.len() as u64 > cap {
            return Err(too_large());
        }
        serde_json::from_slice(&body)
            .map(Fetched::Json)
            .map_err(|e| ReleaseError::IndexMalformed {
                url: url.to_owned(),
                detail: format!("not JSON: {e}"),
            })
    }
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

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("a-b_c.1~"), "a-b_c.1~");
        assert_eq!(segment("a/b c@"), "a%2Fb%20c%40");
    }
}
