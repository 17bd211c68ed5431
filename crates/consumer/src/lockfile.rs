//! `vouch.lock`: what a consumer fetched and verified, in TOML, written atomically.
//!
//! One `[[package]]` table per fetched version (digests, the signer the registry's
//! binding named, the log entry), one `[[server]]` table per registry (its cached
//! trusted root, its log key and the last checkpoint this lockfile saw), and a
//! `[provenance]` summary that `vouch lock --check` keeps honest. Bundles and blobs are
//! cached beside the lockfile under `.vouch/` so audits run offline.
//!
//! Writes go to a temporary file in the same directory, are fsynced and renamed over
//! the lockfile, so a crash leaves either the old or the new lockfile, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vouch_api_client::{CodedError, Result};

/// The lockfile format version this binary reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The default lockfile name.
pub const DEFAULT_LOCKFILE: &str = "vouch.lock";
/// The cache directory beside the lockfile.
pub const CACHE_DIR: &str = ".vouch";

/// The whole lockfile. Field names are the stable on-disk format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// `sha256:HEX` of the policy file (`--policy`) the entries were last fetched
    /// under; `vouch lock --check --policy FILE` refuses another (`LOCK_E006`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Summary of the Sigstore state of every entry.
    #[serde(default)]
    pub provenance: Provenance,
    /// Registries the entries came from.
    #[serde(default, rename = "server", skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerEntry>,
    /// The locked packages, sorted by name then version.
    #[serde(default, rename = "package", skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<LockedPackage>,
}

/// The `[provenance]` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Entries whose Sigstore bundle verified when they were locked.
    pub sigstore_verified_count: u64,
    /// `name@version` of every entry without a verified bundle.
    pub sigstore_unverified: Vec<String>,
}

/// One registry: where its trust material is cached and what its log last showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// The registry's base URL (no trailing slash).
    pub url: String,
    /// The transparency log's URL prefix (tiles and checkpoint).
    pub log_url: String,
    /// The trusted root (Sigstore trusted_root JSON), relative to the lockfile's directory.
    pub trusted_root: String,
    /// `sha256:HEX` of that cached trusted root as the entries were verified against it;
    /// absent in lockfiles written before it was recorded. `vouch audit transparency`
    /// reports a registry now serving another root (`AUDIT_E003`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_sha256: Option<String>,
    /// True when the root was pinned (`vouch fetch --trusted-root` / `--instance`)
    /// rather than taken from the registry: later fetches keep verifying against it and
    /// refuse a registry serving another one (`FETCH_E006`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub root_pinned: bool,
    /// The log's signed-note verifier key (`name+id+base64`), pinned on first fetch.
    pub log_key: String,
    /// The log's checkpoint origin line.
    pub log_origin: String,
    /// The last verified checkpoint note this lockfile saw, verbatim.
    pub checkpoint: String,
}

/// One locked package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// `@scope/name`.
    pub name: String,
    /// SemVer version.
    pub version: String,
    /// The registry's base URL (matches a `[[server]]` table).
    pub server: String,
    /// Archive size in bytes.
    pub size: u64,
    /// Archive SHA-256, lowercase hex.
    pub sha256: String,
    /// Archive BLAKE3, lowercase hex (the blob's address).
    pub blake3: String,
    /// The cached Sigstore bundle, relative to the lockfile's directory; absent for an
    /// entry locked without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// Whether the bundle verified (digest, signature, log, identity) when locked.
    pub sigstore_verified: bool,
    /// The certificate identity (SAN) the binding named.
    pub identity: String,
    /// The OIDC issuer the binding named.
    pub issuer: String,
    /// The binding's CI provider (`github`, `gitlab`, `forgejo`, `buildkite`,
    /// `circleci`), if the index named one; absent in lockfiles written before it was
    /// recorded, where a repository-and-workflow binding is read as GitHub-style.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The binding's repository (`OWNER/REPO`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The binding's workflow file, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The entry's index in the registry's transparency log.
    pub log_index: u64,
    /// The entry's RFC 9162 leaf hash (hex).
    pub leaf_hash: String,
    /// Size of the checkpoint the entry was proven against when locked.
    pub checkpoint_size: u64,
}

impl LockedPackage {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

impl Default for Lockfile {
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            policy: None,
            provenance: Provenance::default(),
            servers: Vec::new(),
            packages: Vec::new(),
        }
    }
}

fn lock_error(msg: String) -> CodedError {
    CodedError::error("LOCK_E001", msg)
}

/// `LOCK_E005`: a local file (the lockfile, its cache, an output file) cannot be written.
pub(crate) fn write_error(what: &str, path: &Path, e: impl std::fmt::Display) -> CodedError {
    CodedError::error("LOCK_E005", format!("{what} {}: {e}", path.display()))
}

impl Lockfile {
    /// Reads and parses a lockfile (`LOCK_E001` when unreadable or malformed).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| lock_error(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| lock_error(format!("{}: {e}", path.display())))
    }

    /// Reads a lockfile, or an empty one when the file does not exist.
    pub fn load_or_default(path: &Path) -> Result<Self> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Self::default())
        }
    }

    /// Parses lockfile text, refusing unknown keys and other format versions.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lock: Lockfile = toml::from_str(text).map_err(|e| e.to_string())?;
        if lock.version != FORMAT_VERSION {
            return Err(format!(
                "lockfile format version {} is not supported (expected {FORMAT_VERSION})",
                lock.version
            ));
        }
        Ok(lock)
    }

    /// The TOML text, entries sorted and the provenance block recomputed.
    pub fn render(&mut self) -> Result<String> {
        self.normalise();
        let body = toml::to_string(self)
            .map_err(|e| lock_error(format!("serialising the lockfile: {e}")))?;
        Ok(format!(
            "# vouch.lock: written by `vouch fetch`; check with `vouch audit signatures`.\n{body}"
        ))
    }

    /// Sorts entries and recomputes `[provenance]` from them.
    pub fn normalise(&mut self) {
        self.packages.sort_by(|a, b| {
            (&a.name, &a.version, &a.server).cmp(&(&b.name, &b.version, &b.server))
        });
        self.servers.sort_by(|a, b| a.url.cmp(&b.url));
        self.provenance = self.computed_provenance();
    }

    /// The `[provenance]` block the entries imply.
    pub fn computed_provenance(&self) -> Provenance {
        let verified = self
            .packages
            .iter()
            .filter(|p| p.sigstore_verified && p.bundle.is_some())
            .count() as u64;
        let unverified = self
            .packages
            .iter()
            .filter(|p| !(p.sigstore_verified && p.bundle.is_some()))
            .map(LockedPackage::id)
            .collect();
        Provenance {
            sigstore_verified_count: verified,
            sigstore_unverified: unverified,
        }
    }

    /// Inserts or replaces the entry for the same name, version and server.
    pub fn upsert(&mut self, entry: LockedPackage) {
        self.packages.retain(|p| {
            !(p.name == entry.name && p.version == entry.version && p.server == entry.server)
        });
        self.packages.push(entry);
    }

    /// The server table for `url`.
    pub fn server(&self, url: &str) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.url == url)
    }

    /// Inserts or replaces the server table for the same URL.
    pub fn upsert_server(&mut self, entry: ServerEntry) {
        self.servers.retain(|s| s.url != entry.url);
        self.servers.push(entry);
    }

    /// Writes the lockfile atomically: temp file in the same directory, fsync, rename.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let text = self.render()?;
        write_atomic(path, text.as_bytes())
    }
}

/// The directory relative paths in a lockfile are resolved against.
pub fn base_dir(lockfile: &Path) -> PathBuf {
    match lockfile.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename),
/// creating the parent directory if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = base_dir(path);
    std::fs::create_dir_all(&dir).map_err(|e| write_error("creating", &dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| write_error("creating a temporary file in", &dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| write_error("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| write_error("replacing", path, e.error))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        // Makes the rename durable; a failure here only weakens crash safety.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Where fetch caches an entry's bundle, relative to the lockfile's directory.
pub fn bundle_rel(blake3: &str) -> String {
    format!("{CACHE_DIR}/bundles/{blake3}.sigstore")
}

/// Where fetch caches an entry's archive, relative to the lockfile's directory.
pub fn blob_rel(blake3: &str) -> String {
    format!("{CACHE_DIR}/blobs/{blake3}")
}

/// Streams a file and returns (size, sha256 hex, blake3 hex).
#[allow(
    clippy::indexing_slicing,
    reason = "k is what read returned for buf, at most buf.len()"
)]
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String, String)> {
    use sha2::Digest as _;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let (mut s, mut b, mut n) = (sha2::Sha256::new(), blake3::Hasher::new(), 0u64);
    // A buffer no larger than the file (up to 64 KiB): an audit hashes one cached archive
    // per entry, most of them small, and zeroing 64 KiB for each cost more than hashing.
    let len = f.metadata()?.len();
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX).clamp(1, 1 << 16)];
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        s.update(&buf[..k]);
        b.update(&buf[..k]);
        n += k as u64;
    }
    Ok((
        n,
        hex::encode(s.finalize()),
        b.finalize().to_hex().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer follows the file's size: empty, smaller than, equal to and larger than
    /// the 64 KiB cap all hash as one pass over the whole content would.
    #[test]
    fn hash_file_covers_every_byte_whatever_the_size() {
        use sha2::Digest as _;
        let dir = tempfile::tempdir().unwrap();
        for len in [0usize, 1, 164, 1 << 16, (1 << 16) + 1, 200_003] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let (size, sha, b3) = hash_file(&path).unwrap();
            assert_eq!(size, len as u64);
            assert_eq!(sha, hex::encode(sha2::Sha256::digest(&bytes)), "{len}");
            assert_eq!(b3, blake3::hash(&bytes).to_hex().to_string(), "{len}");
        }
    }

    fn entry(name: &str, verified: bool) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "1.0.0".into(),
            server: "http://127.0.0.1:1".into(),
            size: 10,
            sha256: "aa".repeat(32),
            blake3: "bb".repeat(32),
            bundle: verified.then(|| ".vouch/bundles/x.sigstore".into()),
            sigstore_verified: verified,
            identity: "https://github.com/o/r/.github/workflows/r.yml@refs/heads/main".into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            provider: None,
            repository: Some("o/r".into()),
            workflow: None,
            log_index: 3,
            leaf_hash: "cc".repeat(32),
            checkpoint_size: 4,
        }
    }

    #[test]
    fn round_trips_and_recomputes_provenance() {
        let mut lock = Lockfile::default();
        lock.upsert(entry("@b/two", false));
        lock.upsert(entry("@a/one", true));
        lock.upsert(entry("@a/one", true)); // replaces, does not duplicate
        lock.upsert_server(ServerEntry {
            url: "http://127.0.0.1:1".into(),
            log_url: "http://127.0.0.1:1/log".into(),
            trusted_root: ".vouch/trust/x.json".into(),
            trusted_root_sha256: None,
            root_pinned: false,
            log_key: "k+1+AQ".into(),
            log_origin: "k".into(),
            checkpoint: "k\n1\nabc=\n\n— k sig\n".into(),
        });
        let text = lock.render().unwrap();
        let back = Lockfile::parse(&text).unwrap();
        assert_eq!(back, lock);
        assert_eq!(back.packages.len(), 2);
        assert_eq!(back.packages[0].name, "@a/one");
        assert_eq!(back.provenance.sigstore_verified_count, 1);
        assert_eq!(back.provenance.sigstore_unverified, ["@b/two@1.0.0"]);
    }

    #[test]
    fn refuses_unknown_keys_and_versions() {
        let err = Lockfile::parse("version = 1\nsurprise = true\n").unwrap_err();
        assert!(err.contains("surprise"), "{err}");
        let err = Lockfile::parse("version = 7\n").unwrap_err();
        assert!(err.contains("version 7"), "{err}");
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vouch.lock");
        let mut lock = Lockfile::default();
        lock.upsert(entry("@a/one", true));
        lock.save(&path).unwrap();
        let mut empty = Lockfile::default();
        empty.save(&path).unwrap();
        assert_eq!(Lockfile::load(&path).unwrap().packages.len(), 0);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }
}
