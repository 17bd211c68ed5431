//! `vouch trust-config`: fetches a server's Sigstore client trust configuration (`GET /api/v1/trust-config`), checks its shape, and prints or saves it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::output::{error_chain, CodedError, Exit};

/// The media type the document must declare.
const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

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

fn err(code: &'static str, msg: String) -> anyhow::Error {
    CodedError::new(code, Exit::Error, msg).into()
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let base = args.server.trim_end_matches('/');
    let url = format!("{base}/api/v1/trust-config");
    let client = super::dev::http_client(args.tls_ca.as_ref(), "TRUSTCFG_E001")?;
    let resp = client.get(&url).send().map_err(|e| {
        err(
            "TRUSTCFG_E001",
            format!("cannot fetch {url}: {}", error_chain(&e)),
        )
    })?;
    let status = resp.status();
    let body = super::registry_api::read_capped_blocking(
        resp,
        super::registry_api::caps::TRUST_CONFIG,
        "fetching the trust configuration",
    )?;
    if !status.is_success() {
        return Err(err(
            "TRUSTCFG_E001",
            format!("{url} answered HTTP {status}; is this a vouch server with Sigstore services?"),
        ));
    }
    let doc: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| err("TRUSTCFG_E002", format!("{url} is not JSON: {e}")))?;
    if doc["mediaType"] != MEDIA_TYPE
        || !doc["trustedRoot"].is_object()
        || !doc["signingConfig"].is_object()
    {
        return Err(err(
            "TRUSTCFG_E002",
            format!("{url} is not a client trust config: expected mediaType {MEDIA_TYPE} with trustedRoot and signingConfig"),
        ));
    }
    match &args.out {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
                err(
                    "TRUSTCFG_E003",
                    format!("cannot write in {}: {e}", dir.display()),
                )
            })?;
            // The trust config is public: readable like any other config file.
            use std::os::unix::fs::PermissionsExt;
            tmp.write_all(&body)
                .and_then(|()| {
                    tmp.as_file()
                        .set_permissions(std::fs::Permissions::from_mode(0o644))
                })
                .and_then(|()| tmp.as_file().sync_all())
                .map_err(|e| err("TRUSTCFG_E003", format!("writing {}: {e}", path.display())))?;
            tmp.persist(path)
                .map_err(|e| err("TRUSTCFG_E003", format!("writing {}: {e}", path.display())))?;
        }
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
