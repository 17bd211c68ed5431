//! Shared fixture: a dev issuer served through a `MemoryFetcher`, a manual clock and a verifier
//! trusting the issuer with GitHub Actions mapping.

#![allow(dead_code)]

use std::sync::Arc;
use vouch_oidc::Clock as _;

use serde_json::Value;
use vouch_oidc::{
    DevIssuer, DevKeyAlgorithm, DevTokenRequest, InMemoryReplayStore, ManualClock, MemoryFetcher,
    UnixTime, Verifier,
};

pub const ISSUER: &str = "https://issuer.vouch.test";
pub const AUDIENCE: &str = "sigstore";
pub const START: i64 = 1_800_000_000;

pub struct Fixture {
    pub dev: DevIssuer,
    pub fetcher: Arc<MemoryFetcher>,
    pub clock: ManualClock,
    pub replay: Arc<InMemoryReplayStore>,
    pub verifier: Verifier,
}

impl Fixture {
    pub fn new(alg: DevKeyAlgorithm) -> Self {
        let dev = DevIssuer::generate(ISSUER, alg).expect("key generation");
        let fetcher = Arc::new(MemoryFetcher::new());
        serve(&fetcher, &dev);
        let clock = ManualClock::new(UnixTime(START));
        let replay = Arc::new(InMemoryReplayStore::new());
        let verifier = Verifier::builder(fetcher.clone(), replay.clone())
            .clock(Arc::new(clock.clone()))
            .issuer(dev.issuer_config(AUDIENCE))
            .build()
            .expect("valid configuration");
        Fixture {
            dev,
            fetcher,
            clock,
            replay,
            verifier,
        }
    }

    pub fn es256() -> Self {
        Self::new(DevKeyAlgorithm::Es256)
    }

    pub fn request() -> DevTokenRequest {
        DevTokenRequest::new(
            "octo-org/octo-repo",
            ".github/workflows/release.yml",
            "refs/heads/main",
        )
    }

    pub fn mint(&self) -> String {
        self.dev
            .mint(&Self::request(), self.clock.now())
            .expect("mint")
    }

    /// Claims of a fresh token, for tests that change one claim and re-sign.
    pub fn claims(&self) -> Value {
        self.dev
            .claims_for(&Self::request(), self.clock.now())
            .expect("claims")
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.dev
            .sign_claims(claims, Some(self.dev.kid()))
            .expect("sign")
    }

    pub fn jwks_requests(&self) -> usize {
        self.fetcher.requests(&self.dev.jwks_url())
    }
}

pub fn serve(fetcher: &MemoryFetcher, dev: &DevIssuer) {
    fetcher.put(&dev.discovery_url(), dev.discovery_document());
    fetcher.put(&dev.jwks_url(), dev.jwks());
}

pub fn set(claims: &mut Value, name: &str, value: Value) {
    if let Value::Object(m) = claims {
        m.insert(name.to_owned(), value);
    }
}

pub fn remove(claims: &mut Value, name: &str) {
    if let Value::Object(m) = claims {
        m.remove(name);
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
