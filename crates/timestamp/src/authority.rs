//! Issuing RFC 3161 timestamp tokens: a `TSTInfo` wrapped in CMS `SignedData` (RFC 5652)
//! signed by the timestamping key with signed attributes contentType, messageDigest and
//! signingCertificateV2 (RFC 5816).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use const_oid::db::rfc5912::ID_SHA_256;
use der::asn1::{GeneralizedTime, Int, OctetString, SetOfVec};
use der::{Any, Encode, Tag};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier};
use vouch_ca::pki;
use vouch_ca::Clock;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_tsp::{Accuracy, TspVersion, TstInfo};

use crate::error::{Result, TsaError};
use crate::material::TsaMaterial;
use crate::request::TimestampRequest;
use crate::token::{
    self, EssCertIdV2, IssuerSerial, PkiStatusInfo, SigningCertificateV2, TimeStampResp,
    ID_AA_SIGNING_CERTIFICATE_V2, ID_CT_TST_INFO, STATUS_GRANTED,
};

/// Default TSA policy: the Sigstore timestamp-authority's default policy OID, so
/// Sigstore tooling that expects it is satisfied. Override with
/// [`TimestampAuthority::with_policy`].
pub const DEFAULT_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");

/// A ready-to-sign TSA.
#[derive(Debug)]
pub struct TimestampAuthority {
    material: TsaMaterial,
    clock: Arc<dyn Clock>,
    policy: ObjectIdentifier,
    signer_validity: (SystemTime, SystemTime),
    signer_id: SignerIdentifier,
    signer_certificate: CertificateChoices,
    signing_certificate_attribute: Attribute,
    chain_pem: Vec<String>,
}

/// A granted timestamp.
#[derive(Debug, Clone)]
pub struct Timestamp {
    /// The whole `TimeStampResp`, DER (`application/timestamp-reply`).
    pub response_der: Vec<u8>,
    /// `genTime` (whole seconds).
    pub gen_time: SystemTime,
    /// The token's serial number, big-endian.
    pub serial: Vec<u8>,
}

impl TimestampAuthority {
    /// Prepares a TSA with [`DEFAULT_POLICY`].
    pub fn new(material: TsaMaterial, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::with_policy(material, clock, DEFAULT_POLICY)
    }

    /// Prepares a TSA issuing under `policy`.
    pub fn with_policy(
        material: TsaMaterial,
        clock: Arc<dyn Clock>,
        policy: ObjectIdentifier,
    ) -> Result<Self> {
        let cert = material.signer().certificate().clone();
        let issuer = cert.tbs_certificate.issuer.clone();
        let serial = cert.tbs_certificate.serial_number.clone();
        let ess = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(
                    Sha256::digest(material.signer().certificate_der()).to_vec(),
                )
                .map_err(|_| TsaError::Encoding {
                    what: "ESS certificate hash",
                })?,
                issuer_serial: Some(IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(issuer.clone())],
                    serial_number: serial.clone(),
                }),
            }],
        };
        let signing_certificate_attribute = attribute(
            ID_AA_SIGNING_CERTIFICATE_V2,
            Any::encode_from(&ess).map_err(|_| TsaError::Encoding {
                what: "signingCertificateV2",
            })?,
        )?;
        let chain_pem = vec![
            material.signer().certificate_pem()?,
            material.root().certificate_pem()?,
        ];
        Ok(Self {
            signer_validity: material.signer().validity(),
            signer_id: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer,
                serial_number: serial,
            }),
            signer_certificate: CertificateChoices::Certificate(cert),
            signing_certificate_attribute,
            chain_pem,
            material,
            clock,
            policy,
        })
    }

    /// The chain for the trusted root's `timestampAuthorities[].certChain`: the
    /// timestamping certificate then the TSA root, PEM.
    pub fn chain_pem(&self) -> &[String] {
        &self.chain_pem
    }

    /// The policy OID tokens are issued under.
    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    /// `(notBefore, notAfter)` of the timestamping certificate, for the trusted root's
    /// `validFor`.
    pub fn signer_validity(&self) -> (SystemTime, SystemTime) {
        self.signer_validity
    }

    /// The TSA root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        self.material.root().certificate_der()
    }

    /// Answers a DER `TimeStampReq` with a DER `TimeStampResp`, always: granted with a
    /// token, or `rejection` with the error's code, message and failure bit. This is what
    /// the HTTP handler returns for `application/timestamp-query`; use
    /// [`timestamp`](Self::timestamp) when the typed error is wanted.
    pub fn respond(&self, request_der: &[u8]) -> Vec<u8> {
        match self.timestamp(request_der) {
            Ok(granted) => granted.response_der,
            Err(error) => {
                token::rejection(&error).unwrap_or_else(|_| token::SYSTEM_FAILURE_RESPONSE.to_vec())
            }
        }
    }

    /// Parses, validates and timestamps a DER `TimeStampReq`.
    pub fn timestamp(&self, request_der: &[u8]) -> Result<Timestamp> {
        let request = TimestampRequest::from_der(request_der)?;
        self.timestamp_request(&request)
    }

    /// Timestamps an already-parsed request.
    pub fn timestamp_request(&self, request: &TimestampRequest) -> Result<Timestamp> {
        if let Some(requested) = request.policy() {
            if requested != self.policy {
                return Err(TsaError::UnacceptedPolicy {
                    requested: requested.to_string(),
                    supported: self.policy.to_string(),
                });
            }
        }
        let now = self.clock.now();
        let (not_before, not_after) = self.signer_validity;
        if now < not_before || now > not_after {
            return Err(TsaError::TsaNotValid {
                at: now,
                not_before,
                not_after,
            });
        }
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TsaError::Encoding { what: "genTime" })?
            .as_secs();
        let gen_time = UNIX_EPOCH + Duration::from_secs(secs);
        let serial = random_serial()?;

        let tst_info = TstInfo {
            version: TspVersion::V1,
            policy: self.policy,
            message_imprint: request.message_imprint.clone(),
            serial_number: Int::new(&serial).map_err(|_| TsaError::Encoding {
                what: "serial number",
            })?,
            gen_time: GeneralizedTime::from_system_time(gen_time)
                .map_err(|_| TsaError::Encoding { what: "genTime" })?,
            accuracy: Some(Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce: request.nonce.clone(),
            tsa: None,
            extensions: None,
        };
        let tst_der = tst_info
            .to_der()
            .map_err(|_| TsaError::Encoding { what: "TSTInfo" })?;
        let token = self.sign(&tst_der, request.cert_req())?;
        let response_der = TimeStampResp {
            status: PkiStatusInfo {
                status: STATUS_GRANTED,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(token),
        }
        .to_der()
        .map_err(|_| TsaError::Encoding {
            what: "TimeStampResp",
        })?;
        Ok(Timestamp {
            response_der,
            gen_time,
            serial,
        })
    }

    /// Wraps `tst_der` in a CMS SignedData `ContentInfo` (RFC 3161 §2.4.2, RFC 5652 §5).
    fn sign(&self, tst_der: &[u8], include_certificate: bool) -> Result<ContentInfo> {
        let sha256 = AlgorithmIdentifierOwned {
            oid: ID_SHA_256,
            parameters: None,
        };
        let content_type = attribute(ID_CONTENT_TYPE, encode_any(&ID_CT_TST_INFO)?)?;
        let digest =
            OctetString::new(Sha256::digest(tst_der).to_vec()).map_err(|_| TsaError::Encoding {
                what: "message digest",
            })?;
        let message_digest = attribute(ID_MESSAGE_DIGEST, encode_any(&digest)?)?;
        // SetOfVec sorts into DER SET OF order, which is also the order signed over.
        let signed_attrs = SetOfVec::try_from(vec![
            content_type,
            message_digest,
            self.signing_certificate_attribute.clone(),
        ])
        .map_err(|_| TsaError::Encoding {
            what: "signed attributes",
        })?;
        // RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF
        // (tag 0x31), not the [0] IMPLICIT form they take inside SignerInfo.
        let signed_attrs_der = signed_attrs.to_der().map_err(|_| TsaError::Encoding {
            what: "signed attributes",
        })?;
        let signature = self.material.signer().signer().sign(&signed_attrs_der)?;

        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: self.signer_id.clone(),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: pki::ecdsa_with_sha256(),
            signature: OctetString::new(signature)
                .map_err(|_| TsaError::Encoding { what: "signature" })?,
            unsigned_attrs: None,
        };
        let certificates = if include_certificate {
            Some(CertificateSet(
                SetOfVec::try_from(vec![self.signer_certificate.clone()]).map_err(|_| {
                    TsaError::Encoding {
                        what: "certificate set",
                    }
                })?,
            ))
        } else {
            None
        };
        let signed_data = SignedData {
            // RFC 5652 §5.1: version 3 because eContentType is not id-data.
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256]).map_err(|_| {
                TsaError::Encoding {
                    what: "digest algorithms",
                }
            })?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(Any::new(Tag::OctetString, tst_der).map_err(|_| {
                    TsaError::Encoding {
                        what: "encapsulated content",
                    }
                })?),
            },
            certificates,
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(|_| {
                TsaError::Encoding {
                    what: "signer infos",
                }
            })?),
        };
        Ok(ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: encode_any(&signed_data)?,
        })
    }
}

fn encode_any<T: der::Tagged + der::EncodeValue>(value: &T) -> Result<Any> {
    Any::encode_from(value).map_err(|_| TsaError::Encoding {
        what: "attribute value",
    })
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])
            .map_err(|_| TsaError::Encoding { what: "attribute" })?,
    })
}

/// A random positive 128-bit serial (RFC 3161 §2.4.2: unique per token, up to 160 bits).
fn random_serial() -> Result<Vec<u8>> {
    let mut bytes = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| TsaError::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(bytes.to_vec())
}
