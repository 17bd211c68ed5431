//! The admin API client: every call `vouch admin ...` makes to a running registry
//! (users, tokens, owners, scopes, signing keys, settings, backfill, audit log), each
//! with its typed answer.
//!
//! Every answer comes as a [`Reply`]: the typed value a caller reads, and the JSON the
//! registry sent, which a command's `--json` prints unchanged. Refusals keep the
//! registry's code (`ADMIN_E…`, `AUTH_E…`, `INTEGRITY_E…`) through [`api_error`].

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{api_error, base_url, caps, http, read_json_capped, unreachable, CodedError, Result};

/// What every admin call names in its errors.
const WHAT: &str = "admin API";

/// A client of one registry's admin API, holding an administrator token.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for AdminClient {
    // The token is a secret: never in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// An admin API answer: typed, and as the registry sent it.
#[derive(Debug, Clone)]
pub struct Reply<T> {
    pub value: T,
    /// The registry's JSON answer, unchanged (what `--json` prints).
    pub json: Value,
}

/// A user account.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// RFC 3339; `None` while the user is active.
    #[serde(default)]
    pub disabled_at: Option<String>,
}

/// `users list`.
#[derive(Debug, Clone, Deserialize)]
pub struct Users {
    pub users: Vec<User>,
}

/// `users add`, `users disable`: the user as it is now.
#[derive(Debug, Clone, Deserialize)]
pub struct UserChange {
    pub user: User,
}

/// An API token's metadata (never its secret).
#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    pub id: i64,
    pub user: String,
    #[serde(default)]
    pub label: Option<String>,
    /// `owner` or `admin`.
    pub scope: String,
    /// The packages an owner token is limited to; `None`: not limited.
    #[serde(default)]
    pub packages: Option<Vec<String>>,
    /// RFC 3339; `None`: never expires.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub state: String,
}

/// `tokens list`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub tokens: Vec<Token>,
}

/// `tokens revoke`: the token as it is now.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenChange {
    pub token: Token,
}

/// `tokens issue`: the token and its secret, shown this once.
#[derive(Debug, Clone, Deserialize)]
pub struct IssuedToken {
    pub token: Token,
    pub secret: String,
}

/// What `tokens issue` asks for.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub user: String,
    /// `owner` or `admin`.
    pub scope: String,
    /// Owner tokens: the packages it is limited to (empty: not limited).
    pub packages: Vec<String>,
    pub expires_in_secs: Option<u64>,
    pub label: Option<String>,
}

/// `owners list`.
#[derive(Debug, Clone, Deserialize)]
pub struct Owners {
    pub package: String,
    pub owners: Vec<User>,
}

/// `owners add`, `owners remove`.
#[derive(Debug, Clone, Deserialize)]
pub struct OwnerChange {
    pub package: String,
    pub user: String,
    pub changed: bool,
}

/// `scopes grant`: the scope's owners now.
#[derive(Debug, Clone, Deserialize)]
pub struct ScopeOwners {
    pub scope: String,
    pub owners: Vec<String>,
}

/// A registry signing key.
#[derive(Debug, Clone, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `None` for the current key.
    #[serde(default)]
    pub retired_at: Option<i64>,
    pub current: bool,
}

/// `keys list`: the signing keys and the instance's integrity settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Security {
    pub keys: Vec<SigningKey>,
    #[serde(default)]
    pub hash_budget_bytes: Option<u64>,
}

/// `keys rotate`.
#[derive(Debug, Clone, Deserialize)]
pub struct Rotated {
    #[serde(default)]
    pub old_kid: Option<String>,
    pub new_kid: String,
}

/// `settings hash-budget`.
#[derive(Debug, Clone, Deserialize)]
pub struct HashBudget {
    pub hash_budget_bytes: u64,
}

/// `backfill`: whether this call started it (false: one was already running).
#[derive(Debug, Clone, Deserialize)]
pub struct Backfill {
    pub started: bool,
    pub running: bool,
}

/// One audit log event.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    pub action: String,
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub details: Value,
}

/// One page of the audit log.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Where the next page starts; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<i64>,
}

/// Which audit events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only actions starting with this.
    pub action: Option<String>,
    /// Unix seconds.
    pub since: Option<i64>,
    pub limit: u32,
    pub cursor: Option<i64>,
}

/// Unix seconds as RFC 3339 UTC (`2026-12-04T16:32:55Z`); out of range: the number.
pub fn rfc3339(unix_secs: i64) -> String {
    jiff::Timestamp::from_second(unix_secs)
        .map_or_else(|_| unix_secs.to_string(), |t| t.to_string())
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved kept).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl AdminClient {
    /// A client of the registry at `server` with an administrator token; no token is
    /// `ADMIN_E001`, a URL that is not http(s) `REG_E002`.
    pub fn new(server: &str, token: Option<&str>) -> Result<Self> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CodedError::error(
                    "ADMIN_E001",
                    "an administrator token is required: --token-file FILE or VOUCH_ADMIN_TOKEN",
                )
            })?;
        Ok(Self {
            http: http()?,
            base: base_url(server)?,
            token: token.to_owned(),
        })
    }

    /// One call: the answer, typed and raw, or the registry's refusal with its code.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply<T>> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| unreachable(WHAT, &url, &e))?;
        if !resp.status().is_success() {
            return Err(api_error(WHAT, resp).await);
        }
        let json = read_json_capped(resp, caps::API_ANSWER, WHAT).await?;
        let value = T::deserialize(&json).map_err(|e| {
            CodedError::error(
                "REG_E003",
                format!("{WHAT}: {url} answered an unexpected shape: {e}"),
            )
        })?;
        Ok(Reply { value, json })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Reply<T>> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<Reply<T>> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn add_user(&self, name: &str, email: Option<&str>) -> Result<Reply<UserChange>> {
        self.post("/api/admin/users", json!({"name": name, "email": email}))
            .await
    }

    pub async fn users(&self) -> Result<Reply<Users>> {
        self.get("/api/admin/users").await
    }

    /// Every token of the user stops working at once (`AUTH_E004`).
    pub async fn disable_user(&self, name: &str) -> Result<Reply<UserChange>> {
        let path = format!("/api/admin/users/{}/disable", urlencode(name));
        self.post(&path, json!({})).await
    }

    pub async fn issue_token(&self, r: &TokenRequest) -> Result<Reply<IssuedToken>> {
        let body = json!({
            "user": r.user,
            "scope": r.scope,
            "packages": (!r.packages.is_empty()).then_some(&r.packages),
            "expires_in_secs": r.expires_in_secs,
            "label": r.label,
        });
        self.post("/api/admin/tokens", body).await
    }

    /// Every token's metadata, or only `user`'s.
    pub async fn tokens(&self, user: Option<&str>) -> Result<Reply<Tokens>> {
        let path = match user {
            Some(u) => format!("/api/admin/tokens?user={}", urlencode(u)),
            None => "/api/admin/tokens".to_owned(),
        };
        self.get(&path).await
    }

    pub async fn revoke_token(&self, id: i64) -> Result<Reply<TokenChange>> {
        self.post(&format!("/api/admin/tokens/{id}/revoke"), json!({}))
            .await
    }

    pub async fn owners(&self, package: &str) -> Result<Reply<Owners>> {
        self.get(&format!("/api/admin/owners?package={}", urlencode(package)))
            .await
    }

    pub async fn add_owner(&self, package: &str, user: &str) -> Result<Reply<OwnerChange>> {
        self.post(
            "/api/admin/owners",
            json!({"package": package, "user": user}),
        )
        .await
    }

    pub async fn remove_owner(&self, package: &str, user: &str) -> Result<Reply<OwnerChange>> {
        self.post(
            "/api/admin/owners/remove",
            json!({"package": package, "user": user}),
        )
        .await
    }

    /// Makes `user` an owner of `scope` (with or without its `@`).
    pub async fn grant_scope(&self, scope: &str, user: &str) -> Result<Reply<ScopeOwners>> {
        let scope = scope.trim_start_matches('@');
        let path = format!("/api/admin/scopes/{}/owners", urlencode(scope));
        self.post(&path, json!({"user": user})).await
    }

    /// The signing keys and integrity settings.
    pub async fn security(&self) -> Result<Reply<Security>> {
        self.get("/api/admin/instance/security").await
    }

    /// Makes a new signing key current; the old one stays published.
    pub async fn rotate_key(&self) -> Result<Reply<Rotated>> {
        self.post("/api/admin/instance/security/rotate", json!({}))
            .await
    }

    /// Sets the asset hash budget (the registry refuses more than 16 GiB, `ADMIN_E004`).
    pub async fn set_hash_budget(&self, bytes: u64) -> Result<Reply<HashBudget>> {
        self.call(
            reqwest::Method::PUT,
            "/api/admin/instance/security/hash-budget",
            Some(json!({"bytes": bytes})),
        )
        .await
    }

    /// Starts the integrity backfill in the background.
    pub async fn backfill(&self) -> Result<Reply<Backfill>> {
        self.post("/api/admin/instance/security/backfill", json!({}))
            .await
    }

    pub async fn audit(&self, q: &AuditQuery) -> Result<Reply<AuditPage>> {
        let mut params = vec![format!("limit={}", q.limit)];
        if let Some(a) = &q.action {
            params.push(format!("action={}", urlencode(a)));
        }
        if let Some(s) = q.since {
            params.push(format!("since={s}"));
        }
        if let Some(c) = q.cursor {
            params.push(format!("cursor={c}"));
        }
        self.get(&format!("/api/admin/audit?{}", params.join("&")))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_401_975), "2026-12-04T16:32:55Z");
    }

    #[test]
    fn no_token_is_admin_e001() {
        let e = AdminClient::new("http://127.0.0.1:1", None).unwrap_err();
        assert_eq!(e.code(), "ADMIN_E001");
        let e = AdminClient::new("http://127.0.0.1:1", Some(" \n")).unwrap_err();
        assert_eq!(e.code(), "ADMIN_E001");
    }

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(urlencode("@acme/x y"), "%40acme%2Fx%20y");
    }
}
