//! The RFC 3161 timestamp authority routes: `POST /api/v1/timestamp` (`application/timestamp-query` in, `application/timestamp-reply` out; body capped at 4 KiB) and `GET /api/v1/timestamp/certchain` (PEM, timestamping certificate then TSA root).
//!
//! A granted token is a 200 `application/timestamp-reply`. A refused query is a 4xx with
//! the coded JSON error (`TSA_E…`) rather than a 200 carrying a rejection status, so
//! clients and logs see the refusal as what it is.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::error::{self, body_rejection};
use crate::app::AppState;
use crate::ApiError;

/// Media type of the query.
pub const QUERY_TYPE: &str = "application/timestamp-query";
/// Media type of the reply.
pub const REPLY_TYPE: &str = "application/timestamp-reply";

/// `POST /api/v1/timestamp`.
pub async fn timestamp(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| body_rejection(e, vouch_timestamp::MAX_REQUEST_BYTES))?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if ct != Some(QUERY_TYPE) {
        return Err(error::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "SIGSTORE_E012",
            format!("expected Content-Type: {QUERY_TYPE}"),
        ));
    }
    let granted = app.sigstore.tsa.timestamp(&body)?;
    Ok((
        [
            (header::CONTENT_TYPE, REPLY_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        granted.response_der,
    )
        .into_response())
}

/// `GET /api/v1/timestamp/certchain`.
pub async fn certchain(State(app): State<Arc<AppState>>) -> Response {
    let pem: String = app.sigstore.tsa.chain_pem().concat();
    (
        [
            (header::CONTENT_TYPE, "application/pem-certificate-chain"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        pem,
    )
        .into_response()
}
