//! The certificate step: a PKCS#10 CSR for our fresh key, `POST {ca}/api/v2/signingCert`
//! (Fulcio v2) with the identity token as bearer, and the checks on the answer: the leaf
//! chains to a CA of the trusted root (code-signing EKU, valid now), its embedded SCT
//! verifies against a CT log of the trusted root, and it certifies our key.

use base64::Engine;
use der::asn1::BitString;
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use sigstore_crypto::KeyPair;
use sigstore_trust_root::TrustedRoot;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::request::{CertReq, CertReqInfo, Version};
use x509_cert::Certificate;

use crate::error::{SignError, Stage};
use crate::http;

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER contents.
const ID_KP_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// A leaf certificate that passed every check, with its DER, and the certificates the
/// CA sent after it (its intermediates and root, as cosign's legacy `chain` annotation
/// carries them; unchecked beyond helping build the path).
#[derive(Debug, Clone)]
pub(crate) struct CheckedCertificate {
    pub(crate) leaf_der: Vec<u8>,
    pub(crate) chain_ders: Vec<Vec<u8>>,
}

/// Refuses a token that cannot be a JWT before sending it anywhere.
pub(crate) fn check_token_shape(token: &str) -> Result<(), SignError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(SignError::TokenMalformed {
            detail: "expected a JWT, found an empty string".into(),
        });
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(SignError::TokenMalformed {
            detail: format!(
                "expected a JWT (three non-empty dot-separated parts), found {} part(s)",
                parts.len()
            ),
        });
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
    {
        return Err(SignError::TokenMalformed {
            detail: "expected base64url characters only".into(),
        });
    }
    Ok(())
}

/// A DER PKCS#10 request with an empty subject, self-signed by `key` (ECDSA P-256,
/// SHA-256): the proof of possession Fulcio checks.
pub(crate) fn build_csr(key: &KeyPair) -> Result<Vec<u8>, SignError> {
    let spki_der = key
        .public_key_der()
        .map_err(|e| SignError::local("encode public key", e))?;
    let public_key = SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes())
        .map_err(|e| SignError::local("encode public key", e))?;
    let info = CertReqInfo {
        version: Version::V1,
        subject: Default::default(),
        public_key,
        attributes: Default::default(),
    };
    let info_der = info
        .to_der()
        .map_err(|e| SignError::local("encode CSR", e))?;
    let signature = key
        .sign(&info_der)
        .map_err(|e| SignError::local("sign CSR", e))?;
    let request = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        },
        signature: BitString::from_bytes(signature.as_bytes())
            .map_err(|e| SignError::local("encode CSR", e))?,
    };
    request
        .to_der()
        .map_err(|e| SignError::local("encode CSR", e))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SigningCertificate {
    signed_certificate_embedded_sct: Option<ChainHolder>,
    signed_certificate_detached_sct: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChainHolder {
    chain: Chain,
}

#[derive(Deserialize)]
struct Chain {
    certificates: Vec<String>,
}

/// Asks the CA for a certificate for `key` and checks what comes back.
pub(crate) async fn request_certificate(
    http_client: &reqwest::Client,
    ca_url: &str,
    token: &str,
    key: &KeyPair,
    root: &TrustedRoot,
) -> Result<CheckedCertificate, SignError> {
    let csr_der = build_csr(key)?;
    let csr_pem =
        der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &csr_der)
            .map_err(|e| SignError::local("encode CSR", e))?;
    let body = serde_json::json!({
        "certificateSigningRequest": base64::engine::general_purpose::STANDARD.encode(csr_pem),
    });
    let url = format!("{ca_url}/api/v2/signingCert");
    let answer = http::exchange(
        http_client
            .post(&url)
            .bearer_auth(token.trim())
            .header("accept", "application/json")
            .json(&body),
        http::CA_TIMEOUT,
        http::MAX_CA_BYTES,
    )
    .await
    .map_err(|failure| match failure {
        http::Failure::Refused { status, detail } => SignError::CaRefused {
            url: url.clone(),
            status,
            detail,
        },
        http::Failure::Unavailable { detail } => SignError::CaUnavailable {
            url: url.clone(),
            detail,
        },
        http::Failure::TooLarge { limit } => http::too_large(Stage::Ca, &url, limit),
    })?;
    let chain = parse_chain(&answer)?;
    let spki = key
        .public_key_der()
        .map_err(|e| SignError::local("encode public key", e))?;
    check_certificate(&chain, root, spki.as_bytes(), jiff::Timestamp::now())
}

/// The DER certificates of a `SigningCertificate` answer, leaf first.
pub(crate) fn parse_chain(answer: &[u8]) -> Result<Vec<Vec<u8>>, SignError> {
    let parsed: SigningCertificate =
        serde_json::from_slice(answer).map_err(|e| SignError::CaResponseMalformed {
            detail: format!("expected a SigningCertificate JSON object: {e}"),
        })?;
    let holder = match (
        parsed.signed_certificate_embedded_sct,
        parsed.signed_certificate_detached_sct,
    ) {
        (Some(holder), _) => holder,
        (None, Some(_)) => {
            return Err(SignError::CaResponseMalformed {
                detail: "expected signedCertificateEmbeddedSct, found a detached SCT \
                         (not supported: bundles carry the SCT inside the certificate)"
                    .into(),
            })
        }
        (None, None) => {
            return Err(SignError::CaResponseMalformed {
                detail: "expected signedCertificateEmbeddedSct, found neither variant".into(),
            })
        }
    };
    if holder.chain.certificates.is_empty() {
        return Err(SignError::CaResponseMalformed {
            detail: "expected at least the leaf certificate, found an empty chain".into(),
        });
    }
    holder
        .chain
        .certificates
        .iter()
        .enumerate()
        .map(|(i, pem)| {
            let (label, der) = der::pem::decode_vec(pem.as_bytes()).map_err(|e| {
                SignError::CaResponseMalformed {
                    detail: format!("certificate {i} is not PEM: {e}"),
                }
            })?;
            if label != "CERTIFICATE" {
                return Err(SignError::CaResponseMalformed {
                    detail: format!(
                        "certificate {i}: expected PEM label CERTIFICATE, found {label}"
                    ),
                });
            }
            Ok(der)
        })
        .collect()
}

/// Checks a leaf-first chain from the CA: chain to the trusted root, embedded SCT, and
/// that it certifies `our_spki_der`. Fails closed.
pub(crate) fn check_certificate(
    chain: &[Vec<u8>],
    root: &TrustedRoot,
    our_spki_der: &[u8],
    now: jiff::Timestamp,
) -> Result<CheckedCertificate, SignError> {
    let (leaf_der, intermediates) = chain.split_first().ok_or(SignError::CaResponseMalformed {
        detail: "expected a leaf certificate, found none".into(),
    })?;
    let leaf = Certificate::from_der(leaf_der).map_err(|e| SignError::CaResponseMalformed {
        detail: format!("leaf certificate does not parse: {e}"),
    })?;

    // 1. Chain: every certificate of a CA valid now is an anchor (Fulcio intermediates
    //    are shipped as anchors); the CA's own intermediates may help path building.
    let anchor_ders: Vec<CertificateDer<'static>> = root
        .certificate_authorities
        .iter()
        .filter(|ca| ca.valid_for.as_ref().is_none_or(|v| v.contains(now)))
        .flat_map(|ca| ca.cert_chain.certificates.iter())
        .map(|c| CertificateDer::from(c.raw_bytes.as_bytes().to_vec()))
        .collect();
    let anchors: Vec<_> = anchor_ders
        .iter()
        .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
        .collect();
    if anchors.is_empty() {
        return Err(SignError::CertChainInvalid {
            detail: "the trusted root has no certificate authority valid now".into(),
        });
    }
    let intermediate_ders: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let leaf_cert_der = CertificateDer::from(leaf_der.as_slice());
    let end_entity = webpki::EndEntityCert::try_from(&leaf_cert_der).map_err(|e| {
        SignError::CertChainInvalid {
            detail: format!("leaf is not a usable X.509 certificate: {e:?}"),
        }
    })?;
    let seconds = u64::try_from(now.as_second()).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    let path = end_entity
        .verify_for_usage(
            sigstore_crypto::WEBPKI_VERIFICATION_ALGS,
            &anchors,
            &intermediate_ders,
            time,
            webpki::KeyUsage::required(ID_KP_CODE_SIGNING),
            None,
            None,
        )
        .map_err(|e| SignError::CertChainInvalid {
            detail: format!("expected a code-signing path to a trusted CA valid now, found: {e:?}"),
        })?;
    let issuer_spki = match path.intermediate_certificates().next() {
        Some(issuer) => issuer.subject_public_key_info().as_ref().to_vec(),
        None => der::Any::new(
            der::Tag::Sequence,
            path.anchor().subject_public_key_info.as_ref(),
        )
        .and_then(|any| any.to_der())
        .map_err(|e| SignError::local("encode issuer key", e))?,
    };

    // 2. SCT: one embedded SCT from a CT log of the trusted root, over this leaf.
    let mut last = None;
    let mut verified = false;
    for ctlog in &root.ctlogs {
        match vouch_ca::sct::verify_embedded_sct(
            leaf_der,
            &issuer_spki,
            ctlog.public_key.raw_bytes.as_bytes(),
        ) {
            Ok(_) => {
                verified = true;
                break;
            }
            Err(e) => {
                // A log-ID mismatch only says "not this log"; any other failure against
                // the matching log is the real reason.
                let text = e.to_string();
                if last.is_none() || !text.contains("log ID") {
                    last = Some(text);
                }
            }
        }
    }
    if !verified {
        return Err(SignError::SctInvalid {
            detail: last.unwrap_or_else(|| "the trusted root lists no CT log".into()),
        });
    }

    // 3. The certificate is for our key.
    let found = leaf
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| SignError::local("encode certificate key", e))?;
    if found != our_spki_der {
        return Err(SignError::CertKeyMismatch {
            expected: fingerprint(our_spki_der),
            found: fingerprint(&found),
        });
    }
    Ok(CheckedCertificate {
        leaf_der: leaf_der.clone(),
        chain_ders: intermediates.to_vec(),
    })
}

/// `sha256:<hex>` of a DER key, short enough for a message.
fn fingerprint(spki_der: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(spki_der)))
}
