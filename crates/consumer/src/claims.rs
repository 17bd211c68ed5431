//! What a locked or fetched entry's signer must be: the exact SAN and issuer the
//! registry's binding recorded (a verify policy), and the binding's repository and
//! workflow matched by `vouch-binding`'s rule, the same one the registry applies at
//! publish time.

use vouch_api_client::{CodedError, Result};
use vouch_binding::{CertClaims, CiProvider, Publisher};
use vouch_verify::{CiClaim, IdentityPolicy, Matcher, Policy, PolicyField, Signer, Verified};

/// The policy a locked entry's signer must satisfy: the exact SAN and issuer the
/// registry's binding recorded (`FETCH_E003` when they cannot form one).
pub fn policy_for(identity: &str, issuer: &str) -> Result<Policy> {
    let m = |f, v: &str| {
        Matcher::exact(f, v).map_err(|e| {
            CodedError::refused(
                "FETCH_E003",
                format!("the recorded signer is unusable as a policy: {e}"),
            )
        })
    };
    Ok(Policy::Keyless(IdentityPolicy::new(
        m(PolicyField::Identity, identity)?,
        m(PolicyField::Issuer, issuer)?,
    )))
}

/// The binding a lockfile entry records.
#[derive(Debug, Clone, Copy)]
pub struct RecordedBinding<'a> {
    /// The provider name (`github`...), absent in older lockfiles.
    pub provider: Option<&'a str>,
    pub repository: Option<&'a str>,
    pub workflow: Option<&'a str>,
}

/// Checks the verified certificate against the recorded binding with
/// [`vouch_binding::check`]: the repository claim and the workflow ref (whose repository
/// must be the binding's: a reusable workflow from another repository is refused, as the
/// registry refuses it), and the refused trigger events. An email binding, or an entry
/// recording no repository, is fully described by the SAN and issuer the policy already
/// pinned. The error (`FETCH_E003`, a refusal) says which claim differs.
pub fn check_claims(verified: &Verified, binding: RecordedBinding<'_>) -> Result<()> {
    let Signer::Certificate {
        identity, claims, ..
    } = &verified.signer
    else {
        return Err(mismatch("the bundle is not signed by a certificate".into()));
    };
    check_cert_claims(identity, claims, binding).map_err(mismatch)
}

fn mismatch(why: String) -> CodedError {
    CodedError::refused("FETCH_E003", why)
}

/// [`check_claims`] over a verified certificate's SAN and Fulcio claims.
fn check_cert_claims(
    identity: &str,
    claims: &[(CiClaim, String)],
    binding: RecordedBinding<'_>,
) -> Result<(), String> {
    let Some(repository) = binding.repository.filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    let provider = match binding.provider {
        Some("email") => return Ok(()),
        Some(name) => CiProvider::parse(name)
            .ok_or_else(|| format!("the recorded provider {name:?} is not one vouch knows"))?,
        None => CiProvider::Github,
    };
    let claim = |c: CiClaim| claims.iter().find(|(k, _)| *k == c).map(|(_, v)| v.clone());
    let cert = CertClaims {
        san_uri: Some(identity.to_owned()),
        san_email: None,
        issuer: String::new(),
        // Fulcio's Build Signer URI; a certificate without it names the workflow in its
        // SAN (GitHub's SAN is the job workflow ref).
        build_signer_uri: claim(CiClaim::BuildSigner).or_else(|| Some(identity.to_owned())),
        build_config_uri: claim(CiClaim::BuildConfig),
        source_repository_uri: claim(CiClaim::SourceRepository),
        repository_owner_id: None,
        build_trigger: claim(CiClaim::BuildTrigger),
        environment: claim(CiClaim::DeploymentEnvironment),
    };
    // The forge's base URL is what precedes the binding's repository in the source
    // repository claim; a claim that is not `BASE/REPOSITORY` is a mismatch.
    let server_url = match provider {
        CiProvider::Buildkite | CiProvider::Circleci => String::new(),
        _ => {
            let seen = cert.source_repository_uri.clone().unwrap_or_default();
            let suffix = format!("/{repository}");
            // The base is a forge's root, `scheme://host[:port]`: without this, a GitLab
            // subgroup `evil/acme/widget` would end with `/acme/widget` too.
            let is_root = |base: &str| {
                base.split_once("://")
                    .is_some_and(|(_, host)| !host.is_empty() && !host.contains('/'))
            };
            let cut = seen.len().checked_sub(suffix.len()).filter(|&c| {
                seen.is_char_boundary(c)
                    && seen[c..].eq_ignore_ascii_case(&suffix)
                    && is_root(&seen[..c])
            });
            match cut {
                Some(c) => seen[..c].to_owned(),
                None => {
                    return Err(format!(
                        "repository claim: expected {repository}, the certificate says {}",
                        if seen.is_empty() { "none" } else { &seen }
                    ))
                }
            }
        }
    };
    let presented = vouch_binding::present_ci(provider, &server_url, &cert)
        .map_err(|m| format!("the certificate lacks the `{}` claim", m.0))?;
    if let Some(why) = vouch_binding::refused_event(&presented) {
        return Err(why);
    }
    let recorded = Publisher::Ci {
        provider,
        repository: repository.to_owned(),
        workflow: binding.workflow.unwrap_or_default().to_owned(),
        environment: None,
    };
    vouch_binding::check(&recorded, &presented).map_err(|m| m.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WF: &str = ".github/workflows/release.yml";

    fn cert(signer_repo: &str) -> (String, Vec<(CiClaim, String)>) {
        let signer = format!("https://github.com/{signer_repo}/{WF}@refs/heads/main");
        let claims = vec![
            (
                CiClaim::SourceRepository,
                "https://github.com/acme/widget".into(),
            ),
            (CiClaim::BuildSigner, signer.clone()),
            (CiClaim::BuildTrigger, "push".into()),
        ];
        (signer, claims)
    }

    fn binding() -> RecordedBinding<'static> {
        RecordedBinding {
            provider: Some("github"),
            repository: Some("acme/widget"),
            workflow: Some(WF),
        }
    }

    #[test]
    fn the_bound_workflow_in_the_bound_repository_matches() {
        let (san, claims) = cert("acme/widget");
        assert_eq!(check_cert_claims(&san, &claims, binding()), Ok(()));
        // Repository case differs: still the same repository (as the registry rules).
        let (san, claims) = cert("Acme/Widget");
        assert_eq!(check_cert_claims(&san, &claims, binding()), Ok(()));
    }

    /// Regression: the consumer's old check accepted any signer whose workflow ref
    /// *contained* the bound workflow path, so a reusable workflow from another
    /// repository passed where the registry refuses it (PUB_E006). Both now run
    /// `vouch_binding::check`; the consumer refuses with FETCH_E003.
    #[test]
    fn a_reusable_workflow_from_another_repository_is_refused_with_fetch_e003() {
        let (san, claims) = cert("evil/workflows");
        let why = check_cert_claims(&san, &claims, binding()).unwrap_err();
        assert!(why.contains("job_workflow_ref"), "{why}");
        assert_eq!(mismatch(why).code(), "FETCH_E003");
    }

    #[test]
    fn a_repository_suffix_is_not_the_repository() {
        let (san, mut claims) = cert("acme/widget");
        claims[0].1 = "https://github.com/evil/acme/widget".into();
        let why = check_cert_claims(&san, &claims, binding()).unwrap_err();
        assert!(why.contains("repository"), "{why}");
    }

    #[test]
    fn refused_events_and_email_bindings() {
        let (san, mut claims) = cert("acme/widget");
        claims[2].1 = "pull_request_target".into();
        let why = check_cert_claims(&san, &claims, binding()).unwrap_err();
        assert!(why.contains("event_name"), "{why}");
        let email = RecordedBinding {
            provider: Some("email"),
            repository: None,
            workflow: None,
        };
        assert_eq!(check_cert_claims(&san, &claims, email), Ok(()));
    }
}
