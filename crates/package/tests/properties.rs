//! Property tests: the readers never panic on arbitrary or mutated input, and packing
//! round-trips arbitrary small trees.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;

use proptest::prelude::*;
use vouch_package::{inspect, pack, Filter, Limits, Manifest, PackageName};

/// A valid archive's tar stream (uncompressed) and its compressed form, built once.
fn valid() -> (Vec<u8>, Vec<u8>) {
    static VALID: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    VALID.get_or_init(build_valid).clone()
}

fn build_valid() -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("src/deep")).unwrap();
    fs::write(
        dir.path().join("vouch.toml"),
        "[package]\nname = \"@a/b\"\nversion = \"1.0.0\"\n",
    )
    .unwrap();
    fs::write(dir.path().join("src/lib.rs"), "fn main() {}\n".repeat(20)).unwrap();
    fs::write(dir.path().join("src/deep/x.bin"), [1u8, 2, 3]).unwrap();
    let long = dir.path().join("src").join("n".repeat(150));
    fs::write(long, "long").unwrap();
    let mut out = Vec::new();
    pack(dir.path(), &Filter::default(), None, &mut out).unwrap();
    let tar = zstd::decode_all(out.as_slice()).unwrap();
    (tar, out)
}

fn small_limits() -> Limits {
    Limits::default().with_max_uncompressed_bytes(8 << 20)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn inspect_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = inspect(bytes.as_slice(), &small_limits());
    }

    #[test]
    fn inspect_never_panics_on_zstd_of_arbitrary_tar(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let z = zstd::encode_all(bytes.as_slice(), 1).unwrap();
        let _ = inspect(z.as_slice(), &small_limits());
    }

    #[test]
    fn inspect_never_panics_on_mutated_tar(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (mut tar, _) = valid();
        for (i, b) in edits {
            let i = i.index(tar.len());
            tar[i] = b;
        }
        if truncate {
            tar.truncate(cut.index(tar.len()));
        }
        let z = zstd::encode_all(tar.as_slice(), 1).unwrap();
        let _ = inspect(z.as_slice(), &small_limits());
    }

    #[test]
    fn inspect_never_panics_on_mutated_archive(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (_, mut z) = valid();
        for (i, b) in edits {
            let i = i.index(z.len());
            z[i] = b;
        }
        let _ = inspect(z.as_slice(), &small_limits());
    }

    #[test]
    fn manifest_and_name_parsers_never_panic(text in "\\PC{0,200}") {
        let _ = Manifest::parse(&text);
        let _ = PackageName::parse(&text);
        let _ = Manifest::parse(&format!("[package]\nname = {text:?}\nversion = {text:?}\n"));
    }
}

proptest! {
    // Each case packs at zstd level 19: fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn pack_round_trips_arbitrary_trees(
        tree in proptest::collection::btree_map(
            "[a-z0-9_.-]{1,12}(/[a-z0-9_-]{1,12}){0,2}",
            (proptest::collection::vec(any::<u8>(), 0..300), any::<bool>()),
            1..8,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = Vec::new();
        for (path, (data, exec)) in &tree {
            // Skip names the packer refuses by design or that clash with a directory.
            if path.split('/').any(|c| c == "." || c == ".." || c == ".git") || path.starts_with("target") {
                continue;
            }
            let full = dir.path().join(path);
            if fs::create_dir_all(full.parent().unwrap()).is_err() || full.is_dir() || fs::write(&full, data).is_err() {
                continue;
            }
            fs::set_permissions(&full, fs::Permissions::from_mode(if *exec { 0o700 } else { 0o600 })).unwrap();
            expected.push(path.clone());
        }
        // A later file may have replaced an earlier one's parent: keep what exists.
        expected.retain(|p| dir.path().join(p).is_file());
        prop_assume!(!expected.is_empty());
        expected.sort();
        let mut out = Vec::new();
        let packed = pack(dir.path(), &Filter::default(), None, &mut out).unwrap();
        let seen = inspect(out.as_slice(), &Limits::default()).unwrap();
        let paths: Vec<String> = seen.entries.iter().map(|e| e.path.clone()).collect();
        prop_assert_eq!(&paths, &expected);
        prop_assert_eq!(seen.digests, packed.digests);
        let mut again = Vec::new();
        pack(dir.path(), &Filter::default(), None, &mut again).unwrap();
        prop_assert_eq!(out, again);
    }
}
