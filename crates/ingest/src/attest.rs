//! The attestation relay: fetches GitHub artifact attestations for an asset's SHA-256
//! (`GET {api}/repos/{owner}/{repo}/attestations/sha256:{hex}`) and keeps only the
//! bundles that VERIFY (with `vouch-verify`) against that digest, signed by a workflow
//! of that same repository. Failures are values: a rejected bundle is reported beside
//! the accepted ones, and a failed fetch is an `Err` the caller logs and audits; neither
//! ever blocks ingest.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use vouch_verify::{
    Artifact, IdentityPolicy, Matcher, ParsedBundle, Policy, PolicyField, Signer, TrustRoot,
    Verifier,
};

use crate::error::IngestError;
use crate::fetch::Fetcher;
use crate::forge::{ForgeKind, RepoRef};

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Most attestations considered per asset (one page).
const MAX_ATTESTATIONS: usize = 100;

/// Verifies relayed attestations. Build once (parsing the trusted root is the costly
/// part) and share: it is cheap to clone.
#[derive(Clone)]
pub struct AttestationVerifier {
    verifier: Arc<Verifier>,
    server_url: String,
    issuer: String,
}

impl std::fmt::Debug for AttestationVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestationVerifier")
            .field("server_url", &self.server_url)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// One verified attestation, ready to store and serve beside its asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayedAttestation {
    /// The Sigstore bundle exactly as GitHub served it.
    pub bundle_json: String,
    /// The certificate identity (the workflow URI with its ref).
    pub identity: String,
    /// The certificate's OIDC issuer.
    pub issuer: String,
}

/// The verdicts for one asset's attestations.
#[derive(Debug, Default)]
pub struct Relayed {
    /// Bundles that verified.
    pub accepted: Vec<RelayedAttestation>,
    /// Bundles that did not, with why (`INGEST_E022` carrying the `VERIFY_E0xx` code).
    pub rejected: Vec<IngestError>,
}

#[derive(Deserialize)]
struct AttestationList<'a> {
    #[serde(borrow)]
    attestations: Vec<AttestationEntry<'a>>,
}

#[derive(Deserialize)]
struct AttestationEntry<'a> {
    #[serde(borrow, default)]
    bundle: Option<&'a RawValue>,
}

impl AttestationVerifier {
    /// Verifies against the Sigstore public-good root, for github.com.
    pub fn public_good() -> Result<Self, IngestError> {
        let root = TrustRoot::public_good().map_err(|e| IngestError::Config {
            detail: format!("public-good trusted root: {e}"),
        })?;
        Self::new(&root, "https://github.com", GITHUB_ACTIONS_ISSUER)
    }

    /// Verifies against `root`, for workflows on `server_url` (e.g. a GitHub Enterprise
    /// Server) whose tokens come from `issuer`.
    pub fn new(root: &TrustRoot, server_url: &str, issuer: &str) -> Result<Self, IngestError> {
        let verifier = Verifier::new(root).map_err(|e| IngestError::Config {
            detail: format!("trusted root: {}: {e}", e.code()),
        })?;
        Ok(Self {
            verifier: Arc::new(verifier),
            server_url: server_url.trim_end_matches('/').to_owned(),
            issuer: issuer.to_owned(),
        })
    }

    /// The policy: the certificate identity is a workflow of `repo`
    /// (`^{server}/{owner}/{repo}/\.github/workflows/.+@.+$`, owner and repository
    /// compared case-insensitively) issued by the configured issuer.
    pub fn policy_for(&self, repo: &RepoRef) -> Result<Policy, IngestError> {
        let pattern = format!(
            r"{}/(?i:{})/(?i:{})/\.github/workflows/[^@]+@.+",
            regex::escape(&self.server_url),
            regex::escape(repo.owner()),
            regex::escape(repo.name()),
        );
        let config = |e: vouch_verify::PolicyError| IngestError::Config {
            detail: format!("attestation policy: {e}"),
        };
        Ok(Policy::Keyless(IdentityPolicy::new(
            Matcher::regex(PolicyField::Identity, &pattern).map_err(config)?,
            Matcher::exact(PolicyField::Issuer, &self.issuer).map_err(config)?,
        )))
    }

    /// Verifies every bundle of a `{"attestations":[{"bundle":{...}}]}` answer against
    /// the asset digest and `repo`'s workflow policy. CPU-bound (milliseconds per
    /// bundle): call it from a blocking thread, as [`Fetcher::fetch_attestations`] does.
    pub fn verify_response(
        &self,
        json: &[u8],
        repo: &RepoRef,
        sha256: &[u8; 32],
    ) -> Result<Relayed, IngestError> {
        let list: AttestationList<'_> =
            serde_json::from_slice(json).map_err(|e| IngestError::InvalidResponse {
                what: "attestation list",
                detail: e.to_string(),
            })?;
        let policy = self.policy_for(repo)?;
        let artifact =
            Artifact::parse_digest(&format!("sha256:{}", hex::encode(sha256))).map_err(|e| {
                IngestError::Config {
                    detail: format!("digest: {e}"),
                }
            })?;
        let mut out = Relayed::default();
        for (index, entry) in list.attestations.iter().enumerate() {
            if index >= MAX_ATTESTATIONS {
                out.rejected.push(IngestError::AttestationRejected {
                    index,
                    code: "INGEST_E022",
                    detail: format!("more than {MAX_ATTESTATIONS} attestations; rest ignored"),
                });
                break;
            }
            match self.verify_one(entry.bundle, &artifact, &policy) {
                Ok(a) => out.accepted.push(a),
                Err((code, detail)) => out.rejected.push(IngestError::AttestationRejected {
                    index,
                    code,
                    detail,
                }),
            }
        }
        Ok(out)
    }

    fn verify_one(
        &self,
        bundle: Option<&RawValue>,
        artifact: &Artifact,
        policy: &Policy,
    ) -> Result<RelayedAttestation, (&'static str, String)> {
        let raw = bundle.ok_or((
            "INGEST_E022",
            "no inline bundle (bundle_url downloads are not relayed)".to_owned(),
        ))?;
        let parsed =
            ParsedBundle::from_json(raw.get().as_bytes()).map_err(|e| (e.code(), e.to_string()))?;
        let verified = self
            .verifier
            .verify(artifact, &parsed, policy)
            .map_err(|e| (e.code(), e.to_string()))?;
        match verified.signer {
            Signer::Certificate {
                identity, issuer, ..
            } => Ok(RelayedAttestation {
                bundle_json: raw.get().to_owned(),
                identity,
                issuer,
            }),
            // A keyless policy only verifies certificate-signed bundles.
            _ => Err(("INGEST_E022", "not signed by a certificate".to_owned())),
        }
    }
}

impl Fetcher {
    /// Fetches and verifies the attestations GitHub holds for an asset of `repo` with
    /// this SHA-256. No attestations (404 or an empty list) is an empty result.
    pub async fn fetch_attestations(
        &self,
        verifier: &AttestationVerifier,
        repo: &RepoRef,
        sha256: &[u8; 32],
    ) -> Result<Relayed, IngestError> {
        if self.config().kind != ForgeKind::GitHub {
            return Err(IngestError::Unsupported {
                operation: "attestation relay",
                forge: self.config().kind.as_str(),
            });
        }
        let mut url = self.config().api_url(&[
            "repos",
            repo.owner(),
            repo.name(),
            "attestations",
            &format!("sha256:{}", hex::encode(sha256)),
        ])?;
        url.query_pairs_mut()
            .append_pair("per_page", &MAX_ATTESTATIONS.to_string());
        let Some(body) = self.get_json_bytes(url, true).await? else {
            return Ok(Relayed::default());
        };
        let verifier = verifier.clone();
        let repo = repo.clone();
        let sha256 = *sha256;
        tokio::task::spawn_blocking(move || verifier.verify_response(&body, &repo, &sha256))
            .await
            .map_err(|e| IngestError::HashTask {
                detail: format!("attestation verification task: {e}"),
            })?
    }
}
