//! Signing from a machine whose browser cannot reach a loopback listener (an SSH session,
//! a container): the OAuth 2.0 device authorization grant (RFC 8628). The issuer's
//! device endpoint hands out a device code and a user code; the verification URI and the
//! user code are printed to stderr; the token endpoint is polled every `interval`
//! seconds (5 s more after each `slow_down`) until the user signed in, denied, or the
//! code expired. A denial or an expiry keeps the issuer's code when it is one of the dev
//! issuer's (`OIDC_E034`, `OIDC_E033`); any other failure is PUB_E015.

use std::time::{Duration, Instant};

use vouch_api_client::CodedError;

use crate::browser_login::{endpoints, fail};

/// The OAuth client id (Sigstore's).
const CLIENT_ID: &str = "sigstore";
/// RFC 8628 §3.4.
const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Longest wait for the user, whatever the issuer says.
const MAX_WAIT: Duration = Duration::from_secs(1800);

/// The code of a token-endpoint refusal: the issuer's own when it is a code the dev issuer
/// documents for this flow, else PUB_E015.
fn refusal_code(code: Option<&str>) -> &'static str {
    code.and_then(vouch_oidc::sign_in_refusal)
        .unwrap_or(vouch_package::publish_codes::BROWSER_SIGN_IN)
}

fn text<'a>(doc: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(|v| v.as_str())
}

/// Runs the device flow against `issuer` and answers the ID token.
pub async fn device_token(http: &reqwest::Client, issuer: &str) -> Result<String, CodedError> {
    let [device_endpoint, token_endpoint] = endpoints(
        http,
        issuer,
        ["device_authorization_endpoint", "token_endpoint"],
    )
    .await?;
    let form = |pairs: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let answer = http
        .post(&device_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("client_id", CLIENT_ID), ("scope", "openid email")]))
        .send()
        .await
        .map_err(|e| fail(format!("device endpoint {device_endpoint}: {e}")))?;
    let status = answer.status();
    let doc: serde_json::Value = answer.json().await.unwrap_or_default();
    let (Some(device_code), Some(user_code), Some(verify), true) = (
        text(&doc, "device_code"),
        text(&doc, "user_code"),
        text(&doc, "verification_uri"),
        status.is_success(),
    ) else {
        return Err(fail(format!(
            "device endpoint {device_endpoint} answered {status} without a device_code, \
             user_code and verification_uri: {}",
            text(&doc, "detail")
                .or_else(|| text(&doc, "error"))
                .unwrap_or("")
        )));
    };
    let expires_in = doc
        .get("expires_in")
        .and_then(|v| v.as_u64())
        .unwrap_or(600);
    let mut interval = doc
        .get("interval")
        .and_then(|v| v.as_u64())
        .unwrap_or(5)
        .clamp(1, 60);
    eprintln!(
        "Sign in to continue: on any device, open\n\n    {verify}\n\nand enter the code\n\n    {user_code}\n"
    );
    if let Some(complete) = text(&doc, "verification_uri_complete") {
        eprintln!("(or open {complete})\n");
    }
    let deadline = Instant::now() + Duration::from_secs(expires_in).min(MAX_WAIT);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        let answer = http
            .post(&token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", DEVICE_GRANT_TYPE),
                ("device_code", device_code),
                ("client_id", CLIENT_ID),
            ]))
            .send()
            .await
            .map_err(|e| fail(format!("token endpoint {token_endpoint}: {e}")))?;
        let status = answer.status();
        let doc: serde_json::Value = answer.json().await.unwrap_or_default();
        if status.is_success() {
            return text(&doc, "id_token")
                .map(str::to_owned)
                .ok_or_else(|| fail("the token endpoint answered no id_token"));
        }
        match text(&doc, "error") {
            Some("authorization_pending") => {}
            // RFC 8628 §3.5: keep the larger interval from now on.
            Some("slow_down") => interval = interval.saturating_add(5),
            error => {
                let code = text(&doc, "code");
                return Err(CodedError::error(
                    refusal_code(code),
                    format!(
                        "the device sign-in failed ({status}, {}): {}",
                        error.unwrap_or("no error field"),
                        text(&doc, "error_description")
                            .or_else(|| text(&doc, "detail"))
                            .unwrap_or("")
                    ),
                ));
            }
        }
        if Instant::now() > deadline {
            return Err(fail(format!(
                "nobody entered the code within {expires_in} seconds"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_flows_own_codes_pass_through() {
        assert_eq!(refusal_code(Some("OIDC_E033")), "OIDC_E033");
        assert_eq!(refusal_code(Some("OIDC_E034")), "OIDC_E034");
        assert_eq!(refusal_code(Some("REG_E999")), "PUB_E015");
        assert_eq!(refusal_code(None), "PUB_E015");
    }
}
