//! `vouch publish`: trusted publishing from CI. Packs `vouch.toml`'s files into the
//! deterministic archive, gets the CI's OIDC token, signs an in-toto statement carrying
//! SLSA provenance v1 through the instance's signing services, and uploads archive and
//! bundle; `vouch publish register` creates the publisher binding that allows it.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};
use vouch_package::{Manifest, MANIFEST_FILE};

use super::provenance::{identity_token, slsa_statement, Token, TokenArgs};
use super::registry_api::{api_error, base_url, http, runtime, unreachable};
use crate::output::{clean, print_json, CodedError, Exit};

/// Publish a package version from CI with no upload token.
///
/// Reads DIR/vouch.toml (name, version, include/exclude), builds the deterministic
/// archive (sorted tar, mtime 0, fixed owner and mode, zstd: the same bytes on every
/// machine), hashes it, and obtains the CI's OIDC identity token: --identity-token(-file),
/// else GitHub Actions (needs `permissions: id-token: write`), else GitLab CI (an
/// `id_tokens:` entry named SIGSTORE_ID_TOKEN with `aud: sigstore`). A short-lived
/// certificate for a fresh in-memory key signs an in-toto statement (SLSA provenance v1)
/// that the transparency log records; archive and bundle are then uploaded. The registry
/// checks the certificate's identity against the package's publisher binding
/// (`vouch publish register`).
///
/// Errors: PUB_E001 no binding, PUB_E002 no OIDC token (says what is missing), PUB_E003
/// the CA refused the token, PUB_E004 the log is unreachable (there is no offline
/// signing), PUB_E005 the registry could not verify the bundle, PUB_E006 the identity
/// does not match the binding, PUB_E007 the version exists, PUB_E008 key rotation in
/// progress. Exit 1 for PUB_E001/E005/E006 (the registry's checks did not hold), 2 for
/// the rest.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    /// The package directory holding vouch.toml.
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The registry's base URL.
    #[arg(long, env = "VOUCH_SERVER", value_name = "URL", required = true)]
    server: Option<String>,
    #[command(flatten)]
    token: TokenArgs,
    /// Write the archive here too (it is otherwise built in a temporary directory).
    #[arg(long, value_name = "FILE")]
    archive_out: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Register a trusted publisher: the CI workflow (or email identity) allowed to
    /// publish a package. Needs a registry API token of the package's owner.
    Register(super::publish_register::Args),
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if let Some(Sub::Register(r)) = args.sub {
        return super::publish_register::run(r);
    }
    let server = args.server.as_deref().context("--server is required")?;
    let base = base_url(server)?;
    let rt = runtime()?;
    let out = rt.block_on(publish(&args, &base))?;
    if args.json {
        print_json(&out)?;
    } else {
        let mut o = std::io::stdout().lock();
        writeln!(
            o,
            "published {}@{}: {} bytes, sha256 {}",
            clean(out["name"].as_str().unwrap_or("")),
            clean(out["version"].as_str().unwrap_or("")),
            out["size"],
            clean(out["sha256"].as_str().unwrap_or(""))
        )?;
        writeln!(
            o,
            "  signed by {}",
            clean(out["identity"].as_str().unwrap_or(""))
        )?;
        writeln!(
            o,
            "  index     {}",
            clean(out["index_url"].as_str().unwrap_or(""))
        )?;
        writeln!(o, "  log index {}", out["log_index"])?;
    }
    Ok(Exit::Ok)
}

/// A spinner on a TTY for the steps without a byte count.
fn spinner(msg: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(msg.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    Some(bar)
}

fn pkg_error(e: vouch_package::Error) -> anyhow::Error {
    CodedError::new(e.code(), Exit::Error, e.to_string()).into()
}

/// Packs DIR per its manifest into `out`, returning the manifest and digests.
pub fn pack_dir(dir: &Path, out: &Path) -> anyhow::Result<(Manifest, vouch_package::Packed)> {
    let manifest = Manifest::load(&dir.join(MANIFEST_FILE)).map_err(pkg_error)?;
    let packed = vouch_package::pack_to_file(dir, &manifest, out).map_err(pkg_error)?;
    Ok((manifest, packed))
}

/// Maps a signing failure to the publish code DESIGN.md assigns to its stage.
fn sign_error(e: vouch_sign::SignError) -> anyhow::Error {
    use vouch_sign::Stage;
    let (code, why) = match e.stage() {
        Stage::Ca if !e.is_unavailable() => (
            "PUB_E003",
            "the certificate authority rejected the identity token",
        ),
        Stage::Ca => ("PUB_E003", "the certificate authority is unreachable"),
        Stage::Log if e.is_unavailable() => (
            "PUB_E004",
            "the transparency log is unreachable; publishing stops (there is no offline signing)",
        ),
        Stage::Token => ("PUB_E002", "the identity token is unusable"),
        _ => (e.code(), "signing failed"),
    };
    CodedError::new(code, Exit::Error, format!("{why}: {} ({})", e, e.code())).into()
}

async fn publish(args: &Args, base: &str) -> anyhow::Result<Value> {
    let http = http()?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let archive = tmp.path().join("package.tar.zst");
    let bar = spinner("packing and hashing");
    let (manifest, packed) = pack_dir(&args.dir, &archive)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let (name, version) = (manifest.name().to_string(), manifest.version().to_string());
    let sha256 = packed.digests.sha256_hex();
    let filename = format!(
        "{}-{version}.tar.zst",
        name.trim_start_matches('@').replace('/', "-")
    );
    if let Some(p) = &args.archive_out {
        std::fs::copy(&archive, p).with_context(|| format!("writing {}", p.display()))?;
    }

    let token = identity_token(&args.token, &http).await?;
    let cfg = vouch_sign::TrustConfig::fetch(&http, base)
        .await
        .map_err(|e| {
            CodedError::new(
                e.code(),
                Exit::Error,
                format!("fetching {base}'s trust configuration: {e}"),
            )
        })?;
    let bytes = std::fs::read(&archive).context("reading the archive")?;
    let (answer, _) = sign_and_upload(&http, &cfg, base, &filename, &bytes, &sha256, &token)
        .await
        .with_context(|| format!("publishing {name}@{version}"))?;
    Ok(json!({
        "name": name,
        "version": version,
        "size": packed.digests.size,
        "sha256": sha256,
        "blake3": packed.digests.blake3_hex(),
        "identity": answer["publisher"]["identity"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| token.subject_hint()),
        "token_source": token.source,
        "index_url": answer["index_url"].as_str().map(|u| super::registry_api::resolve(base, u)),
        "blob_url": answer["blob_url"],
        "bundle_url": answer["bundle_url"],
        "log_index": answer["log_index"],
        "files": packed.files.len(),
    }))
}

/// Signs the SLSA statement for an archive with a fresh certificate for `token`, and
/// uploads archive and bundle. Returns the registry's answer and the bundle.
pub async fn sign_and_upload(
    http: &reqwest::Client,
    cfg: &vouch_sign::TrustConfig,
    base: &str,
    filename: &str,
    archive: &[u8],
    sha256: &str,
    token: &Token,
) -> anyhow::Result<(Value, Vec<u8>)> {
    let statement = slsa_statement(filename, sha256, token)?;
    let bar = spinner("signing");
    let signer = vouch_sign::KeylessSigner::new(cfg, token.jwt.trim(), http.clone())
        .await
        .map_err(sign_error)?;
    let bundle = signer
        .sign_in_toto(&serde_json::to_vec(&statement)?)
        .await
        .map_err(sign_error)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let bar = spinner(&format!("uploading {} bytes", archive.len()));
    let url = format!("{base}/api/v1/publish");
    let (content_type, body) = multipart(filename, archive, &bundle);
    let resp = http
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable("uploading", &url, &e))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if !resp.status().is_success() {
        return Err(api_error("the upload", resp).await.into());
    }
    let answer = super::registry_api::read_json_capped(
        resp,
        super::registry_api::caps::API_ANSWER,
        "reading the publish answer",
    )
    .await?;
    Ok((answer, bundle))
}

/// A `multipart/form-data` body with the `archive` and `bundle` parts (RFC 7578).
fn multipart(filename: &str, archive: &[u8], bundle: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("vouch-{}", hex::encode(rand_bytes()));
    let mut body = Vec::with_capacity(archive.len() + bundle.len() + 512);
    let part = |body: &mut Vec<u8>, name: &str, file: &str, ctype: &str, data: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    };
    part(&mut body, "archive", filename, "application/zstd", archive);
    part(
        &mut body,
        "bundle",
        &format!("{filename}.sigstore.json"),
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        bundle,
    );
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// 16 unpredictable-enough bytes for a multipart boundary (no secret: only needs to not
/// occur in the parts, which a content hash plus the time makes overwhelmingly likely).
fn rand_bytes() -> [u8; 16] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let h = blake3::hash(format!("{nanos}:{}", std::process::id()).as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.as_bytes()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the same tree twice, in different creation orders with different mtimes,
    /// and checks the archives are byte-identical.
    #[test]
    fn archive_is_byte_identical_across_orders_and_mtimes() {
        let files = [
            (
                "vouch.toml",
                "[package]\nname = \"@demo/hello\"\nversion = \"0.1.0\"\n",
            ),
            ("src/lib.txt", "hello"),
            ("src/a/b.txt", "bee"),
            ("README.md", "# hello\n"),
            ("z.txt", "last"),
        ];
        let make = |order: &[usize], mtime: u64| {
            let dir = tempfile::tempdir().unwrap();
            for &i in order {
                let (p, c) = files[i];
                let path = dir.path().join(p);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, c).unwrap();
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime + i as u64);
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(t)
                    .unwrap();
            }
            let out = tempfile::NamedTempFile::new().unwrap();
            let (_, packed) = pack_dir(dir.path(), out.path()).unwrap();
            (
                std::fs::read(out.path()).unwrap(),
                packed.digests.sha256_hex(),
            )
        };
        let (a, ha) = make(&[0, 1, 2, 3, 4], 1_000_000);
        let (b, hb) = make(&[4, 2, 3, 0, 1], 1_700_000_000);
        assert_eq!(ha, hb);
        assert!(a == b, "archives differ");
    }

    #[test]
    fn signing_failures_map_to_publish_codes() {
        let code = |e: vouch_sign::SignError| {
            let err = sign_error(e);
            err.downcast_ref::<CodedError>().map(|c| c.code.to_string())
        };
        let log_down = vouch_sign::SignError::LogUnavailable {
            url: "http://127.0.0.1:1/api/v2/log/entries".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(code(log_down).as_deref(), Some("PUB_E004"));
        let ca_refused = vouch_sign::SignError::CaRefused {
            url: "http://127.0.0.1:1/api/v2/signingCert".into(),
            status: 400,
            detail: "audience mismatch".into(),
        };
        assert_eq!(code(ca_refused).as_deref(), Some("PUB_E003"));
        let bad_token = vouch_sign::SignError::TokenMalformed {
            detail: "not a JWT".into(),
        };
        assert_eq!(code(bad_token).as_deref(), Some("PUB_E002"));
    }

    #[test]
    fn multipart_has_both_parts() {
        let (ct, body) = multipart("a.tar.zst", b"ARCHIVE", b"{}");
        let boundary = ct.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("name=\"archive\""));
        assert!(text.contains("name=\"bundle\""));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
