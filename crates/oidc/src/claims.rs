//! Validation of the registered claims (RFC 7519 §4.1) of a token whose signature has verified:
//! one string audience, `exp`/`nbf`/`iat` with leeway, `sub`, and `jti`.
//!
//! Audience rule: `aud` must be a JSON string equal to the configured audience. An array is
//! refused even with a single element (OIDC_E010): RFC 7519 allows arrays, but a token minted
//! for several relying parties can be replayed from one to another, and CI providers mint one
//! audience per request, so a single-element array only shows up in hand-made tokens.

use serde_json::{Map, Value};

use crate::clock::UnixTime;
use crate::error::OidcError;

/// What claim validation needs from the issuer configuration.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules<'a> {
    pub audience: &'a str,
    pub leeway_secs: i64,
    pub require_jti: bool,
}

/// The registered claims of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registered {
    pub subject: String,
    pub audience: String,
    pub expires_at: UnixTime,
    pub issued_at: UnixTime,
    pub not_before: Option<UnixTime>,
    pub jti: Option<String>,
}

/// Checks `aud`, `exp`, `nbf`, `iat`, `sub` and `jti`, in that order. `iss` was matched to the
/// configuration before the key was chosen.
pub(crate) fn validate(
    claims: &Map<String, Value>,
    rules: &ClaimRules<'_>,
    now: UnixTime,
) -> Result<Registered, OidcError> {
    let audience = match claims.get("aud") {
        None => return Err(missing("aud")),
        Some(Value::String(aud)) if aud == rules.audience => aud.clone(),
        Some(Value::String(aud)) => {
            return Err(OidcError::WrongAudience {
                expected: rules.audience.to_owned(),
                found: aud.clone(),
            })
        }
        Some(Value::Array(values)) => return Err(OidcError::AudienceArray { len: values.len() }),
        Some(_) => return Err(invalid("aud", "a string")),
    };

    let leeway = rules.leeway_secs;
    let expires_at = numeric_date(claims, "exp")?.ok_or_else(|| missing("exp"))?;
    if now.secs() > expires_at.secs().saturating_add(leeway) {
        return Err(OidcError::Expired {
            exp: expires_at.secs(),
            now: now.secs(),
            leeway_secs: leeway,
        });
    }
    let not_before = numeric_date(claims, "nbf")?;
    if let Some(nbf) = not_before {
        if nbf.secs() > now.secs().saturating_add(leeway) {
            return Err(OidcError::NotYetValid {
                nbf: nbf.secs(),
                now: now.secs(),
                leeway_secs: leeway,
            });
        }
    }
    // OIDC Core §2 makes `iat` required; a token issued "later" than now is refused like nbf.
    let issued_at = numeric_date(claims, "iat")?.ok_or_else(|| missing("iat"))?;
    if issued_at.secs() > now.secs().saturating_add(leeway) {
        return Err(OidcError::IssuedInFuture {
            iat: issued_at.secs(),
            now: now.secs(),
            leeway_secs: leeway,
        });
    }

    let subject = match claims.get("sub") {
        None => return Err(missing("sub")),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(invalid("sub", "a non-empty string")),
    };
    let jti = match claims.get("jti") {
        None if rules.require_jti => return Err(missing("jti")),
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err(invalid("jti", "a non-empty string")),
    };
    Ok(Registered {
        subject,
        audience,
        expires_at,
        issued_at,
        not_before,
        jti,
    })
}

/// Reads a NumericDate (RFC 7519 §2): a JSON number of seconds, fractions truncated.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<UnixTime>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(UnixTime(i)))
            } else {
                match n.as_f64() {
                    // `as` saturates at the i64 bounds; the range check keeps the intent explicit.
                    Some(f) if f.is_finite() && f.abs() < 1e15 => {
                        Ok(Some(UnixTime(f.floor() as i64)))
                    }
                    _ => Err(invalid(name, "a NumericDate")),
                }
            }
        }
        Some(_) => Err(invalid(name, "a NumericDate")),
    }
}

fn missing(claim: &str) -> OidcError {
    OidcError::MissingClaim {
        claim: claim.to_owned(),
    }
}

fn invalid(claim: &str, expected: &'static str) -> OidcError {
    OidcError::InvalidClaim {
        claim: claim.to_owned(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn rules() -> ClaimRules<'static> {
        ClaimRules {
            audience: "sigstore",
            leeway_secs: 60,
            require_jti: true,
        }
    }

    fn base() -> Map<String, Value> {
        let Value::Object(m) = json!({
            "aud": "sigstore", "sub": "repo:o/r:ref:refs/heads/main", "jti": "j1",
            "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 290,
        }) else {
            unreachable!("literal object")
        };
        m
    }

    fn with(name: &str, value: Value) -> Map<String, Value> {
        let mut m = base();
        m.insert(name.to_owned(), value);
        m
    }

    fn check(m: &Map<String, Value>) -> Result<Registered, OidcError> {
        validate(m, &rules(), UnixTime(NOW))
    }

    #[test]
    fn accepts_valid_claims() {
        let r = check(&base()).expect("valid");
        assert_eq!(r.audience, "sigstore");
        assert_eq!(r.expires_at, UnixTime(NOW + 290));
        assert_eq!(r.jti.as_deref(), Some("j1"));
    }

    #[test]
    fn leeway_is_inclusive_at_sixty_seconds() {
        assert!(check(&with("exp", json!(NOW - 60))).is_ok());
        assert!(matches!(
            check(&with("exp", json!(NOW - 61))),
            Err(OidcError::Expired { .. })
        ));
        assert!(check(&with("nbf", json!(NOW + 60))).is_ok());
        assert!(matches!(
            check(&with("nbf", json!(NOW + 61))),
            Err(OidcError::NotYetValid { .. })
        ));
        assert!(check(&with("iat", json!(NOW + 60))).is_ok());
        assert!(matches!(
            check(&with("iat", json!(NOW + 61))),
            Err(OidcError::IssuedInFuture { .. })
        ));
    }

    #[test]
    fn audience_rules() {
        assert!(
            matches!(check(&with("aud", json!("other"))), Err(OidcError::WrongAudience { found, .. }) if found == "other")
        );
        assert!(matches!(
            check(&with("aud", json!(["sigstore"]))),
            Err(OidcError::AudienceArray { len: 1 })
        ));
        assert!(matches!(
            check(&with("aud", json!([]))),
            Err(OidcError::AudienceArray { len: 0 })
        ));
        assert!(matches!(
            check(&with("aud", json!(7))),
            Err(OidcError::InvalidClaim { .. })
        ));
        let mut m = base();
        m.remove("aud");
        assert!(matches!(check(&m), Err(OidcError::MissingClaim { claim }) if claim == "aud"));
    }

    #[test]
    fn required_and_typed_claims() {
        for name in ["exp", "iat", "sub", "jti"] {
            let mut m = base();
            m.remove(name);
            assert!(
                matches!(check(&m), Err(OidcError::MissingClaim { claim }) if claim == name),
                "{name}"
            );
        }
        assert!(matches!(
            check(&with("exp", json!("soon"))),
            Err(OidcError::InvalidClaim { .. })
        ));
        assert!(matches!(
            check(&with("exp", json!(1e300))),
            Err(OidcError::InvalidClaim { .. })
        ));
        assert!(matches!(
            check(&with("jti", json!(""))),
            Err(OidcError::InvalidClaim { .. })
        ));
        assert_eq!(
            check(&with("exp", json!((NOW + 5) as f64 + 0.9)))
                .map(|r| r.expires_at)
                .ok(),
            Some(UnixTime(NOW + 5))
        );
        let mut m = base();
        m.remove("jti");
        let lax = ClaimRules {
            require_jti: false,
            ..rules()
        };
        assert_eq!(
            validate(&m, &lax, UnixTime(NOW)).map(|r| r.jti).ok(),
            Some(None)
        );
    }
}
