//! `audit transparency`: re-proves locked entries against their registry's log
//! (inclusion at the log's current checkpoint, and that checkpoint's consistency with
//! the last one the lockfile stored). [`prove`] is also how a fetch proves a fresh entry
//! before locking it.
//!
//! Any disagreement (bad signature on either checkpoint, a rollback, a fork, a failed
//! consistency or inclusion proof) is `AUDIT_E001`, a refusal: do not install.

use std::path::Path;

use serde_json::json;

use vouch_api_client::{unreachable, CodedError, Result};
use vouch_tiles_client::{MonitorState, TileClient};
use vouch_tlog::{Hash, SignedCheckpoint, Verifier as NoteVerifier};

use crate::fetch::{root_digest, same_root};
use crate::lockfile::{base_dir, Lockfile, ServerEntry};

/// One entry to prove: its display name, log index and leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub id: String,
    pub index: u64,
    pub hash: Hash,
}

/// The `AUDIT_E001` refusal.
pub fn audit_error(msg: String) -> CodedError {
    CodedError::refused(vouch_tiles_client::ops::AUDIT_LOG_MISBEHAVED, msg)
}

fn client_error(what: &str, url: &str, e: vouch_tiles_client::Error) -> CodedError {
    match e {
        vouch_tiles_client::Error::Http { .. } => unreachable(what, url, &e),
        other => audit_error(format!("{what}: {other}")),
    }
}

/// Fetches the log's checkpoint (signed by the pinned key), checks it against the stored
/// one (`server.checkpoint`, empty for none) and proves every leaf's inclusion in it.
/// Returns the new checkpoint for the caller to store.
pub async fn prove(server: &ServerEntry, leaves: &[Leaf]) -> Result<SignedCheckpoint> {
    let key = NoteVerifier::parse(server.log_key.trim()).map_err(|e| {
        audit_error(format!(
            "the log key pinned for {} is unusable: {e}",
            server.url
        ))
    })?;
    let keys = std::slice::from_ref(&key);
    let client = TileClient::new(&server.log_url)
        .map_err(|e| client_error("opening the log", &server.log_url, e))?;
    let new = client
        .checkpoint(&server.log_origin, keys)
        .await
        .map_err(|e| client_error("the log's checkpoint", &server.log_url, e))?;
    if !server.checkpoint.trim().is_empty() {
        let old = vouch_tlog::open_checkpoint(server.checkpoint.as_bytes(), &server.log_origin, keys)
            .map_err(|e| {
                audit_error(format!(
                    "the checkpoint stored in the lockfile for {} does not verify with the pinned log key: {e}",
                    server.url
                ))
            })?;
        let state = MonitorState::from_checkpoint(&old);
        let (o, n) = (old.checkpoint.size, new.checkpoint.size);
        let proof = if n > o && o > 0 {
            client
                .consistency_proof(o, n)
                .await
                .map_err(|e| client_error("the consistency proof", &server.log_url, e))?
        } else {
            Vec::new()
        };
        state.check_next(&new, &proof).map_err(|e| {
            audit_error(format!(
                "{}'s log disagrees with the checkpoint the lockfile stored: {e}",
                server.url
            ))
        })?;
    }
    let (size, root) = (new.checkpoint.size, new.checkpoint.root);
    let mut tasks = tokio::task::JoinSet::new();
    for leaf in leaves {
        if leaf.index >= size {
            return Err(audit_error(format!(
                "{} is locked at log index {} but the log's checkpoint has only {size} entries",
                leaf.id, leaf.index
            )));
        }
        let (client, index, hash, id) = (client.clone(), leaf.index, leaf.hash, leaf.id.clone());
        tasks.spawn(async move {
            let proof = client.inclusion_proof(index, size).await;
            (id, index, hash, proof)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (id, index, hash, proof) =
            done.map_err(|e| audit_error(format!("an inclusion-proof task failed: {e}")))?;
        let proof = proof.map_err(|e| client_error("an inclusion proof", &server.log_url, e))?;
        vouch_tlog::verify_inclusion(index, size, &hash, &proof, &root).map_err(|e| {
            audit_error(format!(
                "{id} is not at log index {index} of {}'s log (checkpoint size {size}): {e}",
                server.url
            ))
        })?;
    }
    Ok(new)
}

/// What the transparency audit found for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReport {
    pub server: String,
    pub entries: usize,
    /// The new checkpoint's size and root (hex) when everything held; the error otherwise.
    pub outcome: std::result::Result<(u64, String), CodedError>,
    /// The size of the checkpoint the lockfile stored before.
    pub old_size: u64,
}

/// The whole transparency audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransparencyReport {
    pub servers: Vec<ServerReport>,
    /// The first failure (a server's, or an entry naming a server without a pinned log
    /// key); `None` when everything held and the lockfile was updated.
    pub failure: Option<CodedError>,
}

impl TransparencyReport {
    /// The report as `vouch audit transparency --json` prints it.
    pub fn to_json(&self, lockfile: &Path) -> serde_json::Value {
        let servers: Vec<_> = (self.servers.iter())
            .map(|r| match &r.outcome {
                Ok((size, root)) => json!({
                    "server": r.server, "ok": true, "entries": r.entries,
                    "old_size": r.old_size, "new_size": size, "root": root,
                }),
                Err(e) => json!({
                    "server": r.server, "ok": false, "entries": r.entries,
                    "error": e.to_string(),
                }),
            })
            .collect();
        json!({
            "lockfile": lockfile.display().to_string(),
            "ok": self.failure.is_none(),
            "code": self.failure.as_ref().map(|_| vouch_tiles_client::ops::AUDIT_LOG_MISBEHAVED),
            "servers": servers,
        })
    }

    /// One line per registry: what held, or `FAIL` (the failure is the command's error).
    pub fn lines(&self) -> Vec<String> {
        (self.servers.iter())
            .map(|r| match &r.outcome {
                Ok((size, _)) => format!(
                    "ok    {}: {} entries included at size {size}, consistent with size {}",
                    r.server, r.entries, r.old_size
                ),
                Err(_) => format!("FAIL  {}", r.server),
            })
            .collect()
    }
}

/// Proves every locked entry against its registry's log and, when everything held,
/// stores each registry's new checkpoint in the lockfile. A failure is reported in the
/// [`TransparencyReport`] (with the lockfile left untouched); `Err` is for a lockfile
/// that cannot be read or written, or an entry whose leaf hash is not a hash.
pub async fn audit_transparency(lockfile: &Path) -> Result<TransparencyReport> {
    let mut lock = Lockfile::load(lockfile)?;
    let mut servers = Vec::new();
    let mut failure = None;
    for server in lock.servers.clone() {
        let leaves = leaves_for(&lock, &server.url)?;
        let old_size = stored_size(&server);
        let proved = match check_root(&server, &base_dir(lockfile)).await {
            Ok(()) => prove(&server, &leaves).await,
            Err(e) => Err(e),
        };
        let outcome = match proved {
            Ok(cp) => {
                let mut updated = server.clone();
                updated.checkpoint = cp.to_note_string();
                lock.upsert_server(updated);
                Ok((cp.checkpoint.size, cp.checkpoint.root.to_hex()))
            }
            Err(e) => {
                failure.get_or_insert(e.clone());
                Err(e)
            }
        };
        servers.push(ServerReport {
            server: server.url.clone(),
            entries: leaves.len(),
            outcome,
            old_size,
        });
    }
    if failure.is_none() {
        if let Some(orphan) = lock
            .packages
            .iter()
            .find(|p| lock.server(&p.server).is_none())
        {
            failure = Some(audit_error(format!(
                "{} names server {} which has no [[server]] table (no pinned log key)",
                orphan.id(),
                orphan.server
            )));
        }
    }
    if failure.is_none() {
        lock.save(lockfile)?;
    }
    Ok(TransparencyReport { servers, failure })
}

/// `AUDIT_E003` when the registry now serves a trusted root other than the one the
/// lockfile recorded (or the cached copy no longer has the recorded digest). Lockfiles
/// written before the digest was recorded are not checked.
async fn check_root(server: &ServerEntry, dir: &Path) -> Result<()> {
    let Some(recorded) = &server.trusted_root_sha256 else {
        return Ok(());
    };
    let changed =
        |msg: String| CodedError::refused(vouch_tiles_client::ops::AUDIT_ROOT_CHANGED, msg);
    let path = dir.join(&server.trusted_root);
    let cached = std::fs::read(&path)
        .map_err(|e| CodedError::error("LOCK_E001", format!("reading {}: {e}", path.display())))?;
    if root_digest(&cached) != *recorded {
        return Err(changed(format!(
            "expected the cached trusted root {} to be {recorded}, found {}",
            path.display(),
            root_digest(&cached)
        )));
    }
    let served = vouch_api_client::trusted_root(&vouch_api_client::http()?, &server.url).await?;
    if !same_root(&cached, &served) {
        return Err(changed(format!(
            "{} now serves another trusted root ({}) than the lockfile recorded ({recorded}): \
             review the rotation, then fetch again (--instance URL or --trusted-root FILE pins the new one)",
            server.url,
            root_digest(&served)
        )));
    }
    Ok(())
}

fn stored_size(server: &ServerEntry) -> u64 {
    vouch_tlog::checkpoint::parse_unverified(server.checkpoint.as_bytes())
        .map(|(cp, _)| cp.size)
        .unwrap_or(0)
}

/// The leaves locked for `server`.
pub fn leaves_for(lock: &Lockfile, server: &str) -> Result<Vec<Leaf>> {
    lock.packages
        .iter()
        .filter(|p| p.server == server)
        .map(|p| {
            let hash = Hash::from_hex(&p.leaf_hash).map_err(|e| {
                audit_error(format!("{}: locked leaf_hash is not a hash: {e}", p.id()))
            })?;
            Ok(Leaf {
                id: p.id(),
                index: p.log_index,
                hash,
            })
        })
        .collect()
}
