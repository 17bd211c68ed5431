//! Proof generation against an independent recursive reference (RFC 9162 `PATH` and
//! `SUBPROOF` written directly from Sections 2.1.3.1 and 2.1.4.1), round trips through
//! the verifiers, and tile-backed reading across tile levels.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use vouch_tlog::proof::is_valid_subtree;
use vouch_tlog::{
    consistency_proof, inclusion_proof, leaf_hash, root_of, subtree_consistency_proof,
    tiles_for_nodes, verify_consistency, verify_inclusion, verify_subtree_consistency,
    verify_subtree_inclusion, Error, Hash, MemoryTree, RightEdge, TileHashReader,
};

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162, Section 2.1.3.1.
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(root_of(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(root_of(&d[..k]));
        p
    }
}

/// RFC 9162, Section 2.1.4.1.
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![root_of(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(root_of(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(root_of(&d[..k]));
        p
    }
}

fn tree(n: u64) -> (MemoryTree, Vec<Hash>) {
    let l = leaves(n);
    let mut t = MemoryTree::new();
    for h in &l {
        t.push(*h);
    }
    (t, l)
}

#[test]
fn inclusion_proofs_match_reference_and_verify() {
    // Every index of every size up to 70, then sampled indexes across tile boundaries.
    let (_, all) = tree(600);
    let sizes = (1..=70u64).chain([255, 256, 257, 511, 513, 600]);
    for n in sizes {
        let (t, l) = tree(n);
        assert_eq!(t.root(), root_of(&all[..n as usize]));
        let indexes: Vec<u64> = if n <= 70 {
            (0..n).collect()
        } else {
            vec![0, 1, 127, 254, n / 2, n - 2, n - 1]
        };
        for i in indexes {
            let p = inclusion_proof(i, n, &t).unwrap();
            assert_eq!(p, path(i as usize, &l), "n={n} i={i}");
            verify_inclusion(i, n, &l[i as usize], &p, &t.root()).unwrap();
            if i + 1 < n {
                // The proof of i claimed for i + 1: a proof of the wrong length for that
                // index, or one that folds to another root.
                let want = path(i as usize + 1, &l).len();
                let got = verify_inclusion(i + 1, n, &l[i as usize], &p, &t.root());
                if want == p.len() {
                    assert!(
                        matches!(got, Err(Error::RootMismatch { expected, .. }) if expected == t.root()),
                        "n={n} i={i}: {got:?}"
                    );
                } else {
                    assert_eq!(
                        got,
                        Err(Error::ProofLength {
                            expected: want,
                            found: p.len()
                        }),
                        "n={n} i={i}"
                    );
                }
            }
        }
        assert_eq!(
            inclusion_proof(n, n, &t),
            Err(Error::IndexOutOfRange { index: n, size: n })
        );
    }
}

#[test]
fn consistency_proofs_match_reference_and_verify() {
    for n in 1..=80u64 {
        let (t, l) = tree(n);
        for m in 1..=n {
            let p = consistency_proof(m, n, &t).unwrap();
            let want = if m == n {
                vec![]
            } else {
                subproof(m as usize, &l, true)
            };
            assert_eq!(p, want, "m={m} n={n}");
            let old = root_of(&l[..m as usize]);
            verify_consistency(m, n, &p, &old, &t.root()).unwrap();
            // The subtree [0, m) is the same statement.
            verify_subtree_consistency(0, m, n, &p, &old, &t.root()).unwrap();
            if m < n {
                let wrong = root_of(&l[..m as usize - 1]);
                let got = verify_consistency(m, n, &p, &wrong, &t.root());
                assert!(
                    matches!(got, Err(Error::RootMismatch { .. })),
                    "m={m} n={n}: {got:?}"
                );
            }
        }
    }
}

#[test]
fn subtree_proofs_verify_for_every_valid_subtree() {
    for n in 1..=40u64 {
        let (t, l) = tree(n);
        for start in 0..n {
            for end in start + 1..=n {
                if !is_valid_subtree(start, end) {
                    assert_eq!(
                        subtree_consistency_proof(start, end, n, &t),
                        Err(Error::InvalidSubtree {
                            start,
                            end,
                            size: n
                        })
                    );
                    continue;
                }
                let sub = root_of(&l[start as usize..end as usize]);
                let p = subtree_consistency_proof(start, end, n, &t).unwrap();
                verify_subtree_consistency(start, end, n, &p, &sub, &t.root())
                    .unwrap_or_else(|e| panic!("[{start},{end}) in {n}: {e}"));
                if sub != t.root() {
                    let got = verify_subtree_consistency(start, end, n, &p, &t.root(), &sub);
                    assert!(
                        matches!(got, Err(Error::RootMismatch { .. })),
                        "[{start},{end}) in {n} with the roots swapped: {got:?}"
                    );
                }
                // Subtree inclusion is inclusion within the subtree.
                for i in start..end {
                    let sl = &l[start as usize..end as usize];
                    let ip = path((i - start) as usize, sl);
                    verify_subtree_inclusion(i, start, end, &l[i as usize], &ip, &sub).unwrap();
                }
            }
        }
    }
}

#[test]
fn tile_reader_crosses_tile_levels() {
    // 70,000 leaves: level-0, level-1 and a level-2 partial tile (tlog-tiles example).
    let (t, l) = tree(70_000);
    let n = t.size();
    for &i in &[0u64, 255, 256, 65_535, 65_536, 69_999] {
        let nodes = vouch_tlog::inclusion_proof_nodes(i, n).unwrap();
        let tiles = tiles_for_nodes(&nodes, n).unwrap();
        let mut r = TileHashReader::new(n);
        for id in &tiles {
            r.insert(id, &t.tile(id).unwrap()).unwrap();
        }
        let p = inclusion_proof(i, n, &r).unwrap();
        verify_inclusion(i, n, &l[i as usize], &p, &t.root()).unwrap();
    }
    for &m in &[1u64, 256, 300, 65_536, 69_000] {
        let p = consistency_proof(m, n, &t).unwrap();
        verify_consistency(m, n, &p, &root_of(&l[..m as usize]), &t.root()).unwrap();
    }
    // The right edge rebuilds from tiles alone.
    let edge = RightEdge::from_tiles(n, |id| {
        t.tile(id).ok_or(Error::TileMissing {
            level: id.level,
            index: id.index,
        })
    })
    .unwrap();
    assert_eq!(edge.root(), t.root());
    assert_eq!(&edge, t.edge());
}

#[test]
fn wrong_length_proofs_are_typed_errors() {
    let (t, l) = tree(10);
    let p = inclusion_proof(3, 10, &t).unwrap();
    let mut long = p.clone();
    long.push(Hash::default());
    assert!(matches!(
        verify_inclusion(3, 10, &l[3], &long, &t.root()),
        Err(Error::ProofLength { .. })
    ));
    assert!(matches!(
        verify_inclusion(3, 10, &l[3], &p[..p.len() - 1], &t.root()),
        Err(Error::ProofLength { .. })
    ));
    let c = consistency_proof(4, 10, &t).unwrap();
    assert!(matches!(
        verify_consistency(4, 10, &c[1..], &root_of(&l[..4]), &t.root()),
        Err(Error::ProofLength { .. })
    ));
    assert_eq!(
        verify_consistency(0, 10, &[], &vouch_tlog::EMPTY_ROOT, &t.root()),
        Err(Error::EmptyTreeConsistency)
    );
    assert_eq!(
        verify_consistency(5, 4, &[], &t.root(), &t.root()),
        Err(Error::SizeOrder { old: 5, new: 4 })
    );
}
