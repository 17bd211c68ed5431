//! The registry client's plumbing shared by publish, fetch and the audits: the HTTP
//! client, the registry's `{code, detail}` errors turned into [`CodedError`]s, the trust
//! configuration, the log key derived from it, and progress bars.

use std::io::IsTerminal;

use anyhow::Context;
use base64::Engine as _;
use serde_json::Value;
use vouch_tlog::{KeyType, Verifier as NoteVerifier};

use crate::output::{error_chain, CodedError, Exit};

/// Codes the registry may answer with that the CLI passes through unchanged.
const SERVER_CODES: &[&str] = &[
    "PUB_E001",
    "PUB_E002",
    "PUB_E003",
    "PUB_E004",
    "PUB_E005",
    "PUB_E006",
    "PUB_E007",
    "PUB_E008",
    "PUB_E014",
    "BIND_E001",
    "BIND_E002",
    "BIND_E003",
    "BIND_E004",
    "BIND_E005",
    "BIND_E006",
    "PKG_E001",
    "PKG_E002",
    "PKG_E003",
    "PKG_E004",
    "PKG_E005",
    "PKG_E006",
    "PKG_E007",
    "PKG_E008",
    "PKG_E009",
    "PKG_E010",
    "PKG_E011",
    "PKG_E012",
    "PKG_E013",
    "PKG_E014",
    "PKG_E015",
    "PKG_E016",
    "PKG_E017",
    "PKG_E018",
    "PKG_E019",
    "PKG_E020",
    "PKG_E021",
    "PKG_E022",
    "PKG_E023",
    "PKG_E024",
    "PKG_E025",
    "PKG_E026",
    "PKG_E027",
    "PKG_E028",
    "PKG_E029",
    "PKG_E030",
    "PKG_E031",
    "AUTH_E001",
    "AUTH_E002",
    "AUTH_E003",
    "AUTH_E004",
    "AUTH_E005",
    "AUTH_E006",
    "AUTH_E007",
];

/// Refusals that mean "the registry checked and it did not hold" (exit 1); every other
/// server error is operational (exit 2).
const VERIFY_CODES: &[&str] = &["PUB_E001", "PUB_E005", "PUB_E006", "PUB_E014"];

/// The error for a network failure talking to the registry (`REG_E001`, exit 2), with
/// the whole cause chain (e.g. "connection refused") on the line.
pub fn unreachable(what: &str, url: &str, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    CodedError::new(
        "REG_E001",
        Exit::Error,
        format!("{what}: cannot reach {url}: {}", error_chain(e)),
    )
    .into()
}

/// The HTTP client every registry command uses.
pub fn http() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .context("building the HTTP client")
}

/// A current-thread async runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The server's base URL without a trailing slash; refuses anything but http(s).
pub fn base_url(server: &str) -> anyhow::Result<String> {
    let s = server.trim().trim_end_matches('/');
    if !(s.starts_with("http://") || s.starts_with("https://")) {
        return Err(CodedError::new(
            "REG_E002",
            Exit::Error,
            format!("--server must be an http:// or https:// URL, found {server:?}"),
        )
        .into());
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

/// Caps on what the CLI reads from a server, by kind of answer (issue 13, item 5: a
/// 1.5 GB index entry once took 4.7 GB of memory). Archives are never held in memory:
/// `fetch` streams them to a temporary file, capped by the size the index declares.
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

/// The REG_E004 error: `url` sent more than `max` bytes for `what`.
pub fn over_cap(what: &str, url: &str, max: u64) -> anyhow::Error {
    CodedError::new(
        "REG_E004",
        Exit::Error,
        format!("{what}: {url} sent more than {max} bytes, this answer's cap; stopped reading"),
    )
    .into()
}

/// Reads a response body, stopping (and dropping the connection) as soon as it passes
/// `max` bytes: memory stays bounded whatever the server streams.
pub async fn read_capped(
    mut resp: reqwest::Response,
    max: u64,
    what: &str,
) -> anyhow::Result<Vec<u8>> {
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
pub async fn read_json_capped(
    resp: reqwest::Response,
    max: u64,
    what: &str,
) -> anyhow::Result<Value> {
    let url = resp.url().to_string();
    let body = read_capped(resp, max, what).await?;
    serde_json::from_slice(&body)
        .map_err(|e| unreachable(&format!("{what} (the answer is not JSON)"), &url, &e))
}

/// The blocking client's [`read_capped`] (`trust-config`, `dev token`).
pub fn read_capped_blocking(
    resp: reqwest::blocking::Response,
    max: u64,
    what: &str,
) -> anyhow::Result<Vec<u8>> {
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
pub async fn api_error(what: &str, resp: reqwest::Response) -> anyhow::Error {
    let status = resp.status();
    let body = match read_capped(resp, caps::ERROR_BODY, what).await {
        Ok(b) => b,
        Err(e) => return e.context(format!("{what}: the registry answered {status}")),
    };
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let code = parsed.as_ref().and_then(|v| v["code"].as_str());
    let detail = parsed
        .as_ref()
        .and_then(|v| v["detail"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(400).collect());
    match code.and_then(|c| SERVER_CODES.iter().find(|k| **k == c)) {
        Some(known) => {
            let exit = if VERIFY_CODES.contains(known) {
                Exit::VerifyFailed
            } else {
                Exit::Error
            };
            CodedError::new(
                known,
                exit,
                format!("{what}: the registry refused: {detail}"),
            )
            .into()
        }
        None => CodedError::new(
            "REG_E003",
            Exit::Error,
            format!(
                "{what}: the registry answered {status}{}: {detail}",
                code.map(|c| format!(" with code {c}")).unwrap_or_default()
            ),
        )
        .into(),
    }
}

/// GETs a JSON document of at most `max` bytes, failing with the registry's code on
/// non-success.
pub async fn get_json(
    http: &reqwest::Client,
    url: &str,
    what: &str,
    max: u64,
) -> anyhow::Result<Value> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(what, url, &e))?;
    if !resp.status().is_success() {
        return Err(api_error(what, resp).await);
    }
    read_json_capped(resp, max, what).await
}

/// GETs bytes, at most `max` of them.
pub async fn get_bytes(
    http: &reqwest::Client,
    url: &str,
    what: &str,
    max: u64,
) -> anyhow::Result<Vec<u8>> {
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
pub async fn trusted_root(http: &reqwest::Client, base: &str) -> anyhow::Result<Vec<u8>> {
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
        .ok_or_else(|| {
            CodedError::new(
                "REG_E005",
                Exit::Error,
                format!("{url} has no trustedRoot object"),
            )
        })?;
    Ok(serde_json::to_vec(root)?)
}

/// The signed-note verifier for the log whose checkpoint origin is `origin`: the
/// Ed25519 transparency-log key in the trusted root whose note key ID matches the
/// checkpoint's signature (`LOG_KEY` lines look like `— origin base64(keyid||sig)`).
pub fn log_verifier(
    trusted_root: &[u8],
    origin: &str,
    checkpoint_note: &str,
) -> anyhow::Result<NoteVerifier> {
    let missing =
        |why: String| -> anyhow::Error { CodedError::new("REG_E006", Exit::Error, why).into() };
    let root: Value = serde_json::from_slice(trusted_root)?;
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
    Err(missing(format!(
        "the trusted root has no Ed25519 log key that signed the checkpoint of {origin:?}"
    )))
}

/// Key IDs of the signature lines naming `origin` in a signed note.
fn signature_key_ids(note: &str, origin: &str) -> Vec<u32> {
    let b64 = base64::engine::general_purpose::STANDARD;
    note.lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(name, _)| *name == origin)
        .filter_map(|(_, sig)| b64.decode(sig).ok())
        .filter(|sig| sig.len() >= 4)
        .map(|sig| u32::from_be_bytes([sig[0], sig[1], sig[2], sig[3]]))
        .collect()
}

/// A byte progress bar on stderr, only when stderr is a terminal.
pub fn progress_bar(total: u64, verb: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let template = format!(
        "{verb:>11} {{bar:40}} {{binary_bytes}}/{{binary_total_bytes}} {{binary_bytes_per_sec}} eta {{eta}}"
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    Some(bar)
}
