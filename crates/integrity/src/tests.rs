//! Whole-crate tests: sign/verify round trips, every refusal of the verifier with its
//! code, rotation, log inclusion, and property tests that the parsers never panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::jws::sign_payload;
use crate::*;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn record_for(key: &RegistrySigningKey) -> IntegrityRecord {
    IntegrityRecord {
        kid: key.kid(),
        issued_at: at(1_795_316_400),
        registry: "https://registry.example".into(),
        subject: Subject::Release {
            id: "acme/tool@v1.0.0".into(),
        },
        version: "v1.0.0".into(),
        manifest_sha256: [7; 32],
        assets: vec![
            AssetEntry::of_bytes("tool-linux.tar.gz", b"linux bytes"),
            AssetEntry::of_bytes("tool-mac.tar.gz", b"mac bytes"),
        ],
    }
}

fn key(n: u8) -> RegistrySigningKey {
    RegistrySigningKey::from_seed(&[n; 32])
}

/// Builds a compact JWS from an arbitrary header (JSON text) and payload, signed by `k`.
fn forge(header: &str, payload: &[u8], k: &RegistrySigningKey) -> String {
    let mut jws = URL_SAFE_NO_PAD.encode(header);
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let sig = k.sign(jws.as_bytes());
    format!("{jws}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn header(kid: &str) -> String {
    format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"vouch-integrity+jws"}}"#)
}

fn payload_of(k: &RegistrySigningKey) -> Value {
    record_for(k).to_json_value().unwrap()
}

fn code(jws: &str, keys: &KeySet) -> &'static str {
    verify_record(jws, keys).unwrap_err().code()
}

#[test]
fn sign_verify_round_trip() {
    let k = key(1);
    let keys = KeySet::new(k.public_key().clone());
    let signed = sign_record(&record_for(&k), &k).unwrap();
    let verified = verify_record(signed.jws(), &keys).unwrap();
    assert_eq!(verified, signed);
    assert_eq!(verified.record(), &record_for(&k));
    // The header is exactly the documented canonical JSON.
    let head = signed.jws().split('.').next().unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(head).unwrap(),
        header(k.kid().as_str()).as_bytes()
    );
    // The payload is the canonical form, and Ed25519 is deterministic.
    assert_eq!(
        sign_record(&record_for(&k), &k).unwrap().jws(),
        signed.jws()
    );
    let payload = URL_SAFE_NO_PAD
        .decode(signed.jws().split('.').nth(1).unwrap())
        .unwrap();
    assert!(payload.starts_with(br#"{"assets":[{"blake3":""#));
    assert_eq!(signed.log_leaf(), signed.jws().as_bytes());
}

#[test]
fn package_subject_round_trip() {
    let k = key(1);
    let mut record = record_for(&k);
    record.subject = Subject::Package {
        name: "demo".into(),
    };
    record.assets.clear();
    let signed = sign_record(&record, &k).unwrap();
    let keys = KeySet::new(k.public_key().clone());
    assert_eq!(
        verify_record(signed.jws(), &keys).unwrap().record(),
        &record
    );
}

#[test]
fn signing_refuses_a_record_for_another_key() {
    let err = sign_record(&record_for(&key(1)), &key(2)).unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E024");
}

#[test]
fn refuses_other_algorithms_including_none_and_hs256() {
    let k = key(1);
    let keys = KeySet::new(k.public_key().clone());
    let payload = canonical_record_json(&payload_of(&k)).unwrap();
    let kid = k.kid().to_string();
    for alg in [
        "none", "HS256", "RS256", "ES256", "Ed25519", "eddsa", "EdDSA ",
    ] {
        let h = format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"{JWS_TYP}"}}"#);
        let jws = forge(&h, &payload, &k);
        let err = verify_record(&jws, &keys).unwrap_err();
        assert_eq!(err.code(), "INTEGRITY_E018", "{alg}");
        assert!(
            matches!(err, IntegrityError::AlgorithmNotAllowed { ref found, .. } if found == alg)
        );
    }
    // alg none with an empty signature, the classic form.
    let h = format!(r#"{{"alg":"none","kid":"{kid}","typ":"{JWS_TYP}"}}"#);
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(h),
        URL_SAFE_NO_PAD.encode(&payload)
    );
    assert_eq!(code(&unsigned, &keys), "INTEGRITY_E018");
    let missing = forge(
        &format!(r#"{{"kid":"{kid}","typ":"{JWS_TYP}"}}"#),
        &payload,
        &k,
    );
    assert_eq!(code(&missing, &keys), "INTEGRITY_E018");
}

#[test]
fn refuses_header_problems() {
    let k = key(1);
    let keys = KeySet::new(k.public_key().clone());
    let payload = canonical_record_json(&payload_of(&k)).unwrap();
    let kid = k.kid().to_string();
    let cases = [
        (
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"JWT"}}"#),
            "INTEGRITY_E019",
        ),
        (
            format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#),
            "INTEGRITY_E019",
        ),
        (
            format!(
                r#"{{"alg":"EdDSA","kid":"{kid}","typ":"{JWS_TYP}","crit":["b64"],"b64":false}}"#
            ),
            "INTEGRITY_E009",
        ),
        (
            format!(r#"{{"alg":"EdDSA","typ":"{JWS_TYP}"}}"#),
            "INTEGRITY_E009",
        ),
        ("[]".to_owned(), "INTEGRITY_E009"),
        ("not json".to_owned(), "INTEGRITY_E009"),
        (header("0000000000000000"), "INTEGRITY_E020"),
        // Right members, wrong spelling: whitespace, order, escapes, duplicates.
        (
            format!(r#"{{ "alg":"EdDSA","kid":"{kid}","typ":"{JWS_TYP}"}}"#),
            "INTEGRITY_E009",
        ),
        (
            format!(r#"{{"typ":"{JWS_TYP}","alg":"EdDSA","kid":"{kid}"}}"#),
            "INTEGRITY_E009",
        ),
        (
            format!(r#"{{"alg":"EdDS\u0041","kid":"{kid}","typ":"{JWS_TYP}"}}"#),
            "INTEGRITY_E009",
        ),
        (
            format!(r#"{{"alg":"none","alg":"EdDSA","kid":"{kid}","typ":"{JWS_TYP}"}}"#),
            "INTEGRITY_E009",
        ),
    ];
    for (h, want) in cases {
        assert_eq!(code(&forge(&h, &payload, &k), &keys), want, "{h}");
    }
}

#[test]
fn refuses_unknown_kid_and_wrong_key() {
    let k1 = key(1);
    let k2 = key(2);
    let signed = sign_record(&record_for(&k1), &k1).unwrap();
    let other = KeySet::new(k2.public_key().clone());
    assert_eq!(code(signed.jws(), &other), "INTEGRITY_E020");
    // A header claiming k1's kid but signed by k2.
    let payload = canonical_record_json(&payload_of(&k1)).unwrap();
    let jws = forge(&header(k1.kid().as_str()), &payload, &k2);
    assert_eq!(
        code(&jws, &KeySet::new(k1.public_key().clone())),
        "INTEGRITY_E021"
    );
}

#[test]
fn refuses_tampered_payload_and_signature() {
    let k = key(1);
    let keys = KeySet::new(k.public_key().clone());
    let jws = sign_record(&record_for(&k), &k).unwrap().jws().to_owned();
    let parts: Vec<&str> = jws.split('.').collect();
    // Payload with one asset size changed (still canonical, still valid record).
    let mut value = payload_of(&k);
    value["assets"][0]["size"] = json!(12);
    let tampered_payload = URL_SAFE_NO_PAD.encode(canonical_record_json(&value).unwrap());
    let t1 = format!("{}.{tampered_payload}.{}", parts[0], parts[2]);
    assert_eq!(code(&t1, &keys), "INTEGRITY_E021");
    // Signature with one bit flipped.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let t2 = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
    assert_eq!(code(&t2, &keys), "INTEGRITY_E021");
    // Truncated signature.
    let t3 = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&sig[..63])
    );
    assert_eq!(code(&t3, &keys), "INTEGRITY_E021");
}

#[test]
fn refuses_non_canonical_payloads_even_when_signed() {
    let k = key(1);
    let keys = KeySet::new(k.public_key().clone());
    let value = payload_of(&k);
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    assert_eq!(code(&sign_payload(&pretty, &k), &keys), "INTEGRITY_E022");
    // Reordered members (v first).
    let canonical = String::from_utf8(canonical_record_json(&value).unwrap()).unwrap();
    let without_v = canonical.replacen(r#","v":1,"#, ",", 1);
    let reordered = format!(r#"{{"v":1,{}"#, &without_v[1..]);
    assert_eq!(reordered.len(), canonical.len(), "{reordered}");
    assert_eq!(
        code(&sign_payload(reordered.as_bytes(), &k), &keys),
        "INTEGRITY_E022"
    );
    // A needless escape ("\u0041" for "A").
    let escaped = canonical.replace("registry.example", "registry.ex\\u0061mple");
    assert_eq!(
        code(&sign_payload(escaped.as_bytes(), &k), &keys),
        "INTEGRITY_E022"
    );
    // A duplicate member: serde_json keeps the last, so re-canonicalising differs.
    let dup = canonical.replacen(r#""v":1"#, r#""v":1,"v":1"#, 1);
    assert_eq!(
        code(&sign_payload(dup.as_bytes(), &k), &keys),
        "INTEGRITY_E022"
    );
    // A float spelling of an integer is refused by the number policy.
    let float = canonical.replacen(r#""v":1"#, r#""v":1.0"#, 1);
    assert_eq!(
        code(&sign_payload(float.as_bytes(), &k), &keys),
        "INTEGRITY_E006"
    );
}

#[test]
fn refuses_bad_records_inside_valid_signatures() {
    let k = key(1);
    let keys = KeySet::new(k.public_key().clone());
    let sign_value = |v: &Value| sign_payload(&canonical_record_json(v).unwrap(), &k);
    let mut v2 = payload_of(&k);
    v2["v"] = json!(2);
    assert_eq!(code(&sign_value(&v2), &keys), "INTEGRITY_E023");
    let mut unknown = payload_of(&k);
    unknown["note"] = json!("hi");
    assert_eq!(code(&sign_value(&unknown), &keys), "INTEGRITY_E009");
    let mut asset_field = payload_of(&k);
    asset_field["assets"][0]["url"] = json!("https://x");
    assert_eq!(code(&sign_value(&asset_field), &keys), "INTEGRITY_E009");
    let mut other_kid = payload_of(&k);
    other_kid["kid"] = json!(key(2).kid().to_string());
    let err = verify_record(&sign_value(&other_kid), &keys).unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E024");
    assert_eq!(code(&sign_payload(b"[1,2]", &k), &keys), "INTEGRITY_E023");
    assert_eq!(code(&sign_payload(b"", &k), &keys), "INTEGRITY_E009");
}

#[test]
fn refuses_malformed_segments_and_oversize() {
    let k = key(1);
    let keys = KeySet::new(k.public_key().clone());
    let jws = sign_record(&record_for(&k), &k).unwrap().jws().to_owned();
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(code("", &keys), "INTEGRITY_E016");
    assert_eq!(
        code(&format!("{}.{}", parts[0], parts[1]), &keys),
        "INTEGRITY_E016"
    );
    assert_eq!(code(&format!("{jws}.x"), &keys), "INTEGRITY_E016");
    let err = verify_record(&".".repeat(9), &keys).unwrap_err();
    assert!(matches!(
        err,
        IntegrityError::JwsSegments {
            expected: 3,
            found: 10
        }
    ));
    // Padded base64url, standard alphabet, whitespace: all refused.
    let header_json = header(k.kid().as_str());
    let padded = (0..3)
        .map(|n| URL_SAFE.encode(format!("{header_json}{}", " ".repeat(n))))
        .find(|s| s.ends_with('='))
        .unwrap();
    assert_eq!(
        code(&format!("{padded}.{}.{}", parts[1], parts[2]), &keys),
        "INTEGRITY_E017"
    );
    assert_eq!(
        code(&format!("{}.{}+.{}", parts[0], parts[1], parts[2]), &keys),
        "INTEGRITY_E017"
    );
    assert_eq!(
        code(&format!("{}.{}.{} ", parts[0], parts[1], parts[2]), &keys),
        "INTEGRITY_E017"
    );
    assert_eq!(
        code(&format!("{}=.{}.{}", parts[0], parts[1], parts[2]), &keys),
        "INTEGRITY_E017"
    );
    let huge = "a".repeat(MAX_JWS_BYTES + 1);
    assert_eq!(code(&huge, &keys), "INTEGRITY_E008");
}

#[test]
fn rotation_twice_keeps_old_signatures_verifying() {
    let (k1, k2, k3) = (key(1), key(2), key(3));
    let mut keys = KeySet::new(k1.public_key().clone());
    let s1 = sign_record(&record_for(&k1), &k1).unwrap();
    let ev = keys.rotate(k2.public_key().clone(), at(100)).unwrap();
    assert_eq!((ev.old_kid, ev.new_kid), (k1.kid(), k2.kid()));
    let s2 = sign_record(&record_for(&k2), &k2).unwrap();
    let ev = keys.rotate(k3.public_key().clone(), at(200)).unwrap();
    assert_eq!(
        (ev.old_kid, ev.new_kid, ev.at),
        (k2.kid(), k3.kid(), at(200))
    );
    let s3 = sign_record(&record_for(&k3), &k3).unwrap();
    // Through the served JWKS, as a consumer would.
    let served = KeySet::from_jwks(keys.to_jwks().as_bytes()).unwrap();
    assert_eq!(served.current().kid(), k3.kid());
    for s in [&s1, &s2, &s3] {
        assert_eq!(&verify_record(s.jws(), &served).unwrap(), s);
    }
}

#[test]
fn sealed_key_signs_after_reopening() {
    let enc = token_enc_key_from_hex(&"ab".repeat(32)).unwrap();
    let k = RegistrySigningKey::generate().unwrap();
    let stored = k.seal(&enc).unwrap().as_bytes().to_vec();
    let reopened = RegistrySigningKey::open_bytes(&stored, &enc).unwrap();
    let signed = sign_record(&record_for(&reopened), &reopened).unwrap();
    verify_record(signed.jws(), &KeySet::new(k.public_key().clone())).unwrap();
}

#[test]
fn check_assets_matches_and_reports() {
    let k = key(1);
    let record = record_for(&k);
    let ok = check_assets(
        &record,
        &[("tool-linux.tar.gz", b"linux bytes"), ("extra.txt", b"x")],
    )
    .unwrap();
    assert_eq!(ok.verified, ["tool-linux.tar.gz"]);
    assert_eq!(ok.not_in_record, ["extra.txt"]);
    assert_eq!(ok.not_supplied, ["tool-mac.tar.gz"]);
    assert!(!ok.is_complete());
    let all = check_assets(
        &record,
        &[
            ("tool-linux.tar.gz", b"linux bytes"),
            ("tool-mac.tar.gz", b"mac bytes"),
        ],
    )
    .unwrap();
    assert!(all.is_complete());
    let err = check_assets(&record, &[("tool-mac.tar.gz", b"mac bytez")]).unwrap_err();
    assert!(matches!(
        err,
        IntegrityError::AssetDigest {
            algorithm: "sha256",
            ..
        }
    ));
    assert_eq!(err.code(), "INTEGRITY_E028");
    let err = check_assets(&record, &[("tool-mac.tar.gz", b"mac bytes!")]).unwrap_err();
    assert!(matches!(
        err,
        IntegrityError::AssetSize {
            expected: 9,
            found: 10,
            ..
        }
    ));
    assert_eq!(err.code(), "INTEGRITY_E027");
    // Same SHA-256 and size but a different BLAKE3 in the record: caught.
    let mut forged = record.clone();
    forged.assets[1].blake3 = [0; 32];
    let err = check_assets(&forged, &[("tool-mac.tar.gz", b"mac bytes")]).unwrap_err();
    assert!(matches!(
        err,
        IntegrityError::AssetDigest {
            algorithm: "blake3",
            ..
        }
    ));
}

#[test]
fn inclusion_in_the_log_verifies() {
    use vouch_tlog::{inclusion_proof, sign_note, Checkpoint, KeyType, MemoryTree, Signer};
    let k = key(1);
    let signed = sign_record(&record_for(&k), &k).unwrap();
    let mut tree = MemoryTree::new();
    tree.push(vouch_tlog::leaf_hash(b"earlier entry"));
    tree.push(log_leaf_hash(signed.jws()));
    tree.push(vouch_tlog::leaf_hash(b"later entry"));
    let origin = "registry.example/log";
    let signer = Signer::from_seed(origin, KeyType::Ed25519, &[9; 32]).unwrap();
    let text = Checkpoint::new(origin, tree.size(), tree.root()).to_text();
    let note = sign_note(&text, &[&signer]).unwrap();
    let proof = inclusion_proof(1, tree.size(), &tree).unwrap();
    let evidence = InclusionEvidence {
        index: 1,
        proof: &proof,
        checkpoint: note.as_bytes(),
    };
    let cp = verify_logged(&signed, &evidence, origin, &[signer.verifier()]).unwrap();
    assert_eq!(cp.checkpoint.size, 3);
    let wrong_index = InclusionEvidence {
        index: 2,
        ..evidence
    };
    let err = verify_logged(&signed, &wrong_index, origin, &[signer.verifier()]).unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E030");
    let other = Signer::from_seed(origin, KeyType::Ed25519, &[8; 32]).unwrap();
    let err = verify_logged(&signed, &evidence, origin, &[other.verifier()]).unwrap_err();
    assert_eq!(err.code(), "INTEGRITY_E030");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn jws_parser_never_panics(s in "[A-Za-z0-9_\\-.=+/ ]{0,300}") {
        let keys = KeySet::new(key(1).public_key().clone());
        let _ = verify_record(&s, &keys);
    }

    #[test]
    fn signed_arbitrary_payloads_never_panic(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let k = key(1);
        let keys = KeySet::new(k.public_key().clone());
        let _ = verify_record(&sign_payload(&payload, &k), &keys);
    }

    #[test]
    fn signed_json_payloads_never_panic(json in "[\\[\\]{}\",:0-9a-z_.\\-eE ]{0,200}") {
        let k = key(1);
        let keys = KeySet::new(k.public_key().clone());
        let _ = verify_record(&sign_payload(json.as_bytes(), &k), &keys);
        let _ = forge(&json, b"{}", &k);
        let _ = verify_record(&forge(&json, b"{}", &k), &keys);
    }

    #[test]
    fn jwks_parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = KeySet::from_jwks(&bytes);
    }

    #[test]
    fn jwks_json_shapes_never_panic(s in "[\\[\\]{}\",:0-9a-zA-Z_\\-]{0,300}") {
        let _ = KeySet::from_jwks(s.as_bytes());
        let wrapped = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519",{s}}}]}}"#);
        let _ = KeySet::from_jwks(wrapped.as_bytes());
    }

    #[test]
    fn record_parser_never_panics(v in any_json()) {
        let _ = IntegrityRecord::from_json_value(v.clone());
        let _ = canonical_record_json(&v);
    }

    #[test]
    fn record_mutations_never_panic(field in 0usize..8, v in any_json()) {
        let mut base = payload_of(&key(1));
        let names = ["v", "kid", "issued_at", "registry", "subject", "version", "manifest_sha256", "assets"];
        base[names[field]] = v;
        let _ = IntegrityRecord::from_json_value(base);
    }
}

fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
