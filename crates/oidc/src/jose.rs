//! Minimal, fail-closed parsing of a compact JWS (RFC 7515 §7.1) carrying a JWT: exactly three
//! unpadded base64url segments, a header whose `alg` is RS256 or ES256, no `crit`, and JSON
//! objects without duplicate members. Nothing here verifies a signature; see [`crate::jwk`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

use crate::error::{Malformation, OidcError, TokenPart};

/// Largest token accepted, in bytes. CI tokens are 1–3 KiB; the cap bounds the work an
/// unauthenticated caller can ask for before any signature is checked.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The only two signature algorithms this crate accepts (RFC 7518 §3.3 and §3.4).
///
/// There is deliberately no variant for `none` or HS*: an HMAC "verified" with a public key
/// (the algorithm-confusion attack) cannot be expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 to 8192 bits.
    Rs256,
    /// ECDSA on P-256 with SHA-256, signature as 64 bytes `r || s`.
    Es256,
}

impl Algorithm {
    /// The JOSE name (`RS256`, `ES256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }

    /// Parses a JOSE `alg` value, refusing everything but RS256 and ES256 (case-sensitive).
    pub fn from_name(name: &str) -> Result<Self, OidcError> {
        match name {
            "RS256" => Ok(Algorithm::Rs256),
            "ES256" => Ok(Algorithm::Es256),
            other => Err(OidcError::UnsupportedAlgorithm {
                found: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The protected header, reduced to what verification uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Signature algorithm.
    pub alg: Algorithm,
    /// Key id, when the issuer sets one.
    pub kid: Option<String>,
}

/// A structurally valid, not yet verified, compact JWS.
#[derive(Debug, Clone)]
pub struct UnverifiedToken {
    /// Parsed header.
    pub header: Header,
    /// Claims set, top-level members unique.
    pub claims: Map<String, Value>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes the signature covers.
    pub signing_input: String,
    /// Decoded signature bytes.
    pub signature: Vec<u8>,
}

/// Parses a compact JWS without verifying it. Checks, in order: size, segment count, header
/// encoding and members (`alg`, `crit`, `kid`), payload, signature encoding.
pub fn parse_compact(token: &str) -> Result<UnverifiedToken, OidcError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(OidcError::TokenTooLarge {
            limit: MAX_TOKEN_BYTES,
            found: token.len(),
        });
    }
    let segments: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = segments.as_slice() else {
        return Err(OidcError::malformed(
            TokenPart::Token,
            Malformation::SegmentCount {
                found: segments.len(),
            },
        ));
    };
    let header_json = decode_segment(header_b64, TokenPart::Header)?;
    let header = parse_header(&header_json)?;
    let payload_json = decode_segment(payload_b64, TokenPart::Payload)?;
    let claims = parse_unique_object(&payload_json)
        .map_err(|problem| OidcError::malformed(TokenPart::Payload, problem))?;
    let signature = decode_segment(signature_b64, TokenPart::Signature)?;
    let signing_input = format!("{header_b64}.{payload_b64}");
    Ok(UnverifiedToken {
        header,
        claims,
        signing_input,
        signature,
    })
}

fn decode_segment(segment: &str, part: TokenPart) -> Result<Vec<u8>, OidcError> {
    if segment.is_empty() {
        return Err(OidcError::malformed(part, Malformation::Empty));
    }
    // URL_SAFE_NO_PAD refuses '=' padding, the standard alphabet's '+' and '/', whitespace and
    // non-canonical trailing bits, so each token has exactly one encoding.
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| OidcError::malformed(part, Malformation::Base64))
}

fn parse_header(bytes: &[u8]) -> Result<Header, OidcError> {
    let members = parse_unique_object(bytes)
        .map_err(|problem| OidcError::malformed(TokenPart::Header, problem))?;
    let alg = match members.get("alg") {
        Some(Value::String(name)) => Algorithm::from_name(name)?,
        Some(_) => {
            return Err(OidcError::malformed(
                TokenPart::Header,
                Malformation::HeaderMemberType { name: "alg" },
            ))
        }
        None => {
            return Err(OidcError::UnsupportedAlgorithm {
                found: String::new(),
            })
        }
    };
    // RFC 7515 §4.1.11: a recipient must refuse `crit` extensions it does not understand, and
    // this crate understands none.
    if let Some(crit) = members.get("crit") {
        let name = match crit {
            Value::Array(names) => names
                .first()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            _ => String::new(),
        };
        return Err(OidcError::CriticalHeader { name });
    }
    let kid = match members.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => {
            return Err(OidcError::malformed(
                TokenPart::Header,
                Malformation::HeaderMemberType { name: "kid" },
            ))
        }
    };
    // `jwk`, `jku`, `x5u`, `x5c` are ignored: keys come only from the configured issuer's JWKS.
    Ok(Header { alg, kid })
}

/// Parses a JSON object, refusing a repeated top-level member name instead of letting the last
/// one win (a parser differential between this verifier and other consumers would otherwise
/// let one token mean two things). Nested objects keep serde_json's behaviour; serde_json's
/// recursion limit bounds nesting depth.
pub fn parse_unique_object(bytes: &[u8]) -> Result<Map<String, Value>, Malformation> {
    let mut duplicate = None;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let seed = UniqueObjectSeed {
        duplicate: &mut duplicate,
    };
    let parsed = seed.deserialize(&mut deserializer).and_then(|map| {
        deserializer.end()?;
        Ok(map)
    });
    match (parsed, duplicate) {
        (_, Some(name)) => Err(Malformation::DuplicateMember { name }),
        (Ok(map), None) => Ok(map),
        (Err(_), None) => Err(Malformation::NotJsonObject),
    }
}

struct UniqueObjectSeed<'a> {
    duplicate: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for UniqueObjectSeed<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UniqueObjectSeed<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                *self.duplicate = Some(key);
                return Err(de::Error::custom("duplicate member"));
            }
            let value: Value = access.next_value()?;
            map.insert(key, value);
        }
        Ok(map)
    }
}

/// Encodes bytes as unpadded base64url, the JOSE encoding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url.
pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seg(json: &str) -> String {
        b64(json.as_bytes())
    }

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        format!("{}.{}.{}", seg(header), seg(payload), b64(sig))
    }

    #[test]
    fn accepts_well_formed_es256() {
        let t = token(
            r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#,
            r#"{"iss":"x"}"#,
            &[1; 64],
        );
        let parsed = parse_compact(&t).expect("well formed");
        assert_eq!(
            parsed.header,
            Header {
                alg: Algorithm::Es256,
                kid: Some("k1".into())
            }
        );
        assert_eq!(parsed.claims["iss"], "x");
        assert_eq!(parsed.signature, vec![1; 64]);
    }

    #[test]
    fn refuses_alg_none_even_with_empty_signature() {
        let t = format!("{}.{}.", seg(r#"{"alg":"none"}"#), seg(r#"{"iss":"x"}"#));
        let err = parse_compact(&t).unwrap_err();
        assert!(matches!(&err, OidcError::UnsupportedAlgorithm { found } if found == "none"));
        assert_eq!(err.code(), "OIDC_E003");
    }

    #[test]
    fn refuses_hmac_and_other_algorithms() {
        for alg in [
            "HS256", "HS384", "HS512", "RS384", "PS256", "ES384", "EdDSA", "rs256", "es256",
        ] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}", &[0; 64]);
            assert!(
                matches!(parse_compact(&t), Err(OidcError::UnsupportedAlgorithm { found }) if found == alg),
                "{alg} must be refused"
            );
        }
    }

    #[test]
    fn refuses_missing_or_non_string_alg() {
        let t = token(r#"{"kid":"a"}"#, "{}", &[0; 64]);
        assert!(
            matches!(parse_compact(&t), Err(OidcError::UnsupportedAlgorithm { found }) if found.is_empty())
        );
        let t = token(r#"{"alg":["ES256"]}"#, "{}", &[0; 64]);
        assert!(matches!(
            parse_compact(&t),
            Err(OidcError::Malformed {
                part: TokenPart::Header,
                problem: Malformation::HeaderMemberType { name: "alg" }
            })
        ));
    }

    #[test]
    fn refuses_crit() {
        let t = token(
            r#"{"alg":"ES256","crit":["b64"],"b64":false}"#,
            "{}",
            &[0; 64],
        );
        assert!(
            matches!(parse_compact(&t), Err(OidcError::CriticalHeader { name }) if name == "b64")
        );
    }

    #[test]
    fn refuses_wrong_segment_counts() {
        for (t, n) in [
            ("", 1),
            ("a", 1),
            ("a.b", 2),
            ("a.b.c.d", 4),
            ("a.b.c.d.e", 5),
        ] {
            let err = parse_compact(t).unwrap_err();
            assert!(
                matches!(&err, OidcError::Malformed { part: TokenPart::Token, problem: Malformation::SegmentCount { found } } if *found == n),
                "{t:?}: {err:?}"
            );
            assert_eq!(err.code(), "OIDC_E002");
        }
    }

    #[test]
    fn refuses_padding_and_standard_alphabet() {
        let header = seg(r#"{"alg":"ES256"}"#);
        let padded = format!("{header}=.{}.{}", seg("{}"), b64(&[0; 64]));
        assert!(matches!(
            parse_compact(&padded),
            Err(OidcError::Malformed {
                part: TokenPart::Header,
                problem: Malformation::Base64
            })
        ));
        let plus = format!("{header}.{}.ab+/", seg("{}"));
        assert!(matches!(
            parse_compact(&plus),
            Err(OidcError::Malformed {
                part: TokenPart::Signature,
                problem: Malformation::Base64
            })
        ));
        let space = format!("{header}.{} .{}", seg("{}"), b64(&[0; 64]));
        assert!(matches!(
            parse_compact(&space),
            Err(OidcError::Malformed {
                part: TokenPart::Payload,
                problem: Malformation::Base64
            })
        ));
    }

    #[test]
    fn refuses_empty_segments() {
        let t = format!(".{}.{}", seg("{}"), b64(&[0; 64]));
        assert!(matches!(
            parse_compact(&t),
            Err(OidcError::Malformed {
                part: TokenPart::Header,
                problem: Malformation::Empty
            })
        ));
        let t = format!("{}..{}", seg(r#"{"alg":"RS256"}"#), b64(&[0; 64]));
        assert!(matches!(
            parse_compact(&t),
            Err(OidcError::Malformed {
                part: TokenPart::Payload,
                problem: Malformation::Empty
            })
        ));
    }

    #[test]
    fn refuses_non_object_json_and_trailing_bytes() {
        for payload in ["[]", "\"s\"", "1", "null", "{} {}", "{\"a\":1", "not json"] {
            let t = token(r#"{"alg":"ES256"}"#, payload, &[0; 64]);
            assert!(
                matches!(
                    parse_compact(&t),
                    Err(OidcError::Malformed {
                        part: TokenPart::Payload,
                        problem: Malformation::NotJsonObject
                    })
                ),
                "{payload}"
            );
        }
    }

    #[test]
    fn refuses_duplicate_members() {
        let t = token(r#"{"alg":"ES256"}"#, r#"{"aud":"a","aud":"b"}"#, &[0; 64]);
        assert!(matches!(
            parse_compact(&t),
            Err(OidcError::Malformed { part: TokenPart::Payload, problem: Malformation::DuplicateMember { name } }) if name == "aud"
        ));
        let t = token(r#"{"alg":"HS256","alg":"ES256"}"#, "{}", &[0; 64]);
        assert!(matches!(
            parse_compact(&t),
            Err(OidcError::Malformed { part: TokenPart::Header, problem: Malformation::DuplicateMember { name } }) if name == "alg"
        ));
    }

    #[test]
    fn refuses_oversized_token_before_parsing() {
        let t = "a".repeat(MAX_TOKEN_BYTES + 1);
        let err = parse_compact(&t).unwrap_err();
        assert!(
            matches!(err, OidcError::TokenTooLarge { limit: MAX_TOKEN_BYTES, found } if found == MAX_TOKEN_BYTES + 1)
        );
        assert_eq!(err.code(), "OIDC_E001");
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_text(s in ".{0,400}") {
            let _ = parse_compact(&s);
        }

        #[test]
        fn parser_never_panics_on_arbitrary_segments(
            h in proptest::collection::vec(any::<u8>(), 0..200),
            p in proptest::collection::vec(any::<u8>(), 0..200),
            s in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let t = format!("{}.{}.{}", b64(&h), b64(&p), b64(&s));
            let _ = parse_compact(&t);
        }

        #[test]
        fn parser_never_panics_on_json_like_headers(
            alg in prop_oneof![Just("ES256".to_string()), Just("RS256".to_string()), ".{0,8}"],
            extra in "[a-z\\[\\]{}\":,0-9 ]{0,60}",
        ) {
            let header = format!(r#"{{"alg":"{alg}",{extra}}}"#);
            let t = format!("{}.{}.{}", b64(header.as_bytes()), b64(extra.as_bytes()), b64(&[0; 64]));
            let _ = parse_compact(&t);
        }
    }
}
