//! JSON Web Key sets (RFC 7517) reduced to the keys this crate can use, RSA and EC P-256, and
//! signature verification with aws-lc-rs. A key is only ever used with the one algorithm its
//! type allows, so an RSA key can never check an ES256 token, nor any key an HMAC.

use aws_lc_rs::signature::{
    RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
};
use serde_json::{Map, Value};
use std::sync::Arc;

use crate::error::{Malformation, OidcError, TokenPart};
use crate::jose::{parse_unique_object, unb64, Algorithm, UnverifiedToken};

/// Public key material of one usable JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA, big-endian modulus and exponent without leading zeros.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// P-256, uncompressed SEC1 point `04 || x || y`.
    P256 {
        /// 65-byte point.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// The only algorithm this key may verify.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Rsa { .. } => Algorithm::Rs256,
            PublicKey::P256 { .. } => Algorithm::Es256,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            PublicKey::Rsa { .. } => "RSA",
            PublicKey::P256 { .. } => "EC P-256",
        }
    }
}

/// One usable key from a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// `kid`, when present.
    pub kid: Option<String>,
    /// `alg`, when the set names one.
    pub alg: Option<String>,
    /// Key material.
    pub key: PublicKey,
}

/// The usable keys of one issuer's JWKS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<Jwk>,
}

/// The outcome of looking a key up for a token header.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    Found(&'a Jwk),
    /// No key has this id (or, without a `kid`, not exactly one key fits the algorithm).
    Missing,
}

impl KeySet {
    /// Builds a set from keys (used by the dev issuer and tests).
    pub fn from_keys(keys: Vec<Jwk>) -> Self {
        KeySet { keys }
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Parses a JWKS document. Keys of other types (`oct`, `OKP`, other curves), keys marked
    /// `use` other than `sig`, and keys with unusable members are skipped; a set with no usable
    /// key, or with two usable keys of one type under one `kid`, is refused.
    pub fn parse(bytes: &[u8]) -> Result<KeySet, String> {
        let doc = parse_unique_object(bytes).map_err(|m| format!("not a JWKS object: {m}"))?;
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err("member \"keys\" is missing or not an array".to_owned());
        };
        let mut keys: Vec<Jwk> = Vec::new();
        for entry in entries {
            let Some(members) = entry.as_object() else {
                continue;
            };
            let Some(jwk) = parse_jwk(members) else {
                tracing::debug!(kid = ?members.get("kid"), "skipping unusable JWK");
                continue;
            };
            if keys
                .iter()
                .any(|k| k.kid == jwk.kid && k.key.algorithm() == jwk.key.algorithm())
            {
                return Err(format!(
                    "two {} keys share kid {:?}",
                    jwk.key.describe(),
                    jwk.kid
                ));
            }
            keys.push(jwk);
        }
        if keys.is_empty() {
            return Err("no usable RS256 or ES256 key".to_owned());
        }
        Ok(KeySet { keys })
    }

    /// Finds the key for a header. With a `kid`, the key with that id whose type fits `alg`
    /// (falling back to any key with that id, so that a type mismatch is reported as such).
    /// Without one, the only key of the fitting type, if exactly one exists.
    pub(crate) fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => {
                let all: Vec<&Jwk> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                match all
                    .iter()
                    .find(|k| k.key.algorithm() == alg)
                    .or(all.first())
                {
                    Some(k) => Lookup::Found(k),
                    None => Lookup::Missing,
                }
            }
            None => {
                let fitting: Vec<&Jwk> = self
                    .keys
                    .iter()
                    .filter(|k| k.key.algorithm() == alg)
                    .collect();
                match fitting.as_slice() {
                    [only] => Lookup::Found(only),
                    _ => Lookup::Missing,
                }
            }
        }
    }
}

fn parse_jwk(members: &Map<String, Value>) -> Option<Jwk> {
    if let Some(usage) = members.get("use") {
        if usage.as_str() != Some("sig") {
            return None;
        }
    }
    let kid = match members.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let alg = match members.get("alg") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let field = |name: &str| members.get(name).and_then(Value::as_str).and_then(unb64);
    let key = match members.get("kty").and_then(Value::as_str)? {
        "RSA" => {
            let n = strip_leading_zeros(field("n")?);
            let e = strip_leading_zeros(field("e")?);
            // RS256 keys of 2048 to 8192 bits only (the verification parameters' range),
            // refused here so a weak key never enters the set.
            if !(256..=1024).contains(&n.len()) || e.is_empty() || e.len() > 8 {
                return None;
            }
            PublicKey::Rsa { n, e }
        }
        "EC" => {
            if members.get("crv").and_then(Value::as_str)? != "P-256" {
                return None;
            }
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::P256 { point }
        }
        _ => return None,
    };
    Some(Jwk { kid, alg, key })
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Verifies a token's signature with `jwk`, after checking that the key's type (and `alg`, if
/// the set names one) matches the header's algorithm.
pub(crate) fn verify_signature(token: &UnverifiedToken, jwk: &Jwk) -> Result<(), OidcError> {
    let alg = token.header.alg;
    let mismatch = |found: String| OidcError::KeyAlgorithmMismatch {
        kid: jwk.kid.clone(),
        expected: alg.name().to_owned(),
        found,
    };
    if jwk.key.algorithm() != alg {
        return Err(mismatch(jwk.key.describe().to_owned()));
    }
    if let Some(named) = &jwk.alg {
        if named != alg.name() {
            return Err(mismatch(named.clone()));
        }
    }
    let message = token.signing_input.as_bytes();
    let signature = token.signature.as_slice();
    let verified = match &jwk.key {
        PublicKey::Rsa { n, e } => RsaPublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature),
        PublicKey::P256 { point } => {
            // RFC 7518 §3.4: the JWS form is the fixed 64-byte r || s, never DER.
            if signature.len() != 64 {
                return Err(OidcError::malformed(
                    TokenPart::Signature,
                    Malformation::SignatureLength {
                        expected: 64,
                        found: signature.len(),
                    },
                ));
            }
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, signature)
        }
    };
    verified.map_err(|_| OidcError::BadSignature)
}

/// Shared, immutable key set as cached per issuer.
pub(crate) type SharedKeySet = Arc<KeySet>;

#[cfg(test)]
mod tests {
    use super::*;

    const EC_KEY: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn parses_ec_and_skips_unusable_keys() {
        let doc = format!(
            r#"{{"keys":[{EC_KEY},{{"kty":"oct","k":"c2VjcmV0","kid":"h"}},{{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}},{{"kty":"RSA","n":"AQAB","e":"AQAB","use":"enc"}}]}}"#
        );
        let set = KeySet::parse(doc.as_bytes()).expect("one usable key");
        assert_eq!(set.keys().len(), 1);
        assert_eq!(set.keys()[0].kid.as_deref(), Some("ec1"));
        assert_eq!(set.keys()[0].key.algorithm(), Algorithm::Es256);
    }

    #[test]
    fn refuses_sets_without_usable_keys() {
        // An HMAC (`oct`) key is never usable: the set has no key left.
        assert_eq!(
            KeySet::parse(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).err(),
            Some("no usable RS256 or ES256 key".to_owned())
        );
        assert_eq!(
            KeySet::parse(br#"{"keys":{}}"#).err(),
            Some("member \"keys\" is missing or not an array".to_owned())
        );
        assert!(KeySet::parse(b"[]")
            .unwrap_err()
            .starts_with("not a JWKS object: "));
    }

    #[test]
    fn skips_rsa_keys_below_2048_bits() {
        let n1024 = crate::jose::b64(&[0xC1; 128]);
        let doc = format!(r#"{{"keys":[{{"kty":"RSA","n":"{n1024}","e":"AQAB"}}]}}"#);
        assert_eq!(
            KeySet::parse(doc.as_bytes()).err(),
            Some("no usable RS256 or ES256 key".to_owned())
        );
        let n2048 = crate::jose::b64(&[0xC1; 256]);
        let doc = format!(r#"{{"keys":[{{"kty":"RSA","n":"{n2048}","e":"AQAB"}}]}}"#);
        assert_eq!(
            KeySet::parse(doc.as_bytes()).map(|s| s.keys().len()).ok(),
            Some(1)
        );
    }

    #[test]
    fn refuses_duplicate_kid_of_one_type() {
        let doc = format!(r#"{{"keys":[{EC_KEY},{EC_KEY}]}}"#);
        assert!(KeySet::parse(doc.as_bytes())
            .unwrap_err()
            .contains("share kid"));
    }

    #[test]
    fn lookup_without_kid_needs_exactly_one_fitting_key() {
        let doc = format!(r#"{{"keys":[{EC_KEY}]}}"#);
        let set = KeySet::parse(doc.as_bytes()).expect("valid");
        assert!(matches!(
            set.lookup(None, Algorithm::Es256),
            Lookup::Found(_)
        ));
        assert!(matches!(
            set.lookup(None, Algorithm::Rs256),
            Lookup::Missing
        ));
        assert!(matches!(
            set.lookup(Some("nope"), Algorithm::Es256),
            Lookup::Missing
        ));
        // A kid naming a key of the other type is found, so verification reports the mismatch.
        assert!(matches!(
            set.lookup(Some("ec1"), Algorithm::Rs256),
            Lookup::Found(_)
        ));
    }
}
