//! Streamed hashing: SHA-256 and BLAKE3 of one file in a single pass over its bytes, as `vouch-digest` computes them, in this crate's digest types.
//!
//! Reading and the two hashes overlap (`vouch_digest::of_reader`): while chunk *n* is
//! hashed (SHA-256 and BLAKE3 as the two halves of a `rayon::join`), chunk *n+1* is read
//! into the other buffer, so one large file keeps both cores busy; when several files
//! are hashed from a `par_iter`, rayon's work stealing shares the same pool and never
//! oversubscribes it. Memory per file in flight is two chunks.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::digest::{Blake3, Sha256};

/// Bytes read per step.
pub const CHUNK_BYTES: usize = vouch_digest::CHUNK_BYTES;

/// The digests and size of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigests {
    pub size: u64,
    pub sha256: Sha256,
    pub blake3: Blake3,
}

/// Hashes everything `reader` yields (`vouch_digest::of_reader_with_progress`: reading
/// overlapped with hashing, SHA-256 and BLAKE3 on two cores). `progress` is called with
/// the byte count of each chunk once it is hashed; it must be cheap and may be called
/// from any rayon thread.
pub fn hash_reader<R: Read + Send>(
    reader: R,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<FileDigests> {
    let d = vouch_digest::of_reader_with_progress(reader, progress)?;
    Ok(FileDigests {
        size: d.size,
        sha256: Sha256::from_bytes(d.sha256),
        blake3: Blake3::from_bytes(d.blake3),
    })
}

/// Hashes one file; see [`hash_reader`].
pub fn hash_file(path: &Path, progress: &(dyn Fn(u64) + Sync)) -> io::Result<FileDigests> {
    hash_reader(File::open(path)?, progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn reference(data: &[u8]) -> FileDigests {
        FileDigests {
            size: data.len() as u64,
            sha256: Sha256::from_bytes(sha2::Sha256::digest(data).into()),
            blake3: Blake3::from_bytes(*blake3::hash(data).as_bytes()),
        }
    }

    /// The chunked, overlapped reading itself is `vouch-digest`'s and tested there
    /// (every chunk boundary, a reader that returns 7 bytes at a time); here: this
    /// crate's types carry the same digests, and progress adds up to the size.
    #[test]
    fn matches_one_shot_hashes_and_reports_progress() {
        let seen = AtomicU64::new(0);
        let data: Vec<u8> = (0..CHUNK_BYTES + 1).map(|i| (i * 31 % 251) as u8).collect();
        let d = hash_reader(&data[..], &|n| {
            seen.fetch_add(n, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(d, reference(&data));
        assert_eq!(seen.load(Ordering::Relaxed), data.len() as u64);
    }

    #[test]
    fn known_vector() {
        let d = hash_reader(&b"abc"[..], &|_| {}).unwrap();
        assert_eq!(
            d.sha256.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            d.blake3.to_hex(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }
}
