//! The registry's Ed25519 signing key: its kid, its public half, and its encryption at
//! rest under `TOKEN_ENC_KEY` (the AES-256-GCM envelope of `vouch_ca`, purpose
//! [`SEAL_PURPOSE`]).

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use vouch_ca::{CaError, EncryptedKeyMaterial, EncryptionKey};
use zeroize::Zeroizing;

use crate::error::{IntegrityError, Result};

/// The envelope purpose label for the registry signing key: material sealed for the CA
/// or the timestamp authority never opens as a registry key, and vice versa.
pub const SEAL_PURPOSE: &str = "vouch-registry-integrity-key";

/// The environment variable holding the at-rest encryption key.
pub const TOKEN_ENC_KEY_VAR: &str = "TOKEN_ENC_KEY";

/// Parses the value of `TOKEN_ENC_KEY` (64 hex characters, surrounding whitespace
/// ignored). The error names the variable and says how to make one.
pub fn token_enc_key_from_hex(value: &str) -> Result<EncryptionKey> {
    EncryptionKey::from_hex(value).map_err(|e| match e {
        CaError::EncryptionKeyInvalid { expected, found } => IntegrityError::TokenEncKeyInvalid {
            variable: TOKEN_ENC_KEY_VAR,
            expected,
            found,
        },
        other => IntegrityError::KeyEnvelopeInvalid {
            ca_code: other.code(),
        },
    })
}

/// A key identifier: the first 16 lowercase hex characters of SHA-256 over the raw
/// 32-byte Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid([u8; 16]);

impl Kid {
    /// The kid of a raw public key.
    #[allow(
        clippy::indexing_slicing,
        reason = "i < 8 (take(8)) so 2 * i + 1 < 16; a nibble indexes the 16-byte HEX"
    )]
    pub fn of(public_key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(public_key);
        let mut out = [0u8; 16];
        for (i, byte) in digest.iter().take(8).enumerate() {
            out[2 * i] = HEX[usize::from(byte >> 4)];
            out[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        Self(out)
    }

    /// Parses 16 lowercase hex characters (the only spelling the registry emits).
    pub fn parse(s: &str) -> Option<Self> {
        let bytes: [u8; 16] = s.as_bytes().try_into().ok()?;
        bytes.iter().all(|c| HEX.contains(c)).then_some(Self(bytes))
    }

    /// The 16 hex characters.
    pub fn as_str(&self) -> &str {
        // Only `of` builds a Kid, and it writes ASCII hex digits.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({})", self.as_str())
    }
}

/// An Ed25519 public key of the registry, with its kid computed once.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryPublicKey {
    key: VerifyingKey,
    kid: Kid,
}

impl RegistryPublicKey {
    /// Parses a raw 32-byte key; `None` if the bytes are not a valid Ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let key = VerifyingKey::from_bytes(bytes).ok()?;
        Some(Self {
            kid: Kid::of(bytes),
            key,
        })
    }

    /// The kid.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Verifies an Ed25519 signature (RFC 8032, strict: rejects non-canonical `S` and
    /// small-order keys and `R` points).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Debug for RegistryPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryPublicKey")
            .field("kid", &self.kid)
            .finish()
    }
}

/// The registry's private signing key. The seed is zeroed on drop and never printed.
pub struct RegistrySigningKey {
    key: SigningKey,
    public: RegistryPublicKey,
}

impl RegistrySigningKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|_| IntegrityError::Random)?;
        Ok(Self::from_seed(&seed))
    }

    /// The key with this 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let verifying = key.verifying_key();
        let public = RegistryPublicKey {
            kid: Kid::of(verifying.as_bytes()),
            key: verifying,
        };
        Self { key, public }
    }

    /// The public half.
    pub fn public_key(&self) -> &RegistryPublicKey {
        &self.public
    }

    /// The kid.
    pub fn kid(&self) -> Kid {
        self.public.kid
    }

    /// Signs `message` (Ed25519, deterministic).
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Encrypts the seed under `TOKEN_ENC_KEY` for storage.
    pub fn seal(&self, enc: &EncryptionKey) -> Result<EncryptedKeyMaterial> {
        let seed = Zeroizing::new(self.key.to_bytes());
        EncryptedKeyMaterial::seal(enc, SEAL_PURPOSE, seed.as_ref()).map_err(map_ca)
    }

    /// Decrypts a stored key. A wrong `TOKEN_ENC_KEY`, material sealed for another purpose
    /// or a modified byte gives [`IntegrityError::KeyDecryptionFailed`].
    pub fn open(sealed: &EncryptedKeyMaterial, enc: &EncryptionKey) -> Result<Self> {
        let plain = sealed.open(enc, SEAL_PURPOSE).map_err(map_ca)?;
        let seed: &[u8; 32] =
            plain
                .as_slice()
                .try_into()
                .map_err(|_| IntegrityError::KeyMaterialCorrupt {
                    expected: 32,
                    found: plain.len(),
                })?;
        Ok(Self::from_seed(seed))
    }

    /// Parses stored envelope bytes and decrypts them (see [`Self::open`]).
    pub fn open_bytes(stored: &[u8], enc: &EncryptionKey) -> Result<Self> {
        let sealed = EncryptedKeyMaterial::from_bytes(stored.to_vec()).map_err(map_ca)?;
        Self::open(&sealed, enc)
    }
}

impl fmt::Debug for RegistrySigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrySigningKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

fn map_ca(e: CaError) -> IntegrityError {
    match e {
        CaError::DecryptionFailed => IntegrityError::KeyDecryptionFailed,
        CaError::Random => IntegrityError::Random,
        other => IntegrityError::KeyEnvelopeInvalid {
            ca_code: other.code(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn kid_is_first_16_hex_of_sha256_of_the_raw_key() {
        let key = RegistrySigningKey::from_seed(&[1; 32]);
        let digest = Sha256::digest(key.public_key().to_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key.kid().as_str(), &hex[..16]);
        assert_eq!(key.kid().to_string().len(), 16);
    }

    #[test]
    fn seal_open_round_trip() {
        let enc = token_enc_key_from_hex(HEX_KEY).unwrap();
        let key = RegistrySigningKey::generate().unwrap();
        let sealed = key.seal(&enc).unwrap();
        let back = RegistrySigningKey::open_bytes(sealed.as_bytes(), &enc).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.sign(b"m"), key.sign(b"m"));
        assert!(!format!("{key:?}").contains("key:"));
    }

    #[test]
    fn wrong_token_enc_key_or_purpose_fails_with_code() {
        let enc = token_enc_key_from_hex(HEX_KEY).unwrap();
        let other = EncryptionKey::generate().unwrap();
        let key = RegistrySigningKey::generate().unwrap();
        let sealed = key.seal(&enc).unwrap();
        let err = RegistrySigningKey::open(&sealed, &other).unwrap_err();
        assert_eq!(err.code(), "INTEGRITY_E002");
        // Material sealed for the CA does not open as a registry key.
        let ca = EncryptedKeyMaterial::seal(&enc, "vouch-ca", &[0; 32]).unwrap();
        let err = RegistrySigningKey::open(&ca, &enc).unwrap_err();
        assert!(matches!(err, IntegrityError::KeyDecryptionFailed));
    }

    #[test]
    fn corrupt_envelope_and_wrong_length_material() {
        let enc = token_enc_key_from_hex(HEX_KEY).unwrap();
        let err = RegistrySigningKey::open_bytes(b"short", &enc).unwrap_err();
        assert_eq!(err.code(), "INTEGRITY_E003");
        let wrong = EncryptedKeyMaterial::seal(&enc, SEAL_PURPOSE, &[0; 31]).unwrap();
        let err = RegistrySigningKey::open(&wrong, &enc).unwrap_err();
        assert!(matches!(
            err,
            IntegrityError::KeyMaterialCorrupt {
                expected: 32,
                found: 31
            }
        ));
    }

    #[test]
    fn token_enc_key_errors_name_the_variable() {
        for bad in ["", "abcd", &"zz".repeat(32), &"0".repeat(66)] {
            let err = token_enc_key_from_hex(bad).unwrap_err();
            assert_eq!(err.code(), "INTEGRITY_E001");
            let text = err.to_string();
            assert!(text.starts_with("TOKEN_ENC_KEY must be 64 hex"), "{text}");
            assert!(text.contains("vouch keygen token-enc-key"), "{text}");
        }
        assert!(token_enc_key_from_hex(&format!(" {HEX_KEY}\n")).is_ok());
    }
}
