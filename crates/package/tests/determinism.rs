//! Packing: byte-identical output across file order, mtimes and permissions; a golden
//! digest; round trips through `inspect` / `extract`; refusals while walking.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use vouch_package::{extract, inspect, pack, pack_to_file, Filter, Limits, Manifest};

const LONG_DIR: &str = "a-rather-long-directory-name-that-keeps-going-and-going-on-and-on-past-one-hundred-bytes-of-ustar-name";

/// The fixed tree: (path, contents, executable).
fn files() -> Vec<(String, Vec<u8>, bool)> {
    vec![
        (
            "vouch.toml".into(),
            b"[package]\nname = \"@acme/widget\"\nversion = \"1.0.0\"\n".to_vec(),
            false,
        ),
        ("src/lib.rs".into(), b"pub fn hello() {}\n".to_vec(), false),
        ("bin/run".into(), b"#!/bin/sh\necho hi\n".to_vec(), true),
        ("empty".into(), Vec::new(), false),
        ("data/zeros.bin".into(), vec![0u8; 70_000], false),
        (
            format!("{LONG_DIR}/{}", "f".repeat(120)),
            b"pax path\n".to_vec(),
            false,
        ),
        ("B-upper-sorts-first".into(), b"B\n".to_vec(), false),
    ]
}

/// Writes the tree in the given order with the given mtime offset and extra mode bits.
fn build_tree(root: &Path, reverse: bool, mtime_secs: u64, loose_modes: bool) {
    let mut list = files();
    if reverse {
        list.reverse();
    }
    for (path, contents, exec) in list {
        let full = root.join(&path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, &contents).unwrap();
        let mode = match (exec, loose_modes) {
            (true, false) => 0o755,
            (true, true) => 0o700, // owner-only exec still means executable
            (false, false) => 0o644,
            (false, true) => 0o600,
        };
        fs::set_permissions(&full, fs::Permissions::from_mode(mode)).unwrap();
        let f = File::options().write(true).open(&full).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime_secs))
            .unwrap();
    }
    if loose_modes {
        fs::set_permissions(root.join("src"), fs::Permissions::from_mode(0o700)).unwrap();
    }
}

fn pack_bytes(root: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    pack(root, &Filter::default(), None, &mut out).unwrap();
    out
}

#[test]
fn identical_bytes_across_order_mtime_and_modes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    build_tree(a.path(), false, 1_000_000, false);
    build_tree(b.path(), true, 1_700_000_000, true);
    // Junk that must never be packed.
    fs::create_dir_all(b.path().join(".git/objects")).unwrap();
    fs::write(b.path().join(".git/HEAD"), "ref").unwrap();
    fs::create_dir_all(b.path().join("target/debug")).unwrap();
    fs::write(b.path().join("target/debug/x"), "x").unwrap();
    let first = pack_bytes(a.path());
    assert_eq!(first, pack_bytes(b.path()));
    assert_eq!(first, pack_bytes(a.path()), "same tree twice");
}

#[test]
fn golden_digest_of_fixed_tree() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), false, 12345, false);
    let bytes = pack_bytes(dir.path());
    // Changing this means every published archive's digest changes: only with intent,
    // and with a note in the changelog.
    assert_eq!(hex::encode(Sha256::digest(&bytes)), GOLDEN_SHA256);
}

const GOLDEN_SHA256: &str = "61a40bb309e99e243ef2ad74d9b284aa710877740fa989739f63d543baa446a2";

#[test]
fn digests_match_the_bytes_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), false, 0, false);
    let mut out = Vec::new();
    let packed = pack(dir.path(), &Filter::default(), None, &mut out).unwrap();
    assert_eq!(packed.digests.size, out.len() as u64);
    assert_eq!(
        packed.digests.sha256_hex(),
        hex::encode(Sha256::digest(&out))
    );
    assert_eq!(
        packed.digests.blake3_hex(),
        blake3::hash(&out).to_hex().to_string()
    );
    // zstd frame header: magic, then a descriptor with content size and checksum set.
    assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    assert_ne!(out[4] & 0x04, 0, "content checksum flag");
    assert_ne!(out[4] & 0xc0, 0, "content size flag");

    let seen = inspect(out.as_slice(), &Limits::default()).unwrap();
    assert_eq!(seen.digests, packed.digests);
    assert_eq!(seen.uncompressed_size, packed.uncompressed_size);
    let paths: Vec<_> = seen.entries.iter().map(|e| e.path.clone()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert_eq!(paths.len(), files().len());

    let dest = tempfile::tempdir().unwrap();
    let target = dest.path().join("out");
    extract(out.as_slice(), &target, &Limits::default()).unwrap();
    for (path, contents, exec) in files() {
        let full = target.join(&path);
        assert_eq!(fs::read(&full).unwrap(), contents, "{path}");
        let mode = fs::metadata(&full).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, if exec { 0o755 } else { 0o644 }, "{path}");
    }
}

#[test]
fn tar_headers_are_normalised() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), false, 999, true);
    let out = pack_bytes(dir.path());
    let tar = zstd::decode_all(out.as_slice()).unwrap();
    let mut archive = tar::Archive::new(tar.as_slice());
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.mtime().unwrap(), 0);
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        assert!(h.as_ustar().is_some());
        assert!(matches!(h.mode().unwrap(), 0o644 | 0o755));
        assert_eq!(h.entry_type(), tar::EntryType::Regular);
    }
    assert_eq!(tar.len() % 512, 0);
    assert!(tar[tar.len() - 1024..].iter().all(|&b| b == 0));
}

#[test]
fn output_inside_tree_and_filters_are_respected() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), false, 0, false);
    fs::write(dir.path().join("debug.log"), "noise").unwrap();
    let manifest = Manifest::parse(
        "[package]\nname = \"@acme/widget\"\nversion = \"1.0.0\"\nexclude = [\"**/*.log\", \"data\"]\n",
    )
    .unwrap();
    let out = dir.path().join("widget.tar.zst");
    let packed = pack_to_file(dir.path(), &manifest, &out).unwrap();
    assert!(packed
        .files
        .iter()
        .all(|f| f.path != "widget.tar.zst" && f.path != "debug.log"));
    assert!(packed.files.iter().all(|f| !f.path.starts_with("data/")));
    // Packing again, with the previous archive now present, gives the same bytes.
    let first = fs::read(&out).unwrap();
    pack_to_file(dir.path(), &manifest, &out).unwrap();
    assert_eq!(first, fs::read(&out).unwrap());
}

#[test]
fn refuses_symlinks_in_tree() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a"), "a").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("escape")).unwrap();
    let e = pack(dir.path(), &Filter::default(), None, Vec::new()).unwrap_err();
    assert_eq!(e.code(), "PKG_E009");
    fs::remove_file(dir.path().join("escape")).unwrap();
    std::os::unix::fs::symlink("a", dir.path().join("inside")).unwrap();
    let e = pack(dir.path(), &Filter::default(), None, Vec::new()).unwrap_err();
    assert_eq!(e.code(), "PKG_E009");
    // An excluded symlink is simply not packed.
    let filter = Filter::new(&[], &["inside".to_string()]).unwrap();
    pack(dir.path(), &filter, None, Vec::new()).unwrap();
}

#[test]
fn refuses_fifo_in_tree() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(
        matches!(status, Ok(s) if s.success()),
        "mkfifo (coreutils) is required for this test"
    );
    let e = pack(dir.path(), &Filter::default(), None, Vec::new()).unwrap_err();
    assert_eq!(e.code(), "PKG_E010");
}

#[test]
fn refuses_unsafe_names_and_empty_trees() {
    let dir = tempfile::tempdir().unwrap();
    let e = pack(dir.path(), &Filter::default(), None, Vec::new()).unwrap_err();
    assert_eq!(e.code(), "PKG_E012");
    fs::write(dir.path().join("back\\slash"), "x").unwrap();
    let e = pack(dir.path(), &Filter::default(), None, Vec::new()).unwrap_err();
    assert_eq!(e.code(), "PKG_E016");
}

#[test]
fn extract_refuses_non_empty_destination() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), false, 0, false);
    let out = pack_bytes(dir.path());
    let e = extract(out.as_slice(), dir.path(), &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "PKG_E029");
}

#[test]
fn gnu_tar_and_zstd_cli_read_the_archive() {
    let tools = ["tar", "zstd"].iter().all(|t| {
        std::process::Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    // Both ship on every machine this project runs on; a missing tool fails the test.
    assert!(tools, "GNU tar and zstd are required for the interop check");
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), false, 0, false);
    let out_dir = tempfile::tempdir().unwrap();
    let archive = out_dir.path().join("pkg.tar.zst");
    fs::write(&archive, pack_bytes(dir.path())).unwrap();
    let check = std::process::Command::new("zstd")
        .arg("-tq")
        .arg(&archive)
        .status()
        .unwrap();
    assert!(check.success(), "zstd -t");
    let listed = std::process::Command::new("tar")
        .args(["--zstd", "-tf"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let mut names: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut expected: Vec<String> = files().into_iter().map(|f| f.0).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn multi_megabyte_file_streams_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::with_capacity(3 << 20);
    let mut x: u32 = 0x1234_5678;
    while data.len() < 3 << 20 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        data.extend_from_slice(&x.to_le_bytes());
    }
    fs::write(dir.path().join("big.bin"), &data).unwrap();
    let out = pack_bytes(dir.path());
    let dest = tempfile::tempdir().unwrap();
    let seen = extract(out.as_slice(), &dest.path().join("x"), &Limits::default()).unwrap();
    assert_eq!(seen.entries[0].size, data.len() as u64);
    assert_eq!(fs::read(dest.path().join("x/big.bin")).unwrap(), data);
}

#[test]
fn documented_limit_defaults() {
    let l = Limits::default();
    assert_eq!(l.max_uncompressed_bytes, 1 << 30);
    assert_eq!(l.max_ratio, 100);
    assert_eq!(l.ratio_grace_bytes, 1 << 20);
    assert_eq!(l.max_entries, 100_000);
}

#[test]
fn inspect_keeping_reads_one_file_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[package]\nname = \"@acme/keep\"\nversion = \"1.0.0\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/big.txt"), vec![b'x'; 4096]).unwrap();
    let mut archive = Vec::new();
    vouch_package::pack(
        dir.path(),
        &vouch_package::Filter::default(),
        None,
        &mut archive,
    )
    .unwrap();
    let limits = vouch_package::Limits::default();

    let (seen, kept) =
        vouch_package::inspect_keeping(&archive[..], &limits, "vouch.toml", 1024).unwrap();
    assert_eq!(seen, vouch_package::inspect(&archive[..], &limits).unwrap());
    assert_eq!(
        kept.as_deref(),
        Some(&b"[package]\nname = \"@acme/keep\"\nversion = \"1.0.0\"\n"[..])
    );
    // Over the cap: not kept, but the whole archive was still read and checked.
    let (seen, kept) =
        vouch_package::inspect_keeping(&archive[..], &limits, "src/big.txt", 4095).unwrap();
    assert_eq!(kept, None);
    assert_eq!(seen.entries.len(), 2);
    let (_, kept) =
        vouch_package::inspect_keeping(&archive[..], &limits, "src/big.txt", 4096).unwrap();
    assert_eq!(kept.map(|k| k.len()), Some(4096));
    // No such file.
    let (_, kept) =
        vouch_package::inspect_keeping(&archive[..], &limits, "missing.toml", 1024).unwrap();
    assert_eq!(kept, None);
    // A damaged archive is refused as `inspect` refuses it, kept file or not.
    let bad = &archive[..archive.len() - 10];
    let a = vouch_package::inspect(bad, &limits).unwrap_err();
    let b = vouch_package::inspect_keeping(bad, &limits, "vouch.toml", 1024).unwrap_err();
    assert_eq!(a.code(), b.code());
}
