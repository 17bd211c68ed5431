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

    /// A reader that hands out at most 7 bytes per call, to exercise `read_full`.
    struct Dribble<'a>(&'a [u8]);
    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(7);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn matches_one_shot_hashes_across_chunk_boundaries() {
        let seen = AtomicU64::new(0);
        let count = |n| {
            seen.fetch_add(n, Ordering::Relaxed);
        };
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES + 5,
        ] {
            seen.store(0, Ordering::Relaxed);
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            assert_eq!(
                hash_reader(&data[..], &count).unwrap(),
                reference(&data),
                "{len}"
            );
            assert_eq!(seen.load(Ordering::Relaxed), len as u64);
        }
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        assert_eq!(
            hash_reader(Dribble(&data), &|_| {}).unwrap(),
            reference(&data)
        );
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
