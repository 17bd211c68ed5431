//! `vouch serve`: runs the registry server with its transparency log (and, hidden, the crash test's in-process appender).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use vouch_registry::launch::ServeFlags;

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
    /// Several nodes (PostgreSQL lock database): the base URL the other nodes reach
    /// this one at for internal requests (forwarded log writes). Defaults to
    /// http(s)://ADDR of the bound address, which is right only when --listen names an
    /// address the other nodes can reach (not 0.0.0.0).
    #[arg(long, value_name = "URL", env = "VOUCH_ADVERTISE_URL")]
    advertise: Option<String>,
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

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let rt = vouch_term::progress::runtime_on_every_core()?;
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<Exit> {
    let flags = ServeFlags {
        dev: args.dev,
        data: args.data.clone(),
        config: args.config.clone(),
        database: args.database.clone(),
        migrate: args.migrate,
        advertise: args.advertise.clone(),
    };
    let tls = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
    let s = vouch_registry::launch::start(&flags, &args.listen, tls)
        .await
        .map_err(|e| CodedError::error(e.code(), error_chain(&e)))?;
    // The banner is best-effort: a parent that read what it needed and closed our
    // stdout must not take the server down with it (EPIPE).
    let banner = s.banner(args.dev.then_some(args.data.as_path()));
    let _ = (|| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        banner.iter().try_for_each(|line| writeln!(out, "{line}"))?;
        out.flush()
    })();
    tracing::info!(addr = %s.addr, origin = s.app.state.log.origin(), "serving");
    if let Some(n) = args.selftest_appends {
        // The crash test runs one node, which leads its log.
        if let Some(log) = s.app.state.log.local() {
            tokio::spawn(selftest(log, n, args.selftest_tag.clone()));
        }
    }
    let what = format!("serving {}", s.scheme.to_uppercase());
    s.run().await.context(what)?;
    Ok(Exit::Ok)
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
