//! The checks a publish makes of its upload: the archive and its manifest, and the full verification of its bundle.

use sigstore_crypto::CertificateInfo;
use sigstore_types::VerificationMaterialContent;
use vouch_verify::{
    Artifact, IdentityPolicy, Matcher, ParsedBundle, Policy, PolicyField, Signer, Verifier,
};

use crate::publish_error::{BundleProblem, PublishError};
use crate::statement::{check_statement, parse_bundle};
use crate::{Limits, Manifest, MANIFEST_FILE};

/// Largest `vouch.toml` a publish reads from an archive.
pub const MAX_PUBLISHED_MANIFEST_BYTES: u64 = 64 << 10;

/// Checks the whole archive as it streams and returns its manifest, which is kept in
/// memory as the archive streams past (nothing is written to disk). Archive problems
/// keep their `PKG_E…` code; a missing, oversized or non-UTF-8 manifest is PUB_E011.
pub fn manifest_of_archive(
    archive: impl std::io::Read,
    limits: &Limits,
) -> Result<Manifest, PublishError> {
    let (inspection, kept) =
        crate::inspect_keeping(archive, limits, MANIFEST_FILE, MAX_PUBLISHED_MANIFEST_BYTES)?;
    let Some(entry) = inspection.entries.iter().find(|e| e.path == MANIFEST_FILE) else {
        return Err(PublishError::NoManifest);
    };
    let Some(bytes) = kept else {
        return Err(PublishError::ManifestTooLarge {
            size: entry.size,
            limit: MAX_PUBLISHED_MANIFEST_BYTES,
        });
    };
    let text = String::from_utf8(bytes).map_err(|_| PublishError::ManifestNotUtf8)?;
    Ok(Manifest::parse(&text)?)
}

/// What a verified publish bundle established.
#[derive(Debug, Clone)]
pub struct SignedBundle {
    /// The certificate's SAN (email or URI), as the verifier read it.
    pub identity: String,
    /// The OIDC issuer, as the verifier read it (the certificate extension agrees).
    pub issuer: String,
    /// The leaf certificate: SAN and Fulcio CI claims, for matching to bindings.
    pub certificate: CertificateInfo,
    /// The index of the first verified log entry.
    pub log_index: u64,
}

/// The signature policy of a publish: any identity from any issuer (the bindings
/// decide afterwards). Compiled once: building the regexes per publish was measurable.
fn any_identity() -> &'static Policy {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        // `.+` is a valid pattern for both fields: building it cannot fail.
        let any = |field| Matcher::regex(field, ".+").expect("`.+` is a valid pattern");
        Policy::Keyless(IdentityPolicy::new(
            any(PolicyField::Identity),
            any(PolicyField::Issuer),
        ))
    })
}

/// Full verification of a publish bundle for an archive with this SHA-256: the
/// statement checks, then certificate chain, SCT, log inclusion and signing time
/// against `verifier`'s trusted root, a Fulcio certificate (not a managed key) and a
/// log entry. Every refusal is PUB_E005 naming the check.
pub fn verify_published_bundle(
    verifier: &Verifier,
    bundle: &[u8],
    sha256: &[u8; 32],
) -> Result<SignedBundle, PublishError> {
    let parsed = parse_bundle(bundle)?;
    check_statement(&parsed, sha256)?;
    let refused = |e: vouch_verify::VerifyError| BundleProblem::Verification {
        code: e.code(),
        detail: e.to_string(),
    };
    // A well-formed digest by construction (64 hex digits).
    let artifact =
        Artifact::parse_digest(&format!("sha256:{}", hex::encode(sha256))).map_err(refused)?;
    let verified = verifier
        .verify(&artifact, &parsed, any_identity())
        .map_err(refused)?;
    let Signer::Certificate {
        identity, issuer, ..
    } = verified.signer
    else {
        return Err(BundleProblem::NotCertificate.into());
    };
    let log_index = verified
        .log_entries
        .first()
        .map(|e| e.log_index)
        .ok_or(BundleProblem::NoLogEntry)?;
    let certificate = leaf_certificate(&parsed)?;
    // The verifier read the same certificate; disagreeing would mean two parsers differ.
    let extension = certificate.issuer.clone().unwrap_or_default();
    if extension != issuer {
        return Err(BundleProblem::CertificateIssuer {
            verified: issuer,
            extension,
        }
        .into());
    }
    Ok(SignedBundle {
        identity,
        issuer,
        certificate,
        log_index,
    })
}

/// The leaf certificate of the bundle, parsed.
fn leaf_certificate(parsed: &ParsedBundle) -> Result<CertificateInfo, BundleProblem> {
    let problem = |detail: &str| BundleProblem::Certificate {
        detail: detail.to_owned(),
    };
    let der = match &parsed.inner().verification_material.content {
        VerificationMaterialContent::Certificate(c) => &c.raw_bytes,
        VerificationMaterialContent::X509CertificateChain { certificates } => {
            &certificates
                .first()
                .ok_or_else(|| problem("the chain is empty"))?
                .raw_bytes
        }
        _ => return Err(problem("the bundle carries no certificate")),
    };
    sigstore_crypto::parse_certificate_info(der).map_err(|e| problem(&e.to_string()))
}
