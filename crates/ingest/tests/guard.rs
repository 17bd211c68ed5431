//! The SSRF guard end to end: names resolving to internal addresses are refused before
//! any connection (a static resolver stands in for DNS), redirects to internal
//! addresses or unlisted hosts are refused hop by hop, redirect loops are bounded, and
//! the token never follows a redirect to another host.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod support;

use std::net::IpAddr;
use std::sync::Arc;

use support::{bytes, sha256_hex, FakeForge, Reply};
use vouch_ingest::{
    AssetRef, Fetcher, ForgeConfig, ForgeKind, HashBudget, HashOutcome, RepoRef, Secret,
    StaticResolver,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn repo() -> RepoRef {
    RepoRef::parse("acme/widget").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_resolving_to_internal_addresses_are_refused() {
    let forge = FakeForge::start().await;
    forge.route(
        "/repos/acme/widget/releases",
        Reply::json(&serde_json::json!([])),
    );
    for addr in [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",
        "100.64.1.1",
        "fd00::5",
    ] {
        let resolver = StaticResolver::new().with("forge.test", &[ip(addr)]);
        let mut config = ForgeConfig::new(ForgeKind::GitHub, forge.named("forge.test")).unwrap();
        config.allow_http = true;
        let fetcher = Fetcher::with_resolver(config, Arc::new(resolver)).unwrap();
        let e = fetcher.list_releases(&repo()).await.unwrap_err();
        assert_eq!(e.code(), "INGEST_E004", "{addr}: {e}");
        assert!(e.to_string().contains(&ip(addr).to_string()), "{e}");
    }
    // One public and one private answer: the whole answer is refused.
    let resolver = StaticResolver::new().with("forge.test", &[ip("140.82.112.3"), ip("10.0.0.1")]);
    let mut config = ForgeConfig::new(ForgeKind::GitHub, forge.named("forge.test")).unwrap();
    config.allow_http = true;
    let fetcher = Fetcher::with_resolver(config, Arc::new(resolver)).unwrap();
    assert_eq!(
        fetcher.list_releases(&repo()).await.unwrap_err().code(),
        "INGEST_E004"
    );
    assert!(forge.requests().is_empty(), "nothing may reach the server");

    // IP literals never reach a resolver; they are checked directly.
    let mut config = ForgeConfig::new(ForgeKind::GitHub, forge.base()).unwrap();
    config.allow_http = true;
    let e = Fetcher::with_resolver(config, Arc::new(StaticResolver::new())).unwrap_err();
    assert_eq!(e.code(), "INGEST_E004", "{e}");
    let mut config =
        ForgeConfig::new(ForgeKind::GitHub, "http://[::1]:1/".parse().unwrap()).unwrap();
    config.allow_http = true;
    assert_eq!(
        Fetcher::with_resolver(config, Arc::new(StaticResolver::new()))
            .unwrap_err()
            .code(),
        "INGEST_E004"
    );
    // https is required unless http is allowed.
    let config = ForgeConfig::new(ForgeKind::GitHub, forge.named("forge.test")).unwrap();
    assert_eq!(
        Fetcher::with_resolver(config, Arc::new(StaticResolver::new()))
            .unwrap_err()
            .code(),
        "INGEST_E005"
    );
}

/// A fetcher for `forge.test` (the fake forge, exempted by address) with the range
/// checks ON for everything else.
fn guarded(forge: &FakeForge, extra_hosts: &[&str], token: Option<&str>) -> Fetcher {
    let resolver = StaticResolver::new()
        .with("forge.test", &[ip("127.0.0.1")])
        .with("downloads.test", &[ip("127.0.0.1")])
        .with("internal.test", &[ip("10.0.0.7")])
        .with("loop6.test", &[ip("::1")]);
    let mut config = ForgeConfig::new(ForgeKind::GitHub, forge.named("forge.test")).unwrap();
    config.allow_http = true;
    config.exempt_addrs = vec![ip("127.0.0.1")];
    config.token = token.map(Secret::new);
    config
        .allowed_hosts
        .extend(extra_hosts.iter().map(|h| h.to_string()));
    Fetcher::with_resolver(config, Arc::new(resolver)).unwrap()
}

fn asset(url: String) -> AssetRef {
    AssetRef {
        name: "a.bin".into(),
        size_claimed: Some(100),
        download_url: url.parse().unwrap(),
        sha256_claimed: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_checked_hop_by_hop() {
    let forge = FakeForge::start().await;
    let port = forge.addr.port();
    let data = bytes(100, 4);
    forge.route("/final", Reply::ok(data.clone()));
    forge.route(
        "/ok",
        Reply::redirect(&format!("http://downloads.test:{port}/final")),
    );
    forge.route("/relative", Reply::redirect("/final"));
    forge.route(
        "/to-internal",
        Reply::redirect(&format!("http://internal.test:{port}/x")),
    );
    forge.route(
        "/to-metadata",
        Reply::redirect("http://169.254.169.254/latest/meta-data/"),
    );
    forge.route(
        "/to-loopback6",
        Reply::redirect(&format!("http://loop6.test:{port}/x")),
    );
    forge.route(
        "/to-unlisted",
        Reply::redirect(&format!("http://elsewhere.test:{port}/x")),
    );
    forge.route("/to-file", Reply::redirect("file:///etc/passwd"));
    forge.route("/loop", Reply::redirect("/loop"));
    forge.route("/no-location", Reply::status(302));
    let hosts = [
        "downloads.test",
        "internal.test",
        "169.254.169.254",
        "loop6.test",
    ];
    let f = guarded(&forge, &hosts, Some("ghp_secret_token"));
    let url = |p: &str| format!("http://forge.test:{port}{p}");

    // Allowed hops work, absolute and relative.
    for p in ["/ok", "/relative"] {
        match f
            .hash_asset(&asset(url(p)), HashBudget::default())
            .await
            .unwrap()
        {
            HashOutcome::Hashed(d) => assert_eq!(hex::encode(d.sha256), sha256_hex(&data)),
            other => panic!("{other:?}"),
        }
    }
    // The token went to the API origin only, never to the download host.
    for q in forge.requests() {
        let host = q.header("host").unwrap_or_default().to_owned();
        let auth = q.header("authorization");
        if host.starts_with("forge.test") {
            assert_eq!(auth, Some("Bearer ghp_secret_token"), "{}", q.path);
        } else {
            assert_eq!(auth, None, "token leaked to {host}{}", q.path);
        }
    }
    let before = forge.requests().len();

    let cases = [
        ("/to-internal", "INGEST_E004"),
        ("/to-metadata", "INGEST_E004"),
        ("/to-loopback6", "INGEST_E004"),
        ("/to-unlisted", "INGEST_E003"),
        ("/to-file", "INGEST_E005"),
        ("/loop", "INGEST_E006"),
        ("/no-location", "INGEST_E007"),
    ];
    for (p, code) in cases {
        let e = f
            .hash_asset(&asset(url(p)), HashBudget::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{p}: {e}");
    }
    // Only the fake forge's own paths were requested: the loop 4 times (1 + 3 redirects).
    let after: Vec<_> = forge.requests()[before..]
        .iter()
        .map(|q| q.path.clone())
        .collect();
    assert_eq!(
        after.iter().filter(|p| *p == "/loop").count(),
        4,
        "{after:?}"
    );
    assert!(
        after
            .iter()
            .all(|p| !p.starts_with("/x") && !p.starts_with("/latest")),
        "{after:?}"
    );

    // https -> http is a downgrade and refused even where http is allowed.
    let policy = vouch_ingest::NetPolicy {
        allowed_hosts: vec!["forge.test".into()],
        allow_private_for_tests: false,
        exempt_addrs: vec![],
        allow_http: true,
    };
    let from = "https://forge.test/a".parse().unwrap();
    let to = "http://forge.test/b".parse().unwrap();
    assert_eq!(
        policy.check_url(&to, Some(&from)).unwrap_err().code(),
        "INGEST_E005"
    );
}
