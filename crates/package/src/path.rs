//! The one set of path rules shared by packing and reading.
//!
//! An archive path is relative, `/`-separated UTF-8 with no empty, `.` or `..`
//! component, no backslash or NUL, at most [`MAX_PATH_BYTES`] in all and
//! [`MAX_COMPONENT_BYTES`] per component. Packing refuses a tree whose paths break
//! them, so a package that packs is a package every reader accepts.

use crate::error::PathProblem;
use crate::Error;

/// The longest archive path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// The longest path component, in bytes (NAME_MAX on common file systems).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Checks raw path bytes against the rules and returns them as `&str`.
pub(crate) fn check_path(raw: &[u8]) -> Result<&str, Error> {
    let refuse = |problem| Error::UnsafePath {
        path: String::from_utf8_lossy(raw).into_owned(),
        problem,
    };
    let path = std::str::from_utf8(raw).map_err(|_| refuse(PathProblem::NonUtf8))?;
    if path.is_empty() {
        return Err(refuse(PathProblem::Empty));
    }
    if path.starts_with('/') {
        return Err(refuse(PathProblem::Absolute));
    }
    if path.bytes().any(|b| b == b'\\' || b == 0) {
        return Err(refuse(PathProblem::ForbiddenByte));
    }
    // `..` is checked over every component before other component rules so that
    // `a//../b` reports the traversal, the more serious problem.
    if path.split('/').any(|c| c == "..") {
        return Err(refuse(PathProblem::ParentDir));
    }
    if path.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(refuse(PathProblem::DotOrEmptyComponent));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(refuse(PathProblem::TooLong));
    }
    if path.split('/').any(|c| c.len() > MAX_COMPONENT_BYTES) {
        return Err(refuse(PathProblem::ComponentTooLong));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules() {
        assert!(check_path(b"a/b.txt").is_ok());
        assert!(check_path(b"a:b/c d").is_ok());
        let cases: [(&[u8], &str); 10] = [
            (b"", "PKG_E016"),
            (b"/etc/passwd", "PKG_E013"),
            (b"../x", "PKG_E014"),
            (b"a/../../x", "PKG_E014"),
            (b"a/\xff", "PKG_E015"),
            (b"./a", "PKG_E016"),
            (b"a//b", "PKG_E016"),
            (b"a/", "PKG_E016"),
            (b"a\\..\\b", "PKG_E016"),
            (b"a\0b", "PKG_E016"),
        ];
        for (raw, code) in cases {
            assert_eq!(check_path(raw).unwrap_err().code(), code, "{raw:?}");
        }
        let long = "a/".repeat(MAX_PATH_BYTES / 2) + "b";
        assert_eq!(check_path(long.as_bytes()).unwrap_err().code(), "PKG_E016");
        let comp = "a".repeat(MAX_COMPONENT_BYTES + 1);
        assert_eq!(check_path(comp.as_bytes()).unwrap_err().code(), "PKG_E016");
    }
}
