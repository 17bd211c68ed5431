//! C2SP signed-note: parsing and serialising notes, Ed25519 note signatures (type 0x01)
//! and timestamped Ed25519 cosignatures (type 0x04, c2sp.org/tlog-cosignature), verifier
//! key strings (`name+hex(keyid)+base64(type||key)`) and signer key strings
//! (`PRIVATE+KEY+name+hex(keyid)+base64(type||seed)`).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::Error;

/// Largest note vouch parses (bytes). The spec asks verifiers to bound notes and to
/// accept at least 16 signatures of up to ~5 kB each (post-quantum); 1 MiB leaves room.
pub const MAX_NOTE_SIZE: usize = 1 << 20;
/// Most signature lines vouch accepts on one note (the spec's floor is 16).
pub const MAX_SIGNATURES: usize = 100;

/// Signature type 0x01: Ed25519 over the note text (signed-note, "Ed25519 signatures").
const TYPE_ED25519: u8 = 0x01;
/// Signature type 0x04: timestamped Ed25519 cosignature (tlog-cosignature).
const TYPE_COSIGNATURE: u8 = 0x04;

/// The kind of signature a key makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// Ed25519 over the note text (type 0x01): logs sign checkpoints with this.
    Ed25519,
    /// Timestamped Ed25519 witness cosignature (type 0x04).
    Cosignature,
}

impl KeyType {
    /// The signature type identifier byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => TYPE_ED25519,
            KeyType::Cosignature => TYPE_COSIGNATURE,
        }
    }

    fn from_byte(b: u8) -> Result<Self, Error> {
        match b {
            TYPE_ED25519 => Ok(KeyType::Ed25519),
            TYPE_COSIGNATURE => Ok(KeyType::Cosignature),
            found => Err(Error::KeyTypeUnsupported { found }),
        }
    }
}

/// Checks a key name: non-empty, no Unicode spaces, no `+` (signed-note, "Format").
pub fn check_key_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::KeyName { reason: "empty" });
    }
    if name.chars().any(|c| c.is_whitespace()) {
        return Err(Error::KeyName {
            reason: "contains a space",
        });
    }
    if name.contains('+') {
        return Err(Error::KeyName {
            reason: "contains '+'",
        });
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(Error::KeyName {
            reason: "contains a control character",
        });
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || type || public key)[:4]` as a big-endian uint32.
#[allow(clippy::indexing_slicing, reason = "a SHA-256 digest is 32 bytes")]
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', key_type.byte()]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The message a type-0x04 cosignature signs (tlog-cosignature, "Ed25519 signed message").
pub fn cosignature_message(timestamp: u64, text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

fn parse_key_id(hex: &str) -> Result<u32, Error> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::KeyString {
            reason: "key id is not 8 hex digits",
        });
    }
    u32::from_str_radix(hex, 16).map_err(|_| Error::KeyString {
        reason: "key id is not 8 hex digits",
    })
}

fn decode_typed_key(b64: &str) -> Result<(KeyType, [u8; 32]), Error> {
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| Error::Base64 { what: "key" })?;
    let (&t, key) = raw.split_first().ok_or(Error::KeyString {
        reason: "empty key material",
    })?;
    let kt = KeyType::from_byte(t)?;
    let key: [u8; 32] = key.try_into().map_err(|_| Error::KeyLength {
        expected: 32,
        found: key.len(),
    })?;
    Ok((kt, key))
}

/// A public key that verifies note signatures, with its name and key ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key_type: KeyType,
    key: VerifyingKey,
}

impl Verifier {
    /// A verifier for a 32-byte Ed25519 public key.
    pub fn new(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> Result<Self, Error> {
        check_key_name(name)?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| Error::KeyInvalid)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, key_type, public_key),
            key_type,
            key,
        })
    }

    /// Parses a verifier key string `name+hex(keyid)+base64(type||key)` and checks that
    /// the key ID is the one the name and key imply.
    pub fn parse(vkey: &str) -> Result<Self, Error> {
        // The name has no '+'; the base64 key material may.
        let mut parts = vkey.trim_end_matches('\n').splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::KeyString {
                reason: "expected name+keyid+key",
            });
        };
        let id = parse_key_id(id)?;
        let (kt, key) = decode_typed_key(b64)?;
        let v = Self::new(name, kt, &key)?;
        if v.key_id != id {
            return Err(Error::KeyIdMismatch {
                expected: v.key_id,
                found: id,
            });
        }
        Ok(v)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Verifies one signature's bytes (without the key ID) over `text`. Returns the
    /// cosignature timestamp for type 0x04.
    #[allow(clippy::indexing_slicing, reason = "sig.len() == 8 + 64 checked above")]
    pub fn verify(&self, text: &str, sig: &[u8]) -> Result<Option<u64>, Error> {
        let invalid = || Error::SignatureInvalid {
            name: self.name.clone(),
            key_id: self.key_id,
        };
        match self.key_type {
            KeyType::Ed25519 => {
                let s = Signature::from_slice(sig).map_err(|_| invalid())?;
                self.key
                    .verify(text.as_bytes(), &s)
                    .map_err(|_| invalid())?;
                Ok(None)
            }
            KeyType::Cosignature => {
                if sig.len() != 8 + 64 {
                    return Err(invalid());
                }
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&sig[..8]);
                let ts = u64::from_be_bytes(ts);
                // tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
                if ts > i64::MAX as u64 {
                    return Err(invalid());
                }
                let s = Signature::from_slice(&sig[8..]).map_err(|_| invalid())?;
                self.key
                    .verify(&cosignature_message(ts, text), &s)
                    .map_err(|_| invalid())?;
                Ok(Some(ts))
            }
        }
    }
}

impl fmt::Display for Verifier {
    /// The verifier key string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = vec![self.key_type.byte()];
        material.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(material)
        )
    }
}

/// A private key that signs notes. Never printed by `Debug`.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key_type: KeyType,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from a 32-byte Ed25519 seed (RFC 8032 private key). Randomness is the
    /// caller's business: this crate does no IO.
    pub fn from_seed(name: &str, key_type: KeyType, seed: &[u8; 32]) -> Result<Self, Error> {
        check_key_name(name)?;
        let key = SigningKey::from_bytes(seed);
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, key_type, key.verifying_key().as_bytes()),
            key_type,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+name+hex(keyid)+base64(type||seed)` and checks the key ID.
    pub fn parse(skey: &str) -> Result<Self, Error> {
        let rest = skey
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(Error::KeyString {
                reason: "signer key does not start with PRIVATE+KEY+",
            })?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::KeyString {
                reason: "expected PRIVATE+KEY+name+keyid+key",
            });
        };
        let id = parse_key_id(id)?;
        let (kt, seed) = decode_typed_key(b64)?;
        let s = Self::from_seed(name, kt, &seed)?;
        if s.key_id != id {
            return Err(Error::KeyIdMismatch {
                expected: s.key_id,
                found: id,
            });
        }
        Ok(s)
    }

    /// The signer key string. Contains the private key: handle as a secret.
    pub fn to_key_string(&self) -> String {
        let mut material = vec![self.key_type.byte()];
        material.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(material)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key_type: self.key_type,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Signs note text with a type-0x01 key.
    pub fn sign(&self, text: &str) -> Result<NoteSignature, Error> {
        if self.key_type != KeyType::Ed25519 {
            return Err(Error::KeyTypeMismatch {
                expected: KeyType::Ed25519,
                found: self.key_type,
            });
        }
        check_text(text)?;
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }

    /// Cosigns checkpoint text at `timestamp` (POSIX seconds) with a type-0x04 key
    /// (tlog-cosignature: `timestamp || Ed25519 signature`).
    pub fn cosign(&self, text: &str, timestamp: u64) -> Result<NoteSignature, Error> {
        if self.key_type != KeyType::Cosignature {
            return Err(Error::KeyTypeMismatch {
                expected: KeyType::Cosignature,
                found: self.key_type,
            });
        }
        check_text(text)?;
        if timestamp > i64::MAX as u64 {
            return Err(Error::TimestampRange { found: timestamp });
        }
        let mut signature = timestamp.to_be_bytes().to_vec();
        signature.extend_from_slice(
            &self
                .key
                .sign(&cosignature_message(timestamp, text))
                .to_bytes(),
        );
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        })
    }
}

/// One signature line: key name, key ID and the signature bytes after the ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// Signature bytes (for cosignatures: 8-byte timestamp then 64-byte signature).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one signature line, with or without its final newline.
    #[allow(clippy::indexing_slicing, reason = "raw.len() >= 5 checked above")]
    pub fn parse_line(line: &str) -> Result<Self, Error> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line.strip_prefix("\u{2014} ").ok_or(Error::NoteMalformed {
            reason: "signature line does not start with an em dash and a space",
        })?;
        let (name, b64) = rest.split_once(' ').ok_or(Error::NoteMalformed {
            reason: "signature line has no space between name and signature",
        })?;
        check_key_name(name)?;
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| Error::Base64 { what: "signature" })?;
        if raw.len() < 5 {
            return Err(Error::NoteMalformed {
                reason: "signature shorter than key id plus one byte",
            });
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            signature: raw[4..].to_vec(),
        })
    }

    /// Cosignature timestamp (first 8 bytes, big-endian), for a type-0x04 signature.
    pub fn timestamp(&self) -> Option<u64> {
        let b: [u8; 8] = self.signature.get(..8)?.try_into().ok()?;
        Some(u64::from_be_bytes(b))
    }
}

impl fmt::Display for NoteSignature {
    /// The signature line, with its trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        writeln!(f, "\u{2014} {} {}", self.name, STANDARD.encode(raw))
    }
}

/// Checks note text: UTF-8 (by type), ends in a newline, no control characters other
/// than newline (signed-note, "Format").
pub fn check_text(text: &str) -> Result<(), Error> {
    if text.len() > MAX_NOTE_SIZE {
        return Err(Error::NoteTooLarge {
            max: MAX_NOTE_SIZE,
            found: text.len(),
        });
    }
    if !text.ends_with('\n') {
        return Err(Error::NoteMalformed {
            reason: "text does not end with a newline",
        });
    }
    if let Some(offset) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(Error::NoteControlCharacter { offset });
    }
    Ok(())
}

/// A parsed (not yet verified) signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The text, including its final newline.
    pub text: String,
    /// Signature lines in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses the note format without verifying anything.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(Error::NoteTooLarge {
                max: MAX_NOTE_SIZE,
                found: bytes.len(),
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| Error::NoteNotUtf8 {
            offset: e.valid_up_to(),
        })?;
        if let Some(offset) = s.bytes().position(|b| b < 0x20 && b != b'\n') {
            return Err(Error::NoteControlCharacter { offset });
        }
        // The text is separated from the signatures by the last empty line.
        let split = s.rfind("\n\n").ok_or(Error::NoteMalformed {
            reason: "no blank line before the signatures",
        })?;
        let (text, sigs) = (&s[..split + 1], &s[split + 2..]);
        if sigs.is_empty() {
            return Err(Error::NoteMalformed {
                reason: "no signature lines",
            });
        }
        if !sigs.ends_with('\n') {
            return Err(Error::NoteMalformed {
                reason: "signature block does not end with a newline",
            });
        }
        let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(Error::TooManySignatures {
                max: MAX_SIGNATURES,
                found: lines.len(),
            });
        }
        let signatures = lines
            .into_iter()
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Checks every signature from a known key (same name and key ID) and returns the
    /// verified ones. Unknown keys are ignored; a known key's bad signature rejects the
    /// whole note; no verified signature at all is an error (signed-note, "Signatures").
    pub fn verify(&self, verifiers: &[Verifier]) -> Result<Vec<VerifiedSignature>, Error> {
        let mut out: Vec<VerifiedSignature> = Vec::new();
        for sig in &self.signatures {
            let Some(v) = verifiers
                .iter()
                .find(|v| v.name == sig.name && v.key_id == sig.key_id)
            else {
                continue;
            };
            let timestamp = v.verify(&self.text, &sig.signature)?;
            if out.iter().any(|o| o.verifier == *v) {
                continue;
            }
            out.push(VerifiedSignature {
                verifier: v.clone(),
                signature: sig.clone(),
                timestamp,
            });
        }
        if out.is_empty() {
            return Err(Error::NoVerifiedSignature);
        }
        Ok(out)
    }
}

impl fmt::Display for Note {
    /// The serialised note: text, blank line, signature lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// A signature that verified, with the key that verified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The key.
    pub verifier: Verifier,
    /// The signature line.
    pub signature: NoteSignature,
    /// For cosignatures, the signing time (POSIX seconds).
    pub timestamp: Option<u64>,
}

/// A note with at least one signature verified by a trusted key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The parsed note, all signatures included.
    pub note: Note,
    /// The signatures that verified (one per key).
    pub verified: Vec<VerifiedSignature>,
}

impl VerifiedNote {
    /// The verified text.
    pub fn text(&self) -> &str {
        &self.note.text
    }
}

/// Parses `bytes` as a note and verifies it against `verifiers`.
pub fn open_note(bytes: &[u8], verifiers: &[Verifier]) -> Result<VerifiedNote, Error> {
    let note = Note::parse(bytes)?;
    let verified = note.verify(verifiers)?;
    Ok(VerifiedNote { note, verified })
}

/// Signs `text` with every signer (type 0x01) and serialises the note.
pub fn sign_note(text: &str, signers: &[&Signer]) -> Result<String, Error> {
    let signatures = signers
        .iter()
        .map(|s| s.sign(text))
        .collect::<Result<Vec<_>, _>>()?;
    if signatures.is_empty() {
        return Err(Error::NoteMalformed {
            reason: "no signature lines",
        });
    }
    Ok(Note {
        text: text.to_owned(),
        signatures,
    }
    .to_string())
}
