//! Reading untrusted archives: `inspect` and `extract`, with every limit enforced while
//! streaming.
//!
//! The stack is: source → BLAKE3/SHA-256 → zstd (one frame, window ≤ 2^24) →
//! [`Limiter`] (total size and ratio caps) → the strict ustar reader. The limiter refuses the read that
//! would cross a cap, so nothing beyond the cap is ever produced. Only regular files
//! are accepted; every path goes through the same rules as packing.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use crate::digest::{Digests, Hashing};
use crate::error::SpecialKind;
use crate::path::check_path;
use crate::ustar::UstarReader;
use crate::Error;

/// The largest zstd window accepted (16 MiB); level 19 uses at most 2^23. This bounds
/// the decoder's memory whatever the frame header asks for.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// Caps applied while reading. `Limits::default()` documents the defaults.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes the tar stream may expand to. Default 1 GiB.
    pub max_uncompressed_bytes: u64,
    /// Most uncompressed bytes per compressed byte. Default 100.
    pub max_ratio: u64,
    /// The ratio is only enforced once this many bytes have expanded, so small
    /// archives (mostly tar headers, which compress very well) pass. Default 1 MiB.
    pub ratio_grace_bytes: u64,
    /// Most file entries. Default 100,000.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_uncompressed_bytes: 1 << 30,
            max_ratio: 100,
            ratio_grace_bytes: 1 << 20,
            max_entries: 100_000,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_uncompressed_bytes`].
    pub fn with_max_uncompressed_bytes(mut self, v: u64) -> Self {
        self.max_uncompressed_bytes = v;
        self
    }

    /// Sets [`Limits::max_ratio`] and [`Limits::ratio_grace_bytes`].
    pub fn with_max_ratio(mut self, ratio: u64, grace_bytes: u64) -> Self {
        self.max_ratio = ratio;
        self.ratio_grace_bytes = grace_bytes;
        self
    }

    /// Sets [`Limits::max_entries`].
    pub fn with_max_entries(mut self, v: u64) -> Self {
        self.max_entries = v;
        self
    }
}

/// One regular file, as packed or as found in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// Archive path: relative, `/`-separated, checked against the path rules.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether any execute bit was set (stored as mode 0755, else 0644).
    pub executable: bool,
}

/// What a successful read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The files, in archive order.
    pub entries: Vec<EntryInfo>,
    /// Length of the decompressed tar stream.
    pub uncompressed_size: u64,
    /// Size and digests of the compressed input, all of it.
    pub digests: Digests,
}

/// Reads and checks a whole archive without writing anything.
pub fn inspect<R: Read>(reader: R, limits: &Limits) -> Result<Inspection, Error> {
    read_archive(reader, limits, |_| Ok(None))
}

/// Reads and checks a whole archive, as [`inspect`], and keeps the contents of the file
/// at `path` when it is at most `max_bytes` long (how a registry reads the manifest
/// without writing the archive out). `None` when there is no such file or it is
/// larger; the archive is checked to its end either way.
pub fn inspect_keeping<R: Read>(
    reader: R,
    limits: &Limits,
    path: &str,
    max_bytes: u64,
) -> Result<(Inspection, Option<Vec<u8>>), Error> {
    let kept = std::rc::Rc::new(std::cell::RefCell::new(None::<Vec<u8>>));
    let sink = std::rc::Rc::clone(&kept);
    let inspection = read_archive(reader, limits, move |info| {
        if info.path != path || info.size > max_bytes {
            return Ok(None);
        }
        // Paths are unique in a checked archive: this runs at most once.
        let len = usize::try_from(info.size).unwrap_or(0);
        *sink.borrow_mut() = Some(Vec::with_capacity(len));
        Ok(Some((
            Box::new(Keep(std::rc::Rc::clone(&sink))) as Box<dyn Write>,
            std::path::PathBuf::from(&info.path),
        )))
    })?;
    let kept = kept.borrow_mut().take();
    Ok((inspection, kept))
}

/// The in-memory sink of [`inspect_keeping`]; the entry's declared size (already
/// checked against the cap) bounds what is written.
struct Keep(std::rc::Rc<std::cell::RefCell<Option<Vec<u8>>>>);

impl Write for Keep {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(v) = self.0.borrow_mut().as_mut() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Checks and extracts an archive into `dest`, which must be absent or an empty
/// directory. Files get mode 0644 or 0755 (Unix). On error, what was extracted so far
/// stays: extract into a fresh temporary directory and move it into place on success.
pub fn extract<R: Read>(reader: R, dest: &Path, limits: &Limits) -> Result<Inspection, Error> {
    match fs::read_dir(dest) {
        Ok(mut it) => {
            if it.next().is_some() {
                return Err(Error::DestinationNotEmpty {
                    path: dest.to_owned(),
                });
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(Error::DestinationNotEmpty {
                path: dest.to_owned(),
            });
        }
        Err(e) => return Err(Error::io(dest, e)),
    }
    read_archive(reader, limits, |info| {
        // Every component was checked (no `..`, no absolute, no empty), no link is ever
        // created, and `dest` started empty, so joining cannot leave `dest`.
        let target = dest.join(&info.path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| Error::io(&target, e))?;
        set_mode(&file, &target, info.executable)?;
        Ok(Some((
            Box::new(io::BufWriter::new(file)) as Box<dyn Write>,
            target,
        )))
    })
}

#[cfg(unix)]
fn set_mode(file: &File, path: &Path, executable: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _path: &Path, _executable: bool) -> Result<(), Error> {
    Ok(())
}

type Sink = Option<(Box<dyn Write>, std::path::PathBuf)>;

#[allow(
    clippy::indexing_slicing,
    reason = "n, got and want never exceed buf.len(): Read::read returns at most the length it is given"
)]
fn read_archive<R, F>(reader: R, limits: &Limits, mut sink_for: F) -> Result<Inspection, Error>
where
    R: Read,
    F: FnMut(&EntryInfo) -> Result<Sink, Error>,
{
    let mut decoder = zstd::stream::read::Decoder::new(Hashing::new(reader))
        .map_err(|source| Error::Decompress { source })?
        .single_frame();
    decoder
        .window_log_max(ZSTD_WINDOW_LOG_MAX)
        .map_err(|source| Error::Decompress { source })?;
    let mut tar = UstarReader::new(Limiter {
        inner: decoder,
        limits: *limits,
        total: 0,
    });

    let mut entries_out = Vec::new();
    let mut files: HashSet<String> = HashSet::new();
    let mut dirs: HashMap<String, String> = HashMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Some(raw) = tar.next_entry()? {
        if entries_out.len() as u64 >= limits.max_entries {
            return Err(Error::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let lossy = String::from_utf8_lossy(&raw.path).into_owned();
        let target = || String::from_utf8_lossy(&raw.link).into_owned();
        match raw.type_flag {
            b'0' | 0 => {}
            b'1' => {
                return Err(Error::HardLinkEntry {
                    path: lossy,
                    target: target(),
                })
            }
            b'2' => {
                return Err(Error::SymlinkEntry {
                    path: lossy,
                    target: target(),
                })
            }
            b'3' => return Err(special(lossy, SpecialKind::CharDevice)),
            b'4' => return Err(special(lossy, SpecialKind::BlockDevice)),
            b'6' => return Err(special(lossy, SpecialKind::Fifo)),
            other => {
                return Err(Error::UnsupportedEntry {
                    path: lossy,
                    entry_type: other,
                })
            }
        }
        let path = check_path(&raw.path)?.to_owned();
        claim_path(&path, &mut files, &mut dirs)?;
        let info = EntryInfo {
            size: raw.size,
            executable: raw.mode & 0o111 != 0,
            path,
        };
        let mut sink = sink_for(&info)?;
        let mut copied = 0u64;
        loop {
            let n = tar.read_data(&mut buf)?;
            if n == 0 {
                break;
            }
            copied += n as u64;
            if let Some((w, target)) = sink.as_mut() {
                w.write_all(&buf[..n]).map_err(|e| Error::io(&*target, e))?;
            }
        }
        if copied != info.size {
            return Err(Error::TruncatedEntry {
                path: info.path,
                expected: info.size,
                found: copied,
            });
        }
        if let Some((mut w, target)) = sink {
            w.flush().map_err(|e| Error::io(&target, e))?;
        }
        entries_out.push(info);
    }

    // After the end-of-archive marker: only zero padding may follow, then the zstd
    // frame must end and so must the input.
    let mut limiter = tar.into_inner();
    loop {
        let n = limiter.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Err(Error::TrailingData);
        }
    }
    let uncompressed_size = limiter.total;
    let mut source: BufReader<Hashing<R>> = limiter.inner.finish();
    let mut probe = [0u8; 1];
    loop {
        match source.read(&mut probe) {
            Ok(0) => break,
            Ok(_) => return Err(Error::TrailingData),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("<archive input>", e)),
        }
    }
    let (_, digests) = source.into_inner().finish();
    Ok(Inspection {
        entries: entries_out,
        uncompressed_size,
        digests,
    })
}

fn special(path: String, kind: SpecialKind) -> Error {
    Error::SpecialEntry { path, kind }
}

/// Records `path` as a file and its ancestors as directories, refusing a repeat or a
/// file/directory clash (which would make extraction depend on entry order).
fn claim_path(
    path: &str,
    files: &mut HashSet<String>,
    dirs: &mut HashMap<String, String>,
) -> Result<(), Error> {
    if files.contains(path) {
        return Err(Error::DuplicatePath {
            path: path.to_owned(),
        });
    }
    if let Some(other) = dirs.get(path) {
        return Err(Error::PathConflict {
            path: path.to_owned(),
            other: other.clone(),
        });
    }
    for (i, _) in path.match_indices('/') {
        let dir = &path[..i];
        if files.contains(dir) {
            return Err(Error::PathConflict {
                path: path.to_owned(),
                other: dir.to_owned(),
            });
        }
        dirs.entry(dir.to_owned())
            .or_insert_with(|| path.to_owned());
    }
    files.insert(path.to_owned());
    Ok(())
}

/// Counts decompressed bytes and refuses the read that would cross a cap.
pub(crate) struct Limiter<R: Read> {
    inner: zstd::stream::read::Decoder<'static, BufReader<Hashing<R>>>,
    limits: Limits,
    total: u64,
}

impl<R: Read> Limiter<R> {
    /// Like `Read::read`, with typed errors: a zstd failure, or a cap crossed.
    #[allow(clippy::indexing_slicing, reason = "want = min(buf.len(), room + 1)")]
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let room = self
            .limits
            .max_uncompressed_bytes
            .saturating_sub(self.total);
        // Ask for one byte past the cap at most, so crossing it is seen, not hidden.
        let want = buf
            .len()
            .min(usize::try_from(room.saturating_add(1)).unwrap_or(usize::MAX));
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(Error::Decompress { source }),
            }
        };
        self.total += n as u64;
        if self.total > self.limits.max_uncompressed_bytes {
            return Err(Error::TooLarge {
                limit: self.limits.max_uncompressed_bytes,
            });
        }
        let compressed = self.inner.get_ref().get_ref().size().max(1);
        if self.total > self.limits.ratio_grace_bytes
            && self.total > compressed.saturating_mul(self.limits.max_ratio)
        {
            return Err(Error::RatioExceeded {
                limit: self.limits.max_ratio,
                uncompressed: self.total,
                compressed,
            });
        }
        Ok(n)
    }
}
