//! Checking a registry's integrity record from the client side: fetch the key set and
//! the record, verify the JWS (`vouch-integrity`, which does no IO), its log inclusion
//! against a checkpoint signed by the pinned or trusted-root log key, and downloaded
//! assets against the digests it lists. It lives here because every step but the
//! cryptography is a conversation with a registry; `vouch-integrity` stays pure.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use vouch_integrity::{
    check_asset_entries, codes, verify_logged, verify_record, AssetEntry, AssetHasher,
    InclusionEvidence, IntegrityError, KeySet, Subject,
};
use vouch_tlog::{Hash, Verifier};

use crate::{base_url, caps, get_json, http, log_verifier, read_capped, trusted_root};
use crate::{unreachable, CodedError, Result};

/// Which record to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A release by its registry id.
    Release(u64),
    /// A package version.
    Package { name: String, version: String },
    /// One uploaded file of a Python release (package `@pypi/PROJECT`): each file has
    /// a record of its own, its one asset.
    PyFile {
        project: String,
        version: String,
        file: String,
    },
}

impl Target {
    /// The record `--release ID` or `--package @scope/name@VERSION` names (clap asks for
    /// one of them); neither, or a malformed package, is `INTEGRITY_E203`.
    pub fn given(release: Option<u64>, package: Option<&str>) -> Result<Self> {
        match (release, package) {
            (Some(id), _) => Ok(Target::Release(id)),
            (None, Some(spec)) => Target::package(spec),
            (None, None) => Err(CodedError::error(
                codes::CLIENT_BAD_PACKAGE,
                "expected --release ID or --package @scope/name@VERSION, found neither",
            )),
        }
    }

    /// The record's path under the registry's base URL.
    pub fn path(&self) -> String {
        match self {
            Target::Release(id) => format!("/api/v1/releases/{id}/integrity"),
            Target::Package { name, version } => {
                format!("/api/v1/packages/{name}/{version}/integrity")
            }
            Target::PyFile {
                project,
                version,
                file,
            } => format!("/integrity/{project}/{version}/{file}/record"),
        }
    }

    /// `--file NAME`: the record of one file of a Python release
    /// (`--package @pypi/PROJECT@VERSION`); given with anything else, `INTEGRITY_E203`.
    pub fn with_file(self, file: Option<&str>) -> Result<Self> {
        let Some(file) = file else { return Ok(self) };
        let bad = |why: &str| CodedError::error(codes::CLIENT_BAD_PACKAGE, why.to_owned());
        if file.is_empty() || file.contains(['/', '\\']) {
            return Err(bad(&format!("--file must be a file name, found {file:?}")));
        }
        match self {
            Target::Package { name, version } => match name.strip_prefix("@pypi/") {
                Some(project) => Ok(Target::PyFile {
                    project: project.to_owned(),
                    version,
                    file: file.to_owned(),
                }),
                None => Err(bad(&format!(
                    "--file names a file of a Python release, --package @pypi/PROJECT@VERSION; found {name}"
                ))),
            },
            _ => Err(bad("--file needs --package @pypi/PROJECT@VERSION")),
        }
    }

    /// Parses `@scope/name@VERSION` (`INTEGRITY_E203` otherwise).
    pub fn package(spec: &str) -> Result<Self> {
        let (name, version) = spec
            .rsplit_once('@')
            .filter(|(n, v)| n.starts_with('@') && n.contains('/') && !v.is_empty())
            .ok_or_else(|| {
                CodedError::error(
                    codes::CLIENT_BAD_PACKAGE,
                    format!("--package must be @scope/name@VERSION, found {spec:?}"),
                )
            })?;
        let (name, version) = (name.to_owned(), version.to_owned());
        Ok(Target::Package { name, version })
    }
}

/// What to check, and against which keys.
#[derive(Debug, Clone)]
pub struct Check {
    pub server: String,
    pub target: Target,
    /// Directory holding the downloaded assets, by the names the record lists.
    pub assets: Option<PathBuf>,
    /// The log's signed-note verifier key to pin; default: the trusted root's.
    pub log_key: Option<String>,
}

/// What was verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// What the record is about: `@scope/name` or `release 42`.
    pub subject: String,
    /// The package name, for a package record.
    pub package: Option<String>,
    pub version: String,
    pub kid: String,
    pub log_index: u64,
    pub checkpoint_size: u64,
    pub log_key_pinned: bool,
    /// Asset names that matched the record, when assets were checked.
    pub assets_verified: Option<Vec<String>>,
    /// Every asset name the record lists.
    pub record_assets: Vec<String>,
}

impl Verified {
    /// `vouch verify integrity --json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "verified": true, "kid": self.kid, "subject": self.subject, "package": self.package,
            "version": self.version, "log_index": self.log_index,
            "checkpoint_size": self.checkpoint_size, "log_key_pinned": self.log_key_pinned,
            "assets": self.assets_verified.as_ref().map(|a| serde_json::json!({"verified": a})),
            "record_assets": self.record_assets,
        })
    }

    /// `vouch verify integrity`: the record, and the assets when they were checked.
    /// Names, versions and key ids come from the registry: untrusted text.
    pub fn lines(&self) -> Vec<String> {
        let (subject, version, kid) = (&self.subject, &self.version, &self.kid);
        let (index, size) = (self.log_index, self.checkpoint_size);
        let mut out = vec![format!("verified: integrity record of {subject} {version} signed by {kid}, logged at index {index} (checkpoint size {size})")];
        if let Some(a) = &self.assets_verified {
            out.push(format!("verified: {} asset(s) match the record", a.len()));
        }
        out
    }
}

fn integrity(e: IntegrityError) -> CodedError {
    match e {
        IntegrityError::TokenEncKeyInvalid { .. } | IntegrityError::Random => {
            CodedError::error(e.code(), e.to_string())
        }
        _ => CodedError::refused(e.code(), e.to_string()),
    }
}

/// Runs every check; the first that fails decides the error.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub async fn verify(check: &Check) -> Result<Verified> {
    let base = base_url(&check.server)?;
    let client = http()?;
    let path = check.target.path();
    let (subject, want_version) = match &check.target {
        Target::Release(id) => (Subject::Release { id: id.to_string() }, None),
        Target::Package { name, version } => {
            (Subject::Package { name: name.clone() }, Some(version))
        }
        Target::PyFile {
            project, version, ..
        } => (
            Subject::Package {
                name: format!("@pypi/{project}"),
            },
            Some(version),
        ),
    };
    let jwks_url = format!("{base}/.well-known/registry-key.json");
    let jwks = client
        .get(&jwks_url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| unreachable("fetching the key set", &jwks_url, &e))?;
    let jwks = read_capped(jwks, caps::API_ANSWER, "fetching the key set").await?;
    let keys = KeySet::from_jwks(&jwks).map_err(integrity)?;
    let url = format!("{base}{path}");
    let doc = get_json(&client, &url, "fetching the record", caps::API_ANSWER).await?;
    let signed = verify_record(doc["jws"].as_str().unwrap_or(""), &keys).map_err(integrity)?;
    let record = signed.record();
    if record.subject != subject || want_version.is_some_and(|v| *v != record.version) {
        return Err(CodedError::refused(
            codes::CLIENT_OTHER_SUBJECT,
            format!(
                "the record is about {:?} version {:?}, not what was asked for",
                record.subject, record.version
            ),
        ));
    }
    // Log inclusion against a checkpoint signed by the pinned (or trusted-root) log key.
    let p = &doc["inclusion_proof"];
    let checkpoint = p["checkpoint"].as_str().unwrap_or("");
    let origin = checkpoint.lines().next().unwrap_or("");
    let verifier = match &check.log_key {
        Some(k) => Verifier::parse(k)
            .map_err(|e| CodedError::error(codes::CLIENT_BAD_LOG_KEY, format!("--log-key: {e}")))?,
        None => log_verifier(&trusted_root(&client, &base).await?, origin, checkpoint)?,
    };
    let bad_proof = |msg: &str| CodedError::refused(codes::LOG_PROOF, msg.to_owned());
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut hashes = Vec::new();
    for h in p["hashes"].as_array().into_iter().flatten() {
        let raw = h
            .as_str()
            .and_then(|s| b64.decode(s).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| bad_proof("an inclusion proof hash is not 32 bytes of base64"))?;
        hashes.push(Hash(raw));
    }
    let index = p["log_index"]
        .as_u64()
        .ok_or_else(|| bad_proof("the inclusion proof has no log_index"))?;
    let evidence = InclusionEvidence {
        index,
        proof: &hashes,
        checkpoint: checkpoint.as_bytes(),
    };
    let opened = verify_logged(
        &signed,
        &evidence,
        verifier.name(),
        std::slice::from_ref(&verifier),
    )
    .map_err(integrity)?;
    // Downloaded assets against the record.
    let mut assets_verified = None;
    if let Some(dir) = &check.assets {
        let mut found = Vec::new();
        for a in &record.assets {
            let path = dir.join(&a.name);
            if !path.is_file() {
                return Err(CodedError::refused(
                    codes::CLIENT_ASSET_MISSING,
                    format!(
                        "{} is listed in the record but missing from {}",
                        a.name,
                        dir.display()
                    ),
                ));
            }
            found.push(hash_file(&path, &a.name)?);
        }
        let report = check_asset_entries(record, &found).map_err(integrity)?;
        assets_verified = Some(report.verified);
    }
    let (subject, package) = match &record.subject {
        Subject::Package { name } => (name.clone(), Some(name.clone())),
        Subject::Release { id } => (format!("release {id}"), None),
    };
    Ok(Verified {
        subject,
        package,
        version: record.version.clone(),
        kid: record.kid.to_string(),
        log_index: index,
        checkpoint_size: opened.checkpoint.size,
        log_key_pinned: check.log_key.is_some(),
        assets_verified,
        record_assets: record.assets.iter().map(|a| a.name.clone()).collect(),
    })
}

#[allow(
    clippy::indexing_slicing,
    reason = "n is what read returned for buf, at most buf.len()"
)]
fn hash_file(path: &Path, name: &str) -> Result<AssetEntry> {
    // Local I/O failures keep the code the command has always given them.
    let io = |what: &str, e: std::io::Error| {
        CodedError::error("CLI_E001", format!("{what} {}: {e}", path.display()))
    };
    let mut f = std::fs::File::open(path).map_err(|e| io("opening", e))?;
    let mut h = AssetHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| io("reading", e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--release` or `--package` name the record and its path; a package that is not
    /// `@scope/name@VERSION`, or neither flag, is INTEGRITY_E203.
    #[test]
    fn given_target_and_its_path() {
        let r = Target::given(Some(7), None).unwrap();
        assert_eq!(r.path(), "/api/v1/releases/7/integrity");
        let p = Target::given(None, Some("@acme/demo@1.2.0")).unwrap();
        assert_eq!(p.path(), "/api/v1/packages/@acme/demo/1.2.0/integrity");
        let f = Target::given(None, Some("@pypi/demo@1.0"))
            .and_then(|t| t.with_file(Some("demo-1.0.tar.gz")))
            .unwrap();
        assert_eq!(f.path(), "/integrity/demo/1.0/demo-1.0.tar.gz/record");
        for bad in [
            Target::given(None, Some("demo@1")),
            Target::given(None, None),
            Target::given(None, Some("@acme/demo@1")).and_then(|t| t.with_file(Some("x.whl"))),
            Target::given(Some(7), None).and_then(|t| t.with_file(Some("x.whl"))),
            Target::given(None, Some("@pypi/demo@1")).and_then(|t| t.with_file(Some("../x"))),
        ] {
            assert_eq!(bad.unwrap_err().code(), "INTEGRITY_E203");
        }
    }
}
