//! OIDC identity-token verification for CI providers (discovery, JWKS cache, replay store) and the mapping of their claims to certificate identities; plus the development issuer used by `vouch serve --dev`.
//!
//! # Using it
//! ```no_run
//! # async fn demo() -> Result<(), vouch_oidc::OidcError> {
//! use std::sync::Arc;
//! use vouch_oidc::{InMemoryReplayStore, IssuerConfig, ReqwestFetcher, TransportPolicy, Verifier};
//!
//! let verifier = Verifier::builder(
//!     Arc::new(ReqwestFetcher::new(TransportPolicy::HttpsOnly)?),
//!     Arc::new(InMemoryReplayStore::new()),
//! )
//! .issuer(IssuerConfig::github_actions("sigstore"))
//! .build()?;
//! let token = "eyJ...";
//! let verified = verifier.verify(token).await?;
//! println!("{} {}", verified.identity.san.value(), verified.identity.issuer);
//! # Ok(()) }
//! ```
//!
//! # What is refused, and why the JOSE handling is our own
//! Only RS256 and ES256 exist as [`Algorithm`] values, a key is used only with the algorithm
//! its type allows, and `aud` must be one string (an array, even of one element, is
//! OIDC_E010). Parsing is a few dozen lines over `serde_json` with duplicate-member
//! rejection, and signatures are checked with aws-lc-rs, so none of these rules depends on a
//! JWT library's defaults.
//!
//! # Error codes
//! Stable; never renumbered or reused. [`OidcError::code`] returns them; [`OidcError::kind`]
//! says which HTTP class they belong to.
//!
//! | code | variant | when |
//! |---|---|---|
//! | OIDC_E001 | `TokenTooLarge` | token over 16 KiB |
//! | OIDC_E002 | `Malformed` | not three unpadded base64url segments of JSON objects; duplicate members; bad ES256 signature length |
//! | OIDC_E003 | `UnsupportedAlgorithm` | `alg` other than RS256/ES256 (`none`, HS*, …) |
//! | OIDC_E004 | `CriticalHeader` | `crit` header present |
//! | OIDC_E005 | `UnconfiguredIssuer` | `iss` is not a configured issuer |
//! | OIDC_E006 | `UnknownKey` | no key with this `kid`, after the rate-limited refetch |
//! | OIDC_E007 | `KeyAlgorithmMismatch` | the key's type or `alg` does not fit the header's `alg` |
//! | OIDC_E008 | `BadSignature` | signature does not verify |
//! | OIDC_E009 | `WrongAudience` | `aud` is another audience |
//! | OIDC_E010 | `AudienceArray` | `aud` is an array |
//! | OIDC_E011 | `Expired` | `exp` + 60 s is past |
//! | OIDC_E012 | `NotYetValid` | `nbf` is more than 60 s ahead |
//! | OIDC_E013 | `IssuedInFuture` | `iat` is more than 60 s ahead |
//! | OIDC_E014 | `MissingClaim` | `iss`, `aud`, `exp`, `iat`, `sub` or `jti` missing (`jti` may be allowed per issuer; CircleCI preset) |
//! | OIDC_E015 | `InvalidClaim` | a registered claim has the wrong type |
//! | OIDC_E016 | `Replayed` | `jti` already used |
//! | OIDC_E017 | `Fetch` | discovery or JWKS request failed (status, timeout, size) |
//! | OIDC_E018 | `InvalidDiscovery` | discovery document invalid or names another issuer |
//! | OIDC_E019 | `InvalidJwks` | key set invalid or without usable keys |
//! | OIDC_E020 | `KeysUnavailable` | no keys cached and a fetch was attempted under a minute ago |
//! | OIDC_E021 | `InsecureUrl` | issuer or `jwks_uri` not https (loopback http only in dev) |
//! | OIDC_E022 | `ReplayStore` | replay store backend failed (token refused) |
//! | OIDC_E023 | `IdentityClaim` | a claim the provider's identity needs is missing |
//! | OIDC_E024 | `EmailNotVerified` | email identity without `email_verified: true` |
//! | OIDC_E025 | `Config` | invalid verifier configuration |
//! | OIDC_E026 | `SigningKey` | dev issuer key generation, encoding or signing failed |
//! | OIDC_E027 | `InvalidDevRequest` | dev token request field invalid |
//! | OIDC_E028 | `AuthorizationRequest` | dev sign-in: redirect_uri not loopback http, method not S256, parameter missing |
//! | OIDC_E029 | `AuthorizationCode` | dev sign-in: code unknown, reused, expired, or for another redirect_uri |
//! | OIDC_E030 | `PkceMismatch` | dev sign-in: code_verifier does not match the code_challenge |

mod claims;
mod clock;
mod config;
mod dev;
mod dev_claims;
mod dev_device;
mod dev_login;
mod error;
mod fetch;
pub mod identity;
mod jose;
mod jwk;
mod keys;
mod replay;
mod verifier;

pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use config::{
    IssuerConfig, Provider, BUILDKITE_ISSUER, GITHUB_ACTIONS_ISSUER, GITLAB_COM_ISSUER,
};
pub use dev::{
    DevIssuer, DevKeyAlgorithm, DevTokenRequest, DEFAULT_AUDIENCE, DEV_TOKEN_LIFETIME_SECS,
    DISCOVERY_PATH, JWKS_PATH,
};
pub use dev_device::{
    DeviceAuthorization, DeviceDecision, DEVICE_CODE_LIFETIME_SECS, DEVICE_GRANT_TYPE,
    DEVICE_POLL_INTERVAL_SECS,
};
pub use dev_login::{
    AuthorizationRequest, DevLogin, TokenRequest, CODE_LIFETIME_SECS, EMAIL_ISSUER_PATH,
};
pub use error::{sign_in_refusal, ErrorKind, FetchError, Malformation, OidcError, TokenPart};
pub use fetch::{
    check_url, JwksFetcher, MemoryFetcher, ReqwestFetcher, TransportPolicy, MAX_DOCUMENT_BYTES,
};
pub use identity::{
    BindingClaims, CertificateIdentity, Extension, ExtensionEncoding, FulcioExtension, San,
};
pub use jose::{parse_compact, Algorithm, Header, UnverifiedToken, MAX_TOKEN_BYTES};
pub use jwk::{Jwk, KeySet, PublicKey};
pub use keys::{JWKS_MAX_AGE_SECS, REFETCH_INTERVAL_SECS};
pub use replay::{
    BoxFuture, InMemoryReplayStore, Insertion, ReplayKey, ReplayStore, ReplayStoreError,
};
pub use verifier::{VerifiedToken, Verifier, VerifierBuilder, LEEWAY_SECS};
