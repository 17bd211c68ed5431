//! Fetch with inline verification: one package version from a registry, checked (size
//! and digests against the index, the Sigstore bundle against the digest and the
//! binding's signer, the log entry against the log) before anything is written, then
//! cached beside the lockfile and locked.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;
use vouch_api_client::{
    api_error, caps, get_bytes, get_json, http, log_verifier, resolve, trusted_root, unreachable,
    CodedError, Progress, Result,
};
use vouch_tlog::Hash;
use vouch_verify::{Artifact, ParsedBundle, TrustRoot, Verifier};

use crate::claims::{check_claims, policy_for, RecordedBinding};
use crate::lockfile::{
    base_dir, blob_rel, bundle_rel, write_atomic, write_error, LockedPackage, Lockfile,
    ServerEntry, CACHE_DIR,
};
use crate::transparency::{prove, Leaf};

/// Largest bundle fetch accepts.
pub const MAX_BUNDLE_BYTES: u64 = 16 << 20;

fn fail(code: &'static str, msg: String) -> CodedError {
    CodedError::refused(code, msg)
}

/// What to fetch: `@scope/name`, and a version or none for the newest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    /// `None`: the newest version the registry lists (stable before pre-release).
    pub version: Option<String>,
}

impl Spec {
    /// Parses `@scope/name@version` or `@scope/name` (`FETCH_E004` otherwise).
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = || {
            CodedError::error(
                "FETCH_E004",
                format!("expected @scope/name@version or @scope/name, found {spec:?}"),
            )
        };
        let rest = spec.strip_prefix('@').ok_or_else(bad)?;
        let (name, version) = match rest.rsplit_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (rest, None),
        };
        if !name.contains('/') || version.is_some_and(str::is_empty) {
            return Err(bad());
        }
        vouch_package::PackageName::parse(&format!("@{name}"))
            .map_err(|e| CodedError::error("FETCH_E004", format!("{spec:?}: {e}")))?;
        if let Some(v) = version {
            semver::Version::parse(v)
                .map_err(|e| CodedError::error("FETCH_E004", format!("{spec:?}: version: {e}")))?;
        }
        Ok(Self {
            name: format!("@{name}"),
            version: version.map(str::to_owned),
        })
    }
}

/// Where the fetched archive is written for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutTarget {
    /// `DIR/scope-name-version.tar.zst` (`vouch fetch --out DIR`).
    Dir(PathBuf),
    /// `./scope-name-version.tar.zst` in the working directory: without `--out` the
    /// archive is still put where a user finds it, not only in the cache.
    Default,
}

/// One fetch: the registry, the package, the lockfile and where the archive goes.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// The registry's base URL (no trailing slash; see `vouch_api_client::base_url`).
    pub server: String,
    pub spec: Spec,
    /// The lockfile to record the entry in (created if missing).
    pub lockfile: PathBuf,
    pub out: OutTarget,
    /// A policy file the signer must also satisfy (its rules for the package's name);
    /// its digest is recorded in the lockfile.
    pub policy: Option<vouch_policy::PolicyFile>,
    /// A trusted root to pin (`--trusted-root FILE`, or an instance's root verified
    /// through TUF) instead of trusting the registry's answer on first use; its digest is
    /// recorded in the lockfile and later fetches keep it.
    pub trusted_root: Option<Vec<u8>>,
}

/// The trusted root inside `json`: the JSON itself, or a client trust config's
/// `trustedRoot`; `None` when it is not JSON.
fn root_value(json: &[u8]) -> Option<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_slice(json).ok()?;
    match v.get_mut("trustedRoot").map(serde_json::Value::take) {
        Some(root) => Some(root),
        None => Some(v),
    }
}

/// Whether two trusted-root documents hold the same root (compared as JSON values, so
/// formatting and key order do not matter). Anything unparsable is different.
pub fn same_root(a: &[u8], b: &[u8]) -> bool {
    matches!((root_value(a), root_value(b)), (Some(x), Some(y)) if x == y)
}

/// `sha256:HEX` of a trusted root's bytes, as the lockfile records it.
pub fn root_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// The root to verify against: the pin given now, else the one the lockfile pinned,
/// else the registry's answer. A pin the registry's answer differs from is `FETCH_E006`.
fn chosen_root(
    req: &FetchRequest,
    locked: Option<&ServerEntry>,
    dir: &Path,
    served: Vec<u8>,
) -> Result<(Vec<u8>, bool)> {
    let pin = match (&req.trusted_root, locked) {
        (Some(pin), _) => pin.clone(),
        (None, Some(s)) if s.root_pinned => {
            let path = dir.join(&s.trusted_root);
            std::fs::read(&path).map_err(|e| {
                CodedError::error(
                    "LOCK_E001",
                    format!("reading the pinned trusted root {}: {e}", path.display()),
                )
            })?
        }
        _ => return Ok((served, false)),
    };
    if !same_root(&pin, &served) {
        return Err(fail(
            "FETCH_E006",
            format!(
                "expected the registry to serve the pinned trusted root ({}), found another ({})",
                root_digest(&pin),
                root_digest(&served)
            ),
        ));
    }
    Ok((pin, true))
}

/// What a fetch verified and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub name: String,
    pub version: String,
    /// Whether the version was resolved as the newest (no version was asked for).
    pub resolved_latest: bool,
    pub size: u64,
    pub sha256: String,
    pub blake3: String,
    /// The signer's SAN and issuer, as the binding recorded and the bundle proved.
    /// Untrusted text: escape before printing on a terminal.
    pub identity: String,
    pub issuer: String,
    pub log_index: u64,
    pub checkpoint_size: u64,
    /// Where the archive was written for the user.
    pub archive: PathBuf,
    pub lockfile: PathBuf,
}

impl Fetched {
    /// As `vouch fetch --json` prints it.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name, "version": self.version, "size": self.size,
            "sha256": self.sha256, "blake3": self.blake3, "identity": self.identity,
            "issuer": self.issuer, "log_index": self.log_index,
            "checkpoint_size": self.checkpoint_size,
            "archive": self.archive.display().to_string(),
            "lockfile": self.lockfile.display().to_string(),
            "resolved_latest": self.resolved_latest,
            "verified": true,
        })
    }

    /// The summary `vouch fetch` prints, one line each (unescaped: the identity and
    /// issuer are the certificate's text).
    pub fn lines(&self) -> [String; 6] {
        let latest = if self.resolved_latest {
            " (newest)"
        } else {
            ""
        };
        [
            format!(
                "fetched {}@{}{latest}: {} bytes, sha256 {}",
                self.name, self.version, self.size, self.sha256
            ),
            format!("  signed by {}", self.identity),
            format!("  issuer    {}", self.issuer),
            format!(
                "  log index {} included in checkpoint of size {}",
                self.log_index, self.checkpoint_size
            ),
            format!("  archive   {}", self.archive.display()),
            format!("  locked in {}", self.lockfile.display()),
        ]
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v[key].as_str().ok_or_else(|| {
        CodedError::error(
            "FETCH_E005",
            format!("the index entry has no string {key:?}"),
        )
    })
}

/// Facts the bundle's transparency-log entry carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFacts {
    pub index: u64,
    pub leaf: Hash,
    pub origin: String,
    pub checkpoint: String,
}

/// The `[[server]]` table for a registry seen for the first time: its log key is the
/// trusted root's Ed25519 log key that signed the bundle's checkpoint (pinned from now on).
pub fn new_server_entry(base: &str, trusted_root: &[u8], facts: &LogFacts) -> Result<ServerEntry> {
    let key = log_verifier(trusted_root, &facts.origin, &facts.checkpoint)?;
    Ok(ServerEntry {
        url: base.to_owned(),
        log_url: format!("{base}/log"),
        trusted_root: format!(
            "{CACHE_DIR}/trust/{}.json",
            &hex::encode(sha2::Sha256::digest(base.as_bytes()))[..16]
        ),
        log_key: key.to_string(),
        log_origin: facts.origin.clone(),
        checkpoint: String::new(),
        trusted_root_sha256: None,
        root_pinned: false,
    })
}

/// Reads the log entry facts out of a bundle's first transparency-log entry
/// (`FETCH_E002` when it has none usable).
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub fn log_facts(bundle: &[u8]) -> Result<LogFacts> {
    let bad = |why: &str| fail("FETCH_E002", format!("the bundle's log entry: {why}"));
    let v: Value = serde_json::from_slice(bundle).map_err(|_| bad("not JSON"))?;
    let e = &v["verificationMaterial"]["tlogEntries"][0];
    let index = e["logIndex"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| e["logIndex"].as_u64())
        .ok_or_else(|| bad("no logIndex"))?;
    let body = e["canonicalizedBody"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| bad("no canonicalizedBody"))?;
    let checkpoint = e["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .ok_or_else(|| bad("no checkpoint"))?
        .to_owned();
    let origin = checkpoint.lines().next().unwrap_or_default().to_owned();
    Ok(LogFacts {
        index,
        leaf: vouch_tlog::leaf_hash(&body),
        origin,
        checkpoint,
    })
}

/// The newest version the registry lists for `name`: the highest stable SemVer, or
/// the highest pre-release when there is no stable one; yanked versions are skipped.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub async fn newest_version(http: &reqwest::Client, base: &str, name: &str) -> Result<String> {
    let url = format!("{base}/api/v1/packages/{name}");
    let listing = get_json(http, &url, "listing the versions", caps::API_ANSWER).await?;
    let mut versions: Vec<semver::Version> = listing["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["yanked"] != Value::Bool(true))
        .filter_map(|v| v["version"].as_str())
        .filter_map(|v| semver::Version::parse(v).ok())
        .collect();
    versions.sort();
    let newest = versions
        .iter()
        .rev()
        .find(|v| v.pre.is_empty())
        .or_else(|| versions.last());
    newest.map(ToString::to_string).ok_or_else(|| {
        CodedError::error(
            "FETCH_E005",
            format!("{url} lists no version of {name} to fetch"),
        )
    })
}

/// Downloads the archive to a temporary file beside its cache location, hashing as it goes.
async fn download_blob(
    http: &reqwest::Client,
    url: &str,
    expected_size: u64,
    into: &Path,
    progress: &dyn Progress,
) -> Result<(tempfile::NamedTempFile, u64, String, String)> {
    let mut resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable("downloading the archive", url, &e))?;
    if !resp.status().is_success() {
        return Err(api_error("downloading the archive", resp).await);
    }
    std::fs::create_dir_all(into).map_err(|e| write_error("creating", into, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(into)
        .map_err(|e| write_error("creating a temporary file in", into, e))?;
    progress.start(expected_size, "downloading");
    let (mut s, mut b, mut n) = (sha2::Sha256::new(), blake3::Hasher::new(), 0u64);
    let outcome = async {
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| unreachable("downloading the archive", url, &e))?
        {
            n += chunk.len() as u64;
            if n > expected_size {
                return Err(fail(
                    "FETCH_E001",
                    format!("{url} sent more than the {expected_size} bytes the index records"),
                ));
            }
            s.update(&chunk);
            b.update(&chunk);
            tmp.write_all(&chunk)
                .map_err(|e| write_error("writing", tmp.path(), e))?;
            progress.advance(chunk.len() as u64);
        }
        Ok(())
    }
    .await;
    progress.finish();
    outcome?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| write_error("writing", tmp.path(), e))?;
    Ok((
        tmp,
        n,
        hex::encode(s.finalize()),
        b.finalize().to_hex().to_string(),
    ))
}

/// Downloads a package version, verifies it, caches it beside the lockfile, writes the
/// archive where [`FetchRequest::out`] says and records the entry in the lockfile.
///
/// Checks, in order, each failing closed: the archive's size, SHA-256 and BLAKE3 equal
/// the index entry (`FETCH_E001`); the Sigstore bundle verifies against the archive
/// digest with the registry's trusted root and was signed by exactly the identity and
/// issuer of the publisher binding the index records (`VERIFY_E0xx`), with its
/// repository and workflow (`FETCH_E003`, `vouch-binding`'s rule); the log entry is
/// included in the registry's transparency log, consistent with what the lockfile saw
/// before (`AUDIT_E001`); with a policy file, the signer is one of its rules for the
/// package (`POLICY_E003`/`POLICY_E004`). Nothing is written before every check held.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
pub async fn fetch(req: &FetchRequest, progress: &dyn Progress) -> Result<Fetched> {
    let http = http()?;
    let base = req.server.as_str();
    let name = req.spec.name.as_str();
    let (version, resolved_latest) = match &req.spec.version {
        Some(v) => (v.clone(), false),
        None => (newest_version(&http, base, name).await?, true),
    };
    let version = version.as_str();
    let dir = base_dir(&req.lockfile);
    let mut lock = Lockfile::load_or_default(&req.lockfile)?;

    let entry_url = format!("{base}/api/v1/packages/{name}/{version}");
    let entry = get_json(
        &http,
        &entry_url,
        "reading the index entry",
        caps::INDEX_ENTRY,
    )
    .await?;
    if text(&entry, "name")? != name || text(&entry, "version")? != version {
        return Err(fail(
            "FETCH_E005",
            format!(
                "asked for {name}@{version}, the index answered {}@{}",
                entry["name"], entry["version"]
            ),
        ));
    }
    let (want_sha, want_b3) = (text(&entry, "sha256")?, text(&entry, "blake3")?);
    let want_size = entry["size"]
        .as_u64()
        .ok_or_else(|| fail("FETCH_E005", "the index entry has no size".into()))?;
    let publisher = &entry["publisher"];
    let (identity, issuer) = (text(publisher, "identity")?, text(publisher, "issuer")?);
    let provider = publisher["provider"].as_str().map(str::to_owned);
    let repository = publisher["repository"].as_str().map(str::to_owned);
    let workflow = publisher["workflow"].as_str().map(str::to_owned);

    // 1. The archive: size and both digests against the index.
    let blob_url = resolve(base, text(&entry, "blob_url")?);
    let cache = dir.join(CACHE_DIR).join("blobs");
    let (tmp, size, sha, b3) = download_blob(&http, &blob_url, want_size, &cache, progress).await?;
    if size != want_size || sha != want_sha || b3 != want_b3 {
        return Err(fail(
            "FETCH_E001",
            format!(
                "the archive is {size} bytes, sha256 {sha}, blake3 {b3}; the index records {want_size} bytes, sha256 {want_sha}, blake3 {want_b3}"
            ),
        ));
    }

    // 2. The bundle: against the digest, the trusted root, and the binding's identity.
    let bundle_url = resolve(base, text(&entry, "bundle_url")?);
    let bundle = get_bytes(
        &http,
        &bundle_url,
        "downloading the bundle",
        MAX_BUNDLE_BYTES,
    )
    .await?;
    let served = trusted_root(&http, base).await?;
    let (trusted_root, pinned) = chosen_root(req, lock.server(base), &dir, served)?;
    let verifier = TrustRoot::from_json(&trusted_root)
        .and_then(|r| Verifier::new(&r))
        .map_err(|e| CodedError::error(e.code(), format!("the registry's trusted root: {e}")))?;
    let parsed = ParsedBundle::from_json(&bundle)
        .map_err(|e| CodedError::refused(e.code(), format!("the bundle: {e}")))?;
    let artifact = Artifact::parse_digest(&format!("sha256:{sha}"))
        .map_err(|e| CodedError::error(e.code(), e.to_string()))?;
    let verified = verifier
        .verify(&artifact, &parsed, &policy_for(identity, issuer)?)
        .map_err(|e| {
            CodedError::refused(
                e.code(),
                format!(
                    "{name}@{version}: the bundle does not verify for the binding's signer: {e}"
                ),
            )
        })?;
    let recorded = RecordedBinding {
        provider: provider.as_deref(),
        repository: repository.as_deref(),
        workflow: workflow.as_deref(),
    };
    check_claims(&verified, recorded).map_err(|mut e| {
        e.message = format!("{name}@{version}: {}", e.message);
        e
    })?;
    if let Some(policy) = &req.policy {
        policy.check(name, &verified.signer).map_err(|e| {
            let mut coded = CodedError::from(&e);
            coded.message = format!("{name}@{version}: {}", coded.message);
            coded
        })?;
    }

    // 3. The log: the entry the bundle names is in the log the lockfile pins.
    let facts = log_facts(&bundle)?;
    if let Some(idx) = entry["log_index"].as_u64() {
        if idx != facts.index {
            return Err(fail(
                "FETCH_E005",
                format!(
                    "the index records log index {idx}, the bundle {}",
                    facts.index
                ),
            ));
        }
    }
    let mut server = match lock.server(base) {
        Some(s) => s.clone(),
        None => new_server_entry(base, &trusted_root, &facts)?,
    };
    let leaf = Leaf {
        id: format!("{name}@{version}"),
        index: facts.index,
        hash: facts.leaf,
    };
    let cp = prove(&server, std::slice::from_ref(&leaf)).await?;

    // 4. Cache and lock. The archive and bundle land first so the lockfile never names
    // a missing file.
    let blob_path = dir.join(blob_rel(&b3));
    tmp.persist(&blob_path)
        .map_err(|e| write_error("writing", &blob_path, e.error))?;
    write_atomic(&dir.join(bundle_rel(&b3)), &bundle)?;
    write_atomic(&dir.join(&server.trusted_root), &trusted_root)?;
    let flat = name.trim_start_matches('@').replace('/', "-");
    let archive = match &req.out {
        OutTarget::Dir(out) => {
            std::fs::create_dir_all(out).map_err(|e| write_error("creating", out, e))?;
            out.join(format!("{flat}-{version}.tar.zst"))
        }
        OutTarget::Default => PathBuf::from(format!("{flat}-{version}.tar.zst")),
    };
    std::fs::copy(&blob_path, &archive).map_err(|e| write_error("writing", &archive, e))?;
    server.checkpoint = cp.to_note_string();
    server.trusted_root_sha256 = Some(root_digest(&trusted_root));
    server.root_pinned = pinned;
    if let Some(policy) = &req.policy {
        lock.policy = Some(policy.digest().to_owned());
    }
    lock.upsert_server(server);
    lock.upsert(LockedPackage {
        name: name.to_owned(),
        version: version.to_owned(),
        server: base.to_owned(),
        size,
        sha256: sha.clone(),
        blake3: b3.clone(),
        bundle: Some(bundle_rel(&b3)),
        sigstore_verified: true,
        identity: identity.to_owned(),
        issuer: issuer.to_owned(),
        provider,
        repository,
        workflow,
        log_index: facts.index,
        leaf_hash: facts.leaf.to_hex(),
        checkpoint_size: cp.checkpoint.size,
    });
    lock.save(&req.lockfile)?;
    Ok(Fetched {
        name: name.to_owned(),
        version: version.to_owned(),
        resolved_latest,
        size,
        sha256: sha,
        blake3: b3,
        identity: identity.to_owned(),
        issuer: issuer.to_owned(),
        log_index: facts.index,
        checkpoint_size: cp.checkpoint.size,
        archive,
        lockfile: req.lockfile.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::Spec;

    #[test]
    fn spec_parsing() {
        let s = Spec::parse("@acme/widget@1.2.0-rc.1").unwrap();
        assert_eq!(s.name, "@acme/widget");
        assert_eq!(s.version.as_deref(), Some("1.2.0-rc.1"));
        let latest = Spec::parse("@acme/widget").unwrap();
        assert_eq!(latest.version, None);
        for bad in [
            "acme/widget@1.0.0",
            "@acme@1.0.0",
            "@acme/widget@1",
            "@acme/widget@",
        ] {
            assert_eq!(Spec::parse(bad).unwrap_err().code(), "FETCH_E004", "{bad}");
        }
    }
}
