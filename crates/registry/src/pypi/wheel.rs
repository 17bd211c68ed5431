//! The one thing the index reads inside a wheel: its `*.dist-info/METADATA`, served as the PEP 658 `.metadata` file. A minimal ZIP reader (central directory, stored or deflated entries) with every size capped.
//!
//! Written by hand because only one member of one archive is ever read, and the
//! widely used `zip` crate would add a dependency tree for it; `flate2` inflates.

use std::io::Read;

/// Largest METADATA file accepted (PyPI's are a few KiB; long descriptions can be big).
pub const MAX_METADATA_BYTES: u64 = 4 << 20;
/// Most central-directory entries looked at.
const MAX_ENTRIES: usize = 100_000;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_le_bytes(a))
}

/// The bytes of the wheel's only `NAME.dist-info/METADATA` member (at the archive's
/// top level), or why there is none.
pub fn metadata(wheel: &[u8]) -> Result<Vec<u8>, String> {
    // End of central directory: 22 bytes plus a comment of up to 65535.
    let tail_start = wheel.len().saturating_sub(22 + 65_535);
    let tail = wheel.get(tail_start..).unwrap_or_default();
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(tail, i) == Some(0x0605_4b50))
        .ok_or("not a ZIP archive (no end of central directory)")?;
    let eocd = tail
        .get(eocd..)
        .ok_or("truncated end of central directory")?;
    let entries = usize::from(u16_at(eocd, 10).ok_or("truncated end of central directory")?);
    let cd_offset = u32_at(eocd, 16).ok_or("truncated end of central directory")? as usize;
    if entries == 0xffff || cd_offset == 0xffff_ffff {
        return Err("ZIP64 archives are not supported".into());
    }
    let mut at = cd_offset;
    let mut found: Option<(u16, u64, u64, usize)> = None;
    for _ in 0..entries.min(MAX_ENTRIES) {
        if u32_at(wheel, at) != Some(0x0201_4b50) {
            return Err("malformed central directory".into());
        }
        let method = u16_at(wheel, at + 10).ok_or("truncated central directory")?;
        let csize = u64::from(u32_at(wheel, at + 20).ok_or("truncated central directory")?);
        let usize_ = u64::from(u32_at(wheel, at + 24).ok_or("truncated central directory")?);
        let name_len = usize::from(u16_at(wheel, at + 28).ok_or("truncated central directory")?);
        let extra_len = usize::from(u16_at(wheel, at + 30).ok_or("truncated central directory")?);
        let comment_len = usize::from(u16_at(wheel, at + 32).ok_or("truncated central directory")?);
        let local = u32_at(wheel, at + 42).ok_or("truncated central directory")? as usize;
        let name = wheel
            .get(at + 46..at + 46 + name_len)
            .ok_or("truncated central directory")?;
        let is_metadata = std::str::from_utf8(name).ok().is_some_and(|n| {
            n.split_once('/').is_some_and(|(dir, file)| {
                file == "METADATA" && dir.ends_with(".dist-info") && !dir.is_empty()
            })
        });
        if is_metadata {
            if found.is_some() {
                return Err("more than one .dist-info/METADATA".into());
            }
            found = Some((method, csize, usize_, local));
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    let (method, csize, usize_, local) = found.ok_or("no .dist-info/METADATA in the wheel")?;
    if usize_ > MAX_METADATA_BYTES {
        return Err(format!(
            "METADATA is {usize_} bytes, over the limit of {MAX_METADATA_BYTES}"
        ));
    }
    if u32_at(wheel, local) != Some(0x0403_4b50) {
        return Err("malformed local file header".into());
    }
    let n = usize::from(u16_at(wheel, local + 26).ok_or("truncated local header")?);
    let e = usize::from(u16_at(wheel, local + 28).ok_or("truncated local header")?);
    let start = local + 30 + n + e;
    let data = wheel
        .get(start..start.saturating_add(csize as usize))
        .ok_or("METADATA runs past the end of the archive")?;
    let mut out = Vec::new();
    match method {
        0 => out.extend_from_slice(data),
        8 => {
            flate2::read::DeflateDecoder::new(data)
                .take(MAX_METADATA_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("METADATA does not inflate: {e}"))?;
        }
        m => {
            return Err(format!(
                "METADATA uses ZIP method {m}, expected stored or deflate"
            ))
        }
    }
    if out.len() as u64 != usize_ {
        return Err(format!(
            "METADATA is {} bytes, the directory says {usize_}",
            out.len()
        ));
    }
    Ok(out)
}

/// The first value of header `name` in a core-metadata file (RFC 822 style headers,
/// ending at the first empty line).
pub fn header<'a>(metadata: &'a str, name: &str) -> Option<&'a str> {
    for line in metadata.lines() {
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case(name) {
                return Some(v.trim());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-member ZIP (stored), built by hand for the test.
    fn zip_with(name: &str, body: &[u8]) -> Vec<u8> {
        vouch_testkit::zip::stored(name, body)
    }

    #[test]
    fn reads_metadata_and_refuses_what_is_not_a_wheel() {
        let body = b"Metadata-Version: 2.4\nName: hello\nVersion: 1.0\n\nlong text: x\n";
        let z = zip_with("hello-1.0.dist-info/METADATA", body);
        assert_eq!(metadata(&z).unwrap(), body.to_vec());
        let text = std::str::from_utf8(body).unwrap();
        assert_eq!(header(text, "name"), Some("hello"));
        assert_eq!(header(text, "long text"), None);
        let nested = zip_with("a/hello-1.0.dist-info/METADATA", body);
        assert!(metadata(&nested).unwrap_err().contains("no .dist-info"));
        assert!(metadata(b"not a zip").unwrap_err().contains("not a ZIP"));
        let mut cut = z.clone();
        cut.truncate(40);
        assert!(metadata(&cut).is_err());
    }
}
