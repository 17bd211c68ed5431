//! `GET /blobs/<blake3>` (the archive) and `GET /blobs/<blake3>.sigstore` (its bundle), served only when a committed index entry references the blob.
//!
//! A publish stores blob and bundle before it commits the version row, so a crash in
//! between leaves objects no entry references; answering 404 for those keeps them
//! invisible. Content is immutable: strong ETags, `immutable` Cache-Control.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vouch_store::ObjectKey;

use super::codes;
use crate::{ApiError, AppState};

/// The archive's media type (RFC 8878).
pub const ARCHIVE_MEDIA_TYPE: &str = "application/zstd";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What a `/blobs/...` path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPath {
    Archive([u8; 32]),
    Bundle([u8; 32]),
}

/// Parses `<64 lowercase hex>` or `<64 lowercase hex>.sigstore`.
pub fn parse(file: &str) -> Option<BlobPath> {
    let (hex_part, bundle) = match file.strip_suffix(".sigstore") {
        Some(h) => (h, true),
        None => (file, false),
    };
    if hex_part.len() != 64
        || !hex_part
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut b3 = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut b3).ok()?;
    Some(if bundle {
        BlobPath::Bundle(b3)
    } else {
        BlobPath::Archive(b3)
    })
}

/// The bundle's own `mediaType` (bundle v0.1 to v0.3), else plain JSON.
fn bundle_media_type(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: String,
    }
    serde_json::from_slice::<Probe>(bytes)
        .ok()
        .map(|p| p.media_type)
        .filter(|m| {
            m.starts_with("application/vnd.dev.sigstore.bundle")
                && m.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        })
        .unwrap_or_else(|| "application/json".to_owned())
}

fn immutable(
    etag: String,
    content_type: &str,
    body: bytes::Bytes,
    headers: &HeaderMap,
) -> Response {
    let etag_value = HeaderValue::from_str(&etag).ok();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        if let Ok(ct) = HeaderValue::from_str(content_type) {
            r.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        r
    };
    let h = resp.headers_mut();
    if let Some(e) = etag_value {
        h.insert(header::ETAG, e);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `GET /blobs/{file}`.
pub async fn blob(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("no blob {file}"));
    let what = parse(&file).ok_or_else(not_found)?;
    let b3 = match what {
        BlobPath::Archive(b) | BlobPath::Bundle(b) => b,
    };
    // The visibility rule: only what a committed entry references.
    let Some((package, entry)) = state.meta.version_by_blob(&b3).await.map_err(codes::meta)? else {
        return Err(not_found());
    };
    match what {
        BlobPath::Archive(_) => {
            let bytes = state
                .blobs
                .get(&b3)
                .await
                .map_err(|e| ApiError::internal(&e))?
                .ok_or_else(|| {
                    tracing::error!(blob = %file, %package, "indexed blob is missing from storage");
                    ApiError::internal(&std::io::Error::other("indexed blob missing"))
                })?;
            Ok(immutable(
                format!("\"{}\"", hex::encode(b3)),
                ARCHIVE_MEDIA_TYPE,
                bytes,
                &headers,
            ))
        }
        BlobPath::Bundle(_) => {
            let key =
                ObjectKey::new(entry.bundle_key.clone()).map_err(|e| ApiError::internal(&e))?;
            let bytes = state
                .blobs
                .get_bundle(&key)
                .await
                .map_err(|e| ApiError::internal(&e))?
                .ok_or_else(|| {
                    tracing::error!(bundle = %entry.bundle_key, %package, "indexed bundle is missing from storage");
                    ApiError::internal(&std::io::Error::other("indexed bundle missing"))
                })?;
            let etag = format!("\"{}\"", blake3::hash(&bytes).to_hex());
            let media_type = bundle_media_type(&bytes);
            Ok(immutable(etag, &media_type, bytes, &headers))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let h = "ab".repeat(32);
        assert_eq!(parse(&h), Some(BlobPath::Archive([0xab; 32])));
        assert_eq!(
            parse(&format!("{h}.sigstore")),
            Some(BlobPath::Bundle([0xab; 32]))
        );
        for bad in [
            "AB".repeat(32),
            "ab".repeat(31),
            format!("{h}.json"),
            format!("../{h}"),
            String::new(),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn bundle_media_type_comes_from_the_bundle() {
        let v3 = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
        assert_eq!(
            bundle_media_type(v3),
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        assert_eq!(
            bundle_media_type(br#"{"mediaType":"text/html"}"#),
            "application/json"
        );
        assert_eq!(bundle_media_type(b"nope"), "application/json");
    }
}
