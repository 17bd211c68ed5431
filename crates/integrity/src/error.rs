//! The crate's error type: one enum, structured variants, stable `INTEGRITY_E…` codes.

/// Everything that can go wrong in `vouch-integrity`. Codes are listed in the crate
/// documentation and never renumbered or reused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// `TOKEN_ENC_KEY` is not 64 hexadecimal characters.
    #[error(
        "{variable} must be {expected} hex characters (32 bytes), found {found} characters or non-hex input; make one with `vouch keygen token-enc-key --out FILE`"
    )]
    TokenEncKeyInvalid {
        /// The environment variable the value came from.
        variable: &'static str,
        /// Expected length in hex characters.
        expected: usize,
        /// Length found, in characters.
        found: usize,
    },
    /// The sealed signing key does not open: wrong `TOKEN_ENC_KEY`, or tampered material.
    #[error("the registry signing key does not decrypt under TOKEN_ENC_KEY (wrong key, or the stored material was modified)")]
    KeyDecryptionFailed,
    /// The stored envelope is not a valid sealed-key envelope (see `vouch_ca` for the code).
    #[error("the stored registry signing key is not a valid envelope ({ca_code})")]
    KeyEnvelopeInvalid {
        /// The `CA_E…` code the envelope layer reported.
        ca_code: &'static str,
    },
    /// The decrypted key material is not a 32-byte Ed25519 seed.
    #[error("decrypted registry signing key is {found} bytes, expected {expected}")]
    KeyMaterialCorrupt {
        /// Expected length in bytes.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Random,
    /// A number cannot appear in a signed document: records carry only integers in the
    /// I-JSON safe range (RFC 7493, Section 2.2), so no float formatting is ever signed.
    #[error("number {found} at {path} is not an integer in -(2^53-1)..=2^53-1")]
    NumberNotAllowed {
        /// JSON-pointer-like location of the number.
        path: String,
        /// The number as parsed.
        found: String,
    },
    /// Canonical serialisation failed (a non-finite number reached the serialiser).
    #[error("canonical JSON serialisation failed: {reason}")]
    Canonicalization {
        /// What the serialiser reported.
        reason: String,
    },
    /// A document exceeds its size cap.
    #[error("{what} is {found} bytes, over the cap of {limit}")]
    TooLarge {
        /// Which document.
        what: &'static str,
        /// The cap in bytes.
        limit: usize,
        /// The size found.
        found: usize,
    },
    /// A document is not the JSON shape expected (syntax, type, missing or unknown member).
    #[error("{what} is malformed at line {line}, column {column}: {detail}")]
    MalformedJson {
        /// Which document.
        what: &'static str,
        /// 1-based line (0 when not applicable).
        line: usize,
        /// 1-based column (0 when not applicable).
        column: usize,
        /// The parser's description.
        detail: String,
    },
    /// A JWK member has a value this registry does not use.
    #[error("key {index} in the key set has {member} {found:?}, expected {expected:?}")]
    JwkUnsupported {
        /// Position in `keys`.
        index: usize,
        /// The member (`kty`, `crv`, `use`, `alg`).
        member: &'static str,
        /// The only accepted value.
        expected: &'static str,
        /// The value found (or `<missing>`).
        found: String,
    },
    /// A JWK member this registry never emits (including private `d`).
    #[error("key {index} in the key set has unexpected member {member:?}")]
    JwkUnknownMember {
        /// Position in `keys`.
        index: usize,
        /// The member name.
        member: String,
    },
    /// A JWK's `x` is not unpadded base64url of a valid 32-byte Ed25519 public key.
    #[error("key {index} in the key set has an invalid Ed25519 public key in x")]
    JwkInvalidKey {
        /// Position in `keys`.
        index: usize,
    },
    /// The same kid appears twice in a key set.
    #[error("kid {kid} appears more than once in the key set")]
    DuplicateKid {
        /// The repeated kid.
        kid: String,
    },
    /// A JWK's kid is not the kid computed from its key.
    #[error("key set entry says kid {stated:?} but its key's kid is {computed}")]
    JwkKidMismatch {
        /// The kid in the JWK.
        stated: String,
        /// First 16 hex characters of SHA-256 of the raw public key.
        computed: String,
    },
    /// A key set with no keys.
    #[error("the key set has no keys")]
    EmptyKeySet,
    /// A compact JWS does not have exactly three dot-separated segments.
    #[error("compact JWS has {found} segments, expected {expected}")]
    JwsSegments {
        /// Always 3.
        expected: usize,
        /// Segments found.
        found: usize,
    },
    /// A JWS segment is not unpadded base64url (RFC 7515, Section 2).
    #[error("JWS {segment} is not unpadded base64url")]
    JwsBase64 {
        /// `header`, `payload` or `signature`.
        segment: &'static str,
    },
    /// The JWS header's `alg` is not `EdDSA`.
    #[error("JWS alg is {found:?}, expected {expected:?}")]
    AlgorithmNotAllowed {
        /// `EdDSA`.
        expected: &'static str,
        /// What the header said (or `<missing>`).
        found: String,
    },
    /// The JWS header's `typ` is not the integrity record type.
    #[error("JWS typ is {found:?}, expected {expected:?}")]
    TypeNotAllowed {
        /// [`crate::JWS_TYP`].
        expected: &'static str,
        /// What the header said (or `<missing>`).
        found: String,
    },
    /// The JWS header names a kid that is not in the key set.
    #[error("JWS kid {kid:?} is not in the registry key set")]
    UnknownKid {
        /// The kid from the header.
        kid: String,
    },
    /// The Ed25519 signature does not verify.
    #[error("JWS signature does not verify with key {kid}")]
    SignatureInvalid {
        /// The key tried.
        kid: String,
    },
    /// The payload is not the RFC 8785 canonical form of itself.
    #[error("JWS payload is not RFC 8785 canonical JSON ({found} bytes, canonical form is {expected} bytes)")]
    PayloadNotCanonical {
        /// Length of the canonical form.
        expected: usize,
        /// Length of the payload.
        found: usize,
    },
    /// The record's `v` is not 1.
    #[error("integrity record version is {found}, expected {expected}")]
    RecordVersion {
        /// 1.
        expected: u64,
        /// What the record said (or a description if not a number).
        found: String,
    },
    /// The record's kid differs from the JWS header's kid.
    #[error("record kid {record:?} differs from JWS header kid {header:?}")]
    RecordKidMismatch {
        /// Kid in the protected header.
        header: String,
        /// Kid in the payload.
        record: String,
    },
    /// A record field has a value outside its format.
    #[error("record field {field} is invalid: expected {expected}, found {found:?}")]
    RecordFieldInvalid {
        /// The field (dotted path).
        field: String,
        /// The required format.
        expected: &'static str,
        /// The value found (truncated to 80 characters).
        found: String,
    },
    /// Two assets in one record share a name.
    #[error("asset name {name:?} appears more than once in the record")]
    DuplicateAsset {
        /// The repeated name.
        name: String,
    },
    /// A downloaded asset's size differs from the record.
    #[error("asset {name:?} is {found} bytes, the record says {expected}")]
    AssetSize {
        /// Asset name.
        name: String,
        /// Size in the record.
        expected: u64,
        /// Size downloaded.
        found: u64,
    },
    /// A downloaded asset's digest differs from the record.
    #[error("asset {name:?} has {algorithm} {found}, the record says {expected}")]
    AssetDigest {
        /// Asset name.
        name: String,
        /// `sha256` or `blake3`.
        algorithm: &'static str,
        /// Digest in the record (hex).
        expected: String,
        /// Digest of the downloaded bytes (hex).
        found: String,
    },
    /// A key rotation to a key already in the set (current or retired).
    #[error("key {kid} is already in the key set; a rotation needs a fresh key")]
    RotationReusesKey {
        /// The kid of the offered key.
        kid: String,
    },
    /// The supplied inclusion proof or checkpoint does not prove the record is logged.
    #[error("transparency log proof for the record does not verify: {source}")]
    LogProof {
        /// The log library's error.
        #[source]
        source: vouch_tlog::Error,
    },
}

impl IntegrityError {
    /// The stable code for this error (see the table in the crate documentation).
    pub fn code(&self) -> &'static str {
        match self {
            IntegrityError::TokenEncKeyInvalid { .. } => "INTEGRITY_E001",
            IntegrityError::KeyDecryptionFailed => "INTEGRITY_E002",
            IntegrityError::KeyEnvelopeInvalid { .. } => "INTEGRITY_E003",
            IntegrityError::KeyMaterialCorrupt { .. } => "INTEGRITY_E004",
            IntegrityError::Random => "INTEGRITY_E005",
            IntegrityError::NumberNotAllowed { .. } => "INTEGRITY_E006",
            IntegrityError::Canonicalization { .. } => "INTEGRITY_E007",
            IntegrityError::TooLarge { .. } => "INTEGRITY_E008",
            IntegrityError::MalformedJson { .. } => "INTEGRITY_E009",
            IntegrityError::JwkUnsupported { .. } => "INTEGRITY_E010",
            IntegrityError::JwkUnknownMember { .. } => "INTEGRITY_E011",
            IntegrityError::JwkInvalidKey { .. } => "INTEGRITY_E012",
            IntegrityError::DuplicateKid { .. } => "INTEGRITY_E013",
            IntegrityError::JwkKidMismatch { .. } => "INTEGRITY_E014",
            IntegrityError::EmptyKeySet => "INTEGRITY_E015",
            IntegrityError::JwsSegments { .. } => "INTEGRITY_E016",
            IntegrityError::JwsBase64 { .. } => "INTEGRITY_E017",
            IntegrityError::AlgorithmNotAllowed { .. } => "INTEGRITY_E018",
            IntegrityError::TypeNotAllowed { .. } => "INTEGRITY_E019",
            IntegrityError::UnknownKid { .. } => "INTEGRITY_E020",
            IntegrityError::SignatureInvalid { .. } => "INTEGRITY_E021",
            IntegrityError::PayloadNotCanonical { .. } => "INTEGRITY_E022",
            IntegrityError::RecordVersion { .. } => "INTEGRITY_E023",
            IntegrityError::RecordKidMismatch { .. } => "INTEGRITY_E024",
            IntegrityError::RecordFieldInvalid { .. } => "INTEGRITY_E025",
            IntegrityError::DuplicateAsset { .. } => "INTEGRITY_E026",
            IntegrityError::AssetSize { .. } => "INTEGRITY_E027",
            IntegrityError::AssetDigest { .. } => "INTEGRITY_E028",
            IntegrityError::RotationReusesKey { .. } => "INTEGRITY_E029",
            IntegrityError::LogProof { .. } => crate::codes::LOG_PROOF,
        }
    }

    /// A `MalformedJson` from a `serde_json` error.
    pub(crate) fn json(what: &'static str, err: &serde_json::Error) -> Self {
        IntegrityError::MalformedJson {
            what,
            line: err.line(),
            column: err.column(),
            detail: err.to_string(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = IntegrityError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let errors = [
            IntegrityError::KeyDecryptionFailed,
            IntegrityError::Random,
            IntegrityError::EmptyKeySet,
            IntegrityError::KeyEnvelopeInvalid { ca_code: "CA_E018" },
            IntegrityError::JwsSegments {
                expected: 3,
                found: 2,
            },
            IntegrityError::JwsBase64 { segment: "header" },
            IntegrityError::LogProof {
                source: vouch_tlog::Error::Hex,
            },
        ];
        let mut codes: Vec<_> = errors.iter().map(IntegrityError::code).collect();
        assert!(codes
            .iter()
            .all(|c| c.starts_with("INTEGRITY_E") && c.len() == 14));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }

    #[test]
    fn token_enc_key_message_says_how_to_make_one() {
        let err = IntegrityError::TokenEncKeyInvalid {
            variable: "TOKEN_ENC_KEY",
            expected: 64,
            found: 3,
        };
        let text = err.to_string();
        assert!(text.contains("TOKEN_ENC_KEY"), "{text}");
        assert!(text.contains("vouch keygen token-enc-key"), "{text}");
    }
}
