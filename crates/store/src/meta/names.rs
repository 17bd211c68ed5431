//! The keys that decide uniqueness of package names, scopes and versions: PEP 503 name normalisation and the version without build metadata.
//!
//! The migrations (`0004_scopes_names.sql`) compute the same keys in SQL for existing
//! rows and make the database check every new row against them, so Rust and SQL can
//! never disagree silently: a mismatch is a refused insert.

/// The name under which uniqueness is decided: ASCII-lowercased, every run of `-`, `_`
/// and `.` collapsed to one `-` (PEP 503's normalisation; PyPI and pip compare names
/// this way). So `@acme/l.ib`, `@acme/l_ib` and `@acme/L--ib` are one name, while
/// `@acme/lib` stays another (PEP 503 keeps `l-ib` and `lib` apart; crates.io would too,
/// since it only equates `-` with `_`). `@` and `/` are kept, so the scope is normalised
/// by the same rule.
pub fn normalized_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_run = false;
        }
    }
    out
}

/// The normalised scope of `@scope/name` (without `@`), or `None` when `name` has no
/// non-empty scope.
pub fn normalized_scope(name: &str) -> Option<String> {
    let rest = name.strip_prefix('@')?;
    let (scope, _) = rest.split_once('/')?;
    (!scope.is_empty()).then(|| normalized_name(scope))
}

/// A version without its build metadata (SemVer 2.0 section 10: build metadata takes no
/// part in precedence, so `1.0.0+evil` is the same release as `1.0.0`).
pub fn version_key(version: &str) -> &str {
    version.split_once('+').map_or(version, |(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_as_pep_503_with_case_folding() {
        for (a, b) in [
            ("@acme/l.ib", "@acme/l-ib"),
            ("@acme/l_ib", "@acme/l-ib"),
            ("@acme/L--_.ib", "@acme/l-ib"),
            ("@acme/lib_", "@acme/lib-"),
            ("@my_org/x", "@my-org/x"),
            ("@acme/lib", "@acme/lib"),
        ] {
            assert_eq!(normalized_name(a), b, "{a}");
        }
        assert_ne!(normalized_name("@acme/l.ib"), normalized_name("@acme/lib"));
        assert_eq!(normalized_scope("@My.Org/x").as_deref(), Some("my-org"));
        assert_eq!(normalized_scope("@/x"), None);
        assert_eq!(normalized_scope("acme/x"), None);
        assert_eq!(normalized_scope("@acme"), None);
    }

    #[test]
    fn version_keys_drop_build_metadata_only() {
        assert_eq!(version_key("1.0.0+evil"), "1.0.0");
        assert_eq!(version_key("1.0.0-rc.1+b.2"), "1.0.0-rc.1");
        assert_eq!(version_key("1.0.0"), "1.0.0");
    }
}
