//! RFC 3161 timestamp authority: parses timestamp queries and issues signed timestamp tokens.
//!
//! # Flow
//!
//! 1. First start: [`TsaMaterial::generate`] makes a TSA root and a timestamping
//!    certificate (ECDSA P-256; EKU id-kp-timeStamping, critical) and
//!    [`TsaMaterial::seal`] encrypts them under `TOKEN_ENC_KEY` with the CA crate's
//!    envelope. Later starts call [`TsaMaterial::open`].
//! 2. [`TimestampAuthority::new`] precomputes the signer identifier and the
//!    signingCertificateV2 attribute.
//! 3. Per request: [`TimestampAuthority::respond`] turns an `application/timestamp-query`
//!    body into an `application/timestamp-reply` body (granted or rejection);
//!    [`TimestampAuthority::timestamp`] gives the typed result instead.
//!
//! Tokens: `TSTInfo` v1 with the TSA policy, the request's message imprint, a random
//! 128-bit serial, `genTime` in whole seconds from the injectable clock, accuracy 1 s,
//! the nonce echoed; CMS SignedData v3 with one SignerInfo (issuerAndSerialNumber,
//! SHA-256, ecdsa-with-SHA256) whose signed attributes are contentType, messageDigest
//! and signingCertificateV2 (RFC 5816); the TSA certificate is included when `certReq`
//! is set.
//!
//! **Architecture Invariant:** no I/O, no async; the only shared state is the decrypted
//! key material, read-only after construction.
//!
//! # Error codes
//!
//! Stable; never renumbered or reused.
//!
//! | code | variant | PKIFailureInfo | meaning |
//! |---|---|---|---|
//! | TSA_E001 | `RequestTooLarge` | badRequest | request over 4 KiB |
//! | TSA_E002 | `MalformedRequest` | badDataFormat | not a DER TimeStampReq v1 |
//! | TSA_E003 | `UnsupportedHashAlgorithm` | badAlg | imprint not SHA-256/384/512 |
//! | TSA_E004 | `DigestLength` | badDataFormat | digest length does not match its algorithm |
//! | TSA_E005 | `UnacceptedPolicy` | unacceptedPolicy | `reqPolicy` is not the TSA's policy |
//! | TSA_E006 | `UnacceptedExtension` | unacceptedExtension | request carries extensions |
//! | TSA_E007 | `NonceTooLong` | badRequest | nonce over 32 bytes |
//! | TSA_E008 | `TsaNotValid` | timeNotAvailable | TSA certificate not valid now |
//! | TSA_E009 | `Encoding` | systemFailure | internal DER encoding failure |
//! | TSA_E010 | `KeyMaterial` | systemFailure | envelope/PKI error (inner `CA_E…` code) |
//! | TSA_E011 | `MaterialCorrupt` | systemFailure | decrypted material does not load |
//! | TSA_E012 | `Random` | systemFailure | the OS random number generator failed |

mod authority;
mod error;
mod material;
mod request;
pub mod token;

pub use authority::{Timestamp, TimestampAuthority, DEFAULT_POLICY};
pub use error::{FailureInfo, Result, TsaError};
pub use material::{TsaConfig, TsaMaterial, TSA_MATERIAL_PURPOSE};
pub use request::{HashAlgorithm, TimestampRequest, MAX_NONCE_BYTES, MAX_REQUEST_BYTES};
/// The clock abstraction is shared with the CA crate.
pub use vouch_ca::{Clock, FixedClock, SystemClock};
