//! The crate's one error type, [`IngestError`]: a variant per failure with what was
//! expected and what was found, and a stable `INGEST_E0xx` code per variant.

use std::net::IpAddr;

/// Which way an asset's byte count disagreed with the size the forge listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SizeProblem {
    /// The download kept going past the listed size (counted as soon as it happened).
    Longer,
    /// The download ended before the listed size.
    Shorter,
}

impl std::fmt::Display for SizeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SizeProblem::Longer => "more bytes than listed",
            SizeProblem::Shorter => "fewer bytes than listed",
        })
    }
}

/// Everything that can go wrong while ingesting from a forge. `Display` is one lowercase
/// line; [`IngestError::code`] is the stable code for logs, audit rows and API answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The forge configuration or an argument is unusable.
    #[error("invalid ingest configuration: {detail}")]
    Config { detail: String },
    /// A repository reference is malformed.
    #[error("invalid repository {found:?}: expected {expected}")]
    InvalidRepo {
        expected: &'static str,
        found: String,
    },
    /// A URL's host is not one of the configured forge hosts.
    #[error("host {host:?} is not an allowed forge host (allowed: {})", allowed.join(", "))]
    HostNotAllowed { host: String, allowed: Vec<String> },
    /// A host resolved to (or is) an address in a refused range.
    #[error("address {addr} of {host:?} is in a refused range ({range}); only public addresses are fetched")]
    AddressForbidden {
        host: String,
        addr: IpAddr,
        range: &'static str,
    },
    /// A URL uses a scheme other than https (or http where allowed), or downgrades.
    #[error("url scheme {found:?} refused: expected {expected}")]
    SchemeNotAllowed {
        expected: &'static str,
        found: String,
    },
    /// More redirects than allowed (a loop, or a chain too long).
    #[error("too many redirects fetching {url}: at most {limit} are followed")]
    TooManyRedirects { url: String, limit: usize },
    /// A redirect without a usable `Location`.
    #[error("invalid redirect from {url}: {detail}")]
    InvalidRedirect { url: String, detail: String },
    /// Connecting, sending or reading failed (including timeouts).
    #[error("request to {url} failed: {detail}")]
    Transport { url: String, detail: String },
    /// The forge answered with an unexpected HTTP status.
    #[error("unexpected HTTP status from {url}: expected 2xx, found {status}")]
    Status { url: String, status: u16 },
    /// A response body is larger than its cap.
    #[error("response from {url} exceeds the {cap_bytes}-byte cap (at least {found_bytes} bytes)")]
    ResponseTooLarge {
        url: String,
        cap_bytes: u64,
        found_bytes: u64,
    },
    /// A forge response is not the JSON shape expected.
    #[error("invalid {what} from the forge: {detail}")]
    InvalidResponse { what: &'static str, detail: String },
    /// The asset's bytes disagree with the size the forge listed.
    #[error("asset {name:?} size mismatch: listed {claimed_bytes} bytes, found {found_bytes}{} ({problem})", if *problem == SizeProblem::Longer { "+" } else { "" })]
    AssetSizeMismatch {
        name: String,
        claimed_bytes: u64,
        found_bytes: u64,
        problem: SizeProblem,
    },
    /// The download's `Content-Length` disagrees with the size the forge listed.
    #[error("asset {name:?} content-length mismatch: listed {claimed_bytes} bytes, content-length {content_length}")]
    ContentLengthMismatch {
        name: String,
        claimed_bytes: u64,
        content_length: u64,
    },
    /// The asset's SHA-256 differs from the digest the forge listed for it.
    #[error("asset {name:?} digest mismatch: listed sha256:{claimed}, computed sha256:{computed}")]
    AssetDigestMismatch {
        name: String,
        claimed: String,
        computed: String,
    },
    /// An admin-set hash budget is outside the allowed range.
    #[error(
        "hash budget out of range: expected {min_bytes}..={max_bytes} bytes, found {found_bytes}"
    )]
    BudgetOutOfRange {
        min_bytes: u64,
        max_bytes: u64,
        found_bytes: u64,
    },
    /// The release (tag) does not exist on the forge.
    #[error("release {tag:?} not found in {repo}")]
    ReleaseNotFound { repo: String, tag: String },
    /// A webhook arrived without its signature or token header.
    #[error("webhook rejected: missing {header} header")]
    WebhookSignatureMissing { header: &'static str },
    /// A webhook's signature or token does not match the shared secret.
    #[error("webhook rejected: {header} does not match ({detail})")]
    WebhookSignatureInvalid {
        header: &'static str,
        detail: &'static str,
    },
    /// A webhook body is larger than the cap.
    #[error("webhook rejected: body of {found_bytes} bytes exceeds the {cap_bytes}-byte cap")]
    WebhookTooLarge { cap_bytes: u64, found_bytes: u64 },
    /// A correctly signed webhook whose payload is not a release event's shape.
    #[error("webhook payload invalid: {detail}")]
    WebhookPayload { detail: String },
    /// The operation does not exist for this kind of forge.
    #[error("{operation} is not supported for {forge} forges")]
    Unsupported {
        operation: &'static str,
        forge: &'static str,
    },
    /// A relayed attestation bundle failed verification.
    #[error("attestation {index} rejected: {code}: {detail}")]
    AttestationRejected {
        index: usize,
        /// The `VERIFY_E0xx` code (or this crate's code for a malformed entry).
        code: &'static str,
        detail: String,
    },
    /// A background hashing task failed (it panicked or was cancelled).
    #[error("hashing task failed: {detail}")]
    HashTask { detail: String },
    /// A verified webhook delivery names a repository the forge does not ingest.
    #[error("the delivery names a repository this forge does not ingest")]
    WebhookWrongRepository { repository: String },
    /// As many webhook-triggered ingests as allowed are already running.
    #[error(
        "{running} webhook ingests are already running: redeliver later, or sync the tag \
         from the admin API"
    )]
    WebhookBusy { running: usize },
}

impl IngestError {
    /// The stable code. Codes are never renumbered or reused.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Config { .. } => "INGEST_E001",
            IngestError::InvalidRepo { .. } => "INGEST_E002",
            IngestError::HostNotAllowed { .. } => "INGEST_E003",
            IngestError::AddressForbidden { .. } => "INGEST_E004",
            IngestError::SchemeNotAllowed { .. } => "INGEST_E005",
            IngestError::TooManyRedirects { .. } => "INGEST_E006",
            IngestError::InvalidRedirect { .. } => "INGEST_E007",
            IngestError::Transport { .. } => "INGEST_E008",
            IngestError::Status { .. } => "INGEST_E009",
            IngestError::ResponseTooLarge { .. } => "INGEST_E010",
            IngestError::InvalidResponse { .. } => "INGEST_E011",
            IngestError::AssetSizeMismatch { .. } => "INGEST_E012",
            IngestError::ContentLengthMismatch { .. } => "INGEST_E013",
            IngestError::AssetDigestMismatch { .. } => "INGEST_E014",
            IngestError::BudgetOutOfRange { .. } => "INGEST_E015",
            IngestError::ReleaseNotFound { .. } => "INGEST_E016",
            IngestError::WebhookSignatureMissing { .. } => "INGEST_E017",
            IngestError::WebhookSignatureInvalid { .. } => "INGEST_E018",
            IngestError::WebhookTooLarge { .. } => "INGEST_E019",
            IngestError::WebhookPayload { .. } => "INGEST_E020",
            IngestError::Unsupported { .. } => "INGEST_E021",
            IngestError::AttestationRejected { .. } => "INGEST_E022",
            IngestError::HashTask { .. } => "INGEST_E023",
            // The E1xx codes are the ingest service's (answered by the registry).
            IngestError::WebhookWrongRepository { .. } => "INGEST_E101",
            IngestError::WebhookBusy { .. } => "INGEST_E102",
        }
    }

    /// Whether the failure is the upstream's fault in a way that suggests tampering or a
    /// lying forge (size, digest, SSRF attempts, forged webhooks): worth an audit warning
    /// rather than a retry.
    pub fn is_suspicious(&self) -> bool {
        matches!(
            self,
            IngestError::AddressForbidden { .. }
                | IngestError::HostNotAllowed { .. }
                | IngestError::SchemeNotAllowed { .. }
                | IngestError::AssetSizeMismatch { .. }
                | IngestError::ContentLengthMismatch { .. }
                | IngestError::AssetDigestMismatch { .. }
                | IngestError::WebhookSignatureInvalid { .. }
                | IngestError::AttestationRejected { .. }
        )
    }
}

/// Every code with a one-line description, for documentation and tests.
pub const CODES: &[(&str, &str)] = &[
    ("INGEST_E001", "invalid ingest configuration or argument"),
    ("INGEST_E002", "malformed repository reference"),
    ("INGEST_E003", "host is not an allowed forge host"),
    (
        "INGEST_E004",
        "address in a refused range (loopback, private, link-local, ...)",
    ),
    (
        "INGEST_E005",
        "url scheme refused (not https, or a downgrade)",
    ),
    ("INGEST_E006", "too many redirects"),
    ("INGEST_E007", "redirect without a usable Location"),
    ("INGEST_E008", "connect, send, read or timeout failure"),
    ("INGEST_E009", "unexpected HTTP status"),
    ("INGEST_E010", "response larger than its cap"),
    (
        "INGEST_E011",
        "forge response is not the expected JSON shape",
    ),
    ("INGEST_E012", "asset bytes disagree with the listed size"),
    (
        "INGEST_E013",
        "Content-Length disagrees with the listed size",
    ),
    (
        "INGEST_E014",
        "asset SHA-256 differs from the digest the forge listed",
    ),
    ("INGEST_E015", "hash budget outside the allowed range"),
    ("INGEST_E016", "release not found"),
    ("INGEST_E017", "webhook signature or token header missing"),
    ("INGEST_E018", "webhook signature or token does not match"),
    ("INGEST_E019", "webhook body larger than the cap"),
    ("INGEST_E020", "webhook payload is not a release event"),
    ("INGEST_E021", "operation not supported for this forge"),
    ("INGEST_E022", "relayed attestation failed verification"),
    ("INGEST_E023", "background hashing task failed"),
    (
        "INGEST_E101",
        "webhook delivery names a repository the forge does not ingest",
    ),
    (
        "INGEST_E102",
        "too many webhook ingests running; redeliver later",
    ),
];
