//! Real-world bundles from other producers (npm provenance, conda via GitHub Actions,
//! cosign v3 sign-blob, a Rekor v2 staging bundle, a managed key; see
//! `data/real-world/SOURCE`): each verifies with its true policy, fails with a wrong one,
//! and no single-byte mutation of it verifies as anything different.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::path::{Path, PathBuf};

use vouch_verify::{
    Artifact, CiClaim, IdentityPolicy, ManagedKey, Matcher, ParsedBundle, Policy, PolicyField,
    Signer, TrustRoot, Verifier,
};

const GITHUB: &str = "https://token.actions.githubusercontent.com";

struct Case {
    bundle: &'static str,
    artifact: ArtifactSpec,
    staging: bool,
    policy: PolicySpec,
}

enum ArtifactSpec {
    File(&'static str),
    Digest(&'static str),
}

enum PolicySpec {
    Keyless {
        identity: &'static str,
        issuer: &'static str,
    },
    Key(&'static str),
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real-world")
        .join(name)
}

fn cases() -> Vec<Case> {
    use ArtifactSpec::*;
    use PolicySpec::*;
    vec![
        Case {
            bundle: "npm-sigstore-js-2.0.0.sigstore.json",
            // The npm tarball's sha512, as npm's lockfile integrity records it.
            artifact: Digest("sha512:46d4e2f74c4877316640000a6fdf8a8b59f1e0847667973e9859f774dd31b8f1e0937813b777fb66a2ac67d50540fe34640966eee9fc2ccca387082b4c85cd3c"),
            staging: false,
            policy: Keyless {
                identity: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
                issuer: GITHUB,
            },
        },
        Case {
            bundle: "conda.sigstore.json",
            artifact: File("signed-package-2.1.0-hb0f4dca_0.conda"),
            staging: false,
            policy: Keyless {
                identity: "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main",
                issuer: GITHUB,
            },
        },
        Case {
            bundle: "conda-rekor2-staging.sigstore.json",
            artifact: File("signed-package-2.1.0-hb0f4dca_0.conda"),
            staging: true,
            policy: Keyless { identity: "jku@goto.fi", issuer: "https://github.com/login/oauth" },
        },
        Case {
            bundle: "cosign-v3-blob.sigstore.json",
            artifact: File("cosign-v3-blob.txt"),
            staging: false,
            policy: Keyless { identity: "w.vollprecht@gmail.com", issuer: "https://github.com/login/oauth" },
        },
        Case {
            bundle: "managed-key.sigstore.json",
            artifact: File("managed-key-artifact.txt"),
            staging: false,
            policy: Key("managed-key.pub"),
        },
    ]
}

struct Prepared {
    verifier: Verifier,
    artifact: Artifact,
    policy: Policy,
    json: Vec<u8>,
}

fn prepare(case: &Case) -> Prepared {
    let root = if case.staging {
        TrustRoot::staging()
    } else {
        TrustRoot::public_good()
    };
    let artifact = match case.artifact {
        ArtifactSpec::File(name) => Artifact::bytes(std::fs::read(data(name)).unwrap()),
        ArtifactSpec::Digest(d) => Artifact::parse_digest(d).unwrap(),
    };
    let policy = match case.policy {
        PolicySpec::Keyless { identity, issuer } => Policy::Keyless(IdentityPolicy::new(
            Matcher::exact(PolicyField::Identity, identity).unwrap(),
            Matcher::exact(PolicyField::Issuer, issuer).unwrap(),
        )),
        PolicySpec::Key(name) => Policy::ManagedKey(
            ManagedKey::from_pem(&std::fs::read_to_string(data(name)).unwrap()).unwrap(),
        ),
    };
    Prepared {
        verifier: Verifier::new(&root.unwrap()).unwrap(),
        artifact,
        policy,
        json: std::fs::read(data(case.bundle)).unwrap(),
    }
}

#[test]
fn real_world_bundles_verify_with_their_policy() {
    for case in cases() {
        let p = prepare(&case);
        let bundle = ParsedBundle::from_json(&p.json).unwrap();
        let verified = p
            .verifier
            .verify(&p.artifact, &bundle, &p.policy)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", case.bundle, e.code()));
        if let Signer::Certificate { claims, .. } = &verified.signer {
            if case.bundle == "conda.sigstore.json" {
                assert!(claims.contains(&(CiClaim::SourceRepositoryRef, "refs/heads/main".into())));
                assert!(claims.contains(&(CiClaim::BuildTrigger, "push".into())));
            }
        }
        // Another artifact never verifies.
        let other = Artifact::bytes(&b"some other artifact"[..]);
        let err = p.verifier.verify(&other, &bundle, &p.policy).unwrap_err();
        assert!(
            ["VERIFY_E011", "VERIFY_E020"].contains(&err.code()),
            "{}: {err}",
            case.bundle
        );
    }
}

#[test]
fn real_world_bundles_reject_another_identity() {
    for case in cases()
        .into_iter()
        .filter(|c| matches!(c.policy, PolicySpec::Keyless { .. }))
    {
        let mut p = prepare(&case);
        p.policy = Policy::Keyless(IdentityPolicy::new(
            Matcher::exact(PolicyField::Identity, "someone-else@example.com").unwrap(),
            Matcher::regex(PolicyField::Issuer, ".*").unwrap(),
        ));
        let bundle = ParsedBundle::from_json(&p.json).unwrap();
        let err = p
            .verifier
            .verify(&p.artifact, &bundle, &p.policy)
            .unwrap_err();
        assert_eq!(err.code(), "VERIFY_E024", "{}: {err}", case.bundle);
    }
}

/// Every 13th byte of every bundle, changed three ways: whatever still verifies must
/// establish exactly what the original establishes.
#[test]
fn single_byte_mutations_never_verify_differently() {
    for case in cases() {
        let p = prepare(&case);
        let original = ParsedBundle::from_json(&p.json).unwrap();
        let expected = p
            .verifier
            .verify(&p.artifact, &original, &p.policy)
            .unwrap();
        for i in (0..p.json.len()).step_by(13) {
            for replacement in [b' ', b'A', p.json[i] ^ 0x01] {
                if replacement == p.json[i] {
                    continue;
                }
                let mut json = p.json.clone();
                json[i] = replacement;
                let Ok(bundle) = ParsedBundle::from_json(&json) else {
                    continue;
                };
                if let Ok(verified) = p.verifier.verify(&p.artifact, &bundle, &p.policy) {
                    assert!(
                        same_or_less_evidence(&verified, &expected),
                        "{}: byte {i} -> {:?} verified differently",
                        case.bundle,
                        replacement as char
                    );
                }
            }
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
