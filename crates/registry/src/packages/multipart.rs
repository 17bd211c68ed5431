//! A streaming `multipart/form-data` reader (RFC 7578 over RFC 2046 section 5.1) for the publish upload: parts come out as chunks, so an archive never has to sit whole in memory.
//!
//! Strict where leniency would only hide mistakes: the boundary must be announced in
//! the Content-Type, every part needs a `Content-Disposition: form-data; name=...`,
//! part headers are capped, and a body that ends before the closing delimiter is an
//! error. The whole body is capped too (counted as it arrives).

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

/// Most bytes of headers one part may have.
const MAX_PART_HEADERS: usize = 16 << 10;
/// Most bytes of preamble before the first delimiter.
const MAX_PREAMBLE: usize = 16 << 10;

/// Why the body could not be read as multipart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// Not multipart/form-data, or malformed framing (what is wrong is said).
    Malformed(String),
    /// The body is longer than the limit.
    TooLarge { limit: u64 },
    /// The connection failed while reading.
    Read(String),
}

impl std::fmt::Display for MultipartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MultipartError::Malformed(d) => write!(f, "malformed multipart body: {d}"),
            MultipartError::TooLarge { limit } => {
                write!(f, "the upload is over the limit of {limit} bytes")
            }
            MultipartError::Read(d) => write!(f, "reading the upload failed: {d}"),
        }
    }
}

fn malformed<T>(d: impl Into<String>) -> Result<T, MultipartError> {
    Err(MultipartError::Malformed(d.into()))
}

/// The boundary of a `multipart/form-data; boundary=...` Content-Type.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return malformed(format!(
            "expected Content-Type multipart/form-data, found {mime:?}"
        ));
    }
    for p in params {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("boundary") {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                // RFC 2046: 1 to 70 characters, not ending in a space.
                if v.is_empty() || v.len() > 70 || v.ends_with(' ') || !v.is_ascii() {
                    return malformed("the boundary must be 1 to 70 ASCII characters");
                }
                return Ok(v.to_owned());
            }
        }
    }
    malformed("the Content-Type names no boundary")
}

/// One part's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field name.
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Just after a delimiter: `--` (the end) or CRLF and headers follow.
    AfterDelimiter,
    /// Inside a part's data.
    Data,
    /// After the closing delimiter.
    Done,
}

/// The reader. Call [`Multipart::next_part`], then [`Multipart::chunk`] until it
/// returns `None`; unread data of a part is skipped by the next `next_part`.
pub struct Multipart<S> {
    stream: S,
    buf: BytesMut,
    /// `\r\n--BOUNDARY`.
    delimiter: Vec<u8>,
    state: State,
    read: u64,
    limit: u64,
    eof: bool,
}

impl<S, E> Multipart<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub fn new(stream: S, boundary: &str, limit: u64) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        // A CRLF in front lets the first delimiter (which may open the body) be found
        // the same way as the others.
        let mut buf = BytesMut::with_capacity(64 << 10);
        buf.extend_from_slice(b"\r\n");
        Multipart {
            stream,
            buf,
            delimiter,
            state: State::Preamble,
            read: 0,
            limit,
            eof: false,
        }
    }

    /// Bytes of body read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Reads more of the body into the buffer; `false` at the end.
    async fn fill(&mut self) -> Result<bool, MultipartError> {
        if self.eof {
            return Ok(false);
        }
        match self.stream.next().await {
            Some(Ok(chunk)) => {
                self.read += chunk.len() as u64;
                if self.read > self.limit {
                    return Err(MultipartError::TooLarge { limit: self.limit });
                }
                self.buf.extend_from_slice(&chunk);
                Ok(true)
            }
            Some(Err(e)) => Err(MultipartError::Read(e.to_string())),
            None => {
                self.eof = true;
                Ok(false)
            }
        }
    }

    /// The next part's headers, or `None` after the closing delimiter.
    pub async fn next_part(&mut self) -> Result<Option<Part>, MultipartError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Data => while self.chunk().await?.is_some() {},
                State::Preamble => {
                    if let Some(p) = memchr::memmem::find(&self.buf, &self.delimiter) {
                        self.buf.advance(p + self.delimiter.len());
                        self.state = State::AfterDelimiter;
                    } else {
                        if self.buf.len() > MAX_PREAMBLE + self.delimiter.len() {
                            return malformed("no boundary delimiter at the start of the body");
                        }
                        if !self.fill().await? {
                            return malformed("the body holds no boundary delimiter");
                        }
                    }
                }
                State::AfterDelimiter => {
                    while self.buf.len() < 2 {
                        if !self.fill().await? {
                            return malformed("the body ends right after a delimiter");
                        }
                    }
                    if self.buf.starts_with(b"--") {
                        // The closing delimiter; the epilogue is ignored (RFC 2046).
                        self.state = State::Done;
                        return Ok(None);
                    }
                    return self.headers().await.map(Some);
                }
            }
        }
    }

    /// Reads the CRLF after a delimiter and the part's headers up to the empty line.
    #[allow(
        clippy::indexing_slicing,
        reason = "start + 2 <= buf.len() is checked before slicing; p comes from find in buf[start..], so to <= buf.len() and to - 2 >= from"
    )]
    async fn headers(&mut self) -> Result<Part, MultipartError> {
        let end = loop {
            // RFC 2046 allows linear whitespace between the boundary and its CRLF.
            let start = self
                .buf
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .unwrap_or(self.buf.len());
            if self.buf.len() >= start + 2 {
                if &self.buf[start..start + 2] != b"\r\n" {
                    return malformed("a delimiter is not followed by CRLF");
                }
                // Headers then end at the first CRLFCRLF, or right away with none.
                let rest = &self.buf[start..];
                if rest.starts_with(b"\r\n\r\n") {
                    break (start + 2, start + 4);
                }
                if let Some(p) = memchr::memmem::find(rest, b"\r\n\r\n") {
                    break (start + 2, start + p + 4);
                }
            }
            if self.buf.len() > MAX_PART_HEADERS {
                return malformed(format!(
                    "part headers are longer than {MAX_PART_HEADERS} bytes"
                ));
            }
            if !self.fill().await? {
                return malformed("the body ends inside part headers");
            }
        };
        let (from, to) = end;
        let raw = self.buf[from..to - 4 + 2].to_vec();
        self.buf.advance(to);
        self.state = State::Data;
        parse_headers(&raw)
    }

    /// The next chunk of the current part's data, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        if self.state != State::Data {
            return Ok(None);
        }
        loop {
            if let Some(p) = memchr::memmem::find(&self.buf, &self.delimiter) {
                if p > 0 {
                    return Ok(Some(self.buf.split_to(p).freeze()));
                }
                self.buf.advance(self.delimiter.len());
                self.state = State::AfterDelimiter;
                return Ok(None);
            }
            // Everything but a possible partial delimiter at the end is data.
            let keep = self.delimiter.len() - 1;
            if self.buf.len() > keep {
                let n = self.buf.len() - keep;
                return Ok(Some(self.buf.split_to(n).freeze()));
            }
            if !self.fill().await? {
                return malformed("the body ends inside a part (no closing delimiter)");
            }
        }
    }
}

/// Parses `Name: value` lines (each ending in CRLF).
fn parse_headers(raw: &[u8]) -> Result<Part, MultipartError> {
    let text = std::str::from_utf8(raw).or_else(|_| malformed("part headers are not UTF-8"))?;
    let mut disposition = None;
    let mut content_type = None;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return malformed(format!("part header line without a colon: {line:?}"));
        };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("content-disposition") {
            if disposition.is_some() {
                return malformed("a part has two Content-Disposition headers");
            }
            disposition = Some(value.to_owned());
        } else if name.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        }
    }
    let Some(disposition) = disposition else {
        return malformed("a part has no Content-Disposition header");
    };
    let (kind, params) = disposition
        .split_once(';')
        .unwrap_or((disposition.as_str(), ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return malformed(format!(
            "expected Content-Disposition form-data, found {:?}",
            kind.trim()
        ));
    }
    let params = disposition_params(params)?;
    let name = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("name"))
        .map(|(_, v)| v.clone())
        .ok_or_else(|| MultipartError::Malformed("a part has no name".into()))?;
    let filename = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filename"))
        .map(|(_, v)| v.clone());
    Ok(Part {
        name,
        filename,
        content_type,
    })
}

/// `; key=value; key="quoted \"value\""` pairs.
fn disposition_params(s: &str) -> Result<Vec<(String, String)>, MultipartError> {
    let mut out = Vec::new();
    let mut rest = s.trim_start_matches([' ', '\t', ';']);
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            return malformed(format!(
                "Content-Disposition parameter without a value: {rest:?}"
            ));
        };
        let key = key.trim().to_owned();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e)) => value.push(e),
                        None => break,
                    },
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let Some(end) = end else {
                return malformed("unterminated quoted Content-Disposition parameter");
            };
            (value, &q[end..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.push((key, value));
        rest = tail.trim_start_matches([' ', '\t', ';']);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body(parts: &[(&str, &[u8])], boundary: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, data) in parts {
            b.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            b.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        b
    }

    async fn read_all(
        bytes: Vec<u8>,
        split: usize,
        boundary: &str,
        limit: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, MultipartError> {
        let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
            .chunks(split.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut mp = Multipart::new(futures_util::stream::iter(chunks), boundary, limit);
        let mut out = Vec::new();
        while let Some(part) = mp.next_part().await? {
            let mut data = Vec::new();
            while let Some(c) = mp.chunk().await? {
                data.extend_from_slice(&c);
            }
            out.push((part.name, data));
        }
        Ok(out)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").unwrap(),
            "abc"
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=x; boundary=\"a b\"").unwrap(),
            "a b"
        );
        for bad in [
            "application/json",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/mixed; boundary=x",
        ] {
            assert!(boundary(bad).is_err(), "{bad}");
        }
        assert!(boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))).is_err());
    }

    #[test]
    fn reads_parts_whatever_the_chunking() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let b = body(&[("archive", &data), ("bundle", b"{}")], "XyZ");
        for split in [1, 2, 3, 7, 64, 1000, 100_000] {
            let parts = run(read_all(b.clone(), split, "XyZ", 1 << 20)).unwrap();
            assert_eq!(parts.len(), 2, "split {split}");
            assert_eq!(parts[0], ("archive".to_owned(), data.clone()));
            assert_eq!(parts[1], ("bundle".to_owned(), b"{}".to_vec()));
        }
    }

    #[test]
    fn data_that_looks_like_a_delimiter_prefix_survives() {
        let tricky = b"a\r\n--XyZnot-quite\r\n--Xy".to_vec();
        let b = body(&[("archive", &tricky)], "XyZ-");
        let parts = run(read_all(b, 3, "XyZ-", 1 << 20)).unwrap();
        assert_eq!(parts[0].1, tricky);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let good = body(&[("archive", b"abc")], "B");
        // Truncated before the closing delimiter.
        let cut = good[..good.len() - 8].to_vec();
        assert!(matches!(
            run(read_all(cut, 5, "B", 1 << 20)),
            Err(MultipartError::Malformed(_))
        ));
        // No delimiter at all.
        assert!(run(read_all(b"hello".to_vec(), 5, "B", 1 << 20)).is_err());
        // No Content-Disposition.
        let b = b"--B\r\nContent-Type: x\r\n\r\nabc\r\n--B--\r\n".to_vec();
        assert!(run(read_all(b, 4, "B", 1 << 20)).is_err());
        // Not form-data.
        let b = b"--B\r\nContent-Disposition: attachment; name=a\r\n\r\nabc\r\n--B--".to_vec();
        assert!(run(read_all(b, 4, "B", 1 << 20)).is_err());
        // Over the limit.
        assert_eq!(
            run(read_all(good, 5, "B", 10)),
            Err(MultipartError::TooLarge { limit: 10 })
        );
    }

    #[test]
    fn quoted_parameters_and_preamble() {
        let b = b"preamble\r\n--B\r\ncontent-disposition: form-data; name=\"a\\\"b\"; filename=x.tar\r\n\r\n1\r\n--B--".to_vec();
        let parts = run(read_all(b, 2, "B", 1 << 20)).unwrap();
        assert_eq!(parts, vec![("a\"b".to_owned(), b"1".to_vec())]);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bodies(data in proptest::collection::vec(any::<u8>(), 0..400), split in 1usize..50) {
            let _ = run(read_all(data, split, "B", 1 << 20));
        }

        #[test]
        fn round_trips_arbitrary_data(a in proptest::collection::vec(any::<u8>(), 0..600), c in proptest::collection::vec(any::<u8>(), 0..60), split in 1usize..70) {
            let b = body(&[("archive", &a), ("bundle", &c)], "bNd_42");
            let parts = run(read_all(b, split, "bNd_42", 1 << 20)).unwrap();
            prop_assert_eq!(&parts[0].1, &a);
            prop_assert_eq!(&parts[1].1, &c);
        }
    }
}
