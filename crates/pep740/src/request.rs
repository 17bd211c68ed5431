//! One `vouch verify pypi` as the command line states it: distribution files, where their
//! attestations come from (a provenance file, attestation files, the files beside each
//! distribution, or an index), who must have published them, and which Sigstore root to
//! trust; and the report it prints. The bench drives the same function.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::Serialize;
use vouch_verify::{
    map_on_threads, CiClaim, Matcher, PolicyField, PolicySpec, Signer, TrustSpec, Verifier,
};

use crate::dist::Dist;
use crate::error::Pep740Error;
use crate::index::Index;
use crate::model::{Attestation, Provenance, MAX_OBJECT_BYTES};
use crate::policy::{Identity, TrustedPublisher};
use crate::verify::{verify_attestation, verify_provenance, VerifiedAttestation};

/// Where the attestations come from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Source {
    /// `<dist>.publish.attestation` and `<dist>.slsa.attestation` beside each distribution
    /// (what `pypi-attestations sign` and `vouch attest pypi` write); at least one.
    Beside,
    /// A PEP 740 provenance object (one distribution).
    Provenance(PathBuf),
    /// Attestation objects (one distribution); every one must verify.
    Attestations(Vec<PathBuf>),
    /// A PyPI-shaped index: its PEP 691 page's provenance URL, else its Integrity API.
    Index {
        /// The index root (or its `/simple/` URL).
        url: String,
        /// A PEM certificate to trust for an https index with a private CA.
        tls_ca: Option<PathBuf>,
    },
}

impl Source {
    /// The source a command line names: a provenance file, else attestation files, else
    /// an index (with its private CA, if any), else the files beside each distribution.
    pub fn from_flags(
        provenance: Option<PathBuf>,
        attestations: Vec<PathBuf>,
        index: Option<String>,
        tls_ca: Option<PathBuf>,
    ) -> Self {
        match (provenance, attestations.is_empty(), index) {
            (Some(p), _, _) => Source::Provenance(p),
            (_, false, _) => Source::Attestations(attestations),
            (_, _, Some(url)) => Source::Index { url, tls_ca },
            _ => Source::Beside,
        }
    }
}

/// The whole request.
#[derive(Debug, Clone)]
pub struct PypiRequest {
    /// The distribution files.
    pub dists: Vec<PathBuf>,
    /// Where their attestations come from.
    pub source: Source,
    /// The trusted publisher's repository URL (`https://github.com/OWNER/REPO`).
    pub repository: Option<String>,
    /// Its workflow (file name, or path in the repository).
    pub workflow: Option<String>,
    /// Its deployment environment.
    pub environment: Option<String>,
    /// Identity flags: with a repository, an issuer replaces the forge's and the rest
    /// are further requirements; without, identity and issuer are the whole policy.
    pub policy: PolicySpec,
    /// Which Sigstore root to trust.
    pub trust: TrustSpec,
    /// Worker threads (distributions are verified in parallel).
    pub threads: NonZeroUsize,
}

/// One verified attestation in the report.
#[derive(Debug, Clone, Serialize)]
pub struct AttestationReport {
    /// The predicate type.
    pub predicate_type: String,
    /// The certificate identity (SAN).
    pub identity: String,
    /// The OIDC issuer.
    pub issuer: String,
    /// The Rekor v1 entry's log index.
    pub log_index: Option<u64>,
    /// The SET-backed signing time.
    pub signed_at: Option<String>,
}

/// One verified distribution.
#[derive(Debug, Clone, Serialize)]
pub struct DistReport {
    /// The file name.
    pub name: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Where its attestations were read.
    pub source: String,
    /// Its attestations, all verified.
    pub attestations: Vec<AttestationReport>,
}

/// What `vouch verify pypi` established (its `--json` object).
#[derive(Debug, Clone, Serialize)]
pub struct PypiReport {
    /// Always true: a report exists only when everything verified.
    pub verified: bool,
    /// Who was required to have published.
    pub publisher: String,
    /// The trusted root used.
    pub trust_root: String,
    /// Every distribution.
    pub dists: Vec<DistReport>,
}

impl std::fmt::Display for PypiReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.dists {
            writeln!(f, "verified: {} (sha256:{})", d.name, d.sha256)?;
            writeln!(f, "  from:        {}", d.source)?;
            for a in &d.attestations {
                writeln!(f, "  attestation: {}", a.predicate_type)?;
                writeln!(f, "    signer:    {}", a.identity)?;
                writeln!(f, "    issuer:    {}", a.issuer)?;
                if let Some(i) = a.log_index {
                    writeln!(f, "    log entry: index {i} (Rekor v1)")?;
                }
                if let Some(t) = &a.signed_at {
                    writeln!(f, "    signed at: {t}")?;
                }
            }
        }
        writeln!(f, "  publisher:   {}", self.publisher)?;
        write!(f, "  trust root:  {}", self.trust_root)
    }
}

/// Builds the identity from the request's flags.
pub fn identity(req: &PypiRequest) -> Result<Identity, Pep740Error> {
    let Some(url) = &req.repository else {
        if req.workflow.is_some() || req.environment.is_some() {
            return Err(Pep740Error::InvalidPolicy {
                detail: "a workflow or environment needs the publisher's repository (--repository)"
                    .into(),
            });
        }
        if req.policy.identity.is_none() && req.policy.identity_regexp.is_none() {
            return Err(Pep740Error::InvalidPolicy {
                detail: "expected the publisher's repository (--repository URL), or a certificate identity and issuer".into(),
            });
        }
        let policy = req.policy.build()?;
        return match policy {
            vouch_verify::Policy::Keyless(p) => Ok(Identity::Keyless(p)),
            _ => Err(Pep740Error::InvalidPolicy {
                detail: "PEP 740 attestations are keyless: a managed key cannot verify them".into(),
            }),
        };
    };
    let invalid = |e: vouch_verify::PolicyError| Pep740Error::InvalidPolicy {
        detail: e.to_string(),
    };
    let mut p = TrustedPublisher::from_repository_url(url)?;
    if let Some(w) = &req.workflow {
        p = p.with_workflow(w.clone());
    }
    if let Some(e) = &req.environment {
        p = p.with_environment(e.clone());
    }
    let spec = &req.policy;
    if let Some(issuer) = &spec.issuer {
        p = p.with_issuer(issuer.clone());
    } else if let Some(pattern) = &spec.issuer_regexp {
        p = p.with_issuer_regexp(pattern.clone());
    }
    if let Some(id) = &spec.identity {
        p = p.with_identity(Matcher::exact(PolicyField::Identity, id.clone()).map_err(invalid)?);
    } else if let Some(pattern) = &spec.identity_regexp {
        p = p.with_identity(Matcher::regex(PolicyField::Identity, pattern).map_err(invalid)?);
    }
    for (claim, value) in &spec.claims {
        if *claim == CiClaim::SourceRepository {
            return Err(Pep740Error::InvalidPolicy {
                detail: "the source repository is --repository's".into(),
            });
        }
        let m = Matcher::exact(PolicyField::Claim(*claim), value.clone()).map_err(invalid)?;
        p = p.with_claim(*claim, m);
    }
    Ok(Identity::Publisher(p))
}

/// Verifies every distribution of the request; the first failure (in the order given)
/// is the answer.
pub fn verify_pypi(req: &PypiRequest) -> Result<PypiReport, Pep740Error> {
    if req.dists.is_empty() {
        return Err(Pep740Error::InvalidPolicy {
            detail: "expected at least one distribution file".into(),
        });
    }
    if req.dists.len() > 1 && matches!(req.source, Source::Provenance(_) | Source::Attestations(_))
    {
        return Err(Pep740Error::InvalidPolicy {
            detail: "--provenance and --attestation verify one distribution; give one DIST".into(),
        });
    }
    let identity = identity(req)?;
    let root = req.trust.load()?;
    let verifier = Verifier::new(&root)?;
    let index = match &req.source {
        Source::Index { url, tls_ca } => Some(Index::new(url, tls_ca.as_deref())?),
        _ => None,
    };
    let results = map_on_threads(&req.dists, req.threads, |path| {
        verify_one(&verifier, path, &req.source, index.as_ref(), &identity)
    });
    let dists = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(PypiReport {
        verified: true,
        publisher: match &identity {
            Identity::Publisher(p) => p.to_string(),
            Identity::Keyless(p) => format!("{} (issuer {})", p.identity(), p.issuer()),
        },
        trust_root: root.source().to_string(),
        dists,
    })
}

fn verify_one(
    verifier: &Verifier,
    path: &Path,
    source: &Source,
    index: Option<&Index>,
    identity: &Identity,
) -> Result<DistReport, Pep740Error> {
    let dist = Dist::from_file(path)?;
    let (verified, from) = match source {
        Source::Provenance(file) => {
            let provenance = Provenance::from_json(&read(file)?)?;
            (
                verify_provenance(verifier, &provenance, &dist, identity)?,
                file.display().to_string(),
            )
        }
        Source::Index { .. } => {
            let found = index
                .ok_or_else(|| Pep740Error::InvalidPolicy {
                    detail: "no index".into(),
                })?
                .provenance(&dist)?;
            (
                verify_provenance(verifier, &found.provenance, &dist, identity)?,
                found.url,
            )
        }
        Source::Attestations(files) => (
            verify_files(verifier, files, &dist, identity)?,
            describe(files),
        ),
        Source::Beside => {
            let files: Vec<PathBuf> = ["publish", "slsa"]
                .iter()
                .map(|kind| {
                    let mut name = path.as_os_str().to_owned();
                    name.push(format!(".{kind}.attestation"));
                    PathBuf::from(name)
                })
                .filter(|p| p.exists())
                .collect();
            if files.is_empty() {
                return Err(Pep740Error::Read {
                    path: format!("{}.publish.attestation", path.display()),
                    detail: "no attestation beside the distribution (give --attestation, --provenance or --index)".into(),
                });
            }
            (
                verify_files(verifier, &files, &dist, identity)?,
                describe(&files),
            )
        }
    };
    Ok(DistReport {
        name: dist.name().to_owned(),
        sha256: dist.sha256_hex(),
        source: from,
        attestations: verified.iter().map(report).collect(),
    })
}

fn verify_files(
    verifier: &Verifier,
    files: &[PathBuf],
    dist: &Dist,
    identity: &Identity,
) -> Result<Vec<VerifiedAttestation>, Pep740Error> {
    files
        .iter()
        .map(|f| {
            let attestation = Attestation::from_json(&read(f)?)?;
            verify_attestation(verifier, &attestation, dist, identity)
        })
        .collect()
}

fn describe(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn read(path: &Path) -> Result<Vec<u8>, Pep740Error> {
    let fail = |detail: String| Pep740Error::Read {
        path: path.display().to_string(),
        detail,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if len > MAX_OBJECT_BYTES as u64 {
        return Err(fail(format!("{len} bytes, more than {MAX_OBJECT_BYTES}")));
    }
    std::fs::read(path).map_err(|e| fail(e.to_string()))
}

fn report(v: &VerifiedAttestation) -> AttestationReport {
    let (identity, issuer) = match &v.verified.signer {
        Signer::Certificate {
            identity, issuer, ..
        } => (identity.clone(), issuer.clone()),
        _ => (String::new(), String::new()),
    };
    AttestationReport {
        predicate_type: v.predicate_type.clone(),
        identity,
        issuer,
        log_index: v.verified.log_entries.first().map(|e| e.log_index),
        signed_at: v.verified.signing_times.first().map(|t| t.to_string()),
    }
}
