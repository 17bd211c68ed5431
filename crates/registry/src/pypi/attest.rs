//! PEP 740 at upload: every attestation in the `attestations` form field is verified
//! against this server's trusted root, the identity the upload token carries and the
//! uploaded file's name and SHA-256, and the accepted ones become the provenance object
//! the index serves for the file.
//!
//! The expected publisher is built from the token (never from the form): its
//! repository, the workflow that defines the job (the Build Config: the caller of a
//! reusable workflow), its environment, and its issuer; the certificate must also name
//! the token's own identity (SAN). Only GitHub and GitLab publishers have a PEP 740
//! publisher kind, so an upload by another identity that carries attestations is refused.

use vouch_pep740::{
    verify_attestation, Attestation, AttestationBundle, Dist, Identity, Provenance, Publisher,
    PublisherKind, TrustedPublisher,
};
use vouch_verify::{Matcher, PolicyField, Verifier};

use super::error::PypiError;
use super::token::{Grant, PresentedWire};

/// Most attestations one file may carry (PyPI takes one; a few are allowed).
pub const MAX_ATTESTATIONS: usize = 8;

fn refused(detail: impl Into<String>) -> PypiError {
    PypiError::Attestation {
        detail: detail.into(),
    }
}

/// The publisher the upload token presents, as a verification policy and as the
/// provenance's publisher object.
fn publisher_of(grant: &Grant) -> Result<(TrustedPublisher, Publisher), PypiError> {
    let PresentedWire::Ci {
        provider,
        repository,
        workflow,
        caller,
        environment,
        ..
    } = &grant.presented
    else {
        return Err(refused(
            "attestations are accepted only from a GitHub or GitLab trusted publisher; this upload token is a person's",
        ));
    };
    let (kind, server) = match provider.as_str() {
        "github" => (PublisherKind::GitHub, "https://github.com"),
        "gitlab" => (PublisherKind::GitLab, "https://gitlab.com"),
        other => {
            return Err(refused(format!(
                "attestations are accepted only from a GitHub or GitLab trusted publisher, found a {other} token"
            )))
        }
    };
    // The Build Config: the calling workflow when a reusable one ran.
    let path = caller
        .as_ref()
        .or(workflow.as_ref())
        .map(|(_, path, _)| path.clone())
        .ok_or_else(|| refused("the upload token names no workflow"))?;
    let invalid = |e: vouch_pep740::Pep740Error| refused(format!("{}: {e}", e.code()));
    let mut policy = TrustedPublisher::new(kind, server, repository)
        .map_err(invalid)?
        .with_workflow(path.clone())
        .with_issuer(grant.issuer.clone())
        .with_identity(
            Matcher::exact(PolicyField::Identity, grant.identity.clone())
                .map_err(|e| refused(e.to_string()))?,
        );
    if let Some(env) = environment {
        policy = policy.with_environment(env.clone());
    }
    let publisher = match kind {
        PublisherKind::GitHub => Publisher::GitHub {
            repository: repository.clone(),
            // PyPI names a GitHub workflow by its file name.
            workflow: path
                .strip_prefix(".github/workflows/")
                .unwrap_or(&path)
                .to_owned(),
            environment: environment.clone(),
        },
        _ => Publisher::GitLab {
            repository: repository.clone(),
            workflow_filepath: path,
            environment: environment.clone(),
        },
    };
    Ok((policy, publisher))
}

/// Verifies the `attestations` field (a JSON list of PEP 740 attestation objects) for the
/// file `filename` with `sha256`; returns the provenance object to store, or `None` for
/// an empty list. Any attestation that fails refuses the whole upload (PYPI_E008, with
/// the failed check's own code in the detail).
pub fn verify_upload(
    verifier: &Verifier,
    grant: &Grant,
    filename: &str,
    sha256: [u8; 32],
    field: &str,
) -> Result<Option<Provenance>, PypiError> {
    let list: Vec<serde_json::Value> = serde_json::from_str(field)
        .map_err(|e| refused(format!("`attestations` is not a JSON list: {e}")))?;
    if list.is_empty() {
        return Ok(None);
    }
    if list.len() > MAX_ATTESTATIONS {
        return Err(refused(format!(
            "expected at most {MAX_ATTESTATIONS} attestations, found {}",
            list.len()
        )));
    }
    let (policy, publisher) = publisher_of(grant)?;
    let identity = Identity::Publisher(policy);
    let dist = Dist::new(filename, sha256).map_err(|e| refused(format!("{}: {e}", e.code())))?;
    let mut attestations = Vec::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        let fail = |e: vouch_pep740::Pep740Error| {
            refused(format!("attestation {i} for {filename}: {}: {e}", e.code()))
        };
        let attestation = Attestation::from_json(value.to_string().as_bytes()).map_err(fail)?;
        verify_attestation(verifier, &attestation, &dist, &identity).map_err(fail)?;
        attestations.push(attestation);
    }
    Ok(Some(Provenance {
        version: 1,
        attestation_bundles: vec![AttestationBundle {
            publisher,
            attestations,
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_verify::TrustRoot;

    fn grant(presented: PresentedWire) -> Grant {
        Grant {
            exp: 0,
            projects: vec!["demo".into()],
            identity: "https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main"
                .into(),
            issuer: "https://issuer.example".into(),
            presented,
        }
    }

    fn ci(provider: &str) -> PresentedWire {
        PresentedWire::Ci {
            provider: provider.into(),
            repository: "octo/demo".into(),
            workflow: Some((
                "octo/shared".into(),
                ".github/workflows/build.yml".into(),
                "refs/heads/main".into(),
            )),
            workflow_id: None,
            caller: Some((
                "octo/demo".into(),
                ".github/workflows/release.yml".into(),
                "refs/heads/main".into(),
            )),
            environment: Some("pypi".into()),
            event_name: None,
            repository_owner_id: None,
        }
    }

    fn refusal(r: Result<Option<Provenance>, PypiError>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.code(), "PYPI_E008", "{e}");
        e.to_string()
    }

    #[test]
    fn the_token_decides_the_publisher() {
        let (policy, publisher) = publisher_of(&grant(ci("github"))).unwrap();
        // The Build Config is the caller of the reusable workflow.
        assert_eq!(policy.workflow(), Some(".github/workflows/release.yml"));
        assert_eq!(policy.environment(), Some("pypi"));
        assert_eq!(policy.issuer(), "https://issuer.example");
        assert_eq!(
            publisher,
            Publisher::GitHub {
                repository: "octo/demo".into(),
                workflow: "release.yml".into(),
                environment: Some("pypi".into()),
            }
        );
    }

    #[test]
    fn what_cannot_be_verified_is_refused_before_any_signature_check() {
        let verifier = vouch_verify::Verifier::new(&TrustRoot::public_good().unwrap()).unwrap();
        let name = "demo-1.0-py3-none-any.whl";
        let one = r#"[{"version":1}]"#;
        let gh = grant(ci("github"));
        assert!(verify_upload(&verifier, &gh, name, [0; 32], "[]")
            .unwrap()
            .is_none());
        assert!(refusal(verify_upload(&verifier, &gh, name, [0; 32], "{}")).contains("JSON list"));
        let many = format!("[{}]", ["{}"; MAX_ATTESTATIONS + 1].join(","));
        assert!(refusal(verify_upload(&verifier, &gh, name, [0; 32], &many)).contains("at most"));
        assert!(refusal(verify_upload(&verifier, &gh, name, [0; 32], one)).contains("PEP740_E001"));
        let person = grant(PresentedWire::Email {
            email: "a@example.com".into(),
        });
        assert!(refusal(verify_upload(&verifier, &person, name, [0; 32], one)).contains("person"));
        let buildkite = grant(ci("buildkite"));
        assert!(
            refusal(verify_upload(&verifier, &buildkite, name, [0; 32], one)).contains("buildkite")
        );
    }
}
