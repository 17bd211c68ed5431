//! Registry integrity records: the registry's Ed25519 signing key and key set (JWKS),
//! RFC 8785 canonical JSON, compact-JWS records of the hashes observed at ingest, their
//! strict verification, asset checks and transparency-log leaves. Pure: no IO.
//!
//! # Flow (DESIGN.md, flow 2)
//!
//! 1. Key: [`RegistrySigningKey::generate`], sealed under `TOKEN_ENC_KEY`
//!    ([`token_enc_key_from_hex`], [`RegistrySigningKey::seal`] / [`open`]) with the
//!    AES-256-GCM envelope of `vouch-ca` and the purpose label [`SEAL_PURPOSE`].
//! 2. Key set: [`KeySet`], current key first, retired keys kept forever;
//!    [`KeySet::rotate`] yields the [`RotationEvent`] to audit; [`KeySet::to_jwks`] is
//!    the body of `/.well-known/registry-key.json`, [`KeySet::from_jwks`] reads it back
//!    strictly.
//! 3. Record: an [`IntegrityRecord`] → [`canonical_record_json`] (RFC 8785, integers
//!    only) → [`sign_record`] → compact JWS with header
//!    `{"alg":"EdDSA","kid":…,"typ":"vouch-integrity+jws"}` ([`JWS_TYP`]).
//! 4. Log: the leaf is the JWS bytes ([`log_leaf`]); [`verify_logged`] checks an
//!    inclusion proof against a signed checkpoint.
//! 5. Consumer: [`verify_record`] with only the key set, then [`check_assets`] on the
//!    downloaded files.
//!
//! [`open`]: RegistrySigningKey::open
//!
//! **Architecture Invariant:** no network, files, clock or async: times are passed in,
//! randomness only in [`RegistrySigningKey::generate`] and sealing. Nothing here is
//! signed on a read path: signing happens where the caller hashed the assets.
//!
//! # Error codes
//!
//! Stable; never renumbered or reused.
//!
//! | code | variant | meaning |
//! |---|---|---|
//! | INTEGRITY_E001 | `TokenEncKeyInvalid` | `TOKEN_ENC_KEY` is not 64 hex characters (make one: `vouch keygen token-enc-key`) |
//! | INTEGRITY_E002 | `KeyDecryptionFailed` | sealed signing key does not open: wrong `TOKEN_ENC_KEY` or tampered |
//! | INTEGRITY_E003 | `KeyEnvelopeInvalid` | stored key is not a valid envelope (carries the `CA_E…` code) |
//! | INTEGRITY_E004 | `KeyMaterialCorrupt` | decrypted key is not a 32-byte seed |
//! | INTEGRITY_E005 | `Random` | the OS random number generator failed |
//! | INTEGRITY_E006 | `NumberNotAllowed` | a number in a record is not an integer in ±(2^53−1) |
//! | INTEGRITY_E007 | `Canonicalization` | canonical JSON serialisation failed |
//! | INTEGRITY_E008 | `TooLarge` | JWS, key set or asset list over its cap |
//! | INTEGRITY_E009 | `MalformedJson` | JSON syntax, wrong type, missing or unknown member (record, header, key set) |
//! | INTEGRITY_E010 | `JwkUnsupported` | JWK `kty`/`crv`/`use`/`alg` not OKP/Ed25519/sig/EdDSA |
//! | INTEGRITY_E011 | `JwkUnknownMember` | JWK member the registry never emits (including private `d`) |
//! | INTEGRITY_E012 | `JwkInvalidKey` | JWK `x` not unpadded base64url of a valid Ed25519 key |
//! | INTEGRITY_E013 | `DuplicateKid` | a kid appears twice in the key set |
//! | INTEGRITY_E014 | `JwkKidMismatch` | JWK kid differs from the kid computed from its key |
//! | INTEGRITY_E015 | `EmptyKeySet` | key set without keys |
//! | INTEGRITY_E016 | `JwsSegments` | compact JWS without exactly three segments |
//! | INTEGRITY_E017 | `JwsBase64` | a JWS segment is not unpadded base64url |
//! | INTEGRITY_E018 | `AlgorithmNotAllowed` | header `alg` is not exactly `EdDSA` (`none`, `HS256`, …) |
//! | INTEGRITY_E019 | `TypeNotAllowed` | header `typ` is not `vouch-integrity+jws` |
//! | INTEGRITY_E020 | `UnknownKid` | header kid not in the key set |
//! | INTEGRITY_E021 | `SignatureInvalid` | Ed25519 signature does not verify |
//! | INTEGRITY_E022 | `PayloadNotCanonical` | payload is not RFC 8785 canonical |
//! | INTEGRITY_E023 | `RecordVersion` | record `v` is not 1 |
//! | INTEGRITY_E024 | `RecordKidMismatch` | record kid differs from the header (or signing) kid |
//! | INTEGRITY_E025 | `RecordFieldInvalid` | a record field outside its format |
//! | INTEGRITY_E026 | `DuplicateAsset` | two assets with one name in a record |
//! | INTEGRITY_E027 | `AssetSize` | downloaded asset size differs from the record |
//! | INTEGRITY_E028 | `AssetDigest` | downloaded asset SHA-256 or BLAKE3 differs from the record |
//! | INTEGRITY_E029 | `RotationReusesKey` | rotation to a key already in the set |
//! | INTEGRITY_E030 | `LogProof` | inclusion proof or checkpoint does not verify |
//!
//! The registry integrity service's codes (`INTEGRITY_E101`…`E109`) are the constants
//! of [`codes`], so the prefix has one owner.
//!
//! E001–E005 and E029 are operator or server faults; the rest concern untrusted input
//! and map to a verification failure (exit code 1, or HTTP 400/422 at the edge).

mod assets;
pub mod codes;
mod error;
mod jcs;
mod jws;
mod key;
mod keyset;
mod log;
mod record;
mod time;

pub use assets::{check_asset_entries, check_assets, AssetHasher, AssetReport};
pub use error::{IntegrityError, Result};
pub use jcs::{canonical_json, canonical_record_json, MAX_SAFE_INTEGER};
pub use jws::{sign_record, verify_record, SignedRecord, JWS_ALG, JWS_TYP, MAX_JWS_BYTES};
pub use key::{
    token_enc_key_from_hex, Kid, RegistryPublicKey, RegistrySigningKey, SEAL_PURPOSE,
    TOKEN_ENC_KEY_VAR,
};
pub use keyset::{KeySet, RotationEvent, MAX_JWKS_BYTES};
pub use log::{log_leaf, log_leaf_hash, verify_logged, InclusionEvidence};
pub use record::{AssetEntry, IntegrityRecord, Subject, MAX_ASSETS, RECORD_VERSION};
pub use vouch_ca::{EncryptedKeyMaterial, EncryptionKey};

#[cfg(test)]
mod tests;
