//! What `vouch serve` starts from: the configuration, secrets and runtime settled from
//! its flags, the bound address and the scheme, as one function the binary calls.

use std::path::{Path, PathBuf};

use crate::config::{origin_for_public_url, DatabaseConfig, LockConfig, ObjectsConfig};
use crate::{Runtime, Secrets, ServeConfig, ServeError};

/// The flags of `vouch serve` that choose the configuration.
#[derive(Debug, Clone)]
pub struct ServeFlags {
    /// Development mode: everything is created under `data`.
    pub dev: bool,
    /// The data directory (absolute); relative paths in the config resolve against it.
    pub data: PathBuf,
    /// The configuration file; required without `dev`.
    pub config: Option<PathBuf>,
    /// `postgres://...` or a SQLite path, overriding the config's `[database]`.
    pub database: Option<String>,
    /// Apply the metadata migrations at start (always with `dev`).
    pub migrate: bool,
}

/// The name of a `--dev` data directory's existing log key (its log's origin).
fn existing_log_name(data: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data.join("log.key")).ok()?;
    let signer = vouch_tlog::Signer::parse(text.trim()).ok()?;
    Some(signer.verifier().name().to_owned())
}

fn resolve(data: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = data.join(&*p);
    }
}

/// Resolves the config's relative local paths (object directory, SQLite lock and
/// metadata files) against the data directory, as `serve`, `admin init` and backup do.
pub fn resolve_paths(cfg: &mut ServeConfig, data: &Path) {
    if let ObjectsConfig::Local { path } = &mut cfg.storage.objects {
        resolve(data, path);
    }
    if let LockConfig::Sqlite { path } = &mut cfg.storage.lock {
        resolve(data, path);
    }
    if let DatabaseConfig::Sqlite { path } = &mut cfg.database {
        resolve(data, path);
    }
}

/// The configuration, secrets and runtime a server listening on `addr` over `scheme`
/// (`http` or `https`) runs with. Without `dev` nothing is created: the config names
/// what exists and the secrets come from the variables it names; with `dev` the data
/// directory, its keys and databases are made (reused on later runs).
pub fn settle(
    flags: &ServeFlags,
    scheme: &str,
    addr: std::net::SocketAddr,
) -> Result<(ServeConfig, Secrets, Runtime), ServeError> {
    let public_url_of = |cfg: &ServeConfig| {
        cfg.registry
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{addr}"))
    };
    let (mut cfg, mut secrets) = if flags.dev {
        std::fs::create_dir_all(&flags.data).map_err(|source| ServeError::DevSetup {
            path: flags.data.clone(),
            source,
        })?;
        let mut cfg = match &flags.config {
            Some(p) => ServeConfig::load(p)?,
            None => ServeConfig::dev(&flags.data),
        };
        let public_url = public_url_of(&cfg);
        // The origin is derived from the public URL (what Sigstore clients match the
        // checkpoint signer against), except that a data directory whose log key
        // exists keeps that key's name: its log lives under it, whatever port this
        // run got.
        match (&flags.config, existing_log_name(&flags.data)) {
            (None, Some(name)) => cfg.log.origin = name,
            (None, None) => cfg.log.origin = origin_for_public_url(&public_url)?,
            (Some(_), _) => cfg.settle_origin(&public_url)?,
        }
        let secrets = Secrets::dev(&flags.data, &cfg)?;
        (cfg, secrets)
    } else {
        let path = flags.config.as_ref().ok_or(ServeError::ConfigMissing)?;
        let mut cfg = ServeConfig::load(path)?;
        cfg.settle_origin(&public_url_of(&cfg))?;
        let secrets = Secrets::from_env(&cfg)?;
        (cfg, secrets)
    };
    match flags.database.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            secrets.database_url = Some(url.to_owned());
        }
        Some(path) => {
            cfg.database = DatabaseConfig::Sqlite { path: path.into() };
            secrets.database_url = None;
        }
        None => {}
    }
    resolve_paths(&mut cfg, &flags.data);
    let runtime = Runtime {
        dev: flags.dev,
        migrate: flags.migrate,
        data_dir: flags.data.clone(),
        public_url: public_url_of(&cfg),
    };
    Ok((cfg, secrets, runtime))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The crash test's load (`vouch serve --selftest-appends N`, hidden): 64 producers
/// append `TAG-NNNNNNNN` entries until `n` are acknowledged. Each committed entry
/// yields `ack INDEX HEX(ENTRY)` and each published checkpoint `checkpoint HEX(NOTE)` on
/// the returned channel, in the order they happened, for the caller to print.
pub fn selftest_appends(
    log: std::sync::Arc<vouch_log::Log>,
    n: u64,
    tag: String,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut sub = log.subscribe();
    let cp_tx = tx.clone();
    tokio::spawn(async move {
        while sub.changed().await.is_ok() {
            let note = sub.borrow_and_update().note.clone();
            if cp_tx.send(format!("checkpoint {}", hex(&note))).is_err() {
                return;
            }
        }
    });
    let next = Arc::new(AtomicU64::new(0));
    for _ in 0..64 {
        let (log, next, tx, tag) = (Arc::clone(&log), Arc::clone(&next), tx.clone(), tag.clone());
        tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let entry = format!("{tag}-{i:08}");
                match log.add(bytes::Bytes::from(entry.clone())).await {
                    Ok(index) => {
                        let _ = tx.send(format!("ack {index} {}", hex(entry.as_bytes())));
                    }
                    Err(e) => {
                        let _ = tx.send(format!("error {e}"));
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                }
            }
        });
    }
    rx
}
