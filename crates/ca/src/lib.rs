//! Certificate authority: short-lived code-signing certificates with the Fulcio OID extensions, and signed certificate timestamps (RFC 6962).
//!
//! # Flow
//!
//! 1. First start: [`CaMaterial::generate`] makes a root, an intermediate (both ECDSA
//!    P-256) and a CT log key; [`CaMaterial::seal`] encrypts them under the
//!    `TOKEN_ENC_KEY` ([`EncryptionKey::from_hex`]) into an [`EncryptedKeyMaterial`].
//!    Later starts call [`CaMaterial::open`].
//! 2. [`CertificateAuthority::new`] derives everything issuance needs once.
//! 3. Per request: [`SigningRequest::from_json`] parses the Fulcio v2 body (size-capped,
//!    strict); the registry verifies the OIDC token (crate `vouch-oidc`) and builds a
//!    [`CertificateIdentity`]; [`SigningRequest::prove_possession`] checks the proof of
//!    possession (yielding a [`ProvenPublicKey`]); [`CertificateAuthority::issue`] returns
//!    an [`IssuedCertificate`] whose [`to_response`](IssuedCertificate::to_response) is the
//!    JSON answer and whose precertificate / `MerkleTreeLeaf` can be appended to a CT log.
//!
//! Crypto: RustCrypto (`p256`, `p384`, `ed25519-dalek`, `x509-cert`, `der`, `spki`,
//! `aes-gcm`) for keys, DER and encryption; aws-lc-rs for the per-request ECDSA
//! signatures and proof-of-possession verifications, which it does several times
//! faster (see `benches/issue.rs`).
//!
//! **Architecture Invariant:** this crate never sees an unverified identity as such: it
//! takes a [`CertificateIdentity`] the caller has established, and a key it can only get
//! as a [`ProvenPublicKey`]. It performs no I/O and has no async code.
//!
//! # Error codes
//!
//! Stable; never renumbered or reused.
//!
//! | code | variant | meaning |
//! |---|---|---|
//! | CA_E001 | `RequestTooLarge` | request body over the cap (64 KiB) |
//! | CA_E002 | `MalformedRequest` | body is not the expected JSON (unknown field, wrong type) |
//! | CA_E003 | `KeySourceCount` | not exactly one of `publicKeyRequest` / `certificateSigningRequest` |
//! | CA_E004 | `InvalidBase64` | a `bytes` field is not base64 |
//! | CA_E005 | `MalformedPem` | PEM malformed or wrong label |
//! | CA_E006 | `UnsupportedKeyAlgorithm` | key is not P-256, P-384 or Ed25519 |
//! | CA_E007 | `KeyAlgorithmMismatch` | declared `algorithm` differs from the key |
//! | CA_E008 | `InvalidPublicKey` | key bytes are not a valid point/key |
//! | CA_E009 | `ProofOfPossessionInvalid` | signature over the subject does not verify |
//! | CA_E010 | `MalformedCsr` | CSR is not PKCS#10 DER |
//! | CA_E011 | `CsrSignatureInvalid` | CSR self-signature does not verify |
//! | CA_E012 | `IdentityInvalid` | identity value cannot go in a certificate |
//! | CA_E013 | `ExtensionNotAllowed` | extension OID outside the permitted Fulcio arcs |
//! | CA_E014 | `DuplicateExtension` | extension OID requested twice |
//! | CA_E015 | `IssuerNotValid` | intermediate not valid for the whole leaf lifetime now |
//! | CA_E016 | `EncryptionKeyInvalid` | `TOKEN_ENC_KEY` is not 64 hex characters |
//! | CA_E017 | `EnvelopeTruncated` | sealed material shorter than header + tag |
//! | CA_E018 | `EnvelopeMagic` | sealed material lacks the envelope magic |
//! | CA_E019 | `EnvelopeVersion` | unknown envelope version |
//! | CA_E020 | `DecryptionFailed` | wrong key, wrong purpose, or tampered material |
//! | CA_E021 | `MaterialCorrupt` | decrypted material does not load |
//! | CA_E022 | `Encoding` | internal DER encoding failure |
//! | CA_E023 | `SctInvalid` | embedded SCT missing, malformed or not verifying |
//! | CA_E024 | `Random` | the OS random number generator failed |
//!
//! CA_E001–CA_E014 are the client's fault (HTTP 400; the registry may map CA_E009 and
//! CA_E011 to DESIGN's PUB_E003 on the publishing path); the rest are server-side.

pub mod api;
mod authority;
mod clock;
mod envelope;
mod error;
mod identity;
mod key;
mod material;
pub mod pki;
pub mod sct;

pub use api::SigningRequest;
pub use authority::{CertificateAuthority, IssuedCertificate, DEFAULT_LEAF_VALIDITY};
pub use clock::{Clock, FixedClock, SystemClock};
pub use const_oid::ObjectIdentifier;
pub use envelope::{EncryptedKeyMaterial, EncryptionKey};
pub use error::{CaError, Result};
pub use identity::{
    CertificateIdentity, San, OID_BUILD_SIGNER_URI, OID_ISSUER_LEGACY, OID_ISSUER_V2,
};
pub use key::{Csr, KeyAlgorithm, ProvenPublicKey, SubjectPublicKey};
pub use material::{CaConfig, CaMaterial, CA_MATERIAL_PURPOSE};
pub use sct::{CtLogSigner, SignedCertificateTimestamp};
