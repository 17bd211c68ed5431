//! The guarded HTTP client: every request goes through [`Fetcher`], which checks each URL
//! (and each redirect hop) with the SSRF guard, resolves names through the guarded
//! resolver, attaches the token only for the API origin, bounds redirects, and caps
//! JSON bodies while streaming them.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use url::Url;

use crate::error::IngestError;
use crate::forge::{ForgeConfig, ForgeKind, Limits};
use crate::guard::{guard_refusal, redact, GuardedResolver, NetPolicy, Resolver, SystemResolver};

/// A response whose status is 2xx (or 404 where the caller asked), after redirects.
pub(crate) struct Fetched {
    pub(crate) url: Url,
    pub(crate) response: reqwest::Response,
}

/// The guarded client for one forge. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<NetPolicy>,
    config: Arc<ForgeConfig>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("kind", &self.config.kind)
            .field("api_base", &self.config.api_base.as_str())
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher that resolves names with the system resolver.
    pub fn new(config: ForgeConfig) -> Result<Self, IngestError> {
        Self::with_resolver(config, Arc::new(SystemResolver))
    }

    /// A fetcher with a custom resolver (tests use a static table; no real DNS).
    pub fn with_resolver(
        config: ForgeConfig,
        resolver: Arc<dyn Resolver>,
    ) -> Result<Self, IngestError> {
        let policy = Arc::new(config.net_policy());
        policy.check_url(&config.api_base, None)?;
        if config.limits.max_redirects > 10 {
            return Err(IngestError::Config {
                detail: format!(
                    "max_redirects: expected at most 10, found {}",
                    config.limits.max_redirects
                ),
            });
        }
        if config
            .token
            .as_ref()
            .is_some_and(|t| t.expose().is_empty() || HeaderValue::from_str(t.expose()).is_err())
        {
            return Err(IngestError::Config {
                detail: "token: expected a non-empty header-safe string".into(),
            });
        }
        let Limits {
            connect_timeout,
            read_timeout,
            ..
        } = config.limits;
        let client = reqwest::Client::builder()
            // Redirects are followed by hand so every hop is checked.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, bypassing the guarded resolver.
            .no_proxy()
            // Sizes are compared on the wire: no transparent decompression.
            .no_gzip()
            .no_brotli()
            .no_zstd()
            .no_deflate()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .user_agent(concat!("vouch-ingest/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                inner: resolver,
                policy: policy.clone(),
            }))
            .build()
            .map_err(|e| IngestError::Config {
                detail: format!("HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            policy,
            config: Arc::new(config),
        })
    }

    /// The forge configuration.
    pub fn config(&self) -> &ForgeConfig {
        &self.config
    }

    /// Whether `url` has the same origin as the API base (the token goes only there).
    fn is_api_origin(&self, url: &Url) -> bool {
        url.origin() == self.config.api_base.origin()
    }

    fn headers_for(&self, url: &Url, json: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if json {
            let accept = match self.config.kind {
                ForgeKind::GitHub => "application/vnd.github+json",
                _ => "application/json",
            };
            headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
            if self.config.kind == ForgeKind::GitHub {
                headers.insert(
                    "x-github-api-version",
                    HeaderValue::from_static("2022-11-28"),
                );
            }
        }
        // Identity encoding only: sizes and digests are of the bytes as served.
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        if let (Some(token), true) = (&self.config.token, self.is_api_origin(url)) {
            let (name, value) = match self.config.kind {
                ForgeKind::GitHub => (header::AUTHORIZATION, format!("Bearer {}", token.expose())),
                ForgeKind::Gitea => (header::AUTHORIZATION, format!("token {}", token.expose())),
                ForgeKind::GitLab => (
                    header::HeaderName::from_static("private-token"),
                    token.expose().to_owned(),
                ),
            };
            // Checked header-safe in `with_resolver`.
            if let Ok(mut value) = HeaderValue::from_str(&value) {
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }
        headers
    }

    /// GETs `url`, following at most `max_redirects` redirects, each hop checked.
    /// Answers `Ok(None)` for 404 when `allow_404`; any other non-2xx is an error.
    pub(crate) async fn get(
        &self,
        url: Url,
        json: bool,
        allow_404: bool,
    ) -> Result<Option<Fetched>, IngestError> {
        let limit = self.config.limits.max_redirects;
        let mut current = url;
        let mut previous: Option<Url> = None;
        let mut hops = 0usize;
        loop {
            self.policy.check_url(&current, previous.as_ref())?;
            let mut request = self
                .client
                .get(current.clone())
                .headers(self.headers_for(&current, json));
            if json {
                request = request.timeout(self.config.limits.json_timeout);
            }
            let response = request.send().await.map_err(|e| transport(&current, &e))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                if hops == limit {
                    return Err(IngestError::TooManyRedirects {
                        url: redact(&current),
                        limit,
                    });
                }
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| IngestError::InvalidRedirect {
                        url: redact(&current),
                        detail: format!("status {} without a readable Location", status.as_u16()),
                    })?;
                let next = current
                    .join(location)
                    .map_err(|e| IngestError::InvalidRedirect {
                        url: redact(&current),
                        detail: format!("Location is not a URL: {e}"),
                    })?;
                tracing::debug!(from = %redact(&current), to = %redact(&next), "following redirect");
                previous = Some(std::mem::replace(&mut current, next));
                hops += 1;
                continue;
            }
            if status == StatusCode::NOT_FOUND && allow_404 {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(IngestError::Status {
                    url: redact(&current),
                    status: status.as_u16(),
                });
            }
            return Ok(Some(Fetched {
                url: current,
                response,
            }));
        }
    }

    /// GETs JSON bytes, refusing bodies over the JSON cap (by Content-Length up front,
    /// and by counting while streaming when there is none). `Ok(None)` for 404 when
    /// `allow_404`.
    pub(crate) async fn get_json_bytes(
        &self,
        url: Url,
        allow_404: bool,
    ) -> Result<Option<Vec<u8>>, IngestError> {
        let Some(Fetched { url, mut response }) = self.get(url, true, allow_404).await? else {
            return Ok(None);
        };
        let cap = self.config.limits.json_cap_bytes;
        let too_large = |found_bytes: u64| IngestError::ResponseTooLarge {
            url: redact(&url),
            cap_bytes: cap,
            found_bytes,
        };
        if let Some(len) = content_length(response.headers()) {
            if len > cap {
                return Err(too_large(len));
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(&url, &e))? {
            let total = body.len() as u64 + chunk.len() as u64;
            if total > cap {
                return Err(too_large(total));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }
}

/// The `Content-Length` header, if present and well formed.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Maps a client error to a coded error, surfacing a guard refusal from the resolver.
pub(crate) fn transport(url: &Url, e: &reqwest::Error) -> IngestError {
    if let Some(refusal) = guard_refusal(e) {
        return refusal;
    }
    let mut detail = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "transport error".to_owned()
    };
    // The innermost cause says what really happened (refused, reset, dns); reqwest's own
    // message repeats the URL with its query, which is left out.
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut innermost = None;
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    if let Some(cause) = innermost {
        detail.push_str(": ");
        detail.push_str(&cause);
    }
    IngestError::Transport {
        url: redact(url),
        detail,
    }
}
