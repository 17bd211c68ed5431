//! The CA's long-lived secrets: root and intermediate (ECDSA P-256, each with its
//! certificate) and the certificate-transparency log key. Generated once at first
//! start, then kept only as an [`EncryptedKeyMaterial`] envelope.
//!
//! The sealed plaintext is a small JSON document of PEM strings (PKCS#8 keys, X.509
//! certificates) with a `format` number, so a later build can migrate it.

use std::time::{Duration, SystemTime};

use const_oid::db::rfc5280::ID_KP_CODE_SIGNING;
use p256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::envelope::{EncryptedKeyMaterial, EncryptionKey};
use crate::error::{CaError, Result};
use crate::pki::{self, CertificateTemplate, CertifiedKey};

/// Envelope purpose label for CA material (bound into the AES-GCM associated data).
pub const CA_MATERIAL_PURPOSE: &str = "vouch-ca-material";
const FORMAT: u32 = 1;

/// How to generate the CA hierarchy on first start.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CaConfig {
    /// `O=` of both CA names.
    pub organization: String,
    /// `CN=` of the root.
    pub root_common_name: String,
    /// `CN=` of the intermediate.
    pub intermediate_common_name: String,
    /// Root lifetime (default 10 years).
    pub root_validity: Duration,
    /// Intermediate lifetime (default 5 years); must end before the root does.
    pub intermediate_validity: Duration,
}

impl Default for CaConfig {
    fn default() -> Self {
        const YEAR: u64 = 365 * 24 * 3600;
        Self {
            organization: "vouch".to_owned(),
            root_common_name: "vouch root".to_owned(),
            intermediate_common_name: "vouch intermediate".to_owned(),
            root_validity: Duration::from_secs(10 * YEAR),
            intermediate_validity: Duration::from_secs(5 * YEAR),
        }
    }
}

/// Root, intermediate and CT log key, decrypted in memory.
#[derive(Clone)]
pub struct CaMaterial {
    pub(crate) root: CertifiedKey,
    pub(crate) intermediate: CertifiedKey,
    pub(crate) ct_log_key: SigningKey,
}

impl std::fmt::Debug for CaMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaMaterial")
            .field("root", &self.root)
            .field("intermediate", &self.intermediate)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format: u32,
    root_key: String,
    root_certificate: String,
    intermediate_key: String,
    intermediate_certificate: String,
    ct_log_key: String,
}

impl CaMaterial {
    /// Generates a fresh root, intermediate and CT log key, valid from `now`.
    ///
    /// The root is self-signed (`pathLen` 1); the intermediate (`pathLen` 0) carries the
    /// code-signing EKU as Fulcio's does, which restricts what it may issue.
    pub fn generate(config: &CaConfig, now: SystemTime) -> Result<Self> {
        let root_key = CertifiedKey::generate_key();
        let root_spki = CertifiedKey::spki_of(&root_key)?;
        let root_name = pki::name(&config.organization, &config.root_common_name)?;
        let root = CertifiedKey::self_signed(
            root_key,
            CertificateTemplate {
                subject: root_name,
                extensions: pki::ca_extensions(&root_spki, None, Some(1), &[])?,
                subject_public_key_info: root_spki,
                not_before: now,
                not_after: now + config.root_validity,
            },
        )?;

        let intermediate_key = CertifiedKey::generate_key();
        let intermediate_spki = CertifiedKey::spki_of(&intermediate_key)?;
        let intermediate_not_after =
            (now + config.intermediate_validity).min(now + config.root_validity);
        let intermediate_der = root.issue(CertificateTemplate {
            subject: pki::name(&config.organization, &config.intermediate_common_name)?,
            extensions: pki::ca_extensions(
                &intermediate_spki,
                Some(root.key_id()),
                Some(0),
                &[ID_KP_CODE_SIGNING],
            )?,
            subject_public_key_info: intermediate_spki,
            not_before: now,
            not_after: intermediate_not_after,
        })?;
        let intermediate = CertifiedKey::from_parts(intermediate_key, intermediate_der)?;

        Ok(Self {
            root,
            intermediate,
            ct_log_key: CertifiedKey::generate_key(),
        })
    }

    /// Encrypts the material for storage.
    pub fn seal(&self, key: &EncryptionKey) -> Result<EncryptedKeyMaterial> {
        let stored = Zeroizing::new(Stored {
            format: FORMAT,
            root_key: self.root.key_pkcs8_pem()?.to_string(),
            root_certificate: self.root.certificate_pem()?,
            intermediate_key: self.intermediate.key_pkcs8_pem()?.to_string(),
            intermediate_certificate: self.intermediate.certificate_pem()?,
            ct_log_key: pki::key_pkcs8_pem(&self.ct_log_key)?.to_string(),
        });
        let json = Zeroizing::new(serde_json::to_vec(&*stored).map_err(|_| CaError::Encoding {
            what: "CA material",
        })?);
        EncryptedKeyMaterial::seal(key, CA_MATERIAL_PURPOSE, &json)
    }

    /// Decrypts and loads stored material, checking every certificate matches its key.
    pub fn open(sealed: &EncryptedKeyMaterial, key: &EncryptionKey) -> Result<Self> {
        let plaintext = sealed.open(key, CA_MATERIAL_PURPOSE)?;
        let stored: Zeroizing<Stored> =
            Zeroizing::new(serde_json::from_slice(&plaintext).map_err(|_| {
                CaError::MaterialCorrupt {
                    part: "material document",
                }
            })?);
        if stored.format != FORMAT {
            return Err(CaError::MaterialCorrupt {
                part: "material format number",
            });
        }
        let root = CertifiedKey::from_parts(
            pki::key_from_pkcs8_pem(&stored.root_key, "root key")?,
            pki::certificate_der_from_pem(&stored.root_certificate, "root certificate")?,
        )?;
        let intermediate = CertifiedKey::from_parts(
            pki::key_from_pkcs8_pem(&stored.intermediate_key, "intermediate key")?,
            pki::certificate_der_from_pem(
                &stored.intermediate_certificate,
                "intermediate certificate",
            )?,
        )?;
        let ct_log_key = pki::key_from_pkcs8_pem(&stored.ct_log_key, "CT log key")?;
        Ok(Self {
            root,
            intermediate,
            ct_log_key,
        })
    }

    /// The root certificate and key.
    pub fn root(&self) -> &CertifiedKey {
        &self.root
    }

    /// The intermediate certificate and key.
    pub fn intermediate(&self) -> &CertifiedKey {
        &self.intermediate
    }

    /// The CT log's private key, for a CT log that signs its own tree heads with the
    /// same key that signs SCTs (RFC 6962 §3.5).
    pub fn ct_log_key(&self) -> &SigningKey {
        &self.ct_log_key
    }
}

impl zeroize::Zeroize for Stored {
    fn zeroize(&mut self) {
        self.root_key.zeroize();
        self.intermediate_key.zeroize();
        self.ct_log_key.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_wrong_key() {
        let now = SystemTime::now();
        let material = CaMaterial::generate(&CaConfig::default(), now).unwrap();
        let key = EncryptionKey::generate().unwrap();
        let sealed = material.seal(&key).unwrap();
        let opened = CaMaterial::open(&sealed, &key).unwrap();
        assert_eq!(
            opened.root().certificate_der(),
            material.root().certificate_der()
        );
        assert_eq!(
            opened.intermediate().certificate_der(),
            material.intermediate().certificate_der()
        );
        let wrong = EncryptionKey::generate().unwrap();
        assert!(matches!(
            CaMaterial::open(&sealed, &wrong),
            Err(CaError::DecryptionFailed)
        ));
    }

    #[test]
    fn material_sealed_for_another_purpose_does_not_open() {
        let key = EncryptionKey::generate().unwrap();
        let other = EncryptedKeyMaterial::seal(&key, "vouch-tsa-material", b"{}").unwrap();
        assert!(matches!(
            CaMaterial::open(&other, &key),
            Err(CaError::DecryptionFailed)
        ));
        let garbage = EncryptedKeyMaterial::seal(&key, CA_MATERIAL_PURPOSE, b"{}").unwrap();
        assert!(matches!(
            CaMaterial::open(&garbage, &key),
            Err(CaError::MaterialCorrupt { .. })
        ));
    }
}
