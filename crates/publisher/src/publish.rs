//! Pack -> sign -> upload: the deterministic archive of a package directory, an in-toto
//! statement with SLSA provenance signed with a short-lived certificate for the CI's
//! identity, and the upload the registry verifies against the package's publisher binding.

use std::path::{Path, PathBuf};

use serde_json::Value;
use vouch_api_client::{
    api_error, base_url, caps, read_json_capped, resolve, unreachable, CodedError, Progress,
};
use vouch_package::{Digests, Manifest, MANIFEST_FILE};

use crate::laptop::in_ci;
use crate::statement::slsa_statement;
use crate::token::{identity_token, CiEnv, Token, TokenSource};
use crate::{Error, Result};

/// A package archive, packed and hashed, ready to sign and upload.
#[derive(Debug, Clone)]
pub struct Archive {
    /// The package name, `@scope/name`.
    pub name: String,
    pub version: String,
    /// The upload's file name, `scope-name-VERSION.tar.zst`.
    pub filename: String,
    /// The archive's bytes.
    pub bytes: Vec<u8>,
    /// Size, SHA-256 and BLAKE3 of `bytes`.
    pub digests: Digests,
    /// How many files the archive holds.
    pub files: usize,
}

/// Packs DIR per its `vouch.toml` into the deterministic archive (sorted tar, mtime 0,
/// fixed owner and mode, zstd: the same bytes on every machine). Errors carry the
/// package crate's `PKG_E` codes.
pub fn pack_dir(dir: &Path) -> Result<Archive> {
    let manifest = Manifest::load(&dir.join(MANIFEST_FILE))?;
    let mut bytes = Vec::new();
    let packed = vouch_package::pack(dir, manifest.filter(), None, &mut bytes)?;
    let (name, version) = (manifest.name().to_string(), manifest.version().to_string());
    Ok(Archive {
        filename: format!(
            "{}-{version}.tar.zst",
            name.trim_start_matches('@').replace('/', "-")
        ),
        name,
        version,
        bytes,
        digests: packed.digests,
        files: packed.files.len(),
    })
}

/// The registry's answer to an upload, and the bundle that was uploaded.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The Sigstore bundle v0.3 (JSON) of the signed statement.
    pub bundle: Vec<u8>,
    /// The identity the registry recorded for the publisher, and its issuer.
    pub identity: Option<String>,
    pub issuer: Option<String>,
    /// The version's index entry, resolved against the registry's base URL.
    pub index_url: Option<String>,
    pub blob_url: Option<String>,
    pub bundle_url: Option<String>,
    /// The transparency-log index of the signature.
    pub log_index: Option<u64>,
}

/// Signs and uploads archives to one registry, with its trust configuration fetched once.
pub struct Publisher {
    http: reqwest::Client,
    base: String,
    trust: vouch_sign::TrustConfig,
}

impl Publisher {
    /// Fetches the trust configuration of the registry at `base` (a base URL without a
    /// trailing slash, as [`vouch_api_client::base_url`] gives).
    pub async fn connect(http: reqwest::Client, base: &str) -> Result<Self, CodedError> {
        let trust = vouch_sign::TrustConfig::fetch(&http, base)
            .await
            .map_err(|e| {
                CodedError::error(
                    e.code(),
                    format!("fetching {base}'s trust configuration: {e}"),
                )
            })?;
        Ok(Self {
            http,
            base: base.to_owned(),
            trust,
        })
    }

    /// Signs the SLSA statement for `archive` with a fresh in-memory key certified for
    /// `token` (the key is dropped when this returns), then uploads archive and bundle.
    /// PUB_E003 the CA refused, PUB_E004 the log is unreachable; the registry's own
    /// refusals (PUB_E001, E005-E008, ...) pass through.
    #[allow(
        clippy::indexing_slicing,
        reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
    )]
    pub async fn upload(
        &self,
        archive: &Archive,
        token: &Token,
        progress: &dyn Progress,
    ) -> Result<Upload, CodedError> {
        let statement = slsa_statement(&archive.filename, &archive.digests.sha256_hex(), token);
        progress.start(0, "signing");
        let signed = async {
            let signer =
                vouch_sign::KeylessSigner::new(&self.trust, token.jwt.trim(), self.http.clone())
                    .await?;
            signer.sign_in_toto(statement.to_string().as_bytes()).await
        }
        .await;
        progress.finish();
        let bundle = signed.map_err(publish_sign_error)?;
        progress.start(0, &format!("uploading {} bytes", archive.bytes.len()));
        let answer = self.post(archive, &bundle).await;
        progress.finish();
        let answer = answer?;
        let text = |k: &str| answer[k].as_str().map(str::to_owned);
        Ok(Upload {
            identity: answer["publisher"]["identity"].as_str().map(str::to_owned),
            issuer: answer["publisher"]["issuer"].as_str().map(str::to_owned),
            index_url: text("index_url").map(|u| resolve(&self.base, &u)),
            blob_url: text("blob_url"),
            bundle_url: text("bundle_url"),
            log_index: answer["log_index"].as_u64(),
            bundle,
        })
    }

    async fn post(&self, archive: &Archive, bundle: &[u8]) -> Result<Value, CodedError> {
        let url = format!("{}/api/v1/publish", self.base);
        let (content_type, body) = multipart(&archive.filename, &archive.bytes, bundle);
        let resp = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable("uploading", &url, &e))?;
        if !resp.status().is_success() {
            return Err(api_error("the upload", resp).await);
        }
        read_json_capped(resp, caps::API_ANSWER, "reading the publish answer").await
    }
}

/// What `vouch publish` is asked to do.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The package directory holding `vouch.toml`.
    pub dir: PathBuf,
    /// The registry's base URL.
    pub server: String,
    /// Where the identity token comes from.
    pub token: TokenSource,
    /// Also write the archive here.
    pub archive_out: Option<PathBuf>,
    /// With no token given and no CI around (a laptop): how to sign in, at
    /// `{server}/oidc/email` unless another issuer is named. None: no sign-in is run
    /// (a process nobody can answer fails at once with PUB_E002).
    pub sign_in: Option<crate::laptop::SignIn>,
}

/// A published version.
#[derive(Debug, Clone)]
pub struct Published {
    pub name: String,
    pub version: String,
    pub digests: Digests,
    pub files: usize,
    /// The identity the registry recorded (or, if it said none, the token's likely one).
    pub identity: String,
    /// Where the identity token came from (see [`Token::source`]).
    pub token_source: &'static str,
    pub upload: Upload,
}

/// Publishes a package directory: packs it, obtains the identity token (`env` is the CI
/// job's environment), signs and uploads. `progress` hears of each step.
pub async fn publish_dir(
    req: &PublishRequest,
    env: &CiEnv,
    progress: &dyn Progress,
) -> Result<Published> {
    let base = base_url(&req.server)?;
    let http = vouch_api_client::http()?;
    progress.start(0, "packing and hashing");
    let archive = pack_dir(&req.dir);
    progress.finish();
    let archive = archive?;
    if let Some(p) = &req.archive_out {
        std::fs::write(p, &archive.bytes)
            .map_err(|e| Error::local(format!("writing {}", p.display()), e))?;
    }
    let laptop = req
        .sign_in
        .as_ref()
        .filter(|_| req.token.jwt.is_none() && req.token.file.is_none() && !in_ci(env));
    let token = if let Some(sign_in) = laptop {
        // A laptop: sign in through the browser or a device code (PUB_E015 when that
        // fails); an email binding of the package accepts the certificate.
        let (jwt, source) = sign_in
            .token(&http, &crate::laptop::email_issuer(&base), env)
            .await?;
        Token::from_jwt(&jwt, source, env)?
    } else {
        identity_token(&req.token, env, &http).await?
    };
    let publisher = Publisher::connect(http, &base).await?;
    let upload = publisher
        .upload(&archive, &token, progress)
        .await
        .map_err(|mut e| {
            e.message = format!(
                "publishing {}@{}: {}",
                archive.name, archive.version, e.message
            );
            e
        })?;
    Ok(Published {
        identity: upload
            .identity
            .clone()
            .unwrap_or_else(|| token.subject_hint()),
        name: archive.name,
        version: archive.version,
        digests: archive.digests,
        files: archive.files,
        token_source: token.source,
        upload,
    })
}

/// Maps a signing failure to the publish code DESIGN.md assigns to its stage.
fn publish_sign_error(e: vouch_sign::SignError) -> CodedError {
    use vouch_sign::Stage;
    let (code, why) = match e.stage() {
        Stage::Ca if !e.is_unavailable() => (
            vouch_package::publish_codes::CA_FAILED,
            "the certificate authority rejected the identity token",
        ),
        Stage::Ca => (
            vouch_package::publish_codes::CA_FAILED,
            "the certificate authority is unreachable",
        ),
        Stage::Log if e.is_unavailable() => (
            vouch_package::publish_codes::LOG_UNREACHABLE,
            "the transparency log is unreachable; publishing stops (there is no offline signing)",
        ),
        Stage::Token => (
            vouch_package::publish_codes::TOKEN_UNUSABLE,
            "the identity token is unusable",
        ),
        _ => (e.code(), "signing failed"),
    };
    CodedError::error(code, format!("{why}: {} ({})", e, e.code()))
}

/// A `multipart/form-data` body with the `archive` and `bundle` parts (RFC 7578).
fn multipart(filename: &str, archive: &[u8], bundle: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("vouch-{}", hex::encode(boundary_bytes()));
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
fn boundary_bytes() -> [u8; 16] {
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
            let a = pack_dir(dir.path()).unwrap();
            assert_eq!(a.filename, "demo-hello-0.1.0.tar.zst");
            assert_eq!(a.digests.size, a.bytes.len() as u64);
            (a.bytes, a.digests.sha256_hex())
        };
        let (a, ha) = make(&[0, 1, 2, 3, 4], 1_000_000);
        let (b, hb) = make(&[4, 2, 3, 0, 1], 1_700_000_000);
        assert_eq!(ha, hb);
        assert!(a == b, "archives differ");
    }

    #[test]
    fn a_directory_without_a_manifest_keeps_its_package_code() {
        let dir = tempfile::tempdir().unwrap();
        let code = pack_dir(dir.path()).unwrap_err().code().map(str::to_owned);
        assert!(
            code.as_deref().is_some_and(|c| c.starts_with("PKG_E")),
            "{code:?}"
        );
    }

    #[test]
    fn signing_failures_map_to_publish_codes() {
        let code = |e: vouch_sign::SignError| publish_sign_error(e).code().to_owned();
        let log_down = vouch_sign::SignError::LogUnavailable {
            url: "http://127.0.0.1:1/api/v2/log/entries".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(code(log_down), "PUB_E004");
        let ca_refused = vouch_sign::SignError::CaRefused {
            url: "http://127.0.0.1:1/api/v2/signingCert".into(),
            status: 400,
            detail: "audience mismatch".into(),
        };
        assert_eq!(code(ca_refused), "PUB_E003");
        let bad_token = vouch_sign::SignError::TokenMalformed {
            detail: "not a JWT".into(),
        };
        assert_eq!(code(bad_token), "PUB_E002");
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
