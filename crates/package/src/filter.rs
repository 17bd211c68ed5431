//! `include` / `exclude` patterns and the paths that are never packed.
//!
//! Patterns are shell-style globs anchored at the package root and matched against
//! `/`-separated relative paths: `*` and `?` never cross `/`, `**` spans directories,
//! `[...]` is a class. A pattern selects a path if it matches the path itself or any
//! of its parent directories, so `include = ["src"]` takes all of `src/` and
//! `exclude = ["**/*.log"]` drops log files at any depth. A file is packed when
//! `include` is empty or selects it, and `exclude` does not.
//!
//! Always left out whatever the patterns say: any `.git` (file or directory, at any
//! depth: submodules and worktrees use a `.git` file), the `target` directory at the
//! root, and the archive being written when it lies inside the tree.

use glob::{MatchOptions, Pattern};

use crate::Error;

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Compiled `include` / `exclude` patterns.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

impl Filter {
    /// Compiles the patterns; an invalid one is named in the error.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, Error> {
        let compile = |field: &'static str, pats: &[String]| {
            pats.iter()
                .map(|p| {
                    Pattern::new(p).map_err(|source| Error::InvalidPattern {
                        field,
                        pattern: p.clone(),
                        source,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            include: compile("package.include", include)?,
            exclude: compile("package.exclude", exclude)?,
        })
    }

    /// Whether the directory at `rel` is left out whole (so the walk need not enter it).
    pub(crate) fn prunes_dir(&self, rel: &str) -> bool {
        always_excluded(rel) || self.exclude.iter().any(|p| selects(p, rel))
    }

    /// Whether the file at `rel` is packed.
    pub fn includes_file(&self, rel: &str) -> bool {
        if always_excluded(rel) || self.exclude.iter().any(|p| selects(p, rel)) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(|p| selects(p, rel))
    }
}

fn always_excluded(rel: &str) -> bool {
    rel == "target" || rel.starts_with("target/") || rel.split('/').any(|c| c == ".git")
}

/// `pattern` matches `rel` or one of its parent directories.
fn selects(pattern: &Pattern, rel: &str) -> bool {
    if pattern.matches_with(rel, OPTIONS) {
        return true;
    }
    rel.match_indices('/')
        .any(|(i, _)| pattern.matches_with(&rel[..i], OPTIONS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(inc: &[&str], exc: &[&str]) -> Filter {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Filter::new(&s(inc), &s(exc)).unwrap()
    }

    #[test]
    fn include_exclude_semantics() {
        let all = f(&[], &[]);
        assert!(all.includes_file("a/b.rs"));
        assert!(!all.includes_file(".git/config"));
        assert!(!all.includes_file("sub/.git"));
        assert!(!all.includes_file("target/debug/x"));
        assert!(all.includes_file("src/target/x"));

        let some = f(&["src", "README.md"], &["**/*.log", "src/gen"]);
        assert!(some.includes_file("src/lib.rs"));
        assert!(some.includes_file("README.md"));
        assert!(!some.includes_file("Cargo.toml"));
        assert!(!some.includes_file("src/a/b.log"));
        assert!(!some.includes_file("src/gen/x.rs"));
        assert!(some.prunes_dir("src/gen"));

        let star = f(&["*.md"], &[]);
        assert!(star.includes_file("a.md"));
        assert!(!star.includes_file("doc/a.md"), "`*` does not cross `/`");
    }

    #[test]
    fn invalid_pattern_is_named() {
        let e = Filter::new(&[], &["[".to_string()]).unwrap_err();
        assert_eq!(e.code(), "PKG_E007");
        assert!(e.to_string().contains("package.exclude"));
    }
}
