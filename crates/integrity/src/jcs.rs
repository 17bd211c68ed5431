//! RFC 8785 JSON Canonicalization Scheme (JCS) for `serde_json::Value`, plus the stricter
//! number policy that signed integrity records follow.
//!
//! # Which implementation, and why
//!
//! The serialisation itself is `serde_json_canonicalizer` (0.4), not hand-written code:
//!
//! - it is already in the workspace's dependency graph (`sigstore-verify` uses it for
//!   Rekor entries), so it adds no new code to audit and is exercised by the Sigstore
//!   conformance suite too;
//! - it sorts member names by UTF-16 code units (RFC 8785, Section 3.2.3), formats
//!   numbers with `ryu-js` (the ECMAScript `Number.prototype.toString` algorithm,
//!   Section 3.2.2.3), escapes exactly `"`, `\` and U+0000..U+001F with the short forms
//!   where JSON has them and lowercase `\u00xx` otherwise (Section 3.2.2.2), and refuses
//!   duplicate member names;
//! - unlike `serde_jcs` 0.2 it does not switch on `serde_json`'s `float_roundtrip`
//!   feature, which would silently change number parsing for every crate in the
//!   workspace; `json-canon` 0.1 has had no release since 2023 and has the same number
//!   handling for no gain.
//!
//! Every implementation (these three included) turns a `u64` above 2^53 into the
//! nearest double, which JCS requires but which would silently change a signed value.
//! Integrity records therefore go through [`canonical_record_json`], which first refuses
//! any number that is not an integer in the I-JSON safe range (RFC 7493, Section 2.2):
//! records carry only integers (`v`, asset sizes), so no float formatting is ever signed.
//! The RFC's own sample values (Section 3.2.3, Appendix B) are tested below through
//! [`canonical_json`], which applies no extra policy.

use serde_json::Value;

use crate::error::{IntegrityError, Result};

/// Largest integer magnitude a record may carry: 2^53 − 1 (I-JSON, RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The RFC 8785 canonical form of `value`, with any finite numbers formatted as
/// ECMAScript does. Use [`canonical_record_json`] for anything that will be signed.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| IntegrityError::Canonicalization {
        reason: e.to_string(),
    })
}

/// The RFC 8785 canonical form of `value` after checking that every number in it is an
/// integer in `-(2^53-1)..=2^53-1`; any other number gives
/// [`IntegrityError::NumberNotAllowed`].
pub fn canonical_record_json(value: &Value) -> Result<Vec<u8>> {
    check_integers(value, &mut String::new())?;
    canonical_json(value)
}

/// Walks `value` refusing non-integers and integers outside the safe range. `path` is a
/// JSON-pointer-like location, extended and restored while descending.
fn check_integers(value: &Value, path: &mut String) -> Result<()> {
    match value {
        Value::Number(n) => {
            let safe = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
                (None, None) => false,
            };
            if safe {
                Ok(())
            } else {
                Err(IntegrityError::NumberNotAllowed {
                    path: if path.is_empty() {
                        "/".to_owned()
                    } else {
                        path.clone()
                    },
                    found: n.to_string(),
                })
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                check_integers(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(members) => {
            for (name, item) in members {
                let len = path.len();
                path.push('/');
                path.push_str(name);
                check_integers(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(text: &str) -> String {
        let value: Value = serde_json::from_str(text).unwrap();
        String::from_utf8(canonical_json(&value).unwrap()).unwrap()
    }

    /// RFC 8785, Section 3.2.2: the example input and its canonical form.
    #[test]
    fn rfc8785_section_3_2_2_example() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(canon(input), expected);
    }

    /// RFC 8785, Section 3.2.3: member names sort by UTF-16 code units, so the emoji
    /// (surrogates D83D DE00) sorts before U+FB33 although its code point is larger.
    #[test]
    fn rfc8785_section_3_2_3_sorting() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let expected = concat!(
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",",
            "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",",
            "\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
        assert_eq!(canon(input), expected);
    }

    /// RFC 8785, Appendix B: IEEE 754 bit patterns and their canonical text. (NaN and
    /// Infinity, the appendix's two error cases, cannot exist in a `serde_json::Value`.)
    #[test]
    fn rfc8785_appendix_b_numbers() {
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, expected) in cases {
            let value = Value::from(f64::from_bits(*bits));
            let out = String::from_utf8(canonical_json(&value).unwrap()).unwrap();
            assert_eq!(&out, expected, "bits {bits:#018x}");
        }
        assert!(serde_json::Number::from_f64(f64::NAN).is_none());
        assert!(serde_json::Number::from_f64(f64::INFINITY).is_none());
    }

    #[test]
    fn control_characters_use_lowercase_unicode_escapes() {
        assert_eq!(
            canonical_json(&json!("\u{1}\u{1f}\u{7f}\u{2028}")).unwrap(),
            "\"\\u0001\\u001f\u{7f}\u{2028}\"".as_bytes()
        );
    }

    #[test]
    fn record_policy_refuses_non_integers_and_unsafe_integers() {
        let ok = json!({"a": [1, -5, MAX_SAFE_INTEGER], "b": {"c": 0}});
        assert_eq!(
            canonical_record_json(&ok).unwrap(),
            br#"{"a":[1,-5,9007199254740991],"b":{"c":0}}"#
        );
        for (bad, path) in [
            (json!({"a": [1, 2.5]}), "/a/1"),
            (json!({"x": {"y": MAX_SAFE_INTEGER + 1}}), "/x/y"),
            (json!({"n": -(MAX_SAFE_INTEGER as i64) - 1}), "/n"),
            (json!(1.0), "/"),
        ] {
            let err = canonical_record_json(&bad).unwrap_err();
            assert_eq!(err.code(), "INTEGRITY_E006");
            assert!(
                matches!(&err, IntegrityError::NumberNotAllowed { path: p, .. } if p == path),
                "{err:?}"
            );
        }
    }
}
