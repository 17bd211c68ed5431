//! The verifier of a proposed entry: `keyDetails`, the public key taken from an X.509 certificate or a PKIX key, and signature checks over a digest or a message.
//!
//! Supported (Sigstore algorithm registry names):
//! - `PKIX_ECDSA_P256_SHA_256`, `PKIX_ECDSA_P384_SHA_384`, `PKIX_ECDSA_P521_SHA_512`:
//!   ASN.1 DER signatures. Over a digest (hashedrekord) the digest may be the key's own
//!   hash or SHA-256, because sigstore-python signs artifacts with SHA-256 whatever the
//!   curve and hashes DSSE PAE with the curve's hash; the length says which.
//! - `PKIX_ED25519`: pure Ed25519, which signs the message itself, so it is accepted
//!   only where the log sees the message (DSSE). A hashedrekord carries only a digest
//!   and cannot be checked against a pure Ed25519 signature.
//!
//! Verification uses aws-lc-rs (several times faster than the RustCrypto crates for
//! ECDSA, which matters at thousands of entries per second). The certificate is parsed
//! with `x509-cert` only to reach its SubjectPublicKeyInfo; the log does not judge the
//! chain, as Rekor does not: verifiers check it against their trust root.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use der::Decode;
use spki::ObjectIdentifier;

use super::RekorError;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// The `keyDetails` values this log accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDetails {
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    EcdsaP521Sha512,
    Ed25519,
}

const SUPPORTED: &str =
    "PKIX_ECDSA_P256_SHA_256, PKIX_ECDSA_P384_SHA_384, PKIX_ECDSA_P521_SHA_512, PKIX_ED25519";

impl KeyDetails {
    pub fn parse(s: &str) -> Result<Self, RekorError> {
        Ok(match s {
            "PKIX_ECDSA_P256_SHA_256" => KeyDetails::EcdsaP256Sha256,
            "PKIX_ECDSA_P384_SHA_384" => KeyDetails::EcdsaP384Sha384,
            "PKIX_ECDSA_P521_SHA_512" => KeyDetails::EcdsaP521Sha512,
            "PKIX_ED25519" => KeyDetails::Ed25519,
            other => {
                return Err(RekorError::UnsupportedKeyDetails {
                    found: other.chars().take(64).collect(),
                    context: "by this log",
                    expected: SUPPORTED,
                })
            }
        })
    }

    /// The wire name, as written back into the canonical entry.
    pub fn name(self) -> &'static str {
        match self {
            KeyDetails::EcdsaP256Sha256 => "PKIX_ECDSA_P256_SHA_256",
            KeyDetails::EcdsaP384Sha384 => "PKIX_ECDSA_P384_SHA_384",
            KeyDetails::EcdsaP521Sha512 => "PKIX_ECDSA_P521_SHA_512",
            KeyDetails::Ed25519 => "PKIX_ED25519",
        }
    }

    fn curve(self) -> Curve {
        match self {
            KeyDetails::EcdsaP256Sha256 => Curve::P256,
            KeyDetails::EcdsaP384Sha384 => Curve::P384,
            KeyDetails::EcdsaP521Sha512 => Curve::P521,
            KeyDetails::Ed25519 => Curve::Ed25519,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
    Ed25519,
}

impl Curve {
    fn name(self) -> &'static str {
        match self {
            Curve::P256 => "ECDSA P-256",
            Curve::P384 => "ECDSA P-384",
            Curve::P521 => "ECDSA P-521",
            Curve::Ed25519 => "Ed25519",
        }
    }
}

/// A digest's hash algorithm, named as in the canonical entry's `data.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "SHA2_256",
            HashAlg::Sha384 => "SHA2_384",
            HashAlg::Sha512 => "SHA2_512",
        }
    }

    fn aws(self) -> &'static digest::Algorithm {
        match self {
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
        }
    }
}

/// A public key whose algorithm agrees with its declared `keyDetails`.
#[derive(Debug, Clone)]
pub struct VerifierKey {
    details: KeyDetails,
    /// The raw key: an uncompressed EC point, or the 32 Ed25519 bytes.
    raw: Vec<u8>,
}

impl VerifierKey {
    /// The key of a DER X.509 certificate.
    pub fn from_certificate(der: &[u8], details: KeyDetails) -> Result<Self, RekorError> {
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| RekorError::BadVerifier {
            what: "x509Certificate.rawBytes",
            reason: format!("not a DER X.509 certificate ({e})"),
        })?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let params = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        let bits = spki.subject_public_key.as_bytes().unwrap_or_default();
        Self::from_parts(spki.algorithm.oid, params, bits, details, "certificate key")
    }

    /// A DER SubjectPublicKeyInfo (the `publicKey.rawBytes` verifier).
    pub fn from_spki(der: &[u8], details: KeyDetails) -> Result<Self, RekorError> {
        let spki =
            spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| RekorError::BadVerifier {
                what: "publicKey.rawBytes",
                reason: format!("not a DER SubjectPublicKeyInfo ({e})"),
            })?;
        let params = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        let bits = spki.subject_public_key.as_bytes().unwrap_or_default();
        Self::from_parts(spki.algorithm.oid, params, bits, details, "public key")
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "bits[0] is read only when bits.len() == expected_len >= 32"
    )]
    fn from_parts(
        oid: ObjectIdentifier,
        params: Option<ObjectIdentifier>,
        bits: &[u8],
        details: KeyDetails,
        what: &'static str,
    ) -> Result<Self, RekorError> {
        let curve = match (oid, params) {
            (OID_EC_PUBLIC_KEY, Some(OID_P256)) => Curve::P256,
            (OID_EC_PUBLIC_KEY, Some(OID_P384)) => Curve::P384,
            (OID_EC_PUBLIC_KEY, Some(OID_P521)) => Curve::P521,
            (OID_ED25519, None) => Curve::Ed25519,
            _ => {
                return Err(RekorError::BadVerifier {
                    what,
                    reason: format!("algorithm {oid} is not ECDSA P-256/P-384/P-521 or Ed25519"),
                })
            }
        };
        if curve != details.curve() {
            return Err(RekorError::KeyDetailsMismatch {
                declared: details.name(),
                found: curve.name(),
            });
        }
        let expected_len = match curve {
            Curve::P256 => 65,
            Curve::P384 => 97,
            Curve::P521 => 133,
            Curve::Ed25519 => 32,
        };
        if bits.len() != expected_len || (curve != Curve::Ed25519 && bits[0] != 0x04) {
            return Err(RekorError::BadVerifier {
                what,
                reason: format!(
                    "{} key of {} bytes is not an uncompressed key of {expected_len} bytes",
                    curve.name(),
                    bits.len()
                ),
            });
        }
        Ok(VerifierKey {
            details,
            raw: bits.to_vec(),
        })
    }

    pub fn details(&self) -> KeyDetails {
        self.details
    }

    /// The hash algorithm a hashedrekord digest of `len` bytes was made with, for this
    /// key; refuses lengths the key cannot have signed and pure Ed25519.
    pub fn digest_alg(&self, len: usize) -> Result<HashAlg, RekorError> {
        let (native, expected) = match self.details {
            KeyDetails::EcdsaP256Sha256 => (HashAlg::Sha256, "32 (SHA-256)"),
            KeyDetails::EcdsaP384Sha384 => (HashAlg::Sha384, "48 (SHA-384) or 32 (SHA-256)"),
            KeyDetails::EcdsaP521Sha512 => (HashAlg::Sha512, "64 (SHA-512) or 32 (SHA-256)"),
            KeyDetails::Ed25519 => {
                return Err(RekorError::UnsupportedKeyDetails {
                    found: "PKIX_ED25519".into(),
                    context: "for a hashedrekord (pure Ed25519 signs the message, not a digest; use a DSSE request)",
                    expected: "PKIX_ECDSA_P256_SHA_256, PKIX_ECDSA_P384_SHA_384, PKIX_ECDSA_P521_SHA_512",
                })
            }
        };
        let alg = match len {
            32 => HashAlg::Sha256,
            48 => HashAlg::Sha384,
            64 => HashAlg::Sha512,
            _ => HashAlg::Sha256,
        };
        if alg.aws().output_len() != len || (alg != native && alg != HashAlg::Sha256) {
            return Err(RekorError::DigestLength {
                key_details: self.details.name(),
                expected,
                found: len,
            });
        }
        Ok(alg)
    }

    /// Checks an ECDSA signature over a digest made with `alg` (see [`Self::digest_alg`]).
    pub fn verify_digest(&self, alg: HashAlg, digest: &[u8], sig: &[u8]) -> bool {
        let Some(v) = self.ecdsa_alg(alg) else {
            return false;
        };
        let Ok(d) = digest::Digest::import_less_safe(digest, alg.aws()) else {
            return false;
        };
        UnparsedPublicKey::new(v, &self.raw)
            .verify_digest(&d, sig)
            .is_ok()
    }

    /// Checks a signature over `message`: ECDSA with the key's own hash, or pure Ed25519.
    pub fn verify_message(&self, message: &[u8], sig: &[u8]) -> bool {
        let v: &'static dyn VerificationAlgorithm = match self.details {
            KeyDetails::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
            KeyDetails::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
            KeyDetails::EcdsaP521Sha512 => &signature::ECDSA_P521_SHA512_ASN1,
            KeyDetails::Ed25519 => &signature::ED25519,
        };
        UnparsedPublicKey::new(v, &self.raw)
            .verify(message, sig)
            .is_ok()
    }

    fn ecdsa_alg(&self, alg: HashAlg) -> Option<&'static dyn VerificationAlgorithm> {
        Some(match (self.details, alg) {
            (KeyDetails::EcdsaP256Sha256, HashAlg::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
            (KeyDetails::EcdsaP384Sha384, HashAlg::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
            (KeyDetails::EcdsaP384Sha384, HashAlg::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
            (KeyDetails::EcdsaP521Sha512, HashAlg::Sha256) => &signature::ECDSA_P521_SHA256_ASN1,
            (KeyDetails::EcdsaP521Sha512, HashAlg::Sha512) => &signature::ECDSA_P521_SHA512_ASN1,
            _ => return None,
        })
    }
}
