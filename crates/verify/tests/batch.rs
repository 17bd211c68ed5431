//! The batch path: one shared `Verifier`, many jobs on several threads, results in job
//! order and identical to one-at-a-time verification, failures kept per job.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

#[allow(dead_code)]
#[path = "support/cases.rs"]
mod cases;

use std::num::NonZeroUsize;
use std::path::Path;

use vouch_verify::{
    Artifact, BundleInput, IdentityPolicy, Job, Matcher, ParsedBundle, Policy, PolicyField,
    TrustRoot, Verifier,
};

#[test]
fn verify_many_keeps_order_and_per_job_verdicts() {
    let suite = cases::suite_dir(Path::new(env!("CARGO_MANIFEST_DIR")), 2);
    let read = |p: &str| std::fs::read(suite.join(p)).unwrap();
    let verifier = Verifier::new(&TrustRoot::public_good().unwrap()).unwrap();
    let policy = Policy::Keyless(IdentityPolicy::new(
        Matcher::exact(PolicyField::Identity, cases::DEFAULT_IDENTITY).unwrap(),
        Matcher::exact(PolicyField::Issuer, cases::DEFAULT_ISSUER).unwrap(),
    ));
    let artifact = Artifact::bytes(read("a.txt"));
    let other = Artifact::bytes(&b"another artifact"[..]);
    let good = read("happy-path-v0.3/bundle.sigstore.json");
    let dsse = ParsedBundle::from_json(&read("happy-path-intoto-in-dsse-v3/bundle.sigstore.json"))
        .unwrap();
    let broken = b"{not json".to_vec();

    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for i in 0..60 {
        let (job, code) = match i % 4 {
            0 => (
                Job {
                    artifact: &artifact,
                    bundle: BundleInput::Json(&good),
                    policy: &policy,
                },
                None,
            ),
            1 => (
                Job {
                    artifact: &artifact,
                    bundle: BundleInput::Parsed(&dsse),
                    policy: &policy,
                },
                None,
            ),
            2 => (
                Job {
                    artifact: &other,
                    bundle: BundleInput::Json(&good),
                    policy: &policy,
                },
                Some("VERIFY_E011"),
            ),
            _ => (
                Job {
                    artifact: &artifact,
                    bundle: BundleInput::Json(&broken),
                    policy: &policy,
                },
                Some("VERIFY_E003"),
            ),
        };
        jobs.push(job);
        expected.push(code);
    }
    for threads in [1, 3, 8] {
        let results = verifier.verify_many_on(&jobs, NonZeroUsize::new(threads).unwrap());
        assert_eq!(results.len(), jobs.len());
        for (i, (result, want)) in results.iter().zip(&expected).enumerate() {
            match (result, want) {
                (Ok(_), None) => {}
                (Err(e), Some(code)) => assert_eq!(e.code(), *code, "job {i}"),
                (r, w) => panic!("job {i} on {threads} threads: {r:?}, wanted {w:?}"),
            }
        }
    }
    assert!(verifier.verify_many(&[]).is_empty());
}
