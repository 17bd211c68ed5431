//! The test server starts and checks signatures; the proxy forwards and injects faults.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::time::Instant;

use object_store::path::Path;
use object_store::{ClientOptions, ObjectStoreExt, PutPayload, RetryConfig};
use vouch_testkit::proxy::{Fault, FaultyProxy};
use vouch_testkit::seaweed::{self, SeaweedFs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_signs_and_proxy_injects() {
    let t = Instant::now();
    let s3 = SeaweedFs::start().await;
    eprintln!("SeaweedFS ready in {:?}", t.elapsed());
    let key = Path::from("k");
    s3.client()
        .put(&key, PutPayload::from_static(b"v"))
        .await
        .unwrap();

    // A wrong secret is refused: requests really are signed and checked.
    let forged = s3
        .builder()
        .with_secret_access_key("not-the-secret")
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    let err = forged.get(&key).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");

    // Through the proxy: forwarded with the signature intact, then a fault, then healed.
    let proxy = FaultyProxy::start(s3.s3_port()).await.unwrap();
    let via = s3
        .builder_at(&proxy.endpoint())
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        })
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .build()
        .unwrap();
    let got = via.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"v");
    proxy.fail_next(1, Fault::Status(503));
    let err = via.get(&key).await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert!(via.get(&key).await.is_ok());
    assert_eq!((proxy.requests(), proxy.faulted()), (3, 1));
    assert_eq!(seaweed::BUCKET, "vouch");
}
