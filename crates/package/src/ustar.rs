//! A strict reader for the tar subset that `write` produces, and nothing more.
//!
//! Accepted: POSIX ustar headers (magic `ustar\0`, version `00`) with valid checksums
//! and octal numbers; a PAX `x` header (at most [`MAX_PAX_BYTES`], records `path` and
//! `size` only, each once) directly before the entry it describes; the end marker of
//! two zero blocks. Everything else, GNU long names, base-256 numbers, chained PAX
//! headers, unknown PAX records, is refused: a second parser (GNU tar, libarchive)
//! must never be able to read a different file list from the same bytes.
//!
//! Entry types are passed up unjudged; `read` decides which are acceptable.

use crate::read::Limiter;
use crate::Error;

const BLOCK: usize = 512;
/// The largest PAX header body accepted: it is held in memory.
pub(crate) const MAX_PAX_BYTES: u64 = 64 * 1024;

/// One entry's header, after any PAX header was applied.
pub(crate) struct RawEntry {
    pub(crate) path: Vec<u8>,
    pub(crate) link: Vec<u8>,
    pub(crate) size: u64,
    pub(crate) mode: u64,
    pub(crate) type_flag: u8,
}

/// Reads headers and entry data from a decompressed tar stream.
pub(crate) struct UstarReader<R: std::io::Read> {
    src: Limiter<R>,
    /// Bytes of the tar stream consumed so far.
    offset: u64,
    /// Data bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
}

impl<R: std::io::Read> UstarReader<R> {
    pub(crate) fn new(src: Limiter<R>) -> Self {
        Self {
            src,
            offset: 0,
            remaining: 0,
            padding: 0,
        }
    }

    /// The next entry, or `None` at the end-of-archive marker. Skips whatever of the
    /// previous entry's data was not read.
    pub(crate) fn next_entry(&mut self) -> Result<Option<RawEntry>, Error> {
        self.skip_rest()?;
        let at = self.offset;
        let Some(header) = self.block("truncated header")? else {
            return Err(malformed(at, "missing end-of-archive marker"));
        };
        if header.iter().all(|&b| b == 0) {
            match self.block("truncated end-of-archive marker")? {
                Some(second) if second.iter().all(|&b| b == 0) => return Ok(None),
                Some(_) => return Err(malformed(at, "single zero block before more data")),
                None => return Err(malformed(at, "truncated end-of-archive marker")),
            }
        }
        let mut fields = parse_header(&header, at)?;
        if fields.type_flag != b'x' {
            self.remaining = fields.size;
            self.padding = pad(fields.size);
            return Ok(Some(fields));
        }

        // A PAX header: read its records, then the entry it describes.
        if fields.size > MAX_PAX_BYTES {
            return Err(malformed(at, "pax header too large"));
        }
        let mut body = vec![0u8; fields.size as usize];
        self.remaining = fields.size;
        self.padding = pad(fields.size);
        let got = self.fill(&mut body)?;
        self.remaining -= got as u64;
        if got != body.len() {
            return Err(malformed(at, "truncated pax header"));
        }
        let (path, size) = parse_pax(&body, at)?;
        self.skip_rest()?;
        let at = self.offset;
        let header = self
            .block("truncated header")?
            .ok_or(malformed(at, "pax header without an entry"))?;
        fields = parse_header(&header, at)?;
        if fields.type_flag == b'x' || header.iter().all(|&b| b == 0) {
            return Err(malformed(at, "pax header without an entry"));
        }
        if let Some(path) = path {
            fields.path = path;
        }
        if let Some(size) = size {
            fields.size = size;
        }
        self.remaining = fields.size;
        self.padding = pad(fields.size);
        Ok(Some(fields))
    }

    /// Reads the current entry's data; `Ok(0)` at its end (or at a premature EOF,
    /// which the caller sees as fewer bytes than the header's size).
    #[allow(clippy::indexing_slicing, reason = "want = min(buf.len(), remaining)")]
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.src.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        self.offset += n as u64;
        Ok(n)
    }

    /// The source, positioned after the end-of-archive marker.
    pub(crate) fn into_inner(self) -> Limiter<R> {
        self.src
    }

    #[allow(clippy::indexing_slicing, reason = "want = min(sink.len(), padding)")]
    fn skip_rest(&mut self) -> Result<(), Error> {
        let mut sink = [0u8; 8192];
        while self.remaining > 0 {
            let at = self.offset;
            if self.read_data(&mut sink)? == 0 {
                return Err(malformed(at, "truncated entry data"));
            }
        }
        while self.padding > 0 {
            let want = sink.len().min(self.padding as usize);
            let n = self.src.read(&mut sink[..want])?;
            if n == 0 {
                return Err(malformed(self.offset, "truncated entry padding"));
            }
            self.padding -= n as u64;
            self.offset += n as u64;
        }
        Ok(())
    }

    /// One whole block; `None` at a clean EOF before its first byte.
    fn block(&mut self, truncated: &'static str) -> Result<Option<[u8; BLOCK]>, Error> {
        let mut b = [0u8; BLOCK];
        let at = self.offset;
        match self.fill(&mut b)? {
            0 => Ok(None),
            BLOCK => Ok(Some(b)),
            _ => Err(malformed(at, truncated)),
        }
    }

    /// Reads until `buf` is full or the source ends; returns the count.
    #[allow(
        clippy::indexing_slicing,
        reason = "got < buf.len() is the loop condition"
    )]
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut got = 0;
        while got < buf.len() {
            let n = self.src.read(&mut buf[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        self.offset += got as u64;
        Ok(got)
    }
}

fn malformed(offset: u64, reason: &'static str) -> Error {
    Error::MalformedTar { offset, reason }
}

fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn parse_header(h: &[u8; BLOCK], at: u64) -> Result<RawEntry, Error> {
    let stored = octal(&h[148..156]).ok_or(malformed(at, "invalid checksum field"))?;
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(b)
            }
        })
        .sum();
    if stored != sum {
        return Err(malformed(at, "header checksum mismatch"));
    }
    if &h[257..263] != b"ustar\0" || &h[263..265] != b"00" {
        return Err(malformed(at, "not a posix ustar header"));
    }
    let size = octal(&h[124..136]).ok_or(malformed(at, "invalid size field"))?;
    let mode = octal(&h[100..108]).ok_or(malformed(at, "invalid mode field"))?;
    let name = until_nul(&h[..100]);
    let prefix = until_nul(&h[345..500]);
    let path = if prefix.is_empty() {
        name.to_vec()
    } else {
        [prefix, b"/", name].concat()
    };
    Ok(RawEntry {
        path,
        link: until_nul(&h[157..257]).to_vec(),
        size,
        mode,
        type_flag: h[156],
    })
}

#[allow(
    clippy::indexing_slicing,
    reason = "end comes from position() on field, or is its length"
)]
fn until_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// An octal number field: optional leading spaces, digits, then NUL/space padding.
/// Base-256 (GNU) and empty fields are refused.
#[allow(
    clippy::indexing_slicing,
    reason = "start and end come from position() on the slice they index, or are its length"
)]
fn octal(field: &[u8]) -> Option<u64> {
    let trimmed = {
        let start = field.iter().position(|&b| b != b' ')?;
        let rest = &field[start..];
        let end = rest
            .iter()
            .position(|&b| b == 0 || b == b' ')
            .unwrap_or(rest.len());
        if rest[end..].iter().any(|&b| b != 0 && b != b' ') {
            return None;
        }
        &rest[..end]
    };
    if trimmed.is_empty() {
        return None;
    }
    trimmed.iter().try_fold(0u64, |acc, &b| {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        acc.checked_mul(8)?.checked_add(u64::from(b - b'0'))
    })
}

/// Parses PAX records (`"<len> <key>=<value>\n"`), keeping `path` and `size`.
#[allow(
    clippy::indexing_slicing,
    reason = "space and eq come from position() on the slice they index, and space + 1 < len <= body.len() is checked"
)]
fn parse_pax(mut body: &[u8], at: u64) -> Result<(Option<Vec<u8>>, Option<u64>), Error> {
    let (mut path, mut size) = (None, None);
    while !body.is_empty() {
        let space = body
            .iter()
            .position(|&b| b == b' ')
            .ok_or(malformed(at, "pax record without a length"))?;
        let len: usize = std::str::from_utf8(&body[..space])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or(malformed(at, "invalid pax record length"))?;
        if len <= space + 1 || len > body.len() || body[len - 1] != b'\n' {
            return Err(malformed(at, "invalid pax record length"));
        }
        let record = &body[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or(malformed(at, "pax record without `=`"))?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" if path.is_none() => path = Some(value.to_vec()),
            b"size" if size.is_none() => {
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse().ok())
                    .ok_or(malformed(at, "invalid pax size"))?;
                size = Some(parsed);
            }
            b"path" | b"size" => return Err(malformed(at, "repeated pax record")),
            _ => {
                return Err(Error::UnsupportedPaxRecord {
                    key: String::from_utf8_lossy(key).into_owned(),
                    offset: at,
                })
            }
        }
        body = &body[len..];
    }
    Ok((path, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields() {
        assert_eq!(octal(b"0000644\0"), Some(0o644));
        assert_eq!(octal(b"   644 \0"), Some(0o644));
        assert_eq!(octal(b"\0\0\0\0"), None);
        assert_eq!(octal(b"0008\0"), None);
        assert_eq!(octal(b"06 4\0"), None);
        assert_eq!(octal(b"\x80\0\0\0\0\0\0\x01"), None);
        assert_eq!(octal(b"77777777777777777777777"), None, "overflow");
    }

    #[test]
    fn pax_records() {
        assert_eq!(
            parse_pax(b"12 path=a/b\n", 0).unwrap(),
            (Some(b"a/b".to_vec()), None)
        );
        assert_eq!(parse_pax(b"11 size=42\n", 0).unwrap(), (None, Some(42)));
        for bad in [
            &b"12 path=a/b"[..],
            b"99 path=x\n",
            b"x path=a\n",
            b"5 a\n",
            b"12 path=a/b\n12 path=a/c\n",
        ] {
            assert_eq!(parse_pax(bad, 0).unwrap_err().code(), "PKG_E018", "{bad:?}");
        }
        assert_eq!(
            parse_pax(b"15 linkpath=/x\n", 0).unwrap_err().code(),
            "PKG_E031"
        );
    }
}
