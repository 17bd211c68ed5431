//! `vouch serve`: runs the registry server with its transparency log (and, hidden, the crash test's in-process appender).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use vouch_log::{Log, SystemClock};
use vouch_registry::{Secrets, ServeConfig, ServeError};

use crate::output::{CodedError, Exit, LogFormat};

/// Run the registry server: the transparency log's checkpoint and tiles under the
/// configured prefix (default `/log`), the built-in witness at `POST /add-checkpoint`,
/// the authenticated internal add-entry endpoint, and the Sigstore services (CA, CT
/// log, timestamp authority, trust config at /api/v1/trust-config; with --dev also the
/// development OIDC issuer at /oidc).
///
/// Without --dev nothing is created except the Sigstore key material, generated at
/// first start and sealed under TOKEN_ENC_KEY: the config file must name existing
/// directories and databases, and secrets come from the environment variables it
/// names. Once listening, the bound address is printed on stdout as
/// `listening on http://ADDR` (`https://` with --tls-cert), followed by `log key VKEY`: the log's signed-note verifier key, which clients pin.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Development mode: create the data directory, signing keys, lock database and
    /// tile directory under --data (reused on later runs).
    #[arg(long)]
    dev: bool,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Data directory (--dev keeps everything here; relative paths in --config are
    /// resolved against it).
    #[arg(long, value_name = "DIR", value_parser = super::absolute_dir)]
    data: PathBuf,
    /// Configuration file (TOML); required without --dev.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Metadata database: `postgres://...` or a SQLite file path (overrides the
    /// config's [database]; --dev defaults to DATA/meta.db).
    #[arg(long, value_name = "URL_OR_PATH", env = "VOUCH_DATABASE_URL")]
    database: Option<String>,
    /// Apply the metadata schema migrations before serving (always done with --dev).
    #[arg(long)]
    migrate: bool,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. The
    /// printed address and the default public URL then use https://.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Log lines on stderr: `text` (coloured only on a terminal) or `json` (one object
    /// per line, for log collectors). RUST_LOG and -v choose what is logged.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Test only (crash test): append this many entries in-process from many
    /// concurrent producers, printing `ack INDEX HEX(ENTRY)` for each committed entry
    /// and `checkpoint HEX(NOTE)` for each published checkpoint, then keep serving.
    #[arg(long, hide = true, value_name = "N")]
    selftest_appends: Option<u64>,
    /// Test only: prefix of the entries `--selftest-appends` writes.
    #[arg(long, hide = true, default_value = "e")]
    selftest_tag: String,
}

impl Args {
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }
}

fn coded(e: ServeError) -> anyhow::Error {
    CodedError::new(e.code(), Exit::Error, with_causes(&e)).into()
}

/// The message and its causes, each cause once: a wrapper whose own message already
/// quotes its cause does not repeat it.
fn with_causes(e: &ServeError) -> String {
    let mut msg = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cur = c.source();
    }
    msg
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(args))
}

/// The base URL clients use: the configured one, else the bound address.
fn public_url_of(cfg: &ServeConfig, scheme: &str, addr: std::net::SocketAddr) -> String {
    cfg.registry
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"))
}

/// The name of a `--dev` data directory's existing log key (its log's origin).
pub(super) fn existing_log_name(data: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data.join("log.key")).ok()?;
    let signer = vouch_tlog::Signer::parse(text.trim()).ok()?;
    Some(signer.verifier().name().to_owned())
}

fn resolve(data: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = data.join(&*p);
    }
}

async fn serve(args: Args) -> anyhow::Result<Exit> {
    // Bind first: the public URL (trust config, OIDC issuer) defaults to the bound address.
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|source| {
            coded(ServeError::Listen {
                addr: args.listen.clone(),
                source,
            })
        })?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(vouch_registry::tls::server_config(cert, key).map_err(|e| {
                anyhow::Error::from(CodedError::new(e.code(), Exit::Error, e.to_string()))
            })?)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (cfg, secrets) = if args.dev {
        std::fs::create_dir_all(&args.data).map_err(|source| {
            coded(ServeError::DevSetup {
                path: args.data.clone(),
                source,
            })
        })?;
        let mut cfg = match &args.config {
            Some(p) => ServeConfig::load(p).map_err(coded)?,
            None => ServeConfig::dev(&args.data),
        };
        let public_url = public_url_of(&cfg, scheme, addr);
        // The origin is derived from the public URL (what Sigstore clients match the
        // checkpoint signer against), except that a data directory whose log key
        // exists keeps that key's name: its log lives under it, whatever port this
        // run got.
        match (&args.config, existing_log_name(&args.data)) {
            (None, Some(name)) => cfg.log.origin = name,
            (None, None) => {
                cfg.log.origin =
                    vouch_registry::config::origin_for_public_url(&public_url).map_err(coded)?
            }
            (Some(_), _) => cfg.settle_origin(&public_url).map_err(coded)?,
        }
        let secrets = Secrets::dev(&args.data, &cfg).map_err(coded)?;
        (cfg, secrets)
    } else {
        let Some(path) = &args.config else {
            return Err(CodedError::new(
                "SERVE_E101",
                Exit::Error,
                "--config FILE is required without --dev (nothing is created implicitly)",
            )
            .into());
        };
        let mut cfg = ServeConfig::load(path).map_err(coded)?;
        cfg.settle_origin(&public_url_of(&cfg, scheme, addr))
            .map_err(coded)?;
        let secrets = Secrets::from_env(&cfg).map_err(coded)?;
        (cfg, secrets)
    };
    let mut cfg = cfg;
    let mut secrets = secrets;
    match args.database.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            secrets.database_url = Some(url.to_owned());
        }
        Some(path) => {
            cfg.database = vouch_registry::config::DatabaseConfig::Sqlite { path: path.into() };
            secrets.database_url = None;
        }
        None => {}
    }
    if let vouch_registry::config::ObjectsConfig::Local { path } = &mut cfg.storage.objects {
        resolve(&args.data, path);
    }
    if let vouch_registry::config::LockConfig::Sqlite { path } = &mut cfg.storage.lock {
        resolve(&args.data, path);
    }
    if let vouch_registry::config::DatabaseConfig::Sqlite { path } = &mut cfg.database {
        resolve(&args.data, path);
    }
    let public_url = public_url_of(&cfg, scheme, addr);
    let runtime = vouch_registry::Runtime {
        dev: args.dev,
        migrate: args.migrate,
        data_dir: args.data.clone(),
        public_url,
    };
    let app = vouch_registry::open(&cfg, secrets, runtime, Arc::new(SystemClock))
        .await
        .map_err(coded)?;
    // The banner is best-effort: a parent that read what it needed and closed our
    // stdout must not take the server down with it (EPIPE).
    let _ = (|| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {scheme}://{addr}")?;
        // The verifier key clients pin (`vouch log ... --key`); it is public.
        writeln!(out, "log key {}", app.state.log.verifier())?;
        if args.dev {
            // The `dev` owner's API token (created at start, mode 0600): registers publishers.
            let token_file = args.data.join(vouch_registry::packages::OWNER_TOKEN_FILE);
            writeln!(out, "owner token file {}", token_file.display())?;
        }
        out.flush()
    })();
    tracing::info!(%addr, origin = app.state.log.origin(), "serving");
    if let Some(n) = args.selftest_appends {
        tokio::spawn(selftest(
            Arc::clone(&app.state.log),
            n,
            args.selftest_tag.clone(),
        ));
    }
    match tls {
        Some(tls) => vouch_registry::serve_tls(listener, tls, app, shutdown_signal())
            .await
            .context("serving HTTPS")?,
        None => vouch_registry::serve(listener, app, shutdown_signal())
            .await
            .context("serving HTTP")?,
    }
    Ok(Exit::Ok)
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The crash test's load: 64 producers append `TAG-NNNNNNNN` entries until `n` are
/// acknowledged; every ack and every published checkpoint goes to stdout, flushed
/// line by line, so the parent knows exactly what was promised before the kill.
async fn selftest(log: Arc<Log>, n: u64, tag: String) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
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
    drop(tx);
    while let Some(line) = rx.recv().await {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        while let Ok(more) = rx.try_recv() {
            let _ = writeln!(out, "{more}");
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use vouch_registry::ServeError;

    #[test]
    fn causes_are_not_repeated() {
        let e = ServeError::Sigstore(vouch_registry::sigstore::SetupError::Material {
            what: "CA key material",
            reason: "disk full".into(),
        });
        let msg = super::with_causes(&e);
        assert_eq!(
            msg,
            "the Sigstore services could not start: cannot prepare the CA key material: disk full"
        );
        assert_eq!(msg.matches("disk full").count(), 1);
    }
}
