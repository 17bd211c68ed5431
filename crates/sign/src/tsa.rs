//! The timestamp step (RFC 3161): a DER `TimeStampReq` over SHA-256 of the signature with
//! a random nonce and `certReq`, and the checks on the reply: granted status, a token
//! whose `TSTInfo` carries our message imprint and our nonce, signed by a timestamp
//! authority of the trusted root (checked with sigstore-tsa, as verifiers do).

use cms::signed_data::SignedData;
use const_oid::db::rfc5912::ID_SHA_256;
use der::asn1::{Int, OctetString};
use der::{Any, Decode, Encode};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use crate::error::{SignError, Stage};
use crate::http;

/// id-signedData.
const ID_SIGNED_DATA: der::oid::ObjectIdentifier = const_oid::db::rfc5911::ID_SIGNED_DATA;
/// id-ct-TSTInfo.
const ID_CT_TST_INFO: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// A request and what its reply must echo.
pub(crate) struct Request {
    pub(crate) der: Vec<u8>,
    imprint: [u8; 32],
    nonce: Vec<u8>,
}

/// Builds the request for `signature`.
pub(crate) fn build_request(signature: &[u8]) -> Result<Request, SignError> {
    let imprint: [u8; 32] = Sha256::digest(signature).into();
    let mut nonce = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| SignError::local("random nonce", e))?;
    nonce[0] &= 0x7f; // a positive INTEGER without a leading zero octet
    if nonce[0] == 0 {
        nonce[0] = 1;
    }
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: ID_SHA_256,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(imprint.to_vec())
                .map_err(|e| SignError::local("encode timestamp request", e))?,
        },
        req_policy: None,
        nonce: Some(Int::new(&nonce).map_err(|e| SignError::local("encode timestamp request", e))?),
        cert_req: true,
        extensions: None,
    };
    let der = request
        .to_der()
        .map_err(|e| SignError::local("encode timestamp request", e))?;
    Ok(Request {
        der,
        imprint,
        nonce: nonce.to_vec(),
    })
}

/// Asks the TSA at `url` (the full endpoint) for a timestamp over `signature`; returns
/// the DER `TimeStampResp` the bundle stores.
pub(crate) async fn timestamp(
    http_client: &reqwest::Client,
    url: &str,
    signature: &[u8],
    root: &sigstore_trust_root::TrustedRoot,
) -> Result<Vec<u8>, SignError> {
    let request = build_request(signature)?;
    let reply = http::exchange(
        http_client
            .post(url)
            .header("content-type", "application/timestamp-query")
            .header("accept", "application/timestamp-reply")
            .body(request.der.clone()),
        http::TSA_TIMEOUT,
        http::MAX_TSA_BYTES,
    )
    .await
    .map_err(|failure| match failure {
        http::Failure::Refused { status, detail } => SignError::TsaRefused {
            url: url.to_string(),
            detail: format!("HTTP {status}: {detail}"),
        },
        http::Failure::Unavailable { detail } => SignError::TsaUnavailable {
            url: url.to_string(),
            detail,
        },
        http::Failure::TooLarge { limit } => http::too_large(Stage::Timestamp, url, limit),
    })?;
    check_reply(&request, &reply, url)?;
    check_authority(&reply, signature, root, url)?;
    Ok(reply)
}

/// The token must be signed by a timestamp authority of the trusted root, at a time
/// inside that authority's validity.
pub(crate) fn check_authority(
    reply: &[u8],
    signature: &[u8],
    root: &sigstore_trust_root::TrustedRoot,
    url: &str,
) -> Result<(), SignError> {
    let token = sigstore_types::TimestampToken::new(reply.to_vec());
    let signature = sigstore_types::SignatureBytes::new(signature.to_vec());
    let mut last = None;
    for authority in root.tsa_authorities() {
        match sigstore_tsa::verify_timestamp_for_authority(&token, &signature, &authority) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(SignError::TimestampInvalid {
        url: url.to_string(),
        check: format!(
            "not signed by a timestamp authority of the trusted root: {}",
            last.unwrap_or_else(|| "the trusted root lists none".into())
        ),
    })
}

/// Checks a DER `TimeStampResp` against the request it answers.
pub(crate) fn check_reply(request: &Request, reply: &[u8], url: &str) -> Result<(), SignError> {
    let invalid = |check: String| SignError::TimestampInvalid {
        url: url.to_string(),
        check,
    };
    let response = TimeStampResp::from_der(reply)
        .map_err(|e| invalid(format!("reply is not a DER TimeStampResp: {e}")))?;
    let status = response.status.status as u8;
    if status > 1 {
        return Err(SignError::TsaRefused {
            url: url.to_string(),
            detail: format!(
                "expected PKIStatus granted (0) or grantedWithMods (1), found {status}, failInfo {:?}",
                response.status.fail_info
            ),
        });
    }
    let token = response
        .time_stamp_token
        .ok_or_else(|| invalid("granted reply carries no timeStampToken".into()))?;
    if token.content_type != ID_SIGNED_DATA {
        return Err(invalid(format!(
            "expected a SignedData token, found content type {}",
            token.content_type
        )));
    }
    let signed: SignedData = token
        .content
        .decode_as()
        .map_err(|e| invalid(format!("token is not CMS SignedData: {e}")))?;
    if signed.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(invalid(format!(
            "expected eContentType id-ct-TSTInfo, found {}",
            signed.encap_content_info.econtent_type
        )));
    }
    let econtent = signed
        .encap_content_info
        .econtent
        .ok_or_else(|| invalid("token has no TSTInfo content".into()))?;
    let octets: OctetString = econtent
        .decode_as()
        .map_err(|e| invalid(format!("TSTInfo is not wrapped in an OCTET STRING: {e}")))?;
    let info = TstInfo::from_der(octets.as_bytes())
        .map_err(|e| invalid(format!("TSTInfo does not parse: {e}")))?;
    if info.message_imprint.hash_algorithm.oid != ID_SHA_256 {
        return Err(invalid(format!(
            "expected message imprint algorithm SHA-256, found {}",
            info.message_imprint.hash_algorithm.oid
        )));
    }
    if info.message_imprint.hashed_message.as_bytes() != request.imprint {
        return Err(invalid(format!(
            "message imprint mismatch: expected {} (SHA-256 of the signature), found {}",
            hex::encode(request.imprint),
            hex::encode(info.message_imprint.hashed_message.as_bytes())
        )));
    }
    match &info.nonce {
        Some(nonce) if nonce.as_bytes() == request.nonce.as_slice() => {}
        Some(nonce) => {
            return Err(invalid(format!(
                "nonce mismatch: expected {}, found {}",
                hex::encode(&request.nonce),
                hex::encode(nonce.as_bytes())
            )))
        }
        None => return Err(invalid("the token does not echo our nonce".into())),
    }
    Ok(())
}
