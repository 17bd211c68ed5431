//! Runs every transparency-dev Merkle test vector (inclusion, consistency, subtree
//! inclusion, subtree consistency; positive and negative) through vouch-tlog's
//! verifiers in one data-driven test, with a strict list of expected exceptions.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vouch_tlog::{
    verify_consistency, verify_inclusion, verify_subtree_consistency, verify_subtree_inclusion,
    Hash,
};

/// Vectors whose verdict vouch deliberately does not reproduce, by path relative to
/// `testdata/`, with the reason. Kept empty: every vector must give its expected verdict.
const EXPECTED_EXCEPTIONS: &[(&str, &str)] = &[];

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/merkle/testdata")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// A vector value as a [`Hash`]. Vectors use arbitrary byte strings for roots and leaves
/// (e.g. the 12-byte "don't care 1"), which a 32-byte `Hash` cannot hold. Those are
/// embedded injectively with a domain-separated SHA-256: two given values compare equal
/// exactly when their bytes do, and an embedded value never equals a computed tree hash
/// (that would be a SHA-256 preimage), so every comparison the verifiers make keeps the
/// outcome it has on raw bytes.
fn embed(b64: &str) -> Hash {
    let bytes = STANDARD.decode(b64).expect("vector base64");
    match Hash::from_slice(&bytes) {
        Ok(h) => h,
        Err(_) => {
            let mut h = Sha256::new();
            h.update(b"vouch test embedding of a non-32-byte vector value\n");
            h.update(&bytes);
            Hash(h.finalize().into())
        }
    }
}

/// Proof elements: vouch's parsers only accept 32-byte hashes, so a proof with any other
/// element length is rejected before verification (an error verdict).
fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|e| {
                let bytes = STANDARD.decode(e.as_str()?).ok()?;
                Hash::from_slice(&bytes).ok()
            })
            .collect(),
        _ => None,
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("field {k} is not a u64: {}", v[k]))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("field {k} is not a string"))
}

/// A leaf hash: like proof elements, vouch only ever verifies a 32-byte leaf hash it
/// computed itself, so any other length is rejected up front (as the Go reference does).
fn leaf(v: &Value) -> Option<Hash> {
    Hash::from_slice(&STANDARD.decode(s(v, "leafHash")).ok()?).ok()
}

/// Returns whether the vector verified.
fn run(kind: &str, v: &Value) -> bool {
    let Some(p) = proof(&v["proof"]) else {
        return false;
    };
    let needs_leaf = kind.ends_with("inclusion");
    let leaf_hash = if needs_leaf {
        match leaf(v) {
            Some(l) => l,
            None => return false,
        }
    } else {
        Hash::default()
    };
    match kind {
        "inclusion" => verify_inclusion(
            u(v, "leafIdx"),
            u(v, "treeSize"),
            &leaf_hash,
            &p,
            &embed(s(v, "root")),
        )
        .is_ok(),
        "consistency" => verify_consistency(
            u(v, "size1"),
            u(v, "size2"),
            &p,
            &embed(s(v, "root1")),
            &embed(s(v, "root2")),
        )
        .is_ok(),
        "subtreeinclusion" => verify_subtree_inclusion(
            u(v, "leafIdx"),
            u(v, "start"),
            u(v, "end"),
            &leaf_hash,
            &p,
            &embed(s(v, "root")),
        )
        .is_ok(),
        "subtreeconsistency" => verify_subtree_consistency(
            u(v, "start"),
            u(v, "end"),
            u(v, "size"),
            &p,
            &embed(s(v, "root1")),
            &embed(s(v, "root2")),
        )
        .is_ok(),
        other => panic!("unknown vector kind {other}"),
    }
}

#[test]
fn every_merkle_vector_gives_its_expected_verdict() {
    let root = vectors_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(
        files.len() > 500,
        "expected the full vector set, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut unexpected_passes = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, (usize, usize)>::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let kind = rel.split('/').next().expect("kind directory").to_owned();
        let text = std::fs::read_to_string(f).expect("read vector");
        let v: Value = serde_json::from_str(&text).expect("vector json");
        let want_err = v["wantErr"].as_bool().expect("wantErr");
        let ok = run(&kind, &v);
        let matched = ok != want_err;
        let excepted = EXPECTED_EXCEPTIONS.iter().any(|(p, _)| *p == rel);
        let c = counts.entry(kind).or_default();
        c.0 += 1;
        if matched {
            c.1 += 1;
            if excepted {
                unexpected_passes.push(rel);
            }
        } else if !excepted {
            failures.push(format!("{rel}: wantErr={want_err}, verified={ok}"));
        }
    }
    eprintln!("merkle vectors by kind (total, matching): {counts:?}");
    assert!(
        failures.is_empty(),
        "{} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        unexpected_passes.is_empty(),
        "listed exceptions now pass, remove them: {unexpected_passes:?}"
    );
}
