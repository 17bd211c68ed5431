//! The TUF client: refresh an instance's trust material through `sigstore-tuf`, cache it per instance, and read the cache offline.
//!
//! A refresh walks the root chain from the bootstrap root (`--root FILE`, the embedded
//! public-good or staging root, or the root this cache verified last time), then
//! timestamp, snapshot and targets, and downloads `trusted_root.json` and
//! `signing_config.v0.2.json`. Every check is `sigstore-tuf`'s
//! ([`sigstore_tuf::TrustedMetadataSet`]); this module supplies the transport (bounded
//! reads that say when a body is too long), the cache directory, and the mapping of each
//! refusal to a code. The cache holds only verified files, and the previous timestamp,
//! snapshot and targets are version floors for the next refresh, so a repository that
//! later serves older metadata is refused (rollback) across runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sigstore_tuf::transport::FetchFuture;
use sigstore_tuf::{FileStore, Repository, Updater, UpdaterConfig};

use crate::error::Error;

/// Public-good Sigstore's TUF repository.
pub const PUBLIC_GOOD_TUF_URL: &str = "https://tuf-repo-cdn.sigstore.dev";
/// Sigstore staging's TUF repository.
pub const STAGING_TUF_URL: &str = "https://tuf-repo-cdn.sigstage.dev";
/// Target name of the trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// Target name of the signing configuration.
pub const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

const PUBLIC_GOOD_ROOT: &[u8] = include_bytes!("../roots/public-good/root.json");
const STAGING_ROOT: &[u8] = include_bytes!("../roots/staging/root.json");

/// Largest trusted root or signing config accepted, whatever the targets role lists.
pub const MAX_TARGET_BYTES: u64 = 1024 * 1024;

/// Which repository to refresh from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instance {
    /// Public-good Sigstore (embedded root).
    PublicGood,
    /// Sigstore staging (embedded root).
    Staging,
    /// A TUF repository at this URL (a vouch instance serves one at `<url>/tuf`).
    Url(String),
}

impl Instance {
    /// The TUF repository URL (no trailing slash).
    pub fn tuf_url(&self) -> String {
        match self {
            Instance::PublicGood => PUBLIC_GOOD_TUF_URL.to_owned(),
            Instance::Staging => STAGING_TUF_URL.to_owned(),
            Instance::Url(u) => u.trim_end_matches('/').to_owned(),
        }
    }

    /// An instance named by a vouch server's base URL: its repository is at `/tuf`.
    pub fn vouch_server(base: &str) -> Instance {
        let base = base.trim_end_matches('/');
        if base.ends_with("/tuf") {
            Instance::Url(base.to_owned())
        } else {
            Instance::Url(format!("{base}/tuf"))
        }
    }

    fn embedded_root(&self) -> Option<&'static [u8]> {
        match self {
            Instance::PublicGood => Some(PUBLIC_GOOD_ROOT),
            Instance::Staging => Some(STAGING_ROOT),
            Instance::Url(_) => None,
        }
    }
}

/// What a refresh needs.
#[derive(Debug, Clone)]
pub struct Refresh {
    pub instance: Instance,
    /// A root to start from (`--root FILE`); otherwise embedded or cached.
    pub bootstrap_root: Option<Vec<u8>>,
    /// The cache root (one directory per instance is made below it).
    pub cache_root: PathBuf,
    /// Now, for expiry checks.
    pub now: jiff::Timestamp,
    /// Extra PEM CA certificates for an HTTPS repository (a private instance's CA).
    pub ca_pem: Option<Vec<u8>>,
}

impl Refresh {
    /// A refresh of `instance` now, cached under `cache_root`.
    pub fn new(instance: Instance, bootstrap_root: Option<Vec<u8>>, cache_root: PathBuf) -> Self {
        Refresh {
            instance,
            bootstrap_root,
            cache_root,
            now: jiff::Timestamp::now(),
            ca_pem: None,
        }
    }
}

/// What a refresh (or an offline read) verified.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refreshed {
    /// The TUF repository URL.
    pub repository: String,
    /// The per-instance cache directory.
    pub cache_dir: PathBuf,
    pub root_version: u64,
    pub timestamp_version: Option<u64>,
    pub snapshot_version: Option<u64>,
    pub targets_version: Option<u64>,
    /// When the timestamp expires (RFC 3339).
    pub timestamp_expires: Option<String>,
    /// SHA-256 (hex) of the trusted root bytes.
    pub trusted_root_sha256: String,
    /// The verified `trusted_root.json`.
    #[serde(skip)]
    pub trusted_root: Vec<u8>,
    /// The verified `signing_config.v0.2.json`, when the repository lists one.
    #[serde(skip)]
    pub signing_config: Option<Vec<u8>>,
    /// False when read from the cache without any network use.
    pub refreshed: bool,
}

/// The per-instance cache directory under `cache_root`: the repository URL,
/// percent-encoded into one path component (as sigstore-python names its own).
pub fn cache_dir_for(cache_root: &Path, instance: &Instance) -> PathBuf {
    let url = instance.tuf_url();
    let mut name = String::with_capacity(url.len() * 2);
    for b in url.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                name.push(char::from(b))
            }
            _ => name.push_str(&format!("%{b:02X}")),
        }
    }
    cache_root.join(name)
}

/// Refreshes through TUF and caches the result. Blocking: runs its own
/// single-threaded runtime, so call it from synchronous code only.
pub fn refresh(req: &Refresh) -> Result<Refreshed, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unreachable {
            what: "a runtime for the TUF refresh".into(),
            detail: e.to_string(),
        })?;
    runtime.block_on(refresh_async(req))
}

/// [`refresh`] for async callers.
pub async fn refresh_async(req: &Refresh) -> Result<Refreshed, Error> {
    let url = req.instance.tuf_url();
    let dir = cache_dir_for(&req.cache_root, &req.instance);
    let root = bootstrap_root(req, &dir)?;
    let repo = HttpRepo::new(&url, req.ca_pem.as_deref())?;
    let mut config = UpdaterConfig::default();
    config.target_max_length = MAX_TARGET_BYTES;
    let mut updater = Updater::new(repo, &root)
        .map_err(|e| map(e, Phase::Metadata))?
        .with_config(config)
        .with_store(FileStore::new(dir.clone()));
    updater
        .refresh(req.now)
        .await
        .map_err(|e| map(e, Phase::Metadata))?;
    let trusted_root = match updater.get_target(TRUSTED_ROOT_TARGET, req.now).await {
        Ok(bytes) => bytes,
        Err(sigstore_tuf::Error::TargetNotFound(_)) => {
            return Err(Error::TargetMissing {
                target: TRUSTED_ROOT_TARGET.into(),
            })
        }
        Err(e) => return Err(map(e, Phase::Target(TRUSTED_ROOT_TARGET))),
    };
    let signing_config = match updater.get_target(SIGNING_CONFIG_TARGET, req.now).await {
        Ok(bytes) => Some(bytes),
        Err(sigstore_tuf::Error::TargetNotFound(_)) => None,
        Err(e) => return Err(map(e, Phase::Target(SIGNING_CONFIG_TARGET))),
    };
    let trusted = updater.trusted();
    let out = Refreshed {
        repository: url,
        cache_dir: dir.clone(),
        root_version: trusted.root().version,
        timestamp_version: trusted.timestamp().map(|t| t.version),
        snapshot_version: trusted.snapshot().map(|s| s.version),
        targets_version: trusted.targets_role("targets").map(|t| t.version),
        timestamp_expires: trusted.timestamp().map(|t| t.expires.to_string()),
        trusted_root_sha256: hex::encode(Sha256::digest(&trusted_root)),
        trusted_root,
        signing_config,
        refreshed: true,
    };
    write_state(&dir, &out)?;
    Ok(out)
}

/// The cached, verified trust material of `instance`, read from disk only: no
/// network, no clock. What it returns was verified by the last successful refresh.
pub fn read_offline(cache_root: &Path, instance: &Instance) -> Result<Refreshed, Error> {
    let dir = cache_dir_for(cache_root, instance);
    let state_path = dir.join(STATE_FILE);
    let state = match std::fs::read(&state_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotCached {
                instance: instance.tuf_url(),
                dir: dir.display().to_string(),
            })
        }
        Err(e) => return Err(cache_err(&state_path, &e)),
    };
    let mut out: StateFile = serde_json::from_slice(&state).map_err(|e| Error::Cache {
        path: state_path.display().to_string(),
        detail: format!("expected the state vouch wrote: {e}"),
    })?;
    let root_path = dir.join("targets").join(TRUSTED_ROOT_TARGET);
    let trusted_root = std::fs::read(&root_path).map_err(|e| cache_err(&root_path, &e))?;
    let digest = hex::encode(Sha256::digest(&trusted_root));
    if digest != out.trusted_root_sha256 {
        return Err(Error::Cache {
            path: root_path.display().to_string(),
            detail: format!(
                "expected the verified trusted root sha256:{}, found sha256:{digest}",
                out.trusted_root_sha256
            ),
        });
    }
    let sc_path = dir.join("targets").join(SIGNING_CONFIG_TARGET);
    let signing_config = std::fs::read(&sc_path).ok();
    out.cache_dir = dir;
    Ok(Refreshed {
        repository: out.repository,
        cache_dir: out.cache_dir,
        root_version: out.root_version,
        timestamp_version: out.timestamp_version,
        snapshot_version: out.snapshot_version,
        targets_version: out.targets_version,
        timestamp_expires: out.timestamp_expires,
        trusted_root_sha256: out.trusted_root_sha256,
        trusted_root,
        signing_config,
        refreshed: false,
    })
}

/// The air-gapped trust-root directory: when set (and no cache is named), verifying
/// commands read their instance roots from it and never touch the network.
pub const TRUST_ROOT_DIR_ENV: &str = "VOUCH_TRUST_ROOT_DIR";

/// The verified `trusted_root.json` of the vouch instance at `server` (its base URL, or
/// its TUF repository URL), for a verifying command's `--instance URL`: refreshed through
/// TUF from the cached TUF root (its first root came from `vouch audit roots --root`),
/// or, `offline`, read from the cache with no network use at all. The cache is `cache`,
/// else [`TRUST_ROOT_DIR_ENV`] (which implies `offline`), else [`default_cache_root`].
/// Returns the path of the cached file (verified by this call, or its recorded digest
/// re-checked) and the report.
pub fn instance_trusted_root(
    server: &str,
    cache: Option<&Path>,
    offline: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(PathBuf, Refreshed), Error> {
    let air_gapped = env(TRUST_ROOT_DIR_ENV).filter(|d| !d.is_empty() && cache.is_none());
    let (cache_root, offline) = match (cache, air_gapped) {
        (Some(dir), _) => (dir.to_owned(), offline),
        (None, Some(dir)) => (PathBuf::from(dir), true),
        (None, None) => (default_cache_root(&env), offline),
    };
    let instance = Instance::vouch_server(server);
    let got = if offline {
        read_offline(&cache_root, &instance)?
    } else {
        refresh(&Refresh::new(instance, None, cache_root))?
    };
    let path = got.cache_dir.join("targets").join(TRUSTED_ROOT_TARGET);
    Ok((path, got))
}

const STATE_FILE: &str = "vouch-state.json";

#[derive(serde::Deserialize)]
struct StateFile {
    repository: String,
    #[serde(default)]
    cache_dir: PathBuf,
    root_version: u64,
    timestamp_version: Option<u64>,
    snapshot_version: Option<u64>,
    targets_version: Option<u64>,
    timestamp_expires: Option<String>,
    trusted_root_sha256: String,
}

fn write_state(dir: &Path, out: &Refreshed) -> Result<(), Error> {
    let path = dir.join(STATE_FILE);
    let bytes = serde_json::to_vec_pretty(out).map_err(|e| Error::Cache {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| cache_err(&tmp, &e))?;
    std::fs::rename(&tmp, &path).map_err(|e| cache_err(&path, &e))
}

fn cache_err(path: &Path, e: &std::io::Error) -> Error {
    Error::Cache {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// The root to start from: the caller's, else the cached one (verified on a previous
/// run), else the embedded one.
fn bootstrap_root(req: &Refresh, dir: &Path) -> Result<Vec<u8>, Error> {
    if let Some(root) = &req.bootstrap_root {
        return Ok(root.clone());
    }
    let cached = dir.join("root.json");
    match std::fs::read(&cached) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(cache_err(&cached, &e)),
    }
    req.instance
        .embedded_root()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| Error::NoRoot {
            instance: req.instance.tuf_url(),
        })
}

#[derive(Clone, Copy)]
pub(crate) enum Phase {
    Metadata,
    Target(&'static str),
}

/// A body longer than the caller allowed (the transport's typed cause).
#[derive(Debug)]
struct TooLong {
    what: String,
    max: u64,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} exceeds {} bytes", self.what, self.max)
    }
}

impl std::error::Error for TooLong {}

pub(crate) fn map(e: sigstore_tuf::Error, phase: Phase) -> Error {
    use sigstore_tuf::Error as T;
    match e {
        T::Rollback { role, trusted, new } => Error::Rollback {
            role,
            trusted,
            offered: new,
        },
        T::Expired { role, expires } => Error::Expired {
            role,
            expires: expires.to_string(),
            now: jiff::Timestamp::now().to_string(),
        },
        T::ThresholdNotMet {
            role,
            found,
            threshold,
        } => Error::Threshold {
            role,
            found,
            threshold,
        },
        T::DuplicateSignature { role, key_id } => Error::Threshold {
            role: format!("{role} (key {key_id} signed twice)"),
            found: 0,
            threshold: 1,
        },
        T::BadRootVersion { trusted, new } => Error::RootVersion {
            expected: trusted.saturating_add(1),
            found: new,
        },
        T::IntegrityMismatch(detail) => match phase {
            Phase::Metadata => Error::MixAndMatch { detail },
            Phase::Target(target) if detail.contains("exceeds configured max") => {
                Error::Oversized {
                    what: target.to_owned(),
                    max: MAX_TARGET_BYTES,
                }
            }
            Phase::Target(target) => Error::TargetMismatch {
                target: target.to_owned(),
                detail,
            },
        },
        T::Transport { message, source } => {
            if let Some(too_long) = source.as_deref().and_then(|s| s.downcast_ref::<TooLong>()) {
                return Error::Oversized {
                    what: too_long.what.clone(),
                    max: too_long.max,
                };
            }
            Error::Unreachable {
                what: message,
                detail: source.map(|s| s.to_string()).unwrap_or_default(),
            }
        }
        T::TargetNotFound(target) => Error::TargetMissing { target },
        T::Io { context, source } => Error::Cache {
            path: context,
            detail: source.to_string(),
        },
        other => Error::Malformed {
            detail: error_chain(&other),
        },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The HTTP transport: every read bounded while it arrives, timeouts on connect and
/// on the whole request (the slow-retrieval attack), 404 and 403 as "absent".
struct HttpRepo {
    base: String,
    client: reqwest::Client,
}

impl HttpRepo {
    fn new(base: &str, ca_pem: Option<&[u8]>) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::Key {
                expected: "PEM CA certificates".into(),
                found: e.to_string(),
            })? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| Error::Unreachable {
            what: base.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(HttpRepo {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }

    async fn get(&self, rel: &str, max: u64) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        let url = format!("{}/{rel}", self.base);
        let mut resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| sigstore_tuf::Error::transport_with_source(format!("GET {url}"), e))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(sigstore_tuf::Error::transport(format!(
                "GET {url}: HTTP {status}"
            )));
        }
        let too_long = || {
            sigstore_tuf::Error::transport_with_source(
                format!("GET {url}"),
                TooLong {
                    what: rel.to_owned(),
                    max,
                },
            )
        };
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(too_long());
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| sigstore_tuf::Error::transport_with_source(format!("reading {url}"), e))?
        {
            if (buf.len() as u64).saturating_add(chunk.len() as u64) > max {
                return Err(too_long());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Some(buf))
    }
}

impl Repository for HttpRepo {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(self.get(name, max_length))
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(async move { self.get(&format!("targets/{path}"), max_length).await })
    }
}

/// The cache root when none is given: `$XDG_CACHE_HOME/vouch/tuf`, else
/// `$HOME/.cache/vouch/tuf`. `env` reads one environment variable.
pub fn default_cache_root(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    match (env("XDG_CACHE_HOME"), env("HOME")) {
        (Some(x), _) if !x.is_empty() => PathBuf::from(x).join("vouch/tuf"),
        (_, Some(h)) => PathBuf::from(h).join(".cache/vouch/tuf"),
        _ => PathBuf::from(".vouch/tuf"),
    }
}

/// What `vouch audit roots` reports: the verified material and whether the trusted
/// root changed since the cache last held one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RootsReport {
    #[serde(flatten)]
    pub current: Refreshed,
    /// The trusted root's SHA-256 the cache held before this run, if any.
    pub previous_trusted_root_sha256: Option<String>,
    /// True when a previous trusted root was cached and differs from this one.
    pub changed: bool,
}

/// `vouch audit roots`: refresh through TUF (or, `offline`, read the cache with no
/// network use at all) and say whether the trusted root changed.
pub fn audit_roots(req: &Refresh, offline: bool) -> Result<RootsReport, Error> {
    let previous = read_offline(&req.cache_root, &req.instance)
        .ok()
        .map(|r| r.trusted_root_sha256);
    let current = if offline {
        read_offline(&req.cache_root, &req.instance)?
    } else {
        refresh(req)?
    };
    let changed = previous
        .as_deref()
        .is_some_and(|p| p != current.trusted_root_sha256);
    Ok(RootsReport {
        current,
        previous_trusted_root_sha256: previous,
        changed,
    })
}

impl std::fmt::Display for RootsReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.current;
        let how = if c.refreshed {
            "refreshed through TUF"
        } else {
            "read from the cache (offline, not refreshed)"
        };
        writeln!(f, "repository     {}", c.repository)?;
        writeln!(f, "trust root     {how}")?;
        let v = |x: Option<u64>| x.map_or_else(|| "-".to_owned(), |v| v.to_string());
        writeln!(
            f,
            "versions       root {}, timestamp {}, snapshot {}, targets {}",
            c.root_version,
            v(c.timestamp_version),
            v(c.snapshot_version),
            v(c.targets_version)
        )?;
        if let Some(e) = &c.timestamp_expires {
            writeln!(f, "expires        {e} (timestamp)")?;
        }
        writeln!(f, "trusted root   sha256:{}", c.trusted_root_sha256)?;
        match (&self.previous_trusted_root_sha256, self.changed) {
            (Some(p), true) => writeln!(f, "changed        yes: was sha256:{p}")?,
            (Some(_), false) => writeln!(f, "changed        no")?,
            (None, _) => writeln!(f, "changed        first use of this instance")?,
        }
        write!(f, "cache          {}", c.cache_dir.display())
    }
}
