#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]
//! PyPI's own attestations (pypi-attestations' test assets, `data/SOURCE`) through
//! `verify_attestation`: accepted with the right publisher, refused with each reason.

use std::path::PathBuf;

use vouch_pep740::{
    verify_attestation, verify_provenance, Attestation, AttestationBundle, Dist, Identity,
    Pep740Error, Provenance, Publisher, TrustedPublisher,
};
use vouch_verify::{IdentityPolicy, Matcher, PolicyField, TrustRoot, Verifier};

const GITLAB_SDIST: &str = "gitlab_oidc_project-0.0.3.tar.gz";
const STAGING_WHEEL: &str = "rfc8785-0.1.2-py3-none-any.whl";
const GITLAB_REPO: &str = "https://gitlab.com/facutuesca/gitlab-oidc-project";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn attestation(dist: &str) -> Attestation {
    let bytes = std::fs::read(data(&format!("{dist}.publish.attestation"))).unwrap();
    Attestation::from_json(&bytes).unwrap()
}

fn public_good() -> Verifier {
    Verifier::new(&TrustRoot::public_good().unwrap()).unwrap()
}

fn gitlab_publisher() -> TrustedPublisher {
    TrustedPublisher::from_repository_url(GITLAB_REPO).unwrap()
}

fn verify_gitlab(publisher: TrustedPublisher, dist: &Dist) -> Result<(), Pep740Error> {
    verify_attestation(
        &public_good(),
        &attestation(GITLAB_SDIST),
        dist,
        &Identity::Publisher(publisher),
    )
    .map(|_| ())
}

#[test]
fn gitlab_attestation_verifies_with_its_repository_and_workflow() {
    let dist = Dist::from_file(&data(GITLAB_SDIST)).unwrap();
    let ok = verify_attestation(
        &public_good(),
        &attestation(GITLAB_SDIST),
        &dist,
        &Identity::Publisher(gitlab_publisher().with_workflow(".gitlab-ci.yml")),
    )
    .unwrap();
    assert_eq!(
        ok.predicate_type,
        "https://docs.pypi.org/attestations/publish/v1"
    );
    assert_eq!(ok.verified.log_entries.len(), 1);
    // Without a workflow, the repository alone is the policy.
    verify_gitlab(gitlab_publisher(), &dist).unwrap();
}

#[test]
fn gitlab_attestation_is_refused_for_each_reason() {
    let dist = Dist::from_file(&data(GITLAB_SDIST)).unwrap();
    let code = |p: TrustedPublisher, d: &Dist| verify_gitlab(p, d).unwrap_err().code();

    // Another repository: the certificate's source repository claim does not match.
    let other =
        TrustedPublisher::from_repository_url("https://gitlab.com/facutuesca/other").unwrap();
    assert_eq!(code(other, &dist), "VERIFY_E026");
    // Another workflow file.
    assert_eq!(
        code(gitlab_publisher().with_workflow("release.yml"), &dist),
        "PEP740_E009"
    );
    // An environment the certificate does not carry.
    assert_eq!(
        code(gitlab_publisher().with_environment("pypi"), &dist),
        "PEP740_E010"
    );
    // Another issuer.
    assert_eq!(
        code(
            gitlab_publisher().with_issuer("https://token.actions.githubusercontent.com"),
            &dist
        ),
        "VERIFY_E025"
    );

    // One flipped byte in the distribution: its digest is not the subject's.
    let mut bytes = std::fs::read(data(GITLAB_SDIST)).unwrap();
    bytes[100] ^= 1;
    let flipped = Dist::from_bytes(GITLAB_SDIST, &bytes).unwrap();
    assert_eq!(code(gitlab_publisher(), &flipped), "PEP740_E007");
    // Another distribution name.
    let renamed = Dist::new("gitlab_oidc_project-0.0.4.tar.gz", *dist.sha256()).unwrap();
    assert_eq!(code(gitlab_publisher(), &renamed), "PEP740_E006");

    // One flipped bit in the signature.
    let mut tampered = attestation(GITLAB_SDIST);
    tampered.envelope.signature[10] ^= 1;
    let err = verify_attestation(
        &public_good(),
        &tampered,
        &dist,
        &Identity::Publisher(gitlab_publisher()),
    )
    .unwrap_err();
    assert!(err.code().starts_with("VERIFY_E"), "{err}");
    assert!(err.is_refusal(), "{err}");

    // The staging root does not know the public-good log.
    let staging = Verifier::new(&TrustRoot::staging().unwrap()).unwrap();
    let err = verify_attestation(
        &staging,
        &attestation(GITLAB_SDIST),
        &dist,
        &Identity::Publisher(gitlab_publisher()),
    )
    .unwrap_err();
    assert!(err.code().starts_with("VERIFY_E"), "{err}");
}

#[test]
fn email_attestation_on_staging_verifies_with_a_keyless_identity() {
    let staging = Verifier::new(&TrustRoot::staging().unwrap()).unwrap();
    let dist = Dist::from_file(&data(STAGING_WHEEL)).unwrap();
    let identity = |id: &str| {
        Identity::Keyless(IdentityPolicy::new(
            Matcher::exact(PolicyField::Identity, id).unwrap(),
            Matcher::exact(PolicyField::Issuer, "https://github.com/login/oauth").unwrap(),
        ))
    };
    let a = attestation(STAGING_WHEEL);
    verify_attestation(&staging, &a, &dist, &identity("william@yossarian.net")).unwrap();
    let err =
        verify_attestation(&staging, &a, &dist, &identity("someone@example.com")).unwrap_err();
    assert_eq!(err.code(), "VERIFY_E024");
    // A GitHub publisher policy: the certificate has no repository claim.
    let gh =
        TrustedPublisher::from_repository_url("https://github.com/trailofbits/rfc8785.py").unwrap();
    let err = verify_attestation(&staging, &a, &dist, &Identity::Publisher(gh)).unwrap_err();
    assert_eq!(err.code(), "VERIFY_E025");
}

#[test]
fn provenance_publisher_must_be_the_expected_one() {
    let dist = Dist::from_file(&data(GITLAB_SDIST)).unwrap();
    let provenance = |repository: &str, workflow: &str| Provenance {
        version: 1,
        attestation_bundles: vec![AttestationBundle {
            publisher: Publisher::GitLab {
                repository: repository.into(),
                workflow_filepath: workflow.into(),
                environment: None,
            },
            attestations: vec![attestation(GITLAB_SDIST)],
        }],
    };
    let identity = Identity::Publisher(gitlab_publisher());
    let good = provenance("facutuesca/gitlab-oidc-project", ".gitlab-ci.yml");
    let round = Provenance::from_json(good.to_json().as_bytes()).unwrap();
    assert_eq!(round, good);
    assert_eq!(
        verify_provenance(&public_good(), &good, &dist, &identity)
            .unwrap()
            .len(),
        1
    );
    // A provenance whose publisher names another workflow than the certificate's:
    // the publisher's workflow is required, and the certificate refutes it.
    let lying = provenance("facutuesca/gitlab-oidc-project", "deploy.yml");
    let err = verify_provenance(&public_good(), &lying, &dist, &identity).unwrap_err();
    assert_eq!(err.code(), "PEP740_E009");
    // A provenance from another repository than the one asked for.
    let other = provenance("facutuesca/other", ".gitlab-ci.yml");
    let err = verify_provenance(&public_good(), &other, &dist, &identity).unwrap_err();
    assert_eq!(err.code(), "PEP740_E011");
}

#[test]
fn attestation_and_bundle_convert_both_ways() {
    let a = attestation(GITLAB_SDIST);
    let bundle = a.to_bundle_json();
    assert_eq!(Attestation::from_bundle_json(&bundle).unwrap(), a);
    let again = Attestation::from_json(a.to_json().as_bytes()).unwrap();
    assert_eq!(again, a);
    // A message-signature bundle cannot become an attestation.
    let mut doc: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    doc.as_object_mut().unwrap().remove("dsseEnvelope");
    doc["messageSignature"] = serde_json::json!({"signature": "AA=="});
    let err = Attestation::from_bundle_json(doc.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.code(), "PEP740_E003");
}

#[test]
fn malformed_objects_are_named() {
    let mut doc: serde_json::Value =
        serde_json::from_str(&attestation(GITLAB_SDIST).to_json()).unwrap();
    doc["version"] = 2.into();
    let err = Attestation::from_json(doc.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.code(), "PEP740_E001");
    assert!(err.to_string().contains("version 1"), "{err}");
    doc["version"] = 1.into();
    doc["verification_material"]["transparency_entries"] = serde_json::json!([]);
    assert_eq!(
        Attestation::from_json(doc.to_string().as_bytes())
            .unwrap_err()
            .code(),
        "PEP740_E001"
    );
    let odd = br#"{"version":1,"attestation_bundles":[{"publisher":{"kind":"ActiveState"},"attestations":[]}]}"#;
    assert_eq!(
        Provenance::from_json(odd).unwrap_err().code(),
        "PEP740_E014"
    );
    assert_eq!(
        Provenance::from_json(b"{}").unwrap_err().code(),
        "PEP740_E002"
    );
}
