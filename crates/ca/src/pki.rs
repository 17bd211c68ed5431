//! X.509 building blocks shared by the CA and the timestamp authority: ECDSA P-256
//! certificate keys, names, RFC 5280 times, serials, key identifiers, and signing a TBS.
//!
//! Everything here builds DER with the RustCrypto `x509-cert`/`der` types; nothing
//! parses untrusted input.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use const_oid::db::rfc4519::{CN, O};
use const_oid::db::rfc5280::{ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE};
use const_oid::db::rfc5912::{ECDSA_WITH_SHA_256, ID_CE_AUTHORITY_KEY_IDENTIFIER};
use const_oid::db::rfc5912::{ID_CE_BASIC_CONSTRAINTS, ID_CE_SUBJECT_KEY_IDENTIFIER};
use der::asn1::{BitString, OctetString, SetOfVec, UtcTime, Utf8StringRef};
use der::{Any, Decode, Encode, EncodePem};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};
use zeroize::Zeroizing;

use crate::error::{CaError, Result};

/// `AlgorithmIdentifier` for ecdsa-with-SHA256; RFC 5758 §3.2 says parameters are absent.
pub fn ecdsa_with_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA_256,
        parameters: None,
    }
}

/// An RFC 5280 §4.1.2.5 time: UTCTime through 2049, GeneralizedTime from 2050.
/// Sub-second precision is dropped (certificates carry whole seconds).
pub fn x509_time(at: SystemTime) -> Result<Time> {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CaError::Encoding {
            what: "time before 1970",
        })?
        .as_secs();
    let whole = UNIX_EPOCH + Duration::from_secs(secs);
    // 2050-01-01T00:00:00Z
    const UTC_TIME_END: u64 = 2_524_608_000;
    let time = if secs < UTC_TIME_END {
        UtcTime::from_system_time(whole).map(Time::UtcTime)
    } else {
        der::asn1::GeneralizedTime::from_system_time(whole).map(Time::GeneralTime)
    };
    time.map_err(|_| CaError::Encoding { what: "X.509 time" })
}

/// A validity window `[not_before, not_after]` in whole seconds.
pub fn validity(not_before: SystemTime, not_after: SystemTime) -> Result<Validity> {
    Ok(Validity {
        not_before: x509_time(not_before)?,
        not_after: x509_time(not_after)?,
    })
}

/// A random positive 128-bit serial number (RFC 5280 §4.1.2.2 allows up to 20 octets;
/// 64+ bits of entropy is the CA/B Forum norm).
pub fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| CaError::Random)?;
    // Clear the sign bit and set the next one so the encoding is always 16 octets.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(|_| CaError::Encoding {
        what: "serial number",
    })
}

/// Key identifier per RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the
/// subjectPublicKey BIT STRING value.
#[allow(
    clippy::indexing_slicing,
    reason = "a SHA-256 digest is 32 bytes, more than 20"
)]
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    digest[..20].to_vec()
}

/// A distinguished name of `O=organization, CN=common_name`, both UTF8String.
pub fn name(organization: &str, common_name: &str) -> Result<Name> {
    let mut rdns = Vec::with_capacity(2);
    for (oid, value) in [(O, organization), (CN, common_name)] {
        let utf8 = Utf8StringRef::new(value).map_err(|_| CaError::Encoding {
            what: "name attribute",
        })?;
        let value = Any::encode_from(&utf8).map_err(|_| CaError::Encoding {
            what: "name attribute",
        })?;
        let set = SetOfVec::try_from(vec![AttributeTypeAndValue { oid, value }]).map_err(|_| {
            CaError::Encoding {
                what: "relative distinguished name",
            }
        })?;
        rdns.push(RelativeDistinguishedName(set));
    }
    Ok(RdnSequence(rdns))
}

/// Wraps a DER-encodable extension value.
pub fn extension<T: Encode>(oid: ObjectIdentifier, critical: bool, value: &T) -> Result<Extension> {
    let der = value
        .to_der()
        .map_err(|_| CaError::Encoding { what: "extension" })?;
    raw_extension(oid, critical, der)
}

/// An extension whose `extnValue` octets are given as-is.
pub fn raw_extension(oid: ObjectIdentifier, critical: bool, value: Vec<u8>) -> Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value).map_err(|_| CaError::Encoding {
            what: "extension value",
        })?,
    })
}

/// The extensions of a CA certificate: basicConstraints (critical), keyUsage
/// keyCertSign+cRLSign (critical), optional EKU, SKID, and AKID when issued by a parent.
pub fn ca_extensions(
    subject_spki: &SubjectPublicKeyInfoOwned,
    issuer_key_id: Option<&[u8]>,
    path_len: Option<u8>,
    eku: &[ObjectIdentifier],
) -> Result<Vec<Extension>> {
    let mut exts = vec![
        extension(
            ID_CE_BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
        )?,
        extension(
            ID_CE_KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        )?,
    ];
    if !eku.is_empty() {
        exts.push(extension(
            ID_CE_EXT_KEY_USAGE,
            false,
            &ExtendedKeyUsage(eku.to_vec()),
        )?);
    }
    exts.push(subject_key_identifier(subject_spki)?);
    if let Some(id) = issuer_key_id {
        exts.push(authority_key_identifier(id)?);
    }
    Ok(exts)
}

/// subjectKeyIdentifier for `spki`.
pub fn subject_key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Result<Extension> {
    let id = OctetString::new(key_identifier(spki)).map_err(|_| CaError::Encoding {
        what: "subject key identifier",
    })?;
    extension(
        ID_CE_SUBJECT_KEY_IDENTIFIER,
        false,
        &SubjectKeyIdentifier(id),
    )
}

/// authorityKeyIdentifier carrying only the issuer's key identifier.
pub fn authority_key_identifier(issuer_key_id: &[u8]) -> Result<Extension> {
    let id = OctetString::new(issuer_key_id.to_vec()).map_err(|_| CaError::Encoding {
        what: "authority key identifier",
    })?;
    extension(
        ID_CE_AUTHORITY_KEY_IDENTIFIER,
        false,
        &AuthorityKeyIdentifier {
            key_identifier: Some(id),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        },
    )
}

/// ECDSA P-256/SHA-256 signing on aws-lc-rs, for the per-request paths (certificates,
/// SCTs, timestamp tokens): several times faster than the pure-Rust `p256` signer,
/// which is kept for key generation, storage and PEM. Signatures are ASN.1 DER.
pub struct FastSigner {
    pair: aws_lc_rs::signature::EcdsaKeyPair,
    rng: aws_lc_rs::rand::SystemRandom,
}

impl std::fmt::Debug for FastSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastSigner(<redacted>)")
    }
}

impl FastSigner {
    /// Loads `key` into aws-lc-rs (through its PKCS#8 encoding).
    pub fn new(key: &SigningKey) -> Result<Self> {
        let der = key.to_pkcs8_der().map_err(|_| CaError::Encoding {
            what: "private key",
        })?;
        let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            der.as_bytes(),
        )
        .map_err(|_| CaError::MaterialCorrupt {
            part: "private key (aws-lc-rs rejected it)",
        })?;
        Ok(Self {
            pair,
            rng: aws_lc_rs::rand::SystemRandom::new(),
        })
    }

    /// Signs `message` (hashed with SHA-256 inside); returns the DER signature.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.pair
            .sign(&self.rng, message)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(|_| CaError::Random)
    }
}

/// Signs DER-encoded `tbs` with ECDSA P-256/SHA-256 and returns the certificate DER.
pub fn sign_tbs(signer: &FastSigner, tbs: TbsCertificate) -> Result<Vec<u8>> {
    let tbs_der = tbs.to_der().map_err(|_| CaError::Encoding {
        what: "TBSCertificate",
    })?;
    let signature = signer.sign(&tbs_der)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_with_sha256(),
        signature: BitString::from_bytes(&signature)
            .map_err(|_| CaError::Encoding { what: "signature" })?,
    };
    cert.to_der().map_err(|_| CaError::Encoding {
        what: "certificate",
    })
}

/// PEM with `label` of any DER: 64-column base64 lines, LF line ends and a final
/// newline (RFC 7468 strict; what Go's `pem.EncodeToMemory` writes and what Rekor v1
/// and sigstore-python rebuild to compare).
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    let mut rest = body.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// PEM-encodes a certificate's DER.
pub fn certificate_pem(der: &[u8]) -> Result<String> {
    let cert = Certificate::from_der(der).map_err(|_| CaError::Encoding {
        what: "certificate",
    })?;
    cert.to_pem(LineEnding::LF).map_err(|_| CaError::Encoding {
        what: "certificate PEM",
    })
}

/// An ECDSA P-256 private key together with the certificate that certifies it.
#[derive(Clone)]
pub struct CertifiedKey {
    key: SigningKey,
    signer: Arc<FastSigner>,
    certificate: Certificate,
    certificate_der: Vec<u8>,
    key_id: Vec<u8>,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey")
            .field(
                "subject",
                &self.certificate.tbs_certificate.subject.to_string(),
            )
            .finish_non_exhaustive()
    }
}

/// What to put in a new certificate besides what the issuer decides (serial, issuer
/// name, signature algorithm).
#[derive(Debug, Clone)]
pub struct CertificateTemplate {
    /// Subject name.
    pub subject: Name,
    /// Subject public key.
    pub subject_public_key_info: SubjectPublicKeyInfoOwned,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Extensions, in order.
    pub extensions: Vec<Extension>,
}

impl CertifiedKey {
    /// A fresh random P-256 key.
    pub fn generate_key() -> SigningKey {
        SigningKey::random(&mut OsRng)
    }

    /// The SubjectPublicKeyInfo of a P-256 signing key.
    pub fn spki_of(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned> {
        let der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|_| CaError::Encoding { what: "public key" })?;
        SubjectPublicKeyInfoOwned::from_der(der.as_bytes())
            .map_err(|_| CaError::Encoding { what: "public key" })
    }

    /// A self-signed certificate for `key` built from `template`.
    pub fn self_signed(key: SigningKey, template: CertificateTemplate) -> Result<Self> {
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial()?,
            signature: ecdsa_with_sha256(),
            issuer: template.subject.clone(),
            validity: validity(template.not_before, template.not_after)?,
            subject: template.subject,
            subject_public_key_info: template.subject_public_key_info,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(template.extensions),
        };
        let der = sign_tbs(&FastSigner::new(&key)?, tbs)?;
        Self::from_parts(key, der)
    }

    /// Issues a certificate signed by this key, with this certificate's subject as issuer.
    pub fn issue(&self, template: CertificateTemplate) -> Result<Vec<u8>> {
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial()?,
            signature: ecdsa_with_sha256(),
            issuer: self.certificate.tbs_certificate.subject.clone(),
            validity: validity(template.not_before, template.not_after)?,
            subject: template.subject,
            subject_public_key_info: template.subject_public_key_info,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(template.extensions),
        };
        sign_tbs(&self.signer, tbs)
    }

    /// Pairs a key with its certificate, checking that the certificate certifies the key.
    pub fn from_parts(key: SigningKey, certificate_der: Vec<u8>) -> Result<Self> {
        let certificate =
            Certificate::from_der(&certificate_der).map_err(|_| CaError::MaterialCorrupt {
                part: "certificate",
            })?;
        let spki = Self::spki_of(&key)?;
        if spki != certificate.tbs_certificate.subject_public_key_info {
            return Err(CaError::MaterialCorrupt {
                part: "certificate does not match its key",
            });
        }
        let key_id = key_identifier(&spki);
        Ok(Self {
            signer: Arc::new(FastSigner::new(&key)?),
            key,
            certificate,
            certificate_der,
            key_id,
        })
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The same key loaded for fast signing.
    pub fn signer(&self) -> &FastSigner {
        &self.signer
    }

    /// The parsed certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The certificate DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The certificate PEM.
    pub fn certificate_pem(&self) -> Result<String> {
        certificate_pem(&self.certificate_der)
    }

    /// This key's identifier (used as SKID here and AKID in what it issues).
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// `(notBefore, notAfter)` of the certificate.
    pub fn validity(&self) -> (SystemTime, SystemTime) {
        let v = &self.certificate.tbs_certificate.validity;
        (v.not_before.to_system_time(), v.not_after.to_system_time())
    }

    /// The private key as PKCS#8 PEM (zeroed when dropped).
    pub fn key_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        key_pkcs8_pem(&self.key)
    }
}

/// A P-256 private key as PKCS#8 PEM (zeroed when dropped).
pub fn key_pkcs8_pem(key: &SigningKey) -> Result<Zeroizing<String>> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| CaError::Encoding {
            what: "private key",
        })
}

/// Reads a P-256 private key from PKCS#8 PEM.
pub fn key_from_pkcs8_pem(pem: &str, part: &'static str) -> Result<SigningKey> {
    SigningKey::from_pkcs8_pem(pem).map_err(|_| CaError::MaterialCorrupt { part })
}

/// Reads a certificate from PEM, returning its DER.
pub fn certificate_der_from_pem(pem: &str, part: &'static str) -> Result<Vec<u8>> {
    use der::DecodePem;
    let cert = Certificate::from_pem(pem).map_err(|_| CaError::MaterialCorrupt { part })?;
    cert.to_der().map_err(|_| CaError::MaterialCorrupt { part })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_until_2050() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert!(matches!(x509_time(t).unwrap(), Time::UtcTime(_)));
        let late = UNIX_EPOCH + Duration::from_secs(2_524_608_000);
        assert!(matches!(x509_time(late).unwrap(), Time::GeneralTime(_)));
    }

    #[test]
    fn serials_are_positive_and_16_octets() {
        for _ in 0..32 {
            let serial = random_serial().unwrap();
            assert_eq!(serial.as_bytes().len(), 16);
            assert!(serial.as_bytes()[0] < 0x80);
        }
    }
}
