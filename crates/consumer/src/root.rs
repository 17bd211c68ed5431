//! Trusted roots as a consumer chooses them: embedded, a file, or a vouch instance's
//! root refreshed through its TUF repository ([`RootChoice`]), and `vouch audit roots`
//! ([`audit_roots`]), which refreshes one and reports whether it changed.

use std::path::{Path, PathBuf};

use vouch_api_client::{codes::CLI_FAILED, CodedError};
use vouch_trust::{Instance, Refresh, RootsReport};
use vouch_verify::TrustSpec;

/// Which trusted root to verify against, as a command line names it: the embedded
/// public-good root (the default), the staging one, a trusted_root.json, or a vouch
/// instance's root refreshed through its TUF repository and cached.
#[derive(Debug, Clone, Default)]
pub struct RootChoice {
    pub staging: bool,
    pub trusted_root: Option<PathBuf>,
    /// A vouch instance's URL (its TUF repository is at URL/tuf).
    pub instance: Option<String>,
    /// With `instance`: the cached, verified root only; no connection.
    pub offline: bool,
    /// With `instance`: where verified roots are cached.
    pub trust_cache: Option<PathBuf>,
}

impl RootChoice {
    /// The root to verify against; an instance's is refreshed (or read offline) through
    /// TUF first. `env` reads the caller's environment (`VOUCH_TRUST_ROOT_DIR` names an
    /// air-gapped copy, `XDG_CACHE_HOME`/`HOME` the default cache).
    pub fn spec(&self, env: impl Fn(&str) -> Option<String>) -> Result<TrustSpec, CodedError> {
        let trusted_root = match &self.instance {
            None => self.trusted_root.clone(),
            Some(url) => {
                let cache = self.trust_cache.as_deref();
                let (path, _) = vouch_trust::instance_trusted_root(url, cache, self.offline, env)
                    .map_err(|e| tuf_error(&e))?;
                Some(path)
            }
        };
        Ok(TrustSpec {
            staging: self.staging,
            trusted_root,
        })
    }

    /// The root `vouch fetch` pins (a file or an instance's), as bytes; `None` trusts
    /// the registry's answer on first use. The embedded staging root cannot be pinned.
    pub fn pinned_root(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Vec<u8>>, CodedError> {
        if self.staging {
            return Err(CodedError::error(
                CLI_FAILED,
                "--staging: fetch pins a root with --trusted-root or --instance",
            ));
        }
        let Some(path) = self.spec(env)?.trusted_root else {
            return Ok(None);
        };
        std::fs::read(&path)
            .map(Some)
            .map_err(|e| CodedError::error(CLI_FAILED, format!("reading {}: {e}", path.display())))
    }
}

/// A TUF client error with its code: a refusal (rollback, freeze, bad signatures) is
/// [`vouch_api_client::Outcome::Refused`], an unreachable repository or cache an error.
pub fn tuf_error(e: &vouch_trust::Error) -> CodedError {
    CodedError::judged(e.code(), e.is_refusal(), e.to_string())
}

/// `vouch audit roots`: refreshes the trusted root of `instance` (a vouch server's URL),
/// or of staging or public-good, through TUF and caches it under `cache` (default: the
/// per-user cache `env` names); `root` is the TUF root.json to trust first (a private
/// instance's, needed once). `offline` reads the cached, verified root only.
pub fn audit_roots(
    instance: Option<&str>,
    staging: bool,
    root: Option<&Path>,
    cache: Option<PathBuf>,
    offline: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<RootsReport, CodedError> {
    let instance = match (instance, staging) {
        (Some(url), _) => Instance::vouch_server(url),
        (None, true) => Instance::Staging,
        (None, false) => Instance::PublicGood,
    };
    let bootstrap_root =
        match root {
            Some(p) => Some(std::fs::read(p).map_err(|e| {
                CodedError::error(CLI_FAILED, format!("reading {}: {e}", p.display()))
            })?),
            None => None,
        };
    let cache_root = cache.unwrap_or_else(|| vouch_trust::default_cache_root(env));
    let req = Refresh::new(instance, bootstrap_root, cache_root);
    vouch_trust::audit_roots(&req, offline).map_err(|e| tuf_error(&e))
}
