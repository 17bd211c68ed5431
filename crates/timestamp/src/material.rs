//! The TSA's long-lived secrets: its own root and a timestamping certificate (both ECDSA
//! P-256), generated at first start and kept encrypted at rest in the same AES-256-GCM
//! envelope as the CA's material (under a different purpose label).
//!
//! The TSA has its own root rather than one under the CA root: the code-signing chain
//! and the timestamping chain are listed separately in a Sigstore trusted root
//! (`certificateAuthorities` vs `timestampAuthorities`), and keeping the hierarchies
//! apart means a compromise or rotation of one never touches the other.

use std::time::{Duration, SystemTime};

use const_oid::db::rfc5280::{ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE, ID_KP_TIME_STAMPING};
use serde::{Deserialize, Serialize};
use vouch_ca::pki::{self, CertificateTemplate, CertifiedKey};
use vouch_ca::{EncryptedKeyMaterial, EncryptionKey};
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
use zeroize::Zeroizing;

use crate::error::{Result, TsaError};

/// Envelope purpose label for TSA material.
pub const TSA_MATERIAL_PURPOSE: &str = "vouch-tsa-material";
const FORMAT: u32 = 1;

/// How to generate the TSA hierarchy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TsaConfig {
    /// `O=` of both names.
    pub organization: String,
    /// `CN=` of the TSA root.
    pub root_common_name: String,
    /// `CN=` of the timestamping certificate.
    pub signer_common_name: String,
    /// Root lifetime (default 10 years).
    pub root_validity: Duration,
    /// Timestamping certificate lifetime (default 5 years).
    pub signer_validity: Duration,
}

impl Default for TsaConfig {
    fn default() -> Self {
        const YEAR: u64 = 365 * 24 * 3600;
        Self {
            organization: "vouch".to_owned(),
            root_common_name: "vouch timestamp root".to_owned(),
            signer_common_name: "vouch timestamp authority".to_owned(),
            root_validity: Duration::from_secs(10 * YEAR),
            signer_validity: Duration::from_secs(5 * YEAR),
        }
    }
}

/// TSA root and timestamping key, decrypted in memory.
#[derive(Debug, Clone)]
pub struct TsaMaterial {
    pub(crate) root: CertifiedKey,
    pub(crate) signer: CertifiedKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format: u32,
    root_key: String,
    root_certificate: String,
    signer_key: String,
    signer_certificate: String,
}

impl zeroize::Zeroize for Stored {
    fn zeroize(&mut self) {
        self.root_key.zeroize();
        self.signer_key.zeroize();
    }
}

impl TsaMaterial {
    /// Generates a TSA root and a timestamping certificate valid from `now`.
    ///
    /// The timestamping certificate has keyUsage digitalSignature (critical) and an EKU
    /// of exactly id-kp-timeStamping, critical (RFC 3161 §2.3, which OpenSSL and
    /// rfc3161-client enforce).
    pub fn generate(config: &TsaConfig, now: SystemTime) -> Result<Self> {
        let root_key = CertifiedKey::generate_key();
        let root_spki = CertifiedKey::spki_of(&root_key)?;
        let root = CertifiedKey::self_signed(
            root_key,
            CertificateTemplate {
                subject: pki::name(&config.organization, &config.root_common_name)?,
                extensions: pki::ca_extensions(&root_spki, None, Some(0), &[])?,
                subject_public_key_info: root_spki,
                not_before: now,
                not_after: now + config.root_validity,
            },
        )?;

        let signer_key = CertifiedKey::generate_key();
        let signer_spki = CertifiedKey::spki_of(&signer_key)?;
        let extensions = vec![
            pki::extension(
                ID_CE_KEY_USAGE,
                true,
                &KeyUsage(KeyUsages::DigitalSignature.into()),
            )?,
            pki::extension(
                ID_CE_EXT_KEY_USAGE,
                true,
                &ExtendedKeyUsage(vec![ID_KP_TIME_STAMPING]),
            )?,
            pki::subject_key_identifier(&signer_spki)?,
            pki::authority_key_identifier(root.key_id())?,
        ];
        let signer_der = root.issue(CertificateTemplate {
            subject: pki::name(&config.organization, &config.signer_common_name)?,
            subject_public_key_info: signer_spki,
            not_before: now,
            not_after: (now + config.signer_validity).min(now + config.root_validity),
            extensions,
        })?;
        let signer = CertifiedKey::from_parts(signer_key, signer_der)?;
        Ok(Self { root, signer })
    }

    /// Encrypts the material for storage.
    pub fn seal(&self, key: &EncryptionKey) -> Result<EncryptedKeyMaterial> {
        let stored = Zeroizing::new(Stored {
            format: FORMAT,
            root_key: self.root.key_pkcs8_pem()?.to_string(),
            root_certificate: self.root.certificate_pem()?,
            signer_key: self.signer.key_pkcs8_pem()?.to_string(),
            signer_certificate: self.signer.certificate_pem()?,
        });
        let json =
            Zeroizing::new(
                serde_json::to_vec(&*stored).map_err(|_| TsaError::Encoding {
                    what: "TSA material",
                })?,
            );
        Ok(EncryptedKeyMaterial::seal(
            key,
            TSA_MATERIAL_PURPOSE,
            &json,
        )?)
    }

    /// Decrypts and loads stored material.
    pub fn open(sealed: &EncryptedKeyMaterial, key: &EncryptionKey) -> Result<Self> {
        let plaintext = sealed.open(key, TSA_MATERIAL_PURPOSE)?;
        let stored: Zeroizing<Stored> =
            Zeroizing::new(serde_json::from_slice(&plaintext).map_err(|_| {
                TsaError::MaterialCorrupt {
                    part: "material document",
                }
            })?);
        if stored.format != FORMAT {
            return Err(TsaError::MaterialCorrupt {
                part: "material format number",
            });
        }
        let root = CertifiedKey::from_parts(
            pki::key_from_pkcs8_pem(&stored.root_key, "TSA root key")?,
            pki::certificate_der_from_pem(&stored.root_certificate, "TSA root certificate")?,
        )?;
        let signer = CertifiedKey::from_parts(
            pki::key_from_pkcs8_pem(&stored.signer_key, "TSA signing key")?,
            pki::certificate_der_from_pem(&stored.signer_certificate, "TSA certificate")?,
        )?;
        Ok(Self { root, signer })
    }

    /// The TSA root.
    pub fn root(&self) -> &CertifiedKey {
        &self.root
    }

    /// The timestamping certificate and key.
    pub fn signer(&self) -> &CertifiedKey {
        &self.signer
    }
}
