//! Property tests on every parser of untrusted input: notes, checkpoints, key strings,
//! tile paths, entry bundles, proofs, witness requests and tlog-proof files never panic,
//! round-trip what they produce, and random proofs never verify.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use proptest::prelude::*;
use vouch_tlog::Error as TlogError;
use vouch_tlog::{
    decode_entry_bundle, encode_entry_bundle, leaf_hash, verify_consistency, verify_inclusion,
    AddCheckpoint, BundleId, Checkpoint, Hash, MemoryTree, Note, TileId, TilePath, TlogProof,
    Verifier, TILE_WIDTH,
};

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Note::parse(&bytes);
        let _ = AddCheckpoint::parse(&bytes);
        let _ = TlogProof::parse(&bytes);
        let _ = decode_entry_bundle(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Checkpoint::parse(s);
            let _ = Verifier::parse(s);
            let _ = vouch_tlog::Signer::parse(s);
            let _ = TilePath::parse(s);
        }
    }

    #[test]
    fn parsers_never_panic_on_near_valid_text(
        prefix in "(c2sp.org/tlog-proof@v1\n)?(old |index |extra |tile/|tile/entries/)?",
        body in "[a-zA-Z0-9+/=x. \n\u{2014}-]{0,200}",
    ) {
        let s = format!("{prefix}{body}");
        let _ = Note::parse(s.as_bytes());
        let _ = Checkpoint::parse(&s);
        let _ = AddCheckpoint::parse(s.as_bytes());
        let _ = TlogProof::parse(s.as_bytes());
        let _ = TilePath::parse(&s);
        let _ = Verifier::parse(&s);
    }

    #[test]
    fn tile_paths_round_trip(level in 0u8..=63, index in any::<u64>(), width in 1u16..=256) {
        let t = TileId { level, index, width };
        prop_assert_eq!(TileId::parse(&t.path()).unwrap(), t);
        let b = BundleId { index, width };
        prop_assert_eq!(BundleId::parse(&b.path()).unwrap(), b);
        prop_assert!(TileId::parse(&b.path()).is_err());
    }

    #[test]
    fn entry_bundles_round_trip(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..=usize::from(TILE_WIDTH))) {
        let b = encode_entry_bundle(&entries).unwrap();
        let d = decode_entry_bundle(&b).unwrap();
        prop_assert_eq!(d.len(), entries.len());
        for (a, e) in d.iter().zip(&entries) {
            prop_assert_eq!(*a, e.as_slice());
        }
        if !b.is_empty() {
            prop_assert!(decode_entry_bundle(&b[..b.len() - 1]).is_err());
        }
    }

    #[test]
    fn checkpoints_round_trip(origin in "[a-z0-9./-]{1,40}", size in any::<u64>(), root in hash(),
                              ext in proptest::collection::vec("[ -~]{1,30}", 0..4)) {
        let cp = Checkpoint { origin, size, root, extensions: ext };
        prop_assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
    }

    #[test]
    fn signed_notes_round_trip(text in "([ -~]{0,40}\n){1,5}", seed in any::<[u8; 32]>(), name in "[a-z0-9./]{1,20}") {
        let s = vouch_tlog::Signer::from_seed(&name, vouch_tlog::KeyType::Ed25519, &seed).unwrap();
        let note = vouch_tlog::sign_note(&text, &[&s]).unwrap();
        let opened = vouch_tlog::open_note(note.as_bytes(), &[s.verifier()]).unwrap();
        prop_assert_eq!(opened.text(), text.as_str());
        prop_assert_eq!(opened.note.to_string(), note);
        prop_assert_eq!(Verifier::parse(&s.verifier().to_string()).unwrap(), s.verifier());
        prop_assert_eq!(vouch_tlog::Signer::parse(&s.to_key_string()).unwrap().verifier(), s.verifier());
    }

    #[test]
    fn random_proofs_never_verify(index in 0u64..1000, extra in 1u64..1000, leaf in hash(), root in hash(),
                                  proof in proptest::collection::vec(hash(), 0..12)) {
        let size = index + extra;
        // Random hashes: the proof has the wrong length for its sizes, or folds to
        // another root. Nothing else (and never Ok).
        let refused = |r: Result<(), TlogError>| {
            matches!(r, Err(TlogError::ProofLength { .. } | TlogError::RootMismatch { .. }))
        };
        prop_assert!(refused(verify_inclusion(index, size, &leaf, &proof, &root)));
        prop_assert!(refused(verify_consistency(index + 1, size + 1, &proof, &leaf, &root)));
    }

    #[test]
    fn tampered_real_proofs_never_verify(n in 2u64..200, i in any::<u64>(), bit in 0usize..256) {
        let mut t = MemoryTree::new();
        for k in 0..n { t.push(leaf_hash(&k.to_be_bytes())); }
        let i = i % n;
        let leaf = leaf_hash(&i.to_be_bytes());
        let mut p = vouch_tlog::inclusion_proof(i, n, &t).unwrap();
        prop_assert!(verify_inclusion(i, n, &leaf, &p, &t.root()).is_ok());
        let j = bit % p.len();
        p[j].0[(bit / 8) % 32] ^= 1 << (bit % 8);
        let got = verify_inclusion(i, n, &leaf, &p, &t.root());
        let root_mismatch =
            matches!(got, Err(TlogError::RootMismatch { expected, .. }) if expected == t.root());
        prop_assert!(root_mismatch, "{:?}", got);
    }

    #[test]
    fn witness_requests_and_proof_files_round_trip(old in any::<u64>(), proof in proptest::collection::vec(hash(), 0..10),
                                                  index in any::<u64>(), extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20))) {
        let cp = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} k AAAAAAA=\n".to_owned();
        let r = AddCheckpoint { old_size: old, proof: proof.clone(), checkpoint: cp.clone() };
        prop_assert_eq!(AddCheckpoint::parse(r.to_body().as_bytes()).unwrap(), r);
        let f = TlogProof { extra, index, proof, checkpoint: cp };
        prop_assert_eq!(TlogProof::parse(f.to_string().as_bytes()).unwrap(), f);
    }
}
