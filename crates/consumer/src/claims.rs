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
/// pinned. The error says which claim differs.
pub fn check_claims(verified: &Verified, binding: RecordedBinding<'_>) -> Result<(), String> {
    let Signer::Certificate {
        identity, claims, ..
    } = &verified.signer
    else {
        return Err("the bundle is not signed by a certificate".into());
    };
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
        san_uri: Some(identity.clone()),
        san_email: None,
        issuer: String::new(),
        // Fulcio's Build Signer URI; a certificate without it names the workflow in its
        // SAN (GitHub's SAN is the job workflow ref).
        build_signer_uri: claim(CiClaim::BuildSigner).or_else(|| Some(identity.clone())),
        source_repository_uri: claim(CiClaim::SourceRepository),
        repository_owner_id: None,
        build_trigger: claim(CiClaim::BuildTrigger),
        environment: claim(CiClaim::DeploymentEnvironment),
    };
    // The forge's base URL is what precedes the binding's repository in the source
    // repository claim; a claim that does not end with the repository is a mismatch.
    let server_url = match provider {
        CiProvider::Buildkite | CiProvider::Circleci => String::new(),
        _ => {
            let seen = cert.source_repository_uri.clone().unwrap_or_default();
            let suffix = format!("/{repository}");
            let cut = seen
                .len()
                .checked_sub(suffix.len())
                .filter(|&c| seen.is_char_boundary(c) && seen[c..].eq_ignore_ascii_case(&suffix));
            match cut {
                Some(c) => seen[..c].to_owned(),
                None => {
                    return Err(format!(
                        "claim `repository`: expected {repository}, the certificate says {}",
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
