//! The crate's one error type, with a stable `CA_E…` code per variant.
//!
//! Codes are part of the public contract: they are never renumbered or reused. A new
//! failure gets the next free number. The table lives in the crate documentation
//! (`lib.rs`) and must stay in step with [`CaError::code`].

use std::time::SystemTime;

/// Everything that can go wrong in the certificate authority.
///
/// Variants that come from untrusted input (`RequestTooLarge` to `CsrSignatureInvalid`,
/// `IdentityInvalid`, `ExtensionNotAllowed`, `DuplicateExtension`) map to a 400-class
/// answer at the HTTP edge; the others are operational and map to 500/503.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// The request body is larger than the configured cap.
    #[error("request is {found} bytes, the limit is {limit}")]
    RequestTooLarge {
        /// Maximum accepted size in bytes.
        limit: usize,
        /// Size of the refused request in bytes.
        found: usize,
    },
    /// The request body is not the expected JSON shape.
    #[error("malformed signing request at line {line}, column {column}: {reason}")]
    MalformedRequest {
        /// 1-based line of the first problem (0 when unknown).
        line: usize,
        /// 1-based column of the first problem (0 when unknown).
        column: usize,
        /// What serde found wrong (never contains key material: it describes shape).
        reason: String,
    },
    /// Exactly one of `publicKeyRequest` and `certificateSigningRequest` must be present.
    #[error(
        "expected exactly one of publicKeyRequest or certificateSigningRequest, found {found}"
    )]
    KeySourceCount {
        /// How many key sources the request carried (0 or 2).
        found: usize,
    },
    /// A `bytes` field is not valid base64.
    #[error("field {field} is not valid base64")]
    InvalidBase64 {
        /// JSON field name.
        field: &'static str,
    },
    /// A PEM document is malformed or carries the wrong label.
    #[error("field {field} is not a valid PEM {expected_label}")]
    MalformedPem {
        /// JSON field name.
        field: &'static str,
        /// The PEM label that was expected.
        expected_label: &'static str,
    },
    /// The public key uses an algorithm or curve the CA does not certify.
    #[error(
        "unsupported public key algorithm {found}; supported: ECDSA P-256, ECDSA P-384, Ed25519"
    )]
    UnsupportedKeyAlgorithm {
        /// The algorithm (and curve) OID found, dotted.
        found: String,
    },
    /// The declared `algorithm` does not match the key's actual algorithm.
    #[error("declared key algorithm {declared} does not match the key, which is {found}")]
    KeyAlgorithmMismatch {
        /// What the request declared.
        declared: String,
        /// What the key is.
        found: &'static str,
    },
    /// The public key bytes are not a valid point or key.
    #[error("public key is not a valid {algorithm} key")]
    InvalidPublicKey {
        /// The key algorithm.
        algorithm: &'static str,
    },
    /// The proof of possession does not verify under the submitted key.
    #[error("proof of possession does not verify with the submitted {algorithm} key")]
    ProofOfPossessionInvalid {
        /// The key algorithm.
        algorithm: &'static str,
    },
    /// The certificate signing request is not valid DER PKCS#10.
    #[error("certificate signing request is malformed")]
    MalformedCsr,
    /// The CSR's self-signature does not verify or uses an unsupported algorithm.
    #[error("certificate signing request signature does not verify (algorithm {algorithm})")]
    CsrSignatureInvalid {
        /// The signature algorithm OID, dotted.
        algorithm: String,
    },
    /// The identity cannot be put in a certificate (e.g. non-ASCII SAN).
    #[error("identity field {field} is invalid: expected {expected}")]
    IdentityInvalid {
        /// Which field.
        field: &'static str,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// A requested extension OID is outside the Fulcio arc or reserved by the CA.
    #[error("extension {oid} is not allowed: expected 1.3.6.1.4.1.57264.1.2-6 or .9 and above")]
    ExtensionNotAllowed {
        /// The refused OID, dotted.
        oid: String,
    },
    /// The same extension OID was requested twice.
    #[error("extension {oid} appears more than once")]
    DuplicateExtension {
        /// The repeated OID, dotted.
        oid: String,
    },
    /// The issuing certificate is not valid for the whole leaf lifetime at this time.
    #[error("issuing certificate valid {not_before:?}..{not_after:?} cannot cover a leaf starting {at:?}")]
    IssuerNotValid {
        /// Current time according to the CA clock.
        at: SystemTime,
        /// Issuer `notBefore`.
        not_before: SystemTime,
        /// Issuer `notAfter`.
        not_after: SystemTime,
    },
    /// The at-rest encryption key is not 64 hexadecimal characters.
    #[error("encryption key must be {expected} hex characters, found {found} characters or non-hex input")]
    EncryptionKeyInvalid {
        /// Expected length in hex characters.
        expected: usize,
        /// Found length in characters.
        found: usize,
    },
    /// The sealed envelope is shorter than its fixed header plus tag.
    #[error("sealed material is {found} bytes, expected at least {expected_at_least}")]
    EnvelopeTruncated {
        /// Minimum valid length.
        expected_at_least: usize,
        /// Actual length.
        found: usize,
    },
    /// The sealed envelope does not start with the vouch magic bytes.
    #[error("sealed material does not start with the vouch envelope magic")]
    EnvelopeMagic,
    /// The sealed envelope uses a format version this build does not read.
    #[error("sealed material has envelope version {found}, expected {expected}")]
    EnvelopeVersion {
        /// The version this build reads.
        expected: u8,
        /// The version found.
        found: u8,
    },
    /// Authenticated decryption failed: wrong key, wrong purpose, or tampered data.
    #[error("sealed material could not be decrypted: wrong key, wrong purpose or tampered data")]
    DecryptionFailed,
    /// Decrypted material is not a valid CA state (format or key/certificate mismatch).
    #[error("decrypted material is corrupt: {part} is invalid")]
    MaterialCorrupt {
        /// Which part failed to load.
        part: &'static str,
    },
    /// DER encoding of a structure the CA builds failed (an internal invariant broke).
    #[error("could not encode {what}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
    },
    /// An embedded SCT is missing, malformed, or does not verify.
    #[error("signed certificate timestamp check failed: {check}")]
    SctInvalid {
        /// Which check failed.
        check: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator failure")]
    Random,
}

impl CaError {
    /// Stable error code (`CA_E001`…), documented in the crate root.
    pub fn code(&self) -> &'static str {
        match self {
            CaError::RequestTooLarge { .. } => "CA_E001",
            CaError::MalformedRequest { .. } => "CA_E002",
            CaError::KeySourceCount { .. } => "CA_E003",
            CaError::InvalidBase64 { .. } => "CA_E004",
            CaError::MalformedPem { .. } => "CA_E005",
            CaError::UnsupportedKeyAlgorithm { .. } => "CA_E006",
            CaError::KeyAlgorithmMismatch { .. } => "CA_E007",
            CaError::InvalidPublicKey { .. } => "CA_E008",
            CaError::ProofOfPossessionInvalid { .. } => "CA_E009",
            CaError::MalformedCsr => "CA_E010",
            CaError::CsrSignatureInvalid { .. } => "CA_E011",
            CaError::IdentityInvalid { .. } => "CA_E012",
            CaError::ExtensionNotAllowed { .. } => "CA_E013",
            CaError::DuplicateExtension { .. } => "CA_E014",
            CaError::IssuerNotValid { .. } => "CA_E015",
            CaError::EncryptionKeyInvalid { .. } => "CA_E016",
            CaError::EnvelopeTruncated { .. } => "CA_E017",
            CaError::EnvelopeMagic => "CA_E018",
            CaError::EnvelopeVersion { .. } => "CA_E019",
            CaError::DecryptionFailed => "CA_E020",
            CaError::MaterialCorrupt { .. } => "CA_E021",
            CaError::Encoding { .. } => "CA_E022",
            CaError::SctInvalid { .. } => "CA_E023",
            CaError::Random => "CA_E024",
        }
    }

    /// True when the error was caused by the client's request (a 4xx at the HTTP edge).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            CaError::RequestTooLarge { .. }
                | CaError::MalformedRequest { .. }
                | CaError::KeySourceCount { .. }
                | CaError::InvalidBase64 { .. }
                | CaError::MalformedPem { .. }
                | CaError::UnsupportedKeyAlgorithm { .. }
                | CaError::KeyAlgorithmMismatch { .. }
                | CaError::InvalidPublicKey { .. }
                | CaError::ProofOfPossessionInvalid { .. }
                | CaError::MalformedCsr
                | CaError::CsrSignatureInvalid { .. }
                | CaError::IdentityInvalid { .. }
                | CaError::ExtensionNotAllowed { .. }
                | CaError::DuplicateExtension { .. }
        )
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = CaError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let errors = [
            CaError::MalformedCsr,
            CaError::EnvelopeMagic,
            CaError::DecryptionFailed,
            CaError::Random,
            CaError::KeySourceCount { found: 0 },
        ];
        let mut codes: Vec<_> = errors.iter().map(CaError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }
}
