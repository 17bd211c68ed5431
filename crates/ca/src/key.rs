//! Subject public keys from signing requests, and the proof that the requester holds the
//! private key: a signature over the identity's challenge string (Fulcio's
//! `proofOfPossession`), or a PKCS#10 CSR's self-signature.
//!
//! [`ProvenPublicKey`] can only be obtained through one of those checks, so the CA cannot
//! be asked to certify a key nobody proved to hold.

use const_oid::db::rfc5912::{
    ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512, ID_EC_PUBLIC_KEY, SECP_256_R_1,
    SECP_384_R_1,
};
use der::{Decode, Encode, Reader, SliceReader};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::request::CertReq;

use crate::error::{CaError, Result};

/// Ed25519 (RFC 8410).
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// The key algorithms the CA certifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

impl KeyAlgorithm {
    /// Human name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ECDSA P-256",
            KeyAlgorithm::EcdsaP384 => "ECDSA P-384",
            KeyAlgorithm::Ed25519 => "Ed25519",
        }
    }
}

#[derive(Clone)]
enum Verifier {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Digest used before an ECDSA verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(message).to_vec(),
            Hash::Sha384 => Sha384::digest(message).to_vec(),
            Hash::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

/// A parsed, validated subject public key (not yet proven to be held by anyone).
#[derive(Clone)]
pub struct SubjectPublicKey {
    algorithm: KeyAlgorithm,
    /// Uncompressed SEC1 point of an ECDSA key (what aws-lc-rs verifies with).
    point: Vec<u8>,
    spki: SubjectPublicKeyInfoOwned,
    verifier: Verifier,
}

impl std::fmt::Debug for SubjectPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectPublicKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SubjectPublicKey {
    /// Validates a SubjectPublicKeyInfo: P-256, P-384 or Ed25519, with a valid point.
    pub fn from_spki(spki: SubjectPublicKeyInfoOwned) -> Result<Self> {
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or(CaError::InvalidPublicKey {
                algorithm: "subjectPublicKey with unused bits",
            })?;
        let (algorithm, verifier) = match spki.algorithm.oid {
            ID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                    .ok_or_else(|| CaError::UnsupportedKeyAlgorithm {
                        found: format!("{} without a named curve", ID_EC_PUBLIC_KEY),
                    })?;
                match curve {
                    SECP_256_R_1 => (
                        KeyAlgorithm::EcdsaP256,
                        Verifier::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(raw).map_err(
                            |_| CaError::InvalidPublicKey {
                                algorithm: KeyAlgorithm::EcdsaP256.name(),
                            },
                        )?),
                    ),
                    SECP_384_R_1 => (
                        KeyAlgorithm::EcdsaP384,
                        Verifier::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(raw).map_err(
                            |_| CaError::InvalidPublicKey {
                                algorithm: KeyAlgorithm::EcdsaP384.name(),
                            },
                        )?),
                    ),
                    other => {
                        return Err(CaError::UnsupportedKeyAlgorithm {
                            found: format!("{ID_EC_PUBLIC_KEY} on curve {other}"),
                        })
                    }
                }
            }
            ID_ED25519 => {
                if spki.algorithm.parameters.is_some() {
                    return Err(CaError::InvalidPublicKey {
                        algorithm: KeyAlgorithm::Ed25519.name(),
                    });
                }
                let bytes: [u8; 32] = raw.try_into().map_err(|_| CaError::InvalidPublicKey {
                    algorithm: KeyAlgorithm::Ed25519.name(),
                })?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| {
                    CaError::InvalidPublicKey {
                        algorithm: KeyAlgorithm::Ed25519.name(),
                    }
                })?;
                (KeyAlgorithm::Ed25519, Verifier::Ed25519(key))
            }
            other => {
                return Err(CaError::UnsupportedKeyAlgorithm {
                    found: other.to_string(),
                })
            }
        };
        let point = match &verifier {
            Verifier::P256(key) => key.to_encoded_point(false).as_bytes().to_vec(),
            Verifier::P384(key) => key.to_encoded_point(false).as_bytes().to_vec(),
            Verifier::Ed25519(_) => Vec::new(),
        };
        Ok(Self {
            algorithm,
            point,
            spki,
            verifier,
        })
    }

    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) document. Like Fulcio, content
    /// without PEM armour is also tried as base64 of the DER SubjectPublicKeyInfo.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let malformed = CaError::MalformedPem {
            field: "publicKeyRequest.publicKey.content",
            expected_label: "PUBLIC KEY",
        };
        if !pem.contains("-----BEGIN") {
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD
                .decode(pem.trim())
                .map_err(|_| malformed)?;
            let spki =
                SubjectPublicKeyInfoOwned::from_der(&der).map_err(|_| CaError::MalformedPem {
                    field: "publicKeyRequest.publicKey.content",
                    expected_label: "PUBLIC KEY",
                })?;
            return Self::from_spki(spki);
        }
        let (label, der) = pem_rfc7468_decode(pem).ok_or(malformed)?;
        if label != "PUBLIC KEY" {
            return Err(CaError::MalformedPem {
                field: "publicKeyRequest.publicKey.content",
                expected_label: "PUBLIC KEY",
            });
        }
        let spki =
            SubjectPublicKeyInfoOwned::from_der(&der).map_err(|_| CaError::MalformedPem {
                field: "publicKeyRequest.publicKey.content",
                expected_label: "PUBLIC KEY",
            })?;
        Self::from_spki(spki)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The SubjectPublicKeyInfo to certify.
    pub fn spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }

    fn verify_ecdsa(&self, hash: Hash, message: &[u8], signature_der: &[u8]) -> bool {
        use aws_lc_rs::signature as alc;
        // aws-lc-rs for every combination it offers (the fast path); RustCrypto for
        // the rest.
        let algorithm: Option<&'static alc::EcdsaVerificationAlgorithm> =
            match (&self.verifier, hash) {
                (Verifier::P256(_), Hash::Sha256) => Some(&alc::ECDSA_P256_SHA256_ASN1),
                (Verifier::P256(_), Hash::Sha384) => Some(&alc::ECDSA_P256_SHA384_ASN1),
                (Verifier::P256(_), Hash::Sha512) => Some(&alc::ECDSA_P256_SHA512_ASN1),
                (Verifier::P384(_), Hash::Sha256) => Some(&alc::ECDSA_P384_SHA256_ASN1),
                (Verifier::P384(_), Hash::Sha384) => Some(&alc::ECDSA_P384_SHA384_ASN1),
                _ => None,
            };
        match algorithm {
            Some(algorithm) => alc::UnparsedPublicKey::new(algorithm, &self.point)
                .verify(message, signature_der)
                .is_ok(),
            None => self.verify_ecdsa_rustcrypto(hash, message, signature_der),
        }
    }

    fn verify_ecdsa_rustcrypto(&self, hash: Hash, message: &[u8], signature_der: &[u8]) -> bool {
        let digest = hash.digest(message);
        match &self.verifier {
            Verifier::P256(key) => p256::ecdsa::DerSignature::try_from(signature_der)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
            Verifier::P384(key) => p384::ecdsa::DerSignature::try_from(signature_der)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
            Verifier::Ed25519(_) => false,
        }
    }

    fn verify_ed25519(&self, message: &[u8], signature: &[u8]) -> bool {
        let Verifier::Ed25519(key) = &self.verifier else {
            return false;
        };
        ed25519_dalek::Signature::from_slice(signature)
            .map(|sig| key.verify_strict(message, &sig).is_ok())
            .unwrap_or(false)
    }

    /// Checks Fulcio's proof of possession: `signature` over the UTF-8 bytes of
    /// `challenge` (the token's `sub`, or its email for email identities).
    ///
    /// ECDSA signatures are ASN.1 DER; P-256 uses SHA-256, P-384 SHA-384 (SHA-256 is
    /// also accepted for P-384, as some clients hash with it). Ed25519 is pure Ed25519.
    pub fn prove_with_signature(
        self,
        challenge: &str,
        signature: &[u8],
    ) -> Result<ProvenPublicKey> {
        let message = challenge.as_bytes();
        let ok = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => self.verify_ecdsa(Hash::Sha256, message, signature),
            KeyAlgorithm::EcdsaP384 => {
                self.verify_ecdsa(Hash::Sha384, message, signature)
                    || self.verify_ecdsa(Hash::Sha256, message, signature)
            }
            KeyAlgorithm::Ed25519 => self.verify_ed25519(message, signature),
        };
        if ok {
            Ok(ProvenPublicKey { key: self })
        } else {
            Err(CaError::ProofOfPossessionInvalid {
                algorithm: self.algorithm.name(),
            })
        }
    }
}

/// A PKCS#10 certificate signing request whose structure parsed; its self-signature is
/// checked by [`Csr::prove`].
#[derive(Clone)]
pub struct Csr {
    info_der: Vec<u8>,
    signature_algorithm: ObjectIdentifier,
    signature: Vec<u8>,
    key: SubjectPublicKey,
}

impl std::fmt::Debug for Csr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csr")
            .field("key", &self.key)
            .field("signature_algorithm", &self.signature_algorithm)
            .finish_non_exhaustive()
    }
}

impl Csr {
    /// Parses a CSR from DER. The subject, attributes and requested extensions are
    /// ignored, as Fulcio ignores them: the CA decides the certificate's content.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let request = CertReq::from_der(der).map_err(|_| CaError::MalformedCsr)?;
        // The signature covers the CertificationRequestInfo bytes exactly as sent, so
        // take them from the input rather than re-encoding the parsed value.
        let info_der = first_element_bytes(der).ok_or(CaError::MalformedCsr)?;
        let signature = request
            .signature
            .as_bytes()
            .ok_or(CaError::MalformedCsr)?
            .to_vec();
        let key = SubjectPublicKey::from_spki(request.info.public_key)?;
        Ok(Self {
            info_der,
            signature_algorithm: request.algorithm.oid,
            signature,
            key,
        })
    }

    /// Parses a CSR from PEM (`CERTIFICATE REQUEST`, or the legacy `NEW CERTIFICATE
    /// REQUEST` label).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let malformed = CaError::MalformedPem {
            field: "certificateSigningRequest",
            expected_label: "CERTIFICATE REQUEST",
        };
        let (label, der) = pem_rfc7468_decode(pem).ok_or(malformed)?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(CaError::MalformedPem {
                field: "certificateSigningRequest",
                expected_label: "CERTIFICATE REQUEST",
            });
        }
        Self::from_der(&der)
    }

    /// The requested key's algorithm.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key.algorithm
    }

    /// Verifies the CSR's self-signature, proving possession of its key.
    pub fn prove(self) -> Result<ProvenPublicKey> {
        let ok = match (self.key.algorithm, self.signature_algorithm) {
            (KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384, ECDSA_WITH_SHA_256) => self
                .key
                .verify_ecdsa(Hash::Sha256, &self.info_der, &self.signature),
            (KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384, ECDSA_WITH_SHA_384) => self
                .key
                .verify_ecdsa(Hash::Sha384, &self.info_der, &self.signature),
            (KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384, ECDSA_WITH_SHA_512) => self
                .key
                .verify_ecdsa(Hash::Sha512, &self.info_der, &self.signature),
            (KeyAlgorithm::Ed25519, ID_ED25519) => {
                self.key.verify_ed25519(&self.info_der, &self.signature)
            }
            _ => false,
        };
        if ok {
            Ok(ProvenPublicKey { key: self.key })
        } else {
            Err(CaError::CsrSignatureInvalid {
                algorithm: self.signature_algorithm.to_string(),
            })
        }
    }
}

/// A public key whose holder proved possession of the private key. Only the checks in
/// this module construct one.
#[derive(Debug, Clone)]
pub struct ProvenPublicKey {
    key: SubjectPublicKey,
}

impl ProvenPublicKey {
    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.key.algorithm
    }

    /// The SubjectPublicKeyInfo to certify.
    pub fn spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.key.spki
    }

    /// DER of the SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        self.key
            .spki
            .to_der()
            .map_err(|_| CaError::Encoding { what: "public key" })
    }
}

/// The complete TLV bytes of the first of the three elements of a signed structure's
/// outer SEQUENCE (`{ toBeSigned, signatureAlgorithm, signature }`).
fn first_element_bytes(der: &[u8]) -> Option<Vec<u8>> {
    let mut reader = SliceReader::new(der).ok()?;
    reader
        .sequence(|inner| {
            let signed = inner.tlv_bytes()?;
            // `sequence` requires the nested content to be consumed entirely.
            inner.tlv_bytes()?;
            inner.tlv_bytes()?;
            Ok(signed.to_vec())
        })
        .ok()
}

/// Strict RFC 7468 decoding of a single PEM document, returning (label, DER).
fn pem_rfc7468_decode(pem: &str) -> Option<(String, Vec<u8>)> {
    let (label, der) = der::pem::decode_vec(pem.trim().as_bytes()).ok()?;
    Some((label.to_owned(), der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    fn p256_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::random(&mut rand_core::OsRng)
    }

    fn sign_p256(key: &p256::ecdsa::SigningKey, msg: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::DerSignature = key.sign(msg);
        sig.as_bytes().to_vec()
    }

    /// A P-256 CSR produced by OpenSSL (`openssl req -new -sha256`, subject
    /// `emailAddress=someone@example.com`, basicConstraints CA:FALSE requested).
    fn sample_csr() -> Vec<u8> {
        let pem = "-----BEGIN CERTIFICATE REQUEST-----
MIH/MIGlAgEAMCQxIjAgBgkqhkiG9w0BCQEWE3NvbWVvbmVAZXhhbXBsZS5jb20w
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQGJ1pzBdcrGq2Qyj3WT0lzzsi/kVWJ
2ZGyNOL/XweYrZxgS+yNGpPLJdxApWx3LZat8M9k4SMZDjKDsHftLMfToB8wHQYJ
KoZIhvcNAQkOMRAwDjAMBgNVHRMBAf8EAjAAMAoGCCqGSM49BAMCA0kAMEYCIQCz
qarR035mygMkw0IYuCsxF3C5IHEObWx+GE8viRacIAIhAN2Xwm7a4MiJGbZFp4gM
RmZHwMLqtzqLr9g7piLUjr/S
-----END CERTIFICATE REQUEST-----";
        der::pem::decode_vec(pem.as_bytes()).expect("test vector").1
    }

    #[test]
    fn openssl_csr_vector_proves() {
        let csr = Csr::from_der(&sample_csr()).unwrap();
        assert_eq!(csr.key_algorithm(), KeyAlgorithm::EcdsaP256);
        csr.prove().unwrap();
    }

    #[test]
    fn p256_proof_of_possession() {
        let key = p256_key();
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let spk = SubjectPublicKey::from_pem(&pem).unwrap();
        assert_eq!(spk.algorithm(), KeyAlgorithm::EcdsaP256);
        let proof = sign_p256(&key, b"repo:octo/demo:ref:refs/heads/main");
        assert!(spk
            .clone()
            .prove_with_signature("repo:octo/demo:ref:refs/heads/main", &proof)
            .is_ok());
        let err = spk
            .prove_with_signature("someone-else", &proof)
            .unwrap_err();
        assert!(matches!(
            err,
            CaError::ProofOfPossessionInvalid {
                algorithm: "ECDSA P-256"
            }
        ));
        assert_eq!(err.code(), "CA_E009");
    }

    #[test]
    fn p384_and_ed25519_proofs() {
        use p384::ecdsa::signature::Signer;
        let key = p384::ecdsa::SigningKey::random(&mut rand_core::OsRng);
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let spk = SubjectPublicKey::from_pem(&pem).unwrap();
        assert_eq!(spk.algorithm(), KeyAlgorithm::EcdsaP384);
        let sig: p384::ecdsa::DerSignature = key.sign(b"sub");
        assert!(spk.prove_with_signature("sub", sig.as_bytes()).is_ok());

        let ed = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let pem = ed
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let spk = SubjectPublicKey::from_pem(&pem).unwrap();
        assert_eq!(spk.algorithm(), KeyAlgorithm::Ed25519);
        let sig = ed25519_dalek::Signer::sign(&ed, b"sub");
        assert!(spk
            .clone()
            .prove_with_signature("sub", &sig.to_bytes())
            .is_ok());
        assert!(matches!(
            spk.prove_with_signature("sub2", &sig.to_bytes()),
            Err(CaError::ProofOfPossessionInvalid {
                algorithm: "Ed25519"
            })
        ));
    }

    #[test]
    fn unsupported_algorithm_is_refused() {
        // An RSA SubjectPublicKeyInfo (rsaEncryption OID with a dummy key).
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: spki::AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
                parameters: Some(der::Any::null()),
            },
            subject_public_key: der::asn1::BitString::from_bytes(&[0x30, 0x00]).unwrap(),
        };
        let err = SubjectPublicKey::from_spki(spki).unwrap_err();
        assert!(
            matches!(err, CaError::UnsupportedKeyAlgorithm { ref found } if found == "1.2.840.113549.1.1.1")
        );
        assert_eq!(err.code(), "CA_E006");
    }

    #[test]
    fn malformed_pem_is_refused() {
        let err =
            SubjectPublicKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----")
                .unwrap_err();
        assert!(matches!(err, CaError::MalformedPem { .. }));
        assert!(matches!(
            SubjectPublicKey::from_pem("not pem at all"),
            Err(CaError::MalformedPem { .. })
        ));
        // Unarmoured base64 DER is accepted, as by Fulcio.
        let key = p256_key();
        let der = key.verifying_key().to_public_key_der().unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        assert!(SubjectPublicKey::from_pem(&b64).is_ok());
        let key = p256_key();
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let relabelled = pem.replace("PUBLIC KEY", "CERTIFICATE");
        assert!(matches!(
            SubjectPublicKey::from_pem(&relabelled),
            Err(CaError::MalformedPem { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn csr_parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Ok(csr) = Csr::from_der(&bytes) {
                let _ = csr.prove();
            }
        }

        #[test]
        fn mutated_csr_never_panics(index in 0usize..400, value in proptest::num::u8::ANY) {
            let mut der = sample_csr();
            let i = index % der.len();
            der[i] = value;
            if let Ok(csr) = Csr::from_der(&der) {
                let _ = csr.prove();
            }
        }

        #[test]
        fn public_key_pem_parser_never_panics(text in "\\PC{0,300}") {
            let _ = SubjectPublicKey::from_pem(&text);
            let _ = Csr::from_pem(&text);
        }
    }
}
