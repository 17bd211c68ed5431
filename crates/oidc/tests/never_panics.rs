//! Property tests: the full verification path never panics on arbitrary input, however the
//! token is damaged, and refuses what it does not accept with a coded error.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod common;

use common::{b64, Fixture};
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn verify_never_panics_on_arbitrary_text(s in ".{0,300}") {
        let f = Fixture::es256();
        let result = runtime().block_on(f.verifier.verify(&s));
        prop_assert!(result.is_err());
    }

    #[test]
    fn verify_never_panics_on_mutated_tokens(index in 0usize..2000, byte in any::<u8>(), truncate in any::<bool>()) {
        let f = Fixture::es256();
        let mut token = f.mint().into_bytes();
        let i = index % token.len();
        if truncate { token.truncate(i) } else { token[i] = byte }
        let text = String::from_utf8_lossy(&token).into_owned();
        if let Err(e) = runtime().block_on(f.verifier.verify(&text)) {
            prop_assert!(e.code().starts_with("OIDC_E"));
        }
    }

    #[test]
    fn verify_never_panics_on_arbitrary_json_claims(
        claims in proptest::collection::btree_map("[a-z_]{1,8}", prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            ".{0,12}".prop_map(serde_json::Value::from),
            Just(serde_json::json!(["a"])),
            Just(serde_json::Value::Null),
        ], 0..12)
    ) {
        let f = Fixture::es256();
        let value = serde_json::to_value(&claims).expect("json");
        let signed = f.sign(&value);
        let unsigned = format!("{}.{}.{}", b64(br#"{"alg":"ES256"}"#), b64(value.to_string().as_bytes()), b64(&[0; 64]));
        let rt = runtime();
        prop_assert!(rt.block_on(f.verifier.verify(&signed)).is_err());
        prop_assert!(rt.block_on(f.verifier.verify(&unsigned)).is_err());
    }
}
