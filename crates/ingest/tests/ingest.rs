//! Ingest against a local fake forge: listing and hashing for the GitHub, Gitea and
//! GitLab shapes, the hash budget, forges that lie about sizes, assets that change
//! between listing and download, oversize JSON, and immutability on re-listing.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod support;

use serde_json::json;
use support::{asset_json, bytes, release_json, sha256_hex, FakeForge, Reply};
use vouch_ingest::immutability::{compare_hashed, diff_listing};
use vouch_ingest::{
    Change, ForgeKind, HashBudget, HashOutcome, Limits, RepoRef, SkipReason, StoredAsset,
};

fn repo() -> RepoRef {
    RepoRef::parse("acme/widget").unwrap()
}

fn budget_mib(n: u64) -> HashBudget {
    HashBudget::new(n << 20).unwrap()
}

fn hashed(outcome: HashOutcome) -> vouch_ingest::Digests {
    match outcome {
        HashOutcome::Hashed(d) => d,
        other => panic!("expected Hashed, found {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_shape_lists_and_hashes() {
    let forge = FakeForge::start().await;
    let a = bytes(3 << 20, 1); // spans several hash chunks
    let b = b"checksums\n".to_vec();
    let mut listed_b = asset_json(
        "SHA256SUMS",
        b.len() as u64,
        &forge.url("/dl/v1/SHA256SUMS"),
    );
    listed_b["digest"] = json!(format!("sha256:{}", sha256_hex(&b)));
    forge.route(
        "/repos/acme/widget/releases",
        Reply::json(&json!([
            release_json(11, "v1.0.0", &[
                asset_json("widget.tar.gz", a.len() as u64, &forge.url("/dl/v1/widget.tar.gz")),
                listed_b,
            ]),
            {"id": 12, "tag_name": "v2-draft", "draft": true, "assets": []},
        ])),
    );
    forge.route("/dl/v1/widget.tar.gz", Reply::ok(a.clone()));
    // Chunked framing: no Content-Length, the size is checked by counting.
    forge.route("/dl/v1/SHA256SUMS", Reply::ok(b.clone()).chunked());

    let fetcher = forge.fetcher(ForgeKind::GitHub);
    let releases = fetcher.list_releases(&repo()).await.unwrap();
    assert_eq!(releases.len(), 1, "drafts are left out");
    let r = &releases[0];
    assert_eq!((r.forge_id.as_str(), r.tag.as_str()), ("11", "v1.0.0"));
    assert_eq!(r.published_at.as_deref(), Some("2025-06-01T12:00:00Z"));
    assert_eq!(r.assets.len(), 2);

    let d = hashed(
        fetcher
            .hash_asset(&r.assets[0], HashBudget::default())
            .await
            .unwrap(),
    );
    assert_eq!(d.size, a.len() as u64);
    assert_eq!(hex::encode(d.sha256), sha256_hex(&a));
    assert_eq!(d.blake3, *blake3::hash(&a).as_bytes());
    let d = hashed(
        fetcher
            .hash_asset(&r.assets[1], HashBudget::default())
            .await
            .unwrap(),
    );
    assert_eq!(hex::encode(d.sha256), sha256_hex(&b));

    // The listing asked for a full page with GitHub's parameter names.
    let list_req = forge
        .requests()
        .into_iter()
        .find(|q| q.path == "/repos/acme/widget/releases")
        .unwrap();
    assert_eq!(list_req.query, "per_page=100&page=1");
    assert_eq!(
        list_req.header("accept"),
        Some("application/vnd.github+json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_shape_lists_pages_and_gets_by_tag() {
    let forge = FakeForge::start().await;
    let data = bytes(70_000, 9);
    let url = forge.url("/attachments/0b1c");
    // 50 releases on page 1 (Gitea's page size), one on page 2.
    let page1: Vec<_> = (0..50)
        .map(|i| release_json(100 + i, &format!("v0.{i}"), &[]))
        .collect();
    forge.route_fn("/api/v1/repos/acme/widget/releases", move |req, _| {
        if req.query.contains("page=1") {
            Reply::json(&json!(page1))
        } else {
            Reply::json(&json!([release_json(7, "v1.0", &[])]))
        }
    });
    let release = release_json(7, "v1.0", &[asset_json("w.zip", data.len() as u64, &url)]);
    forge.route(
        "/api/v1/repos/acme/widget/releases/tags/v1.0",
        Reply::json(&release),
    );
    forge.route("/attachments/0b1c", Reply::ok(data.clone()));

    let mut config = forge.config(ForgeKind::Gitea);
    config.token = Some(vouch_ingest::Secret::new("gitea-token-123"));
    let fetcher = vouch_ingest::Fetcher::with_resolver(
        config,
        std::sync::Arc::new(vouch_ingest::StaticResolver::new()),
    )
    .unwrap();
    let all = fetcher.list_releases(&repo()).await.unwrap();
    assert_eq!(all.len(), 51);
    let queries: Vec<String> = forge
        .requests()
        .iter()
        .filter(|q| q.path.ends_with("/releases"))
        .map(|q| q.query.clone())
        .collect();
    assert_eq!(queries, ["limit=50&page=1", "limit=50&page=2"]);

    let r = fetcher.release(&repo(), "v1.0").await.unwrap();
    let d = hashed(
        fetcher
            .hash_asset(&r.assets[0], HashBudget::default())
            .await
            .unwrap(),
    );
    assert_eq!(hex::encode(d.sha256), sha256_hex(&data));
    // Same origin as the API: the token goes along, in Gitea's form.
    for q in forge.requests() {
        assert_eq!(
            q.header("authorization"),
            Some("token gitea-token-123"),
            "{}",
            q.path
        );
    }

    let e = fetcher.release(&repo(), "v9.9").await.unwrap_err();
    assert_eq!(e.code(), "INGEST_E016", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_shape_hashes_links_without_listed_sizes() {
    let forge = FakeForge::start().await;
    let data = bytes(5000, 3);
    forge.route(
        "/api/v4/projects/group%2Fwidget/releases/v1",
        Reply::json(&json!({
            "tag_name": "v1", "name": "v1", "released_at": "2025-06-01T12:00:00Z",
            "assets": {"links": [{"name": "bin", "url": forge.url("/l/bin"),
                                  "direct_asset_url": forge.url("/group/widget/-/releases/v1/downloads/bin")}]}
        })),
    );
    forge.route(
        "/group/widget/-/releases/v1/downloads/bin",
        Reply::ok(data.clone()).chunked(),
    );
    let fetcher = forge.fetcher(ForgeKind::GitLab);
    let repo = RepoRef::parse("group/widget").unwrap();
    let r = fetcher.release(&repo, "v1").await.unwrap();
    assert_eq!(r.assets[0].size_claimed, None);
    let d = hashed(
        fetcher
            .hash_asset(&r.assets[0], HashBudget::default())
            .await
            .unwrap(),
    );
    assert_eq!(d.size, 5000);
    assert_eq!(hex::encode(d.sha256), sha256_hex(&data));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_budget_assets_are_skipped() {
    let forge = FakeForge::start().await;
    let big = bytes((1 << 20) + 1, 5);
    forge.route("/dl/listed", Reply::ok(big.clone()));
    forge.route("/dl/unlisted-length", Reply::ok(big.clone()));
    forge.route("/dl/unlisted-chunked", Reply::ok(big.clone()).chunked());
    let fetcher = forge.fetcher(ForgeKind::GitHub);
    let budget = budget_mib(1);

    // Listed over budget: skipped without a download.
    let asset = vouch_ingest::AssetRef {
        name: "big".into(),
        size_claimed: Some(big.len() as u64),
        download_url: forge.url("/dl/listed").parse().unwrap(),
        sha256_claimed: None,
    };
    let out = fetcher.hash_asset(&asset, budget).await.unwrap();
    assert_eq!(
        out,
        HashOutcome::Skipped {
            size: big.len() as u64,
            cap: 1 << 20,
            reason: SkipReason::OverHashBudget
        }
    );
    assert_eq!(forge.hits("/dl/listed"), 0);
    assert_eq!(SkipReason::OverHashBudget.as_str(), "over_hash_budget");

    // Unknown listed size (GitLab links): the Content-Length decides.
    let mut asset = asset.clone();
    asset.size_claimed = None;
    asset.download_url = forge.url("/dl/unlisted-length").parse().unwrap();
    let out = fetcher.hash_asset(&asset, budget).await.unwrap();
    assert!(matches!(out, HashOutcome::Skipped { size, .. } if size == big.len() as u64));

    // Neither: counted, stopped as soon as the budget is passed.
    asset.download_url = forge.url("/dl/unlisted-chunked").parse().unwrap();
    let out = fetcher.hash_asset(&asset, budget).await.unwrap();
    assert!(matches!(out, HashOutcome::Skipped { size, cap, .. } if size > cap && cap == 1 << 20));

    // Exactly at the budget is hashed.
    forge.route("/dl/exact", Reply::ok(big[..1 << 20].to_vec()));
    asset.size_claimed = Some(1 << 20);
    asset.download_url = forge.url("/dl/exact").parse().unwrap();
    hashed(fetcher.hash_asset(&asset, budget).await.unwrap());
}

fn listed(forge: &FakeForge, path: &str, size: u64) -> vouch_ingest::AssetRef {
    vouch_ingest::AssetRef {
        name: "asset.bin".into(),
        size_claimed: Some(size),
        download_url: forge.url(path).parse().unwrap(),
        sha256_claimed: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forges_lying_about_sizes_are_refused() {
    let forge = FakeForge::start().await;
    let data = bytes(2 << 20, 7);
    let fetcher = forge.fetcher(ForgeKind::GitHub);
    let budget = HashBudget::default();

    // Longer than listed (no Content-Length): refused as soon as it runs past.
    forge.route("/dl/longer", Reply::ok(data.clone()).chunked());
    let e = fetcher
        .hash_asset(&listed(&forge, "/dl/longer", 1000), budget)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INGEST_E012", "{e}");
    assert!(e.to_string().contains("more bytes than listed"), "{e}");

    // Shorter than listed.
    forge.route("/dl/shorter", Reply::ok(data[..500].to_vec()).chunked());
    let e = fetcher
        .hash_asset(&listed(&forge, "/dl/shorter", 1000), budget)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INGEST_E012", "{e}");
    assert!(
        e.to_string().contains("listed 1000 bytes, found 500"),
        "{e}"
    );

    // Content-Length disagrees with the listing: refused before reading the body.
    forge.route("/dl/cl", Reply::ok(data[..1200].to_vec()));
    let e = fetcher
        .hash_asset(&listed(&forge, "/dl/cl", 1000), budget)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INGEST_E013", "{e}");

    // Content-Length matches the listing but the connection delivers less.
    forge.route(
        "/dl/truncated",
        Reply::ok(data[..10].to_vec()).declared(1000),
    );
    let e = fetcher
        .hash_asset(&listed(&forge, "/dl/truncated", 1000), budget)
        .await
        .unwrap_err();
    assert!(["INGEST_E008", "INGEST_E012"].contains(&e.code()), "{e}");
    assert!(e.is_suspicious() || e.code() == "INGEST_E008");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_changing_between_listing_and_download_are_refused() {
    let forge = FakeForge::start().await;
    let original = bytes(4096, 1);
    let swapped = bytes(4096, 2); // same size, other bytes
    let mut a = asset_json("tool", 4096, &forge.url("/dl/tool"));
    a["digest"] = json!(format!("sha256:{}", sha256_hex(&original)));
    let grown = asset_json("data", 4096, &forge.url("/dl/data"));
    forge.route(
        "/repos/acme/widget/releases/tags/v1",
        Reply::json(&release_json(1, "v1", &[a, grown])),
    );
    forge.route("/dl/tool", Reply::ok(swapped));
    // The first download matches the listing; by the second the asset has grown.
    let first = original.clone();
    forge.route_fn("/dl/data", move |_, hit| {
        if hit == 0 {
            Reply::ok(first.clone())
        } else {
            Reply::ok(bytes(5000, 1)).chunked()
        }
    });
    let fetcher = forge.fetcher(ForgeKind::GitHub);
    let r = fetcher.release(&repo(), "v1").await.unwrap();

    // The listed digest catches a same-size swap.
    let e = fetcher
        .hash_asset(&r.assets[0], HashBudget::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INGEST_E014", "{e}");
    assert!(e.to_string().contains(&sha256_hex(&original)), "{e}");

    let d = hashed(
        fetcher
            .hash_asset(&r.assets[1], HashBudget::default())
            .await
            .unwrap(),
    );
    let e = fetcher
        .hash_asset(&r.assets[1], HashBudget::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INGEST_E012", "{e}");

    // Immutability: once stored, a re-listing with another size is a refused change,
    // and so is a re-hash with other bytes.
    let stored = vec![StoredAsset {
        name: "data".into(),
        size: d.size,
        sha256: Some(d.sha256),
    }];
    forge.route(
        "/repos/acme/widget/releases/tags/v1",
        Reply::json(&release_json(
            1,
            "v1",
            &[
                asset_json("data", 5000, &forge.url("/dl/data")),
                asset_json("new.sig", 10, &forge.url("/dl/new.sig")),
            ],
        )),
    );
    let relisted = fetcher.release(&repo(), "v1").await.unwrap();
    let changes = diff_listing(&stored, &relisted);
    assert!(matches!(&changes[0], Change::Changed { name, old, new }
        if name == "data" && old.size == Some(4096) && new.size == Some(5000)));
    assert!(changes[0].is_violation());
    assert_eq!(
        changes[1],
        Change::NewAsset {
            name: "new.sig".into()
        }
    );
    let rehash = HashOutcome::Hashed(vouch_ingest::Digests {
        size: 4096,
        sha256: [0; 32],
        blake3: [0; 32],
    });
    assert!(compare_hashed(&stored[0], &rehash).is_violation());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_json_is_refused() {
    let forge = FakeForge::start().await;
    // Over the default 4 MiB cap, announced by Content-Length.
    let huge = format!("[{}]", vec!["{\"id\":1}"; 600_000].join(","));
    assert!(huge.len() > 4 << 20);
    forge.route("/repos/acme/widget/releases", Reply::ok(huge.clone()));
    let fetcher = forge.fetcher(ForgeKind::GitHub);
    let e = fetcher.list_releases(&repo()).await.unwrap_err();
    assert_eq!(e.code(), "INGEST_E010", "{e}");

    // Chunked: no length announced, counted while streaming.
    forge.route("/repos/acme/widget/releases", Reply::ok(huge).chunked());
    let e = fetcher.list_releases(&repo()).await.unwrap_err();
    assert_eq!(e.code(), "INGEST_E010", "{e}");

    // A configured smaller cap applies too.
    let mut config = forge.config(ForgeKind::GitHub);
    config.limits = Limits {
        json_cap_bytes: 1024,
        ..Limits::default()
    };
    let small = vouch_ingest::Fetcher::with_resolver(
        config,
        std::sync::Arc::new(vouch_ingest::StaticResolver::new()),
    )
    .unwrap();
    let padded: Vec<_> = (0..40)
        .map(|i| release_json(i, &format!("v{i}"), &[]))
        .collect();
    forge.route(
        "/repos/acme/widget/releases",
        Reply::json(&json!(padded)).chunked(),
    );
    let e = small.list_releases(&repo()).await.unwrap_err();
    assert_eq!(e.code(), "INGEST_E010", "{e}");

    // Malformed JSON and error statuses are coded errors too.
    forge.route("/repos/acme/widget/releases", Reply::ok("{not json"));
    assert_eq!(
        fetcher.list_releases(&repo()).await.unwrap_err().code(),
        "INGEST_E011"
    );
    forge.route("/repos/acme/widget/releases", Reply::status(500));
    assert_eq!(
        fetcher.list_releases(&repo()).await.unwrap_err().code(),
        "INGEST_E009"
    );
}
