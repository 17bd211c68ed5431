//! `BlobStore`: content addressing, one-pass hashes, idempotence, the size cap and corruption detection, on local disk, in memory and on S3 (SeaweedFS).
//!
//! Each contract is one `check_*` function, run by one test per backend set: local
//! disk and memory in their own tests, all of them on one S3 server in `blobs_on_s3`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::sync::Arc;

use sha2::{Digest, Sha256};
use vouch_store::blobs::{blob_key, bundle_key, BlobError, BlobStore, DEFAULT_MAX_BLOB_SIZE};
use vouch_store::{LocalDir, ObjectKey, Objects, RemoteObjects};

fn backends() -> Vec<(Arc<dyn Objects>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalDir::create(dir.path().join("objects")).unwrap();
    vec![
        (Arc::new(local), Some(dir)),
        (Arc::new(RemoteObjects::memory()), None),
    ]
}

#[tokio::test]
async fn put_hashes_in_one_pass_and_is_idempotent() {
    for (objects, _dir) in backends() {
        check_put_hashes_in_one_pass_and_is_idempotent(objects).await;
    }
}

async fn check_put_hashes_in_one_pass_and_is_idempotent(objects: Arc<dyn Objects>) {
    {
        let blobs = BlobStore::new(objects.clone(), DEFAULT_MAX_BLOB_SIZE);
        // Larger than one read chunk, so hashing spans chunks.
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        let info = blobs.put_bytes(&data).await.unwrap();
        assert_eq!(info.size, data.len() as u64);
        assert_eq!(&info.blake3, blake3::hash(&data).as_bytes());
        assert_eq!(info.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(
            info.key().as_str(),
            format!("blobs/{}", hex::encode(info.blake3))
        );
        assert_eq!(info.key(), blob_key(&info.blake3));
        assert_eq!(
            bundle_key(&info.blake3).as_str(),
            format!("blobs/{}.sigstore", hex::encode(info.blake3))
        );
        // Same content again: same key, no error.
        assert_eq!(blobs.put_reader(&data[..]).await.unwrap(), info);
        assert_eq!(blobs.get(&info.blake3).await.unwrap().unwrap(), data);
        assert!(blobs.exists(&info.blake3).await.unwrap());
        assert!(!blobs.exists(&[0; 32]).await.unwrap());
        assert_eq!(blobs.get(&[0; 32]).await.unwrap(), None);
        // The empty blob is a blob too.
        let empty = blobs.put_bytes(b"").await.unwrap();
        assert_eq!(empty.size, 0);
        assert_eq!(&empty.blake3, blake3::hash(b"").as_bytes());
    }
}

#[tokio::test]
async fn put_file_streams_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("artifact.tar.zst");
    std::fs::write(&path, b"archive bytes").unwrap();
    let blobs = BlobStore::new(Arc::new(RemoteObjects::memory()), 1024);
    let info = blobs.put_file(&path).await.unwrap();
    assert_eq!(&info.blake3, blake3::hash(b"archive bytes").as_bytes());
    let err = blobs
        .put_file(&dir.path().join("missing"))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Open { .. }), "{err:?}");
    assert_eq!(err.code(), "BLOB_E003");
}

#[tokio::test]
async fn blob_and_bundle_stored_together() {
    for (objects, _dir) in backends() {
        check_blob_and_bundle_stored_together(objects).await;
    }
}

async fn check_blob_and_bundle_stored_together(objects: Arc<dyn Objects>) {
    {
        let blobs = BlobStore::new(objects.clone(), 1000);
        let data = bytes::Bytes::from_static(b"archive bytes");
        let bundle = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
        let (info, key) = blobs
            .put_bytes_with_bundle(data.clone(), bundle)
            .await
            .unwrap();
        assert_eq!(&info.blake3, blake3::hash(&data).as_bytes());
        assert_eq!(info.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(info.size, data.len() as u64);
        assert_eq!(key, vouch_store::blobs::content_bundle_key(bundle));
        assert_eq!(blobs.get(&info.blake3).await.unwrap().unwrap(), data);
        assert_eq!(
            blobs.get_bundle(&key).await.unwrap().unwrap(),
            bundle.as_slice()
        );

        // Over the cap, the blob or the bundle: nothing is stored.
        let big = bytes::Bytes::from(vec![1u8; 1001]);
        let err = blobs
            .put_bytes_with_bundle(big.clone(), bundle)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BlobError::TooLarge {
                    limit: 1000,
                    read: 1001
                }
            ),
            "{err:?}"
        );
        assert!(!blobs.exists(blake3::hash(&big).as_bytes()).await.unwrap());
        let small = bytes::Bytes::from_static(b"other archive");
        let err = blobs
            .put_bytes_with_bundle(small.clone(), &[b' '; 1001])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BlobError::TooLarge {
                    limit: 1000,
                    read: 1001
                }
            ),
            "{err:?}"
        );
        assert!(!blobs.exists(blake3::hash(&small).as_bytes()).await.unwrap());
    }
}

#[tokio::test]
async fn size_cap_stores_nothing() {
    for (objects, _dir) in backends() {
        check_size_cap_stores_nothing(objects).await;
    }
}

async fn check_size_cap_stores_nothing(objects: Arc<dyn Objects>) {
    let blobs = BlobStore::new(objects.clone(), 100);
    assert_eq!(blobs.max_size(), 100);
    blobs.put_bytes(&[7; 100]).await.unwrap();
    let over = [8u8; 101];
    let err = blobs.put_bytes(&over).await.unwrap_err();
    assert!(
        matches!(err, BlobError::TooLarge { limit: 100, read } if read > 100),
        "{err:?}"
    );
    assert_eq!(err.code(), "BLOB_E001");
    let key = blob_key(blake3::hash(&over).as_bytes());
    assert_eq!(objects.get(&key).await.unwrap(), None);
}

#[tokio::test]
async fn read_errors_are_typed() {
    struct Failing;
    impl tokio::io::AsyncRead for Failing {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Err(std::io::Error::other("boom")))
        }
    }
    let blobs = BlobStore::new(Arc::new(RemoteObjects::memory()), 100);
    let err = blobs.put_reader(Failing).await.unwrap_err();
    assert!(matches!(err, BlobError::Read { .. }), "{err:?}");
    assert_eq!(err.code(), "BLOB_E002");
}

#[tokio::test]
async fn corrupted_blob_is_detected_on_read() {
    for (objects, _dir) in backends() {
        check_corrupted_blob_is_detected_on_read(objects).await;
    }
}

async fn check_corrupted_blob_is_detected_on_read(objects: Arc<dyn Objects>) {
    let blobs = BlobStore::new(objects.clone(), 1024);
    let info = blobs.put_bytes(b"genuine").await.unwrap();
    objects
        .put(&info.key(), bytes::Bytes::from_static(b"tampered"))
        .await
        .unwrap();
    let err = blobs.get(&info.blake3).await.unwrap_err();
    assert!(matches!(err, BlobError::Corrupt { .. }), "{err:?}");
    assert_eq!(err.code(), "BLOB_E005");
    // Keys are valid object keys for every digest.
    ObjectKey::new(blob_key(&[0xff; 32]).as_str()).unwrap();
}

/// Every blob contract above on a real S3 server, each under its own key prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blobs_on_s3() {
    let s3 = vouch_testkit::seaweed::SeaweedFs::start().await;
    let store = |prefix: &str| -> Arc<dyn Objects> {
        let mut o = vouch_store::S3Options::new(vouch_testkit::seaweed::BUCKET);
        o.endpoint = Some(s3.endpoint());
        o.region = Some(vouch_testkit::seaweed::REGION.into());
        o.prefix = prefix.into();
        o.allow_http = true;
        o.credentials = Some((
            vouch_testkit::seaweed::ACCESS_KEY.into(),
            vouch_testkit::seaweed::SECRET_KEY.into(),
        ));
        Arc::new(RemoteObjects::s3(&o).unwrap())
    };
    check_put_hashes_in_one_pass_and_is_idempotent(store("idempotent")).await;
    check_blob_and_bundle_stored_together(store("bundle")).await;
    check_size_cap_stores_nothing(store("cap")).await;
    check_corrupted_blob_is_detected_on_read(store("corrupt")).await;
}
