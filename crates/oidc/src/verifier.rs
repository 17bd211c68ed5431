//! The token verifier: parse, pick the configured issuer, fetch its key, verify the signature,
//! validate the registered claims, map the identity, and only then spend the `jti`.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::digest::{digest, SHA256};
use serde_json::{Map, Value};

use crate::claims::{self, ClaimRules};
use crate::clock::{Clock, SystemClock, UnixTime};
use crate::config::{IssuerConfig, Provider};
use crate::error::OidcError;
use crate::fetch::{check_url, JwksFetcher, TransportPolicy};
use crate::identity::{self, BindingClaims, CertificateIdentity};
use crate::jose::parse_compact;
use crate::jwk::verify_signature;
use crate::keys::KeyCache;
use crate::replay::{Insertion, ReplayKey, ReplayStore};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 60;

/// A token that passed every check, with the identity a certificate for it must carry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedToken {
    /// `iss` (equal to a configured issuer).
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `aud` (equal to the issuer's configured audience).
    pub audience: String,
    /// `exp`.
    pub expires_at: UnixTime,
    /// `iat`.
    pub issued_at: UnixTime,
    /// `jti`, when present (always, unless the issuer allows tokens without one).
    pub jti: Option<String>,
    /// The provider the issuer is configured with.
    pub provider: Provider,
    /// SAN, issuer and Fulcio extensions for the certificate.
    pub identity: CertificateIdentity,
    /// Claims for the trusted-publishing binding check.
    pub binding: BindingClaims,
    claims: Map<String, Value>,
}

impl VerifiedToken {
    /// All claims of the token.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// One claim, if it is a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Verifies identity tokens from the configured issuers. Cheap to share behind an `Arc`;
/// all methods take `&self`.
pub struct Verifier {
    issuers: HashMap<String, IssuerConfig>,
    keys: KeyCache,
    replay: Arc<dyn ReplayStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers.keys())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Verifier`].
pub struct VerifierBuilder {
    fetcher: Arc<dyn JwksFetcher>,
    replay: Arc<dyn ReplayStore>,
    clock: Arc<dyn Clock>,
    policy: TransportPolicy,
    issuers: Vec<IssuerConfig>,
}

impl VerifierBuilder {
    /// Trusts one more issuer.
    pub fn issuer(mut self, config: IssuerConfig) -> Self {
        self.issuers.push(config);
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets which URLs may be fetched (default: https only).
    pub fn transport_policy(mut self, policy: TransportPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Checks the configuration: at least one issuer, issuer URLs that pass the transport
    /// policy, no issuer twice, non-empty audiences.
    pub fn build(self) -> Result<Verifier, OidcError> {
        let config = |problem: String| OidcError::Config { problem };
        if self.issuers.is_empty() {
            return Err(config("no issuer configured".to_owned()));
        }
        let mut issuers = HashMap::new();
        for issuer in self.issuers {
            check_url(issuer.issuer(), self.policy)?;
            if issuer.audience().is_empty() {
                return Err(config(format!("empty audience for {}", issuer.issuer())));
            }
            let name = issuer.issuer().to_owned();
            if issuers.insert(name.clone(), issuer).is_some() {
                return Err(config(format!("issuer {name} configured twice")));
            }
        }
        let keys = KeyCache::new(
            self.fetcher,
            self.policy,
            issuers.keys().map(String::as_str),
        );
        Ok(Verifier {
            issuers,
            keys,
            replay: self.replay,
            clock: self.clock,
        })
    }
}

impl Verifier {
    /// Starts a builder with the fetcher for discovery and keys and the `jti` store.
    pub fn builder(fetcher: Arc<dyn JwksFetcher>, replay: Arc<dyn ReplayStore>) -> VerifierBuilder {
        VerifierBuilder {
            fetcher,
            replay,
            clock: Arc::new(SystemClock),
            policy: TransportPolicy::HttpsOnly,
            issuers: Vec::new(),
        }
    }

    /// The configuration of `issuer`, if trusted.
    pub fn issuer_config(&self, issuer: &str) -> Option<&IssuerConfig> {
        self.issuers.get(issuer)
    }

    /// Verifies `token`. On success the token's `jti` has been recorded: presenting the same
    /// token again fails with [`OidcError::Replayed`]. Checks, in order: size and structure,
    /// `alg` (RS256/ES256 only), configured `iss`, key (discovery + JWKS, refetch on unknown
    /// `kid` at most once a minute), signature, `aud`, `exp`/`nbf`/`iat` with
    /// [`LEEWAY_SECS`], `sub`, `jti`, identity mapping, replay.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, OidcError> {
        let now = self.clock.now();
        let unverified = parse_compact(token)?;
        let issuer = match unverified.claims.get("iss") {
            Some(Value::String(iss)) => iss.clone(),
            Some(_) => {
                return Err(OidcError::InvalidClaim {
                    claim: "iss".to_owned(),
                    expected: "a string",
                })
            }
            None => {
                return Err(OidcError::MissingClaim {
                    claim: "iss".to_owned(),
                })
            }
        };
        // The issuer is matched exactly, before any key is fetched: an unconfigured issuer
        // never causes a network request.
        let config = self
            .issuers
            .get(&issuer)
            .ok_or_else(|| OidcError::UnconfiguredIssuer {
                issuer: issuer.clone(),
            })?;
        let jwk = self.keys.key_for(&issuer, &unverified.header, now).await?;
        verify_signature(&unverified, &jwk)?;

        let unverified_input = unverified.signing_input;
        let claims = unverified.claims;
        let rules = ClaimRules {
            audience: config.audience(),
            leeway_secs: LEEWAY_SECS,
            require_jti: config.requires_jti(),
        };
        let registered = claims::validate(&claims, &rules, now)?;
        let (identity, binding) = identity::map(config.provider(), &issuer, &claims)?;

        // Without a `jti` (allowed only per issuer), the digest of the signed header and payload
        // stands in for it, so the very same token is still refused a second time.
        let replay_id = match &registered.jti {
            Some(jti) => jti.clone(),
            None => {
                let d = digest(&SHA256, unverified_input.as_bytes());
                let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                format!("sha256:{hex}")
            }
        };
        let key = ReplayKey {
            issuer: issuer.clone(),
            jti: replay_id,
        };
        let keep_until = registered.expires_at.plus(LEEWAY_SECS);
        let outcome = self
            .replay
            .insert_if_absent(&key, keep_until, now)
            .await
            .map_err(|source| OidcError::ReplayStore { source })?;
        if outcome == Insertion::AlreadyPresent {
            return Err(OidcError::Replayed { jti: key.jti });
        }
        tracing::debug!(issuer = %issuer, san = identity.san.value(), "token verified");
        Ok(VerifiedToken {
            issuer,
            subject: registered.subject,
            audience: registered.audience,
            expires_at: registered.expires_at,
            issued_at: registered.issued_at,
            jti: registered.jti,
            provider: config.provider().clone(),
            identity,
            binding,
            claims,
        })
    }
}
