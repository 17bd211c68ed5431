//! The dev issuer's browser sign-in for laptops: an OAuth 2.0 authorization-code flow with
//! PKCE (RFC 7636, `S256` only) and loopback redirects (RFC 8252 §7.3), issuing ID tokens
//! for an email address, as a public-good Sigstore email issuer does.
//!
//! It has its own issuer URL (`{server}/oidc/email`) mapped with [`Provider::Email`], so a
//! certificate it leads to names the email (rfc822Name SAN) and never a CI identity. Codes
//! live in memory, are single-use and expire after [`CODE_LIFETIME_SECS`].

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest::{digest, SHA256};
use serde_json::json;

use crate::clock::UnixTime;
use crate::config::{IssuerConfig, Provider};
use crate::dev::{DevIssuer, DEV_TOKEN_LIFETIME_SECS, DISCOVERY_PATH, JWKS_PATH};
use crate::error::OidcError;
use crate::jose::b64;

/// Where the email issuer lives, relative to the server's public URL.
pub const EMAIL_ISSUER_PATH: &str = "/oidc/email";

/// How long an authorization code can be exchanged.
pub const CODE_LIFETIME_SECS: i64 = 60;
/// Most codes waiting for an exchange (a flood of sign-ins is refused, not stored).
const MAX_PENDING: usize = 10_000;

/// The query of `GET /oidc/email/authorize` (and the hidden fields of the sign-in form).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// Must be `code`.
    #[serde(default)]
    pub response_type: String,
    /// Must be the server's audience (`sigstore`); it becomes the token's `aud`.
    #[serde(default)]
    pub client_id: String,
    /// `http://127.0.0.1:PORT/...` or `http://[::1]:PORT/...`.
    #[serde(default)]
    pub redirect_uri: String,
    /// BASE64URL(SHA-256(code_verifier)), 43 characters.
    #[serde(default)]
    pub code_challenge: String,
    /// Must be `S256`.
    #[serde(default)]
    pub code_challenge_method: String,
    /// Echoed back on the redirect.
    #[serde(default)]
    pub state: Option<String>,
    /// Copied into the ID token.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Informational (`openid email`).
    #[serde(default)]
    pub scope: Option<String>,
}

/// The form of `POST /oidc/email/token` (an authorization code, or a device code).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[non_exhaustive]
pub struct TokenRequest {
    /// Must be `authorization_code`.
    #[serde(default)]
    pub grant_type: String,
    /// The code from the redirect.
    #[serde(default)]
    pub code: String,
    /// The same redirect URI the code was issued for.
    #[serde(default)]
    pub redirect_uri: String,
    /// The PKCE verifier.
    #[serde(default)]
    pub code_verifier: String,
    /// The same client the code was issued to.
    #[serde(default)]
    pub client_id: String,
    /// With the device grant (RFC 8628 §3.4): the device code.
    #[serde(default)]
    pub device_code: String,
}

#[derive(Debug)]
struct Grant {
    email: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    expires: i64,
}

/// The email issuer with its pending codes.
#[derive(Debug)]
pub struct DevLogin {
    issuer: DevIssuer,
    audience: String,
    codes: Mutex<HashMap<String, Grant>>,
    /// Device authorizations (RFC 8628), keyed by device code.
    pub(crate) devices: Mutex<crate::dev_device::Devices>,
    /// How long a device code lives.
    pub(crate) device_lifetime_secs: i64,
}

fn bad_request(problem: impl Into<String>) -> OidcError {
    OidcError::AuthorizationRequest {
        problem: problem.into(),
    }
}

fn is_pkce_string(s: &str, min: usize) -> bool {
    (min..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `http`, a loopback IP literal, an explicit port, no user info or fragment.
fn check_loopback(uri: &str) -> Result<(), OidcError> {
    let refuse = |why: &str| {
        bad_request(format!(
            "redirect_uri must be a loopback http://127.0.0.1:PORT/... URI; {uri:?} {why}"
        ))
    };
    let url = url::Url::parse(uri).map_err(|_| refuse("is not a URL"))?;
    if url.scheme() != "http" {
        return Err(refuse("is not http"));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if !loopback {
        return Err(refuse("names a host that is not a loopback address"));
    }
    if url.port().is_none() {
        return Err(refuse("has no port"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(refuse("has user info or a fragment"));
    }
    Ok(())
}

/// One address: `local@domain`, no whitespace or control characters, at most 254 bytes.
pub(crate) fn check_email(email: &str) -> Result<(), OidcError> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.')
            && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(bad_request(format!(
            "email must be one address like name@example.org, got {email:?}"
        )))
    }
}

impl DevLogin {
    /// The email issuer signing with `issuer`'s key (its URL must end in
    /// [`EMAIL_ISSUER_PATH`]), issuing tokens for `audience`.
    pub fn new(issuer: DevIssuer, audience: impl Into<String>) -> Self {
        DevLogin {
            issuer,
            audience: audience.into(),
            codes: Mutex::new(HashMap::new()),
            devices: Mutex::new(crate::dev_device::Devices::default()),
            device_lifetime_secs: crate::dev_device::DEVICE_CODE_LIFETIME_SECS,
        }
    }

    /// Device codes live `secs` seconds (at least 1) instead of
    /// [`crate::DEVICE_CODE_LIFETIME_SECS`].
    pub fn with_device_code_lifetime(mut self, secs: i64) -> Self {
        self.device_lifetime_secs = secs.max(1);
        self
    }

    /// The audience tokens are issued for (the only accepted `client_id`).
    pub(crate) fn audience(&self) -> &str {
        &self.audience
    }

    /// The issuer (URL, key, JWKS).
    pub fn issuer(&self) -> &DevIssuer {
        &self.issuer
    }

    /// Trust for this issuer: email identities for the configured audience.
    pub fn issuer_config(&self) -> IssuerConfig {
        IssuerConfig::new(self.issuer.issuer(), Provider::Email, self.audience.clone())
    }

    /// The authorization endpoint's URL.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.issuer.issuer())
    }

    /// The token endpoint's URL.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer.issuer())
    }

    /// The discovery document (served at `{issuer}` + [`DISCOVERY_PATH`]).
    pub fn discovery_document(&self) -> String {
        let iss = self.issuer.issuer();
        json!({
            "issuer": iss,
            "jwks_uri": format!("{iss}{JWKS_PATH}"),
            "authorization_endpoint": self.authorization_endpoint(),
            "token_endpoint": self.token_endpoint(),
            "response_types_supported": ["code"],
            "device_authorization_endpoint": self.device_authorization_endpoint(),
            "grant_types_supported": ["authorization_code", crate::dev_device::DEVICE_GRANT_TYPE],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.issuer.algorithm().name()],
            "scopes_supported": ["openid", "email"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nonce", "email", "email_verified"],
        })
        .to_string()
    }

    /// URL of the discovery document.
    pub fn discovery_url(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.issuer.issuer())
    }

    /// Checks an authorization request before the sign-in page is shown (OIDC_E028).
    pub fn check(&self, req: &AuthorizationRequest) -> Result<(), OidcError> {
        if req.response_type != "code" {
            return Err(bad_request(format!(
                "response_type must be \"code\", got {:?}",
                req.response_type
            )));
        }
        if req.client_id != self.audience {
            return Err(bad_request(format!(
                "client_id must be {:?}, got {:?}",
                self.audience, req.client_id
            )));
        }
        check_loopback(&req.redirect_uri)?;
        if req.code_challenge_method != "S256" {
            return Err(bad_request(format!(
                "code_challenge_method must be \"S256\", got {:?}",
                req.code_challenge_method
            )));
        }
        if req.code_challenge.len() != 43 || !is_pkce_string(&req.code_challenge, 43) {
            return Err(bad_request(
                "code_challenge must be 43 base64url characters (SHA-256 of the verifier)",
            ));
        }
        for (name, v) in [("state", &req.state), ("nonce", &req.nonce)] {
            if v.as_ref().is_some_and(|v| v.len() > 512) {
                return Err(bad_request(format!("{name} must be at most 512 bytes")));
            }
        }
        Ok(())
    }

    /// Signs `email` in for `req`: stores a fresh single-use code and answers the URL to
    /// redirect the browser to (`redirect_uri?code=...&state=...`).
    pub fn grant(
        &self,
        req: &AuthorizationRequest,
        email: &str,
        now: UnixTime,
    ) -> Result<String, OidcError> {
        self.check(req)?;
        check_email(email)?;
        let code = b64(&self.issuer.random_bytes::<32>()?);
        {
            let mut codes = self
                .codes
                .lock()
                .map_err(|_| bad_request("the code store is unavailable"))?;
            codes.retain(|_, g| g.expires >= now.secs());
            if codes.len() >= MAX_PENDING {
                return Err(bad_request("too many sign-ins pending; retry in a minute"));
            }
            codes.insert(
                code.clone(),
                Grant {
                    email: email.to_owned(),
                    client_id: req.client_id.clone(),
                    redirect_uri: req.redirect_uri.clone(),
                    challenge: req.code_challenge.clone(),
                    nonce: req.nonce.clone(),
                    expires: now.secs().saturating_add(CODE_LIFETIME_SECS),
                },
            );
        }
        let mut url = url::Url::parse(&req.redirect_uri)
            .map_err(|_| bad_request("redirect_uri is not a URL"))?;
        url.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = &req.state {
            url.query_pairs_mut().append_pair("state", state);
        }
        Ok(url.into())
    }

    /// Exchanges a code for an ID token. The code is spent by the attempt, whatever its
    /// outcome (OIDC_E029 for a code unknown, reused, expired or issued to another
    /// redirect_uri or client; OIDC_E030 for a verifier that does not match).
    pub fn exchange(&self, req: &TokenRequest, now: UnixTime) -> Result<String, OidcError> {
        if req.grant_type != "authorization_code" {
            return Err(bad_request(format!(
                "grant_type must be \"authorization_code\", got {:?}",
                req.grant_type
            )));
        }
        let grant = self
            .codes
            .lock()
            .map_err(|_| bad_request("the code store is unavailable"))?
            .remove(&req.code)
            .ok_or(OidcError::AuthorizationCode {
                problem: "unknown or already used",
            })?;
        if grant.expires < now.secs() {
            return Err(OidcError::AuthorizationCode {
                problem: "expired (codes live 60 seconds)",
            });
        }
        if grant.redirect_uri != req.redirect_uri {
            return Err(OidcError::AuthorizationCode {
                problem: "issued for another redirect_uri",
            });
        }
        if grant.client_id != req.client_id {
            return Err(OidcError::AuthorizationCode {
                problem: "issued to another client_id",
            });
        }
        if !is_pkce_string(&req.code_verifier, 43)
            || b64(digest(&SHA256, req.code_verifier.as_bytes()).as_ref()) != grant.challenge
        {
            return Err(OidcError::PkceMismatch);
        }
        self.id_token(&grant.email, &grant.client_id, grant.nonce, now)
    }

    /// An ID token for `email`, signed by the email issuer.
    pub(crate) fn id_token(
        &self,
        email: &str,
        client_id: &str,
        nonce: Option<String>,
        now: UnixTime,
    ) -> Result<String, OidcError> {
        let mut claims = json!({
            "iss": self.issuer.issuer(),
            "sub": email,
            "aud": client_id,
            "iat": now.secs(),
            "nbf": now.secs(),
            "exp": now.secs().saturating_add(DEV_TOKEN_LIFETIME_SECS),
            "jti": b64(&self.issuer.random_bytes::<16>()?),
            "email": email,
            "email_verified": true,
        });
        if let (Some(nonce), Some(members)) = (nonce, claims.as_object_mut()) {
            members.insert("nonce".to_owned(), serde_json::Value::String(nonce));
        }
        self.issuer.sign_claims(&claims, Some(self.issuer.kid()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::DevKeyAlgorithm;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    // RFC 7636 appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn login() -> DevLogin {
        let issuer =
            DevIssuer::generate("http://127.0.0.1:1/oidc/email", DevKeyAlgorithm::Es256).unwrap();
        DevLogin::new(issuer, "sigstore")
    }

    fn request() -> AuthorizationRequest {
        AuthorizationRequest {
            response_type: "code".into(),
            client_id: "sigstore".into(),
            redirect_uri: "http://127.0.0.1:4321/callback".into(),
            code_challenge: CHALLENGE.into(),
            code_challenge_method: "S256".into(),
            state: Some("st".into()),
            ..AuthorizationRequest::default()
        }
    }

    fn code_of(url: &str) -> String {
        let url = url::Url::parse(url).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    }

    fn token_request(code: &str) -> TokenRequest {
        TokenRequest {
            grant_type: "authorization_code".into(),
            code: code.into(),
            redirect_uri: "http://127.0.0.1:4321/callback".into(),
            code_verifier: VERIFIER.into(),
            client_id: "sigstore".into(),
            device_code: String::new(),
        }
    }

    #[test]
    fn code_flow_issues_an_email_token_once() {
        let l = login();
        let now = UnixTime(1_000);
        let url = l.grant(&request(), "ada@example.org", now).unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:4321/callback?code="),
            "{url}"
        );
        assert!(url.ends_with("&state=st"), "{url}");
        let code = code_of(&url);
        let jwt = l.exchange(&token_request(&code), now).unwrap();
        let payload = jwt.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["email"], "ada@example.org");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["aud"], "sigstore");
        // Reused: refused.
        let e = l.exchange(&token_request(&code), now).unwrap_err();
        assert_eq!(e.code(), "OIDC_E029");
    }

    #[test]
    fn wrong_verifier_expired_code_and_other_redirect_are_refused() {
        let l = login();
        let now = UnixTime(1_000);
        let code = code_of(&l.grant(&request(), "ada@example.org", now).unwrap());
        let mut bad = token_request(&code);
        bad.code_verifier = "x".repeat(43);
        assert_eq!(l.exchange(&bad, now).unwrap_err().code(), "OIDC_E030");
        // The failed attempt spent the code.
        assert_eq!(
            l.exchange(&token_request(&code), now).unwrap_err().code(),
            "OIDC_E029"
        );
        let code = code_of(&l.grant(&request(), "ada@example.org", now).unwrap());
        let late = UnixTime(now.secs() + CODE_LIFETIME_SECS + 1);
        assert_eq!(
            l.exchange(&token_request(&code), late).unwrap_err().code(),
            "OIDC_E029"
        );
        let code = code_of(&l.grant(&request(), "ada@example.org", now).unwrap());
        let mut other = token_request(&code);
        other.redirect_uri = "http://127.0.0.1:4322/callback".into();
        assert_eq!(l.exchange(&other, now).unwrap_err().code(), "OIDC_E029");
    }

    #[test]
    fn authorization_requests_are_checked() {
        let l = login();
        let now = UnixTime(1_000);
        for uri in [
            "https://127.0.0.1:4321/cb",
            "http://example.org:4321/cb",
            "http://localhost:4321/cb",
            "http://127.0.0.1/cb",
            "http://u@127.0.0.1:4321/cb",
            "not a url",
        ] {
            let mut r = request();
            r.redirect_uri = uri.into();
            assert_eq!(l.check(&r).unwrap_err().code(), "OIDC_E028", "{uri}");
        }
        let mut r = request();
        r.redirect_uri = "http://[::1]:4321/cb".into();
        l.check(&r).unwrap();
        let mut r = request();
        r.code_challenge_method = "plain".into();
        assert_eq!(l.check(&r).unwrap_err().code(), "OIDC_E028");
        let mut r = request();
        r.client_id = "other".into();
        assert_eq!(l.check(&r).unwrap_err().code(), "OIDC_E028");
        for email in ["", "ada", "ada@", "a b@example.org", "@example.org"] {
            let e = l.grant(&request(), email, now).unwrap_err();
            assert_eq!(e.code(), "OIDC_E028", "{email}");
        }
    }
}
