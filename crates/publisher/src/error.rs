//! The publisher library's error: a coded failure, or a local file operation that failed.

use vouch_api_client::CodedError;

/// Why a publisher operation failed.
///
/// Most failures carry a stable code ([`CodedError`]: `PUB_E*`, `SIGN_E*`, `REG_E*`, or
/// the registry's own code passed through). A failed local file operation (a temporary
/// directory, `--archive-out`, the bundle file) has no code of its own: the caller
/// decides how to report it (the `vouch` command line reports `CLI_E001`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A failure with its stable code.
    #[error(transparent)]
    Coded(#[from] CodedError),
    /// A local operation failed (a file, the HTTP client's set-up, a dev-only bench
    /// step); `what` says which ("writing out.json"), `source` why.
    #[error("{what}")]
    Local {
        what: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    pub(crate) fn local(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Local {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// The stable code, if the failure has one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Coded(c) => Some(c.code()),
            Error::Local { .. } => None,
        }
    }

    /// The coded error inside, or the error itself when it has no code: lets a command
    /// line report a [`CodedError`] as such and anything else as an uncoded failure.
    pub fn into_coded(self) -> Result<CodedError, Self> {
        match self {
            Error::Coded(c) => Ok(c),
            other => Err(other),
        }
    }
}

impl From<vouch_package::Error> for Error {
    fn from(e: vouch_package::Error) -> Self {
        Error::Coded(CodedError::error(e.code(), e.to_string()))
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
