//! `vouch sign` as a library: keyless signing of one file (its SHA-256, hashedrekord) or
//! one in-toto statement (DSSE) through an instance's Sigstore services, written as a
//! bundle v0.3.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vouch_api_client::{base_url, CodedError, Progress};

use crate::{Error, Result};

/// What is signed.
#[derive(Debug, Clone)]
pub enum Payload {
    /// SHA-256 of an artifact (hashedrekord).
    Digest([u8; 32]),
    /// An in-toto statement's bytes (DSSE).
    Statement(Vec<u8>),
}

/// A signature made: the bundle, and the identity and issuer the certificate names.
#[derive(Debug, Clone)]
pub struct Signature {
    pub bundle: Vec<u8>,
    pub identity: String,
    pub issuer: Option<String>,
}

/// Gets a certificate for a fresh in-memory key and signs `payload` with it; the key is
/// dropped when this returns.
pub async fn sign(
    cfg: &vouch_sign::TrustConfig,
    token: &str,
    http: reqwest::Client,
    payload: &Payload,
) -> Result<Signature, CodedError> {
    let signer = vouch_sign::KeylessSigner::new(cfg, token, http)
        .await
        .map_err(sign_error)?;
    sign_payload(&signer, payload).await
}

/// Signs `payload` with a managed key (PEM, SIGN_E023 when unusable): the bundle names
/// the key by its hint and the log entry carries the public key.
pub async fn sign_with_key(
    cfg: &vouch_sign::TrustConfig,
    private_key_pem: &str,
    http: reqwest::Client,
    payload: &Payload,
) -> Result<Signature, CodedError> {
    let signer =
        vouch_sign::KeylessSigner::managed_key(cfg, private_key_pem, http).map_err(sign_error)?;
    sign_payload(&signer, payload).await
}

/// Signs `payload` with `signer`; the signature names the signer's identity.
async fn sign_payload(
    signer: &vouch_sign::KeylessSigner,
    payload: &Payload,
) -> Result<Signature, CodedError> {
    let bundle = match payload {
        Payload::Digest(d) => signer.sign_artifact_digest(*d).await,
        Payload::Statement(s) => signer.sign_in_toto(s).await,
    }
    .map_err(sign_error)?;
    let (identity, issuer) = signer.identity();
    Ok(Signature {
        bundle,
        identity,
        issuer,
    })
}

/// The sigstore-conformance `sign-bundle` protocol: signs `file` (an in-toto statement,
/// as DSSE, when `in_toto`) with `token` and writes the bundle to `bundle`. Services and
/// trust come from `files` (a trusted_root.json and a signing_config.json), else the
/// embedded staging (`staging`) or public-good instance.
pub async fn sign_conformance(
    files: Option<(&Path, &Path)>,
    staging: bool,
    token: &str,
    (file, in_toto): (&Path, bool),
    bundle: &Path,
) -> Result<()> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| Error::local(format!("reading {}", p.display()), e))
    };
    let cfg = match files {
        Some((root, config)) => vouch_sign::TrustConfig::from_parts(&read(root)?, &read(config)?),
        None if staging => vouch_sign::TrustConfig::staging(),
        None => vouch_sign::TrustConfig::public_good(),
    }
    .map_err(sign_error)?;
    let payload = match in_toto {
        true => Payload::Statement(read_statement(file)?),
        false => Payload::Digest(hash_file(file, &vouch_api_client::NoProgress)?),
    };
    let token = read_token(Some(token), None)?;
    let signed = sign(&cfg, &token, http_client(None)?, &payload).await?;
    write_atomically(bundle, &signed.bundle)
}

/// A signing error with its `SIGN_E` code and the stage that failed.
pub fn sign_error(e: vouch_sign::SignError) -> CodedError {
    CodedError::error(e.code(), format!("{} ({} stage)", e, e.stage().name()))
}

fn usage(message: String) -> CodedError {
    CodedError::error(vouch_sign::SignError::LOCAL_CODE, message)
}

/// The token from the flag or the file, trimmed. SIGN_E020 without either.
pub fn read_token(token: Option<&str>, file: Option<&Path>) -> Result<String, CodedError> {
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

/// Reads an in-toto statement, refusing files larger than the signer accepts (SIGN_E019).
pub fn read_statement(path: &Path) -> Result<Vec<u8>, CodedError> {
    let len = std::fs::metadata(path)
        .map_err(|e| usage(format!("reading {}: {e}", path.display())))?
        .len();
    if len > vouch_sign::MAX_STATEMENT_BYTES as u64 {
        return Err(CodedError::error(
            vouch_sign::SignError::STATEMENT_INVALID_CODE,
            format!(
                "{} is {len} bytes; an in-toto statement may be at most {} bytes",
                path.display(),
                vouch_sign::MAX_STATEMENT_BYTES
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| usage(format!("reading {}: {e}", path.display())))?;
    vouch_sign::check_statement(&bytes).map_err(sign_error)?;
    Ok(bytes)
}

/// Streams FILE through SHA-256 (any size), telling `progress` how far it got.
///
/// SHA-256 alone, not [`vouch_package::Digests`]: a hashedrekord signs the artifact's
/// SHA-256 and nothing here needs its BLAKE3.
pub fn hash_file(path: &Path, progress: &dyn Progress) -> Result<[u8; 32], CodedError> {
    let mut file =
        std::fs::File::open(path).map_err(|e| usage(format!("opening {}: {e}", path.display())))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.start(len, "hashing");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    let read = loop {
        match file.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                hasher.update(buf.get(..n).unwrap_or_default());
                progress.advance(n as u64);
            }
            Err(e) => break Err(usage(format!("reading {}: {e}", path.display()))),
        }
    };
    progress.finish();
    read?;
    Ok(hasher.finalize().into())
}

/// An async client with connect timeout; each signing request sets its own timeout.
/// `tls_ca` is a PEM certificate to trust for services with a private certificate.
pub fn http_client(tls_ca: Option<&Path>) -> Result<reqwest::Client> {
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
    builder
        .build()
        .map_err(|e| Error::local("building the HTTP client", e))
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::local(format!("creating a temporary file in {}", dir.display()), e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::local(format!("writing {}", path.display()), e))?;
    tmp.persist(path)
        .map_err(|e| Error::local(format!("writing {}", path.display()), e.error))?;
    Ok(())
}

/// Where the signing services are named.
#[derive(Debug, Clone)]
pub enum Services {
    /// The trust configuration a vouch server serves (`GET /api/v1/trust-config`).
    Server(String),
    /// A saved client trust configuration file.
    File(PathBuf),
}

/// What `vouch sign` is asked to do.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// The file to sign (with `in_toto`: an in-toto Statement JSON).
    pub file: PathBuf,
    pub in_toto: bool,
    /// The OIDC identity token, or a file holding it.
    pub identity_token: Option<String>,
    pub identity_token_file: Option<PathBuf>,
    pub services: Services,
    /// A PEM certificate to trust for https services.
    pub tls_ca: Option<PathBuf>,
    /// Where the bundle is written (atomically).
    pub bundle: PathBuf,
    /// Sign with this managed key (unencrypted P-256 PEM) instead of a certificate for an
    /// identity: no token and no sign-in.
    pub key: Option<PathBuf>,
    /// Outside CI with no token: how the laptop signs in (browser or device flow, at
    /// `{server}/oidc/email` unless another issuer is named).
    pub sign_in: crate::laptop::SignIn,
}

/// The default issuer of the laptop sign-in, when not in CI and one is known.
fn laptop_issuer(req: &SignRequest, env: &crate::token::CiEnv) -> Result<Option<String>> {
    if crate::laptop::in_ci(env) {
        return Ok(None);
    }
    Ok(match (&req.sign_in.issuer, &req.services) {
        (Some(i), _) => Some(i.clone()),
        (None, Services::Server(s)) => Some(crate::laptop::email_issuer(&base_url(s)?)),
        (None, Services::File(_)) => None,
    })
}

/// A file signed and its bundle written.
#[derive(Debug, Clone)]
pub struct SignedFile {
    /// SHA-256 (hex) of the file signed.
    pub sha256: String,
    /// `hashedrekord` or `dsse`.
    pub kind: &'static str,
    pub identity: String,
    pub issuer: Option<String>,
    /// The transparency-log index the bundle records.
    pub log_index: Option<u64>,
}

/// Signs one file as `req` says and writes the bundle. Without a token in `req`, the
/// CI's ambient one is used (GitHub Actions, GitLab CI, Buildkite, CircleCI, read
/// through `env`). Errors carry `SIGN_E` codes
/// (vouch-sign's table; SIGN_E019 an oversized statement, SIGN_E020 unreadable input).
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub async fn sign_file(
    req: &SignRequest,
    env: &crate::token::CiEnv,
    progress: &dyn Progress,
) -> Result<SignedFile> {
    let http = http_client(req.tls_ca.as_deref())?;
    // A managed key needs no identity token; read it before anything else happens.
    let key_pem = match &req.key {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| usage(format!("reading the signing key {}: {e}", path.display())))?,
        ),
        None => None,
    };
    // A token given on the command line wins; otherwise the CI's ambient token, found
    // as `vouch publish` finds it (PUB_E002 names what is missing).
    let token = if key_pem.is_some() {
        String::new()
    } else if req.identity_token.is_some() || req.identity_token_file.is_some() {
        read_token(
            req.identity_token.as_deref(),
            req.identity_token_file.as_deref(),
        )?
    } else if let Some(issuer) = laptop_issuer(req, env)? {
        // A laptop: sign in through the browser or a device code (PUB_E015 when that
        // fails).
        req.sign_in.token(&http, &issuer, env).await?.0
    } else {
        let src = crate::token::TokenSource::default();
        crate::token::identity_token(&src, env, &http).await?.jwt
    };
    let payload = if req.in_toto {
        Payload::Statement(read_statement(&req.file)?)
    } else {
        Payload::Digest(hash_file(&req.file, progress)?)
    };
    let cfg = match &req.services {
        Services::File(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::local(format!("reading {}", path.display()), e))?;
            vouch_sign::TrustConfig::from_json(&bytes).map_err(sign_error)?
        }
        Services::Server(server) => vouch_sign::TrustConfig::fetch(&http, &base_url(server)?)
            .await
            .map_err(sign_error)?,
    };
    let signed = match &key_pem {
        Some(pem) => sign_with_key(&cfg, pem, http, &payload).await?,
        None => sign(&cfg, &token, http, &payload).await?,
    };
    write_atomically(&req.bundle, &signed.bundle)?;
    let doc: serde_json::Value = serde_json::from_slice(&signed.bundle)
        .map_err(|e| Error::local("re-reading the bundle", e))?;
    let log_index = doc["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok());
    let sha256 = match &payload {
        Payload::Digest(d) => hex::encode(d),
        Payload::Statement(s) => hex::encode(Sha256::digest(s)),
    };
    Ok(SignedFile {
        sha256,
        kind: if req.in_toto { "dsse" } else { "hashedrekord" },
        identity: signed.identity,
        issuer: signed.issuer,
        log_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_api_client::NoProgress;

    #[test]
    fn inputs_are_read_with_sign_codes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_token(None, None).unwrap_err().code(), "SIGN_E020");
        let f = dir.path().join("t");
        std::fs::write(&f, " jwt\n").unwrap();
        assert_eq!(read_token(None, Some(&f)).unwrap(), "jwt");
        let missing = dir.path().join("missing");
        assert_eq!(read_statement(&missing).unwrap_err().code(), "SIGN_E020");
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; vouch_sign::MAX_STATEMENT_BYTES + 1]).unwrap();
        assert_eq!(read_statement(&big).unwrap_err().code(), "SIGN_E019");
        assert_eq!(
            http_client(Some(&missing)).unwrap_err().code(),
            Some("SIGN_E020")
        );
    }

    #[test]
    fn hash_file_is_sha256_and_write_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        write_atomically(&f, b"abc").unwrap();
        assert_eq!(
            hex::encode(hash_file(&f, &NoProgress).unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let e = write_atomically(&dir.path().join("no/such/dir/x"), b"").unwrap_err();
        assert!(e.code().is_none(), "{e}");
    }
}
