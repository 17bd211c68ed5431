//! Bounded HTTP exchanges with the signing services: a timeout on every request and a
//! size cap on every body read, with failures sorted into "refused" (4xx) and
//! "unavailable" (connection, timeout, 5xx) for the caller's error mapping.

use std::time::Duration;

use crate::error::Stage;

/// Caps on answers; each far above what a real answer needs.
pub(crate) const MAX_CONFIG_BYTES: usize = 1024 * 1024;
pub(crate) const MAX_CA_BYTES: usize = 256 * 1024;
pub(crate) const MAX_TSA_BYTES: usize = 64 * 1024;
pub(crate) const MAX_LOG_BYTES: usize = 256 * 1024;
/// How much of an error body is kept for the message.
const MAX_ERROR_DETAIL: usize = 512;

/// Timeouts: the log answers only once the entry is durable (a batch), so it gets longer.
pub(crate) const CONFIG_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const CA_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const TSA_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const LOG_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an exchange failed, before it becomes a stage-specific `SignError`.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered 4xx; `detail` is the start of its body.
    Refused { status: u16, detail: String },
    /// No answer, a timeout, or 5xx.
    Unavailable { detail: String },
    /// The answer is larger than the cap.
    TooLarge { limit: usize },
}

/// Sends `request` (whose timeout is set here) and reads at most `limit` bytes of a 2xx
/// body.
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    limit: usize,
) -> Result<Vec<u8>, Failure> {
    let mut response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| Failure::Unavailable {
            detail: describe(&e),
        })?;
    let status = response.status();
    if !status.is_success() {
        let body = read_capped(&mut response, MAX_ERROR_DETAIL)
            .await
            .unwrap_or_default();
        let detail = String::from_utf8_lossy(&body).trim().to_string();
        let detail = if detail.is_empty() {
            status.canonical_reason().unwrap_or("no body").to_string()
        } else {
            detail
        };
        return Err(if status.is_client_error() {
            Failure::Refused {
                status: status.as_u16(),
                detail,
            }
        } else {
            Failure::Unavailable {
                detail: format!("HTTP {}: {detail}", status.as_u16()),
            }
        });
    }
    if let Some(len) = response.content_length() {
        if len > limit as u64 {
            return Err(Failure::TooLarge { limit });
        }
    }
    match read_capped(&mut response, limit).await {
        Ok(body) if body.len() > limit => Err(Failure::TooLarge { limit }),
        Ok(body) => Ok(body),
        Err(detail) => Err(Failure::Unavailable { detail }),
    }
}

/// Reads the body, stopping one byte past `limit` (so the caller can tell "over").
#[allow(clippy::indexing_slicing, reason = "the end is min(chunk.len(), room)")]
async fn read_capped(response: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        let room = limit + 1 - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > limit {
            break;
        }
    }
    Ok(body)
}

/// A reqwest error without the URL repeated and with its cause chain.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Turns a size failure into the shared error.
pub(crate) fn too_large(stage: Stage, url: &str, limit: usize) -> crate::SignError {
    crate::SignError::ResponseTooLarge {
        stage,
        stage_name: stage.name(),
        url: url.to_string(),
        limit_bytes: limit,
    }
}

/// POSTs a log entry request (Rekor v1 or v2, by `url`) as JSON and answers the log's
/// body, capped: the one place a refused, unreachable or oversized log answer becomes
/// its `SignError`.
pub(crate) async fn post_log_entry(
    client: &reqwest::Client,
    url: &str,
    body: &impl serde::Serialize,
) -> Result<Vec<u8>, crate::SignError> {
    let request = client
        .post(url)
        .header("accept", "application/json")
        .json(body);
    exchange(request, LOG_TIMEOUT, MAX_LOG_BYTES)
        .await
        .map_err(|failure| match failure {
            Failure::Refused { status, detail } => crate::SignError::LogRefused {
                url: url.to_owned(),
                status,
                detail,
            },
            Failure::Unavailable { detail } => crate::SignError::LogUnavailable {
                url: url.to_owned(),
                detail,
            },
            Failure::TooLarge { limit } => too_large(Stage::Log, url, limit),
        })
}
