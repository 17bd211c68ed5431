//! `vouch trust-config`: fetches a server's Sigstore client trust configuration (`GET /api/v1/trust-config`), checks its shape, and prints or saves it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::output::Exit;

/// Print a server's client trust configuration: the trusted root (its CA, transparency
/// log, CT log and timestamp authority) and the signing config (its URLs), as
/// sigstore-python's `--trust-config` and `vouch sign` read it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// PEM certificate to trust for an https server with a private certificate.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let body = vouch_api_client::dev::fetch_trust_config(&args.server, args.tls_ca.as_deref())?;
    match &args.out {
        Some(path) => vouch_api_client::dev::save_trust_config(path, &body)?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&body).context("writing stdout")?;
            if !body.ends_with(b"\n") {
                out.write_all(b"\n").context("writing stdout")?;
            }
        }
    }
    Ok(Exit::Ok)
}
