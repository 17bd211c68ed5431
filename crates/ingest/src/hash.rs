//! Streaming an asset through SHA-256 and BLAKE3 within the hash budget.
//!
//! Memory stays flat whatever the asset's size: bytes arrive in network-sized pieces,
//! are gathered into 1 MiB chunks, and at most two chunks exist at a time. While one
//! chunk is hashed on a blocking thread (SHA-256 and BLAKE3 as the two halves of a
//! `rayon::join`, so with two cores both run at once), the next is being received.
//!
//! The forge's listing is a claim that is checked, not trusted: a `Content-Length`
//! that differs from the listed size, a body that runs past the listed size (refused
//! the moment it does, without reading the rest), a body that ends short, or a SHA-256
//! that differs from a digest the forge listed are all errors. Assets over the budget,
//! by their listed size, their `Content-Length` or (with neither) by counting, are
//! skipped without an integrity entry.

use crate::error::{IngestError, SizeProblem};
use crate::fetch::{content_length, transport, Fetcher};
use crate::guard::redact;
use crate::release::AssetRef;

/// Bytes hashed per step.
pub const CHUNK_BYTES: usize = 1 << 20;

/// The asset hash budget: assets larger than this are indexed without an integrity entry.
///
/// Sizes are binary: the default is 500 MiB (524,288,000 bytes, as DESIGN.md states;
/// the "500 MB" is read as the same figure), the maximum 16 GiB and the
/// minimum 1 MiB. Values outside the range are refused with `INGEST_E015`, never clamped
/// silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashBudget(u64);

impl HashBudget {
    /// 500 MiB.
    pub const DEFAULT_BYTES: u64 = 500 << 20;
    /// 16 GiB.
    pub const MAX_BYTES: u64 = 16 << 30;
    /// 1 MiB.
    pub const MIN_BYTES: u64 = 1 << 20;

    /// A budget of `bytes`, refused with `INGEST_E015` outside `MIN_BYTES..=MAX_BYTES`.
    pub fn new(bytes: u64) -> Result<Self, IngestError> {
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&bytes) {
            return Err(IngestError::BudgetOutOfRange {
                min_bytes: Self::MIN_BYTES,
                max_bytes: Self::MAX_BYTES,
                found_bytes: bytes,
            });
        }
        Ok(Self(bytes))
    }

    /// The budget in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl Default for HashBudget {
    fn default() -> Self {
        Self(Self::DEFAULT_BYTES)
    }
}

/// Why an asset was not hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// Larger than the hash budget.
    OverHashBudget,
}

impl SkipReason {
    /// The stable snake_case name for audit rows (`over_hash_budget`).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::OverHashBudget => "over_hash_budget",
        }
    }
}

/// The size and digests of some bytes (`vouch-digest`'s, the one type for both).
pub use vouch_digest::Digests;

/// What hashing an asset came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashOutcome {
    /// Every byte was received and hashed and matched the forge's claims.
    Hashed(Digests),
    /// Not hashed. `size` is the listed or announced size, or, when the forge announced
    /// none, the number of bytes received before the budget ran out (a lower bound).
    Skipped {
        size: u64,
        cap: u64,
        reason: SkipReason,
    },
}

/// SHA-256 and BLAKE3 over the same bytes, each chunk hashed by the two in parallel.
type DualHasher = vouch_digest::Hasher;

type Job = tokio::task::JoinHandle<(DualHasher, Vec<u8>)>;

/// Gathers pieces into chunks and hashes each chunk on a blocking thread while the next
/// is gathered. At most two chunk buffers exist: the one filling and the one hashing.
pub struct StreamHasher {
    idle: Option<DualHasher>,
    running: Option<Job>,
    filling: Vec<u8>,
    spare: Option<Vec<u8>>,
    seen: u64,
}

impl Default for StreamHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamHasher {
    /// A hasher with nothing fed. Must be used inside a tokio runtime.
    pub fn new() -> Self {
        Self {
            idle: Some(DualHasher::new()),
            running: None,
            filling: Vec::with_capacity(CHUNK_BYTES),
            spare: None,
            seen: 0,
        }
    }

    /// Bytes fed so far.
    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    /// Feeds the next piece.
    #[allow(clippy::indexing_slicing, reason = "take = min(room, piece.len())")]
    pub async fn update(&mut self, mut piece: &[u8]) -> Result<(), IngestError> {
        self.seen += piece.len() as u64;
        while !piece.is_empty() {
            let room = CHUNK_BYTES - self.filling.len();
            let take = room.min(piece.len());
            self.filling.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if self.filling.len() == CHUNK_BYTES {
                self.dispatch().await?;
            }
        }
        Ok(())
    }

    /// Waits for the running chunk (if any) and starts hashing the filled one.
    async fn dispatch(&mut self) -> Result<(), IngestError> {
        let mut hasher = self.settle().await?;
        let next = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK_BYTES));
        let chunk = std::mem::replace(&mut self.filling, next);
        self.running = Some(tokio::task::spawn_blocking(move || {
            hasher.update_parallel(&chunk);
            let mut chunk = chunk;
            chunk.clear();
            (hasher, chunk)
        }));
        Ok(())
    }

    /// The hasher, once no chunk is being hashed.
    async fn settle(&mut self) -> Result<DualHasher, IngestError> {
        if let Some(job) = self.running.take() {
            let (hasher, buf) = job.await.map_err(|e| IngestError::HashTask {
                detail: e.to_string(),
            })?;
            self.spare = Some(buf);
            return Ok(hasher);
        }
        self.idle.take().ok_or_else(|| IngestError::HashTask {
            detail: "hasher used after a failed step".into(),
        })
    }

    /// Hashes what is left and answers the digests.
    pub async fn finish(mut self) -> Result<Digests, IngestError> {
        if !self.filling.is_empty() {
            self.dispatch().await?;
        }
        Ok(self.settle().await?.finalize())
    }
}

/// Hashes a local file through the same pipeline as downloads (used by the benchmark
/// and by callers that already hold the bytes on disk).
#[allow(
    clippy::indexing_slicing,
    reason = "n is what read returned for buf, at most buf.len()"
)]
pub async fn hash_file(path: &std::path::Path) -> std::io::Result<Digests> {
    use tokio::io::AsyncReadExt as _;
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = StreamHasher::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher
            .update(&buf[..n])
            .await
            .map_err(std::io::Error::other)?;
    }
    hasher.finish().await.map_err(std::io::Error::other)
}

impl Fetcher {
    /// Downloads and hashes one asset within `budget`; see the module docs for what is
    /// checked. Nothing is buffered beyond two 1 MiB chunks.
    pub async fn hash_asset(
        &self,
        asset: &AssetRef,
        budget: HashBudget,
    ) -> Result<HashOutcome, IngestError> {
        let cap = budget.bytes();
        let skipped = |size| HashOutcome::Skipped {
            size,
            cap,
            reason: SkipReason::OverHashBudget,
        };
        if let Some(claimed) = asset.size_claimed {
            if claimed > cap {
                return Ok(skipped(claimed));
            }
        }
        let fetched = self
            .get(asset.download_url.clone(), false, false)
            .await?
            .ok_or_else(|| IngestError::Status {
                url: redact(&asset.download_url),
                status: 404,
            })?;
        let (url, mut response) = (fetched.url, fetched.response);
        let announced = content_length(response.headers());
        match (asset.size_claimed, announced) {
            (Some(claimed), Some(len)) if claimed != len => {
                return Err(IngestError::ContentLengthMismatch {
                    name: asset.name.clone(),
                    claimed_bytes: claimed,
                    content_length: len,
                })
            }
            (None, Some(len)) if len > cap => return Ok(skipped(len)),
            _ => {}
        }
        // The most bytes this download may deliver before it is refused or skipped.
        let limit = asset.size_claimed.or(announced).unwrap_or(cap);
        let mut hasher = StreamHasher::new();
        while let Some(piece) = response.chunk().await.map_err(|e| {
            let mut err = transport(&url, &e);
            if let IngestError::Transport { detail, .. } = &mut err {
                detail.push_str(&format!(" (after {} bytes)", hasher.bytes_seen()));
            }
            err
        })? {
            let total = hasher.bytes_seen() + piece.len() as u64;
            if total > limit {
                return match asset.size_claimed.or(announced) {
                    Some(claimed) => Err(IngestError::AssetSizeMismatch {
                        name: asset.name.clone(),
                        claimed_bytes: claimed,
                        found_bytes: total,
                        problem: SizeProblem::Longer,
                    }),
                    None => Ok(skipped(total)),
                };
            }
            hasher.update(&piece).await?;
        }
        let digests = hasher.finish().await?;
        if let Some(claimed) = asset.size_claimed.or(announced) {
            if digests.size != claimed {
                return Err(IngestError::AssetSizeMismatch {
                    name: asset.name.clone(),
                    claimed_bytes: claimed,
                    found_bytes: digests.size,
                    problem: SizeProblem::Shorter,
                });
            }
        }
        if let Some(claimed) = asset.sha256_claimed {
            if claimed != digests.sha256 {
                return Err(IngestError::AssetDigestMismatch {
                    name: asset.name.clone(),
                    claimed: hex::encode(claimed),
                    computed: hex::encode(digests.sha256),
                });
            }
        }
        Ok(HashOutcome::Hashed(digests))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn reference(data: &[u8]) -> Digests {
        Digests {
            size: data.len() as u64,
            sha256: sha2::Sha256::digest(data).into(),
            blake3: *blake3::hash(data).as_bytes(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stream_hasher_matches_one_shot_across_chunk_boundaries() {
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES + 5,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            for piece in [7usize, 16 << 10, 3 << 20] {
                let mut h = StreamHasher::new();
                for p in data.chunks(piece) {
                    h.update(p).await.unwrap();
                }
                assert_eq!(h.finish().await.unwrap(), reference(&data), "{len}/{piece}");
            }
        }
        let abc = {
            let mut h = StreamHasher::new();
            h.update(b"abc").await.unwrap();
            h.finish().await.unwrap()
        };
        assert_eq!(
            hex::encode(abc.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(abc.blake3),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }

    #[test]
    fn budget_range() {
        assert_eq!(HashBudget::default().bytes(), 524_288_000);
        assert_eq!(HashBudget::new(16 << 30).unwrap().bytes(), 17_179_869_184);
        for bad in [0, (1 << 20) - 1, (16 << 30) + 1, u64::MAX] {
            assert_eq!(HashBudget::new(bad).unwrap_err().code(), "INGEST_E015");
        }
    }
}
