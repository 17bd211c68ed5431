//! `SignError`: every way keyless signing can fail, with a stable `SIGN_E…` code and the
//! stage (token, CA, log, timestamp, local) it failed at.

use thiserror::Error;

/// Which part of the signing flow failed. `vouch publish` maps [`Stage::Ca`] refusals to
/// `PUB_E003` and an unreachable [`Stage::Log`] to `PUB_E004`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The identity token is unusable before any service saw it.
    Token,
    /// The certificate authority refused, was unreachable, or answered something that
    /// fails our checks.
    Ca,
    /// The transparency log refused, was unreachable, or its answer does not prove
    /// inclusion.
    Log,
    /// A timestamp authority refused, was unreachable, or its token does not match.
    Timestamp,
    /// Local: trust configuration, input, key generation or encoding.
    Local,
}

impl Stage {
    /// Lowercase name for messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Token => "token",
            Stage::Ca => "ca",
            Stage::Log => "log",
            Stage::Timestamp => "timestamp",
            Stage::Local => "local",
        }
    }
}

/// Errors of the keyless signing client. Codes are stable and never reused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SignError {
    /// SIGN_E001
    #[error("trust configuration is malformed: {what}: {detail}")]
    ConfigMalformed { what: &'static str, detail: String },
    /// SIGN_E002
    #[error("no usable {service} in the signing config: {detail}")]
    NoService {
        service: &'static str,
        detail: String,
    },
    /// SIGN_E003
    #[error("could not fetch the trust configuration from {url}: {detail}")]
    ConfigFetch { url: String, detail: String },
    /// SIGN_E004
    #[error("identity token is unusable: {detail}")]
    TokenMalformed { detail: String },
    /// SIGN_E005
    #[error("the CA at {url} refused the request (HTTP {status}): {detail}")]
    CaRefused {
        url: String,
        status: u16,
        detail: String,
    },
    /// SIGN_E006
    #[error("the CA at {url} is unreachable or failing: {detail}")]
    CaUnavailable { url: String, detail: String },
    /// SIGN_E007
    #[error("the CA's answer is malformed: {detail}")]
    CaResponseMalformed { detail: String },
    /// SIGN_E008
    #[error("the issued certificate does not chain to a CA of the trusted root: {detail}")]
    CertChainInvalid { detail: String },
    /// SIGN_E009
    #[error("the issued certificate's embedded SCT does not verify against a CT log of the trusted root: {detail}")]
    SctInvalid { detail: String },
    /// SIGN_E010
    #[error("the issued certificate is for another key: expected our public key {expected}, found {found}")]
    CertKeyMismatch { expected: String, found: String },
    /// SIGN_E011
    #[error("the timestamp authority at {url} is unreachable or failing: {detail}")]
    TsaUnavailable { url: String, detail: String },
    /// SIGN_E012
    #[error("the timestamp authority at {url} refused the request: {detail}")]
    TsaRefused { url: String, detail: String },
    /// SIGN_E013
    #[error("the timestamp from {url} is invalid: {check}")]
    TimestampInvalid { url: String, check: String },
    /// SIGN_E014
    #[error("the transparency log at {url} is unreachable or failing: {detail}")]
    LogUnavailable { url: String, detail: String },
    /// SIGN_E015
    #[error("the transparency log at {url} refused the entry (HTTP {status}): {detail}")]
    LogRefused {
        url: String,
        status: u16,
        detail: String,
    },
    /// SIGN_E016
    #[error("the transparency log's answer does not match the submitted entry: {check}")]
    LogEntryMismatch { check: String },
    /// SIGN_E017
    #[error("the log entry's inclusion proof does not verify: {detail}")]
    InclusionProofInvalid { detail: String },
    /// SIGN_E018
    #[error("the log entry's checkpoint is not signed by a transparency log of the trusted root: {detail}")]
    CheckpointInvalid { detail: String },
    /// SIGN_E019
    #[error("the in-toto statement is invalid: {detail}")]
    StatementInvalid { detail: String },
    /// SIGN_E020
    #[error("local signing step failed: {what}: {detail}")]
    Local { what: &'static str, detail: String },
    /// SIGN_E021
    #[error("the {stage_name} answer from {url} is larger than the {limit_bytes}-byte limit")]
    ResponseTooLarge {
        stage: Stage,
        stage_name: &'static str,
        url: String,
        limit_bytes: usize,
    },
    /// SIGN_E022
    #[error("the Rekor v1 entry's signed entry timestamp (SET) does not verify: {detail}")]
    SetInvalid { detail: String },
    /// SIGN_E023
    #[error("the signing key cannot be used: expected {expected}, found {found}")]
    KeyUnusable {
        expected: &'static str,
        found: String,
    },
}

impl SignError {
    /// SIGN_E019, the code of [`SignError::StatementInvalid`], for crates that name it.
    pub const STATEMENT_INVALID_CODE: &'static str = "SIGN_E019";
    /// SIGN_E020, the code of [`SignError::Local`], for crates that name it.
    pub const LOCAL_CODE: &'static str = "SIGN_E020";

    /// The stable code, e.g. `SIGN_E008`.
    pub fn code(&self) -> &'static str {
        match self {
            SignError::ConfigMalformed { .. } => "SIGN_E001",
            SignError::NoService { .. } => "SIGN_E002",
            SignError::ConfigFetch { .. } => "SIGN_E003",
            SignError::TokenMalformed { .. } => "SIGN_E004",
            SignError::CaRefused { .. } => "SIGN_E005",
            SignError::CaUnavailable { .. } => "SIGN_E006",
            SignError::CaResponseMalformed { .. } => "SIGN_E007",
            SignError::CertChainInvalid { .. } => "SIGN_E008",
            SignError::SctInvalid { .. } => "SIGN_E009",
            SignError::CertKeyMismatch { .. } => "SIGN_E010",
            SignError::TsaUnavailable { .. } => "SIGN_E011",
            SignError::TsaRefused { .. } => "SIGN_E012",
            SignError::TimestampInvalid { .. } => "SIGN_E013",
            SignError::LogUnavailable { .. } => "SIGN_E014",
            SignError::LogRefused { .. } => "SIGN_E015",
            SignError::LogEntryMismatch { .. } => "SIGN_E016",
            SignError::InclusionProofInvalid { .. } => "SIGN_E017",
            SignError::CheckpointInvalid { .. } => "SIGN_E018",
            SignError::StatementInvalid { .. } => Self::STATEMENT_INVALID_CODE,
            SignError::Local { .. } => Self::LOCAL_CODE,
            SignError::ResponseTooLarge { .. } => "SIGN_E021",
            SignError::SetInvalid { .. } => "SIGN_E022",
            SignError::KeyUnusable { .. } => "SIGN_E023",
        }
    }

    /// The stage that failed.
    pub fn stage(&self) -> Stage {
        match self {
            SignError::ConfigMalformed { .. }
            | SignError::NoService { .. }
            | SignError::ConfigFetch { .. }
            | SignError::StatementInvalid { .. }
            | SignError::KeyUnusable { .. }
            | SignError::Local { .. } => Stage::Local,
            SignError::TokenMalformed { .. } => Stage::Token,
            SignError::CaRefused { .. }
            | SignError::CaUnavailable { .. }
            | SignError::CaResponseMalformed { .. }
            | SignError::CertChainInvalid { .. }
            | SignError::SctInvalid { .. }
            | SignError::CertKeyMismatch { .. } => Stage::Ca,
            SignError::TsaUnavailable { .. }
            | SignError::TsaRefused { .. }
            | SignError::TimestampInvalid { .. } => Stage::Timestamp,
            SignError::LogUnavailable { .. }
            | SignError::LogRefused { .. }
            | SignError::LogEntryMismatch { .. }
            | SignError::InclusionProofInvalid { .. }
            | SignError::CheckpointInvalid { .. }
            | SignError::SetInvalid { .. } => Stage::Log,
            SignError::ResponseTooLarge { stage, .. } => *stage,
        }
    }

    /// True when the service could not be reached or failed on its side (timeouts,
    /// connection errors, 5xx): retrying later may help. `vouch publish` turns an
    /// unavailable log into `PUB_E004`.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            SignError::CaUnavailable { .. }
                | SignError::TsaUnavailable { .. }
                | SignError::LogUnavailable { .. }
                | SignError::ConfigFetch { .. }
        )
    }

    pub(crate) fn local(what: &'static str, detail: impl ToString) -> Self {
        SignError::Local {
            what,
            detail: detail.to_string(),
        }
    }
}

/// Every code with a one-line meaning, for documentation and tests.
pub const CODES: &[(&str, &str)] = &[
    ("SIGN_E001", "trust configuration malformed"),
    (
        "SIGN_E002",
        "no usable service of a kind in the signing config",
    ),
    ("SIGN_E003", "trust configuration could not be fetched"),
    ("SIGN_E004", "identity token unusable"),
    ("SIGN_E005", "CA refused the request (4xx)"),
    ("SIGN_E006", "CA unreachable or failing (timeout, 5xx)"),
    ("SIGN_E007", "CA answer malformed"),
    (
        "SIGN_E008",
        "certificate does not chain to the trusted root",
    ),
    ("SIGN_E009", "embedded SCT does not verify"),
    ("SIGN_E010", "certificate is for another key"),
    ("SIGN_E011", "TSA unreachable or failing"),
    ("SIGN_E012", "TSA refused the request"),
    (
        "SIGN_E013",
        "timestamp token invalid (status, imprint, nonce)",
    ),
    ("SIGN_E014", "transparency log unreachable or failing"),
    ("SIGN_E015", "transparency log refused the entry (4xx)"),
    ("SIGN_E016", "log answer does not match the submitted entry"),
    ("SIGN_E017", "inclusion proof does not verify"),
    ("SIGN_E018", "checkpoint not signed by a trusted log"),
    ("SIGN_E019", "in-toto statement invalid"),
    ("SIGN_E020", "local signing step failed"),
    ("SIGN_E021", "service answer over the size limit"),
    (
        "SIGN_E022",
        "Rekor v1 signed entry timestamp (SET) does not verify",
    ),
    (
        "SIGN_E023",
        "managed signing key unusable (not an unencrypted P-256 PEM key)",
    ),
];
