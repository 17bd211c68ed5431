//! The reqwest fetcher against a real loopback HTTP server: status, size cap, no redirects,
//! the transport policy, and the whole verifier fetching a dev issuer's documents over HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;
use vouch_oidc::Clock as _;
use vouch_oidc::{
    DevIssuer, DevKeyAlgorithm, DevTokenRequest, FetchError, InMemoryReplayStore, JwksFetcher,
    ReqwestFetcher, SystemClock, TransportPolicy, Verifier, MAX_DOCUMENT_BYTES,
};

/// Binds an ephemeral loopback port and returns it with its base URL.
async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, base)
}

/// Serves canned responses by path, one request per connection, until the test ends.
fn spawn_server(listener: TcpListener, routes: HashMap<String, Vec<u8>>) {
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let response = routes.get(&path).cloned().unwrap_or_else(|| {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                });
                let _ = socket.write_all(&response).await;
                let _ = socket.shutdown().await;
            });
        }
    });
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

fn ok_without_length(body: &[u8]) -> Vec<u8> {
    let mut r = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    r.extend_from_slice(body);
    r
}

#[tokio::test]
async fn fetches_and_enforces_limits() {
    let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
    let routes = HashMap::from([
        ("/ok".to_owned(), ok(b"{\"a\":1}")),
        ("/big".to_owned(), ok(&big)),
        ("/big-unannounced".to_owned(), ok_without_length(&big)),
        ("/redirect".to_owned(), b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()),
    ]);
    let (listener, base) = bind().await;
    spawn_server(listener, routes);
    let fetcher = ReqwestFetcher::new(TransportPolicy::AllowLoopbackHttp).expect("client");
    let url = |p: &str| Url::parse(&format!("{base}{p}")).expect("url");

    assert_eq!(
        fetcher.fetch(&url("/ok")).await.ok(),
        Some(b"{\"a\":1}".to_vec())
    );
    assert!(matches!(
        fetcher.fetch(&url("/big")).await,
        Err(FetchError::TooLarge { .. })
    ));
    assert!(matches!(
        fetcher.fetch(&url("/big-unannounced")).await,
        Err(FetchError::TooLarge { .. })
    ));
    assert!(matches!(
        fetcher.fetch(&url("/redirect")).await,
        Err(FetchError::Status { status: 302 })
    ));
    assert!(matches!(
        fetcher.fetch(&url("/missing")).await,
        Err(FetchError::Status { status: 404 })
    ));

    let strict = ReqwestFetcher::new(TransportPolicy::HttpsOnly).expect("client");
    assert!(matches!(
        strict.fetch(&url("/ok")).await,
        Err(FetchError::Transport { .. })
    ));
}

#[tokio::test]
async fn verifier_fetches_a_dev_issuer_over_http() {
    // Bind first: the port is part of the issuer URL.
    let (listener, issuer) = bind().await;
    let dev = DevIssuer::generate(&issuer, DevKeyAlgorithm::Es256).expect("key");
    let routes = HashMap::from([
        (
            "/.well-known/openid-configuration".to_owned(),
            ok(dev.discovery_document().as_bytes()),
        ),
        (
            "/.well-known/jwks.json".to_owned(),
            ok(dev.jwks().as_bytes()),
        ),
    ]);
    spawn_server(listener, routes);
    let verifier = Verifier::builder(
        Arc::new(ReqwestFetcher::new(TransportPolicy::AllowLoopbackHttp).expect("client")),
        Arc::new(InMemoryReplayStore::new()),
    )
    .transport_policy(TransportPolicy::AllowLoopbackHttp)
    .issuer(dev.issuer_config("sigstore"))
    .build()
    .expect("config");
    let request = DevTokenRequest::new(
        "octo-org/octo-repo",
        ".github/workflows/release.yml",
        "refs/heads/main",
    );
    let token = dev.mint(&request, SystemClock.now()).expect("mint");
    let verified = verifier.verify(&token).await.expect("verified over HTTP");
    assert_eq!(
        verified.identity.san.value(),
        "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main"
    );
}
