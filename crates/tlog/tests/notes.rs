//! Signed-note, checkpoint and cosignature tests, including the C2SP signed-note spec's
//! example note and the reference Go implementation's published example key and note.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use vouch_tlog::checkpoint::parse_unverified;
use vouch_tlog::note::{cosignature_message, key_id, MAX_NOTE_SIZE};
use vouch_tlog::{
    check_quorum, open_checkpoint, open_note, sign_note, Checkpoint, Error, Hash, KeyType, Note,
    Signer, Verifier,
};

/// The example in c2sp.org/signed-note, "Note", verbatim.
const SPEC_NOTE: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

/// The example key pair and note published with golang.org/x/mod/sumdb/note, the
/// reference implementation signed-note was extracted from.
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

/// The checkpoint and cosignature in c2sp.org/tlog-cosignature, "Format".
const COSIGNED_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

fn seed(b: u8) -> [u8; 32] {
    [b; 32]
}

#[test]
fn spec_example_note_parses_and_unknown_keys_are_ignored() {
    let note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
    assert_eq!(
        note.text,
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(note.signatures.len(), 1);
    let sig = &note.signatures[0];
    assert_eq!(sig.name, "quasimodo.example/salvatore");
    assert_eq!(sig.key_id, 0x367b_a04b);
    assert_eq!(sig.signature.len(), 64);
    assert_eq!(note.to_string(), SPEC_NOTE, "serialisation round-trips");
    // The spec publishes no public key for it: a verifier with the same name but another
    // key (hence another ID) must ignore the signature, leaving nothing verified.
    let other =
        Signer::from_seed("quasimodo.example/salvatore", KeyType::Ed25519, &seed(1)).unwrap();
    assert_eq!(
        open_note(SPEC_NOTE.as_bytes(), &[other.verifier()]),
        Err(Error::NoVerifiedSignature)
    );
}

#[test]
fn reference_example_key_verifies_and_signs_identically() {
    let v = Verifier::parse(GO_VKEY).unwrap();
    assert_eq!(v.name(), "PeterNeumann");
    assert_eq!(v.key_id(), 0xc74f_20a3);
    assert_eq!(v.to_string(), GO_VKEY);
    let signed = format!("{GO_TEXT}\n{GO_SIG}");
    let opened = open_note(signed.as_bytes(), std::slice::from_ref(&v)).unwrap();
    assert_eq!(opened.text(), GO_TEXT);
    let s = Signer::parse(GO_SKEY).unwrap();
    assert_eq!(s.to_key_string(), GO_SKEY);
    assert_eq!(s.verifier(), v);
    // Ed25519 is deterministic: signing reproduces the published note byte for byte.
    assert_eq!(sign_note(GO_TEXT, &[&s]).unwrap(), signed);
    // A flipped bit in the text fails for the known key, and the whole note is rejected.
    let tampered = signed.replace("cryptography", "cryptographY");
    assert!(matches!(
        open_note(tampered.as_bytes(), &[v]),
        Err(Error::SignatureInvalid { .. })
    ));
}

#[test]
fn sixteen_signatures_accepted_unknown_ones_ignored() {
    let text = "vouch.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let signers: Vec<Signer> = (0..20u8)
        .map(|i| Signer::from_seed(&format!("k{i}.example"), KeyType::Ed25519, &seed(i)).unwrap())
        .collect();
    let refs: Vec<&Signer> = signers.iter().collect();
    let note = sign_note(text, &refs).unwrap();
    // Trust only the last one: the 19 others are unknown and ignored.
    let opened = open_note(note.as_bytes(), &[signers[19].verifier()]).unwrap();
    assert_eq!(opened.verified.len(), 1);
    // Same name, different key: ignored (name matches but ID does not).
    let imposter = Signer::from_seed("k19.example", KeyType::Ed25519, &seed(99)).unwrap();
    assert_eq!(
        open_note(note.as_bytes(), &[imposter.verifier()]),
        Err(Error::NoVerifiedSignature)
    );
}

#[test]
fn key_strings_reject_bad_input() {
    let good = Signer::from_seed("log.example", KeyType::Ed25519, &seed(7))
        .unwrap()
        .verifier()
        .to_string();
    assert!(Verifier::parse(&good).is_ok());
    let cases = [
        ("", "empty"),
        ("name+abcd+AQ==", "short id"),
        (
            "na me+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "space in name",
        ),
        (
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "empty name",
        ),
        (
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "wrong id",
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            "bad base64",
        ),
        (
            "PeterNeumann+c74f20a3+Bhpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "unknown type",
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy",
            "short key",
        ),
        ("a+b+c+d", "too many parts"),
    ];
    for (k, why) in cases {
        assert!(Verifier::parse(k).is_err(), "{why}: {k:?}");
    }
    assert!(
        Signer::parse(GO_VKEY).is_err(),
        "a verifier key is not a signer key"
    );
}

#[test]
fn malformed_notes_are_typed_errors() {
    let good = format!("{GO_TEXT}\n{GO_SIG}");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "empty"),
        (GO_TEXT.as_bytes().to_vec(), "no signatures"),
        (
            format!("{GO_TEXT}\n").into_bytes(),
            "blank line, no signatures",
        ),
        (
            good.replace("\u{2014} ", "- ").into_bytes(),
            "hyphen instead of em dash",
        ),
        (good.replace("x08go", "x08g!").into_bytes(), "bad base64"),
        (
            good.trim_end_matches('\n').as_bytes().to_vec(),
            "missing final newline",
        ),
        (good.replace("answer", "ans\twer").into_bytes(), "tab"),
        (
            good.replace("answer", "ans\rwer").into_bytes(),
            "carriage return",
        ),
        (good.replace("answer", "ans\u{0}wer").into_bytes(), "nul"),
        (vec![0xff, 0xfe, b'\n', b'\n'], "not utf-8"),
        (
            format!("{GO_TEXT}\n\u{2014} PeterNeumann AAAA\n").into_bytes(),
            "signature too short",
        ),
        (
            format!("{GO_TEXT}\n\u{2014} Peter+Neumann x08go/ZJ\n").into_bytes(),
            "plus in key name",
        ),
        (
            format!("{GO_TEXT}\n\u{2014} PeterNeumann\n").into_bytes(),
            "no signature",
        ),
    ];
    for (bytes, why) in cases {
        assert!(Note::parse(&bytes).is_err(), "{why}");
    }
    let mut huge = "a".repeat(MAX_NOTE_SIZE);
    huge.push_str(&format!("\n\n{GO_SIG}"));
    assert!(matches!(
        Note::parse(huge.as_bytes()),
        Err(Error::NoteTooLarge { .. })
    ));
    let many = format!("{GO_TEXT}\n{}", GO_SIG.repeat(101));
    assert!(matches!(
        Note::parse(many.as_bytes()),
        Err(Error::TooManySignatures { .. })
    ));
}

#[test]
fn checkpoints_round_trip_and_reject_malformed_bodies() {
    let cp = Checkpoint {
        origin: "vouch.example/log".into(),
        size: 42,
        root: vouch_tlog::leaf_hash(b"r"),
        extensions: vec!["ext one".into()],
    };
    assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
    let root = cp.root.to_base64();
    for (text, why) in [
        ("\n1\nAA==\n".to_owned(), "empty origin"),
        ("o\n".to_owned(), "missing size"),
        ("o\n1\n".to_owned(), "missing root"),
        (format!("o\n01\n{root}\n"), "leading zero"),
        (format!("o\n-1\n{root}\n"), "negative"),
        (format!("o\n18446744073709551616\n{root}\n"), "overflow"),
        ("o\n1\nAAAA\n".to_owned(), "short root"),
        (format!("o\n1\n{root}\n\next\n"), "empty extension line"),
        (format!("o\n1\n{root}"), "no final newline"),
    ] {
        // The body is note text first: a missing final newline is the note's error.
        let got = Checkpoint::parse(&text);
        let typed = match why {
            "no final newline" => matches!(got, Err(Error::NoteMalformed { .. })),
            _ => matches!(got, Err(Error::Checkpoint { .. })),
        };
        assert!(typed, "{why}: {got:?}");
    }
    let log = Signer::from_seed("vouch.example/log", KeyType::Ed25519, &seed(3)).unwrap();
    let signed = sign_note(&cp.to_text(), &[&log]).unwrap();
    let opened =
        open_checkpoint(signed.as_bytes(), "vouch.example/log", &[log.verifier()]).unwrap();
    assert_eq!(opened.checkpoint, cp);
    assert!(matches!(
        open_checkpoint(signed.as_bytes(), "other.example/log", &[log.verifier()]),
        Err(Error::OriginMismatch { .. })
    ));
}

#[test]
fn spec_cosignature_example_parses_with_its_timestamp() {
    let (cp, note) = parse_unverified(COSIGNED_CHECKPOINT.as_bytes()).unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20_852_163);
    let w = &note.signatures[1];
    assert_eq!(w.name, "witness.example.com/w1");
    assert_eq!(w.signature.len(), 8 + 64);
    // tlog-cosignature's example signed message uses `time 1679315147`.
    assert_eq!(w.timestamp(), Some(1_679_315_147));
    let msg = cosignature_message(1_679_315_147, &note.text);
    assert!(String::from_utf8(msg)
        .unwrap()
        .starts_with("cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"));
}

#[test]
fn cosignatures_verify_and_quorum_is_enforced() {
    let log = Signer::from_seed("log.example", KeyType::Ed25519, &seed(1)).unwrap();
    let ws: Vec<Signer> = (0..3u8)
        .map(|i| {
            Signer::from_seed(
                &format!("w{i}.example"),
                KeyType::Cosignature,
                &seed(10 + i),
            )
            .unwrap()
        })
        .collect();
    let text = Checkpoint::new("log.example", 3, Hash::default()).to_text();
    let mut note = Note::parse(sign_note(&text, &[&log]).unwrap().as_bytes()).unwrap();
    for w in &ws[..2] {
        note.signatures
            .push(w.cosign(&text, 1_700_000_000).unwrap());
    }
    let wv: Vec<Verifier> = ws.iter().map(Signer::verifier).collect();
    assert_eq!(check_quorum(&note, &wv, 2).unwrap().len(), 2);
    assert_eq!(
        check_quorum(&note, &wv, 3),
        Err(Error::QuorumNotMet {
            expected: 3,
            found: 2
        })
    );
    // The cosigner key id uses type 0x04 and round-trips as a vkey.
    let v = ws[0].verifier();
    assert_eq!(
        v.key_id(),
        key_id("w0.example", KeyType::Cosignature, &v.public_key())
    );
    assert_eq!(Verifier::parse(&v.to_string()).unwrap(), v);
    // A cosigner key cannot make plain note signatures and vice versa.
    assert!(matches!(
        ws[0].sign(&text),
        Err(Error::KeyTypeMismatch {
            expected: KeyType::Ed25519,
            found: KeyType::Cosignature
        })
    ));
    assert!(matches!(
        log.cosign(&text, 1),
        Err(Error::KeyTypeMismatch {
            expected: KeyType::Cosignature,
            found: KeyType::Ed25519
        })
    ));
    // A tampered timestamp fails verification.
    let mut bad = note.clone();
    bad.signatures[1].signature[7] ^= 1;
    assert!(matches!(
        check_quorum(&bad, &wv, 1),
        Err(Error::SignatureInvalid { .. })
    ));
}
