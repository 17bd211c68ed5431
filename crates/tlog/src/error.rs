//! The crate's error type: one enum, structured variants, lowercase messages.

use crate::hash::Hash;
use crate::note::KeyType;
use crate::tile::TileId;

/// Everything that can go wrong parsing, proving or verifying in `vouch-tlog`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hash was not 32 bytes.
    #[error("hash has {found} bytes, expected {expected}")]
    HashLength { expected: usize, found: usize },
    /// A hex string had a non-hex digit.
    #[error("invalid hex digit")]
    Hex,
    /// Base64 that does not decode (standard alphabet, padded).
    #[error("invalid base64 in {what}")]
    Base64 { what: &'static str },
    /// A reader or caller supplied the wrong number of hashes.
    #[error("expected {expected} hashes, got {found}")]
    HashCount { expected: usize, found: usize },
    /// A leaf index at or beyond the tree size.
    #[error("index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// An older tree larger than the newer one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder { old: u64, new: u64 },
    /// A consistency proof from the empty tree (meaningless: every tree extends it).
    #[error("consistency proof from the empty tree is meaningless")]
    EmptyTreeConsistency,
    /// `[start, end)` is not a subtree of the MTC draft, or does not fit the tree.
    #[error("[{start}, {end}) is not a valid subtree of a tree of size {size}")]
    InvalidSubtree { start: u64, end: u64, size: u64 },
    /// A proof with the wrong number of hashes for its sizes.
    #[error("proof has {found} hashes, expected {expected}")]
    ProofLength { expected: usize, found: usize },
    /// A proof that does not lead to the expected root.
    #[error("proof does not verify: computed root {computed}, expected {expected}")]
    RootMismatch { expected: Hash, computed: Hash },
    /// A node that is not complete in the tree being read.
    #[error("node at level {level} index {index} is not in a tree of size {size}")]
    NodeOutOfRange { level: u8, index: u64, size: u64 },
    /// A tile a reader needed but was not given.
    #[error("tile at level {level} index {index} is missing")]
    TileMissing { level: u8, index: u64 },
    /// Tile bytes of the wrong length.
    #[error("tile {tile} has {found} bytes, expected {expected}")]
    TileLength {
        tile: TileId,
        expected: usize,
        found: usize,
    },
    /// A malformed `tile/...` path.
    #[error("bad tile path {path:?}: {reason}")]
    TilePath { path: String, reason: &'static str },
    /// An entry longer than an entry bundle can hold.
    #[error("entry is {found} bytes, the entry bundle format allows at most {max}")]
    EntryTooLarge { max: usize, found: usize },
    /// A bundle that ends inside a length prefix or an entry.
    #[error("entry bundle is truncated at byte {offset}")]
    BundleTruncated { offset: usize },
    /// A bundle with the wrong number of entries.
    #[error("entry bundle has {found} entries, expected {expected}")]
    BundleCount { expected: usize, found: usize },
    /// A note larger than vouch accepts.
    #[error("note is {found} bytes, at most {max} accepted")]
    NoteTooLarge { max: usize, found: usize },
    /// A note that is not UTF-8.
    #[error("note is not valid utf-8 (at byte {offset})")]
    NoteNotUtf8 { offset: usize },
    /// A control character other than newline.
    #[error("note contains a control character at byte {offset}")]
    NoteControlCharacter { offset: usize },
    /// A structural problem in a note.
    #[error("malformed note: {reason}")]
    NoteMalformed { reason: &'static str },
    /// More signature lines than vouch accepts.
    #[error("note has {found} signatures, at most {max} accepted")]
    TooManySignatures { max: usize, found: usize },
    /// A key name with a space, a plus, or nothing.
    #[error("invalid key name: {reason}")]
    KeyName { reason: &'static str },
    /// A malformed verifier or signer key string.
    #[error("invalid key string: {reason}")]
    KeyString { reason: &'static str },
    /// A key whose material has the wrong length.
    #[error("key is {found} bytes, expected {expected}")]
    KeyLength { expected: usize, found: usize },
    /// A key that is not a valid Ed25519 point.
    #[error("invalid ed25519 public key")]
    KeyInvalid,
    /// A signature type vouch does not implement.
    #[error("unsupported signature type 0x{found:02x}")]
    KeyTypeUnsupported { found: u8 },
    /// A key used for the wrong kind of signature.
    #[error("key is for {found:?} signatures, expected {expected:?}")]
    KeyTypeMismatch { expected: KeyType, found: KeyType },
    /// A key string whose key ID does not match its name and key.
    #[error("key id {found:08x} does not match the key (expected {expected:08x})")]
    KeyIdMismatch { expected: u32, found: u32 },
    /// A signature from a known key that does not verify.
    #[error("signature by {name} ({key_id:08x}) does not verify")]
    SignatureInvalid { name: String, key_id: u32 },
    /// No signature from any trusted key.
    #[error("no signature from a trusted key")]
    NoVerifiedSignature,
    /// A cosignature timestamp above 2^63 - 1.
    #[error("timestamp {found} is out of range")]
    TimestampRange { found: u64 },
    /// Fewer witness cosignatures than the policy requires.
    #[error("{found} witness cosignatures verified, policy requires {expected}")]
    QuorumNotMet { expected: usize, found: usize },
    /// A malformed checkpoint body.
    #[error("malformed checkpoint (line {line}): {reason}")]
    Checkpoint { line: usize, reason: &'static str },
    /// A checkpoint for another log.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch { expected: String, found: String },
    /// A malformed tlog-proof file.
    #[error("malformed tlog-proof (line {line}): {reason}")]
    TlogProof { line: usize, reason: &'static str },
    /// A malformed witness add-checkpoint request body.
    #[error("malformed add-checkpoint request (line {line}): {reason}")]
    WitnessRequest { line: usize, reason: &'static str },
}

impl Error {
    /// The stable code of this error (`TLOG_E…`, owned by this crate): one per variant,
    /// in declaration order, never renumbered or reused. A new variant takes the next
    /// free number.
    pub fn code(&self) -> &'static str {
        match self {
            Error::HashLength { .. } => "TLOG_E001",
            Error::Hex => "TLOG_E002",
            Error::Base64 { .. } => "TLOG_E003",
            Error::HashCount { .. } => "TLOG_E004",
            Error::IndexOutOfRange { .. } => "TLOG_E005",
            Error::SizeOrder { .. } => "TLOG_E006",
            Error::EmptyTreeConsistency => "TLOG_E007",
            Error::InvalidSubtree { .. } => "TLOG_E008",
            Error::ProofLength { .. } => "TLOG_E009",
            Error::RootMismatch { .. } => "TLOG_E010",
            Error::NodeOutOfRange { .. } => "TLOG_E011",
            Error::TileMissing { .. } => "TLOG_E012",
            Error::TileLength { .. } => "TLOG_E013",
            Error::TilePath { .. } => "TLOG_E014",
            Error::EntryTooLarge { .. } => "TLOG_E015",
            Error::BundleTruncated { .. } => "TLOG_E016",
            Error::BundleCount { .. } => "TLOG_E017",
            Error::NoteTooLarge { .. } => "TLOG_E018",
            Error::NoteNotUtf8 { .. } => "TLOG_E019",
            Error::NoteControlCharacter { .. } => "TLOG_E020",
            Error::NoteMalformed { .. } => "TLOG_E021",
            Error::TooManySignatures { .. } => "TLOG_E022",
            Error::KeyName { .. } => "TLOG_E023",
            Error::KeyString { .. } => "TLOG_E024",
            Error::KeyLength { .. } => "TLOG_E025",
            Error::KeyInvalid => "TLOG_E026",
            Error::KeyTypeUnsupported { .. } => "TLOG_E027",
            Error::KeyTypeMismatch { .. } => "TLOG_E028",
            Error::KeyIdMismatch { .. } => "TLOG_E029",
            Error::SignatureInvalid { .. } => "TLOG_E030",
            Error::NoVerifiedSignature => "TLOG_E031",
            Error::TimestampRange { .. } => "TLOG_E032",
            Error::QuorumNotMet { .. } => "TLOG_E033",
            Error::Checkpoint { .. } => "TLOG_E034",
            Error::OriginMismatch { .. } => "TLOG_E035",
            Error::TlogProof { .. } => "TLOG_E036",
            Error::WitnessRequest { .. } => "TLOG_E037",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every failure carries a `TLOG_E` code; a short hash is the first variant's.
    #[test]
    fn errors_have_stable_codes() {
        let e = Hash::from_slice(&[0; 3]).unwrap_err();
        assert_eq!(e.code(), "TLOG_E001");
        let e = crate::inclusion_proof_nodes(5, 5).unwrap_err();
        assert_eq!(e.code(), "TLOG_E005", "{e}");
        assert_eq!(
            Error::WitnessRequest {
                line: 1,
                reason: "x"
            }
            .code(),
            "TLOG_E037"
        );
    }
}
