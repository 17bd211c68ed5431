//! The registry story through the `vouch` binary, against SQLite and PostgreSQL: register a
//! trusted publisher, publish with a dev OIDC token, fetch into vouch.lock, audit
//! signatures and transparency, and every refusal on the way (PUB_E002, PUB_E006,
//! PUB_E007, AUDIT_E001 for a tampered lock entry, a forged and a forked checkpoint,
//! a tampered cached archive, an unverified entry under --strict-sigstore).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod install_support;
use install_support::vouch_in as vouch;

use vouch_testkit::pg::PgDatabase;

use std::path::{Path, PathBuf};
use std::process::Output;

mod serve_support;
use serve_support::{start, Server};

const REPO: &str = "acme/widget";
const WORKFLOW: &str = ".github/workflows/release.yml";
const PACKAGE: &str = "@acme/widget";

#[track_caller]
fn ok(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "expected success, got {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

#[track_caller]
fn refused(out: &Output, exit: i32, code: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit), "stderr: {err}");
    assert!(
        err.contains(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
}

fn project(dir: &Path, version: &str) -> String {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("vouch.toml"),
        format!("[package]\nname = \"{PACKAGE}\"\nversion = \"{version}\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.txt"), format!("widget {version}\n")).unwrap();
    dir.to_str().unwrap().to_owned()
}

fn token(work: &Path, url: &str, workflow: &str, name: &str) -> String {
    let out = vouch(
        work,
        &[
            "dev",
            "token",
            "--server",
            url,
            "--repository",
            REPO,
            "--workflow",
            workflow,
            "--ref",
            "refs/heads/main",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = work.join(name);
    std::fs::write(&path, String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn story(server: &Server) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let url = server.url.as_str();
    let owner = server.data.join("owner.token");

    // Register the binding (pending: the package does not exist yet).
    let register = |package: &str, workflow: &str, json: bool| {
        let mut args = vec![
            "publish",
            "register",
            "--server",
            url,
            "--token-file",
            owner.to_str().unwrap(),
            "--package",
            package,
            "--provider",
            "github",
            "--repo",
            REPO,
            "--workflow",
            workflow,
        ];
        args.extend(json.then_some("--json"));
        vouch(work, &args)
    };
    let reg = ok(&register(PACKAGE, WORKFLOW, true));
    assert!(reg["id"].is_u64(), "{reg}");

    // Regression (issue 15, item 7): a bare workflow name is stored under
    // .github/workflows/, and the summary prints what was stored, not what was typed.
    let out = register("@acme/bare-workflow", "release.yml", false);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(": github acme/widget .github/workflows/release.yml\n"),
        "{text}"
    );
    assert!(
        text.contains("  pending: the package does not exist yet"),
        "{text}"
    );

    // No token anywhere: PUB_E002 names what is missing.
    let dir = project(&work.join("p1"), "1.0.0");
    let out = vouch(work, &["publish", &dir, "--server", url]);
    refused(&out, 2, "PUB_E002");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--identity-token"));

    // Publish through the binding.
    let t = token(work, url, WORKFLOW, "t1");
    let published = ok(&vouch(
        work,
        &[
            "publish",
            &dir,
            "--server",
            url,
            "--identity-token-file",
            &t,
            "--json",
        ],
    ));
    assert_eq!(published["name"], PACKAGE);
    assert!(published["log_index"].is_u64(), "{published}");

    // The same version again: PUB_E007.
    let t = token(work, url, WORKFLOW, "t2");
    refused(
        &vouch(
            work,
            &[
                "publish",
                &dir,
                "--server",
                url,
                "--identity-token-file",
                &t,
            ],
        ),
        2,
        "PUB_E007",
    );
    // Another workflow of the same repository: PUB_E006.
    let dir2 = project(&work.join("p2"), "1.0.1");
    let t = token(work, url, ".github/workflows/other.yml", "t3");
    refused(
        &vouch(
            work,
            &[
                "publish",
                &dir2,
                "--server",
                url,
                "--identity-token-file",
                &t,
            ],
        ),
        1,
        "PUB_E006",
    );

    // Fetch, verify inline, lock.
    let spec = format!("{PACKAGE}@1.0.0");
    let fetched = ok(&vouch(
        work,
        &["fetch", &spec, "--server", url, "--out", "pkgs", "--json"],
    ));
    assert_eq!(fetched["verified"], true);
    assert_eq!(fetched["sha256"], published["sha256"]);
    assert_eq!(fetched["log_index"], published["log_index"]);
    let lock_text = std::fs::read_to_string(work.join("vouch.lock")).unwrap();
    assert!(
        lock_text.contains("sigstore_verified_count = 1"),
        "{lock_text}"
    );
    assert!(work.join("pkgs/acme-widget-1.0.0.tar.zst").is_file());

    let audit = ok(&vouch(work, &["audit", "signatures", "--json"]));
    assert_eq!(audit["verified"], 1, "{audit}");
    ok(&vouch(work, &["lock", "--check", "--strict-sigstore"]));
    let tl = ok(&vouch(work, &["audit", "transparency", "--json"]));
    assert_eq!(tl["ok"], true, "{tl}");

    // The log grows (another version); transparency proves consistency with the stored
    // checkpoint and stores the new one.
    let dir3 = project(&work.join("p3"), "1.1.0");
    let t = token(work, url, WORKFLOW, "t4");
    ok(&vouch(
        work,
        &[
            "publish",
            &dir3,
            "--server",
            url,
            "--identity-token-file",
            &t,
        ],
    ));
    let tl = ok(&vouch(work, &["audit", "transparency", "--json"]));
    let s = &tl["servers"][0];
    assert!(s["new_size"].as_u64() > s["old_size"].as_u64(), "{tl}");

    fetch_latest_and_normalise(work, url);

    // The registry serves a corrupted archive: fetch refuses it and locks nothing.
    let dir4 = project(&work.join("p4"), "2.0.0");
    let t = token(work, url, WORKFLOW, "t5");
    let p4 = ok(&vouch(
        work,
        &[
            "publish",
            &dir4,
            "--server",
            url,
            "--identity-token-file",
            &t,
            "--json",
        ],
    ));
    let blob = find_file(&server.data, p4["blake3"].as_str().unwrap()).expect("stored blob");
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let before = std::fs::read_to_string(work.join("vouch.lock")).unwrap();
    let spec = format!("{PACKAGE}@2.0.0");
    let out = vouch(work, &["fetch", &spec, "--server", url]);
    // The registry re-hashes every blob it serves and refuses a corrupted one (500,
    // SERVE_E007); fetch passes the registry's code through unchanged (exit 2). Fetch's
    // own digest check (FETCH_E001) is tested against a lying registry in
    // tests/fetch_hostile.rs.
    refused(&out, 2, "SERVE_E007");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("downloading the archive: the registry failed (500 Internal Server Error)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("vouch.lock")).unwrap(),
        before
    );

    tampering(work, server);
}

/// The first file named `name` under `dir`.
/// Issue 15 (newcomer): `fetch` without a version resolves the newest and records it;
/// without `--out` the archive lands in the working directory, not only under .vouch/;
/// `vouch lock` without `--check` rewrites a hand-edited lockfile normalised.
fn fetch_latest_and_normalise(work: &Path, url: &str) {
    let lockfile = "latest/vouch.lock";
    let fetched = ok(&vouch(
        work,
        &[
            "fetch",
            PACKAGE,
            "--server",
            url,
            "--lockfile",
            lockfile,
            "--json",
        ],
    ));
    assert_eq!(fetched["version"], "1.1.0", "{fetched}");
    assert_eq!(fetched["resolved_latest"], true, "{fetched}");
    assert_eq!(fetched["archive"], "acme-widget-1.1.0.tar.zst", "{fetched}");
    assert!(work.join("acme-widget-1.1.0.tar.zst").is_file());
    let text = std::fs::read_to_string(work.join(lockfile)).unwrap();
    assert!(text.contains("version = \"1.1.0\""), "{text}");

    // A hand edit breaks the [provenance] block: --check refuses, a bare `lock` rewrites
    // it and says so, then --check passes.
    let edited = text.replace("sigstore_verified_count = 1", "sigstore_verified_count = 5");
    assert_ne!(edited, text);
    std::fs::write(work.join(lockfile), &edited).unwrap();
    refused(
        &vouch(work, &["lock", "--check", "--lockfile", lockfile]),
        1,
        "LOCK_E003",
    );
    let out = vouch(work, &["lock", "--lockfile", lockfile]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("[provenance] recomputed: 5 -> 1 verified"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(work.join(lockfile)).unwrap(), text);
    ok(&vouch(
        work,
        &[
            "lock",
            "--check",
            "--strict-sigstore",
            "--lockfile",
            lockfile,
        ],
    ));
    let again = ok(&vouch(work, &["lock", "--lockfile", lockfile, "--json"]));
    assert_eq!(again["rewritten"], false, "{again}");
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if let Some(found) = find_file(&p, name) {
                return Some(found);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

/// A lockfile whose first entry's identity was edited by hand: plain `--check` cannot
/// see it, `--strict-sigstore` refuses it with LOCK_E004 naming the entry.
fn lock_check_strict_sigstore_refuses_an_edited_identity(work: &Path, good: &str) {
    let mut lock: toml::Table = good.parse().unwrap();
    let pkg = lock["package"].as_array_mut().unwrap()[0]
        .as_table_mut()
        .unwrap();
    let id = format!(
        "{}@{}",
        pkg["name"].as_str().unwrap(),
        pkg["version"].as_str().unwrap()
    );
    let real = pkg["identity"].as_str().unwrap().to_owned();
    let forged = real.replace("release", "evil");
    assert_ne!(
        forged, real,
        "the identity names a release workflow: {real}"
    );
    pkg["identity"] = toml::Value::String(forged.clone());
    std::fs::write(work.join("vouch.lock"), lock.to_string()).unwrap();
    ok(&vouch(work, &["lock", "--check"]));
    let out = vouch(work, &["lock", "--check", "--strict-sigstore"]);
    refused(&out, 1, "LOCK_E004");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{id}: its cached bundle does not verify")),
        "{err}"
    );
    assert!(
        err.contains("VERIFY_E024") && err.contains(&forged),
        "{err}"
    );
    std::fs::write(work.join("vouch.lock"), good).unwrap();
}

/// Every audit refusal, each on a copy of the good lockfile.
fn tampering(work: &Path, server: &Server) {
    let good = std::fs::read_to_string(work.join("vouch.lock")).unwrap();
    let mut lock: toml::Table = good.parse().unwrap();
    let restore = || std::fs::write(work.join("vouch.lock"), &good).unwrap();
    let write = |t: &toml::Table| std::fs::write(work.join("vouch.lock"), t.to_string()).unwrap();

    // A lock entry whose leaf hash the log does not hold at its index.
    let pkg = &mut lock["package"].as_array_mut().unwrap()[0];
    pkg.as_table_mut().unwrap()["leaf_hash"] = toml::Value::String("00".repeat(32));
    write(&lock);
    let out = vouch(work, &["audit", "transparency"]);
    refused(&out, 1, "AUDIT_E001");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{PACKAGE}@1.0.0 is not at log index"))
            && err.contains("proof does not verify"),
        "{err}"
    );
    restore();

    // A stored checkpoint signed by another key.
    let mut lock: toml::Table = good.parse().unwrap();
    let server_t = lock["server"].as_array_mut().unwrap()[0]
        .as_table_mut()
        .unwrap();
    let origin = server_t["log_origin"].as_str().unwrap().to_owned();
    let stored = server_t["checkpoint"].as_str().unwrap().to_owned();
    let (cp, _) = vouch_tlog::checkpoint::parse_unverified(stored.as_bytes()).unwrap();
    let forger =
        vouch_tlog::Signer::from_seed(&origin, vouch_tlog::KeyType::Ed25519, &[7; 32]).unwrap();
    let forged = vouch_tlog::sign_note(&cp.to_text(), &[&forger]).unwrap();
    server_t["checkpoint"] = toml::Value::String(forged);
    write(&lock);
    let out = vouch(work, &["audit", "transparency"]);
    refused(&out, 1, "AUDIT_E001");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the checkpoint stored in the lockfile for")
            && err.contains("does not verify with the pinned log key"),
        "{err}"
    );
    let server_t = lock["server"].as_array_mut().unwrap()[0]
        .as_table_mut()
        .unwrap();

    // A fork: the real log key signed another root for the size the lock saw (the log has
    // grown since, so the consistency proof from that root fails).
    let key = std::fs::read_to_string(server.data.join("log.key")).unwrap();
    let log_key = vouch_tlog::Signer::parse(key.trim()).unwrap();
    let fork = vouch_tlog::Checkpoint::new(&origin, cp.size, vouch_tlog::Hash([9; 32]));
    let forked = vouch_tlog::sign_note(&fork.to_text(), &[&log_key]).unwrap();
    server_t["checkpoint"] = toml::Value::String(forked);
    write(&lock);
    let out = vouch(work, &["audit", "transparency"]);
    refused(&out, 1, "AUDIT_E001");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'s log disagrees with the checkpoint the lockfile stored"),
        "{err}"
    );
    restore();

    // A cached archive that no longer matches the lock.
    let b3 = good
        .lines()
        .find_map(|l| l.strip_prefix("blake3 = \""))
        .map(|l| l.trim_end_matches('"').to_owned())
        .unwrap();
    let blob = work.join(".vouch/blobs").join(&b3);
    let original = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, b"tampered").unwrap();
    let out = vouch(work, &["audit", "signatures", "--json"]);
    refused(&out, 1, "AUDIT_E002");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mismatched"], 1, "{report}");
    std::fs::write(&blob, original).unwrap();

    // Defect (issue 12): `lock --check --strict-sigstore` trusted the lockfile's own
    // "verified" flags, so a hand-edited identity passed. It re-verifies the cached
    // bundle against the entry's recorded identity now and names the entry.
    lock_check_strict_sigstore_refuses_an_edited_identity(work, &good);

    // An entry without a verified bundle: --strict-sigstore fails, plain --check passes.
    let mut lock: toml::Table = good.parse().unwrap();
    let pkg = lock["package"].as_array_mut().unwrap()[0]
        .as_table_mut()
        .unwrap();
    pkg["sigstore_verified"] = toml::Value::Boolean(false);
    let id = format!(
        "{}@{}",
        pkg["name"].as_str().unwrap(),
        pkg["version"].as_str().unwrap()
    );
    let prov = lock["provenance"].as_table_mut().unwrap();
    prov["sigstore_verified_count"] = toml::Value::Integer(0);
    prov["sigstore_unverified"] = toml::Value::Array(vec![toml::Value::String(id)]);
    write(&lock);
    ok(&vouch(work, &["lock", "--check"]));
    refused(
        &vouch(work, &["lock", "--check", "--strict-sigstore"]),
        1,
        "LOCK_E002",
    );
    let out = vouch(work, &["audit", "signatures", "--json"]);
    refused(&out, 1, "AUDIT_E002");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["unverified"], 1, "{report}");
    restore();
}

#[test]
fn registry_story_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &[]);
    story(&server);
}

#[test]
fn registry_story_on_postgres() {
    let db = PgDatabase::create();
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &["--database", &db.url()]);
    story(&server);
    drop(server);
}
