//! Writing the deterministic archive: hand-built ustar/PAX headers, zstd level 19.
//!
//! Format (a change to any of this changes every archive's digest, and the golden
//! test in `tests/determinism.rs` fails on purpose):
//! - POSIX ustar; a path that does not fit the 100-byte name field (or a ustar
//!   prefix/name split) gets a PAX `x` header named `././@PaxHeader` carrying `path`;
//!   a file of 8 GiB or more gets a PAX `size` record. No GNU extensions.
//! - Regular files only, sorted by path bytes; no directory entries (extraction creates
//!   parents), no links of any kind.
//! - mtime 0, uid/gid 0, empty uname/gname, device fields zero, mode 0644, or 0755 when
//!   any execute bit was set on the source file.
//! - The tar ends with two zero blocks and no record padding.
//! - zstd level 19, single-threaded, one frame with the content size and the content
//!   checksum, no dictionary ID, no long-distance matching. The bundled libzstd is
//!   statically linked, so the bytes depend on the `zstd-sys` version only.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::digest::{Digests, Hashing};
use crate::walk::collect;
use crate::{EntryInfo, Error, Filter, Manifest};

const BLOCK: u64 = 512;
/// The largest size the 11-digit octal ustar field holds.
const USTAR_MAX_SIZE: u64 = 0o777_7777_7777;
/// How the output stream is named in [`Error::Io`].
const OUTPUT: &str = "<archive output>";
/// zstd's level for published archives (DESIGN.md, flow 1).
pub const ZSTD_LEVEL: i32 = 19;

/// The result of packing: what went in and the digests of what came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The packed files in archive order.
    pub files: Vec<EntryInfo>,
    /// Length of the tar stream before compression.
    pub uncompressed_size: u64,
    /// Size, BLAKE3 and SHA-256 of the compressed archive.
    pub digests: Digests,
}

/// Packs the files under `root` selected by `filter` into `out`.
///
/// `skip` names the archive file being written, if it may lie inside `root`.
/// `out` receives exactly the archive bytes; wrap it in a `BufWriter` if it is a file.
pub fn pack<W: Write>(
    root: &Path,
    filter: &Filter,
    skip: Option<&Path>,
    out: W,
) -> Result<Packed, Error> {
    let files = collect(root, filter, skip)?;
    let layouts: Vec<Layout> = files.iter().map(|(f, _)| Layout::of(f)).collect();
    let tar_size = layouts.iter().map(Layout::len).sum::<u64>() + 2 * BLOCK;

    let out_err = |e| Error::io(OUTPUT, e);
    let mut enc =
        zstd::stream::write::Encoder::new(Hashing::new(out), ZSTD_LEVEL).map_err(out_err)?;
    enc.include_checksum(true).map_err(out_err)?;
    enc.include_contentsize(true).map_err(out_err)?;
    enc.include_dictid(false).map_err(out_err)?;
    enc.long_distance_matching(false).map_err(out_err)?;
    enc.set_pledged_src_size(Some(tar_size)).map_err(out_err)?;

    let mut buf = vec![0u8; 64 * 1024];
    for ((file, source), layout) in files.iter().zip(&layouts) {
        if let Some(pax) = &layout.pax {
            enc.write_all(&header("././@PaxHeader", pax.len() as u64, b'x', 0o644))
                .map_err(out_err)?;
            enc.write_all(pax).map_err(out_err)?;
            enc.write_all(&zeros(pax.len() as u64)).map_err(out_err)?;
        }
        let mode = if file.executable { 0o755 } else { 0o644 };
        let size_field = if file.size > USTAR_MAX_SIZE {
            0
        } else {
            file.size
        };
        enc.write_all(&header(&layout.name, size_field, b'0', mode))
            .map_err(out_err)?;
        copy_exact(source, file.size, &mut enc, &mut buf)?;
        enc.write_all(&zeros(file.size)).map_err(out_err)?;
    }
    enc.write_all(&[0u8; 2 * BLOCK as usize]).map_err(out_err)?;
    let mut hashing = enc.finish().map_err(out_err)?;
    hashing.inner_mut().flush().map_err(out_err)?;
    let (_, digests) = hashing.finish();
    Ok(Packed {
        files: files.into_iter().map(|(f, _)| f).collect(),
        uncompressed_size: tar_size,
        digests,
    })
}

/// Packs the package at `root` as its manifest says into the file `out_path`
/// (created or truncated; removed again if packing fails).
pub fn pack_to_file(root: &Path, manifest: &Manifest, out_path: &Path) -> Result<Packed, Error> {
    let file = File::create(out_path).map_err(|e| Error::io(out_path, e))?;
    let result = pack(
        root,
        manifest.filter(),
        Some(out_path),
        io::BufWriter::new(file),
    );
    if result.is_err() {
        // Best effort: the error being returned matters more than a failed cleanup.
        let _ = std::fs::remove_file(out_path);
    }
    result
}

/// Copies exactly `size` bytes of `source`, failing if it grew or shrank meanwhile.
#[allow(
    clippy::indexing_slicing,
    reason = "n never exceeds buf.len(): Read::read returns at most the length it is given"
)]
fn copy_exact<W: Write>(
    source: &Path,
    size: u64,
    out: &mut W,
    buf: &mut [u8],
) -> Result<(), Error> {
    let file = File::open(source).map_err(|e| Error::io(source, e))?;
    let mut reader = file.take(size + 1);
    let mut copied = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(source, e)),
        };
        copied += n as u64;
        if copied > size {
            break;
        }
        out.write_all(&buf[..n]).map_err(|e| Error::io(OUTPUT, e))?;
    }
    if copied != size {
        return Err(Error::FileChanged {
            path: source.to_owned(),
            expected: size,
            found: copied,
        });
    }
    Ok(())
}

/// How one file is laid out: its header name field and optional PAX records.
struct Layout {
    name: String,
    pax: Option<Vec<u8>>,
    size: u64,
}

impl Layout {
    fn of(file: &EntryInfo) -> Self {
        let mut records = Vec::new();
        let name = match ustar_name(&file.path) {
            Some(name) => name,
            None => {
                records.extend(pax_record("path", &file.path));
                // Readers that honour PAX ignore this; others get a recognisable stub.
                truncate_utf8(&file.path, 100).to_owned()
            }
        };
        if file.size > USTAR_MAX_SIZE {
            records.extend(pax_record("size", &file.size.to_string()));
        }
        Self {
            name,
            pax: (!records.is_empty()).then_some(records),
            size: file.size,
        }
    }

    fn len(&self) -> u64 {
        let pax = self
            .pax
            .as_ref()
            .map_or(0, |p| BLOCK + padded(p.len() as u64));
        pax + BLOCK + padded(self.size)
    }
}

/// The `name` field for `path`, with a `prefix/` split encoded as `prefix\0name`
/// for [`header`]; `None` when the path needs PAX.
fn ustar_name(path: &str) -> Option<String> {
    if path.len() <= 100 {
        return Some(path.to_owned());
    }
    // The shortest prefix whose remainder fits: a fixed, documented choice.
    path.match_indices('/')
        .map(|(i, _)| i)
        .find(|&i| i <= 155 && path.len() - i - 1 <= 100)
        .map(|i| format!("{}\0{}", &path[..i], &path[i + 1..]))
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One PAX record, `"<len> <key>=<value>\n"`, where `len` counts itself.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    format!("{len} {key}={value}\n").into_bytes()
}

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

fn zeros(n: u64) -> Vec<u8> {
    vec![0u8; (padded(n) - n) as usize]
}

/// A ustar header block. `name` may hold `prefix\0name` (see [`ustar_name`]).
#[allow(
    clippy::indexing_slicing,
    reason = "names come from ustar_name: name at most 100 bytes, prefix at most 155 (345 + 155 = 500 < 512)"
)]
fn header(name: &str, size: u64, type_flag: u8, mode: u32) -> [u8; BLOCK as usize] {
    let mut h = [0u8; BLOCK as usize];
    let (prefix, name) = match name.split_once('\0') {
        Some((prefix, name)) => (prefix, name),
        None => ("", name),
    };
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0); // uid
    octal(&mut h[116..124], 0); // gid
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0); // mtime
    h[156] = type_flag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // uname, gname, devmajor, devminor stay zero (empty).
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    h
}

/// Zero-padded octal filling all but the last byte of `field`, which stays NUL.
#[allow(
    clippy::indexing_slicing,
    reason = "callers pass fixed header fields of at least 7 bytes; digits = field.len() - 1"
)]
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for len in [1, 5, 90, 94, 95, 96, 990, 995, 1000] {
            let value = "x".repeat(len);
            let rec = pax_record("path", &value);
            let text = String::from_utf8(rec.clone()).unwrap();
            let (n, _) = text.split_once(' ').unwrap();
            assert_eq!(n.parse::<usize>().unwrap(), rec.len(), "{len}");
        }
    }

    #[test]
    fn ustar_split_prefers_shortest_prefix() {
        let long = format!("{}/{}", "d".repeat(20), "f".repeat(90));
        assert_eq!(
            ustar_name(&long),
            Some(format!("{}\0{}", "d".repeat(20), "f".repeat(90)))
        );
        assert_eq!(ustar_name(&"f".repeat(101)), None);
    }
}
