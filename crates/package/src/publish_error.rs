//! The publish-time error and its stable `PUB_E…` codes (the registry maps each to its HTTP answer).

/// Why the registry refused a publish. [`PublishError::code`] gives the stable code;
/// the registry chooses the HTTP status, the messages are what the client sees.
///
/// | code | when |
/// |---|---|
/// | PUB_E001 | no publisher binding registered for this package and identity |
/// | PUB_E005 | bundle verification failed at the registry (the failing check is named) |
/// | PUB_E006 | the identity does not match the binding (the claim is named) |
/// | PUB_E007 | the version already exists: bump and retry |
/// | PUB_E008 | a key rotation is in progress: retry later |
/// | PUB_E009 | the upload is not a well-formed `multipart/form-data` body with exactly one `archive` and one `bundle` part |
/// | PUB_E010 | the archive or the bundle is over the registry's size limit |
/// | PUB_E011 | the archive has no readable `vouch.toml` at its root |
/// | PUB_E012 | retired: never answered (the registry cannot run without its trust configuration) |
/// | PUB_E013 | the package's bindings changed while the publish committed (retry) |
/// | PUB_E014 | the pending binding's registrant does not own the package's scope |
///
/// PUB_E002 to PUB_E004 are the publishing client's own (no token, CA or log
/// unreachable); archive problems keep their `PKG_E…` code ([`PublishError::Archive`]).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// PUB_E001: nothing is registered that this identity could publish through.
    #[error("{detail}")]
    NoBinding { detail: String },
    /// PUB_E005: the bundle does not verify, or does not sign this archive.
    #[error("bundle verification failed: {0}")]
    Bundle(#[from] BundleProblem),
    /// PUB_E006: a binding is registered, but a claim of the identity differs.
    #[error("{detail}")]
    IdentityMismatch { detail: String },
    /// PUB_E007: the version is taken (versions are immutable).
    #[error("{package} version {version} already exists: versions are immutable, bump the version and retry")]
    VersionExists { package: String, version: String },
    /// PUB_E007: the version equals an existing one but for build metadata.
    #[error("{package} version {version} equals the existing version {existing} but for build metadata, which SemVer ignores: bump the version and retry")]
    VersionBuildConflict {
        package: String,
        version: String,
        existing: String,
    },
    /// PUB_E008: a registry key rotation holds publishes off.
    #[error("a registry key rotation is in progress: retry later")]
    RotationInProgress,
    /// PUB_E009: the body is not the expected `multipart/form-data`.
    #[error("{detail}")]
    BadUpload { detail: String },
    /// PUB_E010: the archive, the bundle or the whole upload is over its limit.
    #[error("the {what} is over the registry's limit of {limit} bytes")]
    TooLarge { what: &'static str, limit: u64 },
    /// PUB_E011: no `vouch.toml` at the archive's root.
    #[error("the archive has no {} at its root: the registry reads the package's name and version from it", crate::MANIFEST_FILE)]
    NoManifest,
    /// PUB_E011: `vouch.toml` is over [`crate::MAX_PUBLISHED_MANIFEST_BYTES`].
    #[error(
        "{} is {size} bytes, over the {limit}-byte limit",
        crate::MANIFEST_FILE
    )]
    ManifestTooLarge { size: u64, limit: u64 },
    /// PUB_E011: `vouch.toml` is not UTF-8.
    #[error("{} is not UTF-8 text", crate::MANIFEST_FILE)]
    ManifestNotUtf8,
    /// PUB_E013: the package's bindings changed between the publish's read and its
    /// commit, twice in a row.
    #[error("the publisher bindings of {package} changed during the publish; retry")]
    BindingsChanged { package: String },
    /// PUB_E014: the pending binding's registrant does not own the scope.
    #[error("{detail}")]
    ScopeNotOwned { detail: String },
    /// The archive or its manifest is refused: the package crate's `PKG_E…` code.
    #[error(transparent)]
    Archive(#[from] crate::Error),
}

impl PublishError {
    /// The stable code: `PUB_E…`, or the archive's `PKG_E…`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoBinding { .. } => codes::NO_BINDING,
            Self::Bundle(_) => codes::BUNDLE_INVALID,
            Self::IdentityMismatch { .. } => codes::IDENTITY_MISMATCH,
            Self::VersionExists { .. } | Self::VersionBuildConflict { .. } => "PUB_E007",
            Self::RotationInProgress => "PUB_E008",
            Self::BadUpload { .. } => "PUB_E009",
            Self::TooLarge { .. } => "PUB_E010",
            Self::NoManifest | Self::ManifestTooLarge { .. } | Self::ManifestNotUtf8 => "PUB_E011",
            Self::BindingsChanged { .. } => "PUB_E013",
            Self::ScopeNotOwned { .. } => codes::SCOPE_NOT_OWNED,
            Self::Archive(e) => e.code(),
        }
    }
}

/// The `PUB_E…` codes other crates name: this crate owns the prefix, so the publishing
/// client's own codes (PUB_E002 to PUB_E004) and the refusals a client classifies are
/// defined here, not as literals elsewhere.
pub mod codes {
    /// PUB_E001: no publisher binding for this package and identity.
    pub const NO_BINDING: &str = "PUB_E001";
    /// PUB_E002: the CI's OIDC token could not be obtained or is unusable.
    pub const TOKEN_UNUSABLE: &str = "PUB_E002";
    /// PUB_E003: the CA rejected the token, or is unreachable.
    pub const CA_FAILED: &str = "PUB_E003";
    /// PUB_E004: the transparency log is unreachable (there is no offline signing).
    pub const LOG_UNREACHABLE: &str = "PUB_E004";
    /// PUB_E005: bundle verification failed at the registry.
    pub const BUNDLE_INVALID: &str = "PUB_E005";
    /// PUB_E006: the identity does not match the binding.
    pub const IDENTITY_MISMATCH: &str = "PUB_E006";
    /// PUB_E014: the pending binding's registrant does not own the package's scope.
    pub const SCOPE_NOT_OWNED: &str = "PUB_E014";
    /// PUB_E015: the browser sign-in (laptop signing) did not complete.
    pub const BROWSER_SIGN_IN: &str = "PUB_E015";
}

/// Which check of the bundle failed (PUB_E005). The message is `check: detail`, the
/// check first, so a client can tell the statement checks from the verifier's.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BundleProblem {
    /// The bundle does not parse; `code` is the verifier's `VERIFY_E…`.
    #[error("bundle format ({code}): {detail}")]
    Format { code: &'static str, detail: String },
    /// A message signature where a DSSE envelope was expected.
    #[error("content: expected a DSSE envelope carrying an in-toto statement, found a message signature")]
    NotDsse,
    /// The DSSE payload type is not in-toto's.
    #[error(
        "payload type: expected {}, found {found:?}",
        crate::IN_TOTO_PAYLOAD_TYPE
    )]
    PayloadType { found: String },
    /// The DSSE payload is not JSON.
    #[error("statement: not JSON: {reason}")]
    StatementNotJson { reason: String },
    /// The statement's `_type` is not in-toto Statement v1 (`none` when absent).
    #[error("statement type: expected {}, found {found}", crate::STATEMENT_V1)]
    StatementType { found: String },
    /// The predicate is not SLSA provenance v1 (`none` when absent).
    #[error(
        "predicate type: expected {}, found {found}",
        crate::SLSA_PROVENANCE_V1
    )]
    PredicateType { found: String },
    /// No subject names the uploaded archive's SHA-256.
    #[error(
        "subject digest: the statement's subject sha256 {} is not the uploaded archive's {expected}",
        if found.is_empty() { "is missing and".to_owned() } else { found.join(", ") }
    )]
    SubjectDigest {
        /// The archive's SHA-256, lowercase hex.
        expected: String,
        /// Every subject's SHA-256 (lowercased), in statement order.
        found: Vec<String>,
    },
    /// The verifier refused the bundle; `code` is its `VERIFY_E…`.
    #[error("{code}: {detail}")]
    Verification { code: &'static str, detail: String },
    /// Signed with a public key, not a Fulcio certificate.
    #[error("signer: expected a Fulcio certificate, found a public key")]
    NotCertificate,
    /// The bundle carries no transparency-log entry.
    #[error("transparency log: the bundle has no log entry")]
    NoLogEntry,
    /// The leaf certificate is missing or does not parse.
    #[error("certificate: {detail}")]
    Certificate { detail: String },
    /// The verifier and the certificate's issuer extension disagree.
    #[error("certificate issuer: verified {verified:?}, extension reads {extension:?}")]
    CertificateIssuer { verified: String, extension: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_code_and_the_message_a_client_sees() {
        let cases: Vec<(PublishError, &str, &str)> = vec![
            (
                PublishError::Bundle(BundleProblem::PayloadType {
                    found: "text/plain".into(),
                }),
                "PUB_E005",
                "bundle verification failed: payload type: expected application/vnd.in-toto+json, found \"text/plain\"",
            ),
            (
                BundleProblem::SubjectDigest {
                    expected: "ab".into(),
                    found: vec![],
                }
                .into(),
                "PUB_E005",
                "bundle verification failed: subject digest: the statement's subject sha256 is missing and is not the uploaded archive's ab",
            ),
            (
                BundleProblem::SubjectDigest {
                    expected: "ab".into(),
                    found: vec!["cd".into(), "ef".into()],
                }
                .into(),
                "PUB_E005",
                "bundle verification failed: subject digest: the statement's subject sha256 cd, ef is not the uploaded archive's ab",
            ),
            (
                PublishError::VersionExists {
                    package: "@a/b".into(),
                    version: "1.0.0".into(),
                },
                "PUB_E007",
                "@a/b version 1.0.0 already exists: versions are immutable, bump the version and retry",
            ),
            (
                PublishError::RotationInProgress,
                "PUB_E008",
                "a registry key rotation is in progress: retry later",
            ),
            (
                PublishError::TooLarge {
                    what: "bundle",
                    limit: 10,
                },
                "PUB_E010",
                "the bundle is over the registry's limit of 10 bytes",
            ),
            (
                PublishError::ManifestTooLarge {
                    size: 70_000,
                    limit: MAX,
                },
                "PUB_E011",
                "vouch.toml is 70000 bytes, over the 65536-byte limit",
            ),
            (
                PublishError::BindingsChanged {
                    package: "@a/b".into(),
                },
                "PUB_E013",
                "the publisher bindings of @a/b changed during the publish; retry",
            ),
            (
                PublishError::ScopeNotOwned {
                    detail: "d".into(),
                },
                "PUB_E014",
                "d",
            ),
        ];
        for (e, code, message) in cases {
            assert_eq!((e.code(), e.to_string().as_str()), (code, message));
        }
        let archive = PublishError::from(crate::Error::EmptyPackage { root: "/p".into() });
        assert_eq!(
            (archive.code(), archive.to_string().as_str()),
            ("PKG_E012", "no files to pack under /p")
        );
    }

    const MAX: u64 = crate::MAX_PUBLISHED_MANIFEST_BYTES;
}
