//! Failed administrator sign-ins, counted per client address in fixed windows: past the limit a client is refused 429 `WEB_E009` until its window ends, and each window writes at most two audit rows instead of one per failure.
//!
//! Every failed sign-in used to write its own audit row, and audit rows can never be
//! pruned (issue 13: 2,000 rows in 1.4 s). The audit log stays append-only; what
//! changes is how much one client can append: the first failure of a window is
//! recorded as it happens, and reaching the limit is recorded once with the count.
//! Clients behind one proxy share an address and so share a limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Length of one counting window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Failed sign-ins one client address may make per window.
pub const MAX_FAILURES: u32 = 10;
/// Client addresses tracked at once; when full (after dropping ended windows) an
/// untracked client is refused like a throttled one (memory stays bounded).
const MAX_CLIENTS: usize = 100_000;

/// The client a request came from, for counting: its IPv4 address or IPv6 /64 from
/// the accept loop's `ConnectInfo`; requests without one (in-process tests) share the
/// unspecified address.
pub fn client_of(ext: &axum::http::Extensions) -> IpAddr {
    ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| crate::conn::client_key(c.0.ip()))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// What the caller should audit for this failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditNow {
    /// The first failure of this client's window: record it.
    First,
    /// This failure reached the limit: record one row with the count.
    LimitReached(u32),
    /// Counted, not recorded.
    No,
}

/// The audit event and details for a failure, if this one is recorded.
#[allow(
    clippy::indexing_slicing,
    reason = "both callers (web/auth.rs, integrity/admin.rs) pass a json! object literal"
)]
pub fn audit_row(
    now: AuditNow,
    mut details: serde_json::Value,
) -> Option<(&'static str, serde_json::Value)> {
    match now {
        AuditNow::First => {
            details["window_secs"] = WINDOW.as_secs().into();
            Some(("admin.sign_in_failed", details))
        }
        AuditNow::LimitReached(n) => {
            details["failures"] = n.into();
            details["window_secs"] = WINDOW.as_secs().into();
            Some(("admin.sign_in_throttled", details))
        }
        AuditNow::No => None,
    }
}

#[derive(Debug, Default)]
pub struct SignInThrottle {
    clients: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl SignInThrottle {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Window>> {
        // Counter updates only: a panic cannot leave it torn.
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Before checking a token: `Err(seconds)` to wait while `client` is over the limit.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.map();
        match map.get(&client) {
            Some(w) if now.duration_since(w.start) < WINDOW && w.failures >= MAX_FAILURES => {
                Err((WINDOW - now.duration_since(w.start)).as_secs().max(1))
            }
            Some(_) => Ok(()),
            None if map.len() >= MAX_CLIENTS => {
                map.retain(|_, w| now.duration_since(w.start) < WINDOW);
                if map.len() >= MAX_CLIENTS {
                    Err(WINDOW.as_secs())
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in from `client` and says what to audit.
    pub fn failed(&self, client: IpAddr) -> AuditNow {
        let now = Instant::now();
        let mut map = self.map();
        let w = map.entry(client).or_insert(Window {
            start: now,
            failures: 0,
        });
        if now.duration_since(w.start) >= WINDOW {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures += 1;
        match w.failures {
            1 => AuditNow::First,
            n if n == MAX_FAILURES => AuditNow::LimitReached(n),
            _ => AuditNow::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_limited_and_audited_twice_per_window() {
        let t = SignInThrottle::default();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        let b: IpAddr = "192.0.2.8".parse().unwrap();
        let mut audits = Vec::new();
        for _ in 0..MAX_FAILURES {
            assert!(t.check(a).is_ok());
            audits.push(t.failed(a));
        }
        assert_eq!(audits[0], AuditNow::First);
        assert_eq!(
            audits.last().copied(),
            Some(AuditNow::LimitReached(MAX_FAILURES))
        );
        assert_eq!(audits.iter().filter(|x| **x != AuditNow::No).count(), 2);
        let wait = t.check(a).unwrap_err();
        assert!((1..=60).contains(&wait));
        // Another client is not affected.
        assert!(t.check(b).is_ok());
    }
}
