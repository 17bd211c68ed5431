//! ASN.1 pieces of a timestamp response that the `x509-tsp`/`cms` crates do not provide
//! in the form needed: `PKIStatusInfo` with an RFC 3161 failure bit string, the
//! `TimeStampResp` wrapper, and RFC 5816 / RFC 5035 `SigningCertificateV2`.

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, OctetString};
use der::{Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

use crate::error::{FailureInfo, Result, TsaError};

/// `id-aa-signingCertificateV2` (RFC 5035 §3).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// `id-ct-TSTInfo` (RFC 3161 §2.4.2).
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// `PKIStatus` values used here (RFC 3161 §2.4.2).
pub(crate) const STATUS_GRANTED: u8 = 0;
pub(crate) const STATUS_REJECTION: u8 = 2;

/// ```text
/// PKIStatusInfo ::= SEQUENCE {
///     status        PKIStatus,
///     statusString  PKIFreeText     OPTIONAL,
///     failInfo      PKIFailureInfo  OPTIONAL  }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    /// `PKIStatus`.
    pub status: u8,
    /// Free text (UTF8String sequence).
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    /// Failure bits.
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// ```text
/// TimeStampResp ::= SEQUENCE  {
///     status          PKIStatusInfo,
///     timeStampToken  TimeStampToken  OPTIONAL  }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    /// Outcome.
    pub status: PkiStatusInfo,
    /// The CMS `ContentInfo` with the SignedData, when granted.
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<cms::content_info::ContentInfo>,
}

/// ```text
/// SigningCertificateV2 ::= SEQUENCE {
///     certs     SEQUENCE OF ESSCertIDv2,
///     policies  SEQUENCE OF PolicyInformation OPTIONAL }
/// ```
/// (`policies` is never emitted.)
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The signer's certificate first.
    pub certs: Vec<EssCertIdV2>,
}

/// ```text
/// ESSCertIDv2 ::= SEQUENCE {
///     hashAlgorithm  AlgorithmIdentifier DEFAULT {algorithm id-sha256},
///     certHash       Hash,
///     issuerSerial   IssuerSerial OPTIONAL }
/// ```
/// `hashAlgorithm` is `None` for SHA-256: DER omits a DEFAULT value.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// Hash algorithm when not SHA-256.
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// Hash of the whole certificate DER.
    pub cert_hash: OctetString,
    /// Issuer name and serial of the certificate.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// ```text
/// IssuerSerial ::= SEQUENCE {
///     issuer        GeneralNames,
///     serialNumber  CertificateSerialNumber }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    /// The issuer as a directoryName.
    pub issuer: Vec<GeneralName>,
    /// The certificate serial.
    pub serial_number: SerialNumber,
}

/// The `PKIFailureInfo` BIT STRING with one named bit set, DER (trailing zero bits
/// dropped, X.690 §11.2.2).
#[allow(clippy::indexing_slicing, reason = "bytes has bit / 8 + 1 elements")]
pub(crate) fn failure_bits(info: FailureInfo) -> Result<BitString> {
    let bit = info as usize;
    let mut bytes = vec![0u8; bit / 8 + 1];
    bytes[bit / 8] = 0x80 >> (bit % 8);
    // Bit positions fit in a u8 by construction (the largest is 25).
    let unused = u8::try_from(7 - bit % 8).unwrap_or(0);
    BitString::new(unused, bytes).map_err(|_| TsaError::Encoding {
        what: "failure info",
    })
}

/// A `rejection` TimeStampResp for `error`, with its message and failure bit.
pub(crate) fn rejection(error: &TsaError) -> Result<Vec<u8>> {
    TimeStampResp {
        status: PkiStatusInfo {
            status: STATUS_REJECTION,
            status_string: Some(vec![format!("{}: {}", error.code(), error)]),
            fail_info: Some(failure_bits(error.failure_info())?),
        },
        time_stamp_token: None,
    }
    .to_der()
    .map_err(|_| TsaError::Encoding {
        what: "rejection response",
    })
}

/// Last-resort rejection when even encoding the structured one failed:
/// `SEQUENCE { SEQUENCE { INTEGER 2, BIT STRING systemFailure(25) } }`.
pub(crate) const SYSTEM_FAILURE_RESPONSE: &[u8] = &[
    0x30, 0x0c, 0x30, 0x0a, 0x02, 0x01, 0x02, 0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x40,
];

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;

    #[test]
    fn failure_bit_positions() {
        let bad_alg = failure_bits(FailureInfo::BadAlg).unwrap();
        assert_eq!(bad_alg.raw_bytes(), &[0x80]);
        assert_eq!(bad_alg.unused_bits(), 7);
        let system = failure_bits(FailureInfo::SystemFailure).unwrap();
        assert_eq!(system.raw_bytes(), &[0, 0, 0, 0x40]);
        assert_eq!(system.unused_bits(), 6);
    }

    #[test]
    fn fallback_response_is_valid_der() {
        let parsed = TimeStampResp::from_der(SYSTEM_FAILURE_RESPONSE).unwrap();
        assert_eq!(parsed.status.status, STATUS_REJECTION);
        assert_eq!(
            parsed.status.fail_info,
            Some(failure_bits(FailureInfo::SystemFailure).unwrap())
        );
    }
}
