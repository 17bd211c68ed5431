//! Every error-code prefix (`SERVE_E`, `INTEGRITY_E`, …) is defined by exactly one crate of the workspace (issue 15: `INTEGRITY_E` was minted in three layers, `CA_E002` as a literal in the registry).
//!
//! A code is *defined* where its string literal appears in non-test source: a `code()`
//! arm, a constant, the code argument of an error constructor. Using a code another
//! crate owns goes through that crate (`IngestError::WebhookBusy.code()`,
//! `vouch_integrity::codes::NO_RECORD`), so the literal lives in one crate only. The
//! scan covers `src/` (the binary, crate `vouch`) and `crates/*/src`, skipping comment
//! lines, `tests.rs` files and everything from a file's first `#[cfg(test)]` on (test
//! modules close their files). The test names every offending literal with its file
//! and line.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Prefixes knowingly defined in more than one crate, each with the crate that owns it
/// and the other crates still naming its codes: (prefix, owner, others, why). Empty:
/// every prefix has one owner, and a crate that reports another crate's code names the
/// owner's item (`vouch_api_client::codes`, `vouch_package::publish_codes`,
/// `vouch_integrity::codes`, `vouch_tiles_client::ops::AUDIT_LOG_MISBEHAVED`, …).
/// Strict: a pair that no longer occurs fails the test, so the list only shrinks.
const EXCEPTIONS: &[(&str, &str, &[&str], &str)] = &[];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs")
            && p.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(p);
        }
    }
}

/// The code literals of one line: `"PREFIX_E` + three digits + `"`, prefix in capitals.
fn code_literals(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in line.match_indices('"') {
        let rest = &line[i + 1..];
        let Some(end) = rest.find('"') else { break };
        let lit = &rest[..end];
        let Some((prefix, num)) = lit.split_once("_E") else {
            continue;
        };
        let prefix_ok = prefix
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
            && prefix
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if prefix_ok && num.len() == 3 && num.chars().all(|c| c.is_ascii_digit()) {
            found.push(lit.to_owned());
        }
    }
    found
}

/// prefix → crate → the places (file:line code) where the crate names its codes.
fn scan(root: &Path) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut crates: Vec<(String, PathBuf)> = vec![("vouch".into(), root.join("src"))];
    for e in std::fs::read_dir(root.join("crates"))
        .expect("crates/ exists")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        crates.push((name, e.path().join("src")));
    }
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (krate, dir) in crates {
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("source files are UTF-8");
            let shown = f.strip_prefix(root).unwrap_or(&f).display().to_string();
            for (n, line) in text.lines().enumerate() {
                let t = line.trim_start();
                if t.starts_with("#[cfg(test)]") {
                    break;
                }
                if t.starts_with("//") {
                    continue;
                }
                for code in code_literals(line) {
                    let prefix = code.split_once("_E").map(|(p, _)| p).unwrap_or("");
                    out.entry(format!("{prefix}_E"))
                        .or_default()
                        .entry(krate.clone())
                        .or_default()
                        .push(format!("{shown}:{} {code}", n + 1));
                }
            }
        }
    }
    out
}

#[test]
fn every_code_prefix_is_defined_by_one_crate() {
    let root = workspace_root();
    let found = scan(&root);
    assert!(
        found.contains_key("INGEST_E") && found.contains_key("SERVE_E"),
        "the scan found the workspace's codes: {:?}",
        found.keys().collect::<Vec<_>>()
    );
    let mut problems = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    for (prefix, by_crate) in &found {
        if by_crate.len() < 2 {
            continue;
        }
        let exception = EXCEPTIONS.iter().find(|(p, ..)| p == prefix);
        for (krate, places) in by_crate {
            let allowed = exception.is_some_and(|(_, owner, others, _)| {
                krate == owner || others.contains(&krate.as_str())
            });
            if allowed {
                used_exceptions.insert((prefix.clone(), krate.clone()));
                continue;
            }
            let owners: Vec<&String> = by_crate.keys().collect();
            problems.push(format!(
                "{prefix} is defined in {} crates ({owners:?}); in crate {krate}:\n    {}",
                by_crate.len(),
                places.join("\n    ")
            ));
        }
    }
    for (prefix, owner, others, _) in EXCEPTIONS {
        for krate in std::iter::once(owner).chain(others.iter()) {
            if !used_exceptions.contains(&(prefix.to_string(), krate.to_string())) {
                problems.push(format!(
                    "stale exception: {prefix} is no longer defined in crate {krate} besides \
                     its owner; remove it from EXCEPTIONS"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The scanner itself: a code is recognised in code, not in comments or test modules.
#[test]
fn the_scanner_sees_literals_only() {
    assert_eq!(
        code_literals(r#"X::A => "CA_E002", X::B => "SEQ_E010","#),
        vec!["CA_E002".to_owned(), "SEQ_E010".to_owned()]
    );
    assert!(code_literals(r#"format!("{code}_E001") "ca_E002" "CA_E02""#).is_empty());
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(dir.path().join("crates/a/src")).unwrap();
    std::fs::create_dir_all(dir.path().join("crates/b/src")).unwrap();
    std::fs::write(
        dir.path().join("crates/a/src/lib.rs"),
        "fn c() -> &'static str { \"DUP_E001\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("crates/b/src/lib.rs"),
        "// \"DUP_E002\" in a comment\nfn c() -> &'static str { \"DUP_E003\" }\n\
         #[cfg(test)]\nmod tests { const X: &str = \"ONLY_E001\"; }\n",
    )
    .unwrap();
    let found = scan(dir.path());
    let dup = &found["DUP_E"];
    assert_eq!(dup.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(dup["b"], ["crates/b/src/lib.rs:2 DUP_E003"]);
    assert!(!found.contains_key("ONLY_E"));
}
