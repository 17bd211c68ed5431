//! Every sigstore-conformance bundle-verify case through the library, by artifact bytes
//! and by sha256 digest, with the exact error code pinned for every `_fail` case so none
//! passes by failing for the wrong reason. The root crate's `tests/conformance_cli.rs`
//! runs the same cases through the `vouch` binary.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

#[path = "support/cases.rs"]
mod cases;

use std::path::Path;

use cases::Case;
use vouch_verify::{
    Artifact, IdentityPolicy, ManagedKey, Matcher, ParsedBundle, Policy, PolicyField, TrustRoot,
    Verifier, VerifyError,
};

fn run_case(case: &Case, by_digest: bool) -> Result<(), VerifyError> {
    let root = match &case.trusted_root {
        Some(p) => TrustRoot::from_file(p)?,
        None => TrustRoot::public_good()?,
    };
    let verifier = Verifier::new(&root)?;
    let policy = match &case.key {
        Some(p) => Policy::ManagedKey(ManagedKey::from_pem(
            &std::fs::read_to_string(p).expect("key.pub is readable"),
        )?),
        None => Policy::Keyless(IdentityPolicy::new(
            Matcher::exact(PolicyField::Identity, case.identity.clone())?,
            Matcher::exact(PolicyField::Issuer, case.issuer.clone())?,
        )),
    };
    let bytes = std::fs::read(&case.artifact).expect("artifact is readable");
    let artifact = if by_digest {
        let hex = sigstore_crypto::sha256(&bytes).to_hex();
        Artifact::parse_digest(&format!("sha256:{hex}"))?
    } else {
        Artifact::bytes(bytes)
    };
    let bundle = ParsedBundle::from_file(&case.bundle)?;
    verifier.verify(&artifact, &bundle, &policy).map(|_| ())
}

#[test]
fn every_conformance_case_gives_the_expected_verdict() {
    let cases = cases::load(&cases::suite_dir(Path::new(env!("CARGO_MANIFEST_DIR")), 2));
    let mut problems = cases::table_problems(&cases);
    for case in cases.iter().filter(|c| !c.is_exception()) {
        for (by_digest, how) in [(false, "bytes"), (true, "digest")] {
            let outcome = run_case(case, by_digest).map_err(|e| format!("{}: {e}", e.code()));
            problems.extend(cases::judge(case, how, outcome));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
