//! `vouch fetch` pinned to a trusted root (issue 20, item 6): `--trusted-root FILE` or
//! `--instance URL` (the instance's root verified through TUF) instead of the registry's
//! answer on first use. Pinned to the right root it passes and the lockfile records the
//! root's digest; pinned to another instance's root it is refused (FETCH_E006); after the
//! registry's root changes (a CA rotation), `vouch audit transparency` reports it
//! (AUDIT_E003), a fetch still pinned to the old root is refused, and `audit signatures`
//! refuses a cached root that is not the recorded one.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod sealed_keys_support;

use std::path::Path;
use std::process::Output;

use sealed_keys_support::{
    fetch_widget, free_port, get, ok, publish_widget, refused_with, reset_sigstore, run_in, start,
    trust_instance,
};
use sha2::{Digest, Sha256};

fn run(cwd: &Path, args: &[&str]) -> Output {
    run_in(cwd, args, &[])
}

fn trusted_root(base: &str) -> Vec<u8> {
    let config: serde_json::Value =
        serde_json::from_slice(&get(base, "/api/v1/trust-config")).unwrap();
    serde_json::to_vec_pretty(&config["trustedRoot"]).unwrap()
}

fn lock_server(dir: &Path) -> toml::Value {
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("vouch.lock")).unwrap()).unwrap();
    lock["server"][0].clone()
}

#[test]
fn fetch_pins_the_root_and_audit_reports_a_changed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let server = start(&data, port);
    let other = start(&tmp.path().join("other"), free_port());
    let base = server.base.clone();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    publish_widget(&work, &data, &base, "1.0.0");

    let right = tmp.path().join("right.json");
    std::fs::write(&right, trusted_root(&base)).unwrap();
    let wrong = tmp.path().join("wrong.json");
    std::fs::write(&wrong, trusted_root(&other.base)).unwrap();
    drop(other);

    // Pinned to another instance's root: refused before anything is written.
    let pinned = tmp.path().join("pinned");
    std::fs::create_dir_all(&pinned).unwrap();
    let fetch = |dir: &Path, extra: &[&str]| fetch_widget(dir, &base, extra);
    refused_with(
        &fetch(&pinned, &["--trusted-root", wrong.to_str().unwrap()]),
        "FETCH_E006",
    );
    assert!(!pinned.join("vouch.lock").exists());

    // Pinned to the right root: passes; the lockfile records its digest and the pin.
    ok(fetch(&pinned, &["--trusted-root", right.to_str().unwrap()]));
    let entry = lock_server(&pinned);
    let digest = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(std::fs::read(&right).unwrap()))
    );
    assert_eq!(
        entry["trusted_root_sha256"].as_str(),
        Some(digest.as_str()),
        "{entry}"
    );
    assert_eq!(entry["root_pinned"].as_bool(), Some(true), "{entry}");

    // Pinned through TUF: --instance, after the TUF root was trusted once.
    let cache = tmp.path().join("tuf-cache");
    trust_instance(&work, &base, &cache);
    let by_tuf = tmp.path().join("by-tuf");
    std::fs::create_dir_all(&by_tuf).unwrap();
    ok(fetch(
        &by_tuf,
        &[
            "--instance",
            &base,
            "--trust-cache",
            cache.to_str().unwrap(),
        ],
    ));
    assert_eq!(lock_server(&by_tuf)["root_pinned"].as_bool(), Some(true));
    assert!(lock_server(&by_tuf)["trusted_root_sha256"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    // Unpinned (first use): still recorded, not pinned.
    let tofu = tmp.path().join("tofu");
    std::fs::create_dir_all(&tofu).unwrap();
    ok(fetch(&tofu, &[]));
    let served: serde_json::Value = serde_json::from_slice(&trusted_root(&base)).unwrap();
    let served = Sha256::digest(serde_json::to_vec(&served).unwrap());
    assert_eq!(
        lock_server(&tofu)["trusted_root_sha256"].as_str(),
        Some(format!("sha256:{}", hex::encode(served)).as_str())
    );
    assert!(lock_server(&tofu).get("root_pinned").is_none());
    ok(run(&pinned, &["audit", "transparency"]));

    // The registry's root changes (CA, TSA and CT keys rotated; restarted).
    drop(server);
    ok(reset_sigstore(&data, &["--yes"]));
    let _server = start(&data, port);
    refused_with(&run(&pinned, &["audit", "transparency"]), "AUDIT_E003");
    refused_with(&run(&tofu, &["audit", "transparency"]), "AUDIT_E003");
    // The lockfile's pin holds on a later fetch without flags.
    refused_with(&fetch(&pinned, &[]), "FETCH_E006");

    // Offline, `audit signatures` still verifies against the locked root; a cached root
    // altered after it was locked verifies nothing (AUDIT_E003 on every entry).
    ok(run(&pinned, &["audit", "signatures"]));
    let cached = lock_server(&pinned)["trusted_root"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(pinned.join(cached), trusted_root(&base)).unwrap();
    let out = run(&pinned, &["audit", "signatures"]);
    refused_with(&out, "AUDIT_E002");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("mismatched  AUDIT_E003"), "{table}");
}
