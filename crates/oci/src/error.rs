//! The one error type of vouch-oci: every failure talking to a registry or reading what it
//! holds, with a stable `OCI_E…` code; verification failures keep their `VERIFY_E…` code
//! and signing failures their `SIGN_E…` code.

use vouch_api_client::CodedError;
use vouch_verify::VerifyError;

/// Every code this crate mints (docs/errors.md lists them).
pub const CODES: &[&str] = &[
    "OCI_E001", "OCI_E002", "OCI_E003", "OCI_E004", "OCI_E005", "OCI_E006", "OCI_E007", "OCI_E008",
    "OCI_E009", "OCI_E010", "OCI_E011", "OCI_E012", "OCI_E013", "OCI_E014", "OCI_E015", "OCI_E016",
    "OCI_E017",
];

/// What went wrong with an image, its registry or its signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// The image reference does not parse.
    #[error("image reference {input:?} is not valid: {why}")]
    BadReference { input: String, why: &'static str },
    /// The registry could not be reached or the connection failed.
    #[error("registry {registry} unreachable: {detail}")]
    Unreachable { registry: String, detail: String },
    /// The registry answered a status the protocol does not allow here.
    #[error("{what}: expected HTTP {expected}, the registry answered {found}")]
    Status {
        what: String,
        expected: &'static str,
        found: u16,
    },
    /// Authentication failed (token endpoint refused, or still 401 with a token).
    #[error("authentication to {registry} failed: {detail}")]
    Auth { registry: String, detail: String },
    /// An answer exceeded its size cap.
    #[error("{what} is over its size cap of {cap} bytes")]
    TooLarge { what: String, cap: usize },
    /// Content does not hash to the digest that names it.
    #[error("{what}: expected digest {expected}, the bytes hash to {found}")]
    DigestMismatch {
        what: String,
        expected: String,
        found: String,
    },
    /// A manifest, index or payload is not what the format says.
    #[error("{what} is malformed: {detail}")]
    Malformed { what: String, detail: String },
    /// Plain HTTP to a registry that is not on loopback.
    #[error("refusing plain http to {registry}: only loopback registries are reached without TLS unless --allow-insecure-registry is given")]
    Insecure { registry: String },
    /// No signature or attestation of the wanted kind is attached to the image.
    #[error("no {kind} found for {image} (looked in: {looked})")]
    NoSignatures {
        kind: &'static str,
        image: String,
        looked: String,
    },
    /// A redirect where none is allowed, or too many.
    #[error("{what}: redirect refused ({detail})")]
    Redirect { what: String, detail: String },
    /// The signature's claim names another image.
    #[error("the signature is for image {found}, expected {expected}")]
    ClaimMismatch { expected: String, found: String },
    /// The attestation's predicate type is not the one asked for.
    #[error("predicate type: expected {expected}, found {found}")]
    PredicateType { expected: String, found: String },
    /// `--platform` names no child of the index (or the image is not an index).
    #[error("platform {platform}: {detail}")]
    Platform { platform: String, detail: String },
    /// A local file (docker config, predicate) could not be read or parsed.
    #[error("{what}: {detail}")]
    Local { what: String, detail: String },
    /// The registry refused an upload.
    #[error("pushing {what} refused: HTTP {status}: {detail}")]
    PushRefused {
        what: String,
        status: u16,
        detail: String,
    },
    /// A legacy cosign annotation is missing or does not decode.
    #[error("annotation {annotation}: {detail}")]
    Annotation {
        annotation: &'static str,
        detail: String,
    },
    /// `--type` is neither one of cosign's names nor a URI.
    #[error("--type {found:?} is neither one of {names} nor a predicate type URI")]
    UnknownType { found: String, names: String },
    /// Bundle verification failed (its own VERIFY_E code).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Signing failed (its own SIGN_E code).
    #[error("{}", .0.message)]
    Sign(CodedError),
}

impl OciError {
    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            OciError::BadReference { .. } => "OCI_E001",
            OciError::Unreachable { .. } => "OCI_E002",
            OciError::Status { .. } => "OCI_E003",
            OciError::Auth { .. } => "OCI_E004",
            OciError::TooLarge { .. } => "OCI_E005",
            OciError::DigestMismatch { .. } => "OCI_E006",
            OciError::Malformed { .. } => "OCI_E007",
            OciError::Insecure { .. } => "OCI_E008",
            OciError::NoSignatures { .. } => "OCI_E009",
            OciError::Redirect { .. } => "OCI_E010",
            OciError::ClaimMismatch { .. } => "OCI_E011",
            OciError::PredicateType { .. } => "OCI_E012",
            OciError::Platform { .. } => "OCI_E013",
            OciError::Local { .. } => "OCI_E014",
            OciError::PushRefused { .. } => "OCI_E015",
            OciError::Annotation { .. } => "OCI_E016",
            OciError::UnknownType { .. } => "OCI_E017",
            OciError::Verify(e) => e.code(),
            OciError::Sign(c) => &c.code,
        }
    }

    /// True when the inputs were read and did not check out (exit 1), false for an
    /// operational or usage error (exit 2).
    pub fn is_rejection(&self) -> bool {
        match self {
            OciError::DigestMismatch { .. }
            | OciError::NoSignatures { .. }
            | OciError::ClaimMismatch { .. }
            | OciError::PredicateType { .. }
            | OciError::Annotation { .. } => true,
            OciError::Verify(e) => e.class() == vouch_verify::ErrorClass::Rejected,
            _ => false,
        }
    }

    pub(crate) fn malformed(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        OciError::Malformed {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

impl From<&OciError> for CodedError {
    fn from(e: &OciError) -> Self {
        if let OciError::Sign(c) = e {
            return c.clone();
        }
        let outcome = if e.is_rejection() {
            vouch_api_client::Outcome::Refused
        } else {
            vouch_api_client::Outcome::Error
        };
        CodedError::new(e.code().to_owned(), outcome, e.to_string())
    }
}
