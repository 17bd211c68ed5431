//! A Python distribution file as PEP 740 names it: its file name and the SHA-256 of its
//! bytes, and the file-name parsing that decides whether an attestation's subject names
//! the same distribution (name and version normalised, wheel build tag and tag set
//! compared as sets, as the `packaging` library parses them for pypi-attestations).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::Pep740Error;

/// A compressed tag set expands to the product of its parts; a hostile name must not
/// make that product large.
const MAX_WHEEL_TAGS: usize = 4096;

/// The distribution an attestation is judged for: a wheel or sdist file name and the
/// SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    name: String,
    sha256: [u8; 32],
}

impl Dist {
    /// A distribution from its file name and digest; the name must parse as a wheel
    /// (`.whl`) or sdist (`.tar.gz`, `.zip`) file name.
    pub fn new(name: impl Into<String>, sha256: [u8; 32]) -> Result<Self, Pep740Error> {
        let name = name.into();
        DistName::parse(&name).map_err(|detail| Pep740Error::InvalidDistName {
            name: name.clone(),
            detail,
        })?;
        Ok(Self { name, sha256 })
    }

    /// A distribution from its bytes.
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> Result<Self, Pep740Error> {
        Self::new(name, Sha256::digest(bytes).into())
    }

    /// Reads and hashes a distribution file; its name is the path's last component.
    pub fn from_file(path: &Path) -> Result<Self, Pep740Error> {
        let read_error = |e: std::io::Error| Pep740Error::Read {
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Pep740Error::InvalidDistName {
                name: path.display().to_string(),
                detail: "the path has no UTF-8 file name".into(),
            })?
            .to_owned();
        let mut file = std::fs::File::open(path).map_err(read_error)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(read_error)?;
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            hasher.update(chunk);
        }
        Self::new(name, hasher.finalize().into())
    }

    /// The file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SHA-256 of the file's bytes.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The SHA-256 in lower-case hex, as in-toto subjects carry it.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The normalised project name (PEP 503: lower case, runs of `-_.` as one `-`).
    pub fn project(&self) -> String {
        DistName::parse(&self.name)
            .map(|d| d.project().to_owned())
            .unwrap_or_default()
    }

    /// The version as written in the file name.
    pub fn version(&self) -> String {
        version_part(&self.name).unwrap_or_default()
    }
}

/// The version component of a distribution file name, as written.
fn version_part(name: &str) -> Option<String> {
    if let Some(stem) = name.strip_suffix(".whl") {
        return stem.split('-').nth(1).map(str::to_owned);
    }
    let stem = name
        .strip_suffix(".tar.gz")
        .or_else(|| name.strip_suffix(".zip"))?;
    stem.rsplit_once('-').map(|(_, v)| v.to_owned())
}

/// A parsed distribution file name; equality is what "names the same distribution" means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DistName {
    Sdist {
        project: String,
        version: pep440_rs::Version,
    },
    Wheel {
        project: String,
        version: pep440_rs::Version,
        build: Option<(u64, String)>,
        tags: BTreeSet<(String, String, String)>,
    },
}

impl DistName {
    /// Parses a wheel or sdist file name; the error says what is wrong.
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        if let Some(stem) = name.strip_suffix(".whl") {
            return parse_wheel(stem);
        }
        let Some(stem) = name
            .strip_suffix(".tar.gz")
            .or_else(|| name.strip_suffix(".zip"))
        else {
            return Err("not a wheel (.whl) or sdist (.tar.gz, .zip) file name".into());
        };
        let Some((project, version)) = stem.rsplit_once('-') else {
            return Err("an sdist name is PROJECT-VERSION and has no '-'".into());
        };
        if project.is_empty() {
            return Err("the project name is empty".into());
        }
        Ok(DistName::Sdist {
            project: canonical_name(project),
            version: parse_version(version)?,
        })
    }

    fn project(&self) -> &str {
        match self {
            DistName::Sdist { project, .. } | DistName::Wheel { project, .. } => project,
        }
    }
}

fn parse_wheel(stem: &str) -> Result<DistName, String> {
    let parts: Vec<&str> = stem.split('-').collect();
    let (project, version, build, tag) = match parts.as_slice() {
        [p, v, i, a, pl] => (*p, *v, None, [*i, *a, *pl]),
        [p, v, b, i, a, pl] => (*p, *v, Some(*b), [*i, *a, *pl]),
        _ => {
            return Err(format!(
                "a wheel name has 5 or 6 '-'-separated parts, found {}",
                parts.len()
            ))
        }
    };
    if project.is_empty()
        || project.contains("__")
        || !project
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        return Err(format!("invalid project name {project:?}"));
    }
    let build = match build {
        None => None,
        Some(b) => {
            let digits: String = b.chars().take_while(char::is_ascii_digit).collect();
            let number = u64::from_str(&digits).map_err(|_| format!("invalid build tag {b:?}"))?;
            Some((number, b.get(digits.len()..).unwrap_or("").to_owned()))
        }
    };
    let [interpreters, abis, platforms] = tag.map(|t| t.split('.').collect::<Vec<_>>());
    let count = interpreters.len() * abis.len() * platforms.len();
    if count > MAX_WHEEL_TAGS {
        return Err(format!(
            "the tag set expands to {count} tags, more than {MAX_WHEEL_TAGS}"
        ));
    }
    if [&interpreters, &abis, &platforms]
        .iter()
        .any(|parts| parts.iter().any(|p| p.is_empty()))
    {
        return Err("a tag component is empty".into());
    }
    if let Some(bad) = interpreters.iter().find(|i| !is_identifier(i)) {
        return Err(format!("invalid interpreter tag {bad:?}"));
    }
    let mut tags = BTreeSet::new();
    for i in &interpreters {
        for a in &abis {
            for p in &platforms {
                tags.insert((i.to_lowercase(), a.to_lowercase(), p.to_lowercase()));
            }
        }
    }
    Ok(DistName::Wheel {
        project: canonical_name(project),
        version: parse_version(version)?,
        build,
        tags,
    })
}

fn parse_version(v: &str) -> Result<pep440_rs::Version, String> {
    pep440_rs::Version::from_str(v).map_err(|e| format!("invalid version {v:?}: {e}"))
}

/// Python's `str.isidentifier` for the ASCII and Unicode letters tags use.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// PEP 503 normalisation: lower case, every run of `-`, `_` and `.` becomes one `-`.
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        DistName::parse(a).unwrap() == DistName::parse(b).unwrap()
    }

    #[test]
    fn names_compare_as_pypi_attestations_parses_them() {
        assert!(same(
            "rfc8785-0.1.2-py3-none-any.whl",
            "RFC8785-0.1.2.0-py3-none-any.whl"
        ));
        assert!(same(
            "foo_bar-1.0-py2.py3-none-any.whl",
            "foo.bar-1.0-py3.py2-none-any.whl"
        ));
        assert!(same("Foo-1.0.tar.gz", "foo-1.0.0.tar.gz"));
        assert!(same("foo-1.0a1.tar.gz", "foo-1.0.alpha1.tar.gz"));
        assert!(!same("foo-1.0.tar.gz", "foo-1.1.tar.gz"));
        assert!(!same("foo-1.0.tar.gz", "bar-1.0.tar.gz"));
        assert!(!same("foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz"));
        assert!(!same(
            "foo-1.0-1-py3-none-any.whl",
            "foo-1.0-py3-none-any.whl"
        ));
        assert!(!same(
            "foo-1.0-py3-none-any.whl",
            "foo-1.0-py3-none-linux_x86_64.whl"
        ));
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in [
            "foo.txt",
            "foo.whl",
            "foo-1.0-py3-none.whl",
            "foo__bar-1.0-py3-none-any.whl",
            "foo-bar-1.0-x-py3-none-any.whl",
            "foo-notaversion-py3-none-any.whl",
            "foo-1.0-x1-py3-none-any.whl",
            "foo-1.0-3py-none-any.whl",
            "foo-1.0-py3..py2-none-any.whl",
            "-1.0.tar.gz",
            "foo.tar.gz",
            "foo-1.0!!.tar.gz",
        ] {
            assert!(DistName::parse(bad).is_err(), "{bad} accepted");
            assert_eq!(Dist::new(bad, [0; 32]).unwrap_err().code(), "PEP740_E004");
        }
    }

    #[test]
    fn project_and_version_come_from_the_name() {
        let d = Dist::new("Foo.Bar-1.0.post1-py3-none-any.whl", [0; 32]).unwrap();
        assert_eq!(d.project(), "foo-bar");
        assert_eq!(d.version(), "1.0.post1");
        let d = Dist::new("foo-bar-2.0.tar.gz", [0; 32]).unwrap();
        assert_eq!(
            (d.project().as_str(), d.version().as_str()),
            ("foo-bar", "2.0")
        );
    }
}
