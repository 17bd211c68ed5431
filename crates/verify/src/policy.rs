//! Who must have signed: an identity policy for keyless bundles (identity, issuer and
//! Fulcio CI claims, each exact or an anchored regular expression) or a managed key.
//!
//! Invalid policies are unrepresentable: a keyless policy always has both an identity and
//! an issuer matcher, matchers are never empty, regexes are compiled (and anchored) when
//! the policy is built, and each CI claim appears at most once.

use std::collections::BTreeMap;

use sigstore_crypto::FulcioCiClaims;
use sigstore_types::DerPublicKey;

use crate::error::VerifyError;

/// Compiled regexes are capped so a hostile pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT_BYTES: usize = 1 << 20;

/// Which part of a policy a [`PolicyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyField {
    /// The certificate identity (SAN).
    Identity,
    /// The OIDC issuer.
    Issuer,
    /// A Fulcio CI claim.
    Claim(CiClaim),
}

impl std::fmt::Display for PolicyField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyField::Identity => f.write_str("certificate identity"),
            PolicyField::Issuer => f.write_str("certificate OIDC issuer"),
            PolicyField::Claim(claim) => write!(f, "{claim}"),
        }
    }
}

/// Why a policy could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// An exact value or pattern was empty, which would match nothing useful.
    #[error("invalid policy: {field} must not be empty")]
    Empty { field: PolicyField },
    /// A regular expression did not compile.
    #[error("invalid policy: {field} regexp {pattern:?}: {detail}")]
    Regex {
        field: PolicyField,
        pattern: String,
        detail: String,
    },
}

/// A regular expression that must match the whole value (`^(?:PATTERN)$`).
#[derive(Debug, Clone)]
pub struct AnchoredRegex {
    pattern: String,
    regex: regex::Regex,
}

impl AnchoredRegex {
    /// Compiles `pattern` anchored at both ends.
    pub fn new(field: PolicyField, pattern: &str) -> Result<Self, PolicyError> {
        if pattern.is_empty() {
            return Err(PolicyError::Empty { field });
        }
        let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(REGEX_SIZE_LIMIT_BYTES)
            .build()
            .map_err(|e| PolicyError::Regex {
                field,
                pattern: pattern.to_owned(),
                // regex errors span several lines; the first says what is wrong.
                detail: e.to_string().lines().last().unwrap_or("").trim().to_owned(),
            })?;
        Ok(Self {
            pattern: pattern.to_owned(),
            regex,
        })
    }

    /// The pattern as the user wrote it, without the added anchors.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// How one policy value is matched.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Matcher {
    /// The value must equal this string byte for byte.
    Exact(String),
    /// The whole value must match this regex.
    Regex(AnchoredRegex),
}

impl Matcher {
    /// An exact matcher; empty strings are refused.
    pub fn exact(field: PolicyField, value: impl Into<String>) -> Result<Self, PolicyError> {
        let value = value.into();
        if value.is_empty() {
            return Err(PolicyError::Empty { field });
        }
        Ok(Matcher::Exact(value))
    }

    /// An anchored-regex matcher.
    pub fn regex(field: PolicyField, pattern: &str) -> Result<Self, PolicyError> {
        AnchoredRegex::new(field, pattern).map(Matcher::Regex)
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(expected) => expected == value,
            Matcher::Regex(regex) => regex.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(value) => f.write_str(value),
            Matcher::Regex(regex) => write!(f, "a match for regexp {:?}", regex.pattern()),
        }
    }
}

/// A claim Fulcio records about a CI workload, from the certificate extensions under
/// OID 1.3.6.1.4.1.57264.1 (see Fulcio's `docs/oid-info.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CiClaim {
    /// `.12` Source Repository URI, e.g. `https://github.com/owner/repo`.
    SourceRepository,
    /// `.14` Source Repository Ref, e.g. `refs/heads/main`.
    SourceRepositoryRef,
    /// `.13` Source Repository Digest (the commit).
    SourceRepositoryDigest,
    /// `.18` Build Config URI: the workflow file that ran, with its ref.
    BuildConfig,
    /// `.9` Build Signer URI: the workflow that requested the certificate.
    BuildSigner,
    /// `.20` Build Trigger, e.g. `push`, `release`.
    BuildTrigger,
    /// `.11` Runner Environment, e.g. `github-hosted`.
    RunnerEnvironment,
    /// `.23` Deployment Environment, e.g. `production`.
    DeploymentEnvironment,
}

impl CiClaim {
    /// Every claim, in a stable order.
    pub const ALL: [CiClaim; 8] = [
        CiClaim::SourceRepository,
        CiClaim::SourceRepositoryRef,
        CiClaim::SourceRepositoryDigest,
        CiClaim::BuildConfig,
        CiClaim::BuildSigner,
        CiClaim::BuildTrigger,
        CiClaim::RunnerEnvironment,
        CiClaim::DeploymentEnvironment,
    ];

    /// The stable snake_case name used in JSON output.
    pub fn key(self) -> &'static str {
        match self {
            CiClaim::SourceRepository => "source_repository",
            CiClaim::SourceRepositoryRef => "source_repository_ref",
            CiClaim::SourceRepositoryDigest => "source_repository_digest",
            CiClaim::BuildConfig => "build_config",
            CiClaim::BuildSigner => "build_signer",
            CiClaim::BuildTrigger => "build_trigger",
            CiClaim::RunnerEnvironment => "runner_environment",
            CiClaim::DeploymentEnvironment => "deployment_environment",
        }
    }

    /// The certificate extension OID the claim is read from.
    pub fn oid(self) -> &'static str {
        match self {
            CiClaim::SourceRepository => "1.3.6.1.4.1.57264.1.12",
            CiClaim::SourceRepositoryRef => "1.3.6.1.4.1.57264.1.14",
            CiClaim::SourceRepositoryDigest => "1.3.6.1.4.1.57264.1.13",
            CiClaim::BuildConfig => "1.3.6.1.4.1.57264.1.18",
            CiClaim::BuildSigner => "1.3.6.1.4.1.57264.1.9",
            CiClaim::BuildTrigger => "1.3.6.1.4.1.57264.1.20",
            CiClaim::RunnerEnvironment => "1.3.6.1.4.1.57264.1.11",
            CiClaim::DeploymentEnvironment => "1.3.6.1.4.1.57264.1.23",
        }
    }

    /// The claim's value in a parsed certificate, if the certificate carries it.
    pub fn value(self, claims: &FulcioCiClaims) -> Option<&str> {
        match self {
            CiClaim::SourceRepository => claims.source_repository_uri.as_deref(),
            CiClaim::SourceRepositoryRef => claims.source_repository_ref.as_deref(),
            CiClaim::SourceRepositoryDigest => claims.source_repository_digest.as_deref(),
            CiClaim::BuildConfig => claims.build_config_uri.as_deref(),
            CiClaim::BuildSigner => claims.build_signer_uri.as_deref(),
            CiClaim::BuildTrigger => claims.build_trigger.as_deref(),
            CiClaim::RunnerEnvironment => claims.runner_environment.as_deref(),
            CiClaim::DeploymentEnvironment => claims.deployment_environment.as_deref(),
        }
    }
}

impl std::fmt::Display for CiClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.key(), self.oid())
    }
}

/// The identity a keyless bundle's certificate must carry.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    identity: Matcher,
    issuer: Matcher,
    claims: BTreeMap<CiClaim, Matcher>,
}

impl IdentityPolicy {
    /// Both an identity and an issuer are required: a certificate from any issuer with a
    /// matching SAN is not the same signer.
    pub fn new(identity: Matcher, issuer: Matcher) -> Self {
        Self {
            identity,
            issuer,
            claims: BTreeMap::new(),
        }
    }

    /// Also requires a CI claim; a second requirement for the same claim replaces the first.
    pub fn require_claim(mut self, claim: CiClaim, matcher: Matcher) -> Self {
        self.claims.insert(claim, matcher);
        self
    }

    /// The identity matcher.
    pub fn identity(&self) -> &Matcher {
        &self.identity
    }

    /// The issuer matcher.
    pub fn issuer(&self) -> &Matcher {
        &self.issuer
    }

    /// The required CI claims.
    pub fn claims(&self) -> impl Iterator<Item = (CiClaim, &Matcher)> {
        self.claims.iter().map(|(c, m)| (*c, m))
    }

    /// Checks a (cryptographically verified) certificate's claims against the policy.
    pub(crate) fn check(
        &self,
        identity: Option<&str>,
        issuer: Option<&str>,
        claims: &FulcioCiClaims,
    ) -> Result<(), VerifyError> {
        if !identity.is_some_and(|v| self.identity.matches(v)) {
            return Err(VerifyError::IdentityMismatch {
                expected: self.identity.to_string(),
                found: identity.map(str::to_owned),
            });
        }
        if !issuer.is_some_and(|v| self.issuer.matches(v)) {
            return Err(VerifyError::IssuerMismatch {
                expected: self.issuer.to_string(),
                found: issuer.map(str::to_owned),
            });
        }
        for (claim, matcher) in &self.claims {
            let found = claim.value(claims);
            if !found.is_some_and(|v| matcher.matches(v)) {
                return Err(VerifyError::ClaimMismatch {
                    claim: *claim,
                    expected: matcher.to_string(),
                    found: found.map(str::to_owned),
                });
            }
        }
        Ok(())
    }
}

/// A managed public key that a `publicKey` bundle must be signed with.
#[derive(Debug, Clone)]
pub struct ManagedKey {
    key: DerPublicKey,
}

impl ManagedKey {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) and checks the key type is one
    /// Sigstore verifies (ECDSA P-256/P-384, Ed25519, RSA).
    pub fn from_pem(pem: &str) -> Result<Self, VerifyError> {
        let key = DerPublicKey::from_pem(pem).map_err(|e| VerifyError::InvalidPublicKey {
            detail: e.to_string(),
        })?;
        sigstore_crypto::VerificationKey::from_spki(&key).map_err(|e| {
            VerifyError::InvalidPublicKey {
                detail: e.to_string(),
            }
        })?;
        Ok(Self { key })
    }

    pub(crate) fn der(&self) -> &DerPublicKey {
        &self.key
    }
}

/// What a bundle is verified against.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Policy {
    /// A keyless bundle whose Fulcio certificate satisfies the identity policy.
    Keyless(IdentityPolicy),
    /// A managed-key bundle signed by this key.
    ManagedKey(ManagedKey),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(field: PolicyField, v: &str) -> Matcher {
        Matcher::exact(field, v).unwrap()
    }

    #[test]
    fn regex_is_anchored_at_both_ends() {
        let m = Matcher::regex(PolicyField::Identity, "https://github.com/org/.*").unwrap();
        assert!(m.matches("https://github.com/org/repo"));
        assert!(!m.matches("evil https://github.com/org/repo"));
        let m = Matcher::regex(PolicyField::Identity, "a|b").unwrap();
        assert!(m.matches("a") && m.matches("b"));
        assert!(!m.matches("ab") && !m.matches("xa"));
    }

    #[test]
    fn empty_values_and_bad_regexes_are_refused() {
        assert_eq!(
            Matcher::exact(PolicyField::Issuer, "").unwrap_err(),
            PolicyError::Empty {
                field: PolicyField::Issuer
            }
        );
        let err = Matcher::regex(PolicyField::Identity, "(").unwrap_err();
        assert!(matches!(err, PolicyError::Regex { .. }), "{err}");
        assert_eq!(err.to_string().lines().count(), 1);
    }

    #[test]
    fn mismatch_names_claim_expected_and_found() {
        let policy = IdentityPolicy::new(
            exact(PolicyField::Identity, "id"),
            exact(PolicyField::Issuer, "iss"),
        )
        .require_claim(
            CiClaim::SourceRepositoryRef,
            exact(
                PolicyField::Claim(CiClaim::SourceRepositoryRef),
                "refs/heads/main",
            ),
        );
        let mut claims = FulcioCiClaims::default();
        claims.source_repository_ref = Some("refs/heads/dev".into());
        let err = policy.check(Some("id"), Some("iss"), &claims).unwrap_err();
        assert_eq!(err.code(), "VERIFY_E026");
        let text = err.to_string();
        assert!(text.contains("source_repository_ref") && text.contains("refs/heads/main"));
        assert!(text.contains("refs/heads/dev"), "{text}");

        let err = policy
            .check(Some("other"), Some("iss"), &claims)
            .unwrap_err();
        assert_eq!(err.code(), "VERIFY_E024");
        let err = policy.check(Some("id"), None, &claims).unwrap_err();
        assert_eq!(err.to_string(), "issuer mismatch: expected iss, found none");
        claims.source_repository_ref = Some("refs/heads/main".into());
        policy.check(Some("id"), Some("iss"), &claims).unwrap();
    }

    #[test]
    fn a_claim_can_be_required_only_once() {
        let f = PolicyField::Claim(CiClaim::BuildTrigger);
        let policy = IdentityPolicy::new(
            exact(PolicyField::Identity, "id"),
            exact(PolicyField::Issuer, "iss"),
        )
        .require_claim(CiClaim::BuildTrigger, exact(f, "push"))
        .require_claim(CiClaim::BuildTrigger, exact(f, "release"));
        assert_eq!(policy.claims().count(), 1);
    }

    #[test]
    fn managed_key_rejects_non_keys() {
        let err = ManagedKey::from_pem("not pem").unwrap_err();
        assert_eq!(err.code(), "VERIFY_E008");
        let bogus = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert_eq!(
            ManagedKey::from_pem(bogus).unwrap_err().code(),
            "VERIFY_E008"
        );
    }
}
