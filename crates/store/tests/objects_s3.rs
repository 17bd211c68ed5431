//! The `Objects` contract on a real S3 server (SeaweedFS, started by `vouch-testkit`),
//! and S3 faults through a proxy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use vouch_store::{ObjectKey, Objects, RemoteObjects, S3Options};
use vouch_testkit::proxy::{Fault, FaultyProxy};
use vouch_testkit::seaweed::{self, SeaweedFs};

fn options(endpoint: &str, prefix: &str) -> S3Options {
    let mut o = S3Options::new(seaweed::BUCKET);
    o.endpoint = Some(endpoint.to_string());
    o.region = Some(seaweed::REGION.to_string());
    o.prefix = prefix.to_string();
    o.allow_http = true;
    o.credentials = Some((seaweed::ACCESS_KEY.into(), seaweed::SECRET_KEY.into()));
    o
}

fn store(endpoint: &str, prefix: &str) -> Arc<dyn Objects> {
    Arc::new(RemoteObjects::s3(&options(endpoint, prefix)).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_create_if_absent_smoke() {
    let t = Instant::now();
    let s3 = SeaweedFs::start().await;
    eprintln!("started in {:?}", t.elapsed());
    vouch_store::check_create_if_absent(store(&s3.endpoint(), "race")).await;
}
