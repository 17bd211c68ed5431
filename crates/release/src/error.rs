//! The crate's one error type, with a stable code per variant (`RELEASE_E***` for sealing
//! and index comparison, `CHECKSUM_E***` for checksum files). Codes are documented in the
//! README and are never renumbered or reused.

use std::path::PathBuf;

/// Everything that can go wrong while sealing a release, reading its records or asking an
/// index what it serves. A verification *outcome* (a mismatch, a missing file) is not an
/// error: it is a row in a report. Errors are the cases where no honest verdict exists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// A file name that cannot be a release asset: empty, `.`/`..`, containing a path
    /// separator, a control character, or a backslash (which `sha256sum` would escape).
    #[error("invalid asset name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    /// A manifest whose `schema_version` this build does not understand.
    #[error("{file}: unsupported schema_version {found} (expected {expected})")]
    UnsupportedSchema {
        file: &'static str,
        expected: u32,
        found: u64,
    },

    /// A manifest that is not valid JSON of the expected shape.
    #[error("{file}: malformed: {detail}")]
    MalformedManifest { file: &'static str, detail: String },

    /// The same name appears twice in a manifest.
    #[error("{file}: duplicate entry {name:?}")]
    DuplicateEntry { file: &'static str, name: String },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A command-line value that does not parse (crate spec, time, commit, exception).
    #[error("invalid {what} {value:?}: expected {expected}")]
    InvalidArgument {
        what: &'static str,
        value: String,
        expected: &'static str,
    },

    /// The index could not be reached, timed out, or kept answering with a server error
    /// after every retry.
    #[error("index unreachable at {url} after {attempts} attempt(s): {detail}")]
    IndexUnreachable {
        url: String,
        attempts: u32,
        detail: String,
    },

    /// The index answered, but not in the documented shape.
    #[error("index response from {url} is malformed: {detail}")]
    IndexMalformed { url: String, detail: String },

    /// The index answered with more bytes than the configured cap.
    #[error("index response from {url} exceeds {limit_bytes} bytes")]
    IndexTooLarge { url: String, limit_bytes: u64 },

    /// The index answered with a status that is neither success, not-found nor retryable.
    #[error("index answered {url} with HTTP {status}")]
    IndexStatus { url: String, status: u16 },

    /// `dist-manifest.json` and `crates-manifest.json` disagree about a `.crate` file.
    #[error("manifests disagree on {name}: dist-manifest.json sha256 {dist}, crates-manifest.json checksum {crates}")]
    ManifestsDisagree {
        name: String,
        dist: String,
        crates: String,
    },

    /// The directory to seal holds no asset at all.
    #[error("{}: no assets to seal", dir.display())]
    NothingToSeal { dir: PathBuf },

    /// A directory entry that is neither a regular file nor a directory (a symlink, a
    /// socket): sealing it could record bytes from outside the release directory.
    #[error("{}: not a regular file (symlinks are refused)", path.display())]
    NotRegularFile { path: PathBuf },

    /// A line of a SHA256SUMS or `.sha256` file that is not `<64 hex>  <name>` or
    /// `<64 hex> *<name>`.
    #[error("{file}:{line}: malformed checksum line: {reason}")]
    MalformedSumsLine {
        file: String,
        line: usize,
        reason: &'static str,
    },

    /// The same file name appears twice in a SHA256SUMS file.
    #[error("{file}:{line}: duplicate entry {name:?}")]
    DuplicateSumsEntry {
        file: String,
        line: usize,
        name: String,
    },

    /// A checksum file holds no entry.
    #[error("{file}: no checksum entries")]
    EmptySums { file: String },
}

impl ReleaseError {
    /// The stable code printed as `error[CODE]` and carried in `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            ReleaseError::InvalidName { .. } => "RELEASE_E001",
            ReleaseError::UnsupportedSchema { .. } => "RELEASE_E002",
            ReleaseError::MalformedManifest { .. } => "RELEASE_E003",
            ReleaseError::DuplicateEntry { .. } => "RELEASE_E004",
            ReleaseError::Io { .. } => "RELEASE_E005",
            ReleaseError::InvalidArgument { .. } => "RELEASE_E006",
            ReleaseError::IndexUnreachable { .. } => "RELEASE_E007",
            ReleaseError::IndexMalformed { .. } => "RELEASE_E008",
            ReleaseError::IndexTooLarge { .. } => "RELEASE_E009",
            ReleaseError::IndexStatus { .. } => "RELEASE_E010",
            ReleaseError::ManifestsDisagree { .. } => "RELEASE_E011",
            ReleaseError::NothingToSeal { .. } => "RELEASE_E012",
            ReleaseError::NotRegularFile { .. } => "RELEASE_E013",
            ReleaseError::MalformedSumsLine { .. } => "CHECKSUM_E001",
            ReleaseError::DuplicateSumsEntry { .. } => "CHECKSUM_E002",
            ReleaseError::EmptySums { .. } => "CHECKSUM_E003",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReleaseError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Codes for verification outcomes (not errors): the command prints them with its summary
/// when it exits 1, so scripts can tell a checksum failure from index drift.
pub mod outcome_codes {
    /// At least one file was missing, extra, or did not match its recorded digest.
    pub const CHECKSUM_MISMATCH: &str = "CHECKSUM_E004";
    /// At least one artifact an index serves is missing, drifted, unexpected, or was
    /// published by a person without a recorded exception.
    pub const INDEX_DRIFT: &str = "RELEASE_E014";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let all = [
            ReleaseError::InvalidName {
                name: String::new(),
                reason: "",
            },
            ReleaseError::EmptySums {
                file: String::new(),
            },
            ReleaseError::NothingToSeal {
                dir: PathBuf::new(),
            },
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(ReleaseError::code).collect();
        assert_eq!(codes.len(), all.len());
        assert_ne!(outcome_codes::CHECKSUM_MISMATCH, outcome_codes::INDEX_DRIFT);
    }
}
