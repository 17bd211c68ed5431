//! `ServeConfig`: the one typed configuration of `vouch serve`, loaded from an explicit TOML file (or built by `--dev`).
//!
//! Secrets never live in the file: it names the environment variables that hold them,
//! and a missing or malformed variable is reported by name.
//!
//! ```toml
//! [log]
//! origin = "registry.example.org/log"   # checkpoint origin line
//! prefix = "/log"                       # HTTP path prefix of checkpoint and tiles
//! signing_key_env = "VOUCH_LOG_KEY"     # holds PRIVATE+KEY+<name>+<id>+<base64>
//! batch_interval_ms = 25
//! batch_max_entries = 32768
//! pool_max_entries = 131072
//! pool_max_bytes = 268435456
//!
//! [storage.objects]
//! kind = "local"                        # or "s3" (bucket, endpoint, region, prefix, allow_http)
//! path = "/var/lib/vouch/tiles"         # must exist
//!
//! [storage.lock]
//! kind = "sqlite"                       # or "postgres" with url_env = "VOUCH_PG_URL"
//! path = "/var/lib/vouch/lock.db"       # must exist, with its table
//!
//! [witness]
//! enabled = true
//! signing_key_env = "VOUCH_WITNESS_KEY" # a cosignature (type 0x04) key
//! logs = [{ origin = "other.example/log", vkey = "other.example/log+1234abcd+AQ..." }]
//!
//! [internal]
//! token_env = "VOUCH_INTERNAL_TOKEN"    # enables POST <prefix>/internal/add-entry
//!
//! [registry]
//! public_url = "https://registry.example.org"  # how clients reach this server (default: http://<listen>)
//! token_enc_key_env = "TOKEN_ENC_KEY"   # 64 hex chars (`openssl rand -hex 32`); seals keys at rest
//! max_blob_bytes = 268435456
//!
//! [oidc]                                # see `sigstore::settings` for every form
//! audience = "sigstore"
//! issuers = ["github", "gitlab", { provider = "circleci", org_id = "..." }]
//!
//! [ca]
//! leaf_validity_secs = 600
//!
//! [integrity]
//! hash_budget_bytes = 524288000         # default asset hash budget (admins may change it; max 16 GiB)
//! backfill_at_boot = true               # record releases/versions lacking integrity records at start
//!
//! [[forges]]                           # repeat per forge repository
//! id = "gh"                             # /api/v1/webhooks/gh, /api/admin/forges/gh/sync
//! kind = "github"                       # or "gitea", "forgejo", "gitlab"
//! api_base = "https://api.github.com"
//! repo = "acme/tool"
//! token_env = "GITHUB_TOKEN"            # optional
//! webhook_secret_env = "VOUCH_GH_HOOK"  # optional; enables the webhook
//!
//! [database]
//! kind = "sqlite"                       # or "postgres" with url_env = "VOUCH_DATABASE_URL"
//! path = "/var/lib/vouch/meta.db"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vouch_log::LogConfig;

use crate::ServeError;

/// Everything `vouch serve` needs besides secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServeConfig {
    pub log: LogSection,
    pub storage: StorageSection,
    #[serde(default)]
    pub witness: WitnessSection,
    #[serde(default)]
    pub internal: InternalSection,
    #[serde(default)]
    pub registry: RegistrySection,
    #[serde(default)]
    pub database: DatabaseConfig,
    /// `[oidc]`: trusted token issuers (see [`crate::sigstore::settings`]).
    #[serde(default)]
    pub oidc: crate::sigstore::OidcSection,
    /// `[ca]`: the certificate authority.
    #[serde(default)]
    pub ca: crate::sigstore::CaSection,
    /// `[tsa]`: the timestamp authority.
    #[serde(default)]
    pub tsa: crate::sigstore::TsaSection,
    /// `[integrity]`: hash budget default and boot backfill (see [`crate::integrity`]).
    #[serde(default)]
    pub integrity: crate::integrity::IntegritySection,
    /// `[[forges]]`: forges releases are ingested from (see [`crate::integrity::ingest`]).
    #[serde(default)]
    pub forges: Vec<crate::integrity::ingest::ForgeSection>,
}

/// `[registry]`: how clients reach this server and what protects its keys at rest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RegistrySection {
    /// The base URL clients use (trust config, OIDC issuer, index URLs). Default:
    /// `http://<bound address>` (`https://` with TLS).
    pub public_url: Option<String>,
    /// Names the variable holding TOKEN_ENC_KEY (64 hex characters).
    #[serde(default = "default_enc_key_env")]
    pub token_enc_key_env: String,
    /// Largest package archive accepted, in bytes.
    #[serde(default = "default_max_blob_bytes")]
    pub max_blob_bytes: u64,
}

impl Default for RegistrySection {
    fn default() -> Self {
        RegistrySection {
            public_url: None,
            token_enc_key_env: default_enc_key_env(),
            max_blob_bytes: default_max_blob_bytes(),
        }
    }
}

/// `[database]`: the registry's metadata (users, packages, versions, bindings, audit).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum DatabaseConfig {
    /// One SQLite file (the embedded default).
    Sqlite { path: PathBuf },
    /// PostgreSQL; `url_env` names the variable holding the connection URL.
    Postgres { url_env: String },
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig::Sqlite {
            path: PathBuf::from("meta.db"),
        }
    }
}

/// `[log]`: the transparency log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LogSection {
    /// The checkpoint origin line. Optional: it is derived from the public URL
    /// ([`origin_for_public_url`]); a value that disagrees with it is refused.
    #[serde(default)]
    pub origin: String,
    #[serde(default = "default_prefix")]
    pub prefix: String,
    #[serde(default = "default_log_key_env")]
    pub signing_key_env: String,
    pub batch_interval_ms: Option<u64>,
    pub batch_max_entries: Option<usize>,
    pub pool_max_entries: Option<usize>,
    pub pool_max_bytes: Option<usize>,
}

/// `[storage]`: where tiles go and where the checkpoint lock lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StorageSection {
    pub objects: ObjectsConfig,
    pub lock: LockConfig,
}

/// The object store for tiles.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum ObjectsConfig {
    /// A local directory (fsynced writes).
    Local { path: PathBuf },
    /// An S3-compatible bucket; credentials from the standard `AWS_*` variables.
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        allow_http: bool,
    },
    /// Process memory: lost on exit. For tests only.
    Memory,
}

/// The checkpoint compare-and-swap table.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum LockConfig {
    Sqlite {
        path: PathBuf,
    },
    /// `url_env` names the variable holding the connection URL (it may carry a password).
    Postgres {
        url_env: String,
    },
}

/// `[witness]`: the built-in tlog-witness.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WitnessSection {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_witness_key_env")]
    pub signing_key_env: String,
    /// Logs the witness follows besides this server's own log.
    #[serde(default)]
    pub logs: Vec<WitnessedLog>,
}

impl Default for WitnessSection {
    fn default() -> Self {
        WitnessSection {
            enabled: true,
            signing_key_env: default_witness_key_env(),
            logs: Vec::new(),
        }
    }
}

/// One log the witness follows: its origin and a verifier key string.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessedLog {
    pub origin: String,
    pub vkey: String,
}

/// `[internal]`: the authenticated add-entry endpoint for other parts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InternalSection {
    /// Names the variable holding the bearer token; unset disables the endpoint.
    pub token_env: Option<String>,
}

fn default_prefix() -> String {
    "/log".into()
}
fn default_log_key_env() -> String {
    "VOUCH_LOG_KEY".into()
}
fn default_witness_key_env() -> String {
    "VOUCH_WITNESS_KEY".into()
}
fn default_enc_key_env() -> String {
    "TOKEN_ENC_KEY".into()
}
fn default_max_blob_bytes() -> u64 {
    256 << 20
}
fn yes() -> bool {
    true
}

impl ServeConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        let cfg: ServeConfig = toml::from_str(&text).map_err(|e| ServeError::ConfigInvalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// The configuration `--dev` uses: everything under `data`.
    pub fn dev(data: &Path) -> Self {
        ServeConfig {
            log: LogSection {
                origin: "localhost/vouch-dev".into(),
                prefix: default_prefix(),
                signing_key_env: default_log_key_env(),
                batch_interval_ms: None,
                batch_max_entries: None,
                pool_max_entries: None,
                pool_max_bytes: None,
            },
            storage: StorageSection {
                objects: ObjectsConfig::Local {
                    path: data.join("tiles"),
                },
                lock: LockConfig::Sqlite {
                    path: data.join("lock.db"),
                },
            },
            witness: WitnessSection::default(),
            internal: InternalSection {
                token_env: Some("VOUCH_INTERNAL_TOKEN".into()),
            },
            registry: RegistrySection::default(),
            database: DatabaseConfig::Sqlite {
                path: data.join("meta.db"),
            },
            oidc: Default::default(),
            ca: Default::default(),
            tsa: Default::default(),
            integrity: Default::default(),
            forges: Vec::new(),
        }
    }

    fn validate(&self, path: &Path) -> Result<(), ServeError> {
        let bad = |reason: &str| ServeError::ConfigInvalid {
            path: path.to_owned(),
            reason: reason.into(),
        };
        let p = &self.log.prefix;
        if !p.is_empty() && (!p.starts_with('/') || p.ends_with('/')) {
            return Err(bad(
                "log.prefix must be empty or start, and not end, with '/'",
            ));
        }
        if self.log.origin.contains('\n') {
            return Err(bad("log.origin must be one line"));
        }
        Ok(())
    }

    /// Settles `[log] origin` against the public URL: derived from it when the config
    /// leaves it out, refused ([`ServeError::OriginMismatch`]) when it disagrees.
    pub fn settle_origin(&mut self, public_url: &str) -> Result<(), ServeError> {
        let derived = origin_for_public_url(public_url)?;
        if self.log.origin.is_empty() {
            self.log.origin = derived;
            return Ok(());
        }
        if self.log.origin != derived {
            return Err(ServeError::OriginMismatch {
                configured: self.log.origin.clone(),
                public_url: public_url.to_owned(),
                derived,
            });
        }
        Ok(())
    }

    /// The sequencer settings.
    pub fn log_config(&self) -> LogConfig {
        let mut c = LogConfig::new(self.log.origin.clone());
        if let Some(ms) = self.log.batch_interval_ms {
            c = c.with_batch_interval(Duration::from_millis(ms));
        }
        if let Some(n) = self.log.batch_max_entries {
            c = c.with_batch_max_entries(n);
        }
        let entries = self.log.pool_max_entries.unwrap_or(c.pool_max_entries);
        let bytes = self.log.pool_max_bytes.unwrap_or(c.pool_max_bytes);
        c.with_pool_limits(entries, bytes)
    }
}

/// The log origin a public URL implies: `host[:port][/path]` (an explicit non-default
/// port and a path are kept, the scheme and a trailing `/` are not), the way Rekor v2
/// names its logs: origin `log2025-alpha3.rekor.sigstage.dev` is served at
/// `https://log2025-alpha3.rekor.sigstage.dev`. Sigstore clients rely on it: sigstore-js
/// accepts a checkpoint signature only from a log whose trusted-root `baseUrl` (the
/// public URL) contains the signer's name (the origin).
pub fn origin_for_public_url(public_url: &str) -> Result<String, ServeError> {
    let bad = |reason: String| ServeError::ConfigInvalid {
        path: "registry.public_url".into(),
        reason,
    };
    let url = url::Url::parse(public_url)
        .map_err(|e| bad(format!("{public_url:?} is not a URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| bad(format!("{public_url:?} has no host")))?;
    let mut origin = host.to_owned();
    if let Some(port) = url.port() {
        origin.push_str(&format!(":{port}"));
    }
    let path = url.path().trim_end_matches('/');
    origin.push_str(path);
    Ok(origin)
}

/// Reads a secret from the environment, naming the variable on failure.
pub fn secret_env(var: &str) -> Result<String, ServeError> {
    std::env::var(var).map_err(|_| ServeError::SecretMissing { var: var.into() })
}

#[cfg(test)]
mod tests {

    /// The origin a public URL implies, Rekor v2 style: host, explicit port, path.
    #[test]
    fn origin_is_derived_from_the_public_url() {
        for (url, origin) in [
            (
                "https://log2025-alpha3.rekor.sigstage.dev",
                "log2025-alpha3.rekor.sigstage.dev",
            ),
            ("https://registry.example.org/", "registry.example.org"),
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("https://example.org:8443/vouch/", "example.org:8443/vouch"),
            ("https://example.org:443", "example.org"),
        ] {
            assert_eq!(origin_for_public_url(url).unwrap(), origin, "{url}");
        }
        let err = origin_for_public_url("not a url").unwrap_err();
        assert_eq!(err.code(), "SERVE_E101");
    }
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = r#"
            [log]
            origin = "example.org/log"
            [storage.objects]
            kind = "s3"
            bucket = "tiles"
            endpoint = "http://127.0.0.1:9000"
            allow_http = true
            [storage.lock]
            kind = "postgres"
            url_env = "VOUCH_PG_URL"
        "#;
        let cfg: ServeConfig = toml::from_str(text).unwrap();
        assert_eq!(cfg.log.prefix, "/log");
        assert!(cfg.witness.enabled);
        assert!(cfg.internal.token_env.is_none());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = "[log]\norigin = \"a\"\ncolour = 1\n[storage.objects]\nkind = \"memory\"\n[storage.lock]\nkind = \"sqlite\"\npath = \"x\"\n";
        assert!(toml::from_str::<ServeConfig>(text).is_err());
    }
}
