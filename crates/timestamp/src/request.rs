//! Parsing and validating an RFC 3161 `TimeStampReq` (§2.4.1) from untrusted DER.

use const_oid::db::rfc5912::{ID_SHA_256, ID_SHA_384, ID_SHA_512};
use der::asn1::Int;
use der::Decode;
use spki::ObjectIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq};

use crate::error::{Result, TsaError};

/// Cap on a request: a SHA-512 request with a 32-byte nonce and a policy is ~150 bytes.
pub const MAX_REQUEST_BYTES: usize = 4096;
/// Cap on the nonce: RFC 3161 nonces are "large random numbers" (64–160 bits in practice).
pub const MAX_NONCE_BYTES: usize = 32;

/// Hash algorithms accepted in the message imprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        match oid {
            ID_SHA_256 => Some(Self::Sha256),
            ID_SHA_384 => Some(Self::Sha384),
            ID_SHA_512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }
}

/// A validated timestamp request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRequest {
    pub(crate) message_imprint: MessageImprint,
    hash_algorithm: HashAlgorithm,
    pub(crate) policy: Option<ObjectIdentifier>,
    pub(crate) nonce: Option<Int>,
    cert_req: bool,
}

impl TimestampRequest {
    /// Parses and validates a DER `TimeStampReq`: size cap, version 1, SHA-2 imprint of
    /// the right length, nonce cap, no extensions. The policy is checked by the TSA.
    pub fn from_der(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(TsaError::RequestTooLarge {
                limit: MAX_REQUEST_BYTES,
                found: bytes.len(),
            });
        }
        let request = TimeStampReq::from_der(bytes).map_err(|e| TsaError::MalformedRequest {
            position: e
                .position()
                .and_then(|p| usize::try_from(u32::from(p)).ok())
                .unwrap_or(0),
        })?;
        let algorithm = &request.message_imprint.hash_algorithm;
        let hash_algorithm = HashAlgorithm::from_oid(algorithm.oid).ok_or_else(|| {
            TsaError::UnsupportedHashAlgorithm {
                found: algorithm.oid.to_string(),
            }
        })?;
        // RFC 5754 §2: SHA-2 parameters are absent, but NULL is widespread (OpenSSL
        // sends it); anything else is malformed.
        if let Some(params) = &algorithm.parameters {
            if !params.is_null() {
                return Err(TsaError::MalformedRequest { position: 0 });
            }
        }
        let found = request.message_imprint.hashed_message.as_bytes().len();
        if found != hash_algorithm.digest_len() {
            return Err(TsaError::DigestLength {
                algorithm: hash_algorithm.name(),
                expected: hash_algorithm.digest_len(),
                found,
            });
        }
        if let Some(nonce) = &request.nonce {
            let len = nonce.as_bytes().len();
            if len > MAX_NONCE_BYTES {
                return Err(TsaError::NonceTooLong {
                    limit: MAX_NONCE_BYTES,
                    found: len,
                });
            }
        }
        if let Some(first) = request.extensions.as_ref().and_then(|e| e.first()) {
            return Err(TsaError::UnacceptedExtension {
                oid: first.extn_id.to_string(),
            });
        }
        Ok(Self {
            hash_algorithm,
            policy: request.req_policy,
            nonce: request.nonce,
            cert_req: request.cert_req,
            message_imprint: request.message_imprint,
        })
    }

    /// The imprint's hash algorithm.
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }

    /// The hashed message.
    pub fn hashed_message(&self) -> &[u8] {
        self.message_imprint.hashed_message.as_bytes()
    }

    /// The requested policy, if any.
    pub fn policy(&self) -> Option<ObjectIdentifier> {
        self.policy
    }

    /// The nonce's big-endian two's-complement bytes, if any.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_ref().map(Int::as_bytes)
    }

    /// Whether the TSA certificate must be included in the token.
    pub fn cert_req(&self) -> bool {
        self.cert_req
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::OctetString;
    use der::{Any, Encode};
    use spki::AlgorithmIdentifierOwned;
    use x509_tsp::TspVersion;

    pub(crate) fn request(oid: ObjectIdentifier, digest: Vec<u8>, nonce: Option<&[u8]>) -> Vec<u8> {
        TimeStampReq {
            version: TspVersion::V1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid,
                    parameters: Some(Any::null()),
                },
                hashed_message: OctetString::new(digest).unwrap(),
            },
            req_policy: None,
            nonce: nonce.map(|n| Int::new(n).unwrap()),
            cert_req: true,
            extensions: None,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn valid_request_parses() {
        let der = request(ID_SHA_384, vec![1; 48], Some(&[0x12, 0x34]));
        let parsed = TimestampRequest::from_der(&der).unwrap();
        assert_eq!(parsed.hash_algorithm(), HashAlgorithm::Sha384);
        assert_eq!(parsed.nonce(), Some(&[0x12, 0x34][..]));
        assert!(parsed.cert_req());
    }

    #[test]
    fn wrong_digest_length_and_algorithm() {
        let der = request(ID_SHA_256, vec![1; 20], None);
        let err = TimestampRequest::from_der(&der).unwrap_err();
        assert!(matches!(
            err,
            TsaError::DigestLength {
                expected: 32,
                found: 20,
                ..
            }
        ));
        assert_eq!(err.code(), "TSA_E004");
        let sha1 = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
        let err = TimestampRequest::from_der(&request(sha1, vec![1; 20], None)).unwrap_err();
        assert!(matches!(err, TsaError::UnsupportedHashAlgorithm { .. }));
    }

    #[test]
    fn oversized_and_garbage_requests() {
        let err = TimestampRequest::from_der(&vec![0x30; MAX_REQUEST_BYTES + 1]).unwrap_err();
        assert!(matches!(err, TsaError::RequestTooLarge { .. }));
        assert_eq!(err.code(), "TSA_E001");
        let err = TimestampRequest::from_der(b"\x30\x03\x02\x01\x02").unwrap_err();
        assert!(matches!(err, TsaError::MalformedRequest { .. }));
        let long_nonce = vec![0x11; MAX_NONCE_BYTES + 1];
        let err = TimestampRequest::from_der(&request(ID_SHA_256, vec![0; 32], Some(&long_nonce)))
            .unwrap_err();
        assert!(matches!(err, TsaError::NonceTooLong { .. }));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = TimestampRequest::from_der(&bytes);
        }

        #[test]
        fn mutated_valid_requests_never_panic(index in 0usize..64, value in proptest::num::u8::ANY) {
            let mut der = request(ID_SHA_256, vec![3; 32], Some(&[1, 2, 3, 4, 5, 6, 7, 8]));
            let i = index % der.len();
            der[i] = value;
            let _ = TimestampRequest::from_der(&der);
        }
    }
}
