//! RFC 9162 Merkle tree hashing (Section 2.1.1): SHA-256 with a 0x00 prefix for leaves
//! and 0x01 for interior nodes, and the [`Hash`](struct@crate::Hash) newtype every other module passes by value.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::Error;

/// A SHA-256 Merkle tree hash (leaf, interior node, or root). 32 bytes, `Copy`, compared
/// in constant time is not needed: tree hashes are public values.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// The Merkle Tree Hash of the empty tree, `MTH({}) = SHA-256()` (RFC 9162, Section 2.1.1).
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// Size in bytes of a [`Hash`](struct@crate::Hash).
pub const HASH_SIZE: usize = 32;

impl Hash {
    /// Wraps raw bytes; fails unless there are exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| Error::HashLength {
            expected: HASH_SIZE,
            found: bytes.len(),
        })?;
        Ok(Hash(arr))
    }

    /// Parses 64 hex digits (either case).
    #[allow(
        clippy::indexing_slicing,
        reason = "b.len() == 64 checked above: chunks_exact(2) gives 32 pairs for the 32-byte out"
    )]
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let b = s.as_bytes();
        if b.len() != 2 * HASH_SIZE {
            return Err(Error::HashLength {
                expected: HASH_SIZE,
                found: b.len() / 2,
            });
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(Error::Hex)?;
            let lo = hex_val(pair[1]).ok_or(Error::Hex)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Hash(out))
    }

    /// Parses standard, padded base64 (RFC 4648, Section 4) of exactly 32 bytes, the
    /// encoding checkpoints, proofs and witness requests use.
    pub fn from_base64(s: &str) -> Result<Self, Error> {
        let bytes = STANDARD
            .decode(s)
            .map_err(|_| Error::Base64 { what: "hash" })?;
        Hash::from_slice(&bytes)
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl std::str::FromStr for Hash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Hash::from_hex(s)
    }
}

/// `MTH({d}) = SHA-256(0x00 || d)` (RFC 9162, Section 2.1.1). No allocation.
#[inline]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)` (RFC 9162, Section 2.1.1). No allocation.
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buf).into())
}

/// The Merkle Tree Hash of a list of leaf hashes, by the recursive definition of
/// RFC 9162, Section 2.1.1 (split at the largest power of two smaller than n).
/// Meant for tests and small inputs; the log uses [`crate::RightEdge`].
#[allow(
    clippy::indexing_slicing,
    reason = "the match arms give leaves.len() >= 2 here and 1 above; split_point(n) < n"
)]
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = crate::tree::split_point(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(Hash(Sha256::digest([]).into()), EMPTY_ROOT);
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(
            Hash::from_hex(&h.to_hex().to_uppercase()).unwrap(),
            h,
            "upper case accepted"
        );
        assert!(matches!(
            Hash::from_hex("zz"),
            Err(Error::HashLength { .. })
        ));
        let bad = "g".repeat(64);
        assert_eq!(Hash::from_hex(&bad), Err(Error::Hex));
    }

    #[test]
    fn base64_wrong_length_is_typed() {
        assert_eq!(
            Hash::from_base64("AAAA"),
            Err(Error::HashLength {
                expected: 32,
                found: 3
            })
        );
        assert_eq!(
            Hash::from_base64("!!!"),
            Err(Error::Base64 { what: "hash" })
        );
    }

    #[test]
    fn node_hash_matches_streaming_definition() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(a.0);
        h.update(b.0);
        assert_eq!(node_hash(&a, &b), Hash(h.finalize().into()));
    }
}
