//! Every bad-input case of issue 4's `oidc` part, each asserting its error variant and code.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod common;

use std::sync::Arc;
use vouch_oidc::Clock as _;

use aws_lc_rs::hmac;
use common::{b64, remove, set, Fixture, AUDIENCE, ISSUER};
use serde_json::json;
use vouch_oidc::{
    DevIssuer, DevKeyAlgorithm, IssuerConfig, Malformation, MemoryFetcher, OidcError, Provider,
    TokenPart, Verifier, MAX_TOKEN_BYTES,
};

async fn refused(f: &Fixture, token: &str) -> OidcError {
    match f.verifier.verify(token).await {
        Ok(v) => panic!("token accepted: {:?}", v.identity.san),
        Err(e) => e,
    }
}

#[tokio::test]
async fn expired_token_is_refused_after_leeway() {
    let f = Fixture::es256();
    let token = f.mint();
    f.clock.advance(300 + 61);
    let err = refused(&f, &token).await;
    assert!(
        matches!(
            err,
            OidcError::Expired {
                leeway_secs: 60,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "OIDC_E011");
}

#[tokio::test]
async fn expired_within_leeway_is_accepted() {
    let f = Fixture::es256();
    let token = f.mint();
    f.clock.advance(300 + 60);
    assert!(f.verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn not_yet_valid_nbf_is_refused() {
    let f = Fixture::es256();
    let mut claims = f.claims();
    set(&mut claims, "nbf", json!(common::START + 61));
    let err = refused(&f, &f.sign(&claims)).await;
    assert!(matches!(err, OidcError::NotYetValid { .. }), "{err:?}");
    assert_eq!(err.code(), "OIDC_E012");
}

#[tokio::test]
async fn iat_in_future_is_refused() {
    let f = Fixture::es256();
    let mut claims = f.claims();
    set(&mut claims, "iat", json!(common::START + 3600));
    remove(&mut claims, "nbf");
    let err = refused(&f, &f.sign(&claims)).await;
    assert!(matches!(err, OidcError::IssuedInFuture { .. }), "{err:?}");
    assert_eq!(err.code(), "OIDC_E013");
}

#[tokio::test]
async fn other_audience_is_refused() {
    let f = Fixture::es256();
    let token = f
        .dev
        .mint(&Fixture::request().with_audience("other"), f.clock.now())
        .expect("mint");
    let err = refused(&f, &token).await;
    assert!(
        matches!(&err, OidcError::WrongAudience { expected, found } if expected == AUDIENCE && found == "other")
    );
    assert_eq!(err.code(), "OIDC_E009");
}

#[tokio::test]
async fn array_audience_is_refused_even_with_one_element() {
    let f = Fixture::es256();
    for aud in [json!([AUDIENCE]), json!([AUDIENCE, "other"])] {
        let mut claims = f.claims();
        let len = aud.as_array().map_or(0, Vec::len);
        set(&mut claims, "aud", aud);
        let err = refused(&f, &f.sign(&claims)).await;
        assert!(
            matches!(err, OidcError::AudienceArray { len: l } if l == len),
            "{err:?}"
        );
        assert_eq!(err.code(), "OIDC_E010");
    }
}

#[tokio::test]
async fn alg_none_is_refused_without_fetching() {
    let f = Fixture::es256();
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(f.claims().to_string().as_bytes());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.AAAA"),
    ] {
        let err = refused(&f, &token).await;
        assert!(
            matches!(&err, OidcError::UnsupportedAlgorithm { found } if found == "none"),
            "{err:?}"
        );
        assert_eq!(err.code(), "OIDC_E003");
    }
    assert_eq!(f.fetcher.total_requests(), 0);
}

/// The algorithm-confusion attack: HS256 with the issuer's public key (as JWKS text, and as the
/// raw EC point) used as the HMAC secret.
#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    let f = Fixture::es256();
    let jwks = f.dev.jwks();
    let jwk: serde_json::Value = serde_json::from_str(&jwks).expect("json");
    let x = jwk["keys"][0]["x"].as_str().expect("x").to_owned();
    let secrets: Vec<Vec<u8>> = vec![jwks.into_bytes(), x.into_bytes()];
    for secret in secrets {
        for alg in ["HS256", "HS384", "HS512"] {
            let header = b64(format!(r#"{{"alg":"{alg}","kid":"{}"}}"#, f.dev.kid()).as_bytes());
            let payload = b64(f.claims().to_string().as_bytes());
            let input = format!("{header}.{payload}");
            let tag = hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, &secret),
                input.as_bytes(),
            );
            let token = format!("{input}.{}", b64(tag.as_ref()));
            let err = refused(&f, &token).await;
            assert!(
                matches!(&err, OidcError::UnsupportedAlgorithm { found } if found == alg),
                "{err:?}"
            );
        }
    }
}

#[tokio::test]
async fn header_alg_not_matching_the_key_type_is_refused() {
    let f = Fixture::es256();
    // RS256 header naming the EC key: the key type decides, never the header.
    let header = b64(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, f.dev.kid()).as_bytes());
    let token = format!(
        "{header}.{}.{}",
        b64(f.claims().to_string().as_bytes()),
        b64(&[7; 256])
    );
    let err = refused(&f, &token).await;
    assert!(
        matches!(&err, OidcError::KeyAlgorithmMismatch { expected, .. } if expected == "RS256"),
        "{err:?}"
    );
    assert_eq!(err.code(), "OIDC_E007");
}

#[tokio::test]
async fn tampered_payload_fails_the_signature() {
    let f = Fixture::es256();
    let token = f.mint();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = f.claims();
    set(&mut claims, "repository", json!("evil/repo"));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    let err = refused(&f, &forged).await;
    assert!(matches!(err, OidcError::BadSignature), "{err:?}");
    assert_eq!(err.code(), "OIDC_E008");
}

#[tokio::test]
async fn unknown_kid_refetches_once_per_minute_then_refuses() {
    let f = Fixture::es256();
    assert!(f.verifier.verify(&f.mint()).await.is_ok());
    assert_eq!(f.jwks_requests(), 1);

    // Within the minute of the first fetch: no refetch.
    let unknown = f
        .dev
        .sign_claims(&f.claims(), Some("rotated-away"))
        .expect("sign");
    let err = refused(&f, &unknown).await;
    assert!(
        matches!(&err, OidcError::UnknownKey { kid: Some(k), .. } if k == "rotated-away"),
        "{err:?}"
    );
    assert_eq!(err.code(), "OIDC_E006");
    assert_eq!(f.jwks_requests(), 1);

    // A minute later: exactly one refetch, still unknown, refused.
    f.clock.advance(61);
    let again = f
        .dev
        .sign_claims(&f.claims(), Some("rotated-away"))
        .expect("sign");
    assert!(matches!(
        refused(&f, &again).await,
        OidcError::UnknownKey { .. }
    ));
    assert_eq!(f.jwks_requests(), 2);

    // A flood of unknown kids within that minute causes no further fetch.
    for i in 0..20 {
        let t = f
            .dev
            .sign_claims(&f.claims(), Some(&format!("made-up-{i}")))
            .expect("sign");
        assert!(matches!(
            refused(&f, &t).await,
            OidcError::UnknownKey { .. }
        ));
    }
    assert_eq!(f.jwks_requests(), 2);
}

#[tokio::test]
async fn key_rotation_is_picked_up_by_the_refetch() {
    let f = Fixture::es256();
    assert!(f.verifier.verify(&f.mint()).await.is_ok());
    // The issuer rotates to a new key.
    let rotated = DevIssuer::generate(ISSUER, DevKeyAlgorithm::Es256).expect("key");
    common::serve(&f.fetcher, &rotated);
    f.clock.advance(61);
    let token = rotated
        .mint(&Fixture::request(), f.clock.now())
        .expect("mint");
    assert!(f.verifier.verify(&token).await.is_ok());
    assert_eq!(f.jwks_requests(), 2);
}

#[tokio::test]
async fn replayed_jti_is_refused() {
    let f = Fixture::es256();
    let token = f.mint();
    assert!(f.verifier.verify(&token).await.is_ok());
    let err = refused(&f, &token).await;
    assert!(matches!(err, OidcError::Replayed { .. }), "{err:?}");
    assert_eq!(err.code(), "OIDC_E016");
    // A different token with the same jti is a replay too.
    let mut claims = f.claims();
    let jti = token_jti(&token);
    set(&mut claims, "jti", json!(jti));
    assert!(matches!(
        refused(&f, &f.sign(&claims)).await,
        OidcError::Replayed { .. }
    ));
}

fn token_jti(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = vouch_oidc_test_b64_decode(payload);
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    v["jti"].as_str().expect("jti").to_owned()
}

fn vouch_oidc_test_b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("b64")
}

#[tokio::test]
async fn missing_jti_is_refused_unless_allowed() {
    let f = Fixture::es256();
    let mut claims = f.claims();
    remove(&mut claims, "jti");
    let token = f.sign(&claims);
    let err = refused(&f, &token).await;
    assert!(
        matches!(&err, OidcError::MissingClaim { claim } if claim == "jti"),
        "{err:?}"
    );
    assert_eq!(err.code(), "OIDC_E014");

    let lax = Verifier::builder(f.fetcher.clone(), f.replay.clone())
        .clock(Arc::new(f.clock.clone()))
        .issuer(f.dev.issuer_config(AUDIENCE).allow_missing_jti())
        .build()
        .expect("config");
    assert!(lax.verify(&token).await.is_ok());
    // Without a jti the token's digest is the replay key: the same token is still refused.
    let err = lax.verify(&token).await.expect_err("replay");
    assert!(
        matches!(&err, OidcError::Replayed { jti } if jti.starts_with("sha256:")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unconfigured_issuer_is_refused_without_fetching() {
    let f = Fixture::es256();
    let other = DevIssuer::generate("https://elsewhere.test", DevKeyAlgorithm::Es256).expect("key");
    common::serve(&f.fetcher, &other);
    let token = other
        .mint(&Fixture::request(), f.clock.now())
        .expect("mint");
    let err = refused(&f, &token).await;
    assert!(
        matches!(&err, OidcError::UnconfiguredIssuer { issuer } if issuer == "https://elsewhere.test")
    );
    assert_eq!(err.code(), "OIDC_E005");
    assert_eq!(f.fetcher.total_requests(), 0);
}

#[tokio::test]
async fn malformed_segments_are_refused() {
    let f = Fixture::es256();
    let good = f.mint();
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        (String::new(), TokenPart::Token),
        (parts[..2].join("."), TokenPart::Token),
        (format!("{good}.extra"), TokenPart::Token),
        (
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            TokenPart::Header,
        ),
        (
            format!("{}.{}!.{}", parts[0], parts[1], parts[2]),
            TokenPart::Payload,
        ),
        (
            format!("{}.{}.{}", parts[0], parts[1], "a+b/"),
            TokenPart::Signature,
        ),
        (format!("{}..{}", parts[0], parts[2]), TokenPart::Payload),
        (
            format!("{}.{}.{}", b64(b"[1]"), parts[1], parts[2]),
            TokenPart::Header,
        ),
        (
            format!("{}.{}.{}", parts[0], b64(b"\"str\""), parts[2]),
            TokenPart::Payload,
        ),
    ];
    for (token, part) in cases {
        let err = refused(&f, &token).await;
        assert!(
            matches!(&err, OidcError::Malformed { part: p, .. } if *p == part),
            "{token:?}: {err:?}"
        );
        assert_eq!(err.code(), "OIDC_E002");
    }
    // An ES256 signature that is not 64 bytes.
    let short = format!("{}.{}.{}", parts[0], parts[1], b64(&[1; 70]));
    assert!(matches!(
        refused(&f, &short).await,
        OidcError::Malformed {
            part: TokenPart::Signature,
            problem: Malformation::SignatureLength {
                expected: 64,
                found: 70
            }
        }
    ));
}

#[tokio::test]
async fn oversized_token_is_refused() {
    let f = Fixture::es256();
    let mut claims = f.claims();
    set(&mut claims, "padding", json!("x".repeat(MAX_TOKEN_BYTES)));
    let err = refused(&f, &f.sign(&claims)).await;
    assert!(
        matches!(
            err,
            OidcError::TokenTooLarge {
                limit: MAX_TOKEN_BYTES,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "OIDC_E001");
    assert_eq!(f.fetcher.total_requests(), 0);
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let f = Fixture::es256();
    f.fetcher.put(
        &f.dev.discovery_url(),
        json!({"issuer": "https://evil.test", "jwks_uri": f.dev.jwks_url()}).to_string(),
    );
    let err = refused(&f, &f.mint()).await;
    assert!(matches!(err, OidcError::InvalidDiscovery { .. }), "{err:?}");
    assert_eq!(err.code(), "OIDC_E018");
}

#[tokio::test]
async fn plain_http_jwks_uri_is_refused() {
    let f = Fixture::es256();
    f.fetcher.put(
        &f.dev.discovery_url(),
        json!({"issuer": ISSUER, "jwks_uri": "http://keys.example/jwks"}).to_string(),
    );
    let err = refused(&f, &f.mint()).await;
    assert!(matches!(err, OidcError::InsecureUrl { .. }), "{err:?}");
    assert_eq!(err.code(), "OIDC_E021");
}

#[tokio::test]
async fn unreachable_issuer_is_fetched_at_most_once_a_minute() {
    let f = Fixture::es256();
    f.fetcher.remove(&f.dev.discovery_url());
    let err = refused(&f, &f.mint()).await;
    assert!(matches!(err, OidcError::Fetch { .. }), "{err:?}");
    assert_eq!(err.code(), "OIDC_E017");
    let err = refused(&f, &f.mint()).await;
    assert!(
        matches!(
            err,
            OidcError::KeysUnavailable {
                interval_secs: 60,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "OIDC_E020");
    assert_eq!(f.fetcher.requests(&f.dev.discovery_url()), 1);
    common::serve(&f.fetcher, &f.dev);
    f.clock.advance(60);
    assert!(f.verifier.verify(&f.mint()).await.is_ok());
}

#[tokio::test]
async fn replay_store_failure_refuses_the_token() {
    struct Broken;
    impl vouch_oidc::ReplayStore for Broken {
        fn insert_if_absent<'a>(
            &'a self,
            _key: &'a vouch_oidc::ReplayKey,
            _expires_at: vouch_oidc::UnixTime,
            _now: vouch_oidc::UnixTime,
        ) -> vouch_oidc::BoxFuture<'a, Result<vouch_oidc::Insertion, vouch_oidc::ReplayStoreError>>
        {
            Box::pin(async { Err("database unavailable".into()) })
        }
    }
    let f = Fixture::es256();
    let verifier = Verifier::builder(f.fetcher.clone(), Arc::new(Broken))
        .clock(Arc::new(f.clock.clone()))
        .issuer(f.dev.issuer_config(AUDIENCE))
        .build()
        .expect("config");
    let err = verifier
        .verify(&f.mint())
        .await
        .expect_err("must fail closed");
    assert!(matches!(err, OidcError::ReplayStore { .. }));
    assert_eq!(err.code(), "OIDC_E022");
}

#[test]
fn configuration_is_checked() {
    let fetcher = Arc::new(MemoryFetcher::new());
    let replay = Arc::new(vouch_oidc::InMemoryReplayStore::new());
    let build = |issuers: Vec<IssuerConfig>| {
        let mut b = Verifier::builder(fetcher.clone(), replay.clone());
        for i in issuers {
            b = b.issuer(i);
        }
        b.build()
    };
    assert!(matches!(build(vec![]), Err(OidcError::Config { .. })));
    assert!(matches!(
        build(vec![IssuerConfig::new(
            "http://127.0.0.1:9",
            Provider::github(),
            "a"
        )]),
        Err(OidcError::InsecureUrl { .. })
    ));
    assert!(matches!(
        build(vec![
            IssuerConfig::github_actions("a"),
            IssuerConfig::github_actions("b")
        ]),
        Err(OidcError::Config { .. })
    ));
    assert!(matches!(
        build(vec![IssuerConfig::github_actions("")]),
        Err(OidcError::Config { .. })
    ));
    assert!(build(vec![
        IssuerConfig::github_actions("sigstore"),
        IssuerConfig::gitlab_com("sigstore")
    ])
    .is_ok());
    let dev = Verifier::builder(fetcher, replay)
        .transport_policy(vouch_oidc::TransportPolicy::AllowLoopbackHttp)
        .issuer(IssuerConfig::new(
            "http://127.0.0.1:9",
            Provider::github(),
            "a",
        ))
        .build();
    assert!(dev.is_ok());
}
