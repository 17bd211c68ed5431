//! Encryption at rest for private key material: AES-256-GCM under a 32-byte key (the
//! server takes it from `TOKEN_ENC_KEY`, 64 hex characters), in a versioned envelope.
//!
//! Envelope layout, version 1 (all offsets in bytes):
//!
//! ```text
//! 0..4    magic "VKEM" (vouch key-encryption envelope)
//! 4       version = 1
//! 5..17   96-bit random nonce
//! 17..    AES-256-GCM ciphertext followed by its 16-byte tag
//! ```
//!
//! The additional authenticated data is `magic || version || purpose`, where the purpose
//! is a short label chosen by the caller ("vouch-ca", "vouch-tsa"): material sealed for
//! one purpose does not open as another, even under the same key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand_core::{OsRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{CaError, Result};

const MAGIC: &[u8; 4] = b"VKEM";
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 1 + NONCE_LEN;

/// The 256-bit key that protects material at rest. Zeroed on drop; never printed.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hexadecimal characters (upper or lower case), the `TOKEN_ENC_KEY` form.
    /// Surrounding whitespace is ignored.
    #[allow(
        clippy::indexing_slicing,
        reason = "chunks_exact(2) yields pairs of exactly two bytes"
    )]
    pub fn from_hex(hex: &str) -> Result<Self> {
        let hex = hex.trim();
        let invalid = CaError::EncryptionKeyInvalid {
            expected: 64,
            found: hex.chars().count(),
        };
        if hex.len() != 64 {
            return Err(invalid);
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let (Some(high), Some(low)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                out.zeroize();
                return Err(invalid);
            };
            *slot = (high << 4) | low;
        }
        Ok(Self(out))
    }

    /// A fresh random key (for tests and `--dev`).
    pub fn generate() -> Result<Self> {
        let mut out = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut out)
            .map_err(|_| CaError::Random)?;
        Ok(Self(out))
    }
}

impl Drop for EncryptionKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Secret bytes sealed in the versioned AES-256-GCM envelope described in the module
/// documentation. Holding one proves nothing about its content until [`open`] succeeds.
///
/// [`open`]: EncryptedKeyMaterial::open
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedKeyMaterial {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for EncryptedKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedKeyMaterial")
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl EncryptedKeyMaterial {
    /// Encrypts `plaintext` under `key`, bound to `purpose`, with a fresh random nonce.
    pub fn seal(key: &EncryptionKey, purpose: &str, plaintext: &[u8]) -> Result<Self> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| CaError::Random)?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0));
        let aad = associated_data(purpose);
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CaError::Encoding {
                what: "AES-GCM ciphertext",
            })?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        bytes.extend_from_slice(MAGIC);
        bytes.push(VERSION);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        Ok(Self { bytes })
    }

    /// Accepts stored bytes after checking the fixed header; does not decrypt.
    #[allow(
        clippy::indexing_slicing,
        reason = "bounds checked above: bytes.len() >= HEADER_LEN + TAG_LEN > MAGIC.len()"
    )]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(CaError::EnvelopeTruncated {
                expected_at_least: HEADER_LEN + TAG_LEN,
                found: bytes.len(),
            });
        }
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(CaError::EnvelopeMagic);
        }
        let version = bytes[MAGIC.len()];
        if version != VERSION {
            return Err(CaError::EnvelopeVersion {
                expected: VERSION,
                found: version,
            });
        }
        Ok(Self { bytes })
    }

    /// The envelope bytes, for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Decrypts with `key` for `purpose`. A wrong key, a wrong purpose or any modified
    /// byte gives [`CaError::DecryptionFailed`]; the plaintext is zeroed when dropped.
    #[allow(
        clippy::indexing_slicing,
        reason = "bounds checked above: self.bytes.len() >= HEADER_LEN + TAG_LEN"
    )]
    pub fn open(&self, key: &EncryptionKey, purpose: &str) -> Result<Zeroizing<Vec<u8>>> {
        // `from_bytes` and `seal` are the only constructors and both guarantee the
        // header and tag are present, but re-check rather than index blindly.
        if self.bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(CaError::EnvelopeTruncated {
                expected_at_least: HEADER_LEN + TAG_LEN,
                found: self.bytes.len(),
            });
        }
        let nonce = &self.bytes[MAGIC.len() + 1..HEADER_LEN];
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0));
        let aad = associated_data(purpose);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: &self.bytes[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CaError::DecryptionFailed)
    }
}

fn associated_data(purpose: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(MAGIC.len() + 1 + purpose.len());
    aad.extend_from_slice(MAGIC);
    aad.push(VERSION);
    aad.extend_from_slice(purpose.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn round_trip() {
        let key = EncryptionKey::from_hex(HEX).unwrap();
        let sealed = EncryptedKeyMaterial::seal(&key, "test", b"secret").unwrap();
        let stored = EncryptedKeyMaterial::from_bytes(sealed.as_bytes().to_vec()).unwrap();
        assert_eq!(&stored.open(&key, "test").unwrap()[..], b"secret");
    }

    #[test]
    fn wrong_key_is_a_typed_error() {
        let key = EncryptionKey::from_hex(HEX).unwrap();
        let other = EncryptionKey::generate().unwrap();
        let sealed = EncryptedKeyMaterial::seal(&key, "test", b"secret").unwrap();
        let err = sealed.open(&other, "test").unwrap_err();
        assert!(matches!(err, CaError::DecryptionFailed));
        assert_eq!(err.code(), "CA_E020");
    }

    #[test]
    fn wrong_purpose_fails() {
        let key = EncryptionKey::from_hex(HEX).unwrap();
        let sealed = EncryptedKeyMaterial::seal(&key, "vouch-ca", b"secret").unwrap();
        assert!(matches!(
            sealed.open(&key, "vouch-tsa"),
            Err(CaError::DecryptionFailed)
        ));
    }

    #[test]
    fn truncated_ciphertext_is_refused() {
        let key = EncryptionKey::from_hex(HEX).unwrap();
        let sealed = EncryptedKeyMaterial::seal(&key, "test", b"secret").unwrap();
        let bytes = sealed.as_bytes();
        // Shorter than header + tag: refused before decryption.
        let err = EncryptedKeyMaterial::from_bytes(bytes[..HEADER_LEN + 3].to_vec()).unwrap_err();
        assert!(matches!(err, CaError::EnvelopeTruncated { found, .. } if found == HEADER_LEN + 3));
        // Long enough to parse but missing its last byte: authentication fails.
        let cut = EncryptedKeyMaterial::from_bytes(bytes[..bytes.len() - 1].to_vec()).unwrap();
        assert!(matches!(
            cut.open(&key, "test"),
            Err(CaError::DecryptionFailed)
        ));
    }

    #[test]
    fn flipped_bit_fails() {
        let key = EncryptionKey::from_hex(HEX).unwrap();
        let sealed = EncryptedKeyMaterial::seal(&key, "test", b"secret").unwrap();
        let mut bytes = sealed.as_bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = EncryptedKeyMaterial::from_bytes(bytes).unwrap();
        assert!(matches!(
            tampered.open(&key, "test"),
            Err(CaError::DecryptionFailed)
        ));
    }

    #[test]
    fn header_checks() {
        let mut bytes = vec![0u8; 64];
        assert!(matches!(
            EncryptedKeyMaterial::from_bytes(bytes.clone()),
            Err(CaError::EnvelopeMagic)
        ));
        bytes[..4].copy_from_slice(MAGIC);
        bytes[4] = 9;
        assert!(matches!(
            EncryptedKeyMaterial::from_bytes(bytes),
            Err(CaError::EnvelopeVersion {
                expected: 1,
                found: 9
            })
        ));
    }

    #[test]
    fn key_hex_validation() {
        assert!(matches!(
            EncryptionKey::from_hex("abcd"),
            Err(CaError::EncryptionKeyInvalid {
                expected: 64,
                found: 4
            })
        ));
        let bad = "zz".repeat(32);
        // Right length, not hex: refused as an invalid key all the same.
        assert!(matches!(
            EncryptionKey::from_hex(&bad),
            Err(CaError::EncryptionKeyInvalid {
                expected: 64,
                found: 64
            })
        ));
        assert!(EncryptionKey::from_hex(&HEX.to_uppercase()).is_ok());
        assert_eq!(
            format!("{:?}", EncryptionKey::from_hex(HEX).unwrap()),
            "EncryptionKey(<redacted>)"
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_envelopes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..128)) {
            let key = EncryptionKey::from_bytes([7; 32]);
            if let Ok(env) = EncryptedKeyMaterial::from_bytes(bytes) {
                let _ = env.open(&key, "test");
            }
        }
    }
}
