//! [`TileClient`]: reads any C2SP tlog-tiles log over HTTP and computes proofs from the
//! tiles it fetches (tlog-tiles, "APIs").

use futures_util::stream::{self, StreamExt, TryStreamExt};
use vouch_tlog::note::MAX_NOTE_SIZE;
use vouch_tlog::tile::TILE_WIDTH;
use vouch_tlog::{
    consistency_proof_nodes, inclusion_proof_nodes, tiles_for_nodes, BundleId, Hash, HashReader,
    SignedCheckpoint, TileHashReader, TileId, Verifier,
};

use crate::Error;

/// Tiles fetched concurrently.
const PARALLEL_FETCHES: usize = 8;
/// Largest entry bundle: 256 entries of at most 65,535 bytes plus their prefixes.
const MAX_BUNDLE_SIZE: usize = 256 * (2 + vouch_tlog::MAX_ENTRY_SIZE);

/// A client for one log: its URL prefix and an HTTP client (rustls, gzip).
#[derive(Clone, Debug)]
pub struct TileClient {
    prefix: String,
    http: reqwest::Client,
}

impl TileClient {
    /// A client for the log at `prefix` (`http://` or `https://`; a trailing slash is
    /// optional).
    pub fn new(prefix: &str) -> Result<Self, Error> {
        if !(prefix.starts_with("https://") || prefix.starts_with("http://")) {
            return Err(Error::Url {
                url: prefix.to_owned(),
                reason: "must start with http:// or https://",
            });
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|source| Error::Http {
                url: prefix.to_owned(),
                source,
            })?;
        Ok(Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The URL prefix, without a trailing slash.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// GETs `path` under the prefix, failing on non-200 and on bodies over `max` bytes.
    /// `Ok(None)` for 404, so callers can fall back.
    async fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, Error> {
        let url = format!("{}/{path}", self.prefix);
        let http_err = |source| Error::Http {
            url: url.clone(),
            source,
        };
        let mut resp = self.http.get(&url).send().await.map_err(http_err)?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            return Err(Error::Status { url, status });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http_err)? {
            if body.len() + chunk.len() > max {
                return Err(Error::TooLarge { url, max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    async fn get_required(&self, path: &str, max: usize) -> Result<Vec<u8>, Error> {
        self.get(path, max).await?.ok_or_else(|| Error::Status {
            url: format!("{}/{path}", self.prefix),
            status: 404,
        })
    }

    /// The raw signed checkpoint (`<prefix>/checkpoint`).
    pub async fn checkpoint_bytes(&self) -> Result<Vec<u8>, Error> {
        self.get_required("checkpoint", MAX_NOTE_SIZE).await
    }

    /// The checkpoint, verified against the log's keys and origin.
    pub async fn checkpoint(
        &self,
        origin: &str,
        keys: &[Verifier],
    ) -> Result<SignedCheckpoint, Error> {
        let bytes = self.checkpoint_bytes().await?;
        Ok(vouch_tlog::open_checkpoint(&bytes, origin, keys)?)
    }

    /// A hash tile. A partial tile the log has already replaced by its full tile is
    /// read from the full tile and truncated (tlog-tiles, "Partial Tiles").
    pub async fn tile(&self, id: &TileId) -> Result<Vec<u8>, Error> {
        let max = usize::from(TILE_WIDTH) * 32;
        if let Some(b) = self.get(&id.path(), max).await? {
            return check_len(self, id, b);
        }
        if id.width < TILE_WIDTH {
            if let Some(mut b) = self.get(&id.full().path(), max).await? {
                b.truncate(id.byte_len());
                return check_len(self, id, b);
            }
        }
        Err(Error::Status {
            url: format!("{}/{}", self.prefix, id.path()),
            status: 404,
        })
    }

    /// An entry bundle, decoded and checked to hold `id.width` entries. Falls back to the
    /// full bundle like [`TileClient::tile`].
    #[allow(
        clippy::indexing_slicing,
        reason = "entries.len() >= id.width checked above"
    )]
    pub async fn bundle(&self, id: &BundleId) -> Result<Vec<Vec<u8>>, Error> {
        let body = match self.get(&id.path(), MAX_BUNDLE_SIZE).await? {
            Some(b) => b,
            None if id.width < TILE_WIDTH => {
                let full = BundleId {
                    index: id.index,
                    width: TILE_WIDTH,
                };
                self.get_required(&full.path(), MAX_BUNDLE_SIZE).await?
            }
            None => self.get_required(&id.path(), MAX_BUNDLE_SIZE).await?,
        };
        let entries = vouch_tlog::decode_entry_bundle(&body)?;
        if entries.len() < usize::from(id.width) {
            return Err(vouch_tlog::Error::BundleCount {
                expected: usize::from(id.width),
                found: entries.len(),
            }
            .into());
        }
        Ok(entries[..usize::from(id.width)]
            .iter()
            .map(|e| e.to_vec())
            .collect())
    }

    /// Fetches (in parallel) the tiles needed to read `nodes` in a tree of `size`.
    pub async fn hash_reader(
        &self,
        size: u64,
        nodes: &[vouch_tlog::NodeId],
    ) -> Result<TileHashReader, Error> {
        let tiles = tiles_for_nodes(nodes, size)?;
        let fetched: Vec<(TileId, Vec<u8>)> = stream::iter(tiles)
            .map(|t| async move { self.tile(&t).await.map(|b| (t, b)) })
            .buffer_unordered(PARALLEL_FETCHES)
            .try_collect()
            .await?;
        let mut r = TileHashReader::new(size);
        for (t, b) in fetched {
            r.insert(&t, &b)?;
        }
        Ok(r)
    }

    /// The inclusion proof of `index` in the tree of `size`, computed from tiles. The
    /// caller verifies it against a trusted root.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        let nodes = inclusion_proof_nodes(index, size)?;
        let r = self.hash_reader(size, &nodes).await?;
        Ok(vouch_tlog::inclusion_proof(index, size, &r)?)
    }

    /// The consistency proof from `old` to `new`, computed from tiles.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, Error> {
        let nodes = consistency_proof_nodes(old, new)?;
        let r = self.hash_reader(new, &nodes).await?;
        Ok(vouch_tlog::consistency_proof(old, new, &r)?)
    }

    /// The leaf hash stored for `index` in the tree of `size` (from its level-0 tile).
    #[allow(
        clippy::indexing_slicing,
        reason = "TileHashReader::read_hashes answers one hash per node asked for (one), or an error"
    )]
    pub async fn leaf_hash(&self, index: u64, size: u64) -> Result<Hash, Error> {
        let node = vouch_tlog::NodeId { level: 0, index };
        let r = self.hash_reader(size, &[node]).await?;
        let h = r.read_hashes(&[node])?;
        Ok(h[0])
    }

    /// The entry at `index` in the tree of `size`, from its entry bundle. The caller
    /// checks it against the leaf hash proven by an inclusion proof.
    pub async fn entry(&self, index: u64, size: u64) -> Result<Vec<u8>, Error> {
        let id = BundleId::for_entry(index, size)
            .ok_or(vouch_tlog::Error::IndexOutOfRange { index, size })?;
        let mut entries = self.bundle(&id).await?;
        let pos = (index - id.first_entry()) as usize;
        Ok(entries.swap_remove(pos))
    }
}

fn check_len(c: &TileClient, id: &TileId, b: Vec<u8>) -> Result<Vec<u8>, Error> {
    if b.len() != id.byte_len() {
        tracing::debug!(prefix = c.prefix(), tile = %id, found_bytes = b.len(), "tile of wrong length");
        return Err(vouch_tlog::Error::TileLength {
            tile: *id,
            expected: id.byte_len(),
            found: b.len(),
        }
        .into());
    }
    Ok(b)
}
