//! The dev email issuer's device authorization grant (RFC 8628), for laptops where no
//! browser can reach a loopback listener (an SSH session, a container): the client gets a
//! device code and a short user code, the user opens the verification page anywhere,
//! types the user code and an email, and the client's polls of the token endpoint turn
//! into an ID token for that email.
//!
//! Rules: user codes are 8 letters from RFC 8628 §6.1's 20 consonants, shown `XXXX-XXXX`
//! and matched case- and dash-insensitively; a device code is single-use and expires
//! after its lifetime; a client polling faster than the interval gets `slow_down` and
//! the interval grows by 5 s (§3.5); a denied or expired authorization ends the flow.

use std::collections::HashMap;

use serde_json::json;

use crate::clock::UnixTime;
use crate::dev_login::DevLogin;
use crate::error::OidcError;
use crate::jose::b64;
use crate::TokenRequest;

/// The `grant_type` of a device-code token request (RFC 8628 §3.4).
pub const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// How long a device code lives by default (RFC 8628's examples use 1800 s; ten minutes
/// is enough for a person to switch devices).
pub const DEVICE_CODE_LIFETIME_SECS: i64 = 600;
/// The polling interval handed to clients.
pub const DEVICE_POLL_INTERVAL_SECS: i64 = 2;
/// RFC 8628 §6.1: no vowels, no easily confused letters.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Most device authorizations waiting at once.
const MAX_PENDING: usize = 10_000;
/// Expired authorizations are kept this long so a late poll still hears `expired_token`.
const KEEP_EXPIRED_SECS: i64 = 3600;

/// What the device authorization endpoint answers (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// `XXXX-XXXX`.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

impl DeviceAuthorization {
    /// The JSON answer.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "device_code": self.device_code,
            "user_code": self.user_code,
            "verification_uri": self.verification_uri,
            "verification_uri_complete": self.verification_uri_complete,
            "expires_in": self.expires_in,
            "interval": self.interval,
        })
    }
}

/// What the user decided on the verification page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    /// Sign in as this email.
    Approve { email: String },
    /// Refuse the sign-in.
    Deny,
}

#[derive(Debug)]
struct Device {
    client_id: String,
    expires: i64,
    interval: i64,
    last_poll: Option<i64>,
    decision: Option<DeviceDecision>,
}

/// Pending device authorizations (guarded by `DevLogin::devices`).
#[derive(Debug, Default)]
pub(crate) struct Devices {
    by_device: HashMap<String, Device>,
    /// Normalized user code (8 letters) to device code.
    by_user: HashMap<String, String>,
}

impl Devices {
    fn sweep(&mut self, now: i64) {
        self.by_device
            .retain(|_, d| d.expires.saturating_add(KEEP_EXPIRED_SECS) >= now);
        let live = &self.by_device;
        self.by_user.retain(|_, device| live.contains_key(device));
    }

    fn remove(&mut self, device_code: &str) {
        self.by_device.remove(device_code);
        self.by_user.retain(|_, d| d != device_code);
    }
}

/// The 8 letters of a user code as typed (any case, dashes and spaces ignored), or
/// None when it cannot be one.
fn normalize_user_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (letters.len() == 8 && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(letters)
}

fn display_user_code(letters: &str) -> String {
    let (a, b) = letters.split_at(letters.len().min(4));
    format!("{a}-{b}")
}

fn store_unavailable() -> OidcError {
    OidcError::AuthorizationRequest {
        problem: "the device code store is unavailable".into(),
    }
}

impl DevLogin {
    /// The device authorization endpoint's URL.
    pub fn device_authorization_endpoint(&self) -> String {
        format!("{}/device/code", self.issuer().issuer())
    }

    /// The verification page's URL.
    pub fn verification_uri(&self) -> String {
        format!("{}/device", self.issuer().issuer())
    }

    /// `POST /oidc/email/device/code`: a fresh device code and user code for
    /// `client_id` (which must be the audience; OIDC_E028 otherwise).
    pub fn device_authorize(
        &self,
        client_id: &str,
        now: UnixTime,
    ) -> Result<DeviceAuthorization, OidcError> {
        if client_id != self.audience() {
            return Err(OidcError::AuthorizationRequest {
                problem: format!("client_id must be {:?}, got {client_id:?}", self.audience()),
            });
        }
        let device_code = b64(&self.issuer().random_bytes::<32>()?);
        let mut devices = self.devices.lock().map_err(|_| store_unavailable())?;
        devices.sweep(now.secs());
        if devices.by_device.len() >= MAX_PENDING {
            return Err(OidcError::AuthorizationRequest {
                problem: "too many device sign-ins pending; retry later".into(),
            });
        }
        let letters = loop {
            let random = self.issuer().random_bytes::<8>()?;
            let letters: String = random
                .iter()
                .map(|b| {
                    let i = usize::from(*b) % USER_CODE_ALPHABET.len();
                    char::from(USER_CODE_ALPHABET.get(i).copied().unwrap_or(b'B'))
                })
                .collect();
            if !devices.by_user.contains_key(&letters) {
                break letters;
            }
        };
        devices.by_device.insert(
            device_code.clone(),
            Device {
                client_id: client_id.to_owned(),
                expires: now.secs().saturating_add(self.device_lifetime_secs),
                interval: DEVICE_POLL_INTERVAL_SECS,
                last_poll: None,
                decision: None,
            },
        );
        devices.by_user.insert(letters.clone(), device_code.clone());
        let user_code = display_user_code(&letters);
        let mut complete = url::Url::parse(&self.verification_uri()).map_err(|_| {
            OidcError::AuthorizationRequest {
                problem: "the issuer URL is not a URL".into(),
            }
        })?;
        complete
            .query_pairs_mut()
            .append_pair("user_code", &user_code);
        Ok(DeviceAuthorization {
            device_code,
            user_code,
            verification_uri: self.verification_uri(),
            verification_uri_complete: complete.into(),
            expires_in: self.device_lifetime_secs,
            interval: DEVICE_POLL_INTERVAL_SECS,
        })
    }

    /// The user code as `XXXX-XXXX` when it names a live, undecided authorization
    /// (OIDC_E035 otherwise).
    pub fn check_user_code(&self, typed: &str, now: UnixTime) -> Result<String, OidcError> {
        let letters = normalize_user_code(typed).ok_or(OidcError::UserCode {
            problem: "not of the form XXXX-XXXX (letters BCDFGHJKLMNPQRSTVWXZ)",
        })?;
        let devices = self.devices.lock().map_err(|_| store_unavailable())?;
        let device = devices
            .by_user
            .get(&letters)
            .and_then(|d| devices.by_device.get(d))
            .ok_or(OidcError::UserCode {
                problem: "unknown or already used",
            })?;
        if device.expires < now.secs() {
            return Err(OidcError::UserCode { problem: "expired" });
        }
        if device.decision.is_some() {
            return Err(OidcError::UserCode {
                problem: "already used",
            });
        }
        Ok(display_user_code(&letters))
    }

    /// Records the user's decision for the authorization `typed` names (OIDC_E035 for a
    /// code unknown, expired or already decided; OIDC_E028 for a bad email).
    pub fn decide(
        &self,
        typed: &str,
        decision: DeviceDecision,
        now: UnixTime,
    ) -> Result<(), OidcError> {
        if let DeviceDecision::Approve { email } = &decision {
            crate::dev_login::check_email(email)?;
        }
        self.check_user_code(typed, now)?;
        let letters = normalize_user_code(typed).unwrap_or_default();
        let mut devices = self.devices.lock().map_err(|_| store_unavailable())?;
        let device_code = devices.by_user.get(&letters).cloned().unwrap_or_default();
        let device = devices
            .by_device
            .get_mut(&device_code)
            .ok_or(OidcError::UserCode {
                problem: "unknown or already used",
            })?;
        if device.decision.is_some() {
            return Err(OidcError::UserCode {
                problem: "already used",
            });
        }
        device.decision = Some(decision);
        Ok(())
    }

    /// A device-code token request (RFC 8628 §3.4-3.5): the ID token once the user
    /// approved; otherwise OIDC_E031 pending, E032 slow down, E033 expired, E034 denied,
    /// E029 a device code unknown, already used or issued to another client.
    pub fn poll_device(&self, req: &TokenRequest, now: UnixTime) -> Result<String, OidcError> {
        if req.grant_type != DEVICE_GRANT_TYPE {
            return Err(OidcError::AuthorizationRequest {
                problem: format!(
                    "grant_type must be {DEVICE_GRANT_TYPE:?}, got {:?}",
                    req.grant_type
                ),
            });
        }
        let mut devices = self.devices.lock().map_err(|_| store_unavailable())?;
        let device =
            devices
                .by_device
                .get_mut(&req.device_code)
                .ok_or(OidcError::AuthorizationCode {
                    problem: "unknown or already used",
                })?;
        if device.client_id != req.client_id {
            return Err(OidcError::AuthorizationCode {
                problem: "issued to another client_id",
            });
        }
        if device.expires < now.secs() {
            devices.remove(&req.device_code);
            return Err(OidcError::DeviceExpired {
                lifetime_secs: self.device_lifetime_secs,
            });
        }
        let too_soon = device
            .last_poll
            .is_some_and(|t| now.secs().saturating_sub(t) < device.interval);
        device.last_poll = Some(now.secs());
        if too_soon {
            device.interval = device.interval.saturating_add(5);
            return Err(OidcError::DeviceSlowDown {
                interval_secs: device.interval,
            });
        }
        let decision = device.decision.clone();
        let client_id = device.client_id.clone();
        match decision {
            None => Err(OidcError::DevicePending),
            Some(DeviceDecision::Deny) => {
                devices.remove(&req.device_code);
                Err(OidcError::DeviceDenied)
            }
            Some(DeviceDecision::Approve { email }) => {
                devices.remove(&req.device_code);
                drop(devices);
                self.id_token(&email, &client_id, None, now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::{DevIssuer, DevKeyAlgorithm};

    fn login() -> DevLogin {
        let issuer =
            DevIssuer::generate("http://127.0.0.1:1/oidc/email", DevKeyAlgorithm::Es256).unwrap();
        DevLogin::new(issuer, "sigstore").with_device_code_lifetime(60)
    }

    fn poll(device_code: &str) -> TokenRequest {
        TokenRequest {
            grant_type: DEVICE_GRANT_TYPE.into(),
            device_code: device_code.into(),
            client_id: "sigstore".into(),
            ..TokenRequest::default()
        }
    }

    #[test]
    fn approved_device_gets_an_email_token_once() {
        let l = login();
        let a = l.device_authorize("sigstore", UnixTime(1_000)).unwrap();
        assert_eq!(a.user_code.len(), 9);
        assert_eq!(a.interval, DEVICE_POLL_INTERVAL_SECS);
        assert!(a
            .verification_uri_complete
            .ends_with(&format!("/oidc/email/device?user_code={}", a.user_code)));
        let e = l.poll_device(&poll(&a.device_code), UnixTime(1_000));
        assert_eq!(e.unwrap_err().code(), "OIDC_E031");
        // Polled again in the same second: slow down, and the interval grows by 5 s.
        let e = l
            .poll_device(&poll(&a.device_code), UnixTime(1_001))
            .unwrap_err();
        assert_eq!(e.code(), "OIDC_E032");
        assert_eq!(e.oauth_error(), "slow_down");
        // Typed in lower case without the dash: the same code.
        let typed = a.user_code.replace('-', "").to_lowercase();
        assert_eq!(
            l.check_user_code(&typed, UnixTime(1_002)).unwrap(),
            a.user_code
        );
        l.decide(
            &typed,
            DeviceDecision::Approve {
                email: "ada@example.org".into(),
            },
            UnixTime(1_002),
        )
        .unwrap();
        // A second decision on the same code is refused.
        let e = l.decide(&typed, DeviceDecision::Deny, UnixTime(1_002));
        assert_eq!(e.unwrap_err().code(), "OIDC_E035");
        // The interval is now 7 s: a poll 7 s after the last one is answered.
        let jwt = l
            .poll_device(&poll(&a.device_code), UnixTime(1_008))
            .unwrap();
        assert!(jwt.split('.').count() == 3);
        let e = l.poll_device(&poll(&a.device_code), UnixTime(1_020));
        assert_eq!(e.unwrap_err().code(), "OIDC_E029");
    }

    #[test]
    fn denied_expired_and_unknown_codes_are_refused() {
        let l = login();
        let a = l.device_authorize("sigstore", UnixTime(1_000)).unwrap();
        l.decide(&a.user_code, DeviceDecision::Deny, UnixTime(1_001))
            .unwrap();
        let e = l
            .poll_device(&poll(&a.device_code), UnixTime(1_003))
            .unwrap_err();
        assert_eq!((e.code(), e.oauth_error()), ("OIDC_E034", "access_denied"));

        let b = l.device_authorize("sigstore", UnixTime(1_000)).unwrap();
        let e = l
            .poll_device(&poll(&b.device_code), UnixTime(1_061))
            .unwrap_err();
        assert_eq!((e.code(), e.oauth_error()), ("OIDC_E033", "expired_token"));
        let late = l.check_user_code(&b.user_code, UnixTime(1_061));
        assert_eq!(late.unwrap_err().code(), "OIDC_E035");

        assert_eq!(
            l.device_authorize("other", UnixTime(1_000))
                .unwrap_err()
                .code(),
            "OIDC_E028"
        );
        for typed in ["", "ABCD-EFGH", "BCDF-GHJ", "BCDF-GHJKL"] {
            let e = l.check_user_code(typed, UnixTime(1_000)).unwrap_err();
            assert_eq!(e.code(), "OIDC_E035", "{typed}");
        }
        let c = l.device_authorize("sigstore", UnixTime(1_000)).unwrap();
        let e = l.decide(
            &c.user_code,
            DeviceDecision::Approve {
                email: "not an email".into(),
            },
            UnixTime(1_000),
        );
        assert_eq!(e.unwrap_err().code(), "OIDC_E028");
        let mut other = poll(&c.device_code);
        other.client_id = "other".into();
        let e = l.poll_device(&other, UnixTime(1_000)).unwrap_err();
        assert_eq!(e.code(), "OIDC_E029");
    }
}
