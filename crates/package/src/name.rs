//! `PackageName`: the parsed form of `@scope/name`.
//!
//! Rules (both parts): 1 to [`MAX_PART_LEN`] bytes of lowercase ASCII letters, digits,
//! `-`, `_` and `.`, starting with a letter or a digit (so never `.`, `..`, a hidden
//! name, or something a shell or CLI takes for a flag). Names are case-sensitive by
//! construction: only one spelling of a name can ever parse, so no two packages differ
//! by case alone. Separators are another matter (`l.ib`, `l_ib`, `l-ib` all parse): the
//! registry's store decides uniqueness on the PEP 503 normalised name
//! (`vouch_store::meta::normalized_name`), so only one of them can exist.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The longest scope or name, in bytes.
pub const MAX_PART_LEN: usize = 64;

const EXPECTED: &str = "`@scope/name`, each part 1-64 of [a-z0-9._-] starting with [a-z0-9]";

/// A package name `@scope/name`, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageName {
    scope: String,
    name: String,
}

impl PackageName {
    /// Parses `@scope/name`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidName {
            expected: EXPECTED,
            found: s.to_owned(),
        };
        let rest = s.strip_prefix('@').ok_or_else(invalid)?;
        let (scope, name) = rest.split_once('/').ok_or_else(invalid)?;
        if !valid_part(scope) || !valid_part(name) {
            return Err(invalid());
        }
        Ok(Self {
            scope: scope.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The scope, without `@`.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The name within the scope.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn valid_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_lowercase() || first.is_ascii_digit() => {}
        _ => return false,
    }
    bytes.len() <= MAX_PART_LEN
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

impl FromStr for PackageName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}/{}", self.scope, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for ok in [
            "@a/b",
            "@acme/widget",
            "@a-1/x.y_z",
            "@0/9",
            &format!("@{}/b", "a".repeat(64)),
        ] {
            let n = PackageName::parse(ok).expect(ok);
            assert_eq!(n.to_string(), ok);
        }
        let n = PackageName::parse("@acme/widget").unwrap();
        assert_eq!((n.scope(), n.name()), ("acme", "widget"));
    }

    #[test]
    fn refuses_invalid_names() {
        let long = format!("@{}/b", "a".repeat(65));
        for bad in [
            "",
            "acme/widget",
            "@acme",
            "@/w",
            "@a/",
            "@Acme/w",
            "@a/W",
            "@a/.hidden",
            "@a/..",
            "@a/-flag",
            "@a/_x",
            "@a/b/c",
            "@a/b c",
            "@a/é",
            &long,
            "@a/b\n",
        ] {
            let e = PackageName::parse(bad).unwrap_err();
            assert_eq!(e.code(), "PKG_E005", "{bad:?}");
        }
    }
}
