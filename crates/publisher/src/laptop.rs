//! Which sign-in a command runs when it has no identity token: none in CI (the CI's
//! ambient token is used); on a laptop the browser flow with a loopback redirect
//! ([`crate::browser_login`]), or the device flow ([`crate::device_login`]) when asked or
//! when a loopback redirect cannot work (an SSH session without a display or a browser).

use vouch_api_client::CodedError;

use crate::token::CiEnv;

/// How a laptop signs in (`--oidc-issuer`, `--open`, `--device`).
#[derive(Debug, Clone, Default)]
pub struct SignIn {
    /// The OIDC issuer; default `{server}/oidc/email`, the `--dev` email issuer.
    pub issuer: Option<String>,
    /// Also open the sign-in URL in the desktop's browser.
    pub open_browser: bool,
    /// Use the device-code flow (RFC 8628).
    pub device: bool,
}

/// The flow a laptop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Authorization code with PKCE and a loopback redirect.
    Browser,
    /// Device authorization grant: a code typed on any device.
    Device,
}

/// Whether `env` is a CI whose ambient token should be used.
pub fn in_ci(env: &CiEnv) -> bool {
    [
        "GITHUB_ACTIONS",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "GITLAB_CI",
        "SIGSTORE_ID_TOKEN",
        "BUILDKITE",
        "CIRCLECI",
    ]
    .iter()
    .any(|v| env.var(v).is_some())
}

impl SignIn {
    /// The device flow when asked for, or in an SSH session (`SSH_CONNECTION`,
    /// `SSH_TTY`) with no display (`DISPLAY`, `WAYLAND_DISPLAY`) and no `BROWSER`: the
    /// browser that would open the URL runs elsewhere and cannot reach this machine's
    /// loopback listener.
    pub fn flow(&self, env: &CiEnv) -> Flow {
        let remote = env.var("SSH_CONNECTION").is_some() || env.var("SSH_TTY").is_some();
        let local_browser = ["DISPLAY", "WAYLAND_DISPLAY", "BROWSER"]
            .iter()
            .any(|v| env.var(v).is_some());
        if self.device || (remote && !local_browser) {
            Flow::Device
        } else {
            Flow::Browser
        }
    }

    /// The ID token from a sign-in at `issuer` (this one's, else `default_issuer`),
    /// with where it came from (`browser` or `device`). PUB_E015 when it fails.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        default_issuer: &str,
        env: &CiEnv,
    ) -> Result<(String, &'static str), CodedError> {
        let issuer = self.issuer.as_deref().unwrap_or(default_issuer);
        match self.flow(env) {
            Flow::Device => Ok((
                crate::device_login::device_token(http, issuer).await?,
                "device",
            )),
            Flow::Browser => Ok((
                crate::browser_login::browser_token(http, issuer, self.open_browser).await?,
                "browser",
            )),
        }
    }
}

/// The `--dev` email issuer of a vouch server.
pub fn email_issuer(base: &str) -> String {
    format!("{}/oidc/email", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_flow_when_asked_or_over_ssh_without_a_display() {
        let env = |pairs: &[(&str, &str)]| CiEnv::from_pairs(pairs.iter().copied());
        let browser = SignIn::default();
        assert_eq!(browser.flow(&env(&[])), Flow::Browser);
        assert_eq!(
            browser.flow(&env(&[("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22")])),
            Flow::Device
        );
        assert_eq!(
            browser.flow(&env(&[("SSH_TTY", "/dev/pts/1"), ("DISPLAY", ":0")])),
            Flow::Browser
        );
        let device = SignIn {
            device: true,
            ..SignIn::default()
        };
        assert_eq!(device.flow(&env(&[("DISPLAY", ":0")])), Flow::Device);
        assert!(in_ci(&env(&[("GITLAB_CI", "true")])));
        assert!(!in_ci(&env(&[("DISPLAY", ":0")])));
    }
}
