//! The Python index's rows (issue 18): uploaded files, how an upload was authorised, yanked releases.

use super::types::{BindingId, PackageId, PendingBindingId, Timestamp};

/// The vouch scope Python projects live in: project `Foo.Bar` is package `@pypi/foo-bar`.
pub const PYPI_SCOPE: &str = "pypi";

/// A distribution file of a Python release: what its upload established about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyDist {
    pub filename: String,
    pub version: String,
    /// `bdist_wheel` or `sdist`.
    pub kind: String,
    pub sha256: [u8; 32],
    pub blake3: [u8; 32],
    pub size: u64,
    pub requires_python: Option<String>,
}

/// A file to add to a Python project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPyFile {
    /// The vouch package name (`@pypi/<PEP 503 name>`).
    pub package: String,
    pub dist: PyDist,
    /// The PEP 658 metadata file's (SHA-256, BLAKE3), for wheels.
    pub metadata: Option<([u8; 32], [u8; 32])>,
    /// The BLAKE3 of the stored PEP 740 provenance object, when attestations came along.
    pub provenance_blake3: Option<[u8; 32]>,
    /// The repository owner id the token presented (recorded on the binding's first use,
    /// then required to stay the same).
    pub repository_owner_id: Option<String>,
    /// Who uploaded (for the audit of a first upload through a pending binding).
    pub actor: String,
    pub uploaded_at: Timestamp,
}

/// The binding an upload matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyPublisher {
    /// An active binding of the existing project.
    Active(BindingId),
    /// A pending binding: this upload creates the project.
    Pending(PendingBindingId),
}

/// A stored file of a Python project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyFile {
    pub id: i64,
    pub package_id: PackageId,
    pub dist: PyDist,
    pub metadata_sha256: Option<[u8; 32]>,
    pub metadata_blake3: Option<[u8; 32]>,
    pub provenance_blake3: Option<[u8; 32]>,
    pub binding_id: Option<BindingId>,
    pub uploaded_at: Timestamp,
    /// The yank reason (PEP 592) when the file's release is yanked (`""` for no reason).
    pub yanked: Option<String>,
}

/// What adding a file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyFileInsert {
    /// The file is new and now stored.
    Inserted(PyFile),
    /// The name was taken already: this is the file stored under it (nothing changed).
    /// The caller compares digests: the same bytes are an idempotent re-upload.
    Existing(PyFile),
}
