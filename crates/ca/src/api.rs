//! Wire types of Fulcio's v2 `POST /api/v2/signingCert` (protobuf JSON mapping of
//! `CreateSigningCertificateRequest` / `SigningCertificate`) and `GET
//! /api/v2/trustBundle`, kept apart from the domain types.
//!
//! Request parsing is strict: a size cap, no unknown fields, exactly one key source.
//! Field names are accepted in lowerCamelCase and in the proto's snake_case, and
//! `bytes` fields in standard or URL-safe base64 with or without padding, as every
//! protobuf JSON parser does.
//!
//! sigstore-python 4.x sends only `{"certificateSigningRequest": base64(PEM CSR)}` with
//! the token in the `Authorization: Bearer` header; sigstore-go and cosign may send
//! `credentials.oidcIdentityToken` and a `publicKeyRequest` whose `proofOfPossession`
//! signs the token's subject.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{CaError, Result};
use crate::key::{Csr, KeyAlgorithm, ProvenPublicKey, SubjectPublicKey};

/// Default cap on a `signingCert` request body: far above a real request (a CSR and a
/// token are a few KiB).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// `CreateSigningCertificateRequest`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSigningCertificateRequest {
    /// Identity credentials; may instead arrive as a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// A public key with a proof of possession.
    #[serde(
        default,
        alias = "public_key_request",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_key_request: Option<PublicKeyRequest>,
    /// base64 of a PEM PKCS#10 CSR.
    #[serde(
        default,
        alias = "certificate_signing_request",
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_signing_request: Option<String>,
}

/// `Credentials`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Credentials {
    /// The OIDC ID token (a JWT).
    #[serde(
        default,
        alias = "oidc_identity_token",
        skip_serializing_if = "Option::is_none"
    )]
    pub oidc_identity_token: Option<String>,
}

/// `PublicKeyRequest`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublicKeyRequest {
    /// The key.
    #[serde(alias = "public_key")]
    pub public_key: PublicKey,
    /// base64 signature over the identity's subject.
    #[serde(alias = "proof_of_possession")]
    pub proof_of_possession: String,
}

/// `PublicKey`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublicKey {
    /// `PublicKeyAlgorithm` enum, by name or number; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<AlgorithmField>,
    /// PEM SubjectPublicKeyInfo.
    pub content: String,
}

/// A protobuf enum value in JSON: its name or its number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum AlgorithmField {
    /// e.g. `"ECDSA"`.
    Name(String),
    /// e.g. `2`.
    Number(i64),
}

/// `SigningCertificate` with the `signedCertificateEmbeddedSct` variant (the only one
/// vouch produces).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SigningCertificateResponse {
    /// The chain whose leaf embeds its SCT.
    pub signed_certificate_embedded_sct: SigningCertificateEmbeddedSct,
}

/// `SigningCertificateEmbeddedSCT`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SigningCertificateEmbeddedSct {
    /// Leaf first, then intermediate, then root.
    pub chain: CertificateChain,
}

/// `CertificateChain`: PEM certificates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CertificateChain {
    /// PEM strings.
    pub certificates: Vec<String>,
}

/// `TrustBundle` (`GET /api/v2/trustBundle`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrustBundle {
    /// One chain per CA: intermediate then root.
    pub chains: Vec<CertificateChain>,
}

/// Where the key to certify comes from, after structural validation.
#[derive(Debug, Clone)]
enum KeySource {
    PublicKey {
        key: SubjectPublicKey,
        proof: Vec<u8>,
    },
    Csr(Csr),
}

/// A structurally valid signing request. Its key is not yet proven: call
/// [`prove_possession`](Self::prove_possession) after the token has been verified.
#[derive(Debug, Clone)]
pub struct SigningRequest {
    token: Option<String>,
    key: KeySource,
}

impl SigningRequest {
    /// Parses a request body, refusing anything over [`MAX_REQUEST_BYTES`].
    pub fn from_json(body: &[u8]) -> Result<Self> {
        Self::from_json_with_limit(body, MAX_REQUEST_BYTES)
    }

    /// Parses a request body with an explicit size cap.
    pub fn from_json_with_limit(body: &[u8], limit: usize) -> Result<Self> {
        if body.len() > limit {
            return Err(CaError::RequestTooLarge {
                limit,
                found: body.len(),
            });
        }
        let wire: CreateSigningCertificateRequest =
            serde_json::from_slice(body).map_err(|e| CaError::MalformedRequest {
                line: e.line(),
                column: e.column(),
                reason: describe_json_error(&e),
            })?;
        Self::from_wire(wire)
    }

    /// Validates a deserialized request.
    pub fn from_wire(wire: CreateSigningCertificateRequest) -> Result<Self> {
        let token = wire.credentials.and_then(|c| c.oidc_identity_token);
        let key = match (wire.public_key_request, wire.certificate_signing_request) {
            (Some(request), None) => {
                let key = SubjectPublicKey::from_pem(&request.public_key.content)?;
                if let Some(declared) = &request.public_key.algorithm {
                    check_declared_algorithm(declared, key.algorithm())?;
                }
                let proof = decode_base64(&request.proof_of_possession, "proofOfPossession")?;
                KeySource::PublicKey { key, proof }
            }
            (None, Some(csr)) => {
                let pem = decode_base64(&csr, "certificateSigningRequest")?;
                let pem = std::str::from_utf8(&pem).map_err(|_| CaError::MalformedPem {
                    field: "certificateSigningRequest",
                    expected_label: "CERTIFICATE REQUEST",
                })?;
                KeySource::Csr(Csr::from_pem(pem)?)
            }
            (None, None) => return Err(CaError::KeySourceCount { found: 0 }),
            (Some(_), Some(_)) => return Err(CaError::KeySourceCount { found: 2 }),
        };
        Ok(Self { token, key })
    }

    /// The token from `credentials.oidcIdentityToken`, if the body carried one (the HTTP
    /// layer falls back to the `Authorization: Bearer` header).
    pub fn identity_token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The algorithm of the key to certify.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        match &self.key {
            KeySource::PublicKey { key, .. } => key.algorithm(),
            KeySource::Csr(csr) => csr.key_algorithm(),
        }
    }

    /// Checks proof of possession. `challenge` is what a `publicKeyRequest` proof must
    /// sign: the verified token's `sub` claim (Fulcio signs the principal's name, which
    /// for email identities is the email address). A CSR proves possession by its own
    /// signature and ignores `challenge`.
    pub fn prove_possession(self, challenge: &str) -> Result<ProvenPublicKey> {
        match self.key {
            KeySource::PublicKey { key, proof } => key.prove_with_signature(challenge, &proof),
            KeySource::Csr(csr) => csr.prove(),
        }
    }
}

/// A description of a JSON error that never echoes request values: serde's "invalid
/// type/value" messages quote the offending string, which could be a token.
fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax => "invalid JSON syntax".to_owned(),
        Category::Eof => "unexpected end of input".to_owned(),
        Category::Io => "unreadable input".to_owned(),
        Category::Data => {
            let message = error.to_string();
            let structural = ["unknown field", "missing field", "duplicate field"];
            if structural.iter().any(|p| message.starts_with(p)) {
                // Field names only; cut before serde's " at line N column M" suffix.
                let end = message.find(" at line ").unwrap_or(message.len());
                message[..end].chars().take(200).collect()
            } else {
                "a field has the wrong type or value".to_owned()
            }
        }
    }
}

fn check_declared_algorithm(declared: &AlgorithmField, actual: KeyAlgorithm) -> Result<()> {
    // PublicKeyAlgorithm: UNSPECIFIED = 0, RSA_PSS = 1, ECDSA = 2, ED25519 = 3.
    let (name, expected_ok) = match declared {
        AlgorithmField::Name(n) => (n.clone(), n.as_str()),
        AlgorithmField::Number(n) => (
            n.to_string(),
            match n {
                0 => "PUBLIC_KEY_ALGORITHM_UNSPECIFIED",
                1 => "RSA_PSS",
                2 => "ECDSA",
                3 => "ED25519",
                _ => "",
            },
        ),
    };
    let matches = match expected_ok {
        "PUBLIC_KEY_ALGORITHM_UNSPECIFIED" => true,
        "ECDSA" => matches!(actual, KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384),
        "ED25519" => actual == KeyAlgorithm::Ed25519,
        "RSA_PSS" => false,
        _ => {
            return Err(CaError::UnsupportedKeyAlgorithm { found: name });
        }
    };
    if matches {
        Ok(())
    } else {
        Err(CaError::KeyAlgorithmMismatch {
            declared: name,
            found: actual.name(),
        })
    }
}

/// Protobuf JSON `bytes`: standard or URL-safe alphabet, padding optional.
fn decode_base64(value: &str, field: &'static str) -> Result<Vec<u8>> {
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);
    STANDARD
        .decode(value)
        .or_else(|_| URL_SAFE.decode(value))
        .map_err(|_| CaError::InvalidBase64 { field })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_request_is_refused() {
        let body = vec![b' '; MAX_REQUEST_BYTES + 1];
        let err = SigningRequest::from_json(&body).unwrap_err();
        assert!(
            matches!(err, CaError::RequestTooLarge { limit: MAX_REQUEST_BYTES, found } if found == MAX_REQUEST_BYTES + 1)
        );
        assert_eq!(err.code(), "CA_E001");
    }

    #[test]
    fn unknown_fields_and_missing_key_are_refused() {
        let err = SigningRequest::from_json(br#"{"surprise": 1}"#).unwrap_err();
        assert!(matches!(err, CaError::MalformedRequest { .. }));
        let err = SigningRequest::from_json(br#"{"credentials": {"oidcIdentityToken": "t"}}"#)
            .unwrap_err();
        assert!(matches!(err, CaError::KeySourceCount { found: 0 }));
    }

    #[test]
    fn json_errors_do_not_echo_values() {
        let err = SigningRequest::from_json(br#"{"credentials": {"oidcIdentityToken": 5}, "certificateSigningRequest": "secret-token-value"}"#)
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let err =
            SigningRequest::from_json(br#"{"certificateSigningRequest": 1234567}"#).unwrap_err();
        assert!(!err.to_string().contains("1234567"), "{err}");
        let err = SigningRequest::from_json(br#"{"bogus": true}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
    }

    #[test]
    fn bad_base64_is_refused() {
        let err =
            SigningRequest::from_json(br#"{"certificateSigningRequest": "***"}"#).unwrap_err();
        assert!(matches!(
            err,
            CaError::InvalidBase64 {
                field: "certificateSigningRequest"
            }
        ));
    }

    #[test]
    fn declared_algorithm_checks() {
        assert!(
            check_declared_algorithm(&AlgorithmField::Number(2), KeyAlgorithm::EcdsaP256).is_ok()
        );
        assert!(matches!(
            check_declared_algorithm(
                &AlgorithmField::Name("ED25519".into()),
                KeyAlgorithm::EcdsaP256
            ),
            Err(CaError::KeyAlgorithmMismatch { .. })
        ));
        assert!(matches!(
            check_declared_algorithm(&AlgorithmField::Name("DSA".into()), KeyAlgorithm::EcdsaP256),
            Err(CaError::UnsupportedKeyAlgorithm { .. })
        ));
        assert!(matches!(
            check_declared_algorithm(
                &AlgorithmField::Name("RSA_PSS".into()),
                KeyAlgorithm::EcdsaP256
            ),
            Err(CaError::KeyAlgorithmMismatch { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn request_parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Ok(request) = SigningRequest::from_json(&bytes) {
                let _ = request.prove_possession("sub");
            }
        }

        #[test]
        fn structured_requests_never_panic(
            token in "\\PC{0,20}",
            content in "\\PC{0,200}",
            proof in "[A-Za-z0-9+/=_-]{0,100}",
            csr in "[A-Za-z0-9+/=_-]{0,300}",
            pick in 0u8..3,
        ) {
            let body = match pick {
                0 => serde_json::json!({"credentials": {"oidcIdentityToken": token},
                    "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": content}, "proofOfPossession": proof}}),
                1 => serde_json::json!({"certificateSigningRequest": csr}),
                _ => serde_json::json!({"publicKeyRequest": {"publicKey": {"content": content}, "proofOfPossession": proof},
                    "certificateSigningRequest": csr}),
            };
            let bytes = serde_json::to_vec(&body).unwrap();
            if let Ok(request) = SigningRequest::from_json(&bytes) {
                let _ = request.prove_possession(&token);
            }
        }
    }
}
