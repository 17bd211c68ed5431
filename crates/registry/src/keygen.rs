//! Secrets an operator makes before the first start: signed-note keys for the log and the witness, TOKEN_ENC_KEY and bearer tokens, each written once to a new 0600 file (`vouch keygen`).
//!
//! The formats are exactly what the configuration's variables hold: a log key is
//! `PRIVATE+KEY+<name>+<id>+<base64>` of type 0x01 (Ed25519, what `[log]
//! signing_key_env` names), a witness key the same of type 0x04 (cosignature, `[witness]
//! signing_key_env`), and the verifier key printed beside it is what `vouch log --key`
//! and `[witness] logs = [{ vkey = ... }]` take. TOKEN_ENC_KEY is 64 hex digits.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use vouch_tlog::{KeyType, Signer, Verifier};

/// Why a key could not be made or written. Each variant has a stable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeygenError {
    /// The key name is not a valid signed-note key name.
    #[error("{name:?} is not a valid key name (one line, no spaces or '+'): {reason}")]
    BadName { name: String, reason: String },
    /// The output file exists: keys are never overwritten.
    #[error(
        "{path} already exists; keys are never overwritten (move it away or pick another path)"
    )]
    Exists { path: PathBuf },
    /// Creating or writing the file failed.
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("no randomness available: {reason}")]
    Random { reason: String },
}

impl KeygenError {
    /// The stable code (README, "Error codes"). Never renumbered.
    pub fn code(&self) -> &'static str {
        match self {
            KeygenError::BadName { .. } => "KEYGEN_E001",
            KeygenError::Exists { .. } => "KEYGEN_E002",
            KeygenError::Write { .. } => "KEYGEN_E003",
            KeygenError::Random { .. } => "KEYGEN_E004",
        }
    }
}

/// Which signed-note key to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKeyKind {
    /// The log's checkpoint key (Ed25519, type 0x01).
    Log,
    /// The witness's cosignature key (type 0x04).
    Witness,
}

impl NoteKeyKind {
    /// The signed-note key type.
    pub fn key_type(self) -> KeyType {
        match self {
            NoteKeyKind::Log => KeyType::Ed25519,
            NoteKeyKind::Witness => KeyType::Cosignature,
        }
    }
}

fn random32() -> Result<[u8; 32], KeygenError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeygenError::Random {
        reason: e.to_string(),
    })?;
    Ok(seed)
}

/// A fresh signed-note key named `name` (for a log key, the log's origin).
pub fn note_key(name: &str, kind: NoteKeyKind) -> Result<Signer, KeygenError> {
    let mut seed = random32()?;
    let signer =
        Signer::from_seed(name, kind.key_type(), &seed).map_err(|e| KeygenError::BadName {
            name: name.to_owned(),
            reason: e.to_string(),
        });
    zeroize::Zeroize::zeroize(&mut seed);
    signer
}

/// A fresh TOKEN_ENC_KEY: 32 random bytes as 64 lowercase hex digits.
pub fn token_enc_key() -> Result<zeroize::Zeroizing<String>, KeygenError> {
    let mut raw = random32()?;
    let text = zeroize::Zeroizing::new(hex::encode(raw));
    zeroize::Zeroize::zeroize(&mut raw);
    Ok(text)
}

/// A fresh bearer token for `[internal] token_env`: 32 random bytes in hex.
pub fn bearer_token() -> Result<zeroize::Zeroizing<String>, KeygenError> {
    token_enc_key()
}

/// Writes `text` and a newline to a NEW file at `path`, mode 0600, fsynced; an
/// existing file is never touched ([`KeygenError::Exists`]). A failed write removes
/// the file it created, so nothing half-written stays behind.
pub fn write_new_secret(path: &Path, text: &str) -> Result<(), KeygenError> {
    create_secret_file(path, text).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeygenError::Exists {
                path: path.to_owned(),
            }
        } else {
            KeygenError::Write {
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// The one way vouch writes a secret to disk: a NEW file (`AlreadyExists` otherwise),
/// mode 0600, `text` and a newline, fsynced; a failed write removes the file it created.
pub(crate) fn create_secret_file(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let written = f
        .write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all());
    if written.is_err() {
        drop(f);
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Makes a signed-note key and writes its private half to a new 0600 file; returns
/// the verifier key to publish.
pub fn write_note_key(name: &str, kind: NoteKeyKind, out: &Path) -> Result<Verifier, KeygenError> {
    let signer = note_key(name, kind)?;
    let text = zeroize::Zeroizing::new(signer.to_key_string());
    write_new_secret(out, &text)?;
    Ok(signer.verifier())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_round_trip_in_the_config_formats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let v = write_note_key("example.org/log", NoteKeyKind::Log, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let s = Signer::parse(text.trim()).unwrap();
        assert_eq!(s.verifier().to_string(), v.to_string());
        assert_eq!(v.key_type(), KeyType::Ed25519);
        assert_eq!(
            Verifier::parse(&v.to_string()).unwrap().name(),
            "example.org/log"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let w = write_note_key("w", NoteKeyKind::Witness, &dir.path().join("w.key")).unwrap();
        assert_eq!(w.key_type(), KeyType::Cosignature);
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        std::fs::write(&path, "keep me").unwrap();
        let err = write_note_key("a/log", NoteKeyKind::Log, &path).unwrap_err();
        assert_eq!(err.code(), "KEYGEN_E002");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }

    #[test]
    fn bad_names_are_coded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let err = write_note_key("has space", NoteKeyKind::Log, &path).unwrap_err();
        assert_eq!(err.code(), "KEYGEN_E001");
        assert!(!path.exists(), "nothing written for a refused name");
    }

    #[test]
    fn enc_keys_are_64_hex_digits() {
        let k = token_enc_key().unwrap();
        assert_eq!(k.len(), 64);
        assert!(vouch_ca::EncryptionKey::from_hex(&k).is_ok());
        assert_ne!(*k, *token_enc_key().unwrap());
    }
}
