//! The client of a vouch registry's HTTP API: one configured HTTP client, reads capped by
//! the kind of answer, the registry's `{code, detail}` refusals turned into typed
//! [`CodedError`]s (the registry's code reaches the caller unchanged), the instance's
//! trust configuration and the log key inside it; the admin API's client ([`admin`]) and
//! the development helpers ([`dev`]: a dev identity token, the trust configuration).
//!
//! Every client library of vouch (the consumer side, the publisher side) builds on this
//! crate and returns its [`CodedError`]. Nothing here knows about terminals or exit
//! statuses: a command line maps [`Outcome`] to its exit code, and long transfers report
//! to a [`Progress`] the caller supplies.

pub mod admin;
pub mod codes;
pub mod dev;
mod error;
pub mod integrity;
pub mod text;

use base64::Engine as _;
use serde_json::Value;
use vouch_package::publish_codes;
use vouch_tlog::{KeyType, Verifier as NoteVerifier};

pub use error::{error_chain, summarize, CodedError, Outcome};

/// The result type of the client libraries.
pub type Result<T, E = CodedError> = std::result::Result<T, E>;

/// Registry refusals that mean "the registry checked and it did not hold"
/// ([`Outcome::Refused`]); every other code the registry answers with is operational.
const REFUSAL_CODES: &[&str] = &[
    publish_codes::NO_BINDING,
    publish_codes::BUNDLE_INVALID,
    publish_codes::IDENTITY_MISMATCH,
    publish_codes::SCOPE_NOT_OWNED,
];

/// Whether `code` has the shape of a vouch error code (`PREFIX_E` and three digits).
/// A registry's answer passes its code through only when it has this shape, so a hostile
/// server cannot print arbitrary text where a code belongs.
pub fn is_code(code: &str) -> bool {
    let Some((prefix, num)) = code.split_once("_E") else {
        return false;
    };
    !prefix.is_empty()
        && prefix.len() <= 16
        && prefix.bytes().all(|b| b.is_ascii_uppercase())
        && num.len() == 3
        && num.bytes().all(|b| b.is_ascii_digit())
}

/// The error for a network failure talking to the registry (`REG_E001`), with the whole
/// cause chain (e.g. "connection refused") on the line.
pub fn unreachable(what: &str, url: &str, e: &(dyn std::error::Error + 'static)) -> CodedError {
    CodedError::error(
        "REG_E001",
        format!("{what}: cannot reach {url}: {}", error_chain(e)),
    )
}

/// The `code` and `detail` of a vouch server's JSON error body (`{"code": .., "detail": ..}`),
/// or `None` when the body is not one. The detail may be empty.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub fn error_envelope(body: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Some((
        v["code"].as_str()?.to_owned(),
        v["detail"].as_str().unwrap_or("").to_owned(),
    ))
}

/// The HTTP client every registry call uses: vouch's user agent, a 10 s connect timeout
/// and a 300 s overall timeout.
pub fn http() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .map_err(|e| {
            CodedError::error(
                "REG_E001",
                format!("building the HTTP client: {}", error_chain(&e)),
            )
        })
}

/// The server's base URL without a trailing slash; refuses anything but http(s).
pub fn base_url(server: &str) -> Result<String> {
    let s = server.trim().trim_end_matches('/');
    if !(s.starts_with("http://") || s.starts_with("https://")) {
        return Err(CodedError::error(
            "REG_E002",
            format!("--server must be an http:// or https:// URL, found {server:?}"),
        ));
    }
    Ok(s.to_owned())
}

/// A URL from the registry: absolute as given, or a path under `base`.
pub fn resolve(base: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("{base}/{}", url.trim_start_matches('/'))
    }
}

/// Caps on what a client reads from a server, by kind of answer (issue 13, item 5: a
/// 1.5 GB index entry once took 4.7 GB of memory). Archives are never held in memory:
/// they are streamed to a temporary file, capped by the size the index declares.
pub mod caps {
    /// An index entry (`GET /api/v1/packages/@scope/name/VERSION`): a few KB in practice.
    pub const INDEX_ENTRY: u64 = 1 << 20;
    /// A trust configuration (`GET /api/v1/trust-config`): keys and URLs, tens of KB.
    pub const TRUST_CONFIG: u64 = 1 << 20;
    /// An error answer's body: `{code, detail}`, or a proxy's error page.
    pub const ERROR_BODY: u64 = 64 << 10;
    /// Any other JSON answer (publish, register, admin API, integrity records, key
    /// sets). An audit page holds at most 1000 events.
    pub const API_ANSWER: u64 = 8 << 20;
}

/// The `REG_E004` error: `url` sent more than `max` bytes for `what`.
pub fn over_cap(what: &str, url: &str, max: u64) -> CodedError {
    CodedError::error(
        "REG_E004",
        format!("{what}: {url} sent more than {max} bytes, this answer's cap; stopped reading"),
    )
}

/// Reads a response body, stopping (and dropping the connection) as soon as it passes
/// `max` bytes: memory stays bounded whatever the server streams.
pub async fn read_capped(mut resp: reqwest::Response, max: u64, what: &str) -> Result<Vec<u8>> {
    let url = resp.url().to_string();
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(over_cap(what, &url, max));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| unreachable(what, &url, &e))?
    {
        if (out.len() + chunk.len()) as u64 > max {
            return Err(over_cap(what, &url, max));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// [`read_capped`], parsed as JSON.
pub async fn read_json_capped(resp: reqwest::Response, max: u64, what: &str) -> Result<Value> {
    let url = resp.url().to_string();
    let body = read_capped(resp, max, what).await?;
    serde_json::from_slice(&body)
        .map_err(|e| unreachable(&format!("{what} (the answer is not JSON)"), &url, &e))
}

/// The blocking client's [`read_capped`].
pub fn read_capped_blocking(
    resp: reqwest::blocking::Response,
    max: u64,
    what: &str,
) -> Result<Vec<u8>> {
    use std::io::Read;
    let url = resp.url().to_string();
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(over_cap(what, &url, max));
    }
    let mut out = Vec::new();
    resp.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| unreachable(what, &url, &e))?;
    if out.len() as u64 > max {
        return Err(over_cap(what, &url, max));
    }
    Ok(out)
}

/// Turns a non-success registry answer into a coded error: the registry's own code and
/// detail when it sent the `{code, detail}` envelope, `REG_E003` otherwise. The body is
/// read up to [`caps::ERROR_BODY`]; beyond that the answer is `REG_E004`.
pub async fn api_error(what: &str, resp: reqwest::Response) -> CodedError {
    let status = resp.status();
    let body = match read_capped(resp, caps::ERROR_BODY, what).await {
        Ok(b) => b,
        Err(mut e) => {
            e.message = format!("{what}: the registry answered {status}: {}", e.message);
            return e;
        }
    };
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let code = parsed.as_ref().and_then(|v| v["code"].as_str());
    let detail = parsed
        .as_ref()
        .and_then(|v| v["detail"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(400).collect());
    match code.filter(|c| is_code(c)) {
        Some(code) => {
            let outcome = if REFUSAL_CODES.contains(&code) {
                Outcome::Refused
            } else {
                Outcome::Error
            };
            let said = if status.is_client_error() {
                "refused"
            } else {
                "failed"
            };
            CodedError::new(
                code.to_owned(),
                outcome,
                format!("{what}: the registry {said} ({status}): {detail}"),
            )
        }
        None => CodedError::error(
            "REG_E003",
            format!(
                "{what}: the registry answered {status}{}: {detail}",
                code.map(|c| format!(" with code {c:?}"))
                    .unwrap_or_default()
            ),
        ),
    }
}

/// GETs a JSON document of at most `max` bytes, failing with the registry's code on
/// non-success.
pub async fn get_json(http: &reqwest::Client, url: &str, what: &str, max: u64) -> Result<Value> {
    let body = get_bytes(http, url, what, max).await?;
    serde_json::from_slice(&body)
        .map_err(|e| unreachable(&format!("{what} (the answer is not JSON)"), url, &e))
}

/// GETs bytes, at most `max` of them.
pub async fn get_bytes(http: &reqwest::Client, url: &str, what: &str, max: u64) -> Result<Vec<u8>> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(what, url, &e))?;
    if !resp.status().is_success() {
        return Err(api_error(what, resp).await);
    }
    read_capped(resp, max, what).await
}

/// The instance's trust configuration (`GET BASE/api/v1/trust-config`), and the
/// `trustedRoot` inside it as JSON bytes.
pub async fn trusted_root(http: &reqwest::Client, base: &str) -> Result<Vec<u8>> {
    let url = format!("{base}/api/v1/trust-config");
    let cfg = get_json(
        http,
        &url,
        "fetching the trust configuration",
        caps::TRUST_CONFIG,
    )
    .await?;
    let root = cfg
        .get("trustedRoot")
        .filter(|r| r.is_object())
        .ok_or_else(|| CodedError::error("REG_E005", format!("{url} has no trustedRoot object")))?;
    Ok(root.to_string().into_bytes())
}

/// The signed-note verifier for the log whose checkpoint origin is `origin`: the
/// Ed25519 transparency-log key in the trusted root whose note key ID matches the
/// checkpoint's signature (`LOG_KEY` lines look like `— origin base64(keyid||sig)`).
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub fn log_verifier(
    trusted_root: &[u8],
    origin: &str,
    checkpoint_note: &str,
) -> Result<NoteVerifier> {
    let root: Value = serde_json::from_slice(trusted_root)
        .map_err(|e| CodedError::error("REG_E006", format!("the trusted root is not JSON: {e}")))?;
    let wanted_ids = signature_key_ids(checkpoint_note, origin);
    let b64 = base64::engine::general_purpose::STANDARD;
    for tlog in root["tlogs"].as_array().into_iter().flatten() {
        let Some(raw) = tlog["publicKey"]["rawBytes"].as_str() else {
            continue;
        };
        let Ok(der) = b64.decode(raw) else { continue };
        // SubjectPublicKeyInfo for Ed25519 (RFC 8410): a fixed 12-byte prefix, then the key.
        const ED25519_SPKI_PREFIX: [u8; 12] = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        let Some(key) = der.strip_prefix(&ED25519_SPKI_PREFIX[..]) else {
            continue;
        };
        let Ok(key) = <[u8; 32]>::try_from(key) else {
            continue;
        };
        let Ok(v) = NoteVerifier::new(origin, KeyType::Ed25519, &key) else {
            continue;
        };
        if wanted_ids.contains(&v.key_id()) {
            return Ok(v);
        }
    }
    Err(CodedError::error(
        "REG_E006",
        format!("the trusted root has no Ed25519 log key that signed the checkpoint of {origin:?}"),
    ))
}

/// Key IDs of the signature lines naming `origin` in a signed note.
fn signature_key_ids(note: &str, origin: &str) -> Vec<u32> {
    let b64 = base64::engine::general_purpose::STANDARD;
    note.lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(name, _)| *name == origin)
        .filter_map(|(_, sig)| b64.decode(sig).ok())
        .filter_map(|sig| sig.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()))
        .map(u32::from_be_bytes)
        .collect()
}

/// Where a long transfer reports how far it got. The command line draws a progress bar
/// on a terminal; a library caller may log, or pass [`NoProgress`].
pub trait Progress: Send + Sync {
    /// The transfer of `total` bytes starts; `verb` says what it is ("downloading").
    fn start(&self, total: u64, verb: &str);
    /// `n` more bytes moved.
    fn advance(&self, n: u64);
    /// The transfer ended, successfully or not.
    fn finish(&self);
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _total: u64, _verb: &str) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_code_shaped_strings_pass_as_codes() {
        for ok in ["PUB_E005", "AUTH_E001", "REKOR_E010"] {
            assert!(is_code(ok), "{ok}");
        }
        for bad in [
            "",
            "PUB_E05",
            "PUB_E0055",
            "pub_E005",
            "_E005",
            "PUB-E005",
            "PUB_E00x",
            "\u{1b}[2J_E001",
        ] {
            assert!(!is_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn error_envelope_reads_the_envelope_only() {
        assert_eq!(
            error_envelope(br#"{"code":"CA_E001","detail":"no"}"#),
            Some(("CA_E001".into(), "no".into()))
        );
        assert_eq!(error_envelope(b"<html>"), None);
        assert_eq!(error_envelope(br#"{"detail":"no"}"#), None);
    }

    #[test]
    fn base_url_refuses_other_schemes_with_reg_e002() {
        assert_eq!(base_url("http://x:1/").unwrap(), "http://x:1");
        let e = base_url("ftp://x").unwrap_err();
        assert_eq!(e.code(), "REG_E002");
        assert!(e.message.contains("ftp://x"), "{e}");
    }

    #[test]
    fn resolve_keeps_absolute_urls_and_joins_paths() {
        assert_eq!(resolve("http://a", "https://b/c"), "https://b/c");
        assert_eq!(resolve("http://a", "/c/d"), "http://a/c/d");
        assert_eq!(resolve("http://a", "c"), "http://a/c");
    }
}
