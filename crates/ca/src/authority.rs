//! Issuing short-lived code-signing certificates with an embedded SCT.
//!
//! Per issuance: one random serial, the precertificate (TBS with the critical poison
//! extension, signed by the intermediate), one SCT over the poison-free TBS, and the
//! final certificate (same TBS plus the SCT-list extension in the poison's place). All
//! per-CA values (issuer name, AKID, issuer key hash, chain PEMs) are computed once in
//! [`CertificateAuthority::new`], so an issuance is three ECDSA signatures and DER
//! encoding.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use const_oid::db::rfc5280::{ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE, ID_KP_CODE_SIGNING};
use der::Encode;
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence};
use x509_cert::{TbsCertificate, Version};

use crate::api::{
    CertificateChain, SigningCertificateEmbeddedSct, SigningCertificateResponse, TrustBundle,
};
use crate::clock::{millis_since_epoch, Clock};
use crate::error::{CaError, Result};
use crate::identity::CertificateIdentity;
use crate::key::ProvenPublicKey;
use crate::material::CaMaterial;
use crate::pki;
use crate::sct::{self, CtLogSigner, SignedCertificateTimestamp};

/// Leaf lifetime used by Fulcio and by vouch: ten minutes.
pub const DEFAULT_LEAF_VALIDITY: Duration = Duration::from_secs(600);

/// A ready-to-issue CA: decrypted material plus everything derived from it.
#[derive(Debug)]
pub struct CertificateAuthority {
    material: CaMaterial,
    ct: CtLogSigner,
    clock: Arc<dyn Clock>,
    leaf_validity: Duration,
    issuer_name: Name,
    static_extensions: Vec<Extension>,
    authority_key_id: Extension,
    issuer_key_hash: [u8; 32],
    issuer_validity: (SystemTime, SystemTime),
    /// Intermediate then root, PEM.
    chain_pem: Arc<[String]>,
}

/// One issued certificate and what the caller may need besides it.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The final leaf certificate (with the embedded SCT), DER.
    pub certificate_der: Vec<u8>,
    /// The precertificate (poisoned, same serial), DER: what a CT log's
    /// `add-pre-chain` receives.
    pub precertificate_der: Vec<u8>,
    /// The TBSCertificate the SCT covers (no poison, no SCT list), DER.
    pub precertificate_tbs_der: Vec<u8>,
    /// The embedded SCT.
    pub sct: SignedCertificateTimestamp,
    /// RFC 6962 §3.4 `MerkleTreeLeaf` of the precertificate entry, ready to append.
    pub ct_merkle_tree_leaf: Vec<u8>,
    /// `notBefore` (whole seconds).
    pub not_before: SystemTime,
    /// `notAfter` (whole seconds).
    pub not_after: SystemTime,
    chain_pem: Arc<[String]>,
}

impl IssuedCertificate {
    /// The leaf certificate, PEM.
    pub fn certificate_pem(&self) -> Result<String> {
        pki::certificate_pem(&self.certificate_der)
    }

    /// Leaf, intermediate, root as PEM strings, leaf first (Fulcio's order).
    pub fn chain_pem(&self) -> Result<Vec<String>> {
        let mut chain = Vec::with_capacity(1 + self.chain_pem.len());
        chain.push(self.certificate_pem()?);
        chain.extend(self.chain_pem.iter().cloned());
        Ok(chain)
    }

    /// The Fulcio v2 `signingCert` response body.
    pub fn to_response(&self) -> Result<SigningCertificateResponse> {
        Ok(SigningCertificateResponse {
            signed_certificate_embedded_sct: SigningCertificateEmbeddedSct {
                chain: CertificateChain {
                    certificates: self.chain_pem()?,
                },
            },
        })
    }
}

impl CertificateAuthority {
    /// Prepares issuance from decrypted material, with ten-minute leaves.
    pub fn new(material: CaMaterial, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::with_leaf_validity(material, clock, DEFAULT_LEAF_VALIDITY)
    }

    /// As [`new`](Self::new) with another leaf lifetime (tests, private deployments).
    pub fn with_leaf_validity(
        material: CaMaterial,
        clock: Arc<dyn Clock>,
        leaf_validity: Duration,
    ) -> Result<Self> {
        let intermediate = material.intermediate();
        let issuer_spki_der = intermediate
            .certificate()
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| CaError::Encoding {
                what: "issuer public key",
            })?;
        let static_extensions = vec![
            pki::extension(
                ID_CE_KEY_USAGE,
                true,
                &KeyUsage(KeyUsages::DigitalSignature.into()),
            )?,
            pki::extension(
                ID_CE_EXT_KEY_USAGE,
                false,
                &ExtendedKeyUsage(vec![ID_KP_CODE_SIGNING]),
            )?,
        ];
        let chain_pem: Arc<[String]> = vec![
            intermediate.certificate_pem()?,
            material.root().certificate_pem()?,
        ]
        .into();
        Ok(Self {
            ct: CtLogSigner::new(material.ct_log_key.clone())?,
            clock,
            leaf_validity,
            issuer_name: intermediate.certificate().tbs_certificate.subject.clone(),
            static_extensions,
            authority_key_id: pki::authority_key_identifier(intermediate.key_id())?,
            issuer_key_hash: Sha256::digest(&issuer_spki_der).into(),
            issuer_validity: intermediate.validity(),
            chain_pem,
            material,
        })
    }

    /// The CA's certificate chain for the trusted root's `certChain`: intermediate then
    /// root, PEM.
    pub fn chain_pem(&self) -> &[String] {
        &self.chain_pem
    }

    /// The `GET /api/v2/trustBundle` body: one chain, intermediate then root.
    pub fn trust_bundle(&self) -> TrustBundle {
        TrustBundle {
            chains: vec![CertificateChain {
                certificates: self.chain_pem.to_vec(),
            }],
        }
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        self.material.root().certificate_der()
    }

    /// The intermediate certificate, DER.
    pub fn intermediate_der(&self) -> &[u8] {
        self.material.intermediate().certificate_der()
    }

    /// `(notBefore, notAfter)` of the root, for the trusted root's `validFor`.
    pub fn root_validity(&self) -> (SystemTime, SystemTime) {
        self.material.root().validity()
    }

    /// `(notBefore, notAfter)` of the intermediate.
    pub fn intermediate_validity(&self) -> (SystemTime, SystemTime) {
        self.issuer_validity
    }

    /// The CT log signer (public key, log ID) for the trusted root's `ctlogs`.
    pub fn ct_log(&self) -> &CtLogSigner {
        &self.ct
    }

    /// SHA-256 of the intermediate's SubjectPublicKeyInfo: the SCT `issuer_key_hash`.
    pub fn issuer_key_hash(&self) -> [u8; 32] {
        self.issuer_key_hash
    }

    /// The leaf lifetime.
    pub fn leaf_validity(&self) -> Duration {
        self.leaf_validity
    }

    /// Issues a certificate for `key` and `identity`, valid from now (CA clock, whole
    /// seconds) for the leaf lifetime.
    ///
    /// Refuses with [`CaError::IssuerNotValid`] when the intermediate is not yet valid
    /// or would expire before the leaf does.
    pub fn issue(
        &self,
        key: &ProvenPublicKey,
        identity: &CertificateIdentity,
    ) -> Result<IssuedCertificate> {
        let now = self.clock.now();
        let now_ms = millis_since_epoch(now);
        let not_before = SystemTime::UNIX_EPOCH + Duration::from_secs(now_ms / 1000);
        let not_after = not_before + self.leaf_validity;
        let (issuer_not_before, issuer_not_after) = self.issuer_validity;
        if not_before < issuer_not_before || not_after > issuer_not_after {
            return Err(CaError::IssuerNotValid {
                at: now,
                not_before: issuer_not_before,
                not_after: issuer_not_after,
            });
        }

        let mut extensions = Vec::with_capacity(8 + identity.extensions.len());
        extensions.extend(self.static_extensions.iter().cloned());
        extensions.push(pki::subject_key_identifier(key.spki())?);
        extensions.push(self.authority_key_id.clone());
        extensions.extend(identity.to_extensions()?);

        let mut tbs = TbsCertificate {
            version: Version::V3,
            serial_number: pki::random_serial()?,
            signature: pki::ecdsa_with_sha256(),
            issuer: self.issuer_name.clone(),
            validity: pki::validity(not_before, not_after)?,
            // Empty subject, as Fulcio: the identity lives in the critical SAN.
            subject: RdnSequence(Vec::new()),
            subject_public_key_info: key.spki().clone(),
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let signer = self.material.intermediate().signer();

        // The TBS the SCT covers: everything but poison / SCT list (RFC 6962 §3.2).
        let tbs_der = tbs.to_der().map_err(|_| CaError::Encoding {
            what: "TBSCertificate",
        })?;
        let sct = self
            .ct
            .sign_precert(now_ms, &self.issuer_key_hash, &tbs_der)?;
        let ct_merkle_tree_leaf =
            sct::precert_merkle_tree_leaf(now_ms, &self.issuer_key_hash, &tbs_der)?;

        // Precertificate: the same TBS with the critical poison extension last.
        let null = der::asn1::Null.to_der().map_err(|_| CaError::Encoding {
            what: "poison extension",
        })?;
        push_extension(
            &mut tbs,
            pki::raw_extension(sct::OID_CT_POISON, true, null)?,
        );
        let precertificate_der = pki::sign_tbs(signer, tbs.clone())?;

        // Final certificate: the poison's place taken by the SCT list.
        pop_extension(&mut tbs);
        let list = sct::sct_list_extension_value(std::slice::from_ref(&sct))?;
        push_extension(
            &mut tbs,
            pki::raw_extension(sct::OID_CT_SCT_LIST, false, list)?,
        );
        let certificate_der = pki::sign_tbs(signer, tbs)?;

        Ok(IssuedCertificate {
            certificate_der,
            precertificate_der,
            precertificate_tbs_der: tbs_der,
            sct,
            ct_merkle_tree_leaf,
            not_before,
            not_after,
            chain_pem: Arc::clone(&self.chain_pem),
        })
    }
}

fn push_extension(tbs: &mut TbsCertificate, ext: Extension) {
    tbs.extensions.get_or_insert_with(Vec::new).push(ext);
}

fn pop_extension(tbs: &mut TbsCertificate) {
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.pop();
    }
}
