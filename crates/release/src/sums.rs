//! The `sha256sum` text format, shared by `SHA256SUMS` and per-asset `<asset>.sha256`
//! files: one `<64 lowercase hex>  <name>` line per file (two spaces: text mode), sorted
//! by name, each ending in `\n`. On input the binary-mode marker (`<hex> *<name>`) is also
//! accepted, as `sha256sum -c` does; everything else is refused with the line number.

use std::collections::BTreeMap;

use crate::digest::Sha256;
use crate::error::ReleaseError;
use crate::name::AssetName;

/// A parsed checksum file: names to SHA-256 digests, sorted by name, no duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sums {
    entries: BTreeMap<AssetName, Sha256>,
}

impl Sums {
    /// Builds a checksum list; a duplicate name keeps the last digest.
    pub fn from_entries(entries: impl IntoIterator<Item = (AssetName, Sha256)>) -> Self {
        Self {
            entries: entries.into_iter().collect(),
        }
    }

    /// Entries sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&AssetName, &Sha256)> {
        self.entries.iter()
    }

    pub fn get(&self, name: &AssetName) -> Option<&Sha256> {
        self.entries.get(name)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Renders exactly what `sha256sum` prints for these files, in byte order of names
    /// (`BTreeMap` order on UTF-8 strings is byte order, as `LC_ALL=C sort` gives).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.entries.len() * 100);
        for (name, digest) in &self.entries {
            out.push_str(&digest.to_hex());
            out.push_str("  ");
            out.push_str(name.as_str());
            out.push('\n');
        }
        out
    }

    /// Parses a checksum file. `file` names it in error messages. Refused: empty files,
    /// lines that are not `<hex>  <name>` / `<hex> *<name>`, invalid names, duplicates,
    /// CRLF line ends, GNU escaped lines (leading `\`), and BSD-style `SHA256 (x) = ...`.
    pub fn parse(file: &str, text: &str) -> Result<Self, ReleaseError> {
        let mut entries = BTreeMap::new();
        let malformed = |line, reason| ReleaseError::MalformedSumsLine {
            file: file.to_owned(),
            line,
            reason,
        };
        // A final newline is expected; a missing one on the last line is tolerated.
        let body = text.strip_suffix('\n').unwrap_or(text);
        if body.is_empty() {
            return Err(ReleaseError::EmptySums {
                file: file.to_owned(),
            });
        }
        for (i, line) in body.split('\n').enumerate() {
            let lineno = i + 1;
            if line.is_empty() {
                return Err(malformed(lineno, "empty line"));
            }
            if line.ends_with('\r') {
                return Err(malformed(lineno, "CRLF line ending"));
            }
            if line.starts_with('\\') {
                return Err(malformed(lineno, "escaped file names are not supported"));
            }
            let (hex, rest) = match (line.get(..64), line.get(64..)) {
                (Some(h), Some(r)) => (h, r),
                _ => return Err(malformed(lineno, "shorter than a SHA-256 digest")),
            };
            let digest = Sha256::from_hex(hex)
                .ok_or_else(|| malformed(lineno, "digest is not 64 hex digits"))?;
            let name = rest
                .strip_prefix("  ")
                .or_else(|| rest.strip_prefix(" *"))
                .ok_or_else(|| {
                    malformed(
                        lineno,
                        "expected two spaces or ` *` between digest and name",
                    )
                })?;
            let name = AssetName::parse(name).map_err(|e| match e {
                ReleaseError::InvalidName { reason, .. } => malformed(lineno, reason),
                other => other,
            })?;
            if entries.contains_key(&name) {
                return Err(ReleaseError::DuplicateSumsEntry {
                    file: file.to_owned(),
                    line: lineno,
                    name: name.as_str().to_owned(),
                });
            }
            entries.insert(name, digest);
        }
        Ok(Self { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D1: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn renders_sha256sum_format_sorted() {
        let d = Sha256::from_hex(D1).unwrap();
        let sums = Sums::from_entries([
            (AssetName::parse("b.whl").unwrap(), d),
            (AssetName::parse("B.tar.gz").unwrap(), d),
            (AssetName::parse("a.txt").unwrap(), d),
        ]);
        assert_eq!(
            sums.render(),
            format!("{D1}  B.tar.gz\n{D1}  a.txt\n{D1}  b.whl\n")
        );
        assert_eq!(Sums::parse("x", &sums.render()).unwrap(), sums);
    }

    #[test]
    fn accepts_binary_marker_and_uppercase() {
        let text = format!("{} *a.bin\n", D1.to_uppercase());
        let sums = Sums::parse("x", &text).unwrap();
        assert_eq!(sums.len(), 1);
        assert_eq!(sums.render(), format!("{D1}  a.bin\n"));
    }

    #[test]
    fn refuses_malformed_lines() {
        let cases = [
            format!("{D1} a"),
            format!("{D1}\ta"),
            format!("{D1}  "),
            format!("{D1}  ../etc/passwd"),
            format!("{D1}  dir/a"),
            format!("{D1}  a\r"),
            format!("\\{D1}  a\\nb"),
            format!("{}  a", &D1[..63]),
            format!("{}g  a", &D1[..63]),
            format!("{D1}  a\n\n{D1}  b"),
            "SHA256 (a) = abc".to_owned(),
        ];
        for case in cases {
            let err = Sums::parse("SHA256SUMS", &case).unwrap_err();
            assert_eq!(err.code(), "CHECKSUM_E001", "{case:?}: {err}");
        }
        let dup = format!("{D1}  a\n{D1} *a\n");
        assert_eq!(Sums::parse("x", &dup).unwrap_err().code(), "CHECKSUM_E002");
        assert_eq!(Sums::parse("x", "").unwrap_err().code(), "CHECKSUM_E003");
        assert_eq!(Sums::parse("x", "\n").unwrap_err().code(), "CHECKSUM_E003");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = Sums::parse("fuzz", &s);
        }

        #[test]
        fn parse_never_panics_on_near_valid(prefix in "[0-9a-fA-F]{60,66}", sep in "[ *\t]{0,3}", name in "\\PC{0,20}") {
            let _ = Sums::parse("fuzz", &format!("{prefix}{sep}{name}\n"));
        }

        #[test]
        fn render_parse_round_trip(names in proptest::collection::btree_set("[a-zA-Z0-9._ -]{1,20}", 1..8), byte in any::<u8>()) {
            let entries: Vec<_> = names
                .iter()
                .filter_map(|n| AssetName::parse(n).ok())
                .map(|n| (n, Sha256::from_bytes([byte; 32])))
                .collect();
            prop_assume!(!entries.is_empty());
            let sums = Sums::from_entries(entries);
            prop_assert_eq!(Sums::parse("x", &sums.render()).unwrap(), sums);
        }
    }
}
