//! Streamed hashing: SHA-256 and BLAKE3 of one file in a single pass over its bytes.
//!
//! Reading and the two hashes overlap. The file is read in fixed chunks into two buffers
//! that take turns: while chunk *n* is hashed (SHA-256 and BLAKE3 as the two halves of a
//! `rayon::join`), chunk *n+1* is read into the other buffer. With two cores SHA-256 runs
//! on one and reading plus BLAKE3 on the other, so one large file keeps both busy; when
//! several files are hashed from a `par_iter`, rayon's work stealing shares the same pool
//! and never oversubscribes it. Memory per file in flight is two chunks.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::Digest as _;

use crate::digest::{Blake3, Sha256};

/// Bytes read per step. Large enough that the per-step join costs well under 1% of the
/// hashing time, small enough that both hashers read the chunk from cache.
pub const CHUNK_BYTES: usize = 1 << 20;

/// The digests and size of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigests {
    pub size: u64,
    pub sha256: Sha256,
    pub blake3: Blake3,
}

/// Hashes everything `reader` yields. `progress` is called with the byte count of each
/// chunk once it is hashed; it must be cheap and may be called from any rayon thread.
pub fn hash_reader<R: Read + Send>(
    mut reader: R,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<FileDigests> {
    let mut sha = sha2::Sha256::new();
    let mut b3 = blake3::Hasher::new();
    let mut current = vec![0u8; CHUNK_BYTES];
    let mut next = vec![0u8; CHUNK_BYTES];
    let mut size: u64 = 0;
    let mut filled = read_full(&mut reader, &mut current)?;
    while filled > 0 {
        let chunk = &current[..filled];
        let (read_next, ()) = rayon::join(
            || read_full(&mut reader, &mut next),
            || {
                rayon::join(
                    || sha.update(chunk),
                    || {
                        b3.update(chunk);
                    },
                );
            },
        );
        size += filled as u64;
        progress(filled as u64);
        filled = read_next?;
        std::mem::swap(&mut current, &mut next);
    }
    Ok(FileDigests {
        size,
        sha256: Sha256::from_bytes(sha.finalize().into()),
        blake3: Blake3::from_bytes(*b3.finalize().as_bytes()),
    })
}

/// Hashes one file; see [`hash_reader`].
pub fn hash_file(path: &Path, progress: &(dyn Fn(u64) + Sync)) -> io::Result<FileDigests> {
    hash_reader(File::open(path)?, progress)
}

/// Fills `buf` unless the reader ends first; returns how many bytes were read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
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
