//! Browser sessions of administrators and their CSRF tokens: a session table in the metadata database keyed by the SHA-256 of a random cookie value, the signed-in extractor, and the synchronizer-token check every form POST passes.
//!
//! Sessions live in the metadata database (table `web_sessions`, migration 0008), so
//! every node behind a load balancer knows every session: signing in through one node
//! and posting a form through another works, and signing out on any node ends the
//! session everywhere at once (no per-node cache). Each session holds the
//! administrator token's id and label (never the token itself), a per-session CSRF
//! token, and two deadlines: [`IDLE`] since the last request and [`ABSOLUTE`] since
//! sign-in, both checked in SQL by every read. The table holds at most
//! [`MAX_SESSIONS`] (signing in beyond it ends the one closest to expiry; expired rows
//! are deleted on each sign-in); only a valid administrator token can add one, so the
//! cap bounds storage, not access. A database failure refuses the request (WEB_E008):
//! nobody is signed in by an error.
//!
//! Deadlines are unix milliseconds of the node's wall clock: nodes sharing a database
//! must keep their clocks in step (NTP); a node whose clock runs ahead ends sessions
//! early by that much, one behind keeps them that much longer.
//!
//! Cookie: `vouch_session` (`__Host-vouch_session` over HTTPS), `HttpOnly;
//! SameSite=Strict; Path=/`, plus `Secure` when the public URL is https. The sign-in
//! form, which has no session yet, uses a double-submit token instead
//! (`vouch_login_csrf` cookie equal to the form field).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use vouch_store::meta::{MetaStore, NewWebSession, WebFlash};

use super::WebError;
use crate::AppState;

/// A session ends this long after its last request.
pub const IDLE: Duration = Duration::from_secs(60 * 60);
/// A session ends this long after sign-in, however active.
pub const ABSOLUTE: Duration = Duration::from_secs(8 * 60 * 60);
/// Most sessions kept; signing in beyond this evicts the one closest to expiry.
pub const MAX_SESSIONS: u64 = 4096;
/// The sign-in form's double-submit cookie.
pub const LOGIN_CSRF_COOKIE: &str = "vouch_login_csrf";

/// What a session knows about its administrator.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_id: i64,
    pub label: String,
    /// The synchronizer token every form of this session carries.
    pub csrf: String,
}

/// A message carried from an action to the page it redirects to (kept in the
/// database, so the next page may be served by another node).
#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: String,
    pub code: Option<String>,
    pub text: String,
}

/// Where session deadlines read the time: the wall clock in unix milliseconds (every
/// node sharing the table must agree on it), injectable so tests can step it to a
/// deadline exactly.
pub trait SessionClock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl SessionClock for WallClock {
    fn now_ms(&self) -> i64 {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The session table inside [`crate::AppState`]: a handle on the database's, holding
/// nothing itself.
#[derive(Debug)]
pub struct Sessions {
    meta: Arc<dyn MetaStore>,
    clock: Arc<dyn SessionClock>,
    cap: u64,
}

fn key(cookie_value: &str) -> String {
    hex::encode(Sha256::digest(cookie_value.as_bytes()))
}

/// 32 random bytes, hex.
pub fn random_token() -> Result<String, WebError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|_| WebError::random())?;
    Ok(hex::encode(b))
}

impl Sessions {
    /// The sessions in `meta`, deadlines on the wall clock.
    pub fn new(meta: Arc<dyn MetaStore>) -> Self {
        Sessions::with_clock(meta, Arc::new(WallClock))
    }

    /// The sessions in `meta`, deadlines read from `clock`.
    pub fn with_clock(meta: Arc<dyn MetaStore>, clock: Arc<dyn SessionClock>) -> Self {
        Sessions {
            meta,
            clock,
            cap: MAX_SESSIONS,
        }
    }

    /// The same table holding at most `cap` sessions (tests; production keeps
    /// [`MAX_SESSIONS`]).
    pub fn with_cap(mut self, cap: u64) -> Self {
        self.cap = cap;
        self
    }

    /// Starts a session; returns the cookie value.
    pub async fn create(&self, token_id: i64, label: &str) -> Result<String, WebError> {
        let id = random_token()?;
        let csrf = random_token()?;
        let k = key(&id);
        self.meta
            .create_web_session(&NewWebSession {
                key: &k,
                token_id,
                label,
                csrf: &csrf,
                now_ms: self.clock.now_ms(),
                idle_ms: millis(IDLE),
                absolute_ms: millis(ABSOLUTE),
                cap: self.cap,
            })
            .await
            .map_err(WebError::meta)?;
        Ok(id)
    }

    /// The live session for a cookie value (refreshing its idle deadline) and the
    /// flash message it carried, which is consumed. `Ok(None)`: no live session.
    pub async fn touch(
        &self,
        cookie_value: &str,
    ) -> Result<Option<(Session, Option<Flash>)>, WebError> {
        let found = self
            .meta
            .touch_web_session(&key(cookie_value), self.clock.now_ms(), millis(IDLE))
            .await
            .map_err(WebError::meta)?;
        Ok(found.map(|(row, flash)| {
            (
                Session {
                    token_id: row.token_id,
                    label: row.label,
                    csrf: row.csrf,
                },
                flash.map(|f| Flash {
                    kind: f.kind,
                    code: f.code,
                    text: f.text,
                }),
            )
        }))
    }

    /// Leaves a message for the session's next page. A database failure loses the
    /// message only (logged): the action it reports has already happened.
    pub async fn flash(&self, cookie_value: &str, flash: Flash) {
        let stored = self
            .meta
            .flash_web_session(
                &key(cookie_value),
                &WebFlash {
                    kind: flash.kind,
                    code: flash.code,
                    text: flash.text,
                },
            )
            .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "web UI: could not store the next page's message");
        }
    }

    /// Ends a session on every node (idempotent).
    pub async fn remove(&self, cookie_value: &str) -> Result<(), WebError> {
        self.meta
            .end_web_session(&key(cookie_value))
            .await
            .map_err(WebError::meta)
    }

    /// Ends every session signed in with administrator token `token_id` (to call
    /// when that token is revoked); returns how many ended.
    pub async fn end_for_token(&self, token_id: i64) -> Result<u64, WebError> {
        self.meta
            .end_web_sessions_for_token(token_id)
            .await
            .map_err(WebError::meta)
    }

    /// Live sessions (for tests and metrics).
    pub async fn len(&self) -> Result<u64, WebError> {
        self.meta
            .live_web_sessions(self.clock.now_ms())
            .await
            .map_err(WebError::meta)
    }

    /// Whether no session is live.
    pub async fn is_empty(&self) -> Result<bool, WebError> {
        Ok(self.len().await? == 0)
    }
}

/// Whether the server is reached over HTTPS (cookies then get `Secure` and the
/// `__Host-` prefix).
pub fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

/// The session cookie's name.
pub fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-vouch_session"
    } else {
        "vouch_session"
    }
}

/// A `Set-Cookie` value; `max_age: Some(0)` deletes the cookie.
pub fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
) -> String {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Strict; Path={path}");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure(state) {
        c.push_str("; Secure");
    }
    c
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Constant-time equality of a presented token and the expected one; an empty
/// presented token never matches.
pub fn tokens_match(presented: &str, expected: &str) -> bool {
    !presented.is_empty()
        && presented.len() == expected.len()
        && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// A signed-in administrator, extracted from the session cookie. Without a live
/// session a GET is redirected to the sign-in page and anything else gets WEB_E003.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub session: Session,
    /// The cookie value (to leave a flash message or sign out).
    pub cookie: String,
    /// The message the previous action left, if any.
    pub flash: Option<Flash>,
}

impl AdminSession {
    /// The synchronizer-token check of a form POST: WEB_E001 unless `presented`
    /// equals this session's token.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), WebError> {
        if tokens_match(presented.unwrap_or(""), &self.session.csrf) {
            Ok(())
        } else {
            Err(WebError::csrf())
        }
    }

    /// The administrator as the integrity service's admin actions take it.
    pub fn admin(&self) -> crate::integrity::admin::Admin {
        crate::integrity::admin::Admin {
            token_id: self.session.token_id,
            label: self.session.label.clone(),
            // Web sessions sign in with legacy admin tokens only.
            user: None,
        }
    }
}

impl FromRequestParts<Arc<AppState>> for AdminSession {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let found = match cookie(&parts.headers, cookie_name(state)) {
            Some(c) => state
                .web
                .sessions
                .touch(c)
                .await?
                .map(|s| (c.to_owned(), s)),
            None => None,
        };
        match found {
            Some((cookie, (session, flash))) => Ok(AdminSession {
                session,
                cookie,
                flash,
            }),
            None if parts.method == Method::GET || parts.method == Method::HEAD => {
                Err(WebError::SignIn)
            }
            None => Err(WebError::not_signed_in()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A clock the test steps by hand (unix milliseconds).
    #[derive(Debug, Default)]
    struct StepClock(Mutex<i64>);

    impl StepClock {
        fn set(&self, ms: i64) {
            *self.0.lock().unwrap() = ms;
        }
    }

    impl SessionClock for StepClock {
        fn now_ms(&self) -> i64 {
            *self.0.lock().unwrap()
        }
    }

    const START: i64 = 1_800_000_000_000;
    const IDLE_MS: i64 = 3_600_000;
    const ABSOLUTE_MS: i64 = 8 * 3_600_000;

    /// A migrated SQLite database and `nodes` session tables on it, each with its own
    /// connection pool (as separate nodes have), sharing one clock.
    async fn nodes(n: usize) -> (tempfile::TempDir, Arc<StepClock>, Vec<Sessions>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let first = vouch_store::meta::SqliteMeta::open(&path, true)
            .await
            .unwrap();
        first.migrate().await.unwrap();
        let clock = Arc::new(StepClock(Mutex::new(START)));
        let mut out = vec![Sessions::with_clock(Arc::new(first), clock.clone())];
        while out.len() < n {
            let meta = vouch_store::meta::SqliteMeta::open(&path, false)
                .await
                .unwrap();
            out.push(Sessions::with_clock(Arc::new(meta), clock.clone()));
        }
        (dir, clock, out)
    }

    #[tokio::test]
    async fn sessions_expire_and_are_removed() {
        let (_dir, _clock, n) = nodes(1).await;
        let s = &n[0];
        let c = s.create(7, "dev").await.unwrap();
        let (got, flash) = s.touch(&c).await.unwrap().unwrap();
        assert_eq!((got.token_id, got.label.as_str()), (7, "dev"));
        assert!(flash.is_none());
        assert_eq!(got.csrf.len(), 64);
        assert!(s.touch("not-a-session").await.unwrap().is_none());
        s.remove(&c).await.unwrap();
        assert!(s.touch(&c).await.unwrap().is_none());
        assert!(s.is_empty().await.unwrap());
        let a = s.create(7, "dev").await.unwrap();
        let b = s.create(8, "ops").await.unwrap();
        assert_eq!(s.end_for_token(7).await.unwrap(), 1);
        assert!(s.touch(&a).await.unwrap().is_none());
        assert!(s.touch(&b).await.unwrap().is_some());
    }

    /// Sign in through node A; node B knows the session and its CSRF token; signing
    /// out on B ends it on A at once.
    #[tokio::test]
    async fn a_session_made_on_one_node_works_and_ends_on_another() {
        let (_dir, _clock, n) = nodes(2).await;
        let (a, b) = (&n[0], &n[1]);
        let c = a.create(7, "ops").await.unwrap();
        let (on_a, _) = a.touch(&c).await.unwrap().unwrap();
        let (on_b, _) = b.touch(&c).await.unwrap().unwrap();
        assert_eq!(on_a.csrf, on_b.csrf);
        let form = AdminSession {
            session: on_b,
            cookie: c.clone(),
            flash: None,
        };
        assert!(form.check_csrf(Some(&on_a.csrf)).is_ok());
        assert_eq!(
            form.check_csrf(Some(&"0".repeat(64))).unwrap_err().code(),
            Some("WEB_E001")
        );
        b.flash(
            &c,
            Flash {
                kind: "ok".into(),
                code: None,
                text: "done on B".into(),
            },
        )
        .await;
        assert_eq!(
            a.touch(&c).await.unwrap().unwrap().1.unwrap().text,
            "done on B"
        );
        b.remove(&c).await.unwrap();
        assert!(
            a.touch(&c).await.unwrap().is_none(),
            "signed out everywhere"
        );
    }

    #[tokio::test]
    async fn the_idle_deadline_ends_a_session_exactly_at_its_boundary() {
        let (_dir, clock, n) = nodes(2).await;
        let (s, other) = (&n[0], &n[1]);
        let c = s.create(7, "dev").await.unwrap();
        // One millisecond before the idle deadline the session is live, and the
        // request (through another node) moves the deadline to a full IDLE from now.
        clock.set(START + IDLE_MS - 1);
        assert!(other.touch(&c).await.unwrap().is_some(), "live just before");
        clock.set(START + 2 * IDLE_MS - 2);
        assert!(
            s.touch(&c).await.unwrap().is_some(),
            "each request restarts the idle period"
        );
        assert_eq!(s.len().await.unwrap(), 1);
        // Exactly IDLE after the last request it has ended, and it is removed.
        clock.set(START + 3 * IDLE_MS - 2);
        assert_eq!(s.len().await.unwrap(), 0, "expired at the idle deadline");
        assert!(
            other.touch(&c).await.unwrap().is_none(),
            "ended at the deadline"
        );
        clock.set(START);
        assert_eq!(s.len().await.unwrap(), 0, "the ended session is removed");
    }

    #[tokio::test]
    async fn the_absolute_deadline_ends_an_active_session_exactly_at_its_boundary() {
        let (_dir, clock, n) = nodes(1).await;
        let s = &n[0];
        let c = s.create(7, "dev").await.unwrap();
        let mut at = 0;
        while at + IDLE_MS / 2 < ABSOLUTE_MS {
            at += IDLE_MS / 2;
            clock.set(START + at);
            assert!(s.touch(&c).await.unwrap().is_some(), "live at {at}");
        }
        clock.set(START + ABSOLUTE_MS - 1);
        assert!(s.touch(&c).await.unwrap().is_some(), "live just before");
        clock.set(START + ABSOLUTE_MS);
        assert!(
            s.touch(&c).await.unwrap().is_none(),
            "ended at the absolute deadline though active"
        );
        clock.set(START);
        assert_eq!(s.len().await.unwrap(), 0, "the ended session is removed");
    }

    #[tokio::test]
    async fn expired_sessions_are_swept_when_another_signs_in() {
        let (_dir, clock, n) = nodes(1).await;
        let s = &n[0];
        let old = s.create(1, "old").await.unwrap();
        clock.set(START + IDLE_MS);
        let new = s.create(2, "new").await.unwrap();
        clock.set(START);
        assert_eq!(s.len().await.unwrap(), 1, "the expired session was swept");
        clock.set(START + IDLE_MS);
        assert!(s.touch(&old).await.unwrap().is_none());
        assert!(s.touch(&new).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn flash_is_shown_once() {
        let (_dir, _clock, n) = nodes(1).await;
        let s = &n[0];
        let c = s.create(1, "a").await.unwrap();
        s.flash(
            &c,
            Flash {
                kind: "error".into(),
                code: Some("ADMIN_E004".into()),
                text: "done".into(),
            },
        )
        .await;
        let shown = s.touch(&c).await.unwrap().unwrap().1.unwrap();
        assert_eq!(
            (
                shown.kind.as_str(),
                shown.code.as_deref(),
                shown.text.as_str()
            ),
            ("error", Some("ADMIN_E004"), "done")
        );
        assert!(s.touch(&c).await.unwrap().unwrap().1.is_none());
    }

    #[tokio::test]
    async fn the_table_is_capped() {
        let (_dir, clock, n) = nodes(1).await;
        let s = Sessions::with_clock(Arc::clone(&n[0].meta), clock.clone()).with_cap(3);
        let mut made = Vec::new();
        for i in 0..5 {
            clock.set(START + i);
            made.push(s.create(i, "x").await.unwrap());
        }
        assert_eq!(s.len().await.unwrap(), 3);
        // The two closest to expiry (the oldest) made room.
        assert!(s.touch(&made[0]).await.unwrap().is_none());
        assert!(s.touch(&made[1]).await.unwrap().is_none());
        assert!(s.touch(&made[4]).await.unwrap().is_some());
    }

    /// A database that fails refuses the request (WEB_E008); nobody is signed in.
    #[tokio::test]
    async fn a_database_failure_signs_nobody_in() {
        let (_dir, _clock, n) = nodes(1).await;
        let s = &n[0];
        let c = s.create(1, "a").await.unwrap();
        // The only way to reach the pool from here: close it.
        let dir2 = tempfile::tempdir().unwrap();
        let closed = vouch_store::meta::SqliteMeta::open(&dir2.path().join("m.db"), true)
            .await
            .unwrap();
        closed.close().await;
        let broken = Sessions::new(Arc::new(closed));
        let err = broken.touch(&c).await.unwrap_err();
        assert_eq!(err.code(), Some("WEB_E008"));
        assert!(broken.create(1, "a").await.is_err());
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(!tokens_match("ab", "abc"));
        assert!(!tokens_match("", ""));
    }

    #[test]
    fn cookies_are_parsed() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; vouch_session=xyz".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, "vouch_session"), Some("xyz"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "vouch"), None);
    }
}
