//! Steps 3 to 5 of a publish: the package crate's archive and bundle checks on a blocking thread, what the verified certificate presents, and the audited refusal of an identity.

use std::sync::Arc;

use serde_json::{json, Value};
use sigstore_crypto::SubjectAltName;
use vouch_package::{Manifest, PublishError, SignedBundle};
use vouch_store::meta::Timestamp;

use super::super::identity::{CertClaims, Refusal};
use super::super::Trust;
use super::receive::Upload;
use crate::{ApiError, AppState};

/// What a verified bundle established (step 4).
#[derive(Debug, Clone)]
pub struct Signed {
    pub identity: String,
    pub issuer: String,
    pub claims: CertClaims,
    pub log_index: u64,
}

impl From<SignedBundle> for Signed {
    fn from(s: SignedBundle) -> Self {
        let (san_uri, san_email) = match s.certificate.identity {
            Some(SubjectAltName::Uri(u)) => (Some(u), None),
            Some(SubjectAltName::Email(e)) => (None, Some(e)),
            _ => (None, None),
        };
        let c = s.certificate.ci_claims;
        Signed {
            claims: CertClaims {
                san_uri,
                san_email,
                issuer: s.certificate.issuer.unwrap_or_default(),
                build_signer_uri: c.build_signer_uri,
                build_config_uri: c.build_config_uri,
                source_repository_uri: c.source_repository_uri,
                repository_owner_id: c.source_repository_owner_identifier,
                build_trigger: c.build_trigger,
                environment: c.deployment_environment,
            },
            identity: s.identity,
            issuer: s.issuer,
            log_index: s.log_index,
        }
    }
}

/// Steps 3 and 4 on one blocking thread, in this order: the bundle must name these
/// exact bytes before the archive is decompressed (an anonymous upload could otherwise
/// force up to the archive cap of decompression, issue 13); then an archive error wins
/// over a bad signature.
pub(super) async fn check_upload(
    upload: &Upload,
    trust: Arc<Trust>,
    limits: vouch_package::Limits,
) -> Result<(Manifest, Signed), ApiError> {
    let reader = upload
        .archive
        .reader()
        .map_err(|e| ApiError::internal(&e))?;
    let (bundle, sha256) = (upload.bundle.clone(), upload.sha256);
    let checked = tokio::task::spawn_blocking(move || {
        vouch_package::bundle_names_archive(&bundle, &sha256)?;
        let manifest = vouch_package::manifest_of_archive(reader, &limits)?;
        let signed = vouch_package::verify_published_bundle(&trust.verifier, &bundle, &sha256)?;
        Ok::<_, PublishError>((manifest, Signed::from(signed)))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    Ok(checked?)
}

/// Audits a refused identity and turns the refusal into its error.
pub(super) async fn refuse(
    state: &AppState,
    name: &str,
    version: &str,
    signed: &Signed,
    r: Refusal,
) -> ApiError {
    let err: ApiError = match r {
        Refusal::NoBinding(detail) => PublishError::NoBinding { detail },
        Refusal::Mismatch(detail) => PublishError::IdentityMismatch { detail },
        Refusal::ScopeNotOwned(detail) => PublishError::ScopeNotOwned { detail },
    }
    .into();
    let details = json!({
        "version": version,
        "code": err.code,
        "detail": err.detail,
        "issuer": signed.issuer,
        "log_index": signed.log_index,
    });
    audit(
        state,
        "package.publish.refused",
        &signed.identity,
        name,
        &details,
    )
    .await;
    err
}

async fn audit(state: &AppState, event: &str, actor: &str, subject: &str, details: &Value) {
    if let Err(e) = state
        .meta
        .append_audit(
            event,
            Some(actor),
            Some(subject),
            &details.to_string(),
            Timestamp::now(),
        )
        .await
    {
        tracing::error!(error = %e, event, subject, "audit append failed");
    }
}
