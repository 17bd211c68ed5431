//! Fetching discovery documents and key sets: the [`JwksFetcher`] trait, the URL policy every
//! fetched URL passes (https, or plain http to loopback only when explicitly allowed), the
//! reqwest implementation, and an in-memory one for tests.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use url::{Host, Url};

use crate::error::{FetchError, OidcError};
use crate::replay::BoxFuture;

/// Largest discovery document or key set accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Which URLs the verifier will fetch from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TransportPolicy {
    /// https only (production).
    #[default]
    HttpsOnly,
    /// https, or http to a loopback host (127.0.0.0/8, ::1, `localhost`): `vouch serve --dev`
    /// and tests only.
    AllowLoopbackHttp,
}

/// Parses and checks a URL against the policy: https (or allowed loopback http), no
/// credentials, no fragment.
pub fn check_url(raw: &str, policy: TransportPolicy) -> Result<Url, OidcError> {
    let refuse = |reason| OidcError::InsecureUrl {
        url: raw.to_owned(),
        reason,
    };
    let url = Url::parse(raw).map_err(|_| refuse("not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in URL"));
    }
    if url.fragment().is_some() {
        return Err(refuse("fragment in URL"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if policy == TransportPolicy::AllowLoopbackHttp && is_loopback(&url) => Ok(url),
        "http" => Err(refuse(
            "https required (plain http only to loopback in dev mode)",
        )),
        _ => Err(refuse("https required")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Fetches one document by GET. Implementations enforce their own timeouts and a size cap of
/// at most [`MAX_DOCUMENT_BYTES`]; the verifier has already checked the URL against its
/// [`TransportPolicy`] and checks the size again.
pub trait JwksFetcher: Send + Sync + 'static {
    /// GETs `url` and returns the body of a 200 response.
    fn fetch<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Vec<u8>, FetchError>>;
}

/// A [`JwksFetcher`] over reqwest with rustls (aws-lc-rs) and the platform's trust roots.
/// Redirects are not followed (a discovery or JWKS URL that redirects is a misconfiguration,
/// and following one could leave https); proxies from the environment are not used.
#[derive(Debug, Clone)]
pub struct ReqwestFetcher {
    client: reqwest::Client,
    max_body_bytes: usize,
}

impl ReqwestFetcher {
    /// A fetcher with a 5 s connect timeout, a 10 s overall timeout and the
    /// [`MAX_DOCUMENT_BYTES`] cap. With [`TransportPolicy::HttpsOnly`] the client itself also
    /// refuses plain http.
    pub fn new(policy: TransportPolicy) -> Result<Self, OidcError> {
        Self::with_limits(
            policy,
            Duration::from_secs(5),
            Duration::from_secs(10),
            MAX_DOCUMENT_BYTES,
        )
    }

    /// A fetcher with explicit limits (the body cap is clamped to [`MAX_DOCUMENT_BYTES`]).
    pub fn with_limits(
        policy: TransportPolicy,
        connect_timeout: Duration,
        timeout: Duration,
        max_body_bytes: usize,
    ) -> Result<Self, OidcError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(policy == TransportPolicy::HttpsOnly)
            .user_agent(concat!("vouch-oidc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OidcError::Config {
                problem: format!("HTTP client: {e}"),
            })?;
        Ok(ReqwestFetcher {
            client,
            max_body_bytes: max_body_bytes.min(MAX_DOCUMENT_BYTES),
        })
    }

    async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let transport = |e: reqwest::Error| FetchError::Transport {
            source: Box::new(e),
        };
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(FetchError::Status { status });
        }
        let limit = self.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(FetchError::TooLarge { limit_bytes: limit });
        }
        // Read chunk by chunk so a lying or absent Content-Length cannot make us buffer more.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { limit_bytes: limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl JwksFetcher for ReqwestFetcher {
    fn fetch<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Vec<u8>, FetchError>> {
        Box::pin(self.get(url))
    }
}

/// An in-memory [`JwksFetcher`]: serves documents put into it and counts requests per URL.
/// For tests, and for `vouch serve --dev`, which serves its own [`crate::DevIssuer`]'s
/// documents from memory and passes every other URL to a real fetcher
/// ([`MemoryFetcher::with_fallback`]) instead of calling itself over HTTP.
#[derive(Default)]
pub struct MemoryFetcher {
    /// Guards the documents and the request counts together.
    inner: Mutex<MemoryInner>,
    fallback: Option<std::sync::Arc<dyn JwksFetcher>>,
}

impl std::fmt::Debug for MemoryFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryFetcher")
            .field("fallback", &self.fallback.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct MemoryInner {
    documents: HashMap<String, Vec<u8>>,
    requests: HashMap<String, usize>,
}

impl MemoryFetcher {
    /// An empty fetcher: every URL answers [`FetchError::NotFound`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A fetcher that serves its own documents and passes other URLs to `fallback`.
    pub fn with_fallback(fallback: std::sync::Arc<dyn JwksFetcher>) -> Self {
        MemoryFetcher {
            inner: Mutex::default(),
            fallback: Some(fallback),
        }
    }

    /// Serves `body` at `url` from now on (replacing what was there).
    pub fn put(&self, url: &str, body: impl Into<Vec<u8>>) {
        self.lock().documents.insert(url.to_owned(), body.into());
    }

    /// Stops serving `url`.
    pub fn remove(&self, url: &str) {
        self.lock().documents.remove(url);
    }

    /// How many times `url` was requested.
    pub fn requests(&self, url: &str) -> usize {
        self.lock().requests.get(url).copied().unwrap_or(0)
    }

    /// Total requests over all URLs.
    pub fn total_requests(&self) -> usize {
        self.lock().requests.values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl JwksFetcher for MemoryFetcher {
    fn fetch<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Vec<u8>, FetchError>> {
        let found = {
            let mut inner = self.lock();
            *inner.requests.entry(url.as_str().to_owned()).or_insert(0) += 1;
            inner.documents.get(url.as_str()).cloned()
        };
        match (found, &self.fallback) {
            (Some(body), _) => Box::pin(async move { Ok(body) }),
            (None, Some(fallback)) => fallback.fetch(url),
            (None, None) => Box::pin(async { Err(FetchError::NotFound) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_policy() {
        let strict = TransportPolicy::HttpsOnly;
        let dev = TransportPolicy::AllowLoopbackHttp;
        assert!(check_url("https://token.actions.githubusercontent.com", strict).is_ok());
        for bad in [
            "http://127.0.0.1:8080",
            "ftp://x.example",
            "not a url",
            "https://u:p@x.example",
            "https://x.example/#f",
        ] {
            assert!(
                matches!(check_url(bad, strict), Err(OidcError::InsecureUrl { .. })),
                "{bad}"
            );
        }
        for ok in [
            "http://127.0.0.1:8080/dev",
            "http://127.8.9.1",
            "http://[::1]:3000",
            "http://localhost:1",
        ] {
            assert!(check_url(ok, dev).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://example.com",
            "http://localhost.example.com",
        ] {
            assert!(
                matches!(check_url(bad, dev), Err(OidcError::InsecureUrl { .. })),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn memory_fetcher_serves_and_counts() {
        let f = MemoryFetcher::new();
        let url = Url::parse("https://x.example/jwks").expect("valid");
        assert!(matches!(f.fetch(&url).await, Err(FetchError::NotFound)));
        f.put(url.as_str(), b"{}".to_vec());
        assert_eq!(f.fetch(&url).await.ok(), Some(b"{}".to_vec()));
        assert_eq!(f.requests(url.as_str()), 2);

        let layered = MemoryFetcher::with_fallback(std::sync::Arc::new(f));
        let other = Url::parse("https://y.example/jwks").expect("valid");
        layered.put(other.as_str(), b"[]".to_vec());
        assert_eq!(layered.fetch(&other).await.ok(), Some(b"[]".to_vec()));
        assert_eq!(
            layered.fetch(&url).await.ok(),
            Some(b"{}".to_vec()),
            "falls back"
        );
    }

    #[test]
    fn reqwest_fetcher_builds() {
        assert!(ReqwestFetcher::new(TransportPolicy::HttpsOnly).is_ok());
    }
}
