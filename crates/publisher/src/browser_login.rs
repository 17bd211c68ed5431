//! Signing from a laptop: an OIDC authorization-code flow with PKCE (S256) and a loopback
//! redirect (RFC 8252), run when `vouch sign` has no token and no CI around it. The
//! authorization URL is printed to stderr (and opened in a browser only when asked); one
//! redirect to `http://127.0.0.1:PORT/callback` is awaited, its `state` checked, and the
//! code exchanged with the verifier for an ID token. Failures are PUB_E015.

use std::time::Duration;

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vouch_api_client::CodedError;
use vouch_package::publish_codes::BROWSER_SIGN_IN;

/// How long the browser has to come back.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);
/// The OAuth client id (Sigstore's).
const CLIENT_ID: &str = "sigstore";
/// Largest redirect request read from the browser.
const MAX_REQUEST: usize = 16 * 1024;

pub(crate) fn fail(msg: impl Into<String>) -> CodedError {
    CodedError::error(BROWSER_SIGN_IN, msg)
}

fn random_b64(rng: &SystemRandom) -> Result<String, CodedError> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes)
        .map_err(|_| fail("the system random source failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The named endpoints of `issuer`'s discovery document (PUB_E015 when one is missing).
pub(crate) async fn endpoints<const N: usize>(
    http: &reqwest::Client,
    issuer: &str,
    names: [&str; N],
) -> Result<[String; N], CodedError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: serde_json::Value = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| fail(format!("fetching {url}: {e}")))?
        .json()
        .await
        .map_err(|e| fail(format!("{url} is not JSON: {e}")))?;
    let mut out = [(); N].map(|_| String::new());
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = doc
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                fail(format!(
                    "{url} names no {name}: the issuer does not offer this sign-in"
                ))
            })?;
    }
    Ok(out)
}

/// The `code` of one redirect request line, after checking `state`.
fn code_of(request: &str, state: &str) -> Result<Option<String>, CodedError> {
    let target = request.split_whitespace().nth(1).unwrap_or("");
    let url = url::Url::parse(&format!("http://127.0.0.1{target}"))
        .map_err(|_| fail("the browser's redirect is not a URL"))?;
    if url.path() != "/callback" {
        return Ok(None);
    }
    let get = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(e) = get("error") {
        return Err(fail(format!(
            "the issuer answered error={e:?}: {}",
            get("error_description").unwrap_or_default()
        )));
    }
    if get("state").as_deref() != Some(state) {
        return Err(fail(
            "the redirect carries another state: not the sign-in this command started",
        ));
    }
    get("code")
        .map(Some)
        .ok_or_else(|| fail("the redirect carries no code"))
}

async fn await_code(listener: &TcpListener, state: &str) -> Result<String, CodedError> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| fail(format!("loopback listener: {e}")))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 2048];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
        let text = String::from_utf8_lossy(&buf);
        let first = text.lines().next().unwrap_or("").to_owned();
        let outcome = code_of(&first, state);
        let (status, body) = match &outcome {
            Ok(Some(_)) => (
                "200 OK",
                "Signed in: you can close this tab and return to vouch.",
            ),
            Ok(None) => ("404 Not Found", "Not the sign-in callback."),
            Err(_) => (
                "400 Bad Request",
                "The sign-in failed: see vouch's message.",
            ),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
        if let Some(code) = outcome? {
            return Ok(code);
        }
    }
}

/// Runs the sign-in against `issuer` and answers the ID token. `open` also asks the
/// desktop (`xdg-open`, `open`) to show the URL.
pub async fn browser_token(
    http: &reqwest::Client,
    issuer: &str,
    open: bool,
) -> Result<String, CodedError> {
    let [authorize, token_endpoint] =
        endpoints(http, issuer, ["authorization_endpoint", "token_endpoint"]).await?;
    let rng = SystemRandom::new();
    let verifier = random_b64(&rng)?;
    let state = random_b64(&rng)?;
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail(format!("binding a loopback port: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| fail(format!("loopback listener: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let mut url = url::Url::parse(&authorize)
        .map_err(|_| fail(format!("authorization_endpoint {authorize:?} is not a URL")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid email")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state);
    eprintln!("Sign in to continue: open this URL in a browser:\n\n    {url}\n");
    if open {
        for opener in ["xdg-open", "open"] {
            if std::process::Command::new(opener)
                .arg(url.as_str())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .is_ok()
            {
                break;
            }
        }
    }
    let code = tokio::time::timeout(SIGN_IN_TIMEOUT, await_code(&listener, &state))
        .await
        .map_err(|_| fail("the browser did not come back within 5 minutes"))??;
    let answer = http
        .post(&token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "authorization_code")
                .append_pair("code", &code)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("code_verifier", &verifier)
                .append_pair("client_id", CLIENT_ID)
                .finish(),
        )
        .send()
        .await
        .map_err(|e| fail(format!("token endpoint {token_endpoint}: {e}")))?;
    let status = answer.status();
    let doc: serde_json::Value = answer.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(fail(format!(
            "token endpoint refused the code ({status}): {} {}",
            doc.get("code").and_then(|v| v.as_str()).unwrap_or("-"),
            doc.get("detail").and_then(|v| v.as_str()).unwrap_or("")
        )));
    }
    doc.get("id_token")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| fail("the token endpoint answered no id_token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_checked() {
        assert_eq!(
            code_of("GET /callback?code=c&state=s HTTP/1.1", "s").unwrap(),
            Some("c".to_owned())
        );
        assert_eq!(code_of("GET /favicon.ico HTTP/1.1", "s").unwrap(), None);
        let e = code_of("GET /callback?code=c&state=x HTTP/1.1", "s").unwrap_err();
        assert_eq!(e.code(), "PUB_E015");
        let e = code_of("GET /callback?error=access_denied&state=s HTTP/1.1", "s").unwrap_err();
        assert_eq!(e.code(), "PUB_E015");
        let e = code_of("GET /callback?state=s HTTP/1.1", "s").unwrap_err();
        assert_eq!(e.code(), "PUB_E015");
    }
}
