//! Browser sessions of administrators and their CSRF tokens: an in-memory session table keyed by the SHA-256 of a random cookie value, the signed-in extractor, and the synchronizer-token check every form POST passes.
//!
//! Sessions live in this process only: a restart (or another node behind a load
//! balancer) signs everyone out, which is the safe failure. Each session holds the
//! administrator token's id and label (never the token itself), a per-session CSRF
//! token, and two deadlines: [`IDLE`] since the last request and [`ABSOLUTE`] since
//! sign-in. The table holds at most [`MAX_SESSIONS`]; only a valid administrator
//! token can add one, so the cap bounds memory, not access.
//!
//! Cookie: `vouch_session` (`__Host-vouch_session` over HTTPS), `HttpOnly;
//! SameSite=Strict; Path=/`, plus `Secure` when the public URL is https. The sign-in
//! form, which has no session yet, uses a double-submit token instead
//! (`vouch_login_csrf` cookie equal to the form field).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::WebError;
use crate::AppState;

/// A session ends this long after its last request.
pub const IDLE: Duration = Duration::from_secs(60 * 60);
/// A session ends this long after sign-in, however active.
pub const ABSOLUTE: Duration = Duration::from_secs(8 * 60 * 60);
/// Most sessions kept; signing in beyond this evicts the one closest to expiry.
pub const MAX_SESSIONS: usize = 4096;
/// The sign-in form's double-submit cookie.
pub const LOGIN_CSRF_COOKIE: &str = "vouch_login_csrf";

/// What a session knows about its administrator.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_id: i64,
    pub label: String,
    /// The synchronizer token every form of this session carries.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
    /// One message shown on the next page (the result of the last action).
    flash: Option<Flash>,
}

/// A message carried from an action to the page it redirects to.
#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub text: String,
}

impl Session {
    fn expires(&self) -> Instant {
        (self.last_seen + IDLE).min(self.created + ABSOLUTE)
    }
}

/// Where session deadlines read the time: monotonic (a wall-clock step must not sign
/// anyone in or out), and injectable so tests can step it to a deadline exactly.
pub trait SessionClock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Instant;
}

/// The process's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock;

impl SessionClock for MonotonicClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The session table inside [`crate::AppState`].
#[derive(Debug)]
pub struct Sessions {
    /// Keyed by hex SHA-256 of the cookie value; a std lock held only for a map
    /// operation (never across an await).
    map: Mutex<HashMap<String, Session>>,
    clock: Arc<dyn SessionClock>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::with_clock(Arc::new(MonotonicClock))
    }
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
    /// An empty table whose deadlines read `clock`.
    pub fn with_clock(clock: Arc<dyn SessionClock>) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // Entries are replaced whole: a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session; returns the cookie value.
    pub fn create(&self, token_id: i64, label: &str) -> Result<String, WebError> {
        let id = random_token()?;
        let csrf = random_token()?;
        let now = self.clock.now();
        let mut map = self.lock();
        map.retain(|_, s| s.expires() > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(k) = map
                .iter()
                .min_by_key(|(_, s)| s.expires())
                .map(|(k, _)| k.clone())
            {
                map.remove(&k);
            }
        }
        map.insert(
            key(&id),
            Session {
                token_id,
                label: label.to_owned(),
                csrf,
                created: now,
                last_seen: now,
                flash: None,
            },
        );
        Ok(id)
    }

    /// The live session for a cookie value (refreshing its idle deadline) and the
    /// flash message it carried, which is consumed.
    pub fn touch(&self, cookie_value: &str) -> Option<(Session, Option<Flash>)> {
        let now = self.clock.now();
        let k = key(cookie_value);
        let mut map = self.lock();
        let live = map.get(&k).is_some_and(|s| s.expires() > now);
        if !live {
            map.remove(&k);
            return None;
        }
        let s = map.get_mut(&k)?;
        s.last_seen = now;
        let flash = s.flash.take();
        Some((s.clone(), flash))
    }

    /// Leaves a message for the session's next page.
    pub fn flash(&self, cookie_value: &str, flash: Flash) {
        if let Some(s) = self.lock().get_mut(&key(cookie_value)) {
            s.flash = Some(flash);
        }
    }

    /// Ends a session (idempotent).
    pub fn remove(&self, cookie_value: &str) {
        self.lock().remove(&key(cookie_value));
    }

    /// Ends every session signed in with administrator token `token_id` (to call
    /// when that token is revoked); returns how many ended.
    pub fn end_for_token(&self, token_id: i64) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, s| s.token_id != token_id);
        before - map.len()
    }

    /// Live sessions (for tests and metrics).
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        self.lock().values().filter(|s| s.expires() > now).count()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let found = cookie(&parts.headers, cookie_name(state))
            .and_then(|c| state.web.sessions.touch(c).map(|s| (c.to_owned(), s)));
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

    #[test]
    fn sessions_expire_and_are_removed() {
        let s = Sessions::default();
        let c = s.create(7, "dev").unwrap();
        let (got, flash) = s.touch(&c).unwrap();
        assert_eq!((got.token_id, got.label.as_str()), (7, "dev"));
        assert!(flash.is_none());
        assert_eq!(got.csrf.len(), 64);
        assert!(s.touch("not-a-session").is_none());
        s.remove(&c);
        assert!(s.touch(&c).is_none());
        assert!(s.is_empty());
        let a = s.create(7, "dev").unwrap();
        let b = s.create(8, "ops").unwrap();
        assert_eq!(s.end_for_token(7), 1);
        assert!(s.touch(&a).is_none() && s.touch(&b).is_some());
    }

    /// A clock the test steps by hand.
    #[derive(Debug)]
    struct StepClock {
        start: Instant,
        offset: Mutex<Duration>,
    }

    impl StepClock {
        fn new() -> Arc<Self> {
            Arc::new(StepClock {
                start: Instant::now(),
                offset: Mutex::new(Duration::ZERO),
            })
        }

        /// Sets the clock to `at` after its start.
        fn set(&self, at: Duration) {
            *self.offset.lock().unwrap() = at;
        }
    }

    impl SessionClock for StepClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock().unwrap()
        }
    }

    const TICK: Duration = Duration::from_nanos(1);

    #[test]
    fn the_idle_deadline_ends_a_session_exactly_at_its_boundary() {
        let clock = StepClock::new();
        let s = Sessions::with_clock(clock.clone());
        let c = s.create(7, "dev").unwrap();
        // One tick before the idle deadline the session is live, and the request
        // moves the deadline to a full IDLE from now.
        clock.set(IDLE - TICK);
        assert!(s.touch(&c).is_some(), "live just before the idle deadline");
        clock.set(IDLE - TICK + IDLE - TICK);
        assert!(
            s.touch(&c).is_some(),
            "each request restarts the idle period"
        );
        assert_eq!(s.len(), 1);
        // Exactly IDLE after the last request it has ended, and it is removed.
        clock.set(IDLE - TICK + IDLE - TICK + IDLE);
        assert_eq!(s.len(), 0, "expired at the idle deadline");
        assert!(s.touch(&c).is_none(), "ended at the idle deadline");
        assert!(s.lock().is_empty(), "the ended session is removed");
    }

    #[test]
    fn the_absolute_deadline_ends_an_active_session_exactly_at_its_boundary() {
        let clock = StepClock::new();
        let s = Sessions::with_clock(clock.clone());
        let c = s.create(7, "dev").unwrap();
        // Active all along (a request every half idle period), up to one tick before
        // the absolute deadline.
        let mut at = Duration::ZERO;
        while at + IDLE / 2 < ABSOLUTE {
            at += IDLE / 2;
            clock.set(at);
            assert!(s.touch(&c).is_some(), "live at {at:?}");
        }
        clock.set(ABSOLUTE - TICK);
        assert!(
            s.touch(&c).is_some(),
            "live just before the absolute deadline"
        );
        clock.set(ABSOLUTE);
        assert!(
            s.touch(&c).is_none(),
            "ended at the absolute deadline though active"
        );
        assert!(s.lock().is_empty(), "the ended session is removed");
    }

    #[test]
    fn expired_sessions_are_swept_when_another_signs_in() {
        let clock = StepClock::new();
        let s = Sessions::with_clock(clock.clone());
        let old = s.create(1, "old").unwrap();
        clock.set(IDLE);
        let new = s.create(2, "new").unwrap();
        assert_eq!(s.lock().len(), 1, "the expired session was swept");
        assert!(s.touch(&old).is_none());
        assert!(s.touch(&new).is_some());
    }

    #[test]
    fn flash_is_shown_once() {
        let s = Sessions::default();
        let c = s.create(1, "a").unwrap();
        s.flash(
            &c,
            Flash {
                kind: "ok",
                code: None,
                text: "done".into(),
            },
        );
        assert_eq!(s.touch(&c).unwrap().1.unwrap().text, "done");
        assert!(s.touch(&c).unwrap().1.is_none());
    }

    #[test]
    fn the_table_is_capped() {
        let s = Sessions::default();
        for i in 0..(MAX_SESSIONS as i64 + 3) {
            s.create(i, "x").unwrap();
        }
        assert_eq!(s.len(), MAX_SESSIONS);
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
