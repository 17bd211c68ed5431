//! Checksum verification: files on disk against a `SHA256SUMS` / `<asset>.sha256` file or
//! a `dist-manifest.json`. Every file is reported as ok, missing, extra or mismatched;
//! the caller decides the exit status from [`CheckReport::passed`].

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::ReleaseError;
use crate::hash::hash_file;
use crate::manifest::DistManifest;
use crate::name::AssetName;
pub use crate::seal::SHA256SUMS;
use crate::seal::{is_seal_output, SHA256_SUFFIX};
use crate::sums::Sums;

/// The record files are checked against.
#[derive(Debug, Clone)]
pub enum Record {
    /// A `sha256sum`-format list; SHA-256 only.
    Sums(Sums),
    /// A dist manifest; size, SHA-256 and BLAKE3 are all checked.
    Manifest(DistManifest),
}

/// What was expected of one file.
struct Expect {
    size: Option<u64>,
    sha256: String,
    blake3: Option<String>,
}

impl Record {
    fn entries(&self) -> Vec<(AssetName, Expect)> {
        match self {
            Record::Sums(s) => s
                .iter()
                .map(|(n, d)| {
                    let e = Expect {
                        size: None,
                        sha256: d.to_hex(),
                        blake3: None,
                    };
                    (n.clone(), e)
                })
                .collect(),
            Record::Manifest(m) => m
                .assets
                .iter()
                .map(|a| {
                    let e = Expect {
                        size: Some(a.size),
                        sha256: a.sha256.to_hex(),
                        blake3: Some(a.blake3.to_hex()),
                    };
                    (a.name.clone(), e)
                })
                .collect(),
        }
    }
}

/// The verdict for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileStatus {
    Ok,
    /// Recorded (or named on the command line) but not on disk.
    Missing,
    /// On disk (or named on the command line) but not recorded.
    Extra,
    /// Present and recorded, but a field differs.
    Mismatch(Drift),
}

impl FileStatus {
    pub fn label(&self) -> &'static str {
        match self {
            FileStatus::Ok => "ok",
            FileStatus::Missing => "missing",
            FileStatus::Extra => "extra",
            FileStatus::Mismatch(_) => "mismatch",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileResult {
    pub name: String,
    pub status: FileStatus,
}

impl FileResult {
    /// The row as `vouch verify checksums --json` reports it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({"name": self.name, "status": self.status.label()});
        if let FileStatus::Mismatch(drift) = &self.status {
            drift.put_json(&mut v);
        }
        v
    }

    /// What the text report prints after the name: `  FIELD expected X found Y` for a
    /// mismatch, nothing otherwise.
    pub fn detail(&self) -> String {
        match &self.status {
            FileStatus::Mismatch(drift) => drift.detail(),
            _ => String::new(),
        }
    }
}

/// A recorded value that differs from the one found: a file's or a served artifact's
/// mismatch, reported alike by both checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// What differs (`size`, `sha256`, `blake3`, `checksum`).
    pub field: &'static str,
    pub expected: String,
    pub found: String,
}

impl Drift {
    pub fn new(field: &'static str, expected: String, found: String) -> Self {
        Drift {
            field,
            expected,
            found,
        }
    }

    /// Adds `field`, `expected` and `found` to a JSON row (an object).
    #[allow(
        clippy::indexing_slicing,
        reason = "IndexMut on a JSON object (every report row is one) never panics"
    )]
    pub(crate) fn put_json(&self, v: &mut serde_json::Value) {
        v["field"] = self.field.into();
        v["expected"] = self.expected.as_str().into();
        v["found"] = self.found.as_str().into();
    }

    /// `  FIELD expected X found Y`.
    pub(crate) fn detail(&self) -> String {
        format!(
            "  {} expected {} found {}",
            self.field, self.expected, self.found
        )
    }
}

/// The whole verdict, rows sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckReport {
    pub results: Vec<FileResult>,
    /// Whether the files were named by the caller rather than found in the directory.
    pub named: bool,
}

/// The labels of [`FileStatus`], in report order.
pub const LABELS: [&str; 4] = ["ok", "missing", "extra", "mismatch"];

impl CheckReport {
    /// Whether the check passed. A file found in the directory that the record does not
    /// list (a `.sigstore.json` downloaded beside the assets) is reported as extra but
    /// fails the check only when `strict`, as `sha256sum -c` ignores it; a file the
    /// caller named that the record does not list always fails.
    pub fn passed(&self, strict: bool) -> bool {
        !self.results.is_empty()
            && self.results.iter().all(|r| match r.status {
                FileStatus::Ok => true,
                FileStatus::Extra => !strict && !self.named,
                _ => false,
            })
    }

    /// Extra files that did not fail the check (reported, not judged).
    pub fn ignored_extras(&self, strict: bool) -> usize {
        if strict || self.named {
            0
        } else {
            self.count("extra")
        }
    }

    /// `"N ok, N missing, N extra, N mismatch"`.
    pub fn summary(&self) -> String {
        crate::report::label_summary(&LABELS, |l| self.count(l))
    }

    /// `{"ok": N, "missing": N, "extra": N, "mismatch": N}`.
    pub fn counts_json(&self) -> serde_json::Map<String, serde_json::Value> {
        crate::report::label_counts(&LABELS, |l| self.count(l))
    }

    /// How many rows carry `label` ("ok", "missing", "extra", "mismatch").
    pub fn count(&self, label: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.status.label() == label)
            .count()
    }
}

/// Reads a record file: a manifest when `manifest` is set, else a checksum list.
pub fn load_record(path: &Path, manifest: bool) -> Result<Record, ReleaseError> {
    let text = fs::read_to_string(path).map_err(|e| ReleaseError::io(path, e))?;
    if manifest {
        DistManifest::parse(&text).map(Record::Manifest)
    } else {
        Sums::parse(&path.display().to_string(), &text).map(Record::Sums)
    }
}

/// Loads the record at `path` (a manifest when `manifest` is set) and verifies `files`
/// against it, or, with `files` empty, everything in the record's directory (see
/// [`check`]).
pub fn verify_record(
    path: &Path,
    manifest: bool,
    files: &[PathBuf],
) -> Result<CheckReport, ReleaseError> {
    let record = load_record(path, manifest)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    check(&record, &name, &dir, files)
}

/// Verifies files against `record`.
///
/// With `files` empty, every recorded file is looked up in `dir`, and files in `dir` that
/// the record does not list are reported as extra (except the seal's own outputs and
/// `record_name`; and not at all when the record is a per-asset `.sha256` file, which
/// speaks for one asset only). With `files` given, exactly those are checked: a file the
/// record does not list is extra, one that does not exist is missing.
pub fn check(
    record: &Record,
    record_name: &str,
    dir: &Path,
    files: &[PathBuf],
) -> Result<CheckReport, ReleaseError> {
    let entries = record.entries();
    let mut work: Vec<(String, Option<&Expect>, PathBuf)> = Vec::new();
    if files.is_empty() {
        for (name, expect) in &entries {
            work.push((
                name.as_str().to_owned(),
                Some(expect),
                dir.join(name.as_str()),
            ));
        }
        if !record_name.ends_with(SHA256_SUFFIX) {
            let listed: BTreeSet<&str> = entries.iter().map(|e| e.0.as_str()).collect();
            for entry in fs::read_dir(dir).map_err(|e| ReleaseError::io(dir, e))? {
                let entry = entry.map_err(|e| ReleaseError::io(dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_file = entry.path().is_file();
                if is_file
                    && !listed.contains(name.as_str())
                    && !is_seal_output(&name)
                    && name != record_name
                {
                    work.push((name, None, entry.path()));
                }
            }
        }
    } else {
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            let expect = entries.iter().find(|e| e.0.as_str() == name).map(|e| &e.1);
            work.push((name, expect, path.clone()));
        }
    }

    let mut results: Vec<FileResult> = work
        .par_iter()
        .map(|(name, expect, path)| {
            let status = check_one(*expect, path)?;
            Ok(FileResult {
                name: name.clone(),
                status,
            })
        })
        .collect::<Result<_, ReleaseError>>()?;
    results.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(CheckReport {
        results,
        named: !files.is_empty(),
    })
}

fn check_one(expect: Option<&Expect>, path: &Path) -> Result<FileStatus, ReleaseError> {
    let exists = match fs::metadata(path) {
        Ok(m) => m.is_file(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(ReleaseError::io(path, e)),
    };
    let Some(expect) = expect else {
        return Ok(if exists {
            FileStatus::Extra
        } else {
            FileStatus::Missing
        });
    };
    if !exists {
        return Ok(FileStatus::Missing);
    }
    let found = hash_file(path, &|_| {}).map_err(|e| ReleaseError::io(path, e))?;
    let mismatch =
        |field, expected, found| FileStatus::Mismatch(Drift::new(field, expected, found));
    if let Some(size) = expect.size {
        if size != found.size {
            return Ok(mismatch("size", size.to_string(), found.size.to_string()));
        }
    }
    if expect.sha256 != found.sha256.to_hex() {
        return Ok(mismatch(
            "sha256",
            expect.sha256.clone(),
            found.sha256.to_hex(),
        ));
    }
    if let Some(b3) = &expect.blake3 {
        if *b3 != found.blake3.to_hex() {
            return Ok(mismatch("blake3", b3.clone(), found.blake3.to_hex()));
        }
    }
    Ok(FileStatus::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[FileStatus], named: bool) -> CheckReport {
        let results = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| FileResult {
                name: format!("f{i}"),
                status: s.clone(),
            })
            .collect();
        CheckReport { results, named }
    }

    #[test]
    fn unlisted_files_fail_only_when_strict_or_named() {
        let r = report(&[FileStatus::Ok, FileStatus::Extra], false);
        assert!(r.passed(false));
        assert!(!r.passed(true));
        assert_eq!((r.ignored_extras(false), r.ignored_extras(true)), (1, 0));
        assert_eq!(r.summary(), "1 ok, 0 missing, 1 extra, 0 mismatch");
        let named = report(&[FileStatus::Ok, FileStatus::Extra], true);
        assert!(!named.passed(false));
        assert_eq!(named.ignored_extras(false), 0);
        assert!(!report(&[FileStatus::Ok, FileStatus::Missing], false).passed(false));
        assert!(!report(&[], false).passed(false));
    }
}
