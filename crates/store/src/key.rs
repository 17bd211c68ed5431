//! `ObjectKey`: a validated relative object path such as `tile/0/x001/234.p/7`.

use crate::StoreError;

/// A relative, `/`-separated object path. Parsed once, so backends never see `..`,
/// absolute paths, empty segments or hidden names (local temp files start with `.`,
/// so no key can ever name one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// Longest key accepted; tile paths are far shorter.
const MAX_KEY_LEN: usize = 512;

impl ObjectKey {
    /// Parses `key`, rejecting anything that is not a plain relative path of
    /// `[A-Za-z0-9._-]` segments.
    pub fn new(key: impl Into<String>) -> Result<Self, StoreError> {
        let key = key.into();
        let bad = |reason| StoreError::InvalidKey {
            key: key.clone(),
            reason,
        };
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(bad("empty or longer than 512 bytes"));
        }
        for seg in key.split('/') {
            if seg.is_empty() {
                return Err(bad("empty path segment"));
            }
            if seg.starts_with('.') {
                return Err(bad("segment starts with '.'"));
            }
            if !seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            {
                return Err(bad("only [A-Za-z0-9._-] allowed in segments"));
            }
        }
        Ok(ObjectKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::ObjectKey;

    #[test]
    fn accepts_tile_paths() {
        for k in [
            "checkpoint",
            "tile/0/x001/234",
            "tile/entries/000.p/5",
            "staging/x001/000",
        ] {
            ObjectKey::new(k).unwrap();
        }
    }

    #[test]
    fn rejects_escapes() {
        for k in [
            "", "/abs", "a//b", "../x", "a/../b", "a/.tmp", "a/b/", "a b", "a\\b", "é",
        ] {
            assert!(ObjectKey::new(k).is_err(), "{k:?} accepted");
        }
    }
}
