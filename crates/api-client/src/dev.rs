//! Development helpers: an identity token from a `vouch serve --dev` server's
//! development OIDC issuer, a server's client trust configuration (fetched, and saved
//! atomically), the blocking HTTP client that trusts a private CA, and the
//! `{code, detail}` of a registry's error body.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::{caps, error_chain, read_capped_blocking, CodedError, Result};

/// A blocking HTTP client (30 s timeout) trusting `tls_ca`, a PEM certificate, besides
/// the platform roots; failures carry `code`.
pub fn blocking_client(
    tls_ca: Option<&Path>,
    code: &'static str,
) -> Result<reqwest::blocking::Client> {
    let mut b = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = tls_ca {
        let pem = std::fs::read(path)
            .map_err(|e| CodedError::error(code, format!("reading {}: {e}", path.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            CodedError::error(
                code,
                format!("{}: not a PEM certificate: {e}", path.display()),
            )
        })?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| {
        CodedError::error(
            code,
            format!("building the HTTP client: {}", error_chain(&e)),
        )
    })
}

/// The claims a development identity token asks for.
#[derive(Debug, Clone, Default)]
pub struct DevTokenRequest {
    /// `OWNER/REPO`.
    pub repository: String,
    /// The workflow file's path in the repository.
    pub workflow: String,
    /// The git ref (a bare name is a branch).
    pub git_ref: String,
    pub environment: Option<String>,
    pub audience: Option<String>,
    pub event_name: Option<String>,
    /// A reusable workflow, `OWNER/REPO/PATH@REF`, as the token's `job_workflow_ref`
    /// (the certificate's Build Signer and SAN); `workflow_ref` stays the caller.
    pub job_workflow_ref: Option<String>,
}

/// A development identity token and what it says (`vouch dev token --json` prints it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DevToken {
    /// The JWT.
    pub token: String,
    /// `https://github.com/` + `job_workflow_ref`: the certificate identity it gets.
    pub identity: Option<String>,
    pub issuer: Value,
    pub expires_at: Value,
}

/// Mints a GitHub-Actions-shaped identity token from the development OIDC issuer of
/// the `vouch serve --dev` server at `server` (`POST /oidc/dev/token`). A server without
/// that issuer is `DEV_E001`, an unreachable one `DEV_E002`, a refusal `DEV_E003`.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub fn mint_dev_token(
    server: &str,
    tls_ca: Option<&Path>,
    r: &DevTokenRequest,
) -> Result<DevToken> {
    let base = server.trim_end_matches('/');
    let client = blocking_client(tls_ca, "DEV_E002")?;
    let body = serde_json::json!({
        "repository": r.repository,
        "workflow": r.workflow,
        "ref": r.git_ref,
        "environment": r.environment,
        "audience": r.audience,
        "event_name": r.event_name,
        "job_workflow_ref": r.job_workflow_ref,
    });
    let url = format!("{base}/oidc/dev/token");
    let resp = client.post(&url).json(&body).send().map_err(|e| {
        CodedError::error(
            "DEV_E002",
            format!(
                "cannot reach {url}: {} (is `vouch serve --dev` running there?)",
                error_chain(&e)
            ),
        )
    })?;
    let status = resp.status();
    let text = String::from_utf8_lossy(&read_capped_blocking(
        resp,
        caps::ERROR_BODY,
        "minting a dev token",
    )?)
    .into_owned();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(CodedError::error(
            "DEV_E001",
            format!(
                "the server at {base} has no development OIDC issuer: the server must run with \
                 `vouch serve --dev` (dev tokens exist only there)"
            ),
        ));
    }
    if !status.is_success() {
        let why = match crate::error_envelope(text.as_bytes()) {
            Some((code, detail)) => format!("{code}: {detail}"),
            None => text.chars().take(300).collect(),
        };
        return Err(CodedError::error(
            "DEV_E003",
            format!("the dev issuer refused the request (HTTP {status}): {why}"),
        ));
    }
    let token = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .ok_or_else(|| CodedError::error("DEV_E003", "the server's answer has no `token`"))?;
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or_default();
    Ok(DevToken {
        identity: claims["job_workflow_ref"]
            .as_str()
            .map(|r| format!("https://github.com/{r}")),
        issuer: claims["iss"].clone(),
        expires_at: claims["exp"].clone(),
        token,
    })
}

/// The media type a client trust configuration declares.
pub const TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// A server's client trust configuration (`GET /api/v1/trust-config`), as the bytes it
/// sent, after checking its shape: unreachable or refused is `TRUSTCFG_E001`, not a
/// trust configuration `TRUSTCFG_E002`.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub fn fetch_trust_config(server: &str, tls_ca: Option<&Path>) -> Result<Vec<u8>> {
    let base = server.trim_end_matches('/');
    let url = format!("{base}/api/v1/trust-config");
    let client = blocking_client(tls_ca, "TRUSTCFG_E001")?;
    let resp = client.get(&url).send().map_err(|e| {
        CodedError::error(
            "TRUSTCFG_E001",
            format!("cannot fetch {url}: {}", error_chain(&e)),
        )
    })?;
    let status = resp.status();
    let body = read_capped_blocking(resp, caps::TRUST_CONFIG, "fetching the trust configuration")?;
    if !status.is_success() {
        return Err(CodedError::error(
            "TRUSTCFG_E001",
            format!("{url} answered HTTP {status}; is this a vouch server with Sigstore services?"),
        ));
    }
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|e| CodedError::error("TRUSTCFG_E002", format!("{url} is not JSON: {e}")))?;
    if doc["mediaType"] != TRUST_CONFIG_MEDIA_TYPE
        || !doc["trustedRoot"].is_object()
        || !doc["signingConfig"].is_object()
    {
        return Err(CodedError::error(
            "TRUSTCFG_E002",
            format!(
                "{url} is not a client trust config: expected mediaType \
                 {TRUST_CONFIG_MEDIA_TYPE} with trustedRoot and signingConfig"
            ),
        ));
    }
    Ok(body)
}

/// Writes a trust configuration to `path` atomically (a temp file beside it, synced,
/// renamed over), readable like any other config file (0644): it is public. Failures
/// are `TRUSTCFG_E003`.
pub fn save_trust_config(path: &Path, body: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let err = |e: &dyn std::fmt::Display| {
        CodedError::error("TRUSTCFG_E003", format!("writing {}: {e}", path.display()))
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        CodedError::error(
            "TRUSTCFG_E003",
            format!("cannot write in {}: {e}", dir.display()),
        )
    })?;
    tmp.write_all(body)
        .and_then(|()| {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| err(&e))?;
    tmp.persist(path).map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn trust_config_is_saved_whole_and_public() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.json");
        std::fs::write(&path, "old").unwrap();
        super::save_trust_config(&path, b"{}\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let e =
            super::save_trust_config(&dir.path().join("no/such/dir/t.json"), b"{}").unwrap_err();
        assert_eq!(e.code(), "TRUSTCFG_E003");
    }
}
