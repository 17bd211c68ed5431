//! Each check on the services' answers passes on good material and fails closed, with
//! its code, on bad material.

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use sha2::{Digest, Sha256};
use sigstore_crypto::KeyPair;
use sigstore_types::TransparencyLogEntry;

use super::*;
use crate::{fulcio, rekor, tsa, SignError, Stage};

fn spki(key: &KeyPair) -> Vec<u8> {
    key.public_key_der().unwrap().as_bytes().to_vec()
}

fn root_of(material: &Material) -> sigstore_trust_root::TrustedRoot {
    sigstore_trust_root::TrustedRoot::from_json(&material.trusted_root_json()).unwrap()
}

fn assert_code(err: SignError, code: &str, stage: Stage, needle: &str) {
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(err.stage(), stage, "{err}");
    assert!(err.to_string().contains(needle), "{needle:?} not in: {err}");
}

#[test]
fn csr_is_accepted_by_the_vouch_ca_and_the_certificate_passes() {
    let m = Material::generate();
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let chain = m.issue_chain(&csr_request(&key));
    let checked =
        fulcio::check_certificate(&chain, &root_of(&m), &spki(&key), jiff::Timestamp::now())
            .unwrap();
    assert_eq!(checked.leaf_der, chain[0]);
    // The leaf alone (no intermediates in the answer) also chains: anchors suffice.
    fulcio::check_certificate(
        &chain[..1],
        &root_of(&m),
        &spki(&key),
        jiff::Timestamp::now(),
    )
    .unwrap();
}

#[test]
fn certificate_from_an_untrusted_ca_is_refused() {
    let trusted = Material::generate();
    let other = Material::generate();
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let chain = other.issue_chain(&csr_request(&key));
    let err = fulcio::check_certificate(
        &chain,
        &root_of(&trusted),
        &spki(&key),
        jiff::Timestamp::now(),
    )
    .unwrap_err();
    assert_code(err, "SIGN_E008", Stage::Ca, "trusted CA");
}

#[test]
fn expired_certificate_is_refused_as_a_chain_error() {
    let m = Material::generate();
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let chain = m.issue_chain(&csr_request(&key));
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let err = fulcio::check_certificate(&chain, &root_of(&m), &spki(&key), later).unwrap_err();
    assert_code(err, "SIGN_E008", Stage::Ca, "valid now");
}

#[test]
fn sct_from_a_log_outside_the_trusted_root_is_refused() {
    let m = Material::generate();
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let chain = m.issue_chain(&csr_request(&key));
    // Same CA, but the trusted root names another CT log key.
    let other = Material::generate();
    let mut root: serde_json::Value = serde_json::from_str(&m.trusted_root_json()).unwrap();
    let other_root: serde_json::Value = serde_json::from_str(&other.trusted_root_json()).unwrap();
    root["ctlogs"] = other_root["ctlogs"].clone();
    let root = sigstore_trust_root::TrustedRoot::from_json(&root.to_string()).unwrap();
    let err =
        fulcio::check_certificate(&chain, &root, &spki(&key), jiff::Timestamp::now()).unwrap_err();
    assert_code(err, "SIGN_E009", Stage::Ca, "SCT");
}

#[test]
fn certificate_for_another_key_is_refused() {
    let m = Material::generate();
    let theirs = KeyPair::generate_ecdsa_p256().unwrap();
    let ours = KeyPair::generate_ecdsa_p256().unwrap();
    let chain = m.issue_chain(&csr_request(&theirs));
    let err = fulcio::check_certificate(&chain, &root_of(&m), &spki(&ours), jiff::Timestamp::now())
        .unwrap_err();
    assert_code(err, "SIGN_E010", Stage::Ca, "another key");
}

#[test]
fn malformed_ca_answers_are_refused() {
    for (answer, needle) in [
        (&b"not json"[..], "SigningCertificate"),
        (br#"{"signedCertificateDetachedSct": {}}"#, "detached"),
        (br#"{}"#, "neither"),
        (
            br#"{"signedCertificateEmbeddedSct": {"chain": {"certificates": []}}}"#,
            "empty chain",
        ),
        (
            br#"{"signedCertificateEmbeddedSct": {"chain": {"certificates": ["junk"]}}}"#,
            "not PEM",
        ),
    ] {
        let err = fulcio::parse_chain(answer).unwrap_err();
        assert_code(err, "SIGN_E007", Stage::Ca, needle);
    }
}

#[test]
fn token_shape_is_checked_before_sending() {
    for token in ["", "abc", "a.b", "a..c", "a.b.c d"] {
        let err = fulcio::check_token_shape(token).unwrap_err();
        assert_eq!(err.code(), "SIGN_E004", "{token:?}");
        assert_eq!(err.stage(), Stage::Token);
    }
    fulcio::check_token_shape("eyJh.eyJi.c2ln").unwrap();
}

fn tsa_reply_for(m: &Material, request_der: &[u8]) -> Vec<u8> {
    m.tsa.respond(request_der)
}

#[test]
fn timestamp_reply_is_checked() {
    let m = Material::generate();
    let request = tsa::build_request(b"signature").unwrap();
    let reply = tsa_reply_for(&m, &request.der);
    tsa::check_reply(&request, &reply, "http://tsa").unwrap();

    // A reply for another signature: imprint mismatch.
    let other = tsa::build_request(b"another signature").unwrap();
    let reply = tsa_reply_for(&m, &other.der);
    let err = tsa::check_reply(&request, &reply, "http://tsa").unwrap_err();
    assert_code(
        err,
        "SIGN_E013",
        Stage::Timestamp,
        "message imprint mismatch",
    );

    // Same imprint, another nonce: a replayed reply.
    let replay = tsa::build_request(b"signature").unwrap();
    let reply = tsa_reply_for(&m, &replay.der);
    let err = tsa::check_reply(&request, &reply, "http://tsa").unwrap_err();
    assert_code(err, "SIGN_E013", Stage::Timestamp, "nonce mismatch");

    // A rejection (the TSA could not parse the query).
    let reply = tsa_reply_for(&m, b"garbage");
    let err = tsa::check_reply(&request, &reply, "http://tsa").unwrap_err();
    assert_code(err, "SIGN_E012", Stage::Timestamp, "PKIStatus");

    let err = tsa::check_reply(&request, b"junk", "http://tsa").unwrap_err();
    assert_code(
        err,
        "SIGN_E013",
        Stage::Timestamp,
        "not a DER TimeStampResp",
    );
}

#[test]
fn timestamp_from_a_tsa_outside_the_trusted_root_is_refused() {
    let m = Material::generate();
    let request = tsa::build_request(b"signature").unwrap();
    let reply = tsa_reply_for(&m, &request.der);
    tsa::check_authority(&reply, b"signature", &root_of(&m), "http://tsa").unwrap();
    let other = Material::generate();
    let err =
        tsa::check_authority(&reply, b"signature", &root_of(&other), "http://tsa").unwrap_err();
    assert_code(
        err,
        "SIGN_E013",
        Stage::Timestamp,
        "timestamp authority of the trusted root",
    );
}

struct Signed {
    digest: [u8; 32],
    signature: Vec<u8>,
    cert: Vec<u8>,
}

fn signed(m: &Material) -> Signed {
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let cert = m.issue_chain(&csr_request(&key)).remove(0);
    let digest: [u8; 32] = Sha256::digest(b"artifact").into();
    let signature = key
        .sign_digest(&sigstore_types::Sha256Hash::from(digest))
        .unwrap()
        .as_bytes()
        .to_vec();
    Signed {
        digest,
        signature,
        cert,
    }
}

fn entry(value: serde_json::Value) -> TransparencyLogEntry {
    serde_json::from_value(value).unwrap()
}

#[test]
fn log_entry_is_checked() {
    let m = Material::generate();
    let s = signed(&m);
    let submission = rekor::Submission {
        digest: s.digest,
        signature: &s.signature,
        verifier: rekor::Verifier::Certificate(&s.cert),
    };
    let body = hashedrekord_body(&s.digest, &s.signature, &s.cert);
    let root = root_of(&m);
    rekor::check_entry(
        &entry(log_entry_json(&m, &body, None, false)),
        &submission,
        &root,
    )
    .unwrap();

    // The proof does not lead to the signed root.
    let err = rekor::check_entry(
        &entry(log_entry_json(&m, &body, None, true)),
        &submission,
        &root,
    )
    .unwrap_err();
    assert_code(err, "SIGN_E017", Stage::Log, "inclusion proof");

    // The checkpoint is signed by a key the trusted root does not list.
    let stranger = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let err = rekor::check_entry(
        &entry(log_entry_json(&m, &body, Some(&stranger), false)),
        &submission,
        &root,
    )
    .unwrap_err();
    assert_code(err, "SIGN_E018", Stage::Log, "trusted root");

    // A signature that names the trusted key (same hint) but does not verify.
    let mut forged = log_entry_json(&m, &body, None, false);
    let envelope = forged["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .replacen("\n4\n", "\n5\n", 1);
    forged["inclusionProof"]["checkpoint"]["envelope"] = envelope.into();
    let err = rekor::check_entry(&entry(forged), &submission, &root).unwrap_err();
    assert_code(err, "SIGN_E018", Stage::Log, "does not verify");

    // The log recorded something else than what we sent.
    let other_body = hashedrekord_body(&[7u8; 32], &s.signature, &s.cert);
    let err = rekor::check_entry(
        &entry(log_entry_json(&m, &other_body, None, false)),
        &submission,
        &root,
    )
    .unwrap_err();
    assert_code(err, "SIGN_E016", Stage::Log, "logged digest");

    // No inclusion proof at all.
    let mut bare = log_entry_json(&m, &body, None, false);
    bare.as_object_mut().unwrap().remove("inclusionProof");
    let err = rekor::check_entry(&entry(bare), &submission, &root).unwrap_err();
    assert_code(err, "SIGN_E016", Stage::Log, "inclusionProof");

    // A Rekor v1 hashedrekord entry when we sent a v0.0.2 one.
    let mut kind = log_entry_json(&m, &body, None, false);
    kind["kindVersion"]["version"] = "0.0.1".into();
    let err = rekor::check_entry(&entry(kind), &submission, &root).unwrap_err();
    assert_code(err, "SIGN_E016", Stage::Log, "hashedrekord/0.0.2");
}

#[test]
fn statements_are_checked_before_anything_is_requested() {
    let good = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","gitCommit":"abc"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}"#;
    crate::signer::check_statement(good).unwrap();
    for (bad, needle) in [
        (
            &br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"aa"}}],"predicateType":"p"}"#[..],
            "32 bytes",
        ),
        (b"nope", "not JSON"),
        (br#"{"_type":"x","subject":[],"predicateType":"p"}"#, "_type"),
        (
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p"}"#,
            "subject",
        ),
        (
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{}}],"predicateType":"p"}"#,
            "digest",
        ),
        (
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"aa"}}]}"#,
            "predicateType",
        ),
    ] {
        let err = crate::signer::check_statement(bad).unwrap_err();
        assert_code(err, "SIGN_E019", Stage::Local, needle);
    }
}

#[test]
fn pae_matches_the_dsse_spec_example() {
    // DSSE protocol.md: PAE("http://example.com/HelloWorld", "hello world").
    assert_eq!(
        crate::pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
}

#[test]
fn codes_are_unique_and_documented() {
    let mut seen = std::collections::HashSet::new();
    for (code, _) in crate::CODES {
        assert!(seen.insert(*code), "duplicate {code}");
        assert!(
            include_str!("../lib.rs").contains(code),
            "{code} undocumented"
        );
    }
}

#[test]
fn signer_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<crate::KeylessSigner>();
    check::<crate::TrustConfig>();
}

/// A Rekor v1 answer for `body` at index 3 of the four-entry test log, its SET by
/// `set_key` over (`time`, `set_index`), and the answer's own `logIndex` `index`.
fn v1_answer(
    m: &Material,
    body: &[u8],
    time: i64,
    index: i64,
    set_index: i64,
    set_key: &SigningKey,
) -> serde_json::Value {
    let v2 = log_entry_json(m, body, None, false);
    let log_id_hex = hex::encode(Sha256::digest(m.log_spki()));
    let body_b64 = B64.encode(body);
    let payload = serde_json::to_vec(&crate::rekor_v1::SetPayload {
        body: &body_b64,
        integrated_time: time,
        log_id: &log_id_hex,
        log_index: set_index,
    })
    .unwrap();
    let set: DerSignature = set_key.sign(&payload);
    let hex_of = |v: &serde_json::Value| hex::encode(B64.decode(v.as_str().unwrap()).unwrap());
    let proof = &v2["inclusionProof"];
    serde_json::json!({"0123": {
        "body": body_b64, "integratedTime": time, "logID": log_id_hex, "logIndex": index,
        "verification": {
            "signedEntryTimestamp": B64.encode(set.as_bytes()),
            "inclusionProof": {
                "checkpoint": proof["checkpoint"]["envelope"],
                "hashes": proof["hashes"].as_array().unwrap().iter().map(hex_of).collect::<Vec<_>>(),
                "logIndex": 3, "rootHash": hex_of(&proof["rootHash"]), "treeSize": 4,
            },
        },
    }})
}

#[test]
fn rekor_v1_answer_is_checked() {
    let m = Material::generate();
    let s = signed(&m);
    let root = root_of(&m);
    let proposal = crate::rekor_v1::Proposal::HashedRekord {
        digest: s.digest,
        signature: &s.signature,
    };
    let body = serde_json::to_vec(&serde_json::json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(s.digest)}},
            "signature": {"content": B64.encode(&s.signature), "publicKey": {
                "content": B64.encode(crate::rekor_v1::certificate_pem(&s.cert))}},
        },
    }))
    .unwrap();
    let now = SystemTime::now();
    let t = i64::try_from(now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap();
    let check = |answer: serde_json::Value| {
        crate::rekor_v1::check_answer(
            &answer,
            &proposal,
            rekor::Verifier::Certificate(&s.cert),
            &root,
            now,
        )
    };
    let entry = check(v1_answer(&m, &body, t, 3, 3, &m.log_key)).unwrap();
    assert!(entry.inclusion_promise.is_some() && entry.integrated_time.is_some());

    // A SET by a key the trusted root does not list for this log ID.
    let stranger = SigningKey::random(&mut rand_core::OsRng);
    let err = check(v1_answer(&m, &body, t, 3, 3, &stranger)).unwrap_err();
    assert_code(err, "SIGN_E022", Stage::Log, "does not verify");
    // A SET over another log index than the answer's.
    let err = check(v1_answer(&m, &body, t, 3, 2, &m.log_key)).unwrap_err();
    assert_code(err, "SIGN_E022", Stage::Log, "does not verify");
    // The answer's index is not the proof's (the SET covers the wrong index).
    let err = check(v1_answer(&m, &body, t, 2, 2, &m.log_key)).unwrap_err();
    assert_code(err, "SIGN_E017", Stage::Log, "proof is for index 3");
    // An integrated time before the certificate existed.
    let err = check(v1_answer(&m, &body, t - 86_400, 3, 3, &m.log_key)).unwrap_err();
    assert_code(
        err,
        "SIGN_E016",
        Stage::Log,
        "outside the certificate's validity",
    );
    // The log recorded another digest.
    let other = String::from_utf8(body.clone())
        .unwrap()
        .replace(&hex::encode(s.digest), &hex::encode([7u8; 32]));
    let err = check(v1_answer(&m, other.as_bytes(), t, 3, 3, &m.log_key)).unwrap_err();
    assert_code(err, "SIGN_E016", Stage::Log, "spec.data.hash.value");
}
