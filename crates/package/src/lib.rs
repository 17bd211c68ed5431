//! Package content for vouch: the `vouch.toml` manifest, the deterministic archive
//! that `vouch publish` builds, and the safe reader the registry and consumers use.
//!
//! No network, no async, no database: this crate is pure file and byte handling, plus
//! the offline bundle verification of `vouch-verify`.
//!
//! - [`Manifest`] parses `vouch.toml` strictly (unknown keys refused, SemVer 2.0
//!   versions, [`PackageName`] `@scope/name`).
//! - [`pack`] / [`pack_to_file`] write a byte-identical archive for the same file
//!   contents and exec bits, whatever the file order, mtimes, owners or umask; the
//!   format is fixed in the `write` module's docs. BLAKE3 and SHA-256 of the
//!   compressed bytes come back in [`Digests`], computed in the same pass.
//! - [`inspect`] / [`extract`] read untrusted archives under [`Limits`], refusing
//!   anything the packer would not have produced.
//! - The publish-time checks the registry makes of an upload, so that the registry and
//!   any client judge a package by one rule: [`manifest_of_archive`],
//!   [`bundle_names_archive`] and [`verify_published_bundle`] (a DSSE in-toto Statement
//!   v1 with SLSA provenance v1 whose subject is the archive's SHA-256, fully verified),
//!   refusing with a [`PublishError`] that owns every `PUB_E…` code.
//! - [`IndexEntry`]: the index entry the registry serves, as a typed wire struct.
//!
//! # Error codes
//!
//! Every [`Error`] has a stable code from [`Error::code`]. Codes are never renumbered
//! or reused; new ones are appended.
//!
//! | code | when |
//! |---|---|
//! | PKG_E001 | `vouch.toml` is not valid TOML |
//! | PKG_E002 | unknown key in the manifest (the key is named) |
//! | PKG_E003 | a required manifest field is missing |
//! | PKG_E004 | a manifest field has the wrong type or is too long |
//! | PKG_E005 | invalid package name |
//! | PKG_E006 | version is not strict SemVer 2.0 |
//! | PKG_E007 | an include/exclude pattern is invalid |
//! | PKG_E008 | I/O error reading the tree or writing the archive or extraction |
//! | PKG_E009 | the tree holds a symlink (packages hold regular files only) |
//! | PKG_E010 | the tree holds a device, fifo or socket |
//! | PKG_E011 | a file changed size while being packed |
//! | PKG_E012 | no files to pack |
//! | PKG_E013 | absolute path |
//! | PKG_E014 | path with a `..` component |
//! | PKG_E015 | path not valid UTF-8 |
//! | PKG_E016 | path breaks another rule (empty, `.`/empty component, `\` or NUL, too long) |
//! | PKG_E017 | corrupt or truncated zstd stream, or a window over 2^24 |
//! | PKG_E018 | malformed tar stream, or a feature outside vouch's ustar/PAX subset |
//! | PKG_E019 | symlink entry |
//! | PKG_E020 | hard link entry |
//! | PKG_E021 | device or fifo entry |
//! | PKG_E022 | other entry type (directory, sparse, PAX global, …) |
//! | PKG_E023 | duplicate path |
//! | PKG_E024 | a path is both a file and a directory of another entry |
//! | PKG_E025 | decompressed size over the cap |
//! | PKG_E026 | compression ratio over the cap |
//! | PKG_E027 | too many entries |
//! | PKG_E028 | data after the end of the archive |
//! | PKG_E029 | extraction destination is not a new or empty directory |
//! | PKG_E030 | an entry's data is shorter than its header says |
//! | PKG_E031 | a PAX record other than `path` and `size` |

mod digest;
mod error;
mod filter;
mod index;
mod manifest;
mod name;
mod path;
mod publish_checks;
mod publish_error;
mod read;
mod statement;
mod ustar;
mod walk;
mod write;

pub use digest::Digests;
pub use error::{Error, PathProblem, SpecialKind};
pub use filter::Filter;
pub use index::{HexDigest, IndexArtifact, IndexEntry, IndexPublisher, PackageIndex};
pub use manifest::{Manifest, MANIFEST_FILE};
pub use name::{PackageName, MAX_PART_LEN};
pub use path::{MAX_COMPONENT_BYTES, MAX_PATH_BYTES};
pub use publish_checks::{
    manifest_of_archive, verify_published_bundle, SignedBundle, MAX_PUBLISHED_MANIFEST_BYTES,
};
pub use publish_error::{codes as publish_codes, BundleProblem, PublishError};
pub use read::{
    extract, inspect, inspect_keeping, EntryInfo, Inspection, Limits, ZSTD_WINDOW_LOG_MAX,
};
pub use statement::{
    bundle_names_archive, check_statement, IN_TOTO_PAYLOAD_TYPE, SLSA_PROVENANCE_V1, STATEMENT_V1,
};
pub use write::{pack, pack_to_file, Packed, ZSTD_LEVEL};
