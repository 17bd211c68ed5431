//! Reading a `.crate` (a gzip'd tar) just far enough to judge a publish: every entry lies under `NAME-VERSION/`, and the `Cargo.toml` there names the crate and version the metadata JSON claims.
//!
//! Written by hand over `flate2` rather than with the `tar` crate: only the headers'
//! name, size and type are needed, every read is capped (entries, bytes decompressed,
//! manifest size), and long names (GNU `L`, PAX `path`) are the only extensions read.
//! Nothing is extracted or written anywhere.

use std::io::Read;

use super::CargoError;

/// Most bytes decompressed from one `.crate` (crates.io's unpacked limit is of this order).
pub const MAX_UNPACKED_BYTES: u64 = 512 << 20;
/// Most entries in one `.crate`.
pub const MAX_ENTRIES: usize = 100_000;
/// Largest `Cargo.toml` or long-name entry read into memory.
const MAX_TEXT_ENTRY: u64 = 1 << 20;

const BLOCK: usize = 512;

/// What the manifest inside a `.crate` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateManifest {
    pub name: String,
    pub version: String,
    pub links: Option<String>,
    pub rust_version: Option<String>,
}

/// Reads `bytes` (a `.crate`) and returns its manifest, refusing an unreadable archive,
/// an entry outside `NAME-VERSION/` (`expected_dir`, from the metadata JSON), or a
/// missing `NAME-VERSION/Cargo.toml`.
pub fn inspect(bytes: &[u8], expected_dir: &str) -> Result<CrateManifest, CargoError> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut reader = gz.take(MAX_UNPACKED_BYTES + 1);
    let mut manifest: Option<Vec<u8>> = None;
    let mut long_name: Option<String> = None;
    let mut entries = 0usize;
    let wanted = format!("{expected_dir}/Cargo.toml");
    loop {
        let mut header = [0u8; BLOCK];
        read_block(&mut reader, &mut header)?;
        if header.iter().all(|b| *b == 0) {
            break;
        }
        entries += 1;
        if entries > MAX_ENTRIES {
            return Err(CargoError::bad_crate(format!(
                "the .crate has more than {MAX_ENTRIES} entries"
            )));
        }
        check_checksum(&header)?;
        let size = entry_size(&header)?;
        let kind = header.get(156).copied().unwrap_or(0);
        match kind {
            b'L' | b'x' => {
                let data = read_text(&mut reader, size)?;
                skip_padding(&mut reader, size)?;
                long_name = if kind == b'L' {
                    Some(
                        String::from_utf8_lossy(&data)
                            .trim_end_matches('\0')
                            .to_owned(),
                    )
                } else {
                    pax_path(&data)
                };
                continue;
            }
            b'g' => {
                skip(&mut reader, size)?;
                skip_padding(&mut reader, size)?;
                continue;
            }
            _ => {}
        }
        let path = long_name.take().unwrap_or_else(|| header_path(&header));
        let path = path.trim_start_matches("./");
        if path != expected_dir && !path.starts_with(&format!("{expected_dir}/")) {
            return Err(CargoError::bad_crate(format!(
                "every entry of the .crate must lie under {expected_dir}/, found {path:?}"
            )));
        }
        if path.split('/').any(|c| c == "..") {
            return Err(CargoError::bad_crate(format!(
                "the .crate entry {path:?} climbs out of its directory"
            )));
        }
        if path == wanted && matches!(kind, b'0' | 0) {
            manifest = Some(read_text(&mut reader, size)?);
        } else {
            skip(&mut reader, size)?;
        }
        skip_padding(&mut reader, size)?;
    }
    let text = manifest.ok_or_else(|| {
        CargoError::bad_crate(format!("the .crate holds no {wanted} (a regular file)"))
    })?;
    parse_manifest(&text)
}

fn io_err(e: &std::io::Error) -> CargoError {
    CargoError::bad_crate(format!("the .crate is not a readable gzip'd tar: {e}"))
}

fn read_block(r: &mut impl Read, buf: &mut [u8; BLOCK]) -> Result<(), CargoError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => CargoError::bad_crate(format!(
            "the .crate ends early or unpacks to more than {MAX_UNPACKED_BYTES} bytes"
        )),
        _ => io_err(&e),
    })
}

fn read_text(r: &mut impl Read, size: u64) -> Result<Vec<u8>, CargoError> {
    if size > MAX_TEXT_ENTRY {
        return Err(CargoError::bad_crate(format!(
            "a manifest or name entry of {size} bytes is over the {MAX_TEXT_ENTRY}-byte limit"
        )));
    }
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    r.by_ref()
        .take(size)
        .read_to_end(&mut out)
        .map_err(|e| io_err(&e))?;
    if out.len() as u64 != size {
        return Err(CargoError::bad_crate("the .crate ends inside an entry"));
    }
    Ok(out)
}

fn skip(r: &mut impl Read, size: u64) -> Result<(), CargoError> {
    let copied =
        std::io::copy(&mut r.by_ref().take(size), &mut std::io::sink()).map_err(|e| io_err(&e))?;
    if copied != size {
        return Err(CargoError::bad_crate(format!(
            "the .crate ends inside an entry or unpacks to more than {MAX_UNPACKED_BYTES} bytes"
        )));
    }
    Ok(())
}

fn skip_padding(r: &mut impl Read, size: u64) -> Result<(), CargoError> {
    let rem = size % BLOCK as u64;
    if rem == 0 {
        return Ok(());
    }
    skip(r, BLOCK as u64 - rem)
}

#[allow(
    clippy::indexing_slicing,
    reason = "fixed offsets inside a 512-byte header array"
)]
fn field(header: &[u8; BLOCK], start: usize, len: usize) -> &[u8] {
    let f = &header[start..start + len];
    let end = f.iter().position(|b| *b == 0).unwrap_or(len);
    &f[..end]
}

#[allow(
    clippy::indexing_slicing,
    reason = "fixed offsets inside a 512-byte header array"
)]
fn header_path(header: &[u8; BLOCK]) -> String {
    let name = String::from_utf8_lossy(field(header, 0, 100)).into_owned();
    // ustar ("ustar\0") has a prefix field; GNU ("ustar ") does not.
    if &header[257..263] == b"ustar\0" {
        let prefix = String::from_utf8_lossy(field(header, 345, 155)).into_owned();
        if !prefix.is_empty() {
            return format!("{prefix}/{name}");
        }
    }
    name
}

#[allow(
    clippy::indexing_slicing,
    reason = "fixed offsets inside a 512-byte header array"
)]
fn entry_size(header: &[u8; BLOCK]) -> Result<u64, CargoError> {
    let raw = &header[124..136];
    if raw[0] & 0x80 != 0 {
        // GNU base-256: big-endian, the first byte's high bit is the marker.
        let mut v: u64 = u64::from(raw[0] & 0x7f);
        for b in &raw[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or_else(|| CargoError::bad_crate("a tar entry size overflows"))?;
        }
        return Ok(v);
    }
    octal(raw).ok_or_else(|| CargoError::bad_crate("a tar header's size is not octal"))
}

fn octal(raw: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(raw).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

#[allow(
    clippy::indexing_slicing,
    reason = "fixed offsets inside a 512-byte header array"
)]
fn check_checksum(header: &[u8; BLOCK]) -> Result<(), CargoError> {
    let stored = octal(&header[148..156])
        .ok_or_else(|| CargoError::bad_crate("a tar header's checksum is not octal"))?;
    let sum: u64 = header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if sum != stored {
        return Err(CargoError::bad_crate(format!(
            "a tar header's checksum is {stored}, its bytes sum to {sum}"
        )));
    }
    Ok(())
}

/// The `path` record of a PAX extended header (`LEN path=VALUE\n` records).
fn pax_path(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let mut rest = text;
    while !rest.is_empty() {
        let (len, _) = rest.split_once(' ')?;
        let n: usize = len.parse().ok()?;
        let record = rest.get(..n)?;
        rest = rest.get(n..)?;
        let (_, kv) = record.split_once(' ')?;
        if let Some(v) = kv.strip_prefix("path=") {
            return Some(v.trim_end_matches('\n').to_owned());
        }
    }
    None
}

fn parse_manifest(text: &[u8]) -> Result<CrateManifest, CargoError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| CargoError::bad_crate("Cargo.toml in the .crate is not UTF-8"))?;
    let doc: toml::Table = toml::from_str(text).map_err(|e| {
        CargoError::bad_crate(format!(
            "Cargo.toml in the .crate is not valid TOML: {}",
            e.message()
        ))
    })?;
    let package = doc
        .get("package")
        .and_then(toml::Value::as_table)
        .ok_or_else(|| CargoError::bad_crate("Cargo.toml in the .crate has no [package]"))?;
    let text_of = |key: &str| package.get(key).and_then(toml::Value::as_str);
    let name = text_of("name")
        .ok_or_else(|| CargoError::bad_crate("Cargo.toml in the .crate has no package.name"))?;
    let version = text_of("version").ok_or_else(|| {
        CargoError::bad_crate(
            "Cargo.toml in the .crate has no package.version (cargo writes it into the packaged manifest)",
        )
    })?;
    Ok(CrateManifest {
        name: name.to_owned(),
        version: version.to_owned(),
        links: text_of("links").map(str::to_owned),
        rust_version: text_of("rust-version").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A .crate built with the `tar` crate (the format oracle) and gzip.
    fn crate_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut h, path, *data).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    const TOML: &[u8] =
        b"[package]\nname = \"demo\"\nversion = \"0.1.0\"\nrust-version = \"1.70\"\n";

    #[test]
    fn reads_the_manifest() {
        let long = format!("demo-0.1.0/{}/lib.rs", "d".repeat(120));
        let b = crate_bytes(&[
            ("demo-0.1.0/Cargo.toml", TOML),
            ("demo-0.1.0/src/lib.rs", b"pub fn f() {}\n"),
            (long.as_str(), b"//\n"),
        ]);
        let m = inspect(&b, "demo-0.1.0").unwrap();
        assert_eq!(m.name, "demo");
        assert_eq!(m.version, "0.1.0");
        assert_eq!(m.rust_version.as_deref(), Some("1.70"));
    }

    #[test]
    fn refusals_are_coded() {
        let outside = crate_bytes(&[("demo-0.1.0/Cargo.toml", TOML), ("other/evil.rs", b"x")]);
        let e = inspect(&outside, "demo-0.1.0").unwrap_err();
        assert_eq!(e.code, "CARGO_E002");
        assert!(e.detail.contains("other/evil.rs"), "{}", e.detail);
        let missing = crate_bytes(&[("demo-0.1.0/src/lib.rs", b"x")]);
        assert_eq!(
            inspect(&missing, "demo-0.1.0").unwrap_err().code,
            "CARGO_E002"
        );
        assert_eq!(
            inspect(b"not gzip", "demo-0.1.0").unwrap_err().code,
            "CARGO_E002"
        );
        let mut truncated = crate_bytes(&[("demo-0.1.0/Cargo.toml", TOML)]);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(
            inspect(&truncated, "demo-0.1.0").unwrap_err().code,
            "CARGO_E002"
        );
    }
}
