//! The tlog-witness state machine: every refusal maps to the status code the spec
//! assigns, and request bodies and tlog-proof files round-trip.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use vouch_tlog::witness::MAX_PROOF_LINES;
use vouch_tlog::{
    consistency_proof, inclusion_proof, leaf_hash, sign_note, AddCheckpoint, Checkpoint, Error,
    Hash, KeyType, MemoryTree, Signer, TlogProof, Witness, WitnessError,
};

const ORIGIN: &str = "vouch.example/log";

fn log_key() -> Signer {
    Signer::from_seed(ORIGIN, KeyType::Ed25519, &[1; 32]).unwrap()
}

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.push(leaf_hash(&i.to_be_bytes()));
    }
    t
}

fn signed(t: &MemoryTree, key: &Signer) -> String {
    sign_note(
        &Checkpoint::new(ORIGIN, t.size(), t.root()).to_text(),
        &[key],
    )
    .unwrap()
}

fn witness() -> Witness {
    let mut w =
        Witness::new(Signer::from_seed("w.example", KeyType::Cosignature, &[2; 32]).unwrap())
            .unwrap();
    w.add_log(ORIGIN, vec![log_key().verifier()]);
    w
}

fn req(old: u64, proof: Vec<Hash>, checkpoint: String) -> AddCheckpoint {
    let r = AddCheckpoint {
        old_size: old,
        proof,
        checkpoint,
    };
    // Every request goes through the wire format.
    AddCheckpoint::parse(r.to_body().as_bytes()).unwrap()
}

#[test]
fn witness_follows_a_growing_log_and_refuses_with_spec_statuses() {
    let w = witness();
    let (t5, t9) = (tree(5), tree(9));
    // First contact: old size 0, empty proof.
    let c = w
        .add_checkpoint(&req(0, vec![], signed(&t5, &log_key())), None, 100)
        .unwrap();
    assert_eq!((c.size(), c.root()), (5, t5.root()));
    let line = c.response_body();
    assert!(line.starts_with("\u{2014} w.example "));
    // The cosignature verifies as a note signature on the checkpoint.
    let note = format!("{}{line}", signed(&t5, &log_key()));
    let n = vouch_tlog::Note::parse(note.as_bytes()).unwrap();
    assert_eq!(
        vouch_tlog::check_quorum(&n, &[w.verifier()], 1).unwrap()[0].timestamp,
        Some(100)
    );

    let stored = Some((5, t5.root()));
    let p = consistency_proof(5, 9, &t9).unwrap();
    let ok = w
        .add_checkpoint(&req(5, p.clone(), signed(&t9, &log_key())), stored, 101)
        .unwrap();
    assert_eq!(ok.size(), 9);

    let status = |r: Result<_, WitnessError>| r.map(|_| ()).unwrap_err().status();
    // 409: stale old size, with the latest size for the body.
    let e = w
        .add_checkpoint(&req(4, vec![], signed(&t9, &log_key())), stored, 1)
        .unwrap_err();
    assert_eq!((e.status(), e.latest_size()), (409, Some(5)));
    // 400: old size beyond the checkpoint.
    assert_eq!(
        status(w.add_checkpoint(&req(10, vec![], signed(&t9, &log_key())), stored, 1)),
        400
    );
    // 422: a proof that does not verify.
    let mut bad = p.clone();
    bad[0].0[0] ^= 1;
    assert_eq!(
        status(w.add_checkpoint(&req(5, bad, signed(&t9, &log_key())), stored, 1)),
        422
    );
    // 403: signed by an unknown key.
    let stranger = Signer::from_seed(ORIGIN, KeyType::Ed25519, &[9; 32]).unwrap();
    assert_eq!(
        status(w.add_checkpoint(&req(5, p.clone(), signed(&t9, &stranger)), stored, 1)),
        403
    );
    // 404: unknown origin.
    let other = sign_note(
        &Checkpoint::new("other.example", 9, t9.root()).to_text(),
        &[&log_key()],
    )
    .unwrap();
    assert_eq!(status(w.add_checkpoint(&req(5, p, other), stored, 1)), 404);
    // 409: same size, different root (a fork).
    let fork = sign_note(
        &Checkpoint::new(ORIGIN, 5, t9.root()).to_text(),
        &[&log_key()],
    )
    .unwrap();
    let e = w
        .add_checkpoint(&req(5, vec![], fork), stored, 1)
        .unwrap_err();
    assert_eq!(e.status(), 409);
    // Same size, same root: cosigned again.
    assert!(w
        .add_checkpoint(&req(5, vec![], signed(&t5, &log_key())), stored, 1)
        .is_ok());
}

#[test]
fn add_checkpoint_bodies_reject_malformed_input() {
    let cp = signed(&tree(3), &log_key());
    let h = Hash::default().to_base64();
    for (body, why) in [
        (String::new(), "empty"),
        (format!("old 1\n{cp}"), "no blank line"),
        (format!("old 01\n\n{cp}"), "leading zero"),
        (format!("new 1\n\n{cp}"), "wrong keyword"),
        (format!("old 1\nnot-base64!\n\n{cp}"), "bad proof line"),
        (format!("old 1\nAAAA\n\n{cp}"), "short proof line"),
        (
            format!(
                "old 1\n{}\n{cp}",
                format!("{h}\n").repeat(MAX_PROOF_LINES + 1)
            ),
            "64 proof lines",
        ),
        ("old 1\n\nnot a note".to_owned(), "bad checkpoint"),
    ] {
        // The request's own lines fail as WitnessRequest; the checkpoint inside as a note.
        let got = AddCheckpoint::parse(body.as_bytes());
        let typed = match why {
            "bad checkpoint" => matches!(got, Err(Error::NoteMalformed { .. })),
            _ => matches!(got, Err(Error::WitnessRequest { .. })),
        };
        assert!(typed, "{why}: {got:?}");
    }
}

#[test]
fn tlog_proof_files_round_trip_and_verify() {
    let t = tree(20);
    let key = log_key();
    let cw = Signer::from_seed("w.example", KeyType::Cosignature, &[2; 32]).unwrap();
    let text = Checkpoint::new(ORIGIN, 20, t.root()).to_text();
    let mut note = vouch_tlog::Note::parse(sign_note(&text, &[&key]).unwrap().as_bytes()).unwrap();
    note.signatures.push(cw.cosign(&text, 5).unwrap());
    let proof = TlogProof {
        extra: Some(b"context".to_vec()),
        index: 7,
        proof: inclusion_proof(7, 20, &t).unwrap(),
        checkpoint: note.to_string(),
    };
    let text = proof.to_string();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra Y29udGV4dA==\nindex 7\n"));
    let back = TlogProof::parse(text.as_bytes()).unwrap();
    assert_eq!(back, proof);
    let leaf = leaf_hash(&7u64.to_be_bytes());
    let v = back
        .verify(&leaf, ORIGIN, &[key.verifier()], &[cw.verifier()], 1)
        .unwrap();
    assert_eq!(v.cosignatures.len(), 1);
    assert!(matches!(
        back.verify(&leaf_hash(b"other"), ORIGIN, &[key.verifier()], &[], 0),
        Err(Error::RootMismatch { .. })
    ));
    assert!(matches!(
        back.verify(&leaf, ORIGIN, &[key.verifier()], &[cw.verifier()], 2),
        Err(Error::QuorumNotMet { .. })
    ));
    let mut short = back.clone();
    short.proof.pop();
    assert!(matches!(
        short.verify(&leaf, ORIGIN, &[key.verifier()], &[], 0),
        Err(Error::ProofLength { .. })
    ));
    for bad in [
        "c2sp.org/tlog-proof@v2\nindex 1\n\n",
        "c2sp.org/tlog-proof@v1\nindex 01\n\n",
        "c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n",
        "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n",
    ] {
        let got = TlogProof::parse(bad.as_bytes());
        assert!(
            matches!(got, Err(Error::TlogProof { .. })),
            "{bad:?}: {got:?}"
        );
    }
}
