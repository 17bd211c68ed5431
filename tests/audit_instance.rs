//! `--instance URL` on the lockfile audits (issue 20, item 2): `vouch audit signatures`
//! and `vouch lock --check` re-verify every locked bundle against the instance's root,
//! verified through its TUF repository and cached, as `vouch verify --instance` does.
//! The right instance passes (online, then with the server stopped through
//! `VOUCH_TRUST_ROOT_DIR`, which never connects); another instance's root is refused
//! with the verifier's code on every entry (AUDIT_E002, LOCK_E004).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod sealed_keys_support;

use sealed_keys_support::{
    fetch_widget, free_port, ok, publish_widget, refused_with, run_in as run, start, trust_instance,
};

#[test]
fn lockfile_audits_verify_against_an_instance_root() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = start(&data, free_port());
    let other = start(&tmp.path().join("other"), free_port());
    let (base, other_base) = (server.base.clone(), other.base.clone());
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    publish_widget(&work, &data, &base, "1.0.0");
    let consumer = tmp.path().join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    ok(fetch_widget(&consumer, &base, &[]));

    let cache = tmp.path().join("tuf-cache");
    trust_instance(&work, &base, &cache);
    let wrong_cache = tmp.path().join("wrong-cache");
    trust_instance(&work, &other_base, &wrong_cache);
    let cache_s = cache.to_str().unwrap();
    // `vouch CMD --instance INSTANCE --trust-cache CACHE EXTRA..` in the consumer.
    let against = |cmd: &[&str], instance: &str, cache: &str, extra: &[&str]| {
        let mut args = cmd.to_vec();
        args.extend(["--instance", instance, "--trust-cache", cache]);
        args.extend(extra);
        run(&consumer, &args, &[])
    };
    const SIGNATURES: &[&str] = &["audit", "signatures"];
    const LOCK_CHECK: &[&str] = &["lock", "--check"];

    // The right instance: every entry verifies against its TUF-verified root.
    let out = ok(against(SIGNATURES, &base, cache_s, &["--json"]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.to_string().contains("verified"), "{report}");
    ok(against(LOCK_CHECK, &base, cache_s, &[]));

    // Another instance's root: nothing it did not sign verifies, each entry with the
    // verifier's code, and the command with the audit's.
    let wrong = wrong_cache.to_str().unwrap();
    let table = refused_with(&against(SIGNATURES, &other_base, wrong, &[]), "AUDIT_E002");
    assert!(table.contains("mismatched  VERIFY_E"), "{table}");
    let check = refused_with(&against(LOCK_CHECK, &other_base, wrong, &[]), "LOCK_E004");
    assert!(check.contains("LOCK_E004"), "{check}");
    drop(other);

    // Air-gapped: with the server stopped, VOUCH_TRUST_ROOT_DIR is read as if --offline
    // (a connection attempt would fail the command), and --offline reads the cache.
    drop(server);
    ok(run(
        &consumer,
        &["audit", "signatures", "--instance", &base],
        &[("VOUCH_TRUST_ROOT_DIR", &cache)],
    ));
    ok(against(LOCK_CHECK, &base, cache_s, &["--offline"]));
}
