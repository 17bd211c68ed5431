//! `vouch sign`: keyless signing of one file (its SHA-256, hashedrekord) or one in-toto
//! statement (DSSE) through a server's Sigstore services, writing a bundle v0.3.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::registry_api::{base_url, runtime};
use crate::output::{print_json, CodedError, Exit};

/// Sign FILE with a short-lived certificate for your OIDC identity: no key to keep.
///
/// A fresh P-256 key is made in memory; the CA certifies it for the identity in
/// --identity-token (checked: it chains to the trusted root, its SCT verifies, it is for
/// our key); the signature is timestamped by the TSA and recorded in the transparency
/// log (whose inclusion proof and signed checkpoint are checked); the key is then
/// forgotten. The Sigstore bundle v0.3 written to --bundle is what `vouch verify` and
/// sigstore-python (`sigstore verify identity`) check.
///
/// Without --in-toto, FILE's SHA-256 is signed (streamed; any size). With --in-toto,
/// FILE is an in-toto Statement (JSON) signed as a DSSE envelope.
///
/// Services come from the server's trust configuration (--server, or VOUCH_SERVER:
/// GET /api/v1/trust-config) or from a saved one (--trust-config FILE, e.g. from
/// `vouch trust-config --server URL --out FILE`).
///
/// Examples:
///
///   TOKEN=$(vouch dev token --server http://127.0.0.1:8080 --repository octo/demo \
///           --workflow .github/workflows/release.yml --ref refs/heads/main)
///
///   vouch sign dist/app.tar.gz --identity-token "$TOKEN" --bundle app.tar.gz.sigstore.json \
///       --server http://127.0.0.1:8080
///
///   vouch verify dist/app.tar.gz --bundle app.tar.gz.sigstore.json \
///       --certificate-identity https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main \
///       --certificate-oidc-issuer http://127.0.0.1:8080/oidc --trusted-root root.json
///
/// Errors carry SIGN_E0xx codes (crate vouch-sign's table): E005 the CA refused the token
/// (expired, wrong audience), E006/E011/E014 a service is unreachable, E008-E010 and
/// E013/E016-E018 a service answered something that does not check out. Exit 2 on any
/// error.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["server", "trust_config"])))]
#[command(group(clap::ArgGroup::new("token").required(true).args(["identity_token", "identity_token_file"])))]
pub struct Args {
    /// The file to sign (with --in-toto: an in-toto Statement JSON).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The OIDC identity token (a JWT) the CA certifies.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SIGSTORE_ID_TOKEN",
        hide_env_values = true
    )]
    identity_token: Option<String>,
    /// Read the identity token from FILE instead.
    #[arg(long, value_name = "FILE")]
    identity_token_file: Option<PathBuf>,
    /// FILE is an in-toto Statement: sign it as a DSSE envelope.
    #[arg(long)]
    in_toto: bool,
    /// Where to write the Sigstore bundle (JSON).
    #[arg(long, value_name = "OUT")]
    bundle: PathBuf,
    /// The vouch server whose trust configuration names the services.
    #[arg(long, env = "VOUCH_SERVER", value_name = "URL")]
    server: Option<String>,
    /// A saved client trust configuration instead of --server.
    #[arg(long, value_name = "FILE", conflicts_with = "server")]
    trust_config: Option<PathBuf>,
    /// PEM certificate to trust for https services with a private certificate.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let token = read_token(
        args.identity_token.as_deref(),
        args.identity_token_file.as_deref(),
    )?;
    let payload = if args.in_toto {
        Payload::Statement(read_statement(&args.file)?)
    } else {
        Payload::Digest(hash_file(&args.file)?)
    };
    let http = http_client(args.tls_ca.as_deref())?;
    let rt = runtime()?;
    let (bundle, identity, issuer) = rt.block_on(async {
        let cfg = match (&args.server, &args.trust_config) {
            (_, Some(path)) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                vouch_sign::TrustConfig::from_json(&bytes).map_err(sign_error)?
            }
            (Some(server), None) => vouch_sign::TrustConfig::fetch(&http, &base_url(server)?)
                .await
                .map_err(sign_error)?,
            (None, None) => unreachable!("clap requires --server or --trust-config"),
        };
        sign(&cfg, &token, http, &payload).await
    })?;
    write_atomically(&args.bundle, &bundle)?;

    let doc: serde_json::Value =
        serde_json::from_slice(&bundle).context("re-reading the bundle")?;
    let log_index = doc["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok());
    let sha256 = match &payload {
        Payload::Digest(d) => hex::encode(d),
        Payload::Statement(s) => hex::encode(Sha256::digest(s)),
    };
    if args.json {
        print_json(&serde_json::json!({
            "file": args.file.display().to_string(),
            "sha256": sha256,
            "kind": if args.in_toto { "dsse" } else { "hashedrekord" },
            "bundle": args.bundle.display().to_string(),
            "identity": identity,
            "issuer": issuer,
            "log_index": log_index,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "signed   {} (sha256:{sha256})", args.file.display())?;
        writeln!(out, "as       {identity}")?;
        writeln!(out, "issuer   {}", issuer.as_deref().unwrap_or("-"))?;
        if let Some(i) = log_index {
            writeln!(out, "logged   entry {i}")?;
        }
        writeln!(out, "bundle   {}", args.bundle.display())?;
    }
    Ok(Exit::Ok)
}

/// What is signed.
pub enum Payload {
    /// SHA-256 of an artifact (hashedrekord).
    Digest([u8; 32]),
    /// An in-toto statement's bytes (DSSE).
    Statement(Vec<u8>),
}

/// Gets a certificate and signs `payload`; returns the bundle, identity and issuer.
pub async fn sign(
    cfg: &vouch_sign::TrustConfig,
    token: &str,
    http: reqwest::Client,
    payload: &Payload,
) -> anyhow::Result<(Vec<u8>, String, Option<String>)> {
    let signer = vouch_sign::KeylessSigner::new(cfg, token, http)
        .await
        .map_err(sign_error)?;
    let bundle = match payload {
        Payload::Digest(d) => signer.sign_artifact_digest(*d).await,
        Payload::Statement(s) => signer.sign_in_toto(s).await,
    }
    .map_err(sign_error)?;
    let (identity, issuer) = signer.identity();
    Ok((bundle, identity, issuer))
}

/// A signing error as `error[SIGN_E…]`, exit 2.
pub fn sign_error(e: vouch_sign::SignError) -> anyhow::Error {
    CodedError::new(
        e.code(),
        Exit::Error,
        format!("{} ({} stage)", e, e.stage().name()),
    )
    .into()
}

fn usage(message: String) -> anyhow::Error {
    CodedError::new("SIGN_E020", Exit::Error, message).into()
}

/// The token from the flag or the file, trimmed.
pub fn read_token(token: Option<&str>, file: Option<&Path>) -> anyhow::Result<String> {
    let token = match (token, file) {
        (Some(t), _) => t.to_string(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            usage(format!(
                "reading the identity token from {}: {e}",
                path.display()
            ))
        })?,
        (None, None) => {
            return Err(usage(
                "an identity token is required (--identity-token)".into(),
            ))
        }
    };
    Ok(token.trim().to_string())
}

/// Reads an in-toto statement, refusing files larger than the signer accepts.
pub fn read_statement(path: &Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(|e| usage(format!("reading {}: {e}", path.display())))?
        .len();
    if len > vouch_sign::MAX_STATEMENT_BYTES as u64 {
        return Err(CodedError::new(
            "SIGN_E019",
            Exit::Error,
            format!(
                "{} is {len} bytes; an in-toto statement may be at most {} bytes",
                path.display(),
                vouch_sign::MAX_STATEMENT_BYTES
            ),
        )
        .into());
    }
    let bytes =
        std::fs::read(path).map_err(|e| usage(format!("reading {}: {e}", path.display())))?;
    vouch_sign::check_statement(&bytes).map_err(sign_error)?;
    Ok(bytes)
}

/// Streams FILE through SHA-256, with a progress bar on a terminal for big files.
pub fn hash_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    const BAR_FROM_BYTES: u64 = 64 * 1024 * 1024;
    let mut file =
        std::fs::File::open(path).map_err(|e| usage(format!("opening {}: {e}", path.display())))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = (len >= BAR_FROM_BYTES && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(len);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "hashing {bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| usage(format!("reading {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some(bar) = &bar {
            bar.inc(n as u64);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(hasher.finalize().into())
}

/// An async client with connect timeout; each signing request sets its own timeout.
pub fn http_client(tls_ca: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10));
    if let Some(path) = tls_ca {
        let pem = std::fs::read(path)
            .map_err(|e| usage(format!("reading --tls-ca {}: {e}", path.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            usage(format!(
                "--tls-ca {} is not a PEM certificate: {e}",
                path.display()
            ))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().context("building the HTTP client")
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
