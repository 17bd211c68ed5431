//! Judging an attestation for one distribution file: the statement (in-toto v1, exactly
//! one subject naming the distribution, its SHA-256, a predicate type PyPI knows), then
//! the Sigstore bundle it stands for through the verify layer (certificate chain, SCT,
//! Rekor v1 SET and inclusion proof, DSSE signature, issuer and source repository), then
//! the trusted publisher's workflow and environment from the verified certificate.

use serde::Deserialize;
use vouch_verify::{Artifact, CiClaim, Policy, Signer, Verified, Verifier};

use crate::dist::{Dist, DistName};
use crate::error::Pep740Error;
use crate::model::{Attestation, Provenance};
use crate::policy::{Identity, TrustedPublisher};

/// The in-toto statement type every attestation carries.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// PyPI's publish attestation.
pub const PYPI_PUBLISH_V1: &str = "https://docs.pypi.org/attestations/publish/v1";
/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// The statement `vouch attest pypi` (and `pypi-attestations sign`) signs for `dist`: in-toto
/// v1, one subject (the file name and its SHA-256), PyPI's publish predicate type and a
/// null predicate.
pub fn publish_statement(dist: &Dist) -> Vec<u8> {
    serde_json::json!({
        "_type": STATEMENT_V1,
        "subject": [{ "name": dist.name(), "digest": { "sha256": dist.sha256_hex() } }],
        "predicateType": PYPI_PUBLISH_V1,
        "predicate": null,
    })
    .to_string()
    .into_bytes()
}

/// A verified attestation: what it attests and the verify layer's account of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAttestation {
    /// The statement's predicate type (one of the two PyPI knows).
    pub predicate_type: String,
    /// The verified signer, log entries and signing times.
    pub verified: Verified,
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    name: String,
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// Verifies one attestation for `dist` against `identity`, with the trusted root the
/// `verifier` was built from. Everything `pypi-attestations` checks is checked here:
/// the single subject's name (normalised as the `packaging` library parses it) and
/// SHA-256, the predicate type, the Sigstore bundle, the issuer, the source repository
/// and the build config (workflow) of a trusted publisher; and the deployment
/// environment when the policy names one.
pub fn verify_attestation(
    verifier: &Verifier,
    attestation: &Attestation,
    dist: &Dist,
    identity: &Identity,
) -> Result<VerifiedAttestation, Pep740Error> {
    let predicate_type = check_statement(&attestation.envelope.statement, dist)?;
    let bundle = attestation.to_bundle()?;
    let artifact = Artifact::parse_digest(&format!("sha256:{}", dist.sha256_hex()))?;
    let verified = match identity {
        Identity::Publisher(publisher) => {
            let policy = Policy::Keyless(publisher.identity_policy()?);
            let verified = verifier.verify(&artifact, &bundle, &policy)?;
            check_publisher_claims(publisher, &verified)?;
            verified
        }
        Identity::Keyless(policy) => {
            verifier.verify(&artifact, &bundle, &Policy::Keyless(policy.clone()))?
        }
    };
    Ok(VerifiedAttestation {
        predicate_type,
        verified,
    })
}

/// Verifies every attestation of a provenance object for `dist`: each attestation bundle's
/// publisher must agree with a trusted-publisher policy (see
/// [`TrustedPublisher::for_publisher`]), and every attestation must verify.
pub fn verify_provenance(
    verifier: &Verifier,
    provenance: &Provenance,
    dist: &Dist,
    identity: &Identity,
) -> Result<Vec<VerifiedAttestation>, Pep740Error> {
    let mut out = Vec::new();
    for bundle in &provenance.attestation_bundles {
        let narrowed = match identity {
            Identity::Publisher(p) => Identity::Publisher(p.for_publisher(&bundle.publisher)?),
            other => other.clone(),
        };
        for attestation in &bundle.attestations {
            out.push(verify_attestation(verifier, attestation, dist, &narrowed)?);
        }
    }
    if out.is_empty() {
        return Err(Pep740Error::NoAttestations {
            name: dist.name().to_owned(),
        });
    }
    Ok(out)
}

/// The statement checks, on the bytes the signature covers (which the bundle
/// verification then binds). Returns the predicate type.
fn check_statement(statement: &[u8], dist: &Dist) -> Result<String, Pep740Error> {
    let invalid = |expected: &str, found: String| Pep740Error::InvalidStatement {
        expected: expected.to_owned(),
        found,
    };
    let statement: Statement = serde_json::from_slice(statement)
        .map_err(|e| invalid("an in-toto statement (JSON)", e.to_string()))?;
    if statement.statement_type != STATEMENT_V1 {
        return Err(invalid(
            &format!("_type {STATEMENT_V1}"),
            format!("{:?}", statement.statement_type),
        ));
    }
    let [subject] = statement.subject.as_slice() else {
        return Err(invalid(
            "exactly one subject",
            format!("{}", statement.subject.len()),
        ));
    };
    if subject.name.is_empty() {
        return Err(invalid("a subject name", "none".into()));
    }
    let subject_name = DistName::parse(&subject.name).map_err(|detail| {
        invalid(
            "a distribution file name as subject",
            format!("{:?} ({detail})", subject.name),
        )
    })?;
    let dist_name =
        DistName::parse(dist.name()).map_err(|detail| Pep740Error::InvalidDistName {
            name: dist.name().to_owned(),
            detail,
        })?;
    if subject_name != dist_name {
        return Err(Pep740Error::SubjectName {
            expected: dist.name().to_owned(),
            found: subject.name.clone(),
        });
    }
    let expected = dist.sha256_hex();
    match subject.digest.get("sha256") {
        Some(found) if *found == expected => {}
        found => {
            return Err(Pep740Error::SubjectDigest {
                name: dist.name().to_owned(),
                expected,
                found: found.cloned().unwrap_or_else(|| "none".into()),
            })
        }
    }
    if statement.predicate_type != PYPI_PUBLISH_V1 && statement.predicate_type != SLSA_PROVENANCE_V1
    {
        return Err(Pep740Error::PredicateType {
            found: statement.predicate_type,
        });
    }
    Ok(statement.predicate_type)
}

/// The workflow and environment of a trusted publisher, from the verified certificate.
fn check_publisher_claims(
    publisher: &TrustedPublisher,
    verified: &Verified,
) -> Result<(), Pep740Error> {
    let claims: &[(CiClaim, String)] = match &verified.signer {
        Signer::Certificate { claims, .. } => claims,
        _ => &[],
    };
    let claim = |wanted: CiClaim| {
        claims
            .iter()
            .find(|(c, _)| *c == wanted)
            .map(|(_, v)| v.as_str())
    };
    if let Some(path) = publisher.workflow_path() {
        let found = claim(CiClaim::BuildConfig);
        // The build config names the workflow at the commit or the ref that ran; a
        // publisher knows neither, so both are tried (as pypi-attestations does).
        let suffixes = [
            claim(CiClaim::SourceRepositoryDigest),
            claim(CiClaim::SourceRepositoryRef),
        ];
        let matched = found.is_some_and(|found| {
            suffixes
                .iter()
                .flatten()
                .any(|s| publisher.build_config(&path, s) == found)
        });
        if !matched {
            return Err(Pep740Error::Workflow {
                expected: publisher.build_config(&path, "<commit or ref>"),
                found: found.unwrap_or("no build config claim").to_owned(),
            });
        }
    }
    if let Some(expected) = publisher.environment() {
        match claim(CiClaim::DeploymentEnvironment) {
            Some(found) if found == expected => {}
            found => {
                return Err(Pep740Error::Environment {
                    expected: expected.to_owned(),
                    found: found.map_or_else(
                        || "no deployment environment claim in the certificate".to_owned(),
                        |f| format!("{f:?}"),
                    ),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publish_statement_passes_the_statement_checks() {
        let dist = Dist::from_bytes("demo-1.0-py3-none-any.whl", b"wheel").unwrap();
        let statement = publish_statement(&dist);
        assert_eq!(check_statement(&statement, &dist).unwrap(), PYPI_PUBLISH_V1);
        let other = Dist::from_bytes("demo-1.0-py3-none-any.whl", b"other").unwrap();
        assert_eq!(
            check_statement(&statement, &other).unwrap_err().code(),
            "PEP740_E007"
        );
        let text = String::from_utf8(statement).unwrap();
        for (from, to, code) in [
            (PYPI_PUBLISH_V1, "https://example.com/other", "PEP740_E008"),
            (
                STATEMENT_V1,
                "https://in-toto.io/Statement/v0.1",
                "PEP740_E005",
            ),
            ("demo-1.0-py3", "demo-1.1-py3", "PEP740_E006"),
        ] {
            let changed = text.replace(from, to);
            let err = check_statement(changed.as_bytes(), &dist).unwrap_err();
            assert_eq!(err.code(), code, "{changed}");
        }
        let two = text.replace("\"subject\":[", "\"subject\":[{\"name\":\"x\"},");
        assert_eq!(
            check_statement(two.as_bytes(), &dist).unwrap_err().code(),
            "PEP740_E005"
        );
    }
}
