//! `vouch serve`: runs the registry server with its transparency log (and, hidden, the crash test's in-process appender).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use vouch_log::SystemClock;
use vouch_registry::launch::ServeFlags;
use vouch_registry::ServeError;

use crate::output::{error_chain, CodedError, Exit, LogFormat};

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
    CodedError::new(e.code(), Exit::Error, error_chain(&e)).into()
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(args))
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
    let flags = ServeFlags {
        dev: args.dev,
        data: args.data.clone(),
        config: args.config.clone(),
        database: args.database.clone(),
        migrate: args.migrate,
    };
    let (cfg, secrets, runtime) =
        vouch_registry::launch::settle(&flags, scheme, addr).map_err(coded)?;
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

/// The crash test's load: every ack and every published checkpoint goes to stdout,
/// flushed line by line, so the parent knows exactly what was promised before the kill.
async fn selftest(log: Arc<vouch_log::Log>, n: u64, tag: String) {
    let mut rx = vouch_registry::launch::selftest_appends(log, n, tag);
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
        let msg = crate::output::error_chain(&e);
        assert_eq!(
            msg,
            "the Sigstore services could not start: cannot prepare the CA key material: disk full"
        );
        assert_eq!(msg.matches("disk full").count(), 1);
    }
}
