//! SHA-256 and BLAKE3 of the same bytes, in one pass: the one place vouch hashes content
//! for both (archives, blobs, release assets, downloaded files).
//!
//! SHA-256 is what in-toto subjects, `sha256sum` and forges name; BLAKE3 is the
//! registry's content address. Everything that needs both gets them here, from
//! [`Hasher`] (streaming, fed chunk by chunk), [`Hashing`] (a reader or writer that
//! hashes what passes through), [`of_reader`] / [`of_file`] (reading overlapped with
//! hashing) or [`of_bytes`].
//!
//! This crate sits below every other vouch crate that hashes content (`package`,
//! `store`, `release`, `ingest`, `integrity`, `registry`): it depends on nothing of
//! ours, so none of them gains a dependency it would not otherwise have.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::Digest as _;

/// Bytes read per step by [`of_reader`]. Large enough that the per-step join costs
/// well under 1% of the hashing time, small enough that both hashers read the chunk
/// from cache.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Chunks at least this long are hashed with SHA-256 and BLAKE3 on two threads by
/// [`Hasher::update_parallel`]; below it the join costs more than it saves.
pub const PARALLEL_MIN_BYTES: usize = 64 << 10;

/// The size and both digests of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digests {
    /// Length in bytes.
    pub size: u64,
    /// BLAKE3-256 (the registry's content address).
    pub blake3: [u8; 32],
    /// SHA-256 (the in-toto subject digest).
    pub sha256: [u8; 32],
}

impl Digests {
    /// BLAKE3 as lowercase hex.
    pub fn blake3_hex(&self) -> String {
        hex::encode(self.blake3)
    }

    /// SHA-256 as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// SHA-256 and BLAKE3 fed the same bytes, and their count.
#[derive(Clone, Default)]
pub struct Hasher {
    sha256: sha2::Sha256,
    blake3: blake3::Hasher,
    size: u64,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher with nothing fed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        self.blake3.update(chunk);
        self.size = self.size.saturating_add(chunk.len() as u64);
    }

    /// Feeds the next chunk, hashing SHA-256 and BLAKE3 on two rayon threads when it
    /// is at least [`PARALLEL_MIN_BYTES`] long. Same result as [`Hasher::update`].
    pub fn update_parallel(&mut self, chunk: &[u8]) {
        if chunk.len() < PARALLEL_MIN_BYTES {
            return self.update(chunk);
        }
        let (sha, b3) = (&mut self.sha256, &mut self.blake3);
        rayon::join(
            || sha.update(chunk),
            || {
                b3.update(chunk);
            },
        );
        self.size = self.size.saturating_add(chunk.len() as u64);
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digests of everything fed.
    pub fn finalize(self) -> Digests {
        Digests {
            size: self.size,
            blake3: *self.blake3.finalize().as_bytes(),
            sha256: self.sha256.finalize().into(),
        }
    }
}

/// The digests of bytes already in memory.
pub fn of_bytes(bytes: &[u8]) -> Digests {
    let mut h = Hasher::new();
    h.update_parallel(bytes);
    h.finalize()
}

/// Hashes everything `reader` yields, reading chunk *n+1* while chunk *n* is hashed
/// (SHA-256 and BLAKE3 as the two halves of a `rayon::join`): with two cores SHA-256
/// runs on one and reading plus BLAKE3 on the other. When several readers are hashed
/// from a `par_iter`, rayon's work stealing shares the same pool and never
/// oversubscribes it. Memory: two chunks of [`CHUNK_BYTES`].
pub fn of_reader<R: Read + Send>(reader: R) -> io::Result<Digests> {
    of_reader_with_progress(reader, &|_| {})
}

/// [`of_reader`], calling `progress` with the byte count of each chunk once it is
/// hashed; it must be cheap and may be called from any rayon thread.
pub fn of_reader_with_progress<R: Read + Send>(
    mut reader: R,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<Digests> {
    let mut hasher = Hasher::new();
    let mut current = vec![0u8; CHUNK_BYTES];
    let mut next = vec![0u8; CHUNK_BYTES];
    let mut filled = read_full(&mut reader, &mut current)?;
    while filled > 0 {
        let chunk = current.get(..filled).unwrap_or_default();
        let (read_next, ()) = rayon::join(
            || read_full(&mut reader, &mut next),
            || hasher.update_parallel(chunk),
        );
        progress(filled as u64);
        filled = read_next?;
        std::mem::swap(&mut current, &mut next);
    }
    Ok(hasher.finalize())
}

/// Hashes one file; see [`of_reader`].
pub fn of_file(path: &Path) -> io::Result<Digests> {
    of_reader(File::open(path)?)
}

/// Fills `buf` unless the reader ends first; returns how many bytes were read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A reader or writer that hashes and counts everything passing through it.
#[derive(Debug)]
pub struct Hashing<T> {
    inner: T,
    hasher: Hasher,
}

impl<T> Hashing<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// The wrapped reader or writer.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Bytes passed through so far.
    pub fn size(&self) -> u64 {
        self.hasher.size()
    }

    /// The wrapped value and the digests of everything that passed through.
    pub fn finish(self) -> (T, Digests) {
        (self.inner, self.hasher.finalize())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC_BLAKE3: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

    fn reference(data: &[u8]) -> Digests {
        Digests {
            size: data.len() as u64,
            sha256: sha2::Sha256::digest(data).into(),
            blake3: *blake3::hash(data).as_bytes(),
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
    fn known_vector_by_every_path() {
        let d = of_bytes(b"abc");
        assert_eq!(
            (d.sha256_hex().as_str(), d.blake3_hex().as_str()),
            (ABC_SHA256, ABC_BLAKE3)
        );
        assert_eq!(d.size, 3);
        let mut h = Hasher::new();
        h.update(b"ab");
        h.update_parallel(b"c");
        assert_eq!(h.finalize(), d);
        assert_eq!(of_reader(&b"abc"[..]).unwrap(), d);
        let mut w = Hashing::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (written, dw) = w.finish();
        assert_eq!((written.as_slice(), dw), (&b"abc"[..], d));
    }

    #[test]
    fn streaming_matches_one_shot_across_chunk_boundaries() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let seen = AtomicU64::new(0);
        let count = |n| {
            seen.fetch_add(n, Ordering::Relaxed);
        };
        for len in [
            0,
            1,
            PARALLEL_MIN_BYTES,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES + 5,
        ] {
            seen.store(0, Ordering::Relaxed);
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            assert_eq!(
                of_reader_with_progress(&data[..], &count).unwrap(),
                reference(&data),
                "{len}"
            );
            assert_eq!(seen.load(Ordering::Relaxed), len as u64);
            assert_eq!(of_bytes(&data), reference(&data), "{len}");
            let mut r = Hashing::new(&data[..]);
            io::copy(&mut r, &mut io::sink()).unwrap();
            assert_eq!(r.finish().1, reference(&data), "{len}");
        }
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        assert_eq!(of_reader(Dribble(&data)).unwrap(), reference(&data));
    }

    #[test]
    fn of_file_reads_the_whole_file_and_reports_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("vouch-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(of_file(&path).unwrap(), of_bytes(b"abc"));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(of_file(&path).unwrap_err().kind(), io::ErrorKind::NotFound);
        let _ = std::fs::remove_dir(&dir);
    }
}
