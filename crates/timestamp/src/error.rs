//! The crate's one error type, with a stable `TSA_E…` code per variant and the RFC 3161
//! `PKIFailureInfo` bit a rejection response carries for it.

use std::time::SystemTime;

use vouch_ca::CaError;

/// Everything that can go wrong in the timestamp authority.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TsaError {
    /// The request is larger than the cap.
    #[error("timestamp request is {found} bytes, the limit is {limit}")]
    RequestTooLarge {
        /// Maximum accepted size in bytes.
        limit: usize,
        /// Size of the refused request.
        found: usize,
    },
    /// The request is not a DER `TimeStampReq` (version 1).
    #[error("timestamp request is not a DER TimeStampReq v1 (error near byte {position})")]
    MalformedRequest {
        /// Byte offset the decoder stopped at (0 when unknown).
        position: usize,
    },
    /// The message imprint's hash algorithm is not SHA-256, SHA-384 or SHA-512.
    #[error("hash algorithm {found} is not supported; expected SHA-256, SHA-384 or SHA-512")]
    UnsupportedHashAlgorithm {
        /// The OID found, dotted.
        found: String,
    },
    /// The hashed message's length does not match its algorithm.
    #[error("{algorithm} digest must be {expected} bytes, found {found}")]
    DigestLength {
        /// Hash algorithm name.
        algorithm: &'static str,
        /// Expected digest length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// The requested policy is not this TSA's.
    #[error("policy {requested} is not accepted; this TSA issues under {supported}")]
    UnacceptedPolicy {
        /// Requested policy OID.
        requested: String,
        /// The TSA's policy OID.
        supported: String,
    },
    /// The request carries extensions; this TSA supports none.
    #[error("request extension {oid} is not supported")]
    UnacceptedExtension {
        /// First unsupported extension OID.
        oid: String,
    },
    /// The nonce is longer than the cap.
    #[error("nonce is {found} bytes, the limit is {limit}")]
    NonceTooLong {
        /// Maximum nonce length in bytes.
        limit: usize,
        /// Actual length.
        found: usize,
    },
    /// The TSA certificate is not valid at this time.
    #[error("TSA certificate valid {not_before:?}..{not_after:?} is not valid at {at:?}")]
    TsaNotValid {
        /// Current time per the TSA clock.
        at: SystemTime,
        /// Certificate `notBefore`.
        not_before: SystemTime,
        /// Certificate `notAfter`.
        not_after: SystemTime,
    },
    /// DER encoding of a structure the TSA builds failed (an internal invariant broke).
    #[error("could not encode {what}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
    },
    /// Loading, sealing or generating key material failed (see the inner `CA_E…` code).
    #[error("key material: {source}")]
    KeyMaterial {
        /// The underlying error from the shared PKI/envelope code.
        #[from]
        source: CaError,
    },
    /// Decrypted material does not load.
    #[error("decrypted TSA material is corrupt: {part} is invalid")]
    MaterialCorrupt {
        /// Which part failed.
        part: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator failure")]
    Random,
}

/// RFC 3161 §2.4.2 `PKIFailureInfo` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureInfo {
    /// badAlg (0): unrecognized or unsupported algorithm.
    BadAlg = 0,
    /// badRequest (2): transaction not permitted or supported.
    BadRequest = 2,
    /// badDataFormat (5): the data submitted has the wrong format.
    BadDataFormat = 5,
    /// timeNotAvailable (14): the TSA's time source is not available.
    TimeNotAvailable = 14,
    /// unacceptedPolicy (15): the requested policy is not supported.
    UnacceptedPolicy = 15,
    /// unacceptedExtension (16): the requested extension is not supported.
    UnacceptedExtension = 16,
    /// systemFailure (25): the request cannot be handled due to system failure.
    SystemFailure = 25,
}

impl TsaError {
    /// Stable error code (`TSA_E001`…), documented in the crate root.
    pub fn code(&self) -> &'static str {
        match self {
            TsaError::RequestTooLarge { .. } => "TSA_E001",
            TsaError::MalformedRequest { .. } => "TSA_E002",
            TsaError::UnsupportedHashAlgorithm { .. } => "TSA_E003",
            TsaError::DigestLength { .. } => "TSA_E004",
            TsaError::UnacceptedPolicy { .. } => "TSA_E005",
            TsaError::UnacceptedExtension { .. } => "TSA_E006",
            TsaError::NonceTooLong { .. } => "TSA_E007",
            TsaError::TsaNotValid { .. } => "TSA_E008",
            TsaError::Encoding { .. } => "TSA_E009",
            TsaError::KeyMaterial { .. } => "TSA_E010",
            TsaError::MaterialCorrupt { .. } => "TSA_E011",
            TsaError::Random => "TSA_E012",
        }
    }

    /// True when the client's request caused the error (HTTP 400 at the edge).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            TsaError::RequestTooLarge { .. }
                | TsaError::MalformedRequest { .. }
                | TsaError::UnsupportedHashAlgorithm { .. }
                | TsaError::DigestLength { .. }
                | TsaError::UnacceptedPolicy { .. }
                | TsaError::UnacceptedExtension { .. }
                | TsaError::NonceTooLong { .. }
        )
    }

    /// The failure bit a `rejection` TimeStampResp carries for this error.
    pub fn failure_info(&self) -> FailureInfo {
        match self {
            TsaError::RequestTooLarge { .. } | TsaError::NonceTooLong { .. } => {
                FailureInfo::BadRequest
            }
            TsaError::MalformedRequest { .. } | TsaError::DigestLength { .. } => {
                FailureInfo::BadDataFormat
            }
            TsaError::UnsupportedHashAlgorithm { .. } => FailureInfo::BadAlg,
            TsaError::UnacceptedPolicy { .. } => FailureInfo::UnacceptedPolicy,
            TsaError::UnacceptedExtension { .. } => FailureInfo::UnacceptedExtension,
            TsaError::TsaNotValid { .. } => FailureInfo::TimeNotAvailable,
            TsaError::Encoding { .. }
            | TsaError::KeyMaterial { .. }
            | TsaError::MaterialCorrupt { .. }
            | TsaError::Random => FailureInfo::SystemFailure,
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = TsaError> = std::result::Result<T, E>;
