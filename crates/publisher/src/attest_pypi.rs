//! `vouch attest pypi DIST...`: a PEP 740 publish attestation for each Python distribution,
//! signed with one short-lived certificate through a vouch server's CA and logged in its
//! Rekor v1 log (a `dsse` entry with SET, the form PEP 740 carries), written as
//! `DIST.publish.attestation` beside the file, where `uv publish` and twine pick it up.

use std::path::PathBuf;

use vouch_api_client::{base_url, CodedError};
use vouch_pep740::{publish_statement, Attestation, Dist};

use crate::sign::{http_client, read_token, sign_error, write_atomically, Services};
use crate::Result;

/// What to attest, and with which identity and services.
#[derive(Debug, Clone)]
pub struct AttestRequest {
    /// The wheels and sdists.
    pub dists: Vec<PathBuf>,
    /// The OIDC identity token.
    pub identity_token: Option<String>,
    /// Or a file holding it.
    pub identity_token_file: Option<PathBuf>,
    /// The server (or saved trust configuration) naming the CA and the log.
    pub services: Services,
    /// A PEM certificate to trust for https services.
    pub tls_ca: Option<PathBuf>,
}

/// One attestation written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attested {
    /// The distribution's file name.
    pub name: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Where the attestation was written.
    pub attestation: String,
    /// The Rekor v1 entry's index.
    pub log_index: Option<u64>,
}

/// Every attestation written, and by whom.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttestReport {
    /// The certificate's identity.
    pub identity: String,
    /// Its OIDC issuer.
    pub issuer: Option<String>,
    /// One per distribution, in the order given.
    pub attested: Vec<Attested>,
}

fn pep740_error(e: vouch_pep740::Pep740Error) -> CodedError {
    CodedError::error(e.code(), e.to_string())
}

/// Signs every distribution's publish statement with one certificate (Rekor v1) and
/// writes each attestation atomically; nothing is written for a distribution whose
/// name is not a wheel or sdist name (checked for all before anything is signed).
pub async fn attest_pypi(req: &AttestRequest) -> Result<AttestReport> {
    let token = read_token(
        req.identity_token.as_deref(),
        req.identity_token_file.as_deref(),
    )?;
    let dists = req
        .dists
        .iter()
        .map(|p| Dist::from_file(p).map(|d| (p, d)).map_err(pep740_error))
        .collect::<Result<Vec<_>, _>>()?;
    let http = http_client(req.tls_ca.as_deref())?;
    let cfg = match &req.services {
        Services::File(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| crate::Error::local(format!("reading {}", path.display()), e))?;
            vouch_sign::TrustConfig::from_json(&bytes).map_err(sign_error)?
        }
        Services::Server(server) => vouch_sign::TrustConfig::fetch(&http, &base_url(server)?)
            .await
            .map_err(sign_error)?,
    };
    let signer = vouch_sign::KeylessSigner::new(&cfg, &token, http)
        .await
        .map_err(sign_error)?;
    let mut attested = Vec::with_capacity(dists.len());
    for (path, dist) in dists {
        let bundle = signer
            .sign_in_toto_rekor_v1(&publish_statement(&dist))
            .await
            .map_err(sign_error)?;
        let attestation = Attestation::from_bundle_json(&bundle).map_err(pep740_error)?;
        let mut out = path.as_os_str().to_owned();
        out.push(".publish.attestation");
        let out = PathBuf::from(out);
        write_atomically(&out, attestation.to_json().as_bytes())?;
        let log_index = attestation
            .verification_material
            .transparency_entries
            .first()
            .and_then(|e| e.get("logIndex"))
            .and_then(|i| i.as_str())
            .and_then(|i| i.parse().ok());
        attested.push(Attested {
            name: dist.name().to_owned(),
            sha256: dist.sha256_hex(),
            attestation: out.display().to_string(),
            log_index,
        });
    }
    let (identity, issuer) = signer.identity();
    Ok(AttestReport {
        identity,
        issuer,
        attested,
    })
}
