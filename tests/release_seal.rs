//! `vouch release seal` and `vouch verify checksums` end to end: sealed output passes
//! GNU `sha256sum -c`, a flipped byte is caught by both tools, re-sealing is byte-for-byte
//! idempotent, and bad records fail with their stable codes.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod pipe_support;
mod release_support;

use std::path::Path;
use std::process::Output;

use release_support::*;

const FILES: &[(&str, &[u8])] = &[
    ("demo-1.0.0-py3-none-any.whl", b"wheel bytes"),
    ("demo-1.0.0.tar.gz", b"sdist bytes"),
    ("demo 1.0 notes.txt", b"a name with spaces"),
    ("empty.bin", b""),
];

fn sealed_dir(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    write_files(&dir, FILES);
    seal(
        &dir,
        &["--commit", "0123456789ABCDEF0123456789abcdef01234567"],
    );
    dir
}

/// `vouch verify checksums --manifest dist-manifest.json FLAG` in `dir`.
fn check_manifest(dir: &Path, flag: &str) -> Output {
    vouch(
        dir,
        &[
            "verify",
            "checksums",
            "--manifest",
            "dist-manifest.json",
            flag,
        ],
    )
}

#[test]
fn sealed_output_passes_sha256sum_check() {
    let dir = sealed_dir("sha256sum");
    let out = tool(&dir, "sha256sum", &["-c", "--strict", "SHA256SUMS"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for (name, _) in FILES {
        let out = tool(
            &dir,
            "sha256sum",
            &["-c", "--strict", &format!("{name}.sha256")],
        );
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    // Byte-exact sha256sum output: what GNU sha256sum itself prints, sorted by name.
    let mut names: Vec<&str> = FILES.iter().map(|f| f.0).collect();
    names.sort();
    let gnu = tool(&dir, "sha256sum", &names);
    assert_eq!(std::fs::read(dir.join("SHA256SUMS")).unwrap(), gnu.stdout);

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("dist-manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["schema_version"], 1);
    assert_eq!(manifest["tag"], "v1.0.0");
    assert_eq!(
        manifest["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(manifest["generated_at"], "2026-01-02T03:04:05Z");
    let assets = manifest["assets"].as_array().unwrap();
    assert_eq!(assets.len(), FILES.len());
    let empty = assets.iter().find(|a| a["name"] == "empty.bin").unwrap();
    assert_eq!(empty["size"], 0);
    assert_eq!(
        empty["sha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        empty["blake3"],
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );

    for record in [
        &["--sums", "SHA256SUMS"][..],
        &["--manifest", "dist-manifest.json"][..],
    ] {
        let mut args = vec!["verify", "checksums", "--json"];
        args.extend_from_slice(record);
        let out = vouch(&dir, &args);
        assert_eq!(code(&out), 0, "{record:?}: {}", stdout(&out));
        let v = json(&out);
        assert_eq!(v["ok"], true);
        assert_eq!(v["counts"]["ok"], FILES.len());
    }
    // The default record is ./SHA256SUMS.
    assert_eq!(code(&vouch(&dir, &["verify", "checksums"])), 0);
}

#[test]
fn flipped_byte_is_caught_by_sha256sum_and_vouch() {
    let dir = sealed_dir("flip");
    let target = dir.join("demo-1.0.0.tar.gz");
    let mut bytes = std::fs::read(&target).unwrap();
    bytes[3] ^= 0x01;
    std::fs::write(&target, bytes).unwrap();

    assert!(!tool(&dir, "sha256sum", &["-c", "SHA256SUMS"])
        .status
        .success());
    assert!(
        !tool(&dir, "sha256sum", &["-c", "demo-1.0.0.tar.gz.sha256"])
            .status
            .success()
    );

    for record in [
        &["--sums", "SHA256SUMS"][..],
        &["--sums", "demo-1.0.0.tar.gz.sha256"][..],
        &["--manifest", "dist-manifest.json"][..],
    ] {
        let mut args = vec!["verify", "checksums", "--json"];
        args.extend_from_slice(record);
        let out = vouch(&dir, &args);
        assert_eq!(code(&out), 1, "{record:?}");
        let v = json(&out);
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["code"], "CHECKSUM_E004");
        let bad: Vec<_> = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] != "ok")
            .collect();
        assert_eq!(bad.len(), 1, "{v}");
        assert_eq!(bad[0]["name"], "demo-1.0.0.tar.gz");
        assert_eq!(bad[0]["status"], "mismatch");
        assert_stderr_has(&out, "error[CHECKSUM_E004]");
    }
    // Naming only an intact file passes; naming the flipped one fails.
    let ok = vouch(
        &dir,
        &["verify", "checksums", "--sums", "SHA256SUMS", "empty.bin"],
    );
    assert_eq!(code(&ok), 0, "{}", stdout(&ok));
    let bad = vouch(
        &dir,
        &[
            "verify",
            "checksums",
            "--sums",
            "SHA256SUMS",
            "demo-1.0.0.tar.gz",
        ],
    );
    assert_eq!(code(&bad), 1);
    assert!(
        stdout(&bad).contains("mismatch  demo-1.0.0.tar.gz"),
        "{}",
        stdout(&bad)
    );
}

#[test]
fn missing_and_extra_files_are_listed() {
    let dir = sealed_dir("missing-extra");
    std::fs::remove_file(dir.join("empty.bin")).unwrap();
    std::fs::write(dir.join("surprise.exe"), b"?").unwrap();
    let out = check_manifest(&dir, "--json");
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["counts"]["missing"], 1);
    assert_eq!(v["counts"]["extra"], 1);
    assert_eq!(v["counts"]["mismatch"], 0);
    // A file named on the command line that the record does not list is extra.
    let out = vouch(&dir, &["verify", "checksums", "surprise.exe", "--json"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["files"][0]["status"], "extra");
}

#[test]
fn resealing_is_idempotent_and_ignores_own_outputs() {
    let dir = sealed_dir("idempotent");
    let snapshot = |dir: &std::path::Path| {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let first = snapshot(&dir);
    let d = dir.to_str().unwrap();
    let out = vouch(
        &dir,
        &[
            "release",
            "seal",
            d,
            "--time",
            "2026-01-02T03:04:05Z",
            "--tag",
            "v1.0.0",
            "--commit",
            "0123456789abcdef0123456789abcdef01234567",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["written"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["assets"].as_array().unwrap().len(), FILES.len());
    assert_eq!(snapshot(&dir), first);
    // Without --time only generated_at may change.
    let out = vouch(
        &dir,
        &[
            "release",
            "seal",
            d,
            "--tag",
            "v1.0.0",
            "--commit",
            "0123456789abcdef0123456789abcdef01234567",
        ],
    );
    assert_eq!(code(&out), 0);
    let after = snapshot(&dir);
    for ((n1, b1), (n2, b2)) in first.iter().zip(&after) {
        assert_eq!(n1, n2);
        if n1 != "dist-manifest.json" {
            assert_eq!(b1, b2, "{n1}");
        }
    }
}

#[test]
fn crates_manifest_records_exceptions() {
    let dir = scratch("crates");
    write_files(
        &dir,
        &[("alpha-1.0.0.crate", b"alpha"), ("readme.txt", b"r")],
    );
    let outside = scratch("crates-outside");
    write_files(&outside, &[("beta-2.0.0.crate", b"beta")]);
    let beta = format!("beta@2.0.0={}", outside.join("beta-2.0.0.crate").display());
    seal(
        &dir,
        &[
            "--crate",
            "alpha@1.0.0=alpha-1.0.0.crate",
            "--crate",
            &beta,
            "--manual-exception",
            "beta@2.0.0",
        ],
    );
    let crates: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("crates-manifest.json")).unwrap()).unwrap();
    assert_eq!(crates["schema_version"], 1);
    let list = crates["crates"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "alpha");
    assert_eq!(list[0]["release_status"], "trusted_publish");
    assert_eq!(list[1]["name"], "beta");
    assert_eq!(list[1]["release_status"], "manual_token_publish");
    let expected = tool(&outside, "sha256sum", &["beta-2.0.0.crate"]);
    assert!(stdout(&expected).starts_with(list[1]["checksum"].as_str().unwrap()));
    // crates-manifest.json is not an asset on a re-seal.
    let m = seal(&dir, &["--crate", "alpha@1.0.0=alpha-1.0.0.crate"]);
    assert_eq!(m["assets"].as_array().unwrap().len(), 2);

    // An exception for a crate not given is a usage error.
    let d = dir.to_str().unwrap();
    let out = vouch(
        &dir,
        &[
            "release",
            "seal",
            d,
            "--manual-exception",
            "gamma@1.0.0",
            "--json",
        ],
    );
    assert_eq!(code(&out), 2);
    assert_eq!(json(&out)["error"]["code"], "RELEASE_E006");
    assert_stderr_has(&out, "error[RELEASE_E006]");
}

#[test]
fn bad_records_fail_with_stable_codes() {
    let dir = sealed_dir("bad-records");
    let manifest = std::fs::read_to_string(dir.join("dist-manifest.json")).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "SHA256SUMS",
            "not a checksum line\n".into(),
            "CHECKSUM_E001",
        ),
        (
            "SHA256SUMS",
            format!("{}  ../../etc/passwd\n", "0".repeat(64)),
            "CHECKSUM_E001",
        ),
        (
            "SHA256SUMS",
            format!("{0}  a\n{0}  a\n", "0".repeat(64)),
            "CHECKSUM_E002",
        ),
        ("SHA256SUMS", String::new(), "CHECKSUM_E003"),
        (
            "dist-manifest.json",
            manifest.replace("\"schema_version\": 1", "\"schema_version\": 7"),
            "RELEASE_E002",
        ),
        (
            "dist-manifest.json",
            "{\"schema_version\": 1".into(),
            "RELEASE_E003",
        ),
        (
            "dist-manifest.json",
            manifest.replace("\"empty.bin\"", "\"empty/../bin\""),
            "RELEASE_E001",
        ),
        (
            "dist-manifest.json",
            manifest.replace("\"empty.bin\"", "\"demo-1.0.0.tar.gz\""),
            "RELEASE_E004",
        ),
    ];
    for (file, content, expected) in cases {
        let bad = dir.join(format!("bad-{file}"));
        std::fs::write(&bad, &content).unwrap();
        let flag = if file == "SHA256SUMS" {
            "--sums"
        } else {
            "--manifest"
        };
        let out = vouch(
            &dir,
            &["verify", "checksums", flag, bad.to_str().unwrap(), "--json"],
        );
        assert_eq!(code(&out), 2, "{content:?}");
        assert_eq!(json(&out)["error"]["code"], expected, "{content:?}");
        assert!(
            stderr(&out).contains(&format!("error[{expected}]")),
            "{}",
            stderr(&out)
        );
        std::fs::remove_file(bad).unwrap();
    }
    let out = vouch(&dir, &["verify", "checksums", "--sums", "nope"]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "error[RELEASE_E005]");
}

#[test]
fn seal_refuses_symlinks_and_empty_dirs() {
    let dir = scratch("empty");
    let out = vouch(&dir, &["release", "seal", dir.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "error[RELEASE_E012]");
    std::fs::write(dir.join("real"), b"x").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.join("link")).unwrap();
    let out = vouch(&dir, &["release", "seal", dir.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert_stderr_has(&out, "error[RELEASE_E013]");
}

/// Defect (issue 12): a closed stdout (`vouch release seal ... | head -1`) ends the command
/// quietly with exit 0, in human and `--json` output, never with a panic.
#[test]
fn release_piped_into_head_exits_quietly() {
    let dir = scratch("closed-pipe");
    write_files(&dir, FILES);
    let d = dir.to_str().expect("utf-8 path");
    pipe_support::assert_quiet_on_closed_stdout(Some(&dir), &["release", "seal", d]);
    pipe_support::assert_quiet_on_closed_stdout(Some(&dir), &["release", "seal", d, "--json"]);
    pipe_support::assert_quiet_on_closed_stdout(Some(&dir), &["verify", "checksums", d]);
}

/// Newcomer defect (issue 15, item 7): a `.sigstore.json` downloaded beside the assets
/// failed `verify checksums`, where `sha256sum -c` ignores files it does not list. It is
/// now reported as extra and fails only with `--strict`.
#[test]
fn unlisted_files_are_reported_and_fail_only_with_strict() {
    let dir = sealed_dir("unlisted");
    std::fs::write(dir.join("demo-1.0.0.tar.gz.sigstore.json"), b"{}").unwrap();
    let out = vouch(&dir, &["verify", "checksums"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("extra     demo-1.0.0.tar.gz.sigstore.json"),
        "{text}"
    );
    assert!(
        text.contains("4 ok, 0 missing, 1 extra, 0 mismatch"),
        "{text}"
    );
    assert!(
        text.contains("1 file(s) not listed in the record were not checked"),
        "{text}"
    );
    let out = vouch(&dir, &["verify", "checksums", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(
        (v["ok"].clone(), v["counts"]["extra"].clone()),
        (true.into(), 1.into())
    );
    assert_eq!(v["ignored_extra"], 1);

    let out = vouch(&dir, &["verify", "checksums", "--strict", "--json"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["error"]["code"], "CHECKSUM_E004");
    assert_stderr_has(&out, "error[CHECKSUM_E004]");
    let out = check_manifest(&dir, "--strict");
    assert_eq!(code(&out), 1, "{}", stdout(&out));
}
