//! Hostile archives, crafted byte by byte: each must be refused with its code.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::io::Read;

use vouch_package::{extract, inspect, Error, Limits};

/// A ustar header with a correct checksum.
fn hdr(name: &[u8], size: u64, type_flag: u8, link: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = type_flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A file entry: header plus padded data.
fn file(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = hdr(name, data.len() as u64, b'0', b"");
    v.extend_from_slice(data);
    v.resize(v.len().div_ceil(512) * 512, 0);
    v
}

fn pax(records: &[u8]) -> Vec<u8> {
    let mut v = hdr(b"././@PaxHeader", records.len() as u64, b'x', b"");
    v.extend_from_slice(records);
    v.resize(v.len().div_ceil(512) * 512, 0);
    v
}

/// Concatenates entries, adds the end marker, compresses.
fn archive(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut tar: Vec<u8> = parts.concat();
    tar.extend_from_slice(&[0u8; 1024]);
    zstd::encode_all(tar.as_slice(), 3).unwrap()
}

fn refused(bytes: &[u8]) -> Error {
    inspect(bytes, &Limits::default()).unwrap_err()
}

fn code(bytes: &[u8]) -> &'static str {
    refused(bytes).code()
}

#[test]
fn accepts_a_minimal_hand_built_archive() {
    let a = archive(&[file(b"a.txt", b"hello"), file(b"b/c.txt", b"")]);
    let seen = inspect(a.as_slice(), &Limits::default()).unwrap();
    assert_eq!(seen.entries.len(), 2);
    assert_eq!(seen.entries[0].size, 5);
}

#[test]
fn absolute_path() {
    assert_eq!(code(&archive(&[file(b"/etc/passwd", b"x")])), "PKG_E013");
}

#[test]
fn parent_components() {
    assert_eq!(code(&archive(&[file(b"../evil", b"x")])), "PKG_E014");
    assert_eq!(code(&archive(&[file(b"a/../../evil", b"x")])), "PKG_E014");
}

#[test]
fn pax_path_is_the_one_checked() {
    // The header name is harmless; the PAX `path` record, which readers honour, is not.
    let rec = b"20 path=../../etc/x\n";
    let a = archive(&[pax(rec), file(b"harmless", b"x")]);
    assert_eq!(code(&a), "PKG_E014");
}

/// GNU long names are outside the accepted subset: refused before their name is used.
#[test]
fn gnu_long_name_is_refused() {
    let name = b"/tmp/owned\0";
    let mut long = hdr(b"././@LongLink", name.len() as u64, b'L', b"");
    long.extend_from_slice(name);
    long.resize(1024, 0);
    let e = refused(&archive(&[long, file(b"harmless", b"x")]));
    assert!(
        matches!(
            e,
            Error::UnsupportedEntry {
                entry_type: b'L',
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn non_utf8_name() {
    assert_eq!(code(&archive(&[file(b"caf\xe9", b"x")])), "PKG_E015");
}

#[test]
fn other_path_rules() {
    assert_eq!(code(&archive(&[file(b"./a", b"x")])), "PKG_E016");
    assert_eq!(code(&archive(&[file(b"a\\b", b"x")])), "PKG_E016");
}

#[test]
fn symlinks_inside_and_escaping() {
    let e = refused(&archive(&[hdr(b"link", 0, b'2', b"../../../etc/passwd")]));
    assert!(
        matches!(&e, Error::SymlinkEntry { path, target } if path == "link" && target == "../../../etc/passwd")
    );
    assert_eq!(e.code(), "PKG_E019");
    assert_eq!(
        code(&archive(&[file(b"a", b"x"), hdr(b"b", 0, b'2', b"a")])),
        "PKG_E019"
    );
}

#[test]
fn hard_links() {
    assert_eq!(
        code(&archive(&[file(b"a", b"x"), hdr(b"b", 0, b'1', b"a")])),
        "PKG_E020"
    );
    assert_eq!(
        code(&archive(&[hdr(b"b", 0, b'1', b"/etc/shadow")])),
        "PKG_E020"
    );
}

#[test]
fn device_and_fifo_entries() {
    for t in [b'3', b'4', b'6'] {
        assert_eq!(
            code(&archive(&[hdr(b"dev", 0, t, b"")])),
            "PKG_E021",
            "{}",
            t as char
        );
    }
}

#[test]
fn other_entry_types() {
    assert_eq!(code(&archive(&[hdr(b"dir/", 0, b'5', b"")])), "PKG_E022");
    let mut g = hdr(b"global", 12, b'g', b"");
    g.extend_from_slice(b"12 path=a/b\n");
    g.resize(1024, 0);
    assert_eq!(code(&archive(&[g])), "PKG_E022");
    // GNU sparse in a ustar header: the tar reader itself rejects it as malformed.
    assert!(matches!(
        code(&archive(&[hdr(b"sparse", 0, b'S', b"")])),
        "PKG_E022" | "PKG_E018"
    ));
    assert_eq!(
        code(&archive(&[hdr(b"contiguous", 0, b'7', b"")])),
        "PKG_E022"
    );
}

#[test]
fn duplicate_paths() {
    let e = refused(&archive(&[file(b"a", b"1"), file(b"a", b"2")]));
    assert!(matches!(&e, Error::DuplicatePath { path } if path == "a"));
    assert_eq!(e.code(), "PKG_E023");
}

#[test]
fn file_directory_conflicts() {
    assert_eq!(
        code(&archive(&[file(b"a", b"1"), file(b"a/b", b"2")])),
        "PKG_E024"
    );
    assert_eq!(
        code(&archive(&[file(b"a/b", b"1"), file(b"a", b"2")])),
        "PKG_E024"
    );
}

#[test]
fn size_cap() {
    let a = archive(&[file(b"big", &vec![7u8; 3 << 20])]);
    let limits = Limits::default().with_max_uncompressed_bytes(1 << 20);
    let e = inspect(a.as_slice(), &limits).unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { limit } if limit == 1 << 20),
        "{e}"
    );
    assert_eq!(e.code(), "PKG_E025");
}

#[test]
fn ratio_cap() {
    let a = archive(&[file(b"zeros", &vec![0u8; 8 << 20])]);
    let e = refused(&a);
    assert_eq!(e.code(), "PKG_E026", "{e}");
    // The same archive passes when the ratio cap is lifted.
    inspect(a.as_slice(), &Limits::default().with_max_ratio(u64::MAX, 0)).unwrap();
}

/// A zstd frame that never ends: a tar header for an 8 GiB file, then RLE blocks of
/// zeros forever. Only a reader that enforces caps while streaming returns at all.
struct EndlessBomb {
    prefix: Vec<u8>,
    pos: usize,
}

impl EndlessBomb {
    fn new() -> Self {
        let mut prefix = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]; // magic, no FCS, 2 MiB window
        let raw_block = (512u32 << 3).to_le_bytes();
        prefix.extend_from_slice(&raw_block[..3]);
        prefix.extend_from_slice(&hdr(b"bomb", 0o77777777777, b'0', b""));
        Self { prefix, pos: 0 }
    }
}

impl Read for EndlessBomb {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // RLE block of 128 KiB zeros: header (size << 3 | RLE << 1), then the byte.
        let rle = ((131_072u32 << 3) | (1 << 1)).to_le_bytes();
        for b in buf.iter_mut() {
            *b = if self.pos < self.prefix.len() {
                self.prefix[self.pos]
            } else {
                match (self.pos - self.prefix.len()) % 4 {
                    3 => 0,
                    i => rle[i],
                }
            };
            self.pos += 1;
        }
        Ok(buf.len())
    }
}

#[test]
fn endless_bomb_stops_at_ratio_cap() {
    let e = inspect(EndlessBomb::new(), &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "PKG_E026", "{e}");
}

#[test]
fn endless_bomb_stops_at_size_cap() {
    let limits = Limits::default()
        .with_max_ratio(u64::MAX, 0)
        .with_max_uncompressed_bytes(64 << 20);
    let e = inspect(EndlessBomb::new(), &limits).unwrap_err();
    assert_eq!(e.code(), "PKG_E025", "{e}");
}

#[test]
fn oversized_zstd_window() {
    // Window descriptor exponent 20 → 2^30 bytes, beyond ZSTD_WINDOW_LOG_MAX.
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3];
    frame.extend_from_slice(&[0x01, 0x00, 0x00]); // last, raw, empty block
    assert_eq!(code(&frame), "PKG_E017");
}

#[test]
fn too_many_entries() {
    let a = archive(&[file(b"a", b""), file(b"b", b""), file(b"c", b"")]);
    let e = inspect(a.as_slice(), &Limits::default().with_max_entries(2)).unwrap_err();
    assert_eq!(e.code(), "PKG_E027");
}

#[test]
fn trailing_data() {
    let mut a = archive(&[file(b"a", b"x")]);
    a.extend_from_slice(b"junk");
    assert_eq!(code(&a), "PKG_E028");
    // Non-zero bytes inside the stream after the end-of-archive marker.
    let mut tar = file(b"a", b"x");
    tar.extend_from_slice(&[0u8; 1024]);
    tar.extend_from_slice(&file(b"hidden", b"smuggled"));
    let a = zstd::encode_all(tar.as_slice(), 3).unwrap();
    assert_eq!(code(&a), "PKG_E028");
    // A second zstd frame is trailing data too.
    let mut two = archive(&[file(b"a", b"x")]);
    two.extend_from_slice(&archive(&[file(b"b", b"y")]));
    assert_eq!(code(&two), "PKG_E028");
}

#[test]
fn corrupt_and_truncated_streams() {
    assert_eq!(code(b"not zstd at all"), "PKG_E017");
    let a = archive(&[file(b"a", &vec![5u8; 10_000])]);
    assert_eq!(code(&a[..a.len() / 2]), "PKG_E017");
    let mut flipped = a.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    assert!(matches!(
        code(&flipped),
        "PKG_E017" | "PKG_E018" | "PKG_E030"
    ));
}

#[test]
fn bad_header_checksum() {
    let mut h = file(b"a", b"x");
    h[0] = b'b';
    assert_eq!(code(&archive(&[h])), "PKG_E018");
}

#[test]
fn truncated_entry() {
    let mut tar = hdr(b"a", 10_000, b'0', b"");
    tar.extend_from_slice(&[1u8; 100]);
    let a = zstd::encode_all(tar.as_slice(), 3).unwrap();
    let e = refused(&a);
    assert!(
        matches!(
            &e,
            Error::TruncatedEntry {
                expected: 10_000,
                found: 100,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.code(), "PKG_E030");
}

#[test]
fn extraction_writes_nothing_outside_dest() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let a = archive(&[file(b"ok", b"fine"), file(b"../escaped", b"evil")]);
    let e = extract(a.as_slice(), &dest, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "PKG_E014");
    assert!(!dir.path().join("escaped").exists());
    assert_eq!(std::fs::read(dest.join("ok")).unwrap(), b"fine");
}

/// Compresses a raw tar stream as given (no end marker added).
fn raw(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).unwrap()
}

#[test]
fn strict_subset_refuses_other_tar_dialects() {
    // GNU magic (`ustar  \0`) instead of POSIX.
    let mut gnu = file(b"a", b"x");
    gnu[257..265].copy_from_slice(b"ustar  \0");
    let sum: u32 = gnu[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    gnu[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let e = refused(&archive(&[gnu]));
    assert!(
        matches!(
            e,
            Error::MalformedTar {
                offset: 0,
                reason: "not a posix ustar header"
            }
        ),
        "{e}"
    );

    // Base-256 size field.
    let mut b256 = hdr(b"a", 0, b'0', b"");
    b256[124] = 0x80;
    b256[148..156].fill(b' ');
    let sum: u32 = b256.iter().map(|&b| u32::from(b)).sum();
    b256[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    assert_eq!(code(&archive(&[b256])), "PKG_E018");
}

#[test]
fn pax_rules() {
    // Records other than path and size are refused, with the key named.
    let e = refused(&archive(&[pax(b"15 linkpath=/x\n"), file(b"a", b"x")]));
    assert!(
        matches!(&e, Error::UnsupportedPaxRecord { key, .. } if key == "linkpath"),
        "{e}"
    );
    assert_eq!(e.code(), "PKG_E031");
    // Two PAX headers in a row, and a PAX header with no entry after it.
    assert_eq!(
        code(&archive(&[
            pax(b"12 path=a/b\n"),
            pax(b"12 path=a/c\n"),
            file(b"a", b"x")
        ])),
        "PKG_E018"
    );
    assert_eq!(code(&archive(&[pax(b"12 path=a/b\n")])), "PKG_E018");
    // A PAX size larger than the data present.
    let e = refused(&archive(&[pax(b"16 size=1000000\n"), file(b"a", b"x")]));
    assert!(
        matches!(e, Error::TruncatedEntry { .. } | Error::MalformedTar { .. }),
        "{e}"
    );
    // A valid PAX path is honoured.
    let ok = archive(&[pax(b"12 path=d/e\n"), file(b"ignored", b"x")]);
    let seen = inspect(ok.as_slice(), &Limits::default()).unwrap();
    assert_eq!(seen.entries[0].path, "d/e");
}

#[test]
fn end_marker_rules() {
    assert_eq!(code(&raw(&file(b"a", b"x"))), "PKG_E018", "no end marker");
    let mut one_zero = file(b"a", b"x");
    one_zero.extend_from_slice(&[0u8; 512]);
    assert_eq!(code(&raw(&one_zero)), "PKG_E018", "half an end marker");
    let mut zero_then_data = file(b"a", b"x");
    zero_then_data.extend_from_slice(&[0u8; 512]);
    zero_then_data.extend_from_slice(&file(b"b", b"y"));
    assert_eq!(code(&raw(&zero_then_data)), "PKG_E018");
    // Extra zero padding after the marker (as GNU tar's 10 KiB records) is fine.
    let mut padded = file(b"a", b"x");
    padded.extend_from_slice(&[0u8; 10240]);
    inspect(raw(&padded).as_slice(), &Limits::default()).unwrap();
}
