//! The crate's error type: one variant per reason a verification can stop, each with a
//! stable `VERIFY_E0NN` code (never renumbered; the README's table mirrors [`VerifyError::code`]).

use std::path::PathBuf;

use crate::policy::{CiClaim, PolicyError};

/// Which input an I/O or size error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// The Sigstore bundle.
    Bundle,
    /// The artifact the bundle is about.
    Artifact,
    /// A trusted root file (`--trusted-root`).
    TrustedRoot,
    /// A managed public key (`--key`).
    PublicKey,
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Input::Bundle => "bundle",
            Input::Artifact => "artifact",
            Input::TrustedRoot => "trusted root",
            Input::PublicKey => "public key",
        })
    }
}

/// What signs a bundle: a Fulcio certificate (keyless) or a managed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerKind {
    /// A signing certificate (`certificate` or `x509CertificateChain`).
    Certificate,
    /// A managed key named by a `publicKey` hint.
    PublicKey,
}

impl std::fmt::Display for SignerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignerKind::Certificate => "a signing certificate",
            SignerKind::PublicKey => "a managed public key",
        })
    }
}

/// The trust-root authority a check needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authority {
    /// A Fulcio certificate authority.
    CertificateAuthority,
    /// A Rekor transparency log.
    TransparencyLog,
    /// An RFC 3161 timestamp authority.
    TimestampAuthority,
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Authority::CertificateAuthority => "certificate authority",
            Authority::TransparencyLog => "transparency log",
            Authority::TimestampAuthority => "timestamp authority",
        })
    }
}

/// Why an artifact digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestProblem {
    /// No `ALGORITHM:` prefix.
    MissingAlgorithm,
    /// An algorithm other than `sha256` or `sha512`.
    UnsupportedAlgorithm {
        /// The prefix that was given.
        found: String,
    },
    /// The hex part has the wrong number of characters.
    WrongLength {
        /// Hex characters the algorithm needs.
        expected: usize,
        /// Hex characters given.
        found: usize,
    },
    /// The hex part contains a character that is not a hex digit.
    NotHex,
}

impl std::fmt::Display for DigestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DigestProblem::MissingAlgorithm => f.write_str("expected ALGORITHM:HEX"),
            DigestProblem::UnsupportedAlgorithm { found } => {
                write!(f, "expected algorithm sha256 or sha512, found {found:?}")
            }
            DigestProblem::WrongLength { expected, found } => {
                write!(f, "expected {expected} hex characters, found {found}")
            }
            DigestProblem::NotHex => f.write_str("not a hex string"),
        }
    }
}

/// The certificate validity bound a signing time fell outside of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidityBound {
    /// The signing time is before the certificate's `notBefore`.
    NotBefore(jiff::Timestamp),
    /// The signing time is after the certificate's `notAfter`.
    NotAfter(jiff::Timestamp),
}

impl std::fmt::Display for ValidityBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidityBound::NotBefore(t) => write!(f, "not valid before {t}"),
            ValidityBound::NotAfter(t) => write!(f, "expired at {t}"),
        }
    }
}

/// How a caller should treat an error: bad input (exit 2 in the CLI) or a bundle that was
/// read fine and did not verify (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The inputs could not be read or understood; nothing was verified.
    Input,
    /// The inputs were understood and verification rejected them.
    Rejected,
}

/// Everything that can stop a verification. `Display` is one lowercase line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A file could not be read.
    #[error("cannot read {input} {}: {error}", path.display())]
    Read {
        input: Input,
        path: PathBuf,
        error: std::io::Error,
    },
    /// An input is larger than its limit (see [`crate::limits`]).
    #[error("{input} is larger than the {limit_bytes}-byte limit (at least {found_bytes} bytes)")]
    TooLarge {
        input: Input,
        limit_bytes: u64,
        found_bytes: u64,
    },
    /// The bundle is not JSON, or not a Sigstore bundle's JSON.
    #[error("malformed bundle: {detail}")]
    MalformedBundle { detail: String },
    /// The bundle's `mediaType` is missing or names a version this crate does not know.
    #[error("unsupported bundle version: expected media type of bundle v0.1, v0.2 or v0.3, found {found}")]
    UnsupportedBundleVersion { found: String },
    /// An artifact digest string such as `sha256:<64 hex>` is malformed.
    #[error("invalid artifact digest {input:?}: {problem}")]
    InvalidDigest {
        input: String,
        problem: DigestProblem,
    },
    /// The identity policy is invalid (empty value, bad regular expression).
    #[error(transparent)]
    InvalidPolicy(#[from] PolicyError),
    /// The trusted root is malformed or unusable.
    #[error("invalid trusted root: {detail}")]
    InvalidTrustRoot { detail: String },
    /// The managed public key could not be parsed.
    #[error("invalid public key: {detail}")]
    InvalidPublicKey { detail: String },
    /// The artifact was given in a form this bundle cannot be checked against (for
    /// example a digest where the signature scheme needs the bytes).
    #[error("unsupported artifact input: {detail}")]
    UnsupportedArtifact { detail: String },
    /// The bundle is signed by the other kind of signer than the policy expects.
    #[error("bundle kind mismatch: expected {expected}, found {found}")]
    SignerKindMismatch {
        expected: SignerKind,
        found: SignerKind,
    },
    /// The bundle describes a different artifact.
    #[error("artifact mismatch: {detail}")]
    ArtifactMismatch { detail: String },
    /// The signature does not verify with the signing key.
    #[error("invalid signature: {detail}")]
    SignatureInvalid { detail: String },
    /// The signing certificate is malformed or does not chain to a trusted CA.
    #[error("untrusted signing certificate: {detail}")]
    CertificateChain { detail: String },
    /// The signing certificate (or its chain) was not valid at a verified signing time.
    #[error("certificate not valid at signing time {signing_time} ({bound})")]
    CertificateNotValidAtSigningTime {
        signing_time: jiff::Timestamp,
        bound: ValidityBound,
    },
    /// The certificate's signed certificate timestamp is missing or invalid.
    #[error("invalid signed certificate timestamp: {detail}")]
    Sct { detail: String },
    /// The trusted root has no authority of the needed kind for this bundle.
    #[error("trusted root has no matching {authority}: {detail}")]
    MissingAuthority {
        authority: Authority,
        detail: String,
    },
    /// The Merkle inclusion proof does not prove the entry.
    #[error("invalid inclusion proof: {detail}")]
    InclusionProof { detail: String },
    /// The checkpoint is malformed or not signed by the log.
    #[error("invalid checkpoint: {detail}")]
    Checkpoint { detail: String },
    /// The signed entry timestamp (Rekor v1 inclusion promise) is missing or invalid.
    #[error("invalid inclusion promise: {detail}")]
    InclusionPromise { detail: String },
    /// The log entry describes something other than this bundle.
    #[error("log entry does not match the bundle: {detail}")]
    LogEntryMismatch { detail: String },
    /// The log's integrated time is in the future or outside the certificate's validity.
    #[error("invalid integrated time: {detail}")]
    IntegratedTime { detail: String },
    /// An RFC 3161 timestamp is invalid or outside its authority's validity.
    #[error("invalid RFC 3161 timestamp: {detail}")]
    Timestamp { detail: String },
    /// No trusted signing time could be established.
    #[error("no verified signing time: {detail}")]
    NoVerifiedTime { detail: String },
    /// The certificate's identity (SAN) does not satisfy the policy.
    #[error("identity mismatch: expected {expected}, found {}", found.as_deref().unwrap_or("none"))]
    IdentityMismatch {
        expected: String,
        found: Option<String>,
    },
    /// The certificate's OIDC issuer does not satisfy the policy.
    #[error("issuer mismatch: expected {expected}, found {}", found.as_deref().unwrap_or("none"))]
    IssuerMismatch {
        expected: String,
        found: Option<String>,
    },
    /// A Fulcio CI claim does not match the policy.
    #[error("claim mismatch: {claim} expected {expected}, found {}", found.as_deref().unwrap_or("none"))]
    ClaimMismatch {
        claim: CiClaim,
        expected: String,
        found: Option<String>,
    },
    /// The bundle parsed but is structurally invalid (empty chain, missing proof, ...).
    #[error("invalid bundle: {detail}")]
    InvalidBundle { detail: String },
    /// The bundle uses a key type, entry kind or payload type this crate cannot verify.
    #[error("unsupported bundle content: {detail}")]
    UnsupportedBundle { detail: String },
}

impl VerifyError {
    /// VERIFY_E024, the code of [`VerifyError::IdentityMismatch`], for crates that name it.
    pub const IDENTITY_MISMATCH_CODE: &'static str = "VERIFY_E024";

    /// The stable code. Codes are never renumbered or reused; new variants get new numbers.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Read { .. } => "VERIFY_E001",
            VerifyError::TooLarge { .. } => "VERIFY_E002",
            VerifyError::MalformedBundle { .. } => "VERIFY_E003",
            VerifyError::UnsupportedBundleVersion { .. } => "VERIFY_E004",
            VerifyError::InvalidDigest { .. } => "VERIFY_E005",
            VerifyError::InvalidPolicy(_) => "VERIFY_E006",
            VerifyError::InvalidTrustRoot { .. } => "VERIFY_E007",
            VerifyError::InvalidPublicKey { .. } => "VERIFY_E008",
            VerifyError::UnsupportedArtifact { .. } => "VERIFY_E009",
            VerifyError::SignerKindMismatch { .. } => "VERIFY_E010",
            VerifyError::ArtifactMismatch { .. } => "VERIFY_E011",
            VerifyError::SignatureInvalid { .. } => "VERIFY_E012",
            VerifyError::CertificateChain { .. } => "VERIFY_E013",
            VerifyError::CertificateNotValidAtSigningTime { .. } => "VERIFY_E014",
            VerifyError::Sct { .. } => "VERIFY_E015",
            VerifyError::MissingAuthority { .. } => "VERIFY_E016",
            VerifyError::InclusionProof { .. } => "VERIFY_E017",
            VerifyError::Checkpoint { .. } => "VERIFY_E018",
            VerifyError::InclusionPromise { .. } => "VERIFY_E019",
            VerifyError::LogEntryMismatch { .. } => "VERIFY_E020",
            VerifyError::IntegratedTime { .. } => "VERIFY_E021",
            VerifyError::Timestamp { .. } => "VERIFY_E022",
            VerifyError::NoVerifiedTime { .. } => "VERIFY_E023",
            VerifyError::IdentityMismatch { .. } => Self::IDENTITY_MISMATCH_CODE,
            VerifyError::IssuerMismatch { .. } => "VERIFY_E025",
            VerifyError::ClaimMismatch { .. } => "VERIFY_E026",
            VerifyError::InvalidBundle { .. } => "VERIFY_E027",
            VerifyError::UnsupportedBundle { .. } => "VERIFY_E028",
        }
    }

    /// Whether this is an input problem (nothing was verified) or a rejection.
    pub fn class(&self) -> ErrorClass {
        match self {
            VerifyError::Read { .. }
            | VerifyError::TooLarge { .. }
            | VerifyError::MalformedBundle { .. }
            | VerifyError::UnsupportedBundleVersion { .. }
            | VerifyError::InvalidDigest { .. }
            | VerifyError::InvalidPolicy(_)
            | VerifyError::InvalidTrustRoot { .. }
            | VerifyError::InvalidPublicKey { .. }
            | VerifyError::UnsupportedArtifact { .. } => ErrorClass::Input,
            _ => ErrorClass::Rejected,
        }
    }
}

/// Every code with a one-line description, in code order: the source of the README table.
pub const CODES: &[(&str, &str)] = &[
    (
        "VERIFY_E001",
        "a file (bundle, artifact, trusted root, key) could not be read",
    ),
    (
        "VERIFY_E002",
        "an input is over its size limit (bundle 16 MiB, trusted root 16 MiB, key 64 KiB)",
    ),
    (
        "VERIFY_E003",
        "the bundle is not valid JSON or not a Sigstore bundle",
    ),
    (
        "VERIFY_E004",
        "the bundle's mediaType is missing or not bundle v0.1, v0.2 or v0.3",
    ),
    (
        "VERIFY_E005",
        "the artifact digest is not sha256:<64 hex> or sha512:<128 hex>",
    ),
    (
        "VERIFY_E006",
        "the identity policy is invalid (empty value, bad regular expression)",
    ),
    ("VERIFY_E007", "the trusted root is malformed or unusable"),
    ("VERIFY_E008", "the --key public key cannot be parsed"),
    (
        "VERIFY_E009",
        "the artifact was given in a form this bundle cannot be checked against",
    ),
    (
        "VERIFY_E010",
        "keyless bundle given with --key, or managed-key bundle without --key",
    ),
    (
        "VERIFY_E011",
        "the bundle is for another artifact (digest or in-toto subject mismatch)",
    ),
    ("VERIFY_E012", "the signature does not verify"),
    (
        "VERIFY_E013",
        "the signing certificate is malformed or does not chain to a trusted CA",
    ),
    (
        "VERIFY_E014",
        "the signing certificate was not valid at the verified signing time",
    ),
    ("VERIFY_E015", "the certificate's SCT is missing or invalid"),
    (
        "VERIFY_E016",
        "the trusted root has no authority (CA, log, TSA) for this bundle",
    ),
    (
        "VERIFY_E017",
        "the transparency log inclusion proof is invalid or missing",
    ),
    (
        "VERIFY_E018",
        "the log checkpoint is malformed or not signed by the log",
    ),
    ("VERIFY_E019", "the signed entry timestamp (SET) is invalid"),
    ("VERIFY_E020", "the log entry does not describe this bundle"),
    (
        "VERIFY_E021",
        "the integrated time is in the future or outside the certificate's validity",
    ),
    (
        "VERIFY_E022",
        "an RFC 3161 timestamp is invalid or outside its authority's validity",
    ),
    (
        "VERIFY_E023",
        "no trusted signing time could be established",
    ),
    (
        "VERIFY_E024",
        "the certificate identity does not match the policy",
    ),
    (
        "VERIFY_E025",
        "the certificate OIDC issuer does not match the policy",
    ),
    (
        "VERIFY_E026",
        "a CI claim (repository, ref, workflow, trigger, runner...) does not match",
    ),
    (
        "VERIFY_E027",
        "the bundle is structurally invalid (empty chain, missing log entry...)",
    ),
    (
        "VERIFY_E028",
        "the bundle uses content this verifier does not support",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_table_is_dense_and_ordered() {
        for (i, (code, _)) in CODES.iter().enumerate() {
            assert_eq!(*code, format!("VERIFY_E{:03}", i + 1));
        }
    }
}
