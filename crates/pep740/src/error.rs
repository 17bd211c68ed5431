//! The crate's one error type and its stable `PEP740_E…` codes (listed in docs/errors.md).

use vouch_verify::VerifyError;

/// Why an attestation, a provenance object or a distribution was refused or could not be
/// read. A failed Sigstore check keeps the verify layer's own `VERIFY_E…` code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pep740Error {
    /// The attestation is not a PEP 740 attestation object.
    #[error("not a PEP 740 attestation object: {detail}")]
    MalformedAttestation { detail: String },
    /// The provenance is not a PEP 740 provenance object.
    #[error("not a PEP 740 provenance object: {detail}")]
    MalformedProvenance { detail: String },
    /// A Sigstore bundle cannot become an attestation (or the reverse).
    #[error("cannot convert between Sigstore bundle and PEP 740 attestation: expected {expected}, found {found}")]
    Conversion { expected: String, found: String },
    /// A file name is not a wheel or sdist name.
    #[error("{name:?} is not a distribution file name: {detail}")]
    InvalidDistName { name: String, detail: String },
    /// The signed statement is not an in-toto v1 statement with exactly one named subject.
    #[error("invalid attestation statement: expected {expected}, found {found}")]
    InvalidStatement { expected: String, found: String },
    /// The statement's subject names another distribution.
    #[error("the attestation is for {found:?}, not for {expected:?}")]
    SubjectName { expected: String, found: String },
    /// The statement's subject has another SHA-256 than the distribution's bytes.
    #[error("the attestation's subject digest does not match the distribution {name}: expected sha256 {expected}, found {found}")]
    SubjectDigest {
        name: String,
        expected: String,
        found: String,
    },
    /// The statement's predicate type is not one PyPI knows.
    #[error("unknown attestation type: expected https://docs.pypi.org/attestations/publish/v1 or https://slsa.dev/provenance/v1, found {found:?}")]
    PredicateType { found: String },
    /// The certificate's build config (the workflow that ran) is not the expected one.
    #[error("the attestation was made by another workflow: expected {expected}, found {found}")]
    Workflow { expected: String, found: String },
    /// The certificate's deployment environment is not the expected one.
    #[error(
        "the attestation was made in another environment: expected {expected:?}, found {found}"
    )]
    Environment { expected: String, found: String },
    /// The provenance names another publisher than the one expected.
    #[error("the provenance was published by {found}, expected {expected}")]
    Publisher { expected: String, found: String },
    /// The expected publisher cannot be built from what was given.
    #[error("invalid publisher policy: {detail}")]
    InvalidPolicy { detail: String },
    /// The provenance carries no attestation to verify.
    #[error("the provenance for {name} carries no attestation")]
    NoAttestations { name: String },
    /// A publisher kind PyPI may use but this crate does not verify.
    #[error("unsupported publisher kind: expected GitHub, GitLab or Google, found {found:?}")]
    UnsupportedPublisher { found: String },
    /// A local file could not be read.
    #[error("cannot read {path}: {detail}")]
    Read { path: String, detail: String },
    /// The index could not be asked, or answered with an error.
    #[error("index request for {url} failed: {detail}")]
    Index { url: String, detail: String },
    /// The index answered, but not with what PEP 691 or the Integrity API define.
    #[error("unexpected index answer from {url}: {detail}")]
    IndexAnswer { url: String, detail: String },
    /// The index has no provenance for the distribution.
    #[error("the index has no provenance for {name} ({detail})")]
    NoProvenance { name: String, detail: String },
    /// The Sigstore verification of the attestation's bundle failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl Pep740Error {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Pep740Error::MalformedAttestation { .. } => "PEP740_E001",
            Pep740Error::MalformedProvenance { .. } => "PEP740_E002",
            Pep740Error::Conversion { .. } => "PEP740_E003",
            Pep740Error::InvalidDistName { .. } => "PEP740_E004",
            Pep740Error::InvalidStatement { .. } => "PEP740_E005",
            Pep740Error::SubjectName { .. } => "PEP740_E006",
            Pep740Error::SubjectDigest { .. } => "PEP740_E007",
            Pep740Error::PredicateType { .. } => "PEP740_E008",
            Pep740Error::Workflow { .. } => "PEP740_E009",
            Pep740Error::Environment { .. } => "PEP740_E010",
            Pep740Error::Publisher { .. } => "PEP740_E011",
            Pep740Error::InvalidPolicy { .. } => "PEP740_E012",
            Pep740Error::NoAttestations { .. } => "PEP740_E013",
            Pep740Error::UnsupportedPublisher { .. } => "PEP740_E014",
            Pep740Error::Read { .. } => "PEP740_E015",
            Pep740Error::Index { .. } => "PEP740_E016",
            Pep740Error::IndexAnswer { .. } => "PEP740_E017",
            Pep740Error::NoProvenance { .. } => "PEP740_E018",
            Pep740Error::Verify(e) => e.code(),
        }
    }

    /// Whether the inputs were read and did not check out (a command exits 1), rather
    /// than could not be read or used (exit 2).
    pub fn is_refusal(&self) -> bool {
        match self {
            Pep740Error::InvalidStatement { .. }
            | Pep740Error::SubjectName { .. }
            | Pep740Error::SubjectDigest { .. }
            | Pep740Error::PredicateType { .. }
            | Pep740Error::Workflow { .. }
            | Pep740Error::Environment { .. }
            | Pep740Error::Publisher { .. }
            | Pep740Error::NoAttestations { .. }
            | Pep740Error::NoProvenance { .. } => true,
            Pep740Error::Verify(e) => e.class() == vouch_verify::ErrorClass::Rejected,
            _ => false,
        }
    }
}
