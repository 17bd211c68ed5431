//! docs/errors.md lists every error code the sources use, and only those.
//!
//! The scan takes string literals shaped like a code (`"PREFIX_E123"`, also inside an
//! escaped JSON literal as `\"PREFIX_E123\"`) from `src/` and `crates/*/src`, leaving out
//! test code (files under a `tests` directory, `tests.rs`, and every item behind
//! `#[cfg(test)]`). Codes listed under `## Retired codes` must be used nowhere: their
//! numbers are kept so they are never reused. The failure message names each code to add
//! or remove, and where a missing one is used, so a merge that moved codes is fixed fast.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DOC: &str = "docs/errors.md";
const RETIRED_HEADING: &str = "## Retired codes";

/// `PREFIX_E` followed by exactly three digits, `PREFIX` being ASCII uppercase letters.
fn code_at(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < bytes.len() && bytes[i].is_ascii_uppercase() {
        i += 1;
    }
    if i == start || bytes.get(i..i + 2) != Some(b"_E") {
        return None;
    }
    let digits = bytes.get(i + 2..i + 5)?;
    digits.iter().all(u8::is_ascii_digit).then_some(i + 5)
}

/// Every `"CODE"` (or `\"CODE\"`) string literal in `text`.
fn literal_codes(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for (q, _) in text.match_indices('"') {
        let start = q + 1;
        let Some(end) = code_at(bytes, start) else {
            continue;
        };
        let closes = match bytes.get(end) {
            Some(b'"') => true,
            Some(b'\\') => {
                bytes.get(end + 1) == Some(&b'"') && bytes.get(q.wrapping_sub(1)) == Some(&b'\\')
            }
            _ => false,
        };
        if closes {
            found.push(text[start..end].to_string());
        }
    }
    found
}

/// `text` without the items behind `#[cfg(test)]`. rustfmt is enforced, so an item ends
/// at its own line if that ends with `;`, else at the `}` line with its indentation.
fn without_test_items(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            kept.push_str(line);
            kept.push('\n');
            continue;
        }
        // Skip further attributes, then the item itself.
        let mut item = lines.next();
        while let Some(l) = item.filter(|l| l.trim_start().starts_with("#[")) {
            let _ = l;
            item = lines.next();
        }
        let Some(first) = item else { break };
        if first.trim_end().ends_with(';') {
            continue;
        }
        let indent = &first[..first.len() - first.trim_start().len()];
        let close = format!("{indent}}}");
        for l in lines.by_ref() {
            if l.trim_end() == close {
                break;
            }
        }
    }
    kept
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// Each code used in the sources, with the first file (relative) that uses it.
fn source_codes(root: &Path) -> BTreeMap<String, String> {
    let mut dirs = vec![root.join("src")];
    let crates = std::fs::read_dir(root.join("crates")).expect("crates/ is readable");
    for entry in crates {
        dirs.push(entry.expect("readable crates/ entry").path().join("src"));
    }
    let mut files = Vec::new();
    for dir in &dirs {
        rust_files(dir, &mut files);
    }
    files.sort();
    let mut codes = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source file is UTF-8");
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for code in literal_codes(&without_test_items(&text)) {
            codes.entry(code).or_insert_with(|| rel.clone());
        }
    }
    codes
}

/// Table rows `| CODE | ...` of the document: (active codes, retired codes, duplicates).
fn doc_codes(doc: &str) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut active, mut retired, mut dup) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut in_retired = false;
    for line in doc.lines() {
        if line.starts_with("## ") {
            in_retired = line.trim() == RETIRED_HEADING;
        }
        let Some(cell) = line.strip_prefix('|').and_then(|r| r.split('|').next()) else {
            continue;
        };
        let cell = cell.trim().trim_matches('`');
        if code_at(cell.as_bytes(), 0) != Some(cell.len()) {
            continue;
        }
        let set = if in_retired {
            &mut retired
        } else {
            &mut active
        };
        if !set.insert(cell.to_string()) || active.contains(cell) && retired.contains(cell) {
            dup.insert(cell.to_string());
        }
    }
    (active, retired, dup)
}

#[test]
fn every_code_in_the_sources_is_documented_and_every_documented_code_is_used() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let used = source_codes(root);
    let doc = std::fs::read_to_string(root.join(DOC)).expect("docs/errors.md is readable");
    let (active, retired, duplicates) = doc_codes(&doc);

    let missing: Vec<String> = used
        .iter()
        .filter(|(c, _)| !active.contains(*c) && !retired.contains(*c))
        .map(|(c, f)| format!("  {c}  (used in {f})"))
        .collect();
    let reused: Vec<String> = used
        .iter()
        .filter(|(c, _)| retired.contains(*c))
        .map(|(c, f)| format!("  {c}  (used in {f})"))
        .collect();
    let unused: Vec<String> = active
        .iter()
        .filter(|c| !used.contains_key(*c))
        .map(|c| format!("  {c}"))
        .collect();

    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "add these codes to {DOC} (a row `| CODE | exit | meaning |` in their prefix's table):\n{}",
            missing.join("\n")
        ));
    }
    if !unused.is_empty() {
        problems.push(format!(
            "remove these rows from {DOC}, or move them under `{RETIRED_HEADING}` if the code was \
             retired (no source uses them any more):\n{}",
            unused.join("\n")
        ));
    }
    if !reused.is_empty() {
        problems.push(format!(
            "these codes are retired in {DOC} but used again: give the new failure the next free \
             number of its prefix instead:\n{}",
            reused.join("\n")
        ));
    }
    if !duplicates.is_empty() {
        problems.push(format!(
            "these codes have more than one row in {DOC}: keep one:\n  {}",
            duplicates.into_iter().collect::<Vec<_>>().join("\n  ")
        ));
    }
    assert!(
        problems.is_empty(),
        "{DOC} is out of step with the sources:\n\n{}\n",
        problems.join("\n\n")
    );
    assert!(
        used.len() > 300,
        "the scan found only {} codes: is it still reading the sources?",
        used.len()
    );
}

#[test]
fn the_scan_reads_literals_and_leaves_out_test_items() {
    let src = r#"
const A: &str = "ONE_E001";
const J: &[u8] = b"{\"code\":\"TWO_E002\"}";
// "COMMENT_E9" is not a code; neither is "LONG_E0001" or "lower_E001".
#[cfg(test)]
mod tests {
    fn t() {
        assert_eq!(x, "TEST_E001");
    }
}
#[cfg(test)]
mod more;
const B: &str = "THREE_E003";
"#;
    assert_eq!(
        literal_codes(&without_test_items(src)),
        ["ONE_E001", "TWO_E002", "THREE_E003"]
    );
    let doc = "| ONE_E001 | 2 | x |\n| `TWO_E002` | 1 | y |\n## Retired codes\n| OLD_E001 | — | z |\n| ONE_E001 | — | again |\n";
    let (active, retired, dup) = doc_codes(doc);
    assert_eq!(
        active.into_iter().collect::<Vec<_>>(),
        ["ONE_E001", "TWO_E002"]
    );
    assert_eq!(
        retired.into_iter().collect::<Vec<_>>(),
        ["OLD_E001", "ONE_E001"]
    );
    assert_eq!(dup.into_iter().collect::<Vec<_>>(), ["ONE_E001"]);
}
