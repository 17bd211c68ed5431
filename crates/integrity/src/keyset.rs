//! The registry key set: the current key first, then every retired key (never dropped),
//! its rotation, and its JWKS form (RFC 7517; OKP keys per RFC 8037) as served at
//! `/.well-known/registry-key.json`.

use std::time::SystemTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::error::{IntegrityError, Result};
use crate::key::{Kid, RegistryPublicKey};

/// Largest JWKS document [`KeySet::from_jwks`] reads. A key is about 150 bytes, so
/// this holds well over a thousand rotations.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The JWK members every key carries, with the only accepted value where fixed.
const FIXED_MEMBERS: [(&str, &str); 4] = [
    ("kty", "OKP"),
    ("crv", "Ed25519"),
    ("use", "sig"),
    ("alg", "EdDSA"),
];

/// What a rotation did, for the audit entry `registry.signing_key.rotate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEvent {
    /// The key that was current and is now retired.
    pub old_kid: Kid,
    /// The key that is now current.
    pub new_kid: Kid,
    /// When the rotation happened (passed in by the caller).
    pub at: SystemTime,
}

/// Public registry keys: `keys()[0]` is current, the rest are retired, newest first.
/// Never empty; a key once added is never removed, so every signature the registry
/// ever made keeps verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<RegistryPublicKey>,
}

impl KeySet {
    /// A key set holding only `current`.
    pub fn new(current: RegistryPublicKey) -> Self {
        Self {
            keys: vec![current],
        }
    }

    /// The current key.
    #[allow(
        clippy::indexing_slicing,
        reason = "keys is never empty: every constructor puts a key in, nothing removes one"
    )]
    pub fn current(&self) -> &RegistryPublicKey {
        // Invariant: `keys` is never empty (every constructor puts a key in; nothing
        // removes one). Index 0 is therefore always present.
        &self.keys[0]
    }

    /// Every key, current first, then retired keys newest first.
    pub fn keys(&self) -> &[RegistryPublicKey] {
        &self.keys
    }

    /// The key with this kid, current or retired.
    pub fn find(&self, kid: &str) -> Option<&RegistryPublicKey> {
        self.keys.iter().find(|k| k.kid().as_str() == kid)
    }

    /// Makes `new_key` current and retires the current key (it stays in the set). A key
    /// already in the set is refused: reusing one would make the rotation a no-op or
    /// resurrect a retired key.
    pub fn rotate(&mut self, new_key: RegistryPublicKey, at: SystemTime) -> Result<RotationEvent> {
        if self.find(new_key.kid().as_str()).is_some() {
            return Err(IntegrityError::RotationReusesKey {
                kid: new_key.kid().to_string(),
            });
        }
        let old_kid = self.current().kid();
        let new_kid = new_key.kid();
        self.keys.insert(0, new_key);
        Ok(RotationEvent {
            old_kid,
            new_kid,
            at,
        })
    }

    /// The JWKS document, exactly as served: `{"keys":[…]}` with each key's members
    /// `kty, crv, x, kid, use, alg` in that order, compact, current key first.
    pub fn to_jwks(&self) -> String {
        // Written by hand so the member order is fixed as documented (serde_json's Map
        // sorts unless `preserve_order` is on). `x` is base64url and `kid` is hex: neither
        // needs JSON escaping.
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                format!(
                    r#"{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"{}","use":"sig","alg":"EdDSA"}}"#,
                    URL_SAFE_NO_PAD.encode(k.to_bytes()),
                    k.kid()
                )
            })
            .collect();
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    /// Parses a JWKS strictly: at most [`MAX_JWKS_BYTES`]; only a `keys` member; each key
    /// exactly `kty` OKP, `crv` Ed25519, `x`, `kid`, `use` sig, `alg` EdDSA and nothing
    /// else (a private `d` is refused like any other member); `x` unpadded base64url of a
    /// valid Ed25519 point; `kid` equal to the kid computed from `x`; no kid twice; at
    /// least one key. The first key is taken as current.
    pub fn from_jwks(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(IntegrityError::TooLarge {
                what: "key set",
                limit: MAX_JWKS_BYTES,
                found: bytes.len(),
            });
        }
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| IntegrityError::json("key set", &e))?;
        let Value::Object(doc) = doc else {
            return Err(shape("the key set is not a JSON object"));
        };
        if let Some(other) = doc.keys().find(|k| *k != "keys") {
            return Err(shape_owned(format!(
                "unexpected top-level member {other:?}"
            )));
        }
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err(shape("`keys` is missing or not an array"));
        };
        let mut keys: Vec<RegistryPublicKey> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let key = parse_jwk(index, entry)?;
            if keys.iter().any(|k| k.kid() == key.kid()) {
                return Err(IntegrityError::DuplicateKid {
                    kid: key.kid().to_string(),
                });
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(IntegrityError::EmptyKeySet);
        }
        Ok(Self { keys })
    }
}

fn shape(detail: &str) -> IntegrityError {
    shape_owned(detail.to_owned())
}

fn shape_owned(detail: String) -> IntegrityError {
    IntegrityError::MalformedJson {
        what: "key set",
        line: 0,
        column: 0,
        detail,
    }
}

fn parse_jwk(index: usize, entry: &Value) -> Result<RegistryPublicKey> {
    let Value::Object(jwk) = entry else {
        return Err(shape_owned(format!("key {index} is not a JSON object")));
    };
    for member in jwk.keys() {
        let known =
            member == "x" || member == "kid" || FIXED_MEMBERS.iter().any(|(m, _)| m == member);
        if !known {
            return Err(IntegrityError::JwkUnknownMember {
                index,
                member: member.clone(),
            });
        }
    }
    for (member, expected) in FIXED_MEMBERS {
        match jwk.get(member) {
            Some(Value::String(s)) if s == expected => {}
            other => {
                return Err(IntegrityError::JwkUnsupported {
                    index,
                    member,
                    expected,
                    found: describe(other),
                })
            }
        }
    }
    let Some(Value::String(x)) = jwk.get("x") else {
        return Err(IntegrityError::JwkInvalidKey { index });
    };
    let raw = URL_SAFE_NO_PAD
        .decode(x)
        .map_err(|_| IntegrityError::JwkInvalidKey { index })?;
    let raw: [u8; 32] = raw
        .try_into()
        .map_err(|_| IntegrityError::JwkInvalidKey { index })?;
    let key = RegistryPublicKey::from_bytes(&raw).ok_or(IntegrityError::JwkInvalidKey { index })?;
    let stated = match jwk.get("kid") {
        Some(Value::String(s)) => s.clone(),
        other => describe(other),
    };
    if stated != key.kid().as_str() {
        return Err(IntegrityError::JwkKidMismatch {
            stated,
            computed: key.kid().to_string(),
        });
    }
    Ok(key)
}

/// A short description of a JSON member for error messages.
fn describe(value: Option<&Value>) -> String {
    match value {
        None => "<missing>".to_owned(),
        Some(Value::String(s)) => s.chars().take(80).collect(),
        Some(other) => other.to_string().chars().take(80).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::RegistrySigningKey;
    use serde_json::Map;

    fn key(n: u8) -> RegistryPublicKey {
        RegistrySigningKey::from_seed(&[n; 32]).public_key().clone()
    }

    fn jwks_with(edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
        let set = KeySet::new(key(1));
        let mut doc: Value = serde_json::from_str(&set.to_jwks()).unwrap();
        edit(doc["keys"][0].as_object_mut().unwrap());
        doc.to_string().into_bytes()
    }

    #[test]
    fn rotation_keeps_every_key_current_first() {
        let t = SystemTime::UNIX_EPOCH;
        let mut set = KeySet::new(key(1));
        let ev = set.rotate(key(2), t).unwrap();
        assert_eq!((ev.old_kid, ev.new_kid), (key(1).kid(), key(2).kid()));
        set.rotate(key(3), t).unwrap();
        let kids: Vec<_> = set.keys().iter().map(|k| k.kid()).collect();
        assert_eq!(kids, [key(3).kid(), key(2).kid(), key(1).kid()]);
        assert_eq!(set.current().kid(), key(3).kid());
        let err = set.rotate(key(1), t).unwrap_err();
        assert_eq!(err.code(), "INTEGRITY_E029");
        assert_eq!(set.keys().len(), 3);
    }

    #[test]
    fn jwks_round_trip_and_exact_form() {
        let mut set = KeySet::new(key(1));
        set.rotate(key(2), SystemTime::UNIX_EPOCH).unwrap();
        let jwks = set.to_jwks();
        let x = URL_SAFE_NO_PAD.encode(key(2).to_bytes());
        let kid = key(2).kid();
        assert!(
            jwks.starts_with(&format!(
                r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"{kid}","use":"sig","alg":"EdDSA"}},{{"#
            )),
            "{jwks}"
        );
        let doc: Value = serde_json::from_str(&jwks).unwrap();
        let first = &doc["keys"][0];
        assert_eq!(first["kty"], "OKP");
        assert_eq!(first["crv"], "Ed25519");
        assert_eq!(first["use"], "sig");
        assert_eq!(first["alg"], "EdDSA");
        assert_eq!(first["kid"], key(2).kid().as_str());
        assert_eq!(first.as_object().unwrap().len(), 6);
        assert_eq!(KeySet::from_jwks(jwks.as_bytes()).unwrap(), set);
    }

    #[test]
    fn jwks_refusals_have_specific_codes() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                jwks_with(|k| {
                    k.insert("kty".into(), "EC".into());
                }),
                "INTEGRITY_E010",
            ),
            (
                jwks_with(|k| {
                    k.insert("crv".into(), "X25519".into());
                }),
                "INTEGRITY_E010",
            ),
            (
                jwks_with(|k| {
                    k.insert("alg".into(), "none".into());
                }),
                "INTEGRITY_E010",
            ),
            (
                jwks_with(|k| {
                    k.remove("use");
                }),
                "INTEGRITY_E010",
            ),
            (
                jwks_with(|k| {
                    k.insert("d".into(), "AAAA".into());
                }),
                "INTEGRITY_E011",
            ),
            (
                jwks_with(|k| {
                    k.insert("x".into(), "AAAA".into());
                }),
                "INTEGRITY_E012",
            ),
            (
                jwks_with(|k| {
                    let x = k["x"].as_str().unwrap().to_owned();
                    k.insert("x".into(), format!("{x}=").into());
                }),
                "INTEGRITY_E012",
            ),
            (
                jwks_with(|k| {
                    k.insert("kid".into(), "0000000000000000".into());
                }),
                "INTEGRITY_E014",
            ),
            (br#"{"keys":[]}"#.to_vec(), "INTEGRITY_E015"),
            (br#"{"keys":[],"extra":1}"#.to_vec(), "INTEGRITY_E009"),
            (br#"[]"#.to_vec(), "INTEGRITY_E009"),
            (br#"{"keys":"#.to_vec(), "INTEGRITY_E009"),
            (vec![b' '; MAX_JWKS_BYTES + 1], "INTEGRITY_E008"),
        ];
        for (bytes, code) in cases {
            let err = KeySet::from_jwks(&bytes).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
        let one = KeySet::new(key(1)).to_jwks();
        let doc: Value = serde_json::from_str(&one).unwrap();
        let entry = doc["keys"][0].clone();
        let dup = serde_json::json!({"keys": [entry.clone(), entry]});
        let err = KeySet::from_jwks(dup.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.code(), "INTEGRITY_E013");
    }
}
