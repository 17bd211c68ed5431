//! The crate's one error type and its stable `PKG_E…` codes.

use std::io;
use std::path::PathBuf;

/// Why an archive path (in a tree being packed, or in an archive being read) is refused.
///
/// The same rules apply on both sides so that everything `pack` writes, `inspect` accepts.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// The path is empty.
    Empty,
    /// The path starts with `/`.
    Absolute,
    /// A component is `..`.
    ParentDir,
    /// A component is `.` or empty (`a//b`, trailing `/`).
    DotOrEmptyComponent,
    /// The path contains a backslash (a separator on Windows) or a NUL byte.
    ForbiddenByte,
    /// The path is not valid UTF-8.
    NonUtf8,
    /// The whole path is longer than [`crate::MAX_PATH_BYTES`].
    TooLong,
    /// One component is longer than [`crate::MAX_COMPONENT_BYTES`].
    ComponentTooLong,
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "the path is empty",
            Self::Absolute => "absolute paths are not allowed",
            Self::ParentDir => "`..` components are not allowed",
            Self::DotOrEmptyComponent => "`.` and empty components are not allowed",
            Self::ForbiddenByte => "backslash and NUL bytes are not allowed",
            Self::NonUtf8 => "the path is not valid UTF-8",
            Self::TooLong => "the path is too long",
            Self::ComponentTooLong => "a path component is too long",
        })
    }
}

/// The kind of a non-regular file found in a tree or an archive.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialKind {
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// Anything else the platform reports.
    Other,
}

impl std::fmt::Display for SpecialKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::CharDevice => "character device",
            Self::BlockDevice => "block device",
            Self::Fifo => "fifo",
            Self::Socket => "socket",
            Self::Other => "special file",
        })
    }
}

/// Everything that can go wrong in this crate. [`Error::code`] gives the stable code.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PKG_E001: `vouch.toml` is not valid TOML.
    #[error("manifest is not valid toml: {source}")]
    ManifestSyntax {
        /// The TOML parser's error, with its position.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// PKG_E002: the manifest has a key this version does not know.
    #[error("manifest: unknown key `{key}`")]
    UnknownKey {
        /// Dotted path of the key, e.g. `package.authors`.
        key: String,
    },
    /// PKG_E003: a required manifest field is absent.
    #[error("manifest: missing required field `{field}`")]
    MissingField {
        /// Dotted path of the field.
        field: &'static str,
    },
    /// PKG_E004: a manifest field has the wrong type or shape.
    #[error("manifest: `{field}` must be {expected}, found {found}")]
    InvalidField {
        /// Dotted path of the field.
        field: String,
        /// What was expected.
        expected: &'static str,
        /// What was found (a TOML type name or a short value).
        found: String,
    },
    /// PKG_E005: the package name breaks the naming rules.
    #[error("invalid package name `{found}`: expected {expected}")]
    InvalidName {
        /// The rule that was broken.
        expected: &'static str,
        /// The name as given.
        found: String,
    },
    /// PKG_E006: the version is not strict SemVer 2.0.
    #[error("manifest: `package.version` must be a semver 2.0 version, found `{found}`: {source}")]
    InvalidVersion {
        /// The version as given.
        found: String,
        /// The SemVer parser's reason.
        #[source]
        source: semver::Error,
    },
    /// PKG_E007: an `include` / `exclude` pattern does not compile.
    #[error("manifest: `{field}` pattern `{pattern}` is invalid: {source}")]
    InvalidPattern {
        /// `package.include` or `package.exclude`.
        field: &'static str,
        /// The pattern as given.
        pattern: String,
        /// The glob parser's reason.
        #[source]
        source: glob::PatternError,
    },
    /// PKG_E008: reading the tree or writing the archive failed.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved (`<archive output>` / `<archive input>` for
        /// the caller's streams).
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// PKG_E009: the tree holds a symbolic link; packages hold regular files only.
    #[error("refusing symlink {} -> {}: packages hold regular files only", path.display(), target.display())]
    SymlinkInTree {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// PKG_E010: the tree holds a device, fifo or socket.
    #[error("refusing {kind} {}: packages hold regular files only", path.display())]
    SpecialFileInTree {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: SpecialKind,
    },
    /// PKG_E011: a file changed size while it was being packed.
    #[error("{} changed while packing: expected {expected} bytes, found {found}", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Size when the tree was walked.
        expected: u64,
        /// Size when it was read (at least).
        found: u64,
    },
    /// PKG_E012: nothing to pack after include/exclude.
    #[error("no files to pack under {}", root.display())]
    EmptyPackage {
        /// The package root.
        root: PathBuf,
    },
    /// PKG_E013: an archive path (or a tree path) is absolute.
    /// PKG_E014: it has a `..` component.
    /// PKG_E015: it is not UTF-8.
    /// PKG_E016: it breaks another path rule ([`PathProblem`]).
    #[error("unsafe path `{path}`: {problem}")]
    UnsafePath {
        /// The path, lossily decoded for display.
        path: String,
        /// Which rule it breaks.
        problem: PathProblem,
    },
    /// PKG_E017: the zstd stream is corrupt or truncated.
    #[error("archive is not a valid zstd stream: {source}")]
    Decompress {
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
    /// PKG_E018: the tar stream inside is malformed, or uses a feature outside the
    /// ustar/PAX subset that vouch writes.
    #[error("malformed tar at byte {offset}: {reason}")]
    MalformedTar {
        /// Offset in the decompressed tar stream of the header at fault.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// PKG_E019: the archive holds a symbolic link entry.
    #[error("refusing symlink entry `{path}` -> `{target}`")]
    SymlinkEntry {
        /// Entry path.
        path: String,
        /// Link target, lossily decoded.
        target: String,
    },
    /// PKG_E020: the archive holds a hard link entry.
    #[error("refusing hard link entry `{path}` -> `{target}`")]
    HardLinkEntry {
        /// Entry path.
        path: String,
        /// Link target, lossily decoded.
        target: String,
    },
    /// PKG_E021: the archive holds a device or fifo entry.
    #[error("refusing {kind} entry `{path}`")]
    SpecialEntry {
        /// Entry path.
        path: String,
        /// What it is.
        kind: SpecialKind,
    },
    /// PKG_E022: any other entry type (directories, GNU sparse, PAX global headers, …).
    #[error("refusing entry `{path}` of tar type {entry_type:#04x}: expected a regular file")]
    UnsupportedEntry {
        /// Entry path.
        path: String,
        /// The raw tar type flag byte.
        entry_type: u8,
    },
    /// PKG_E023: two entries have the same path.
    #[error("duplicate entry `{path}`")]
    DuplicatePath {
        /// The repeated path.
        path: String,
    },
    /// PKG_E024: a file's path is also used as a directory by another entry.
    #[error("entry `{path}` conflicts with `{other}`: one is used as a directory of the other")]
    PathConflict {
        /// The entry being read.
        path: String,
        /// The earlier entry it conflicts with.
        other: String,
    },
    /// PKG_E025: decompressed size over [`crate::Limits::max_uncompressed_bytes`].
    #[error("archive expands past the limit of {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// PKG_E026: compression ratio over [`crate::Limits::max_ratio`].
    #[error("archive expands more than {limit}:1 ({uncompressed} bytes from {compressed})")]
    RatioExceeded {
        /// The configured limit.
        limit: u64,
        /// Bytes decompressed so far.
        uncompressed: u64,
        /// Compressed bytes read so far.
        compressed: u64,
    },
    /// PKG_E027: more entries than [`crate::Limits::max_entries`].
    #[error("archive has more than {limit} entries")]
    TooManyEntries {
        /// The configured limit.
        limit: u64,
    },
    /// PKG_E028: bytes follow the end of the archive (after the tar end or the zstd frame).
    #[error("unexpected data after the end of the archive")]
    TrailingData,
    /// PKG_E029: the extraction destination is not an empty directory.
    #[error("extraction destination {} must be a new or empty directory", path.display())]
    DestinationNotEmpty {
        /// The destination.
        path: PathBuf,
    },
    /// PKG_E031: a PAX header carries a record other than `path` and `size`.
    #[error("unsupported pax record `{key}` at byte {offset}")]
    UnsupportedPaxRecord {
        /// The record's key, lossily decoded.
        key: String,
        /// Offset of the PAX header in the tar stream.
        offset: u64,
    },
    /// PKG_E030: a tar header's size disagrees with the data present.
    #[error("entry `{path}` is truncated: expected {expected} bytes, found {found}")]
    TruncatedEntry {
        /// Entry path.
        path: String,
        /// Size in the header.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
}

impl Error {
    /// The stable code of this error, e.g. `PKG_E013`. Codes are never renumbered;
    /// the table is in the crate documentation.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ManifestSyntax { .. } => "PKG_E001",
            Self::UnknownKey { .. } => "PKG_E002",
            Self::MissingField { .. } => "PKG_E003",
            Self::InvalidField { .. } => "PKG_E004",
            Self::InvalidName { .. } => "PKG_E005",
            Self::InvalidVersion { .. } => "PKG_E006",
            Self::InvalidPattern { .. } => "PKG_E007",
            Self::Io { .. } => "PKG_E008",
            Self::SymlinkInTree { .. } => "PKG_E009",
            Self::SpecialFileInTree { .. } => "PKG_E010",
            Self::FileChanged { .. } => "PKG_E011",
            Self::EmptyPackage { .. } => "PKG_E012",
            Self::UnsafePath { problem, .. } => match problem {
                PathProblem::Absolute => "PKG_E013",
                PathProblem::ParentDir => "PKG_E014",
                PathProblem::NonUtf8 => "PKG_E015",
                _ => "PKG_E016",
            },
            Self::Decompress { .. } => "PKG_E017",
            Self::MalformedTar { .. } => "PKG_E018",
            Self::SymlinkEntry { .. } => "PKG_E019",
            Self::HardLinkEntry { .. } => "PKG_E020",
            Self::SpecialEntry { .. } => "PKG_E021",
            Self::UnsupportedEntry { .. } => "PKG_E022",
            Self::DuplicatePath { .. } => "PKG_E023",
            Self::PathConflict { .. } => "PKG_E024",
            Self::TooLarge { .. } => "PKG_E025",
            Self::RatioExceeded { .. } => "PKG_E026",
            Self::TooManyEntries { .. } => "PKG_E027",
            Self::TrailingData => "PKG_E028",
            Self::DestinationNotEmpty { .. } => "PKG_E029",
            Self::TruncatedEntry { .. } => "PKG_E030",
            Self::UnsupportedPaxRecord { .. } => "PKG_E031",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
