//! Validated names: [`AssetName`] for files in a release directory and [`CrateId`] for a
//! `NAME@VERSION` crate reference. Parse, don't validate: once a value exists it is safe
//! to join onto a directory path and to write into a `sha256sum` line.

use std::fmt;

use crate::error::ReleaseError;

/// A release asset's file name: one path component, no `..`, no separators, no control
/// characters and no backslash (GNU `sha256sum` escapes names with `\` or a newline by
/// prefixing the line with `\`, which other tools do not understand; such names are
/// refused instead of escaped).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetName(String);

impl AssetName {
    /// Checks `name` and wraps it.
    pub fn parse(name: &str) -> Result<Self, ReleaseError> {
        let reason = if name.is_empty() {
            Some("empty")
        } else if name == "." || name == ".." {
            Some("is a directory reference")
        } else if name.contains("..") {
            Some("contains `..`")
        } else if name.contains('/') || name.contains('\\') {
            Some("contains a path separator")
        } else if name.chars().any(char::is_control) {
            Some("contains a control character")
        } else if name.len() > 255 {
            Some("longer than 255 bytes")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ReleaseError::InvalidName {
                name: name.to_owned(),
                reason,
            }),
            None => Ok(Self(name.to_owned())),
        }
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AssetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AssetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A crate name and version, as written `NAME@VERSION`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CrateId {
    name: String,
    version: String,
}

impl CrateId {
    /// Builds a crate id from its parts, checking both.
    pub fn new(name: &str, version: &str) -> Result<Self, ReleaseError> {
        let bad = |what, value: &str, expected| ReleaseError::InvalidArgument {
            what,
            value: value.to_owned(),
            expected,
        };
        // crates.io names: ASCII alphanumerics, `-` and `_`, starting with a letter, at
        // most 64 characters.
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(bad(
                "crate name",
                name,
                "ASCII letters, digits, `-` or `_`, starting with a letter",
            ));
        }
        // SemVer characters only; full SemVer grammar is the index's business.
        let version_ok = !version.is_empty()
            && version.len() <= 128
            && version.starts_with(|c: char| c.is_ascii_digit())
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
        if !version_ok {
            return Err(bad("crate version", version, "a SemVer version"));
        }
        Ok(Self {
            name: name.to_owned(),
            version: version.to_owned(),
        })
    }

    /// Parses `NAME@VERSION`.
    pub fn parse(text: &str) -> Result<Self, ReleaseError> {
        match text.split_once('@') {
            Some((name, version)) => Self::new(name, version),
            None => Err(ReleaseError::InvalidArgument {
                what: "crate",
                value: text.to_owned(),
                expected: "NAME@VERSION",
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// The file name cargo gives the packaged crate: `NAME-VERSION.crate`.
    pub fn crate_file_name(&self) -> String {
        format!("{}-{}.crate", self.name, self.version)
    }
}

impl fmt::Display for CrateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn asset_names() {
        for ok in ["a", "vouch-1.0.0.tar.gz", "x y.whl", ".hidden", "a.b"] {
            assert!(AssetName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", "../x", "x..y", "a\nb", "a\0"] {
            let err = AssetName::parse(bad).unwrap_err();
            assert_eq!(err.code(), "RELEASE_E001", "{bad:?}");
        }
    }

    #[test]
    fn crate_ids() {
        let id = CrateId::parse("vouch-core@1.2.3-rc.1").unwrap();
        assert_eq!(id.name(), "vouch-core");
        assert_eq!(id.version(), "1.2.3-rc.1");
        assert_eq!(id.crate_file_name(), "vouch-core-1.2.3-rc.1.crate");
        assert_eq!(id.to_string(), "vouch-core@1.2.3-rc.1");
        for bad in ["x", "@1.0.0", "x@", "1x@1.0.0", "x@v1", "x@1/2", "a/b@1.0"] {
            assert!(CrateId::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn accepted_names_are_single_safe_components(s in "\\PC{0,40}") {
            if let Ok(n) = AssetName::parse(&s) {
                let p = std::path::Path::new(n.as_str());
                prop_assert_eq!(p.components().count(), 1);
                prop_assert!(!n.as_str().contains(['/', '\\', '\n', '\r']));
            }
        }

        #[test]
        fn crate_parse_never_panics(s in "\\PC{0,40}") {
            let _ = CrateId::parse(&s);
        }
    }
}
