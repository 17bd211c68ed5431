//! Subject patterns: `*` stands for any run of characters (slashes included), every
//! other character for itself. Small enough to own; a glob crate would bring path
//! semantics (`/` boundaries, character classes) package names do not have.

/// Whether `pattern` matches the whole of `name`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    // `split` always yields at least one part.
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        // No `*`: the pattern is the name.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = rest.get(at + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_literals() {
        assert!(matches("*", ""));
        assert!(matches("*", "@acme/widget"));
        assert!(matches("@acme/*", "@acme/widget"));
        assert!(!matches("@acme/*", "@acme2/widget"));
        assert!(matches("@acme/widget", "@acme/widget"));
        assert!(!matches("@acme/widget", "@acme/widgets"));
        assert!(matches("*.whl", "pkg-1.0-py3-none-any.whl"));
        assert!(!matches("*.whl", "pkg.tar.gz"));
        assert!(matches("a*b*c", "aXbYc"));
        assert!(!matches("a*b*c", "aXcYb"));
        assert!(!matches("ab*ba", "aba"));
        assert!(matches("**", "x"));
    }
}
