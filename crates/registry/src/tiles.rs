//! The tlog-tiles read endpoints: `<prefix>/checkpoint` and `<prefix>/tile/...` with the cache headers each deserves.
//!
//! Only resources inside the committed tree are served: a tile or bundle beyond the
//! latest checkpoint is a 404 even if the object exists, because a crashed batch may
//! have left objects there that the next batch overwrites (see `vouch_log::sequencer`).
//! That is what keeps every served full tile immutable.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use vouch_tlog::tile::hashes_at_level;
use vouch_tlog::{BundleId, TileId, TilePath, HASH_SIZE, TILE_WIDTH};

use crate::app::AppState;
use crate::ApiError;

/// Full tiles and bundles never change (tlog-tiles): a year, immutable.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Partial tiles are superseded as the tree grows.
const PARTIAL: &str = "public, max-age=60";
/// The checkpoint changes with every batch: caches must revalidate.
const MUTABLE: &str = "no-cache";

/// `GET <prefix>/checkpoint`: the committed signed checkpoint (on a follower, read
/// from the lock database, at most `cluster::COMMITTED_TTL` old), or 503 once this
/// node's sequencer has stopped (its checkpoint may be older than the committed one) or
/// the committed one cannot be read.
pub async fn checkpoint(State(app): State<Arc<AppState>>) -> Response {
    let note = match app.log.committed().await {
        Ok(p) => p.note.clone(),
        Err(e) => return unknown_checkpoint(e).into_response(),
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(MUTABLE)),
        ],
        note,
    )
        .into_response()
}

/// 503 for a committed checkpoint this node does not know: its sequencer stopped
/// (SERVE_E010), or as a follower it cannot read the lock row (SERVE_E014).
pub(crate) fn unknown_checkpoint(e: crate::cluster::WriteError) -> ApiError {
    match e {
        crate::cluster::WriteError::Log(_) => sequencer_stopped(),
        other => ApiError::from(other),
    }
}

/// 503 for a checkpoint this node cannot vouch for as current.
pub(crate) fn sequencer_stopped() -> ApiError {
    ApiError {
        retry_after: Some(5),
        ..ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "SERVE_E010",
            "this node's log sequencer has stopped (another process committed to its lock \
             database, or the lock database failed); it serves no checkpoint rather than a \
             possibly stale one",
        )
    }
}

/// `GET <prefix>/tile/<L>/<N>[.p/<W>]` and `GET <prefix>/tile/entries/<N>[.p/<W>]`.
pub async fn tile(
    State(app): State<Arc<AppState>>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    let path = format!("tile/{rest}");
    let parsed = TilePath::parse(&path)
        .map_err(|e| ApiError::bad_request(format!("not a tile path: {e}")))?;
    let size = app.log.committed().await.map_err(unknown_checkpoint)?.size;
    let (end, available, full) = match parsed {
        TilePath::Hash(t) => (
            t.index * u64::from(TILE_WIDTH) + u64::from(t.width),
            hashes_at_level(t.level, size),
            t.width == TILE_WIDTH,
        ),
        TilePath::Entries(b) => (
            b.index * u64::from(TILE_WIDTH) + u64::from(b.width),
            size,
            b.width == TILE_WIDTH,
        ),
    };
    if end > available {
        return Err(ApiError::not_found(format!(
            "{path} is beyond the tree of size {size}"
        )));
    }
    let body = match app.cache.get(&path) {
        Some(b) => b,
        None => {
            let b = fetch(&app, parsed, size).await?;
            if full {
                app.cache.insert(path, b.clone());
            }
            b
        }
    };
    let cache = if full { IMMUTABLE } else { PARTIAL };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response())
}

/// Reads the object, or for a partial width that was never a checkpoint size, a wider
/// version of the same tile cut down to the requested width.
async fn fetch(app: &AppState, parsed: TilePath, size: u64) -> Result<Bytes, ApiError> {
    let objects = app.log.objects();
    let get = |path: String| async move {
        let key = vouch_store::ObjectKey::new(path).map_err(|e| ApiError::internal(&e))?;
        objects.get(&key).await.map_err(|e| ApiError::internal(&e))
    };
    if let Some(b) = get(parsed.path()).await? {
        return Ok(b);
    }
    let missing = || ApiError::internal(&vouch_log::LogError::Missing { key: parsed.path() });
    match parsed {
        TilePath::Hash(t) => {
            let wider = wider_tile(t, size);
            let b = get(wider.path()).await?.ok_or_else(missing)?;
            let n = usize::from(t.width) * HASH_SIZE;
            if b.len() < n {
                return Err(missing());
            }
            Ok(b.slice(..n))
        }
        TilePath::Entries(e) => {
            let wider = wider_tile(e.hash_tile(), size);
            let id = BundleId {
                index: e.index,
                width: wider.width,
            };
            let b = get(id.path()).await?.ok_or_else(missing)?;
            prefix_of_bundle(&b, e.width).ok_or_else(missing)
        }
    }
}

/// The same tile at the width the committed tree gives it (full, or the current partial).
fn wider_tile(t: TileId, size: u64) -> TileId {
    TileId::for_hash(t.level, t.index * u64::from(TILE_WIDTH), size).unwrap_or(t.full())
}

/// The first `width` entries of an encoded bundle (each a uint16 length plus bytes).
fn prefix_of_bundle(b: &Bytes, width: u16) -> Option<Bytes> {
    let mut off = 0usize;
    for _ in 0..width {
        let len = usize::from(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]));
        off = off.checked_add(2 + len)?;
        if off > b.len() {
            return None;
        }
    }
    Some(b.slice(..off))
}
