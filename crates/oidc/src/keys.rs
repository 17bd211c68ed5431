//! The per-issuer key cache: OIDC discovery then JWKS, refreshed when older than
//! [`JWKS_MAX_AGE_SECS`] and on an unknown `kid`, with at most one fetch attempt per issuer
//! every [`REFETCH_INTERVAL_SECS`] however many tokens with unknown keys arrive.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::clock::UnixTime;
use crate::error::OidcError;
use crate::fetch::{check_url, JwksFetcher, TransportPolicy, MAX_DOCUMENT_BYTES};
use crate::jose::{parse_unique_object, Header};
use crate::jwk::{Jwk, KeySet, Lookup, SharedKeySet};

/// Minimum time between two fetch attempts for one issuer (success or failure).
pub const REFETCH_INTERVAL_SECS: i64 = 60;
/// Cached keys older than this are refreshed before use (if the rate limit allows).
pub const JWKS_MAX_AGE_SECS: i64 = 3600;

/// Cache state of one issuer.
#[derive(Debug, Default)]
struct Entry {
    keys: Option<SharedKeySet>,
    fetched_at: Option<UnixTime>,
    last_attempt: Option<UnixTime>,
}

impl Entry {
    fn may_fetch(&self, now: UnixTime) -> bool {
        self.last_attempt
            .is_none_or(|t| now.secs().saturating_sub(t.secs()) >= REFETCH_INTERVAL_SECS)
    }

    fn is_stale(&self, now: UnixTime) -> bool {
        self.fetched_at
            .is_none_or(|t| now.secs().saturating_sub(t.secs()) >= JWKS_MAX_AGE_SECS)
    }
}

/// Keys of every configured issuer.
pub(crate) struct KeyCache {
    fetcher: Arc<dyn JwksFetcher>,
    policy: TransportPolicy,
    /// One entry per configured issuer, fixed at construction. Each entry's async mutex is
    /// held across its fetch, so concurrent verifications for one issuer share one download.
    entries: HashMap<String, Mutex<Entry>>,
}

impl KeyCache {
    pub(crate) fn new<'a>(
        fetcher: Arc<dyn JwksFetcher>,
        policy: TransportPolicy,
        issuers: impl Iterator<Item = &'a str>,
    ) -> Self {
        let entries = issuers
            .map(|i| (i.to_owned(), Mutex::new(Entry::default())))
            .collect();
        KeyCache {
            fetcher,
            policy,
            entries,
        }
    }

    /// The key for `header` from `issuer`'s set, fetching or refetching as the rules allow.
    pub(crate) async fn key_for(
        &self,
        issuer: &str,
        header: &Header,
        now: UnixTime,
    ) -> Result<Jwk, OidcError> {
        let Some(entry) = self.entries.get(issuer) else {
            return Err(OidcError::UnconfiguredIssuer {
                issuer: issuer.to_owned(),
            });
        };
        let mut entry = entry.lock().await;
        if entry.is_stale(now) {
            if entry.may_fetch(now) {
                if let Err(err) = self.refresh(issuer, &mut entry, now).await {
                    if entry.keys.is_none() {
                        return Err(err);
                    }
                    // Keep serving the previous keys: they were valid an hour ago, and the
                    // next attempt comes after the rate-limit interval.
                    tracing::warn!(issuer, code = err.code(), error = %err, "JWKS refresh failed; using cached keys");
                }
            } else if entry.keys.is_none() {
                return Err(OidcError::KeysUnavailable {
                    issuer: issuer.to_owned(),
                    interval_secs: REFETCH_INTERVAL_SECS,
                });
            }
        }
        let kid = header.kid.as_deref();
        if let Some(jwk) = found(entry.keys.as_ref(), kid, header) {
            return Ok(jwk);
        }
        // An unknown kid may mean the issuer rotated its keys: refetch, at most once per
        // interval, so a stream of tokens with made-up kids cannot turn into a fetch storm.
        if entry.may_fetch(now) {
            tracing::info!(issuer, kid, "unknown kid; refetching JWKS");
            self.refresh(issuer, &mut entry, now).await?;
            if let Some(jwk) = found(entry.keys.as_ref(), kid, header) {
                return Ok(jwk);
            }
        }
        Err(OidcError::UnknownKey {
            issuer: issuer.to_owned(),
            kid: kid.map(str::to_owned),
        })
    }

    async fn refresh(
        &self,
        issuer: &str,
        entry: &mut Entry,
        now: UnixTime,
    ) -> Result<(), OidcError> {
        entry.last_attempt = Some(now);
        let keys = self.download(issuer).await?;
        tracing::debug!(issuer, keys = keys.keys().len(), "fetched JWKS");
        entry.keys = Some(Arc::new(keys));
        entry.fetched_at = Some(now);
        Ok(())
    }

    /// OIDC Discovery 1.0 §4: GET the configuration, require `issuer` to equal the configured
    /// issuer exactly (§4.3), then GET `jwks_uri`, which must pass the same URL policy.
    async fn download(&self, issuer: &str) -> Result<KeySet, OidcError> {
        let discovery_url = check_url(
            &format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ),
            self.policy,
        )?;
        let body = self.get(&discovery_url).await?;
        let invalid = |problem: String| OidcError::InvalidDiscovery {
            url: discovery_url.to_string(),
            problem,
        };
        let doc =
            parse_unique_object(&body).map_err(|m| invalid(format!("not a JSON object: {m}")))?;
        match doc.get("issuer") {
            Some(Value::String(s)) if s == issuer => {}
            Some(Value::String(s)) => {
                return Err(invalid(format!("issuer {s:?} is not {issuer:?}")))
            }
            _ => {
                return Err(invalid(
                    "member \"issuer\" is missing or not a string".to_owned(),
                ))
            }
        }
        let Some(Value::String(jwks_uri)) = doc.get("jwks_uri") else {
            return Err(invalid(
                "member \"jwks_uri\" is missing or not a string".to_owned(),
            ));
        };
        let jwks_url = check_url(jwks_uri, self.policy)?;
        let body = self.get(&jwks_url).await?;
        KeySet::parse(&body).map_err(|problem| OidcError::InvalidJwks {
            url: jwks_url.to_string(),
            problem,
        })
    }

    async fn get(&self, url: &Url) -> Result<Vec<u8>, OidcError> {
        let body = self
            .fetcher
            .fetch(url)
            .await
            .map_err(|source| OidcError::Fetch {
                url: url.to_string(),
                source,
            })?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(OidcError::Fetch {
                url: url.to_string(),
                source: crate::error::FetchError::TooLarge {
                    limit_bytes: MAX_DOCUMENT_BYTES,
                },
            });
        }
        Ok(body)
    }
}

fn found(keys: Option<&SharedKeySet>, kid: Option<&str>, header: &Header) -> Option<Jwk> {
    match keys?.lookup(kid, header.alg) {
        Lookup::Found(jwk) => Some(jwk.clone()),
        Lookup::Missing => None,
    }
}
