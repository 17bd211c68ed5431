//! Staging bundles: every tile and entry bundle of one batch, in one object written
//! before the batch is committed, so whoever holds the committed tree can write its
//! tiles even if the sequencer that committed it died before writing them.
//!
//! Key: `staging/<size>-<root hex>` (the tree the batch makes). Format: the magic
//! line, then for each object a big-endian `u16` key length, the key, a big-endian
//! `u32` value length, the value. The root in the key binds the bundle to exactly one
//! tree: recovery looks up the committed checkpoint's own bundle, never another.

use bytes::{BufMut, Bytes, BytesMut};
use vouch_store::ObjectKey;
use vouch_tlog::Hash;

use crate::state::TreeState;
use crate::LogError;

const MAGIC: &[u8] = b"vouch-staging v1\n";

/// The staging key of the tree `(size, root)`.
pub fn key(size: u64, root: &Hash) -> ObjectKey {
    ObjectKey::new(format!("staging/{size}-{}", hex::encode(root.0)))
        .expect("digits, a dash and lowercase hex make a valid object key")
}

/// One object holding every `(key, value)` of a batch.
pub fn encode(objects: &[(ObjectKey, Bytes)]) -> Bytes {
    let len = MAGIC.len()
        + objects
            .iter()
            .map(|(k, v)| 6 + k.as_str().len() + v.len())
            .sum::<usize>();
    let mut out = BytesMut::with_capacity(len);
    out.put_slice(MAGIC);
    for (k, v) in objects {
        let name = k.as_str().as_bytes();
        // Object keys are short paths and values are tiles or bundles (at most a few
        // MB); both limits hold by construction.
        out.put_u16(u16::try_from(name.len()).expect("object keys are under 64 KiB"));
        out.put_slice(name);
        out.put_u32(u32::try_from(v.len()).expect("tiles and bundles are under 4 GiB"));
        out.put_slice(v);
    }
    out.freeze()
}

/// The objects of a staging bundle; [`LogError::Inconsistent`] if it is malformed.
#[allow(
    clippy::indexing_slicing,
    reason = "each index is within the 2 or 4 bytes `take` just returned"
)]
pub fn decode(what: &ObjectKey, mut data: Bytes) -> Result<Vec<(ObjectKey, Bytes)>, LogError> {
    let bad = |why: &str| LogError::Inconsistent {
        what: "staging bundle",
        expected: format!("a well-formed {what}"),
        found: why.to_owned(),
    };
    if !data.starts_with(MAGIC) {
        return Err(bad("no staging header"));
    }
    let mut rest = data.split_off(MAGIC.len());
    let mut out = Vec::new();
    while !rest.is_empty() {
        let klen = take(&mut rest, 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or_else(|| bad("truncated key length"))?;
        let name = take(&mut rest, klen).ok_or_else(|| bad("truncated key"))?;
        let name = std::str::from_utf8(&name).map_err(|_| bad("key is not UTF-8"))?;
        let key = ObjectKey::new(name).map_err(|_| bad("invalid object key"))?;
        let vlen = take(&mut rest, 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| bad("truncated value length"))?;
        let vlen = usize::try_from(vlen).map_err(|_| bad("value length"))?;
        let value = take(&mut rest, vlen).ok_or_else(|| bad("truncated value"))?;
        out.push((key, value));
    }
    Ok(out)
}

/// Makes sure the tiles of the committed tree `(size, root)` are at their final paths:
/// if the tree's staging object is still there (a sequencer died between its commit and
/// its tile writes), writes every object in it (create-if-absent), then loads the tree. What `Log::open` does first; exposed for checks of crashed data.
pub async fn complete(
    objects: &dyn vouch_store::Objects,
    size: u64,
    root: Hash,
) -> Result<(), LogError> {
    complete_state(objects, size, root).await.map(|_| ())
}

pub(crate) async fn complete_state(
    objects: &dyn vouch_store::Objects,
    size: u64,
    root: Hash,
) -> Result<TreeState, LogError> {
    // Its staging object is deleted only once every tile was written, so while it
    // exists some tile may be missing, even one the right edge does not read (a full
    // entry bundle): replay all of it (identical bytes where a tile is already there).
    let skey = key(size, &root);
    if let Some(bundle) = objects.get(&skey).await? {
        tracing::info!(size, "writing the committed tree's tiles from staging");
        objects.put_many_if_absent(decode(&skey, bundle)?).await?;
    }
    TreeState::load(objects, size, root).await
}

/// The first `n` bytes of `buf` (advancing it), or `None` if it is shorter.
fn take(buf: &mut Bytes, n: usize) -> Option<Bytes> {
    if buf.len() < n {
        return None;
    }
    let rest = buf.split_off(n);
    Some(std::mem::replace(buf, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let k = |s: &str| ObjectKey::new(s).unwrap();
        let objs = vec![
            (k("tile/0/000"), Bytes::from(vec![7u8; 8192])),
            (k("tile/entries/000.p/3"), Bytes::from_static(b"abc")),
            (k("tile/1/000.p/1"), Bytes::new()),
        ];
        let key = key(3, &vouch_tlog::Hash([0xab; 32]));
        assert_eq!(key.as_str(), format!("staging/3-{}", "ab".repeat(32)));
        let enc = encode(&objs);
        assert_eq!(decode(&key, enc.clone()).unwrap(), objs);
        for cut in [1, MAGIC.len() + 1, enc.len() - 1] {
            let e = decode(&key, enc.slice(..cut)).unwrap_err();
            assert_eq!(e.code(), "SEQ_E007", "{cut}");
        }
    }
}
