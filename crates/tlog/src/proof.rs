//! Inclusion and consistency proofs, generated from any [`HashReader`] and verified
//! against roots: RFC 9162 Sections 2.1.3 and 2.1.4, plus the subtree variants of the
//! Merkle Tree Certificates draft (draft-ietf-plants-merkle-tree-certs, "Subtrees").
//!
//! Both directions walk the same descent as RFC 9162's recursive `PATH` and `SUBPROOF`
//! definitions (split at the largest power of two below the current size), so the proof
//! layout (innermost sibling first, the root's child last) is derived in one place.
//! Verification recomputes the roots bottom up along that descent; it is equivalent to
//! the iterative algorithms of RFC 9162, Sections 2.1.3.2 and 2.1.4.2, and also covers
//! subtrees that do not start at leaf 0.

use crate::hash::{node_hash, Hash, EMPTY_ROOT};
use crate::tree::{fold_range, range_nodes, split_point, NodeId};
use crate::Error;

/// Longest possible proof: one sibling per level of a 2^64 tree plus the terminal node.
pub const MAX_PROOF_LEN: usize = 65;

/// A source of complete-subtree hashes: tiles in a store, tiles fetched over HTTP, or an
/// in-memory tree. Implementations return one hash per requested node, in order, or an
/// error naming the first node they could not produce.
pub trait HashReader {
    /// The hashes of `nodes`, in the same order.
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Error>;
}

impl<T: HashReader + ?Sized> HashReader for &T {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Error> {
        (**self).read_hashes(nodes)
    }
}

/// Which side of the current node the proof's sibling for this step sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The target lies in the left child; the sibling is the right child.
    Left,
    /// The target lies in the right child; the sibling is the left child.
    Right,
    /// Consistency only: the old tree `[0, end)` straddles the split, so the sibling (the
    /// left child) is also part of the old tree's hash.
    Split,
}

/// The descent from the root of `[0, size)` to the target, outermost step first, with
/// the leaf range each step's sibling covers. `terminal` is the range of a final node
/// that is itself part of the proof (RFC 9162 `SUBPROOF` with `b = false`).
struct Descent {
    steps: Vec<(Step, u64, u64)>,
    terminal: Option<(u64, u64)>,
}

impl Descent {
    fn proof_len(&self) -> usize {
        self.steps.len() + usize::from(self.terminal.is_some())
    }

    /// The leaf ranges of the proof elements, in proof order (innermost first).
    fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = self.terminal.into_iter().collect();
        out.extend(self.steps.iter().rev().map(|&(_, a, b)| (a, b)));
        out
    }
}

/// Descent for leaf `index` in a tree of `size` (RFC 9162, Section 2.1.3.1 `PATH`).
fn inclusion_descent(index: u64, size: u64) -> Descent {
    let (mut off, mut n, mut m) = (0u64, size, index);
    let mut steps = Vec::new();
    while n > 1 {
        let k = split_point(n);
        if m < k {
            steps.push((Step::Left, off + k, off + n));
            n = k;
        } else {
            steps.push((Step::Right, off, off + k));
            off += k;
            m -= k;
            n -= k;
        }
    }
    Descent {
        steps,
        terminal: None,
    }
}

/// Descent proving that the subtree `[start, end)` is part of the tree of `size`. With
/// `start = 0` this is RFC 9162, Section 2.1.4.1 `SUBPROOF(end, D[0:size], true)`; for
/// other valid subtrees the walk goes right while the subtree is inside the right child.
/// Requires a valid, non-empty subtree with `end <= size`.
fn consistency_descent(start: u64, end: u64, size: u64) -> Descent {
    let (mut off, mut s, mut e, mut n) = (0u64, start, end, size);
    let mut known = true; // RFC 9162's `b`: the current target's hash is known to the verifier
    let mut steps = Vec::new();
    while !(s == 0 && e == n) {
        let k = split_point(n);
        if e <= k {
            steps.push((Step::Left, off + k, off + n));
            n = k;
        } else if s >= k {
            steps.push((Step::Right, off, off + k));
            off += k;
            s -= k;
            e -= k;
            n -= k;
        } else {
            // s < k < e: only possible with s == 0 for a valid subtree.
            steps.push((Step::Split, off, off + k));
            known = false;
            off += k;
            e -= k;
            n -= k;
        }
    }
    Descent {
        steps,
        terminal: (!known).then_some((off, off + n)),
    }
}

/// Reads the hashes of a list of leaf ranges through `src`, batching all node reads.
#[allow(
    clippy::indexing_slicing,
    reason = "hashes.len() == all.len() checked above, and all is per flattened"
)]
fn read_ranges(ranges: &[(u64, u64)], src: &impl HashReader) -> Result<Vec<Hash>, Error> {
    let per: Vec<Vec<NodeId>> = ranges.iter().map(|&(a, b)| range_nodes(a, b)).collect();
    let all: Vec<NodeId> = per.iter().flatten().copied().collect();
    let hashes = src.read_hashes(&all)?;
    if hashes.len() != all.len() {
        return Err(Error::HashCount {
            expected: all.len(),
            found: hashes.len(),
        });
    }
    let mut out = Vec::with_capacity(ranges.len());
    let mut i = 0;
    for nodes in &per {
        out.push(fold_range(&hashes[i..i + nodes.len()]));
        i += nodes.len();
    }
    Ok(out)
}

/// The nodes a reader must supply to build the inclusion proof of `index` in a tree of
/// `size` leaves, so async callers can fetch the tiles first (see
/// [`crate::tiles_for_nodes`]).
pub fn inclusion_proof_nodes(index: u64, size: u64) -> Result<Vec<NodeId>, Error> {
    check_index(index, size)?;
    Ok(inclusion_descent(index, size)
        .ranges()
        .iter()
        .flat_map(|&(a, b)| range_nodes(a, b))
        .collect())
}

/// The nodes a reader must supply to build the consistency proof from `old` to `new`.
pub fn consistency_proof_nodes(old: u64, new: u64) -> Result<Vec<NodeId>, Error> {
    check_sizes(old, new)?;
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    Ok(consistency_descent(0, old, new)
        .ranges()
        .iter()
        .flat_map(|&(a, b)| range_nodes(a, b))
        .collect())
}

fn check_index(index: u64, size: u64) -> Result<(), Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    Ok(())
}

fn check_sizes(old: u64, new: u64) -> Result<(), Error> {
    if old > new {
        return Err(Error::SizeOrder { old, new });
    }
    Ok(())
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162, Section
/// 2.1.3.1): sibling hashes from the leaf's sibling up to the root's child.
pub fn inclusion_proof(index: u64, size: u64, src: &impl HashReader) -> Result<Vec<Hash>, Error> {
    check_index(index, size)?;
    read_ranges(&inclusion_descent(index, size).ranges(), src)
}

/// The consistency proof between the trees of `old` and `new` leaves (RFC 9162, Section
/// 2.1.4.1). Empty when `old == new` or `old == 0` (nothing to prove from an empty tree).
pub fn consistency_proof(old: u64, new: u64, src: &impl HashReader) -> Result<Vec<Hash>, Error> {
    check_sizes(old, new)?;
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    read_ranges(&consistency_descent(0, old, new).ranges(), src)
}

/// Whether `[start, end)` is a subtree in the sense of the MTC draft: `start < end` and
/// `start` is a multiple of the smallest power of two at least `end - start`.
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start >= end {
        return false;
    }
    let size = u128::from(end - start);
    let ceil = size.next_power_of_two();
    u128::from(start) % ceil == 0
}

fn check_subtree(start: u64, end: u64, size: u64) -> Result<(), Error> {
    if !is_valid_subtree(start, end) || end > size {
        return Err(Error::InvalidSubtree { start, end, size });
    }
    Ok(())
}

/// Proof that the subtree `[start, end)` is contained in the tree of `size` leaves
/// (MTC draft, "Generating a Subtree Consistency Proof").
pub fn subtree_consistency_proof(
    start: u64,
    end: u64,
    size: u64,
    src: &impl HashReader,
) -> Result<Vec<Hash>, Error> {
    check_subtree(start, end, size)?;
    read_ranges(&consistency_descent(start, end, size).ranges(), src)
}

/// Checks the proof length, then folds `leaf` up the descent.
fn fold_inclusion(d: &Descent, leaf: Hash, proof: &[Hash]) -> Result<Hash, Error> {
    if proof.len() != d.proof_len() {
        return Err(Error::ProofLength {
            expected: d.proof_len(),
            found: proof.len(),
        });
    }
    let mut h = leaf;
    for (p, (step, _, _)) in proof.iter().zip(d.steps.iter().rev()) {
        h = match step {
            Step::Left => node_hash(&h, p),
            Step::Right | Step::Split => node_hash(p, &h),
        };
    }
    Ok(h)
}

fn expect_root(expected: &Hash, computed: Hash) -> Result<(), Error> {
    if *expected != computed {
        return Err(Error::RootMismatch {
            expected: *expected,
            computed,
        });
    }
    Ok(())
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with hash `root`
/// (RFC 9162, Section 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    check_index(index, size)?;
    let computed = fold_inclusion(&inclusion_descent(index, size), *leaf, proof)?;
    expect_root(root, computed)
}

/// Verifies that `leaf` at `index` is part of the subtree `[start, end)` whose hash is
/// `root` (MTC draft, "Subtree Inclusion Proofs"): an RFC 9162 inclusion proof of
/// `index - start` in a tree of `end - start` leaves.
pub fn verify_subtree_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    check_subtree(start, end, end)?;
    if index < start || index >= end {
        return Err(Error::IndexOutOfRange { index, size: end });
    }
    verify_inclusion(index - start, end - start, leaf, proof, root)
}

/// Verifies a consistency proof between the tree of `old` leaves with hash `old_root`
/// and the tree of `new` leaves with hash `new_root` (RFC 9162, Section 2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. A proof from the empty tree is
/// rejected as meaningless: every tree extends it, and callers (the witness, the
/// monitor) handle size 0 before asking for a proof.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), Error> {
    check_sizes(old, new)?;
    if old == 0 {
        return Err(Error::EmptyTreeConsistency);
    }
    verify_descent(&consistency_descent(0, old, new), proof, old_root, new_root)
}

/// Verifies that the subtree `[start, end)` with hash `subtree_root` is contained in the
/// tree of `size` leaves with hash `root` (MTC draft, "Verifying a Subtree Consistency
/// Proof"). The empty subtree (`start == end <= size`) is contained in every tree: it
/// verifies with an empty proof when its hash is [`EMPTY_ROOT`].
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    size: u64,
    proof: &[Hash],
    subtree_root: &Hash,
    root: &Hash,
) -> Result<(), Error> {
    if start == end && end <= size {
        if !proof.is_empty() {
            return Err(Error::ProofLength {
                expected: 0,
                found: proof.len(),
            });
        }
        return expect_root(&EMPTY_ROOT, *subtree_root);
    }
    check_subtree(start, end, size)?;
    verify_descent(
        &consistency_descent(start, end, size),
        proof,
        subtree_root,
        root,
    )
}

/// Folds a consistency proof up the descent, recomputing both the old (subtree) hash and
/// the new root, and compares both.
fn verify_descent(
    d: &Descent,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), Error> {
    if proof.len() != d.proof_len() {
        return Err(Error::ProofLength {
            expected: d.proof_len(),
            found: proof.len(),
        });
    }
    let (mut old, rest) = match d.terminal {
        // The innermost proof element is the terminal node itself: part of both trees.
        Some(_) => match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => {
                return Err(Error::ProofLength {
                    expected: d.proof_len(),
                    found: 0,
                })
            }
        },
        None => (*old_root, proof),
    };
    let mut new = old;
    for (p, (step, _, _)) in rest.iter().zip(d.steps.iter().rev()) {
        match step {
            Step::Left => new = node_hash(&new, p),
            Step::Right => new = node_hash(p, &new),
            Step::Split => {
                new = node_hash(p, &new);
                old = node_hash(p, &old);
            }
        }
    }
    expect_root(old_root, old)?;
    expect_root(new_root, new)
}
