//! Key-cache behaviour over time: hourly refresh, stale keys kept when a refresh fails, and the
//! verifier's futures being `Send` (the server runs them on a multi-threaded runtime).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod common;

use common::Fixture;
use vouch_oidc::Clock as _;
use vouch_oidc::JWKS_MAX_AGE_SECS;

#[tokio::test]
async fn keys_are_refreshed_after_max_age() {
    let f = Fixture::es256();
    assert!(f.verifier.verify(&f.mint()).await.is_ok());
    f.clock.advance(JWKS_MAX_AGE_SECS - 1);
    assert!(f.verifier.verify(&f.mint()).await.is_ok());
    assert_eq!(f.jwks_requests(), 1);
    f.clock.advance(1);
    assert!(f.verifier.verify(&f.mint()).await.is_ok());
    assert_eq!(f.jwks_requests(), 2);
}

#[tokio::test]
async fn failed_refresh_keeps_the_cached_keys() {
    let f = Fixture::es256();
    assert!(f.verifier.verify(&f.mint()).await.is_ok());
    f.fetcher.remove(&f.dev.jwks_url());
    f.clock.advance(JWKS_MAX_AGE_SECS);
    let token = f
        .dev
        .mint(&Fixture::request(), f.clock.now())
        .expect("mint");
    assert!(f.verifier.verify(&token).await.is_ok());
    assert_eq!(f.jwks_requests(), 2, "the refresh was attempted");
}

#[test]
fn verifier_and_issuer_can_be_shared_across_tasks() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let f = Fixture::es256();
    send_sync(&f.verifier);
    send_sync(&f.dev);
    send(f.verifier.verify("x"));
}
