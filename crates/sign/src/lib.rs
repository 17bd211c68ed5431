//! Keyless Sigstore signing client: a fresh in-memory key, a short-lived certificate from
//! a Fulcio-v2 CA, RFC 3161 timestamps, a Rekor v2 (or v1) log entry, and a Sigstore bundle v0.3
//! that `vouch verify` and sigstore-python accept.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), vouch_sign::SignError> {
//! let http = reqwest::Client::new();
//! let cfg = vouch_sign::TrustConfig::fetch(&http, "https://registry.example").await?;
//! let signer = vouch_sign::KeylessSigner::new(&cfg, token, http).await?;
//! let bundle_json = signer.sign_artifact_digest([0u8; 32]).await?;
//! # let _ = bundle_json; Ok(()) }
//! ```
//!
//! # Flow and checks
//!
//! 1. [`TrustConfig`] parses the client trust configuration and selects services the
//!    way sigstore-python 4.x does (valid now, supported versions, one per operator,
//!    highest version, then the selector): Fulcio API v1 (`/api/v2/signingCert`), Rekor
//!    v2 logs and, separately, Rekor v1 logs, TSA v1 (required only with v2 logs).
//!    A signer writes Rekor v2 entries when a v2 log is offered, else v1
//!    ([`KeylessSigner::with_rekor_version`] picks; [`KeylessSigner::sign_in_toto_rekor_v1`]
//!    always writes v1, the form PEP 740 attestations carry).
//! 2. [`KeylessSigner::new`] sends a CSR; the certificate must chain to a CA of the
//!    trusted root with the code-signing EKU, carry an embedded SCT that verifies
//!    against a CT log of the trusted root, and certify our key. Any failure is an
//!    error: nothing unverified is ever signed with.
//! 3. Each signing gets a timestamp from every selected TSA (nonce and imprint
//!    checked, signed by a TSA of the trusted root) and an entry in every selected log; an entry is accepted only if the
//!    logged body is what we sent, its checkpoint is signed by a tlog key of the trusted
//!    root, and its inclusion proof reaches that checkpoint's root. A Rekor v1 entry
//!    (`hashedrekord`/`dsse` 0.0.1) is checked the same way plus its SET (signed by the
//!    trusted root's tlog key of that log ID) and its integrated time (inside the
//!    certificate's validity); no TSA is asked, the SET is the signing time.
//!
//! Every request has a timeout and every answer a size cap.
//!
//! # Built on
//!
//! The sigstore-rust 0.15.1 family, pinned like `vouch-verify`: `sigstore-trust-root`
//! (trusted root, signing config), `sigstore-crypto` (key, signatures, checkpoints,
//! webpki algorithms), `sigstore-merkle` (inclusion proof), `sigstore-tsa` (timestamp signature), `sigstore-rekor` (request
//! and body types), `sigstore-bundle`/`sigstore-types` (bundle assembly). The
//! `sigstore-sign` crate itself is not used: it requests a new certificate per
//! signature, checks neither the SCT, the chain, the checkpoint nor the inclusion
//! proof, reads answers without size caps, and submits to one TSA only. SCT
//! verification reuses `vouch-ca`'s RFC 6962 code.
//!
//! # Error codes
//!
//! | code | stage | meaning |
//! |---|---|---|
//! | SIGN_E001 | local | trust configuration malformed |
//! | SIGN_E002 | local | no usable CA / Rekor v2 log / TSA in the signing config |
//! | SIGN_E003 | local | trust configuration could not be fetched |
//! | SIGN_E004 | token | identity token is not a JWT |
//! | SIGN_E005 | ca | CA refused the request (4xx: token expired, wrong audience, …) |
//! | SIGN_E006 | ca | CA unreachable or failing (timeout, connection, 5xx) |
//! | SIGN_E007 | ca | CA answer malformed |
//! | SIGN_E008 | ca | certificate does not chain to a CA of the trusted root |
//! | SIGN_E009 | ca | embedded SCT missing or not verifying |
//! | SIGN_E010 | ca | certificate is for another key |
//! | SIGN_E011 | timestamp | TSA unreachable or failing |
//! | SIGN_E012 | timestamp | TSA refused (4xx or PKIStatus rejection) |
//! | SIGN_E013 | timestamp | timestamp invalid (imprint, nonce, structure, not from a trusted TSA) |
//! | SIGN_E014 | log | transparency log unreachable or failing |
//! | SIGN_E015 | log | transparency log refused the entry (4xx) |
//! | SIGN_E016 | log | logged entry differs from the submitted one, or malformed |
//! | SIGN_E017 | log | inclusion proof does not verify |
//! | SIGN_E018 | log | checkpoint not signed by a tlog of the trusted root |
//! | SIGN_E019 | local | in-toto statement invalid |
//! | SIGN_E020 | local | local step failed (key generation, encoding, expired certificate) |
//! | SIGN_E021 | (service's) | answer over the size cap |
//! | SIGN_E022 | log | Rekor v1 signed entry timestamp (SET) does not verify |
//! | SIGN_E023 | local | managed signing key unusable (not an unencrypted P-256 PEM key) |

mod config;
mod error;
mod fulcio;
mod http;
mod managed;
mod rekor;
mod rekor_v1;
mod signer;
mod tsa;

#[cfg(test)]
mod tests;

pub use config::{Services, TrustConfig, CLIENT_TRUST_CONFIG_MEDIA_TYPE};
pub use error::{SignError, Stage, CODES};
pub use managed::{generate_private_key_pem, public_key_pem};
pub use signer::{
    check_statement, pae, KeylessSigner, RekorVersion, IN_TOTO_PAYLOAD_TYPE, MAX_STATEMENT_BYTES,
};
