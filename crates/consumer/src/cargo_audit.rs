//! `audit cargo`: every crate a `Cargo.lock` takes from a vouch registry (source `sparse+URL/cargo/index/`) checked against the registry's signed integrity record: the record's signature under the registry's published key set, its checksum against the lock's, the provenance it commits to, its inclusion in the transparency log, and the log's consistency with the checkpoint this audit saw last time.
//!
//! Any disagreement is `AUDIT_E001`, a refusal: do not build. The last checkpoint per
//! registry, and the log key pinned on first use, live in a small state file
//! (`.vouch/cargo-audit.json` beside the lockfile by default), replaced atomically and
//! only when everything held.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use vouch_api_client::{caps, log_verifier, read_capped, trusted_root, CodedError, Result};
use vouch_integrity::{log_leaf_hash, verify_record, KeySet, Subject};

use crate::lockfile::ServerEntry;
use crate::transparency::{audit_error, prove, Leaf};

/// The index path vouch serves its sparse index under.
pub const CARGO_INDEX_SUFFIX: &str = "/cargo/index/";

/// What to audit.
#[derive(Debug, Clone)]
pub struct CargoAudit {
    pub lockfile: PathBuf,
    /// The state file; default `.vouch/cargo-audit.json` beside the lockfile.
    pub state: Option<PathBuf>,
    /// A read token for private (`auth-required`) registries.
    pub token: Option<String>,
}

/// One crate that held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditedCrate {
    pub name: String,
    pub version: String,
    pub server: String,
    pub checksum: String,
    pub log_index: u64,
    /// Who published it, from the signed provenance (`trusted publishing: github
    /// acme/repo .github/workflows/release.yml` or `user alice`).
    pub publisher: String,
}

/// One registry's log after the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditedServer {
    pub server: String,
    pub old_size: u64,
    pub new_size: u64,
}

/// What the audit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CargoAuditReport {
    pub crates: Vec<AuditedCrate>,
    pub servers: Vec<AuditedServer>,
    /// Locked packages not from a vouch registry (crates.io, git, path).
    pub skipped: usize,
}

impl std::fmt::Display for CargoAuditReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.crates {
            writeln!(
                f,
                "ok    {} {} (log index {}, published by {})",
                c.name, c.version, c.log_index, c.publisher
            )?;
        }
        for s in &self.servers {
            writeln!(
                f,
                "ok    {}: log consistent from size {} to {}",
                s.server, s.old_size, s.new_size
            )?;
        }
        write!(
            f,
            "{} crates verified, {} not from a vouch registry",
            self.crates.len(),
            self.skipped
        )
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    servers: BTreeMap<String, StoredServer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredServer {
    log_url: String,
    log_key: String,
    log_origin: String,
    checkpoint: String,
}

#[derive(Debug, Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockedCrate>,
}

#[derive(Debug, Deserialize)]
struct LockedCrate {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    checksum: Option<String>,
}

fn local(code: &'static str, msg: String) -> CodedError {
    CodedError::error(code, msg)
}

/// Runs the audit; `Err` with `AUDIT_E001` (refused) on any disagreement.
pub async fn audit_cargo(opts: &CargoAudit) -> Result<CargoAuditReport> {
    let text = std::fs::read_to_string(&opts.lockfile).map_err(|e| {
        local(
            vouch_api_client::codes::CLI_FAILED,
            format!("reading {}: {e}", opts.lockfile.display()),
        )
    })?;
    let lock: Lock = toml::from_str(&text).map_err(|e| {
        local(
            vouch_api_client::codes::CLI_FAILED,
            format!(
                "{} is not a Cargo.lock: {}",
                opts.lockfile.display(),
                e.message()
            ),
        )
    })?;
    let state_path = opts.state.clone().unwrap_or_else(|| {
        opts.lockfile
            .parent()
            .unwrap_or(Path::new("."))
            .join(".vouch/cargo-audit.json")
    });
    let mut state: State = match std::fs::read(&state_path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            local(
                vouch_api_client::codes::CLI_FAILED,
                format!("{} is not an audit state file: {e}", state_path.display()),
            )
        })?,
        Err(_) => State::default(),
    };
    let mut by_server: BTreeMap<String, Vec<&LockedCrate>> = BTreeMap::new();
    let mut skipped = 0;
    for p in &lock.package {
        let server = p
            .source
            .as_deref()
            .and_then(|s| s.strip_prefix("sparse+"))
            .and_then(|s| s.strip_suffix(CARGO_INDEX_SUFFIX));
        match server {
            Some(s) => by_server.entry(s.to_owned()).or_default().push(p),
            None => skipped += 1,
        }
    }
    let client = vouch_api_client::http()?;
    let mut crates = Vec::new();
    let mut servers = Vec::new();
    for (server, locked) in &by_server {
        let (audited, leaves, first_checkpoint) =
            check_records(&client, server, locked, opts.token.as_deref()).await?;
        let entry = match state.servers.get(server) {
            Some(s) => ServerEntry {
                url: server.clone(),
                log_url: s.log_url.clone(),
                trusted_root: String::new(),
                log_key: s.log_key.clone(),
                log_origin: s.log_origin.clone(),
                checkpoint: s.checkpoint.clone(),
                trusted_root_sha256: None,
                root_pinned: false,
            },
            None => {
                // First audit of this registry: pin the log key the trusted root names
                // for the checkpoint its records are proven against.
                let root = trusted_root(&client, server).await?;
                let origin = first_checkpoint.lines().next().unwrap_or("").to_owned();
                let key = log_verifier(&root, &origin, &first_checkpoint)?;
                ServerEntry {
                    url: server.clone(),
                    log_url: format!("{server}/log"),
                    trusted_root: String::new(),
                    log_key: key.to_string(),
                    log_origin: origin,
                    checkpoint: String::new(),
                    trusted_root_sha256: None,
                    root_pinned: false,
                }
            }
        };
        let old_size = vouch_tlog::checkpoint::parse_unverified(entry.checkpoint.as_bytes())
            .map(|(cp, _)| cp.size)
            .unwrap_or(0);
        let new = prove(&entry, &leaves).await?;
        servers.push(AuditedServer {
            server: server.clone(),
            old_size,
            new_size: new.checkpoint.size,
        });
        state.servers.insert(
            server.clone(),
            StoredServer {
                log_url: entry.log_url.clone(),
                log_key: entry.log_key.clone(),
                log_origin: entry.log_origin.clone(),
                checkpoint: new.to_note_string(),
            },
        );
        crates.extend(audited);
    }
    save_state(&state_path, &state)?;
    Ok(CargoAuditReport {
        crates,
        servers,
        skipped,
    })
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    what: &str,
) -> Result<Value> {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.header(reqwest::header::AUTHORIZATION, t);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| vouch_api_client::unreachable(what, url, &e))?;
    if !resp.status().is_success() {
        return Err(audit_error(format!(
            "{what}: {url} answered {} (a crate locked from a vouch registry must have a record)",
            resp.status()
        )));
    }
    let body = read_capped(resp, caps::API_ANSWER, what).await?;
    serde_json::from_slice(&body).map_err(|e| audit_error(format!("{what}: {url}: not JSON: {e}")))
}

/// Checks each locked crate's record; returns what held, the log leaves to prove and
/// the checkpoint the first record was proven against.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
async fn check_records(
    client: &reqwest::Client,
    server: &str,
    locked: &[&LockedCrate],
    token: Option<&str>,
) -> Result<(Vec<AuditedCrate>, Vec<Leaf>, String)> {
    let jwks_url = format!("{server}/.well-known/registry-key.json");
    let jwks = client
        .get(&jwks_url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| vouch_api_client::unreachable("fetching the key set", &jwks_url, &e))?;
    let jwks = read_capped(jwks, caps::API_ANSWER, "fetching the key set").await?;
    let keys =
        KeySet::from_jwks(&jwks).map_err(|e| audit_error(format!("{server}'s key set: {e}")))?;
    let mut audited = Vec::new();
    let mut leaves = Vec::new();
    let mut first_checkpoint = String::new();
    for c in locked {
        let id = format!("{} {}", c.name, c.version);
        let checksum = c.checksum.as_deref().ok_or_else(|| {
            audit_error(format!(
                "{id} from {server} has no checksum in the lockfile"
            ))
        })?;
        let doc = get(
            client,
            &format!("{server}/api/v1/crates/{}/{}/integrity", c.name, c.version),
            token,
            "fetching the integrity record",
        )
        .await?;
        let signed = verify_record(doc["jws"].as_str().unwrap_or(""), &keys)
            .map_err(|e| audit_error(format!("{id}: the record does not verify: {e}")))?;
        let record = signed.record();
        let want = Subject::Package {
            name: format!("cargo:{}", c.name),
        };
        if record.subject != want || record.version != c.version {
            return Err(audit_error(format!(
                "{id}: the registry answered the record of {:?} version {}",
                record.subject, record.version
            )));
        }
        let signed_sum = record
            .assets
            .first()
            .map(|a| hex::encode(a.sha256))
            .unwrap_or_default();
        if signed_sum != checksum {
            return Err(audit_error(format!(
                "{id}: Cargo.lock says checksum {checksum}, the registry's signed record says {signed_sum}"
            )));
        }
        // The provenance the record commits to: who published, from which CI run.
        let versions = get(
            client,
            &format!("{server}/api/v1/crates/{}/versions", c.name),
            token,
            "fetching the versions",
        )
        .await?;
        let provenance = versions["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["num"] == c.version.as_str())
            .and_then(|v| v["vouch_provenance"].as_str())
            .unwrap_or("")
            .to_owned();
        let digest: [u8; 32] = Sha256::digest(provenance.as_bytes()).into();
        if digest != record.manifest_sha256 {
            return Err(audit_error(format!(
                "{id}: the provenance the registry serves is not the one its signed record commits to"
            )));
        }
        let prov: Value = serde_json::from_str(&provenance).unwrap_or(Value::Null);
        if prov["cksum"] != checksum {
            return Err(audit_error(format!(
                "{id}: the signed provenance names checksum {}, Cargo.lock {checksum}",
                prov["cksum"]
            )));
        }
        let tp = &prov["published_by"]["trusted_publishing"];
        let publisher = if tp.is_object() {
            format!(
                "trusted publishing: {} {} {}",
                tp["provider"].as_str().unwrap_or("?"),
                tp["repository"].as_str().unwrap_or("?"),
                tp["workflow"].as_str().unwrap_or("?")
            )
        } else {
            format!(
                "user {}",
                prov["published_by"]["user"]["login"]
                    .as_str()
                    .unwrap_or("?")
            )
        };
        let index = doc["log_index"]
            .as_u64()
            .ok_or_else(|| audit_error(format!("{id}: the record has no log_index")))?;
        if first_checkpoint.is_empty() {
            first_checkpoint = doc["inclusion_proof"]["checkpoint"]
                .as_str()
                .unwrap_or("")
                .to_owned();
        }
        leaves.push(Leaf {
            id: id.clone(),
            index,
            hash: log_leaf_hash(signed.jws()),
        });
        audited.push(AuditedCrate {
            name: c.name.clone(),
            version: c.version.clone(),
            server: server.to_owned(),
            checksum: checksum.to_owned(),
            log_index: index,
            publisher,
        });
    }
    Ok((audited, leaves, first_checkpoint))
}

fn save_state(path: &Path, state: &State) -> Result<()> {
    let io = |e: std::io::Error| {
        local(
            vouch_api_client::codes::CLI_FAILED,
            format!("writing {}: {e}", path.display()),
        )
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let body = serde_json::to_vec_pretty(state).map_err(|e| {
        local(
            vouch_api_client::codes::CLI_FAILED,
            format!("encoding the audit state: {e}"),
        )
    })?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, &body).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
