//! BLAKE3 and SHA-256 of a byte stream, computed in the same pass that writes or reads it.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

/// Size and digests of a compressed archive, as published and indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Hashes and counts everything that passes through, in either direction.
pub(crate) struct Hashing<T> {
    inner: T,
    size: u64,
    blake3: blake3::Hasher,
    sha256: Sha256,
}

impl<T> Hashing<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            size: 0,
            blake3: blake3::Hasher::new(),
            sha256: Sha256::new(),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.blake3.update(bytes);
        self.sha256.update(bytes);
    }

    pub(crate) fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    pub(crate) fn finish(self) -> (T, Digests) {
        let digests = Digests {
            size: self.size,
            blake3: *self.blake3.finalize().as_bytes(),
            sha256: self.sha256.finalize().into(),
        };
        (self.inner, digests)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.update(&buf[..n]);
        Ok(n)
    }
}

impl<T> Hashing<T> {
    /// Bytes passed through so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}
