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
    /// Where the other nodes reach this one for internal requests (`--advertise`);
    /// `None`: `scheme://ADDR` of the bound address.
    pub advertise: Option<String>,
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
        advertise_url: Some(
            flags
                .advertise
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}"))
                .trim_end_matches('/')
                .to_owned(),
        ),
    };
    Ok((cfg, secrets, runtime))
}

/// Why `vouch serve` could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

impl LaunchError {
    pub fn code(&self) -> &'static str {
        match self {
            LaunchError::Serve(e) => e.code(),
            LaunchError::Tls(e) => e.code(),
        }
    }
}

/// A server bound, configured and opened, ready to serve.
pub struct Started {
    pub listener: tokio::net::TcpListener,
    /// The bound address (port 0 in `listen` picks a free one).
    pub addr: std::net::SocketAddr,
    /// `http`, or `https` with a TLS configuration.
    pub scheme: &'static str,
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    pub app: crate::App,
}

/// Binds `listen`, loads the TLS certificate and key if given, settles the
/// configuration ([`settle`]) and opens the registry. Binding comes first: the public
/// URL (trust config, OIDC issuer) defaults to the bound address.
pub async fn start(
    flags: &ServeFlags,
    listen: &str,
    tls: Option<(&Path, &Path)>,
) -> Result<Started, LaunchError> {
    let bound = tokio::net::TcpListener::bind(listen)
        .await
        .and_then(|l| Ok((l.local_addr()?, l)));
    let (addr, listener) = bound.map_err(|source| ServeError::Listen {
        addr: listen.to_owned(),
        source,
    })?;
    let tls = match tls {
        Some((cert, key)) => Some(crate::tls::server_config(cert, key)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (cfg, secrets, runtime) = settle(flags, scheme, addr)?;
    let clock = std::sync::Arc::new(vouch_log::SystemClock);
    let app = crate::open(&cfg, secrets, runtime, clock).await?;
    Ok(Started {
        listener,
        addr,
        scheme,
        tls,
        app,
    })
}

impl Started {
    /// What `vouch serve` prints once listening: `listening on SCHEME://ADDR`, `log key
    /// VKEY` (the verifier key clients pin; it is public) and, for a dev instance whose
    /// data directory is `dev_data`, the `dev` owner's API token file (mode 0600).
    pub fn banner(&self, dev_data: Option<&Path>) -> Vec<String> {
        let mut out = vec![
            format!("listening on {}://{}", self.scheme, self.addr),
            format!("log key {}", self.app.state.log.verifier()),
        ];
        if let Some(data) = dev_data {
            let token_file = data.join(crate::packages::OWNER_TOKEN_FILE);
            out.push(format!("owner token file {}", token_file.display()));
        }
        out
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run(self) -> std::io::Result<()> {
        match self.tls {
            Some(tls) => crate::serve_tls(self.listener, tls, self.app, shutdown_signal()).await,
            None => crate::serve(self.listener, self.app, shutdown_signal()).await,
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
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
