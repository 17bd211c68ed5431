//! `vouch audit transparency`: re-proves every locked entry against the registry's log
//! (inclusion at the log's current checkpoint, and that checkpoint's consistency with the
//! last one the lockfile stored), then stores the new checkpoint. Also used by
//! `vouch fetch` to prove a fresh entry before locking it.
//!
//! Any disagreement (bad signature on either checkpoint, a rollback, a fork, a failed
//! consistency or inclusion proof) is `AUDIT_E001`, exit 1: do not install.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;
use vouch_tiles_client::{MonitorState, TileClient};
use vouch_tlog::{Hash, SignedCheckpoint, Verifier as NoteVerifier};

use super::registry_api::{runtime, unreachable};
use crate::lockfile::{Lockfile, ServerEntry, DEFAULT_LOCKFILE};
use crate::output::{clean, print_json, CodedError, Exit};

/// Prove each locked entry's inclusion in its registry's transparency log, and the log's
/// consistency with the checkpoint stored in the lockfile; then store the new checkpoint.
///
/// The checkpoint must be signed by the log key pinned in the lockfile when the first
/// package from that registry was fetched. Exit 0 when everything held, 1 with
/// AUDIT_E001 when the log disagrees with the lockfile (a fork, a rollback, an entry that
/// is not where the lockfile says): do not install in that case.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lockfile to audit.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

/// One entry to prove: its display name, log index and leaf hash.
pub struct Leaf {
    pub id: String,
    pub index: u64,
    pub hash: Hash,
}

pub fn audit_error(msg: String) -> anyhow::Error {
    CodedError::new("AUDIT_E001", Exit::VerifyFailed, msg).into()
}

fn client_error(what: &str, url: &str, e: vouch_tiles_client::Error) -> anyhow::Error {
    match e {
        vouch_tiles_client::Error::Http { .. } => unreachable(what, url, &e).into(),
        other => audit_error(format!("{what}: {other}")),
    }
}

/// Fetches the log's checkpoint (signed by the pinned key), checks it against the stored
/// one (`server.checkpoint`, empty for none) and proves every leaf's inclusion in it.
/// Returns the new checkpoint for the caller to store.
pub async fn prove(server: &ServerEntry, leaves: &[Leaf]) -> anyhow::Result<SignedCheckpoint> {
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
        let (id, index, hash, proof) = done.context("an inclusion-proof task failed")?;
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

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let mut lock = Lockfile::load(&args.lockfile)?;
    let rt = runtime()?;
    let mut reports = Vec::new();
    let mut failure = None;
    let servers = lock.servers.clone();
    for server in &servers {
        let leaves = leaves_for(&lock, &server.url)?;
        let old_size = stored_size(server);
        match rt.block_on(prove(server, &leaves)) {
            Ok(cp) => {
                let mut updated = server.clone();
                updated.checkpoint = cp.to_note_string();
                lock.upsert_server(updated);
                reports.push(json!({
                    "server": server.url, "ok": true, "entries": leaves.len(),
                    "old_size": old_size, "new_size": cp.checkpoint.size,
                    "root": cp.checkpoint.root.to_hex(),
                }));
            }
            Err(e) => {
                reports.push(json!({
                    "server": server.url, "ok": false, "entries": leaves.len(),
                    "error": format!("{e:#}"),
                }));
                failure.get_or_insert(e);
            }
        }
    }
    let orphans: Vec<String> = lock
        .packages
        .iter()
        .filter(|p| lock.server(&p.server).is_none())
        .map(|p| p.id())
        .collect();
    if failure.is_none() {
        if let Some(first) = orphans.first() {
            failure = Some(audit_error(format!(
                "{first} names server {} which has no [[server]] table (no pinned log key)",
                lock.packages
                    .iter()
                    .find(|p| &p.id() == first)
                    .map_or("?", |p| p.server.as_str())
            )));
        }
    }
    if failure.is_none() {
        lock.save(&args.lockfile)?;
    }
    if args.json {
        print_json(&json!({
            "lockfile": args.lockfile.display().to_string(),
            "ok": failure.is_none(),
            "code": failure.as_ref().map(|_| "AUDIT_E001"),
            "servers": reports,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for r in &reports {
            if r["ok"] == true {
                writeln!(
                    out,
                    "ok    {}: {} entries included at size {}, consistent with size {}",
                    clean(r["server"].as_str().unwrap_or("")),
                    r["entries"],
                    r["new_size"],
                    r["old_size"]
                )?;
            } else {
                writeln!(out, "FAIL  {}", clean(r["server"].as_str().unwrap_or("")))?;
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(Exit::Ok),
    }
}

fn stored_size(server: &ServerEntry) -> u64 {
    vouch_tlog::checkpoint::parse_unverified(server.checkpoint.as_bytes())
        .map(|(cp, _)| cp.size)
        .unwrap_or(0)
}

fn leaves_for(lock: &Lockfile, server: &str) -> anyhow::Result<Vec<Leaf>> {
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
