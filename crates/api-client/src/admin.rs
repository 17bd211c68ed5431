//! The admin API client: every call `vouch admin ...` makes to a running registry
//! (users, tokens, owners, scopes, signing keys, settings, backfill, audit log), each
//! with its typed answer.
//!
//! Every answer comes as a [`Reply`]: the typed value a caller reads, and the JSON the
//! registry sent, which a command's `--json` prints unchanged; [`Lines`] gives the text
//! a command prints without it. Refusals keep the
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
    /// Where the caller wrote the secret instead of showing it (not from the registry).
    #[serde(skip)]
    pub secret_file: Option<String>,
}

impl Reply<IssuedToken> {
    /// The answer once the caller wrote the secret to `path`: the secret is gone from
    /// what is shown (`"secret": null`, `"secret_file"` instead), whatever else the
    /// registry's object holds.
    pub fn saved_to(mut self, path: &std::path::Path) -> Self {
        let file = path.display().to_string();
        let mut o = self.json.as_object().cloned().unwrap_or_default();
        o.insert("secret".into(), Value::Null);
        o.insert("secret_file".into(), Value::String(file.clone()));
        self.json = Value::Object(o);
        self.value.secret_file = Some(file);
        self
    }
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

/// `90d`, `12h`, `30m`, `45s` or plain seconds, as seconds (`tokens issue --expires`).
pub fn parse_duration(s: &str) -> std::result::Result<u64, String> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 90d, 12h, 30m or 3600s, found {s:?}"))?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}: use s, m, h or d")),
    };
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("duration {s:?} is zero or too large"))
}

/// An answer as the lines of text `vouch admin` prints for it. Text from the registry
/// is left as sent: the printer makes each line safe for a terminal.
pub trait Lines {
    fn lines(&self) -> Vec<String>;
}

fn user_state(u: &User) -> String {
    match &u.disabled_at {
        Some(at) => format!("disabled {at}"),
        None => "active".to_owned(),
    }
}

impl Lines for UserChange {
    fn lines(&self) -> Vec<String> {
        vec![format!(
            "user {} {}",
            self.user.name,
            user_state(&self.user)
        )]
    }
}

impl Lines for Users {
    fn lines(&self) -> Vec<String> {
        let line = |u: &User| {
            let email = u.email.as_deref().unwrap_or("-");
            format!("{} {} {email} {}", u.id, u.name, user_state(u))
        };
        self.users.iter().map(line).collect()
    }
}

impl Lines for Tokens {
    fn lines(&self) -> Vec<String> {
        let line = |t: &Token| {
            format!(
                "{} {} {} {} {} expires {} {}",
                t.id,
                t.user,
                t.scope,
                t.state,
                serde_json::to_string(&t.packages).unwrap_or_default(),
                t.expires_at.as_deref().unwrap_or("never"),
                t.label.as_deref().unwrap_or("")
            )
        };
        self.tokens.iter().map(line).collect()
    }
}

impl Lines for IssuedToken {
    fn lines(&self) -> Vec<String> {
        let t = &self.token;
        let expires = t.expires_at.as_deref().unwrap_or("never");
        vec![
            format!(
                "issued token {} ({} scope) to {}, expires {expires}",
                t.id, t.scope, t.user
            ),
            match &self.secret_file {
                Some(p) => format!("token written to {p} (mode 0600)"),
                None => format!("token (shown once): {}", self.secret),
            },
        ]
    }
}

impl Lines for TokenChange {
    fn lines(&self) -> Vec<String> {
        vec![format!("token {} {}", self.token.id, self.token.state)]
    }
}

impl Lines for Owners {
    fn lines(&self) -> Vec<String> {
        self.owners.iter().map(|u| u.name.clone()).collect()
    }
}

impl Lines for OwnerChange {
    fn lines(&self) -> Vec<String> {
        let changed = if self.changed { "changed" } else { "unchanged" };
        vec![format!("{} owner {}: {changed}", self.package, self.user)]
    }
}

impl Lines for ScopeOwners {
    fn lines(&self) -> Vec<String> {
        vec![format!(
            "@{} owners: {}",
            self.scope,
            self.owners.join(", ")
        )]
    }
}

impl Lines for Security {
    fn lines(&self) -> Vec<String> {
        let key = |k: &SigningKey| {
            let state = if k.current { "current" } else { "retired" };
            let created = rfc3339(k.created_at);
            match k.retired_at {
                Some(r) => format!("{} {state} created {created} retired {}", k.kid, rfc3339(r)),
                None => format!("{} {state} created {created}", k.kid),
            }
        };
        let budget = self
            .hash_budget_bytes
            .map(|b| format!("hash budget: {b} bytes"));
        self.keys.iter().map(key).chain(budget).collect()
    }
}

impl Lines for Rotated {
    fn lines(&self) -> Vec<String> {
        let old = self.old_kid.as_deref().unwrap_or("none");
        vec![format!("rotated: {old} -> {}", self.new_kid)]
    }
}

impl Lines for Backfill {
    fn lines(&self) -> Vec<String> {
        vec![match self.started {
            true => "backfill started; its progress and result land in the audit log \
                     (`vouch admin audit --action release.backfill`)"
                .to_owned(),
            false => "a backfill is already running; nothing started".to_owned(),
        }]
    }
}

impl Lines for AuditPage {
    fn lines(&self) -> Vec<String> {
        let event = |e: &AuditEvent| {
            let actor = e.actor.as_deref().unwrap_or("-");
            format!("{} {} {} {actor} {}", e.id, e.at, e.action, e.details)
        };
        let more = self.next_cursor.map(|c| format!("more: --cursor {c}"));
        self.events.iter().map(event).chain(more).collect()
    }
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

/// The administrator token a command was given: `token` (`--token`, VOUCH_ADMIN_TOKEN),
/// else the content of `token_file`, trimmed; `None` when neither holds one (a blank
/// token is none: the caller refuses it with the registry's `ADMIN_E001`). A token file
/// that cannot be read is `CLI_E001`.
pub fn given_token(
    token: Option<&str>,
    token_file: Option<&std::path::Path>,
) -> Result<Option<String>> {
    let text = match (token, token_file) {
        (Some(t), _) => t.to_owned(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| {
            let what = format!("reading the admin token from {}: {e}", f.display());
            CodedError::error(crate::codes::CLI_FAILED, what)
        })?,
        (None, None) => return Ok(None),
    };
    Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty()))
}

impl AdminClient {
    /// A client of the registry at `server` with an administrator token (the caller
    /// refuses a missing one with the registry's `ADMIN_E001`); a URL that is not
    /// http(s) is `REG_E002`.
    pub fn new(server: &str, token: &str) -> Result<Self> {
        Ok(Self {
            http: http()?,
            base: base_url(server)?,
            token: token.trim().to_owned(),
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

    /// `--token` wins over `--token-file`; a file's token is trimmed; a blank one is
    /// none; an unreadable file is CLI_E001 naming it.
    #[test]
    fn given_token_reads_the_flag_then_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("admin.token");
        std::fs::write(&file, " vouch_admin_f \n").unwrap();
        let f = Some(file.as_path());
        assert_eq!(given_token(Some("t"), f).unwrap().as_deref(), Some("t"));
        assert_eq!(
            given_token(None, f).unwrap().as_deref(),
            Some("vouch_admin_f")
        );
        assert_eq!(given_token(Some(" \n"), None).unwrap(), None);
        assert_eq!(given_token(None, None).unwrap(), None);
        let missing = dir.path().join("absent");
        let e = given_token(None, Some(&missing)).unwrap_err();
        assert_eq!(e.code(), "CLI_E001");
        assert!(e.message.contains("absent"), "{}", e.message);
    }

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_401_975), "2026-12-04T16:32:55Z");
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(12 * 3600));
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn keys_list_lines() {
        let s = Security {
            keys: vec![SigningKey {
                kid: "k1".into(),
                created_at: 0,
                retired_at: Some(1_796_401_975),
                current: false,
            }],
            hash_budget_bytes: Some(7),
        };
        assert_eq!(
            s.lines(),
            [
                "k1 retired created 1970-01-01T00:00:00Z retired 2026-12-04T16:32:55Z",
                "hash budget: 7 bytes"
            ]
        );
    }

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(urlencode("@acme/x y"), "%40acme%2Fx%20y");
    }
}
