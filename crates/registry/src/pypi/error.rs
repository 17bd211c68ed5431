//! The Python index's refusals (`PYPI_E…`), each with its HTTP status.

use axum::http::StatusCode;

use crate::ApiError;

/// Why the Python index refused a request. Codes are stable and never renumbered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PypiError {
    /// PYPI_E001: no such project, release or file.
    #[error("{what} not found")]
    NotFound { what: String },
    /// PYPI_E002: the upload form is not what PyPI's upload API takes.
    #[error("invalid upload: {detail}")]
    BadUpload { detail: String },
    /// PYPI_E003: a digest the client sent differs from the uploaded bytes.
    #[error("the {digest} of the uploaded file is {found}, the form says {expected}")]
    DigestMismatch {
        digest: &'static str,
        expected: String,
        found: String,
    },
    /// PYPI_E004: the file name is taken by other bytes (file names are immutable).
    #[error("file {filename} already exists with sha256 {existing}; this upload has sha256 {uploaded} (a file name can never be reused for other bytes: publish a new version)")]
    FileExists {
        filename: String,
        existing: String,
        uploaded: String,
    },
    /// PYPI_E005: no upload token, or not one this server minted.
    #[error("{detail}")]
    BadToken { detail: String },
    /// PYPI_E006: the upload token expired.
    #[error("the upload token expired at {expired_at} (unix seconds); mint a new one")]
    TokenExpired { expired_at: i64 },
    /// PYPI_E007: the upload token is not scoped to this project.
    #[error("the upload token is scoped to {scoped:?}, not to project {project}")]
    NotInScope {
        project: String,
        scoped: Vec<String>,
    },
    /// PYPI_E008: an attestation was refused (what failed is said).
    #[error("attestation refused: {detail}")]
    Attestation { detail: String },
    /// PYPI_E009: the mint-token request is not `{"token": JWT}`.
    #[error("invalid mint-token request: {detail}")]
    BadMintRequest { detail: String },
    /// PYPI_E010: the distribution file is malformed (a wheel without readable metadata,
    /// metadata naming another project or version).
    #[error("invalid distribution {filename}: {detail}")]
    BadDistribution { filename: String, detail: String },
    /// PYPI_E011: the upload is over the size limit.
    #[error("the {what} is over the limit of {limit} bytes")]
    TooLarge { what: &'static str, limit: u64 },
}

impl PypiError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            PypiError::NotFound { .. } => "PYPI_E001",
            PypiError::BadUpload { .. } => "PYPI_E002",
            PypiError::DigestMismatch { .. } => "PYPI_E003",
            PypiError::FileExists { .. } => "PYPI_E004",
            PypiError::BadToken { .. } => "PYPI_E005",
            PypiError::TokenExpired { .. } => "PYPI_E006",
            PypiError::NotInScope { .. } => "PYPI_E007",
            PypiError::Attestation { .. } => "PYPI_E008",
            PypiError::BadMintRequest { .. } => "PYPI_E009",
            PypiError::BadDistribution { .. } => "PYPI_E010",
            PypiError::TooLarge { .. } => "PYPI_E011",
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            PypiError::NotFound { .. } => StatusCode::NOT_FOUND,
            PypiError::BadToken { .. } | PypiError::TokenExpired { .. } => StatusCode::UNAUTHORIZED,
            PypiError::NotInScope { .. } => StatusCode::FORBIDDEN,
            PypiError::FileExists { .. } => StatusCode::CONFLICT,
            PypiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            PypiError::BadMintRequest { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<PypiError> for ApiError {
    fn from(e: PypiError) -> Self {
        // `message` too: uv and twine print the body's text when an upload fails.
        ApiError::new(e.status(), e.code(), e.to_string()).with_message()
    }
}

pub(crate) fn bad_upload(detail: impl Into<String>) -> ApiError {
    PypiError::BadUpload {
        detail: detail.into(),
    }
    .into()
}

pub(crate) fn not_found(what: impl Into<String>) -> ApiError {
    PypiError::NotFound { what: what.into() }.into()
}
