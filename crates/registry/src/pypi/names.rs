//! Python project names (PEP 503 normalisation, PEP 508 validity) and distribution file names (wheel and sdist).

use vouch_store::meta::PYPI_SCOPE;

/// PEP 503: lowercase, every run of `-`, `_` and `.` one `-` (the rule
/// `vouch verify pypi` applies to a distribution's name, so index and verifier agree).
pub fn normalize(name: &str) -> String {
    vouch_pep740::canonical_name(name)
}

/// A valid project name (PEP 508: ASCII letters and digits, `.`, `_`, `-` inside),
/// at most 100 characters.
pub fn valid(name: &str) -> bool {
    let b = name.as_bytes();
    let edge = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !name.is_empty()
        && name.len() <= 100
        && edge(b.first())
        && edge(b.last())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// The vouch package a project is stored as: `@pypi/<normalised name>`.
pub fn package_of(project: &str) -> String {
    format!("@{PYPI_SCOPE}/{}", normalize(project))
}

/// The project (normalised) of a vouch package name in the Python scope.
pub fn project_of(package: &str) -> Option<&str> {
    package
        .strip_prefix('@')?
        .strip_prefix(PYPI_SCOPE)?
        .strip_prefix('/')
}

/// What a distribution file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistName {
    /// The project as spelled in the file name (normalised for comparison).
    pub project: String,
    pub version: String,
    /// `bdist_wheel` or `sdist`.
    pub kind: &'static str,
}

/// Parses `NAME-VERSION(-BUILD)?-PY-ABI-PLATFORM.whl` and `NAME-VERSION.tar.gz` (or
/// `.zip`), refusing path separators and anything else.
pub fn parse_filename(filename: &str) -> Option<DistName> {
    let plain = filename.len() <= 255
        && !filename.starts_with('.')
        && filename
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '!'));
    if !plain {
        return None;
    }
    if let Some(stem) = filename.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let (project, version) = (parts.first()?, parts.get(1)?);
        return valid(project).then(|| DistName {
            project: (*project).to_owned(),
            version: (*version).to_owned(),
            kind: "bdist_wheel",
        });
    }
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    let (project, version) = stem.rsplit_once('-')?;
    (valid(project) && !version.is_empty()).then(|| DistName {
        project: project.to_owned(),
        version: version.to_owned(),
        kind: "sdist",
    })
}

/// Whether a file name's version is the form's: compared case-insensitively (tools
/// lowercase it in file names, so `1.0RC1` in a form matches `1.0rc1`); PEP 440's
/// full normal form is not computed.
pub fn same_version(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_normalisation() {
        for (raw, norm) in [
            ("Friendly-Bard", "friendly-bard"),
            ("FRIENDLY-BARD", "friendly-bard"),
            ("friendly.bard", "friendly-bard"),
            ("friendly_bard", "friendly-bard"),
            ("friendly--bard", "friendly-bard"),
            ("FrIeNdLy-._.-bArD", "friendly-bard"),
        ] {
            assert_eq!(normalize(raw), norm, "{raw}");
        }
        assert_eq!(package_of("Hello_World"), "@pypi/hello-world");
        assert_eq!(project_of("@pypi/hello-world"), Some("hello-world"));
        assert_eq!(project_of("@other/hello-world"), None);
    }

    #[test]
    fn names_are_pep508() {
        assert!(valid("a") && valid("A.b_c-9"));
        for bad in ["", "-a", "a-", "a b", "a/b", "ä", &"a".repeat(101)] {
            assert!(!valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn file_names() {
        assert_eq!(
            parse_filename("hello_vouch-0.1.0-py3-none-any.whl"),
            Some(DistName {
                project: "hello_vouch".into(),
                version: "0.1.0".into(),
                kind: "bdist_wheel"
            })
        );
        assert_eq!(
            parse_filename("hello_vouch-0.1.0.tar.gz").map(|d| (d.version, d.kind)),
            Some(("0.1.0".into(), "sdist"))
        );
        assert!(parse_filename("x-1-1-py3-none-any.whl").is_some());
        for bad in [
            "../x-1.0.tar.gz",
            "x-1.0.exe",
            "x.whl",
            "x-1.0-py3-none.whl",
            ".x-1.0.tar.gz",
            "x/y-1.0.tar.gz",
        ] {
            assert_eq!(parse_filename(bad), None, "{bad}");
        }
    }
}
