//! `RekorError`: why a proposed Rekor v1 or v2 entry (or a v1 read) was refused, each with a stable `REKOR_E0xx` code and an HTTP status.

use axum::http::StatusCode;

use crate::ApiError;

/// A refused entry. Nothing is logged for any of these: every check runs before the
/// entry reaches the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RekorError {
    /// REKOR_E001
    #[error("request body is over the {max}-byte limit")]
    TooLarge { max: usize },
    /// REKOR_E002
    #[error("request is not a CreateEntryRequest: {reason}")]
    Malformed { reason: String },
    /// REKOR_E003
    #[error("{field} is not standard base64")]
    Base64 { field: &'static str },
    /// REKOR_E004
    #[error("digest of {found} bytes does not fit {key_details}: expected {expected}")]
    DigestLength {
        key_details: &'static str,
        expected: &'static str,
        found: usize,
    },
    /// REKOR_E005
    #[error("keyDetails {found} is not supported {context}: expected one of {expected}")]
    UnsupportedKeyDetails {
        found: String,
        context: &'static str,
        expected: &'static str,
    },
    /// REKOR_E006
    #[error("keyDetails say {declared} but the key is {found}")]
    KeyDetailsMismatch {
        declared: &'static str,
        found: &'static str,
    },
    /// REKOR_E007
    #[error("{what} does not parse: {reason}")]
    BadVerifier { what: &'static str, reason: String },
    /// REKOR_E008
    #[error("{what} does not verify with the given {verifier}")]
    SignatureInvalid {
        what: &'static str,
        verifier: &'static str,
    },
    /// REKOR_E009
    #[error("the canonical entry is {size} bytes, over the log's {max}-byte entry limit")]
    EntryTooLarge { size: usize, max: usize },
    /// REKOR_E010
    #[error("envelope.signatures has {found} signatures, over the limit of {max}")]
    TooManySignatures { found: usize, max: usize },
    /// REKOR_E011
    #[error("verifiers has {found} entries, over the limit of {max}")]
    TooManyVerifiers { found: usize, max: usize },
    /// REKOR_E012
    #[error("{waiting} entries are already waiting for signature checks: retry shortly")]
    Busy { waiting: usize },
    /// REKOR_E013
    #[error("the client went away before its signatures were checked")]
    Abandoned,
    /// REKOR_E014
    #[error("entry kind {found} is not supported: expected hashedrekord/0.0.1 or dsse/0.0.1")]
    UnsupportedKind { found: String },
    /// REKOR_E015
    #[error("no Rekor v1 entry {what}")]
    NotFound { what: String },
    /// REKOR_E016
    #[error("an equivalent entry already exists in the log with UUID {uuid}")]
    Exists { uuid: String },
    /// REKOR_E017
    #[error("bad query: {reason}")]
    BadQuery { reason: String },
}

impl RekorError {
    /// The stable code (README, "Error codes"). Never renumbered.
    pub fn code(&self) -> &'static str {
        match self {
            RekorError::TooLarge { .. } => "REKOR_E001",
            RekorError::Malformed { .. } => "REKOR_E002",
            RekorError::Base64 { .. } => "REKOR_E003",
            RekorError::DigestLength { .. } => "REKOR_E004",
            RekorError::UnsupportedKeyDetails { .. } => "REKOR_E005",
            RekorError::KeyDetailsMismatch { .. } => "REKOR_E006",
            RekorError::BadVerifier { .. } => "REKOR_E007",
            RekorError::SignatureInvalid { .. } => "REKOR_E008",
            RekorError::EntryTooLarge { .. } => "REKOR_E009",
            RekorError::TooManySignatures { .. } => "REKOR_E010",
            RekorError::TooManyVerifiers { .. } => "REKOR_E011",
            RekorError::Busy { .. } => "REKOR_E012",
            RekorError::Abandoned => "REKOR_E013",
            RekorError::UnsupportedKind { .. } => "REKOR_E014",
            RekorError::NotFound { .. } => "REKOR_E015",
            RekorError::Exists { .. } => "REKOR_E016",
            RekorError::BadQuery { .. } => "REKOR_E017",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            RekorError::TooLarge { .. }
            | RekorError::EntryTooLarge { .. }
            | RekorError::TooManySignatures { .. }
            | RekorError::TooManyVerifiers { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RekorError::Busy { .. } | RekorError::Abandoned => StatusCode::SERVICE_UNAVAILABLE,
            RekorError::NotFound { .. } => StatusCode::NOT_FOUND,
            RekorError::Exists { .. } => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<RekorError> for ApiError {
    fn from(e: RekorError) -> Self {
        let busy = matches!(e, RekorError::Busy { .. });
        let mut api = ApiError::new(e.status(), e.code(), e.to_string());
        if busy {
            api.retry_after = Some(1);
        }
        api
    }
}
