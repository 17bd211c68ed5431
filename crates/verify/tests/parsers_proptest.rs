//! Property tests for the untrusted-input parsers: the bundle parser (arbitrary bytes,
//! single-byte mutations of a real bundle) and the DSSE envelope / in-toto statement path
//! (arbitrary payload types, payloads and signatures). Nothing may panic, every error is
//! coded, and nothing semantically different from the signed bundle may verify.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

// Only the suite location and the default identity are used here.
#[allow(dead_code)]
#[path = "support/cases.rs"]
mod cases;

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use proptest::prelude::*;
use vouch_verify::{
    Artifact, IdentityPolicy, Matcher, ParsedBundle, Policy, PolicyField, TrustRoot, Verifier,
    VerifyError,
};

struct Fixture {
    verifier: Verifier,
    policy: Policy,
    artifact: Artifact,
    message_bundle: Vec<u8>,
    dsse_bundle: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let suite = cases::suite_dir(Path::new(env!("CARGO_MANIFEST_DIR")), 2);
        let read = |p: &str| std::fs::read(suite.join(p)).expect("vector is readable");
        Fixture {
            verifier: Verifier::new(&TrustRoot::public_good().unwrap()).unwrap(),
            policy: Policy::Keyless(IdentityPolicy::new(
                Matcher::exact(PolicyField::Identity, cases::DEFAULT_IDENTITY).unwrap(),
                Matcher::exact(PolicyField::Issuer, cases::DEFAULT_ISSUER).unwrap(),
            )),
            artifact: Artifact::bytes(read("a.txt")),
            message_bundle: read("happy-path-v0.3/bundle.sigstore.json"),
            dsse_bundle: serde_json::from_slice(&read(
                "happy-path-intoto-in-dsse-v3/bundle.sigstore.json",
            ))
            .unwrap(),
        }
    })
}

fn assert_coded(err: &VerifyError) {
    assert!(err.code().starts_with("VERIFY_E"), "{err}");
    assert_eq!(err.to_string().lines().count(), 1, "{err}");
}

#[test]
fn fixtures_verify_unmutated() {
    let f = fixture();
    let b = ParsedBundle::from_json(&f.message_bundle).unwrap();
    f.verifier.verify(&f.artifact, &b, &f.policy).unwrap();
    let b = ParsedBundle::from_json(&serde_json::to_vec(&f.dsse_bundle).unwrap()).unwrap();
    f.verifier.verify(&f.artifact, &b, &f.policy).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_fail_with_a_parse_code(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = ParsedBundle::from_json(&bytes) {
            assert_coded(&e);
            prop_assert!(["VERIFY_E003", "VERIFY_E004"].contains(&e.code()), "{}", e);
        }
    }

    #[test]
    fn json_shaped_input_never_panics(
        media in prop_oneof![
            Just("application/vnd.dev.sigstore.bundle.v0.3+json".to_owned()),
            Just("application/vnd.dev.sigstore.bundle+json;version=0.1".to_owned()),
            ".{0,40}",
        ],
        body in "\\PC{0,200}",
    ) {
        let json = format!(r#"{{"mediaType": {}, "verificationMaterial": {body}}}"#, serde_json::to_string(&media).unwrap());
        if let Err(e) = ParsedBundle::from_json(json.as_bytes()) {
            assert_coded(&e);
        }
    }

    /// A single changed byte either breaks parsing or verification, or still verifies and
    /// then establishes what the original does (same signer, claims, content and log
    /// entries; signing times may only shrink). Harmless edits exist by design: whitespace,
    /// base64 padding bits, the optional `messageDigest` (clients must not rely on it;
    /// renaming its key drops it), the key name on a checkpoint signature line (not signed,
    /// C2SP signed-note; Sigstore clients select the signature by key hint).
    #[test]
    fn mutated_message_bundle_never_verifies_as_something_else(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let f = fixture();
        let mut json = f.message_bundle.clone();
        let i = pos.index(json.len());
        prop_assume!(json[i] != byte);
        json[i] = byte;
        match ParsedBundle::from_json(&json) {
            Err(e) => assert_coded(&e),
            Ok(bundle) => match f.verifier.verify(&f.artifact, &bundle, &f.policy) {
                Err(e) => assert_coded(&e),
                Ok(verified) => {
                    let original = ParsedBundle::from_json(&f.message_bundle).unwrap();
                    let expected = f.verifier.verify(&f.artifact, &original, &f.policy).unwrap();
                    prop_assert!(same_or_less_evidence(&verified, &expected), "byte {} -> {:?} verified differently", i, byte as char);
                }
            },
        }
    }

    #[test]
    fn dsse_envelope_mutations_are_rejected(
        payload_type in prop::option::of("[ -~]{0,40}"),
        payload in prop::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        signature in prop::option::of(proptest::collection::vec(any::<u8>(), 0..80)),
    ) {
        prop_assume!(payload_type.is_some() || payload.is_some() || signature.is_some());
        let f = fixture();
        let mut bundle = f.dsse_bundle.clone();
        let env = &mut bundle["dsseEnvelope"];
        let b64 = base64::engine::general_purpose::STANDARD;
        if let Some(t) = &payload_type {
            prop_assume!(env["payloadType"] != *t);
            env["payloadType"] = t.clone().into();
        }
        if let Some(p) = &payload {
            env["payload"] = b64.encode(p).into();
        }
        if let Some(s) = &signature {
            env["signatures"][0]["sig"] = b64.encode(s).into();
        }
        let json = serde_json::to_vec(&bundle).unwrap();
        match ParsedBundle::from_json(&json) {
            Err(e) => assert_coded(&e),
            Ok(parsed) => {
                let err = f.verifier.verify(&f.artifact, &parsed, &f.policy)
                    .expect_err("a modified DSSE envelope must not verify");
                assert_coded(&err);
            }
        }
    }

    /// Statements built around the artifact's real digest but with arbitrary structure
    /// exercise the in-toto parser; an unsigned statement can never verify.
    #[test]
    fn crafted_statements_never_verify(
        subjects in proptest::collection::vec(("[a-z.]{0,12}", prop::option::of("[0-9a-f]{64}")), 0..4),
        predicate_type in "[ -~]{0,30}",
    ) {
        let f = fixture();
        let subjects: Vec<serde_json::Value> = subjects.into_iter().map(|(name, sha)| {
            serde_json::json!({"name": name, "digest": sha.map(|s| serde_json::json!({"sha256": s})).unwrap_or(serde_json::json!({}))})
        }).collect();
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects,
            "predicateType": predicate_type,
            "predicate": {},
        });
        let mut bundle = f.dsse_bundle.clone();
        bundle["dsseEnvelope"]["payload"] = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&statement).unwrap()).into();
        let parsed = ParsedBundle::from_json(&serde_json::to_vec(&bundle).unwrap());
        match parsed {
            Err(e) => assert_coded(&e),
            Ok(parsed) => assert_coded(&f.verifier.verify(&f.artifact, &parsed, &f.policy).unwrap_err()),
        }
    }
}

/// The mutated bundle establishes the same facts, with at most fewer signing times: a
/// renamed optional field (an inclusion promise beside an inclusion proof and a TSA
/// token) drops evidence, which is harmless; adding or changing any is not.
fn same_or_less_evidence(got: &vouch_verify::Verified, want: &vouch_verify::Verified) -> bool {
    got.bundle_version == want.bundle_version
        && got.content == want.content
        && got.signer == want.signer
        && got.log_entries == want.log_entries
        && !got.signing_times.is_empty()
        && got
            .signing_times
            .iter()
            .all(|t| want.signing_times.contains(t))
}
