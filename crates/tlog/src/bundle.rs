//! Entry bundles (tlog-tiles, "Log entries"): each entry prefixed by its length as a
//! big-endian uint16, so one entry is at most 65,535 bytes. vouch rejects larger entries
//! at append time ([`Error::EntryTooLarge`]) rather than truncating or splitting them.

use crate::tile::TILE_WIDTH;
use crate::Error;

/// Largest entry an entry bundle can carry: the uint16 length prefix's maximum.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Appends one length-prefixed entry to a bundle under construction.
pub fn append_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), Error> {
    let len = u16::try_from(entry.len()).map_err(|_| Error::EntryTooLarge {
        max: MAX_ENTRY_SIZE,
        found: entry.len(),
    })?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// Serialises up to 256 entries as one bundle.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, Error> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(Error::BundleCount {
            expected: usize::from(TILE_WIDTH),
            found: entries.len(),
        });
    }
    let total: usize = entries.iter().map(|e| e.as_ref().len() + 2).sum();
    let mut out = Vec::with_capacity(total);
    for e in entries {
        append_entry(&mut out, e.as_ref())?;
    }
    Ok(out)
}

/// Splits a bundle into its entries (borrowed). Fails on a truncated length or entry, or
/// on more than 256 entries; an empty bundle decodes to no entries.
#[allow(clippy::indexing_slicing, reason = "tail.len() >= len checked above")]
pub fn decode_entry_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let (len, tail) = match rest {
            [a, b, tail @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), tail),
            _ => return Err(Error::BundleTruncated { offset }),
        };
        if tail.len() < len {
            return Err(Error::BundleTruncated { offset });
        }
        if out.len() == usize::from(TILE_WIDTH) {
            return Err(Error::BundleCount {
                expected: usize::from(TILE_WIDTH),
                found: out.len() + 1,
            });
        }
        out.push(&tail[..len]);
        rest = &tail[len..];
    }
    Ok(out)
}

/// Decodes a bundle and checks it holds exactly `width` entries.
pub fn decode_entry_bundle_exact(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>, Error> {
    let entries = decode_entry_bundle(bytes)?;
    if entries.len() != usize::from(width) {
        return Err(Error::BundleCount {
            expected: usize::from(width),
            found: entries.len(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let entries: Vec<Vec<u8>> = vec![vec![], b"a".to_vec(), vec![7; MAX_ENTRY_SIZE]];
        let b = encode_entry_bundle(&entries).unwrap();
        let d = decode_entry_bundle(&b).unwrap();
        assert_eq!(d, entries.iter().map(|e| e.as_slice()).collect::<Vec<_>>());
        assert_eq!(
            encode_entry_bundle(&[vec![0u8; MAX_ENTRY_SIZE + 1]]),
            Err(Error::EntryTooLarge {
                max: MAX_ENTRY_SIZE,
                found: MAX_ENTRY_SIZE + 1
            })
        );
        assert_eq!(
            decode_entry_bundle(&[0, 5, 1, 2]),
            Err(Error::BundleTruncated { offset: 0 })
        );
        assert_eq!(
            decode_entry_bundle(&[0, 0, 9]),
            Err(Error::BundleTruncated { offset: 2 })
        );
        assert!(decode_entry_bundle_exact(&b, 4).is_err());
        let too_many = vec![0u8; 2 * 257];
        assert!(matches!(
            decode_entry_bundle(&too_many),
            Err(Error::BundleCount { .. })
        ));
    }
}
