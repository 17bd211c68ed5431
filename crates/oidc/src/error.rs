//! The crate's one error type, its stable `OIDC_E…` codes and the coarse kind the HTTP edge maps to a status.

use std::fmt;

/// Which part of a compact JWS a malformation was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPart {
    /// The whole token (segment structure, character set).
    Token,
    /// The protected header (first segment).
    Header,
    /// The claims set (second segment).
    Payload,
    /// The signature (third segment).
    Signature,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenPart::Token => "token",
            TokenPart::Header => "header",
            TokenPart::Payload => "payload",
            TokenPart::Signature => "signature",
        })
    }
}

/// What was wrong with a malformed token or document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformation {
    /// A compact JWS has exactly three dot-separated segments.
    SegmentCount {
        /// Segments found.
        found: usize,
    },
    /// A segment is not unpadded base64url (RFC 7515 §2).
    Base64,
    /// A segment is empty where content is required.
    Empty,
    /// The decoded bytes are not a JSON object.
    NotJsonObject,
    /// A JSON object names the same member twice (RFC 7515 §4, RFC 7519 §4: refused, not last-wins).
    DuplicateMember {
        /// The repeated member name.
        name: String,
    },
    /// A header member has the wrong JSON type.
    HeaderMemberType {
        /// Member name.
        name: &'static str,
    },
    /// An ES256 signature is not 64 bytes of `r || s` (RFC 7518 §3.4).
    SignatureLength {
        /// Expected length in bytes.
        expected: usize,
        /// Length found.
        found: usize,
    },
}

impl fmt::Display for Malformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformation::SegmentCount { found } => {
                write!(f, "expected 3 dot-separated segments, found {found}")
            }
            Malformation::Base64 => f.write_str("not unpadded base64url"),
            Malformation::Empty => f.write_str("empty segment"),
            Malformation::NotJsonObject => f.write_str("not a JSON object"),
            Malformation::DuplicateMember { name } => write!(f, "duplicate member {name:?}"),
            Malformation::HeaderMemberType { name } => {
                write!(f, "header member {name:?} has the wrong type")
            }
            Malformation::SignatureLength { expected, found } => {
                write!(f, "signature is {found} bytes, expected {expected}")
            }
        }
    }
}

/// Why fetching a discovery document or key set failed (returned by [`crate::JwksFetcher`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The request did not complete (connect, TLS, timeout).
    #[error("request failed: {source}")]
    Transport {
        /// Underlying cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server answered with a status other than 200.
    #[error("unexpected HTTP status {status}")]
    Status {
        /// Status code received.
        status: u16,
    },
    /// The body exceeded the size cap.
    #[error("response body exceeds {limit_bytes} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit_bytes: usize,
    },
    /// The fake or custom fetcher has no document for this URL.
    #[error("no document at this URL")]
    NotFound,
}

/// Coarse class of an [`OidcError`], for the HTTP edge to choose a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The presented token is refused (401 or 400 at the edge).
    InvalidToken,
    /// The token is valid but its claims cannot form a certificate identity (400/403).
    Identity,
    /// An issuer's discovery or key set could not be obtained or is invalid (502/503).
    Upstream,
    /// Configuration given to this crate is invalid (operator error; startup failure).
    Config,
    /// A dev-token request is invalid (400).
    BadRequest,
    /// A local failure: replay store backend, key generation or encoding (500).
    Internal,
}

/// Every failure of this crate. Codes are stable: see [`OidcError::code`] and the table in the crate docs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// OIDC_E001
    #[error("token is {found} bytes, over the {limit} byte limit")]
    TokenTooLarge {
        /// Limit in bytes.
        limit: usize,
        /// Size found.
        found: usize,
    },
    /// OIDC_E002
    #[error("malformed token {part}: {problem}")]
    Malformed {
        /// Where.
        part: TokenPart,
        /// What.
        problem: Malformation,
    },
    /// OIDC_E003
    #[error("signature algorithm {found:?} refused: only RS256 and ES256 are accepted")]
    UnsupportedAlgorithm {
        /// The `alg` header value.
        found: String,
    },
    /// OIDC_E004
    #[error("critical header extension {name:?} is not understood")]
    CriticalHeader {
        /// First name listed in `crit`.
        name: String,
    },
    /// OIDC_E005
    #[error("issuer {issuer:?} is not configured")]
    UnconfiguredIssuer {
        /// The `iss` claim.
        issuer: String,
    },
    /// OIDC_E006
    #[error("no key {kid:?} in the key set of {issuer}")]
    UnknownKey {
        /// Issuer.
        issuer: String,
        /// The `kid` header value, or `None` when the header had none and the set was ambiguous.
        kid: Option<String>,
    },
    /// OIDC_E007
    #[error("key {kid:?} is a {found} key, but the token says {expected}")]
    KeyAlgorithmMismatch {
        /// Key id.
        kid: Option<String>,
        /// Algorithm the header asked for.
        expected: String,
        /// What the key is (`RSA`, `EC P-256`, or a JWK `alg` that differs).
        found: String,
    },
    /// OIDC_E008
    #[error("signature does not verify")]
    BadSignature,
    /// OIDC_E009
    #[error("audience {found:?} is not the expected {expected:?}")]
    WrongAudience {
        /// Configured audience.
        expected: String,
        /// The `aud` claim.
        found: String,
    },
    /// OIDC_E010
    #[error("audience is an array of {len} values; exactly one string audience is required")]
    AudienceArray {
        /// Number of elements.
        len: usize,
    },
    /// OIDC_E011
    #[error("token expired at {exp} (now {now}, leeway {leeway_secs}s)")]
    Expired {
        /// `exp`, seconds since the epoch.
        exp: i64,
        /// Current time.
        now: i64,
        /// Leeway allowed.
        leeway_secs: i64,
    },
    /// OIDC_E012
    #[error("token not valid before {nbf} (now {now}, leeway {leeway_secs}s)")]
    NotYetValid {
        /// `nbf`.
        nbf: i64,
        /// Current time.
        now: i64,
        /// Leeway allowed.
        leeway_secs: i64,
    },
    /// OIDC_E013
    #[error("token issued in the future at {iat} (now {now}, leeway {leeway_secs}s)")]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// Current time.
        now: i64,
        /// Leeway allowed.
        leeway_secs: i64,
    },
    /// OIDC_E014
    #[error("required claim {claim:?} is missing")]
    MissingClaim {
        /// Claim name.
        claim: String,
    },
    /// OIDC_E015
    #[error("claim {claim:?} is not {expected}")]
    InvalidClaim {
        /// Claim name.
        claim: String,
        /// What it should have been.
        expected: &'static str,
    },
    /// OIDC_E016
    #[error("token id (jti) {jti:?} was already used")]
    Replayed {
        /// The `jti` claim.
        jti: String,
    },
    /// OIDC_E017
    #[error("fetching {url} failed: {source}")]
    Fetch {
        /// URL requested.
        url: String,
        /// Cause.
        #[source]
        source: FetchError,
    },
    /// OIDC_E018
    #[error("discovery document at {url} is invalid: {problem}")]
    InvalidDiscovery {
        /// URL fetched.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// OIDC_E019
    #[error("key set at {url} is invalid: {problem}")]
    InvalidJwks {
        /// URL fetched.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// OIDC_E020
    #[error("keys of {issuer} are unavailable and a refetch was attempted less than {interval_secs}s ago")]
    KeysUnavailable {
        /// Issuer.
        issuer: String,
        /// Minimum interval between fetches.
        interval_secs: i64,
    },
    /// OIDC_E021
    #[error("URL {url:?} refused: {reason}")]
    InsecureUrl {
        /// The URL.
        url: String,
        /// Why (`https required`, `credentials in URL`, ...).
        reason: &'static str,
    },
    /// OIDC_E022
    #[error("replay store failed: {source}")]
    ReplayStore {
        /// Backend cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// OIDC_E023
    #[error("{provider} identity needs claim {claim:?}, which is missing or not a string")]
    IdentityClaim {
        /// Provider name.
        provider: &'static str,
        /// Claim name.
        claim: String,
    },
    /// OIDC_E024
    #[error("email identity refused: email_verified is not true")]
    EmailNotVerified,
    /// OIDC_E025
    #[error("invalid configuration: {problem}")]
    Config {
        /// What is wrong.
        problem: String,
    },
    /// OIDC_E026
    #[error("signing key error: {problem}")]
    SigningKey {
        /// What failed (generation, encoding, decoding, signing).
        problem: &'static str,
    },
    /// OIDC_E027
    #[error("dev token request: {field} must be {expected}")]
    InvalidDevRequest {
        /// The request field.
        field: &'static str,
        /// What it must look like.
        expected: &'static str,
    },
    /// OIDC_E028
    #[error("authorization request refused: {problem}")]
    AuthorizationRequest {
        /// What is wrong, naming the parameter and what it must be.
        problem: String,
    },
    /// OIDC_E029
    #[error("authorization code refused: {problem}")]
    AuthorizationCode {
        /// Unknown, already used, expired, or issued for another redirect_uri or client.
        problem: &'static str,
    },
    /// OIDC_E030
    #[error(
        "PKCE check failed: BASE64URL(SHA-256(code_verifier)) does not equal the code_challenge"
    )]
    PkceMismatch,
    /// OIDC_E031 (RFC 8628 `authorization_pending`)
    #[error("the device sign-in is pending: the user has not yet entered the code")]
    DevicePending,
    /// OIDC_E032 (RFC 8628 `slow_down`)
    #[error("polled too fast: wait at least {interval_secs} s between polls")]
    DeviceSlowDown {
        /// The interval the client must keep from now on.
        interval_secs: i64,
    },
    /// OIDC_E033 (RFC 8628 `expired_token`)
    #[error("the device code expired before the user signed in (codes live {lifetime_secs} s)")]
    DeviceExpired {
        /// How long device codes live.
        lifetime_secs: i64,
    },
    /// OIDC_E034 (RFC 8628 `access_denied`)
    #[error("the user denied the device sign-in")]
    DeviceDenied,
    /// OIDC_E035
    #[error("user code refused: {problem}")]
    UserCode {
        /// Unknown, expired, already used, or not of the form XXXX-XXXX.
        problem: &'static str,
    },
}

impl OidcError {
    /// The stable code of this error (`OIDC_E001`…). Codes are never renumbered or reused.
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::TokenTooLarge { .. } => "OIDC_E001",
            OidcError::Malformed { .. } => "OIDC_E002",
            OidcError::UnsupportedAlgorithm { .. } => "OIDC_E003",
            OidcError::CriticalHeader { .. } => "OIDC_E004",
            OidcError::UnconfiguredIssuer { .. } => "OIDC_E005",
            OidcError::UnknownKey { .. } => "OIDC_E006",
            OidcError::KeyAlgorithmMismatch { .. } => "OIDC_E007",
            OidcError::BadSignature => "OIDC_E008",
            OidcError::WrongAudience { .. } => "OIDC_E009",
            OidcError::AudienceArray { .. } => "OIDC_E010",
            OidcError::Expired { .. } => "OIDC_E011",
            OidcError::NotYetValid { .. } => "OIDC_E012",
            OidcError::IssuedInFuture { .. } => "OIDC_E013",
            OidcError::MissingClaim { .. } => "OIDC_E014",
            OidcError::InvalidClaim { .. } => "OIDC_E015",
            OidcError::Replayed { .. } => "OIDC_E016",
            OidcError::Fetch { .. } => "OIDC_E017",
            OidcError::InvalidDiscovery { .. } => "OIDC_E018",
            OidcError::InvalidJwks { .. } => "OIDC_E019",
            OidcError::KeysUnavailable { .. } => "OIDC_E020",
            OidcError::InsecureUrl { .. } => "OIDC_E021",
            OidcError::ReplayStore { .. } => "OIDC_E022",
            OidcError::IdentityClaim { .. } => "OIDC_E023",
            OidcError::EmailNotVerified => "OIDC_E024",
            OidcError::Config { .. } => "OIDC_E025",
            OidcError::SigningKey { .. } => "OIDC_E026",
            OidcError::InvalidDevRequest { .. } => "OIDC_E027",
            OidcError::AuthorizationRequest { .. } => "OIDC_E028",
            OidcError::AuthorizationCode { .. } => "OIDC_E029",
            OidcError::PkceMismatch => "OIDC_E030",
            OidcError::DevicePending => "OIDC_E031",
            OidcError::DeviceSlowDown { .. } => "OIDC_E032",
            OidcError::DeviceExpired { .. } => "OIDC_E033",
            OidcError::DeviceDenied => "OIDC_E034",
            OidcError::UserCode { .. } => "OIDC_E035",
        }
    }

    /// The coarse class of this error, for choosing an HTTP status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OidcError::TokenTooLarge { .. }
            | OidcError::Malformed { .. }
            | OidcError::UnsupportedAlgorithm { .. }
            | OidcError::CriticalHeader { .. }
            | OidcError::UnconfiguredIssuer { .. }
            | OidcError::UnknownKey { .. }
            | OidcError::KeyAlgorithmMismatch { .. }
            | OidcError::BadSignature
            | OidcError::WrongAudience { .. }
            | OidcError::AudienceArray { .. }
            | OidcError::Expired { .. }
            | OidcError::NotYetValid { .. }
            | OidcError::IssuedInFuture { .. }
            | OidcError::MissingClaim { .. }
            | OidcError::InvalidClaim { .. }
            | OidcError::Replayed { .. } => ErrorKind::InvalidToken,
            OidcError::IdentityClaim { .. } | OidcError::EmailNotVerified => ErrorKind::Identity,
            OidcError::Fetch { .. }
            | OidcError::InvalidDiscovery { .. }
            | OidcError::InvalidJwks { .. }
            | OidcError::KeysUnavailable { .. }
            | OidcError::InsecureUrl { .. } => ErrorKind::Upstream,
            OidcError::Config { .. } => ErrorKind::Config,
            OidcError::InvalidDevRequest { .. }
            | OidcError::AuthorizationRequest { .. }
            | OidcError::AuthorizationCode { .. }
            | OidcError::PkceMismatch
            | OidcError::DevicePending
            | OidcError::DeviceSlowDown { .. }
            | OidcError::DeviceExpired { .. }
            | OidcError::DeviceDenied
            | OidcError::UserCode { .. } => ErrorKind::BadRequest,
            OidcError::ReplayStore { .. } | OidcError::SigningKey { .. } => ErrorKind::Internal,
        }
    }

    /// The OAuth 2.0 `error` value of a token-endpoint refusal (RFC 6749 §5.2, RFC 8628
    /// §3.5), for the dev issuer's token endpoint.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            OidcError::DevicePending => "authorization_pending",
            OidcError::DeviceSlowDown { .. } => "slow_down",
            OidcError::DeviceExpired { .. } => "expired_token",
            OidcError::DeviceDenied => "access_denied",
            OidcError::AuthorizationCode { .. } | OidcError::PkceMismatch => "invalid_grant",
            _ => "invalid_request",
        }
    }

    pub(crate) fn malformed(part: TokenPart, problem: Malformation) -> Self {
        OidcError::Malformed { part, problem }
    }
}

/// The dev issuer's token-endpoint refusals a sign-in client passes on unchanged: the
/// authorization code was refused (OIDC_E029), the device code expired (OIDC_E033) or
/// the user denied the request (OIDC_E034). `None` for any other code.
pub fn sign_in_refusal(code: &str) -> Option<&'static str> {
    ["OIDC_E029", "OIDC_E033", "OIDC_E034"]
        .into_iter()
        .find(|c| *c == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let samples = [
            OidcError::TokenTooLarge { limit: 1, found: 2 },
            OidcError::malformed(TokenPart::Token, Malformation::Base64),
            OidcError::UnsupportedAlgorithm {
                found: "none".into(),
            },
            OidcError::CriticalHeader { name: "b64".into() },
            OidcError::UnconfiguredIssuer { issuer: "x".into() },
            OidcError::UnknownKey {
                issuer: "x".into(),
                kid: None,
            },
            OidcError::KeyAlgorithmMismatch {
                kid: None,
                expected: "RS256".into(),
                found: "EC".into(),
            },
            OidcError::BadSignature,
            OidcError::WrongAudience {
                expected: "a".into(),
                found: "b".into(),
            },
            OidcError::AudienceArray { len: 1 },
            OidcError::Expired {
                exp: 0,
                now: 0,
                leeway_secs: 0,
            },
            OidcError::NotYetValid {
                nbf: 0,
                now: 0,
                leeway_secs: 0,
            },
            OidcError::IssuedInFuture {
                iat: 0,
                now: 0,
                leeway_secs: 0,
            },
            OidcError::MissingClaim {
                claim: "exp".into(),
            },
            OidcError::InvalidClaim {
                claim: "exp".into(),
                expected: "a number",
            },
            OidcError::Replayed { jti: "j".into() },
            OidcError::Fetch {
                url: "u".into(),
                source: FetchError::NotFound,
            },
            OidcError::InvalidDiscovery {
                url: "u".into(),
                problem: "p".into(),
            },
            OidcError::InvalidJwks {
                url: "u".into(),
                problem: "p".into(),
            },
            OidcError::KeysUnavailable {
                issuer: "i".into(),
                interval_secs: 60,
            },
            OidcError::InsecureUrl {
                url: "u".into(),
                reason: "https required",
            },
            OidcError::ReplayStore {
                source: "db down".into(),
            },
            OidcError::IdentityClaim {
                provider: "GitHub Actions",
                claim: "sha".into(),
            },
            OidcError::EmailNotVerified,
            OidcError::Config {
                problem: "p".into(),
            },
            OidcError::SigningKey { problem: "p" },
            OidcError::InvalidDevRequest {
                field: "repository",
                expected: "OWNER/REPO",
            },
        ];
        let mut codes: Vec<&str> = samples.iter().map(OidcError::code).collect();
        for (i, code) in codes.iter().enumerate() {
            assert_eq!(
                *code,
                format!("OIDC_E{:03}", i + 1),
                "codes follow declaration order"
            );
        }
        codes.dedup();
        assert_eq!(codes.len(), samples.len());
    }
}
