//! Registry integrity over HTTP (in-process router): the key set and kid rule, rotation with old records still verifying through only the JWKS (also with Python's joserfc), records never re-signed on read, inclusion proofs, refusals with codes (wrong TOKEN_ENC_KEY, copied key rows, admin auth, CSRF guard, settings), the backfill's idempotence and the audit API.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod harness;
use harness::{call, get, Resp};

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vouch_integrity::{verify_logged, verify_record, InclusionEvidence, KeySet};
use vouch_registry::config::LockConfig;
use vouch_registry::integrity::{self, Integrity, IntegritySection};
use vouch_registry::{App, ServeConfig};
use vouch_store::meta::{
    AssetInsert, AssetStatus, NewRelease, NewVersion, ReleaseAsset, StoredRegistryKey, Timestamp,
};
use vouch_tlog::Hash;

#[path = "../../ingest/tests/support/mod.rs"]
mod support;

async fn app(dir: &Path) -> App {
    app_with(dir, |_| {}).await
}

/// A dev app that does not backfill integrity records at boot (the tests do it).
async fn app_with(dir: &Path, tweak: impl FnOnce(&mut ServeConfig)) -> App {
    harness::app_with(dir, |cfg| {
        cfg.integrity.backfill_at_boot = false;
        tweak(cfg)
    })
    .await
}

fn admin_token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(integrity::ADMIN_TOKEN_FILE))
        .unwrap()
        .trim()
        .to_owned()
}

async fn admin(app: &App, dir: &Path, method: &str, path: &str, body: &str) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", admin_token(dir)))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    call(app, req).await
}

/// Rotates the registry key through the admin API; the answer, asserted 200.
async fn rotate(app: &App, dir: &Path) -> Resp {
    let r = admin(
        app,
        dir,
        "POST",
        "/api/admin/instance/security/rotate",
        "{}",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    r
}

/// A release with two assets, the second over any budget (skipped).
async fn ingest_release(app: &App, tag: &str) -> i64 {
    let meta = &app.state.meta;
    let (rel, created) = meta
        .upsert_release(&NewRelease {
            forge_id: "gh".into(),
            repository: "acme/tool".into(),
            tag: tag.into(),
            upstream_id: format!("up-{tag}"),
            created_at: Timestamp::now(),
        })
        .await
        .unwrap();
    assert!(created);
    let body = format!("asset of {tag}");
    let e = vouch_integrity::AssetEntry::of_bytes("tool.tar.gz", body.as_bytes());
    for a in [
        ReleaseAsset {
            release_id: rel.id,
            name: "tool.tar.gz".into(),
            size: e.size,
            download_url: "https://forge.example/tool.tar.gz".into(),
            sha256: Some(e.sha256),
            blake3: Some(e.blake3),
            status: AssetStatus::Hashed,
            created_at: Timestamp::now(),
        },
        ReleaseAsset {
            release_id: rel.id,
            name: "huge.iso".into(),
            size: 20 << 30,
            download_url: "https://forge.example/huge.iso".into(),
            sha256: None,
            blake3: None,
            status: AssetStatus::Skipped,
            created_at: Timestamp::now(),
        },
    ] {
        assert_eq!(
            meta.insert_release_asset(&a).await.unwrap(),
            AssetInsert::Inserted
        );
    }
    rel.id
}

fn jwks_of(resp: &Resp) -> KeySet {
    assert_eq!(resp.status, StatusCode::OK);
    KeySet::from_jwks(&resp.body).unwrap()
}

/// Verifies a served record against the key set and its inclusion proof against the
/// checkpoint signed by the log key.
fn verify_served(app: &App, doc: &Value, keys: &KeySet) -> vouch_integrity::SignedRecord {
    let signed = verify_record(doc["jws"].as_str().unwrap(), keys).unwrap();
    let p = &doc["inclusion_proof"];
    let hashes: Vec<Hash> = p["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            Hash(
                STANDARD
                    .decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap(),
            )
        })
        .collect();
    let evidence = InclusionEvidence {
        index: p["log_index"].as_u64().unwrap(),
        proof: &hashes,
        checkpoint: p["checkpoint"].as_str().unwrap().as_bytes(),
    };
    verify_logged(
        &signed,
        &evidence,
        app.state.log.origin(),
        &[app.state.log.verifier()],
    )
    .unwrap();
    signed
}

#[tokio::test]
async fn key_set_shape_kid_rule_and_caching() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let r = get(&app, "/.well-known/registry-key.json").await;
    assert_eq!(r.header("cache-control"), "public, max-age=300");
    let etag = r.header("etag").to_owned();
    assert!(etag.starts_with('"'));
    let doc = r.json();
    let key = &doc["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["use"], &key["alg"]),
        (
            &Value::from("OKP"),
            &Value::from("Ed25519"),
            &Value::from("sig"),
            &Value::from("EdDSA")
        )
    );
    let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    let kid = hex::encode(Sha256::digest(&x))[..16].to_owned();
    assert_eq!(key["kid"], kid.as_str());
    assert_eq!(jwks_of(&r).current().kid().as_str(), kid);
    assert_eq!(app.state.integrity.current_kid(), kid);
    let again = call(
        &app,
        Request::get("/.well-known/registry-key.json")
            .header("if-none-match", &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn rotation_twice_old_records_verify_with_only_the_jwks_and_joserfc() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let mut ids = Vec::new();
    let mut kids = Vec::new();
    for (i, tag) in ["v1.0.0", "v1.1.0", "v1.2.0"].iter().enumerate() {
        ids.push(ingest_release(&app, tag).await);
        let report = integrity::backfill::run(&app.state, "test").await;
        assert_eq!((report.processed, report.skipped, report.errors), (1, 1, 0));
        kids.push(app.state.integrity.current_kid());
        if i < 2 {
            let r = rotate(&app, dir.path()).await;
            assert_eq!(r.json()["old_kid"], kids[i].as_str());
        }
    }
    assert_eq!(
        kids.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );
    let jwks = get(&app, "/.well-known/registry-key.json").await;
    let keys = jwks_of(&jwks);
    assert_eq!(keys.keys().len(), 3);
    assert_eq!(keys.current().kid().as_str(), kids[2]);
    let pydir = tempfile::tempdir().unwrap();
    std::fs::write(pydir.path().join("registry-key.json"), &jwks.body).unwrap();
    for (n, id) in ids.iter().enumerate() {
        let r = get(&app, &format!("/api/v1/releases/{id}/integrity")).await;
        assert_eq!(r.status, StatusCode::OK);
        let doc = r.json();
        let signed = verify_served(&app, &doc, &keys);
        assert_eq!(signed.record().kid.as_str(), kids[n]);
        assert_eq!(signed.record().version, ["v1.0.0", "v1.1.0", "v1.2.0"][n]);
        // Only the hashed asset is vouched for; the skipped one is in the manifest only.
        assert_eq!(signed.record().assets.len(), 1);
        let jws = doc["jws"].as_str().unwrap();
        std::fs::write(pydir.path().join(format!("good-{n}.jws")), jws).unwrap();
        let payload = URL_SAFE_NO_PAD
            .decode(jws.split('.').nth(1).unwrap())
            .unwrap();
        std::fs::write(pydir.path().join(format!("good-{n}.json")), payload).unwrap();
    }
    // Audit: two rotations with old and new kids.
    let r = admin(
        &app,
        dir.path(),
        "GET",
        "/api/admin/audit?action=registry.signing_key.rotate",
        "",
    )
    .await;
    let events = r.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["details"]["oldKid"], kids[0].as_str());
    assert_eq!(events[1]["details"]["newKid"], kids[2].as_str());

    // An independent JOSE implementation, with only the served key set.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let setup = Command::new("bash")
        .arg(root.join("scripts/py-venv.sh"))
        .status()
        .unwrap();
    assert!(setup.success());
    let script = r#"
import json, pathlib, sys, warnings
from joserfc import jws
from joserfc.jwk import KeySet
warnings.simplefilter("ignore")
d = pathlib.Path(sys.argv[1])
keys = KeySet.import_key_set(json.loads((d / "registry-key.json").read_text()))
n = 0
for p in sorted(d.glob("good-*.jws")):
    obj = jws.deserialize_compact(p.read_text(), keys, algorithms=["EdDSA"])
    assert obj.payload == (d / (p.stem + ".json")).read_bytes(), p
    n += 1
print(f"verified {n}")
"#;
    let out = Command::new(root.join("target/py-venv/bin/python"))
        .arg("-c")
        .arg(script)
        .arg(pydir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "verified 3");
}

#[tokio::test]
async fn records_are_never_resigned_on_read_and_packages_get_records() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let id = ingest_release(&app, "v2.0.0").await;
    integrity::backfill::run(&app.state, "test").await;
    let a = get(&app, &format!("/api/v1/releases/{id}/integrity")).await;
    let b = get(&app, &format!("/api/v1/releases/{id}/integrity")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, b.body);
    // Another log entry moves the checkpoint: the proof changes, the JWS does not.
    let pkg = publish_version(&app, "@acme/widget", "1.0.0", b"archive bytes").await;
    let r = integrity::record_package(&app.state, "@acme/widget", &pkg)
        .await
        .unwrap();
    assert!(r.created);
    let again = integrity::record_package(&app.state, "@acme/widget", &pkg)
        .await
        .unwrap();
    assert_eq!((again.created, again.id), (false, r.id));
    let c = get(&app, &format!("/api/v1/releases/{id}/integrity")).await;
    assert_eq!(c.json()["jws"], a.json()["jws"]);
    assert_ne!(
        c.json()["inclusion_proof"]["tree_size"],
        a.json()["inclusion_proof"]["tree_size"]
    );
    let keys = jwks_of(&get(&app, "/.well-known/registry-key.json").await);
    verify_served(&app, &c.json(), &keys);
    let p = get(&app, "/api/v1/packages/@acme/widget/1.0.0/integrity").await;
    assert_eq!(p.status, StatusCode::OK);
    let signed = verify_served(&app, &p.json(), &keys);
    assert_eq!(signed.record().assets[0].name, "acme-widget-1.0.0.tar.zst");
    let report = vouch_integrity::check_assets(
        signed.record(),
        &[("acme-widget-1.0.0.tar.zst", b"archive bytes".as_slice())],
    )
    .unwrap();
    assert!(report.is_complete());
    let missing = get(&app, "/api/v1/packages/@acme/widget/9.9.9/integrity").await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::NOT_FOUND, "INTEGRITY_E106")
    );
}

/// Stores a blob and commits a version row as the publish path would.
async fn publish_version(
    app: &App,
    name: &str,
    version: &str,
    bytes: &[u8],
) -> vouch_store::meta::VersionEntry {
    let meta = &app.state.meta;
    let user = match meta.user_by_name("owner").await.unwrap() {
        Some(u) => u,
        None => meta
            .create_user("owner", None, Timestamp::now())
            .await
            .unwrap(),
    };
    if meta.package(name).await.unwrap().is_none() {
        meta.create_package(name, user.id, Timestamp::now())
            .await
            .unwrap();
    }
    let info = app.state.blobs.put_bytes(bytes).await.unwrap();
    meta.insert_version(
        name,
        None,
        &NewVersion {
            version: version.into(),
            blake3: info.blake3,
            sha256: info.sha256,
            size: info.size,
            bundle_key: format!("blobs/{}.sigstore", hex::encode(info.blake3)),
            log_index: 0,
            publisher:
                "https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main"
                    .into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            repository_owner_id: None,
            created_at: Timestamp::now(),
            audit: None,
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn backfill_over_http_is_idempotent_and_reports_in_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    ingest_release(&app, "v3.0.0").await;
    ingest_release(&app, "v3.1.0").await;
    publish_version(&app, "@acme/lib", "0.1.0", b"lib archive").await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let r = admin(
            &app,
            dir.path(),
            "POST",
            "/api/admin/instance/security/backfill",
            "{}",
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        for _ in 0..500 {
            if !app.state.integrity.backfill_running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let audit = admin(
            &app,
            dir.path(),
            "GET",
            "/api/admin/audit?action=release.backfill_run",
            "",
        )
        .await;
        runs = audit.json()["events"].as_array().unwrap().clone();
    }
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[0]["details"],
        serde_json::json!({"processed": 3, "skipped": 2, "errors": 0})
    );
    assert_eq!(runs[1]["details"]["processed"], 0);
    assert!(!integrity::backfill::lagging(&app.state).await.unwrap());
    // Paging: one event per page, following the cursor.
    let first = admin(&app, dir.path(), "GET", "/api/admin/audit?limit=1", "").await;
    let cursor = first.json()["next_cursor"].as_i64().unwrap();
    let second = admin(
        &app,
        dir.path(),
        "GET",
        &format!("/api/admin/audit?limit=1&cursor={cursor}"),
        "",
    )
    .await;
    assert!(second.json()["events"][0]["id"].as_i64().unwrap() > cursor);
}

#[tokio::test]
async fn admin_auth_csrf_guard_and_settings_are_coded_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let path = "/api/admin/instance/security/rotate";
    let none = call(&app, Request::post(path).body(Body::empty()).unwrap()).await;
    assert_eq!(
        (none.status, none.code().as_str()),
        (StatusCode::UNAUTHORIZED, "ADMIN_E001")
    );
    // A browser session cookie is not a credential for the JSON API.
    let cookie = call(
        &app,
        Request::post(path)
            .header("cookie", format!("vouch_admin={}", admin_token(dir.path())))
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(cookie.code(), "ADMIN_E001");
    let bad = call(
        &app,
        Request::post(path)
            .header("authorization", "Bearer vouch_admin_0000")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (StatusCode::UNAUTHORIZED, "ADMIN_E002")
    );
    // A form post (what a cross-site page can send) is refused before anything changes.
    let kid = app.state.integrity.current_kid();
    let form = call(
        &app,
        Request::post(path)
            .header(
                "authorization",
                format!("Bearer {}", admin_token(dir.path())),
            )
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("confirm=1"))
            .unwrap(),
    )
    .await;
    assert_eq!(
        (form.status, form.code().as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "ADMIN_E003")
    );
    assert_eq!(app.state.integrity.current_kid(), kid);
    let budget = "/api/admin/instance/security/hash-budget";
    let over = admin(
        &app,
        dir.path(),
        "PUT",
        budget,
        &format!("{{\"bytes\": {}}}", integrity::MAX_HASH_BUDGET + 1),
    )
    .await;
    assert_eq!(
        (over.status, over.code().as_str()),
        (StatusCode::BAD_REQUEST, "ADMIN_E004")
    );
    let ok = admin(&app, dir.path(), "PUT", budget, "{\"bytes\": 1048576}").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(app.state.integrity.hash_budget(), 1 << 20);
    let status = admin(&app, dir.path(), "GET", "/api/admin/instance/security", "").await;
    assert_eq!(status.json()["hash_budget_bytes"], 1 << 20);
    assert_eq!(status.json()["current_kid"], kid.as_str());
    let audit = admin(
        &app,
        dir.path(),
        "GET",
        "/api/admin/audit?action=admin.",
        "",
    )
    .await;
    let actions: Vec<String> = audit.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        actions.contains(&"admin.sign_in_failed".to_owned()),
        "{actions:?}"
    );
    assert!(actions.contains(&"admin.sign_in".to_owned()), "{actions:?}");
    let settings = admin(
        &app,
        dir.path(),
        "GET",
        "/api/admin/audit?action=settings.",
        "",
    )
    .await;
    assert_eq!(
        settings.json()["events"][0]["details"],
        serde_json::json!({"old": integrity::DEFAULT_HASH_BUDGET, "new": 1048576})
    );
    let bad_query = admin(&app, dir.path(), "GET", "/api/admin/audit?limit=x", "").await;
    assert_eq!(bad_query.code(), "ADMIN_E006");
}

#[tokio::test]
async fn wrong_token_enc_key_and_copied_key_rows_are_refused_with_codes() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let a = app(a_dir.path()).await;
    let b = app(b_dir.path()).await;
    let cfg = IntegritySection::default();

    // Wrong TOKEN_ENC_KEY: the sealed key does not open.
    let other = vouch_ca::EncryptionKey::generate().unwrap();
    let err = Integrity::open(a.state.meta.as_ref(), &other, &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E002");
    assert!(err.to_string().contains("vouch admin keys reset"), "{err}");
    // The right one opens it again.
    assert!(
        Integrity::open(a.state.meta.as_ref(), &a.state.enc_key, &cfg)
            .await
            .is_ok()
    );

    // TOKEN_ENC_KEY of the wrong length: coded, with the recipe.
    let err = vouch_registry::app::parse_enc_key("TOKEN_ENC_KEY", "abcd").unwrap_err();
    assert_eq!(err.code(), "SERVE_E107");
    assert!(err.to_string().contains("vouch keygen token-enc-key"));

    // A key row copied from instance A into B's database (same TOKEN_ENC_KEY, the
    // worst case) is refused by its instance binding...
    let a_row = a.state.meta.registry_keys().await.unwrap().remove(0);
    let b_kid = b.state.integrity.current_kid();
    let copied = StoredRegistryKey {
        retired_at: None,
        ..a_row.clone()
    };
    assert!(b
        .state
        .meta
        .rotate_registry_key(Some(&b_kid), &copied)
        .await
        .unwrap());
    let err = Integrity::open(b.state.meta.as_ref(), &a.state.enc_key, &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E101");
    // ...and with its instance column rewritten (here to instance C's), by the AEAD
    // binding: the seal's additional data names the instance it was made for.
    let c_dir = tempfile::tempdir().unwrap();
    let c = app(c_dir.path()).await;
    let forged = StoredRegistryKey {
        instance_id: c.state.integrity.instance_id().to_owned(),
        retired_at: None,
        ..a_row.clone()
    };
    let c_kid = c.state.integrity.current_kid();
    assert!(c
        .state
        .meta
        .rotate_registry_key(Some(&c_kid), &forged)
        .await
        .unwrap());
    let err = Integrity::open(c.state.meta.as_ref(), &a.state.enc_key, &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E002");
}

/// Ingest from a fake GitHub-shaped forge: API pull, hash-budget skip (audited with its
/// fields), idempotent re-sync, a changed asset upstream refused and audited, and
/// webhook deliveries without or with a forged signature refused and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forge_ingest_budget_skip_immutability_and_webhook_refusals() {
    use support::{asset_json, release_json, FakeForge, Reply};
    let forge = FakeForge::start().await;
    let small = b"tool binary v1".to_vec();
    let big_size: u64 = 2 << 20;
    let listing = release_json(
        11,
        "v1.0.0",
        &[
            asset_json("tool", small.len() as u64, &forge.url("/dl/tool")),
            asset_json("big.iso", big_size, &forge.url("/dl/big.iso")),
        ],
    );
    forge.route(
        "/repos/acme/widget/releases/tags/v1.0.0",
        Reply::json(&listing),
    );
    forge.route("/dl/tool", Reply::ok(small.clone()));
    let secret_var = format!("VOUCH_TEST_HOOK_{}", std::process::id());
    std::env::set_var(&secret_var, "0123456789abcdef0123456789abcdef");
    let dir = tempfile::tempdir().unwrap();
    let base = forge.base().to_string();
    let var = secret_var.clone();
    let app = app_with(dir.path(), move |cfg| {
        let section: integrity::ingest::ForgeSection = toml::from_str(&format!(
            "id = \"gh\"\nkind = \"github\"\napi_base = \"{}\"\nrepo = \"acme/widget\"\n\
             webhook_secret_env = \"{var}\"\nallow_private_for_tests = true\n",
            base.trim_end_matches('/')
        ))
        .unwrap();
        cfg.forges = vec![section];
    })
    .await;
    let d = dir.path();
    let r = admin(
        &app,
        d,
        "PUT",
        "/api/admin/instance/security/hash-budget",
        "{\"bytes\": 1048576}",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let sync = "/api/admin/forges/gh/sync";
    let r = admin(&app, d, "POST", sync, "{\"tag\": \"v1.0.0\"}").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let rep = r.json()["releases"][0].clone();
    assert_eq!(
        (
            rep["created"].as_bool(),
            rep["hashed"].as_u64(),
            rep["skipped"].as_u64()
        ),
        (Some(true), Some(1), Some(1))
    );
    let id = rep["release_id"].as_i64().unwrap();
    assert_eq!(
        forge.hits("/dl/big.iso"),
        0,
        "an over-budget asset is never downloaded"
    );

    let skipped = admin(
        &app,
        d,
        "GET",
        "/api/admin/audit?action=release.asset_skipped",
        "",
    )
    .await;
    assert_eq!(
        skipped.json()["events"][0]["details"],
        serde_json::json!({"releaseId": id, "name": "big.iso", "size": big_size, "cap": 1048576, "reason": "over_hash_budget"})
    );
    let hashed = admin(
        &app,
        d,
        "GET",
        "/api/admin/audit?action=release.asset_hashed",
        "",
    )
    .await;
    assert_eq!(hashed.json()["events"][0]["details"]["name"], "tool");

    let keys = jwks_of(&get(&app, "/.well-known/registry-key.json").await);
    let doc = get(&app, &format!("/api/v1/releases/{id}/integrity"))
        .await
        .json();
    let signed = verify_served(&app, &doc, &keys);
    let report =
        vouch_integrity::check_assets(signed.record(), &[("tool", small.as_slice())]).unwrap();
    assert!(report.is_complete(), "{report:?}");
    let listed = get(&app, &format!("/api/v1/releases/{id}")).await.json();
    assert_eq!(listed["assets"][1]["status"], "skipped");

    // Re-sync: idempotent.
    let again = admin(&app, d, "POST", sync, "{\"tag\": \"v1.0.0\"}")
        .await
        .json();
    assert_eq!(
        (
            again["releases"][0]["created"].as_bool(),
            again["releases"][0]["changed"].as_u64()
        ),
        (Some(false), Some(0))
    );

    // The asset changes upstream (same size, other bytes): refused and audited.
    forge.route("/dl/tool", Reply::ok(b"tool binary v2".to_vec()));
    let changed = admin(&app, d, "POST", sync, "{\"tag\": \"v1.0.0\"}")
        .await
        .json();
    assert_eq!(changed["releases"][0]["changed"].as_u64(), Some(1));
    let audit = admin(
        &app,
        d,
        "GET",
        "/api/admin/audit?action=release.asset_changed",
        "",
    )
    .await;
    assert_eq!(audit.json()["events"][0]["details"]["name"], "tool");
    let after = get(&app, &format!("/api/v1/releases/{id}/integrity"))
        .await
        .json();
    assert_eq!(after["jws"], doc["jws"], "the record is never re-signed");
    let assets = app.state.meta.release_assets(id).await.unwrap();
    assert_eq!(assets[0].sha256, Some(Sha256::digest(&small).into()));

    // Webhooks: missing and forged signatures are refused and audited.
    let body = serde_json::json!({"action": "published", "release": {"tag_name": "v1.0.0"},
        "repository": {"full_name": "acme/widget"}})
    .to_string();
    for (sig, code) in [
        (None, "INGEST_E017"),
        (Some("sha256=".to_owned() + &"00".repeat(32)), "INGEST_E018"),
    ] {
        let mut req = Request::post("/api/v1/webhooks/gh").header("x-github-event", "release");
        if let Some(s) = sig {
            req = req.header("x-hub-signature-256", s);
        }
        let r = call(&app, req.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::UNAUTHORIZED, code)
        );
    }
    let refused = admin(
        &app,
        d,
        "GET",
        "/api/admin/audit?action=webhook.refused",
        "",
    )
    .await;
    assert_eq!(refused.json()["events"].as_array().unwrap().len(), 2);
    // A correctly signed delivery is accepted.
    let secret = vouch_ingest::Secret::new("0123456789abcdef0123456789abcdef");
    let sig = vouch_ingest::webhook::github_signature(&secret, body.as_bytes());
    let ok = call(
        &app,
        Request::post("/api/v1/webhooks/gh")
            .header("x-github-event", "release")
            .header("x-hub-signature-256", sig)
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
}

/// Issue 13, finding 15: every webhook delivery spawned a detached ingest with no cap.
/// Against a forge that never answers, deliveries past the cap are now refused with
/// 503 `INGEST_E102` and `Retry-After` instead of piling up tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_ingests_are_capped_with_pushback() {
    // A forge API that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let secret_var = format!("VOUCH_TEST_CAP_HOOK_{}", std::process::id());
    std::env::set_var(&secret_var, "0123456789abcdef0123456789abcdef");
    let dir = tempfile::tempdir().unwrap();
    let var = secret_var.clone();
    let app = app_with(dir.path(), move |cfg| {
        let section: integrity::ingest::ForgeSection = toml::from_str(&format!(
            "id = \"gh\"\nkind = \"github\"\napi_base = \"{api}\"\nrepo = \"acme/widget\"\n\
             webhook_secret_env = \"{var}\"\nallow_private_for_tests = true\n"
        ))
        .unwrap();
        cfg.forges = vec![section];
    })
    .await;
    let secret = vouch_ingest::Secret::new("0123456789abcdef0123456789abcdef");
    let max = integrity::ingest::WEBHOOK_INGESTS_MAX;
    let mut accepted = 0;
    for i in 0..max + 2 {
        let body = serde_json::json!({"action": "published",
            "release": {"tag_name": format!("v{i}.0.0")},
            "repository": {"full_name": "acme/widget"}})
        .to_string();
        let sig = vouch_ingest::webhook::github_signature(&secret, body.as_bytes());
        let r = call(
            &app,
            Request::post("/api/v1/webhooks/gh")
                .header("x-github-event", "release")
                .header("x-hub-signature-256", sig)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
        if i < max {
            assert_eq!(r.status, StatusCode::ACCEPTED, "delivery {i}");
            accepted += 1;
        } else {
            assert_eq!(
                (r.status, r.code().as_str()),
                (StatusCode::SERVICE_UNAVAILABLE, "INGEST_E102"),
                "delivery {i}"
            );
            assert!(r.headers.contains_key("retry-after"));
        }
    }
    assert_eq!(accepted, max);
    // A replay of a verified delivery, even under a fresh delivery id, is ignored
    // (answered 200 without starting anything), not queued again.
    let body = serde_json::json!({"action": "published",
        "release": {"tag_name": "v0.0.0"},
        "repository": {"full_name": "acme/widget"}})
    .to_string();
    let sig = vouch_ingest::webhook::github_signature(&secret, body.as_bytes());
    let r = call(
        &app,
        Request::post("/api/v1/webhooks/gh")
            .header("x-github-event", "release")
            .header("x-github-delivery", "a-fresh-id")
            .header("x-hub-signature-256", sig)
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["duplicate"], serde_json::json!(true));
}

/// Issue 13, finding 6: every failed admin sign-in wrote an audit row that can never be
/// pruned (2,000 rows in 1.4 s). Now failures are limited per client address (429
/// `ADMIN_E011` with `Retry-After`) and a window writes at most two rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_admin_sign_ins_are_throttled_and_aggregated() {
    use vouch_registry::web::throttle::MAX_FAILURES;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let mut codes = Vec::new();
    for i in 0..200 {
        let req = Request::get("/api/admin/audit")
            .header("authorization", format!("Bearer wrong-token-{i}"))
            .body(Body::empty())
            .unwrap();
        let r = call(&app, req).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.contains_key("retry-after"));
        }
        codes.push(r.code());
    }
    let max = MAX_FAILURES as usize;
    assert!(codes[..max].iter().all(|c| c == "ADMIN_E002"), "{codes:?}");
    assert!(codes[max..].iter().all(|c| c == "ADMIN_E011"), "{codes:?}");
    let rows = app
        .state
        .meta
        .list_audit(&vouch_store::meta::AuditFilter {
            event_prefix: Some("admin.sign_in".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let events: Vec<&str> = rows.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.contains(&"admin.sign_in_failed") && events.contains(&"admin.sign_in_throttled")
    );
}

/// Another node on the same database (its own connection pool, its own key ring).
async fn another_node(dir: &Path, app: &App) -> (Arc<dyn vouch_store::meta::MetaStore>, Integrity) {
    let meta: Arc<dyn vouch_store::meta::MetaStore> = Arc::new(
        vouch_store::meta::SqliteMeta::open(&dir.join("meta.db"), false)
            .await
            .unwrap(),
    );
    let node = Integrity::open(
        meta.as_ref(),
        &app.state.enc_key,
        &IntegritySection::default(),
    )
    .await
    .unwrap();
    (meta, node)
}

/// Issue 16: a rotation made on one node reaches the others within the refresh
/// interval: this node serves the new JWKS and signs new records with the new key,
/// without a restart; and a rotation made here reaches the other node's ring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_on_another_node_is_served_and_used_here_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), |cfg| cfg.integrity.key_refresh_secs = 1).await;
    let bound = app.state.integrity.refresh_interval();
    assert_eq!(bound, Duration::from_secs(1));
    let (meta_b, node_b) = another_node(dir.path(), &app).await;
    let old = app.state.integrity.current_kid();
    assert_eq!(node_b.current_kid(), old);

    let gate = vouch_registry::packages::RotationGate::default();
    let (was, new) = node_b
        .rotate(meta_b.as_ref(), &app.state.enc_key, &gate)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(was, old);
    let rotated_at = std::time::Instant::now();
    // Served here within the bound (plus scheduling slack on a loaded machine).
    let served_after = loop {
        let keys = jwks_of(&get(&app, "/.well-known/registry-key.json").await);
        if keys.current().kid().as_str() == new {
            assert!(keys.find(&old).is_some(), "the old key stays in the set");
            break rotated_at.elapsed();
        }
        assert!(
            rotated_at.elapsed() < bound + Duration::from_secs(2),
            "the rotation was not served within the bound"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("rotation on node B served by node A after {served_after:?} (bound {bound:?})");
    assert_eq!(app.state.integrity.current_kid(), new);
    // Records signed here now carry the new key.
    let id = ingest_release(&app, "v2.0.0").await;
    let report = integrity::backfill::run(&app.state, "test").await;
    assert_eq!((report.processed, report.errors), (1, 0));
    let keys = jwks_of(&get(&app, "/.well-known/registry-key.json").await);
    let doc = get(&app, &format!("/api/v1/releases/{id}/integrity"))
        .await
        .json();
    assert_eq!(verify_served(&app, &doc, &keys).record().kid.as_str(), new);

    // The other way: rotated here over HTTP, node B swaps on its next refresh.
    let r = rotate(&app, dir.path()).await;
    let newer = r.json()["new_kid"].as_str().unwrap().to_owned();
    assert_eq!(node_b.current_kid(), new, "B has not refreshed yet");
    assert!(node_b
        .refresh(meta_b.as_ref(), &app.state.enc_key)
        .await
        .unwrap());
    assert_eq!(node_b.current_kid(), newer);
    assert_eq!(node_b.key_set().keys().len(), 3);
    // Nothing changed: a refresh confirms and swaps nothing.
    assert!(!node_b
        .refresh(meta_b.as_ref(), &app.state.enc_key)
        .await
        .unwrap());

    // A hash budget set through another node is used here within the bound too.
    let budget = app.state.integrity.hash_budget() + 4096;
    meta_b
        .put_setting(
            integrity::HASH_BUDGET_SETTING,
            &budget.to_string(),
            Timestamp::now(),
        )
        .await
        .unwrap();
    let set_at = std::time::Instant::now();
    while app.state.integrity.hash_budget() != budget {
        assert!(
            set_at.elapsed() < bound + Duration::from_secs(2),
            "budget not seen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A node that cannot confirm its key current (here: the database's current key was
/// copied from another instance, so it does not open on this node) keeps its old ring
/// only until the bound, then signs nothing: record signing gets INTEGRITY_E110 and
/// publishes PUB_E008.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_confirm_its_key_signs_nothing_past_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), |cfg| cfg.integrity.key_refresh_secs = 1).await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = self::app(other_dir.path()).await;
    app.state.integrity.check_fresh().unwrap();
    let foreign = StoredRegistryKey {
        retired_at: None,
        ..other.state.meta.registry_keys().await.unwrap().remove(0)
    };
    let (meta_b, _node_b) = another_node(dir.path(), &app).await;
    let kid = app.state.integrity.current_kid();
    assert!(meta_b
        .rotate_registry_key(Some(&kid), &foreign)
        .await
        .unwrap());
    let err = app
        .state
        .integrity
        .refresh(app.state.meta.as_ref(), &app.state.enc_key)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E101");
    // Past twice the refresh interval with no confirmation: refused.
    let stale = app.state.integrity.stale_after();
    tokio::time::sleep(stale + Duration::from_millis(200)).await;
    let err = app.state.integrity.check_fresh().unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E110");
    assert_eq!(
        app.state.integrity.current_kid(),
        kid,
        "the old ring is kept, unused"
    );
    ingest_release(&app, "v3.0.0").await;
    let report = integrity::backfill::run(&app.state, "test").await;
    assert_eq!((report.processed, report.errors), (0, 1), "nothing signed");
    let r = call(
        &app,
        Request::post("/api/v1/publish")
            .header("content-type", "multipart/form-data; boundary=x")
            .body(Body::from("--x--\r\n"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "PUB_E008");
}

/// Two whole nodes on one metadata database (each with its own lock database, so its
/// own sequencer claim): a rotation through node B's admin API is served by node A
/// within its refresh interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_through_one_nodes_api_is_served_by_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = app_with(dir.path(), |cfg| cfg.integrity.key_refresh_secs = 1).await;
    let b = app_with(dir.path(), |cfg| {
        cfg.integrity.key_refresh_secs = 1;
        cfg.storage.lock = LockConfig::Sqlite {
            path: dir.path().join("lock-node-b.db"),
        };
    })
    .await;
    let old = a.state.integrity.current_kid();
    let r = rotate(&b, dir.path()).await;
    let new = r.json()["new_kid"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let at = std::time::Instant::now();
    loop {
        let keys = jwks_of(&get(&a, "/.well-known/registry-key.json").await);
        if keys.current().kid().as_str() == new {
            break;
        }
        assert!(
            at.elapsed() < Duration::from_secs(3),
            "not served within the bound"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "rotation through node B's API served by node A after {:?}",
        at.elapsed()
    );
}
