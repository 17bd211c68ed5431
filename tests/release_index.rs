//! `vouch release verify-index` against loopback servers that answer in PyPI's, crates.io's
//! and vouch's API shapes: all ok, drift, propagation lag that clears on the third retry,
//! unexpected files, manual crate publishes with and without an exception, and indexes
//! that answer malformed, oversized, slowly or with errors (never a silent pass).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod release_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use release_support::*;
use serde_json::{json, Value};

const WHEEL: &str = "demo_pkg-1.0.0-py3-none-any.whl";
const SDIST: &str = "demo_pkg-1.0.0.tar.gz";
const CRATE: &str = "demo-core-1.0.0.crate";

/// A sealed release with a wheel, an sdist, a binary tarball and a crate.
fn release(name: &str, extra: &[&str]) -> (PathBuf, Value) {
    let dir = scratch(name);
    write_files(
        &dir,
        &[
            (WHEEL, b"wheel"),
            (SDIST, b"sdist"),
            ("demo-x86_64-linux.tar.gz", b"binary"),
            (CRATE, b"crate"),
        ],
    );
    let mut args = vec!["--crate", "demo-core@1.0.0=demo-core-1.0.0.crate"];
    args.extend_from_slice(extra);
    let manifest = seal(&dir, &args);
    (dir, manifest)
}

fn sha(manifest: &Value, name: &str) -> String {
    asset(manifest, name)["sha256"].as_str().unwrap().to_owned()
}

fn asset<'a>(manifest: &'a Value, name: &str) -> &'a Value {
    manifest["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap()
}

fn pypi_body(files: &[(&str, String)]) -> String {
    let urls: Vec<Value> = files
        .iter()
        .map(|(f, d)| json!({"filename": f, "digests": {"sha256": d, "md5": "00"}, "url": format!("https://files.invalid/{f}")}))
        .collect();
    json!({"info": {"name": "demo-pkg", "version": "1.0.0"}, "urls": urls}).to_string()
}

fn verify_index(dir: &Path, server: &Server, index: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "release",
        "verify-index",
        "--manifest",
        "dist-manifest.json",
        "--index",
        index,
        "--url",
        &server.base,
        "--backoff-ms",
        "10",
        "--json",
    ];
    args.extend_from_slice(extra);
    vouch(dir, &args)
}

fn statuses(v: &Value) -> Vec<(String, String)> {
    v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["artifact"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const PYPI_PATH: &str = "/pypi/demo-pkg/1.0.0/json";

#[test]
fn pypi_all_ok() {
    let (dir, m) = release("pypi-ok", &[]);
    let body = pypi_body(&[
        (WHEEL, sha(&m, WHEEL)),
        (SDIST, sha(&m, SDIST).to_uppercase()),
    ]);
    let server = Server::start(move |path, _| match path {
        PYPI_PATH => Reply::Json(200, body.clone()),
        _ => Reply::Json(404, "{}".into()),
    });
    // The version defaults to the manifest's tag without its `v`.
    let out = verify_index(&dir, &server, "pypi", &["--package", "demo-pkg"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let v = json(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["attempts"], 1);
    // Sorted by name in byte order: `-` sorts before `.`.
    assert_eq!(
        statuses(&v),
        [(WHEEL.into(), "ok".into()), (SDIST.into(), "ok".into())]
    );
    assert!(
        stderr(&out).contains("retries 5, backoff 10 ms"),
        "limits are printed: {}",
        stderr(&out)
    );
    // A re-run gives the same verdict (nothing is cached or written).
    let again = verify_index(&dir, &server, "pypi", &["--package", "demo-pkg"]);
    assert_eq!(json(&again)["artifacts"], v["artifacts"]);
}

#[test]
fn pypi_drifted_digest_is_a_mismatch_without_retries() {
    let (dir, m) = release("pypi-drift", &[]);
    let body = pypi_body(&[(WHEEL, sha(&m, WHEEL)), (SDIST, "ab".repeat(32))]);
    let server = Server::start(move |_, _| Reply::Json(200, body.clone()));
    let out = verify_index(
        &dir,
        &server,
        "pypi",
        &["--package", "demo-pkg", "--version", "1.0.0"],
    );
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["code"], "RELEASE_E014");
    let drift = v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["artifact"] == SDIST)
        .unwrap();
    assert_eq!(drift["status"], "mismatch");
    assert_eq!(drift["found"], "ab".repeat(32));
    assert_eq!(drift["expected"], sha(&m, SDIST));
    assert_eq!(server.hits(PYPI_PATH), 1, "drift is not propagation lag");
    assert!(stderr(&out).contains("error[RELEASE_E014]"));
}

#[test]
fn pypi_missing_file_appears_on_the_third_retry() {
    let (dir, m) = release("pypi-lag", &[]);
    let partial = pypi_body(&[(WHEEL, sha(&m, WHEEL))]);
    let full = pypi_body(&[(WHEEL, sha(&m, WHEEL)), (SDIST, sha(&m, SDIST))]);
    let handler = move |_: &str, n: u32| {
        // Request 0 is the first attempt; requests 1, 2, 3 are retries 1, 2, 3.
        if n < 3 {
            Reply::Json(200, partial.clone())
        } else {
            Reply::Json(200, full.clone())
        }
    };
    let server = Server::start(handler.clone());
    let out = verify_index(
        &dir,
        &server,
        "pypi",
        &["--package", "demo-pkg", "--retries", "3"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["attempts"], 4);
    assert_stderr_has(&out, "retry 3/3 in 40 ms: 1 artifact(s) not served yet");

    // With one retry fewer the file is still missing: reported, exit 1.
    let server = Server::start(handler);
    let out = verify_index(
        &dir,
        &server,
        "pypi",
        &["--package", "demo-pkg", "--retries", "2"],
    );
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["attempts"], 3);
    assert_eq!(
        statuses(&v),
        [
            (WHEEL.into(), "ok".into()),
            (SDIST.into(), "missing".into())
        ]
    );
}

#[test]
fn pypi_unexpected_and_not_found() {
    let (dir, m) = release("pypi-unexpected", &[]);
    let body = pypi_body(&[
        (WHEEL, sha(&m, WHEEL)),
        (SDIST, sha(&m, SDIST)),
        ("demo_pkg-1.0.0-py2-none-any.whl", "cd".repeat(32)),
    ]);
    let server = Server::start(move |_, _| Reply::Json(200, body.clone()));
    let out = verify_index(&dir, &server, "pypi", &["--package", "demo-pkg"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["counts"]["unexpected"], 1);

    let server = Server::start(|_, _| Reply::Json(404, r#"{"message": "Not Found"}"#.into()));
    let out = verify_index(
        &dir,
        &server,
        "pypi",
        &["--package", "demo-pkg", "--retries", "1"],
    );
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["counts"]["missing"], 2);
    assert_eq!(server.hits(PYPI_PATH), 2);
}

fn crates_body(checksum: &str, trusted: bool) -> String {
    let (trustpub, by) = if trusted {
        (
            json!({"provider": "github", "repository": "acme/demo", "run_id": "1"}),
            Value::Null,
        )
    } else {
        (
            Value::Null,
            json!({"id": 7, "login": "alice", "name": "Alice"}),
        )
    };
    json!({"versions": [
        {"num": "0.9.0", "checksum": "00".repeat(32), "trustpub_data": null, "published_by": {"login": "old"}},
        {"num": "1.0.0", "checksum": checksum, "trustpub_data": trustpub, "published_by": by, "yanked": false}
    ], "meta": {"total": 2, "next_page": null}})
    .to_string()
}

const CRATES_PATH: &str = "/api/v1/crates/demo-core/versions";

#[test]
fn crates_trusted_publish_passes_and_drift_fails() {
    let (dir, m) = release("crates-trusted", &[]);
    let good = crates_body(&sha(&m, CRATE), true);
    let server = Server::start(move |path, _| match path {
        CRATES_PATH => Reply::Json(200, good.clone()),
        _ => Reply::Json(404, "{}".into()),
    });
    let out = verify_index(&dir, &server, "crates", &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        statuses(&json(&out)),
        [("demo-core@1.0.0".into(), "ok".into())]
    );

    let drift = crates_body(&"ef".repeat(32), true);
    let server = Server::start(move |_, _| Reply::Json(200, drift.clone()));
    let out = verify_index(&dir, &server, "crates", &["--package", "demo-core"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["artifacts"][0]["field"], "checksum");
}

#[test]
fn manually_published_crate_needs_an_exception() {
    let (dir, m) = release("crates-manual", &[]);
    let body = crates_body(&sha(&m, CRATE), false);
    let b = body.clone();
    let server = Server::start(move |_, _| Reply::Json(200, b.clone()));
    let out = verify_index(&dir, &server, "crates", &[]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["artifacts"][0]["status"], "manual_publish");
    assert_eq!(v["artifacts"][0]["published_by"], "alice");
    assert!(stdout(&out).contains("manual_publish"));

    let (dir, _) = release(
        "crates-manual-exception",
        &["--manual-exception", "demo-core@1.0.0"],
    );
    let server = Server::start(move |_, _| Reply::Json(200, body.clone()));
    let out = verify_index(&dir, &server, "crates", &[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(json(&out)["artifacts"][0]["status"], "ok");
}

#[test]
fn vouch_index_ok_and_drift() {
    let (dir, m) = release("vouch-index", &[]);
    let artifacts: Vec<Value> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| json!({"filename": a["name"], "size": a["size"], "sha256": a["sha256"], "blake3": a["blake3"]}))
        .collect();
    let body =
        json!({"name": "@acme/demo", "version": "1.0.0", "artifacts": artifacts}).to_string();
    let mut drifted: Value = serde_json::from_str(&body).unwrap();
    drifted["artifacts"][0]["blake3"] = json!("11".repeat(32));
    let drifted = drifted.to_string();
    let server = Server::start(move |path, _| match path {
        "/api/v1/packages/@acme/demo/1.0.0" => Reply::Json(200, body.clone()),
        "/api/v1/packages/@acme/demo/2.0.0" => {
            Reply::Json(200, drifted.replace("\"1.0.0\"", "\"2.0.0\""))
        }
        _ => Reply::Json(404, "{}".into()),
    });
    let out = verify_index(&dir, &server, "vouch", &["--package", "@acme/demo"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(json(&out)["counts"]["ok"], 4);
    let out = verify_index(
        &dir,
        &server,
        "vouch",
        &["--package", "@acme/demo", "--version", "2.0.0"],
    );
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["counts"]["mismatch"], 1);
    assert_eq!(v["counts"]["ok"], 3);
    assert!(asset(
        &m,
        v["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["status"] == "mismatch")
            .unwrap()["artifact"]
            .as_str()
            .unwrap()
    )["blake3"]
        .is_string());
}

/// Runs verify-index against a misbehaving PyPI and returns (exit code, JSON error code).
fn misbehaving(
    name: &str,
    reply: impl Fn() -> Reply + Send + Sync + 'static,
    extra: &[&str],
) -> (i32, String, String) {
    let (dir, _) = release(name, &[]);
    let server = Server::start(move |_, _| reply());
    let mut args = vec!["--package", "demo-pkg", "--retries", "1"];
    args.extend_from_slice(extra);
    let out = verify_index(&dir, &server, "pypi", &args);
    let v = json(&out);
    assert_eq!(v["ok"], false, "{v}");
    (
        code(&out),
        v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        stderr(&out),
    )
}

#[test]
fn malformed_responses_are_errors() {
    for body in [
        "not json",
        r#"{"urls": "nope"}"#,
        r#"{"urls": [{"filename": "../x.whl", "digests": {"sha256": "00"}}]}"#,
        "[]",
    ] {
        let body = body.to_owned();
        let (exit, code, err) =
            misbehaving("malformed", move || Reply::Json(200, body.clone()), &[]);
        assert_eq!((exit, code.as_str()), (2, "RELEASE_E008"), "{err}");
        assert!(err.contains("error[RELEASE_E008]"));
    }
}

#[test]
fn oversized_responses_are_errors() {
    // No Content-Length: caught while reading.
    let (exit, code, _) = misbehaving(
        "huge-stream",
        || Reply::Endless(200_000),
        &["--max-response-bytes", "10000"],
    );
    assert_eq!((exit, code.as_str()), (2, "RELEASE_E009"));
    // Declared Content-Length over the cap: refused before reading.
    let big = format!("{{\"urls\": [], \"pad\": \"{}\"}}", "x".repeat(20_000));
    let (exit, code, _) = misbehaving(
        "huge-declared",
        move || Reply::Json(200, big.clone()),
        &["--max-response-bytes", "10000"],
    );
    assert_eq!((exit, code.as_str()), (2, "RELEASE_E009"));
}

#[test]
fn slow_or_failing_indexes_are_errors_after_retries() {
    let (exit, code, err) = misbehaving(
        "timeout",
        || Reply::Stall(Duration::from_secs(3)),
        &["--timeout-ms", "300"],
    );
    assert_eq!((exit, code.as_str()), (2, "RELEASE_E007"), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(err.contains("retry 1/1"), "{err}");
    let (exit, code, err) = misbehaving("unavailable", || Reply::Json(503, "{}".into()), &[]);
    assert_eq!((exit, code.as_str()), (2, "RELEASE_E007"), "{err}");
    assert!(err.contains("HTTP 503"), "{err}");
    let (exit, code, _) = misbehaving("forbidden", || Reply::Json(403, "{}".into()), &[]);
    assert_eq!((exit, code.as_str()), (2, "RELEASE_E010"));
}

#[test]
fn usage_errors() {
    let (dir, _) = release("usage", &[]);
    let out = vouch(
        &dir,
        &[
            "release",
            "verify-index",
            "--manifest",
            "dist-manifest.json",
            "--index",
            "vouch",
            "--package",
            "x",
            "--json",
        ],
    );
    assert_eq!(code(&out), 2);
    assert_eq!(json(&out)["error"]["code"], "RELEASE_E006");
    // A package with no wheel or sdist in the manifest: nothing to compare is an error,
    // not a pass.
    let out = vouch(
        &dir,
        &[
            "release",
            "verify-index",
            "--manifest",
            "dist-manifest.json",
            "--index",
            "pypi",
            "--package",
            "other",
            "--url",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "error[RELEASE_E006]");
}
