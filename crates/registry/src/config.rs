//! `ServeConfig`: the one typed configuration of `vouch serve`, loaded from an explicit TOML file (or built by `--dev`).
//!
//! Secrets never live in the file: it names the environment variables that hold them,
//! and a missing or malformed variable is reported by name.
//!
//! Every field, its type, default and meaning, and a complete example, are in
//! `docs/configuration.md`; `tests::documented_fields_match_the_typed_config` keeps the
//! two in step (a field here and not there, or there and not here, fails it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vouch_log::LogConfig;

use crate::ServeError;

/// Everything `vouch serve` needs besides secrets.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
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
    /// `[limits]`: connection, body and queue bounds (see [`crate::limits`]).
    #[serde(default)]
    pub limits: crate::limits::LimitsSection,
    /// `[cargo]`: the Cargo registry (see [`crate::cargo`]).
    #[serde(default)]
    pub cargo: crate::cargo::CargoSection,
}

/// `[registry]`: how clients reach this server and what protects its keys at rest.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
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
#[cfg_attr(test, derive(serde::Serialize))]
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
#[cfg_attr(test, derive(serde::Serialize))]
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
    /// Seconds a superseded partial tile or bundle is kept for reads in flight before
    /// it is deleted (default 60, the partial tiles' `max-age`).
    pub partial_tile_grace_secs: Option<u64>,
    /// Seconds the sequencer lease lasts without renewal (default 10): how long the
    /// logs wait for a new leader when the leader dies without handing over.
    pub lease_ttl_secs: Option<u64>,
}

/// `[storage]`: where tiles go and where the checkpoint lock lives.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StorageSection {
    pub objects: ObjectsConfig,
    pub lock: LockConfig,
}

/// The object store for tiles.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum ObjectsConfig {
    /// A local directory (fsynced writes).
    Local { path: PathBuf },
    /// An S3-compatible bucket; credentials from the standard `AWS_*` variables.
    /// Each request is retried on 5xx, 429 and transport errors up to `max_retries`
    /// times within `retry_timeout_secs`, each attempt bounded by
    /// `request_timeout_secs` and `connect_timeout_secs` (docs/configuration.md).
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        allow_http: bool,
        max_retries: Option<usize>,
        retry_timeout_secs: Option<u64>,
        request_timeout_secs: Option<u64>,
        connect_timeout_secs: Option<u64>,
    },
    /// Process memory: lost on exit. For tests only.
    Memory,
}

/// The checkpoint compare-and-swap table.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
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
#[cfg_attr(test, derive(serde::Serialize))]
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
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct WitnessedLog {
    pub origin: String,
    pub vkey: String,
}

/// `[internal]`: the authenticated add-entry endpoint for other parts.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
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
        let mut cfg = cfg;
        cfg.validate(path)?;
        // With a public URL the origin is settled here, so every command reading the
        // config (`serve`, `admin init`, backup) sees the same one.
        if let Some(url) = cfg.registry.public_url.clone() {
            cfg.settle_origin(&url)?;
        }
        Ok(cfg)
    }

    /// The configuration of an existing `--dev` data directory, for the commands that
    /// work on it offline (backup, key reset, rotation): as [`ServeConfig::dev`], with
    /// the origin its log key names (`vouch serve --dev` derives the origin from its
    /// first public URL and keeps it in the key's name).
    pub fn dev_existing(data: &Path) -> Self {
        let mut cfg = Self::dev(data);
        if let Some(name) = std::fs::read_to_string(data.join("log.key"))
            .ok()
            .and_then(|text| vouch_tlog::Signer::parse(text.trim()).ok())
            .map(|signer| signer.verifier().name().to_owned())
        {
            cfg.log.origin = name;
        }
        cfg
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
                partial_tile_grace_secs: None,
                lease_ttl_secs: None,
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
            limits: Default::default(),
            cargo: Default::default(),
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
        if !(1..=300).contains(&self.integrity.key_refresh_secs) {
            return Err(bad("integrity.key_refresh_secs must be 1 to 300"));
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
    /// `[log] lease_ttl_secs` (default 10 s, at least 1 s).
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.log.lease_ttl_secs.unwrap_or(10).max(1))
    }

    pub fn log_config(&self) -> LogConfig {
        let mut c = LogConfig::new(self.log.origin.clone());
        if let Some(ms) = self.log.batch_interval_ms {
            c = c.with_batch_interval(Duration::from_millis(ms));
        }
        if let Some(n) = self.log.batch_max_entries {
            c = c.with_batch_max_entries(n);
        }
        if let Some(s) = self.log.partial_tile_grace_secs {
            c = c.with_partial_grace(Duration::from_secs(s));
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

    /// Every enum variant once, with every optional field set. The `match` makes a new
    /// variant a compile error here until it is added (and so documented).
    fn all_objects() -> Vec<ObjectsConfig> {
        let all = vec![
            ObjectsConfig::Local { path: "/o".into() },
            ObjectsConfig::S3 {
                bucket: "b".into(),
                endpoint: Some("https://s3".into()),
                region: Some("r".into()),
                prefix: "p/".into(),
                allow_http: true,
                max_retries: Some(3),
                retry_timeout_secs: Some(10),
                request_timeout_secs: Some(20),
                connect_timeout_secs: Some(2),
            },
            ObjectsConfig::Memory,
        ];
        for o in &all {
            match o {
                ObjectsConfig::Local { .. } | ObjectsConfig::S3 { .. } | ObjectsConfig::Memory => {}
            }
        }
        all
    }

    fn all_locks() -> Vec<LockConfig> {
        let all = vec![
            LockConfig::Sqlite { path: "/l".into() },
            LockConfig::Postgres {
                url_env: "U".into(),
            },
        ];
        for l in &all {
            match l {
                LockConfig::Sqlite { .. } | LockConfig::Postgres { .. } => {}
            }
        }
        all
    }

    fn all_databases() -> Vec<DatabaseConfig> {
        let all = vec![
            DatabaseConfig::Sqlite { path: "/m".into() },
            DatabaseConfig::Postgres {
                url_env: "U".into(),
            },
        ];
        for d in &all {
            match d {
                DatabaseConfig::Sqlite { .. } | DatabaseConfig::Postgres { .. } => {}
            }
        }
        all
    }

    fn all_issuers() -> Vec<crate::sigstore::IssuerSpec> {
        use crate::sigstore::settings::IssuerTable;
        use crate::sigstore::IssuerSpec;
        let all = vec![
            IssuerSpec::Name("github".into()),
            IssuerSpec::Table(IssuerTable {
                provider: "github".into(),
                issuer: Some("https://i".into()),
                server_url: Some("https://s".into()),
                org_id: Some("o".into()),
                audience: Some("a".into()),
            }),
        ];
        for i in &all {
            match i {
                IssuerSpec::Name(_) | IssuerSpec::Table(_) => {}
            }
        }
        all
    }

    /// Fully populated configurations: struct literals (no `..Default::default()`), so
    /// a new field does not compile until it is set here, and then it serialises.
    fn populated() -> Vec<ServeConfig> {
        let mut out = Vec::new();
        for (i, objects) in all_objects().into_iter().enumerate() {
            let locks = all_locks();
            let dbs = all_databases();
            out.push(ServeConfig {
                log: LogSection {
                    origin: "o".into(),
                    prefix: "/log".into(),
                    signing_key_env: "K".into(),
                    batch_interval_ms: Some(1),
                    batch_max_entries: Some(1),
                    pool_max_entries: Some(1),
                    pool_max_bytes: Some(1),
                    partial_tile_grace_secs: Some(1),
                    lease_ttl_secs: None,
                },
                storage: StorageSection {
                    objects,
                    lock: locks[i % locks.len()].clone(),
                },
                witness: WitnessSection {
                    enabled: true,
                    signing_key_env: "W".into(),
                    logs: vec![WitnessedLog {
                        origin: "x".into(),
                        vkey: "v".into(),
                    }],
                },
                internal: InternalSection {
                    token_env: Some("T".into()),
                },
                registry: RegistrySection {
                    public_url: Some("https://r".into()),
                    token_enc_key_env: "E".into(),
                    max_blob_bytes: 1,
                },
                database: dbs[i % dbs.len()].clone(),
                oidc: crate::sigstore::OidcSection {
                    audience: "a".into(),
                    issuers: all_issuers(),
                    allow_loopback_http: true,
                    dev_device_code_secs: 30,
                },
                ca: crate::sigstore::CaSection {
                    organization: "o".into(),
                    leaf_validity_secs: 600,
                },
                tsa: crate::sigstore::TsaSection {
                    organization: "o".into(),
                },
                integrity: crate::integrity::IntegritySection {
                    hash_budget_bytes: 1,
                    backfill_at_boot: true,
                    key_refresh_secs: 5,
                },
                forges: vec![crate::integrity::ingest::ForgeSection {
                    id: "gh".into(),
                    kind: "github".into(),
                    api_base: "https://api".into(),
                    repo: "a/b".into(),
                    token_env: Some("G".into()),
                    webhook_secret_env: Some("H".into()),
                    allow_private_for_tests: false,
                    relay_attestations: Some(true),
                }],
                limits: crate::limits::LimitsSection {
                    header_read_timeout_secs: 1,
                    body_timeout_secs: 1,
                    max_connections: 1,
                    max_connections_per_ip: 1,
                    tls_handshake_timeout_secs: 1,
                    max_tls_handshakes: 1,
                    rekor_verify_workers: 1,
                    rekor_verify_queue: 1,
                },
                cargo: crate::cargo::CargoSection {
                    auth_required: true,
                    login_url: Some("https://example.invalid/login".into()),
                },
            });
        }
        out
    }

    /// Dotted paths of every leaf and array (`witness.logs`, `witness.logs[].vkey`).
    fn paths(prefix: &str, v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    paths(&p, v, out);
                }
            }
            serde_json::Value::Array(items) => {
                out.insert(prefix.to_owned());
                for item in items {
                    if item.is_object() {
                        paths(&format!("{prefix}[]"), item, out);
                    }
                }
            }
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }

    fn doc() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        std::fs::read_to_string(path).expect("docs/configuration.md")
    }

    #[test]
    fn documented_fields_match_the_typed_config() {
        let mut typed = std::collections::BTreeSet::new();
        for cfg in populated() {
            paths("", &serde_json::to_value(&cfg).unwrap(), &mut typed);
        }
        let doc = doc();
        let documented: std::collections::BTreeSet<String> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_owned)
            .collect();
        let undocumented: Vec<_> = typed.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&typed).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "docs/configuration.md is out of step with ServeConfig: fields missing from the \
             doc: {undocumented:?}; documented fields the config does not have: {unknown:?}"
        );
    }

    #[test]
    fn the_documented_example_parses_and_validates() {
        let doc = doc();
        let after = doc
            .split_once("## Complete example")
            .expect("a Complete example section")
            .1;
        let block = after
            .split_once("```toml\n")
            .and_then(|(_, rest)| rest.split_once("```"))
            .expect("a toml block")
            .0;
        let cfg: ServeConfig = toml::from_str(block).expect("the example parses");
        cfg.validate(Path::new("docs/configuration.md"))
            .expect("the example validates");
        for spec in &cfg.oidc.issuers {
            spec.to_issuer_config(&cfg.oidc.audience)
                .expect("every example issuer is usable");
        }
        for l in &cfg.witness.logs {
            vouch_tlog::Verifier::parse(&l.vkey).expect("example vkeys parse");
        }
        assert_eq!(cfg.log.origin, "registry.example.org");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = "[log]\norigin = \"a\"\ncolour = 1\n[storage.objects]\nkind = \"memory\"\n[storage.lock]\nkind = \"sqlite\"\npath = \"x\"\n";
        assert!(toml::from_str::<ServeConfig>(text).is_err());
    }
}
