//! The `vouch log` operations as library calls: each takes the log's URL and the keys to
//! trust, does the whole check, and returns what it verified as data, or a
//! [`CodedError`] whose code says what failed (LOG_E001 checkpoint, LOG_E002 proof,
//! LOG_E003 witness quorum, LOG_E004 log unreachable, LOG_E005 invalid input, AUDIT_E001
//! the log disagrees with what was seen before).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use vouch_api_client::CodedError;
use vouch_tlog::{leaf_hash, Error as TlogError, Hash, SignedCheckpoint, TlogProof, Verifier};

use crate::monitor::{check_witnesses, poll, MonitorState, Observation, Step};
use crate::{Error, TileClient};

/// The result type of the operations.
pub type Result<T, E = CodedError> = std::result::Result<T, E>;

/// LOG_E002: an inclusion or consistency proof does not verify.
pub const LOG_PROOF_INVALID: &str = "LOG_E002";

/// AUDIT_E001: a log disagrees with what was seen before (a fork, a rollback, an
/// inconsistent checkpoint): do not trust it. The `AUDIT_E` codes are defined here, the
/// lowest crate that reports one (the consumer's audits and the binary use them).
pub const AUDIT_LOG_MISBEHAVED: &str = "AUDIT_E001";
/// AUDIT_E002: `audit signatures` found lockfile entries that did not verify.
pub const AUDIT_UNVERIFIED: &str = "AUDIT_E002";
/// AUDIT_E003: a registry now serves a trusted root other than the one the lockfile
/// recorded (a rotation to review, or a substituted root).
pub const AUDIT_ROOT_CHANGED: &str = "AUDIT_E003";

/// Invalid input (LOG_E005).
pub fn input_error(msg: impl Into<String>) -> CodedError {
    CodedError::error("LOG_E005", msg)
}

/// What failed to verify decides LOG_E001/2/3; anything else is invalid input.
pub fn tlog_error(e: &TlogError) -> CodedError {
    let code = match e {
        TlogError::QuorumNotMet { .. } => "LOG_E003",
        TlogError::RootMismatch { .. }
        | TlogError::ProofLength { .. }
        | TlogError::IndexOutOfRange { .. }
        | TlogError::EmptyTreeConsistency
        | TlogError::SizeOrder { .. } => LOG_PROOF_INVALID,
        TlogError::NoVerifiedSignature
        | TlogError::SignatureInvalid { .. }
        | TlogError::OriginMismatch { .. }
        | TlogError::Checkpoint { .. }
        | TlogError::NoteMalformed { .. }
        | TlogError::NoteControlCharacter { .. }
        | TlogError::NoteNotUtf8 { .. }
        | TlogError::NoteTooLarge { .. }
        | TlogError::TooManySignatures { .. } => "LOG_E001",
        _ => return input_error(e.to_string()),
    };
    CodedError::refused(code, e.to_string())
}

impl From<Error> for CodedError {
    fn from(e: Error) -> Self {
        match &e {
            e if e.is_log_misbehaviour() => {
                CodedError::refused(AUDIT_LOG_MISBEHAVED, format!("{e}: do not trust this log"))
            }
            Error::Tlog(t) => tlog_error(t),
            Error::Http { .. }
            | Error::Status { .. }
            | Error::TooLarge { .. }
            | Error::Url { .. } => CodedError::error("LOG_E004", e.to_string()),
            _ => input_error(e.to_string()),
        }
    }
}

/// The keys to trust: the log's, its origin, and a witness quorum.
#[derive(Debug, Clone)]
pub struct Trust {
    pub log_key: Verifier,
    pub origin: String,
    pub witnesses: Vec<Verifier>,
    pub quorum: usize,
}

impl Trust {
    /// From vkey strings; `origin` defaults to the key's name, `quorum` to every witness.
    pub fn parse(
        key: &str,
        origin: Option<&str>,
        witnesses: &[String],
        quorum: Option<usize>,
    ) -> Result<Self> {
        let log_key =
            Verifier::parse(key.trim()).map_err(|e| input_error(format!("--key: {e}")))?;
        let witnesses = witnesses
            .iter()
            .map(|w| {
                Verifier::parse(w.trim()).map_err(|e| input_error(format!("--witness {w:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let quorum = quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            return Err(input_error(format!(
                "--quorum {quorum} is more than the {} --witness keys given",
                witnesses.len()
            )));
        }
        let origin = origin.map_or_else(|| log_key.name().to_owned(), str::to_owned);
        Ok(Trust {
            log_key,
            origin,
            witnesses,
            quorum,
        })
    }

    /// Opens a signed checkpoint note with the log key and this origin.
    pub fn open_checkpoint(&self, note: &[u8]) -> Result<SignedCheckpoint> {
        vouch_tlog::open_checkpoint(note, &self.origin, std::slice::from_ref(&self.log_key))
            .map_err(|e| tlog_error(&e))
    }
}

/// A leaf to check: the entry's bytes from a file, or its RFC 9162 leaf hash in hex.
pub fn given_leaf(entry: Option<&Path>, hex: Option<&str>) -> Result<Option<Hash>> {
    if let Some(p) = entry {
        let bytes =
            std::fs::read(p).map_err(|e| input_error(format!("reading {}: {e}", p.display())))?;
        return Ok(Some(leaf_hash(&bytes)));
    }
    hex.map(|h| Hash::from_hex(h.trim()).map_err(|e| input_error(format!("--leaf-hash: {e}"))))
        .transpose()
}

/// A verified checkpoint and how many witness cosignatures verified on it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub checkpoint: SignedCheckpoint,
    pub cosignatures: usize,
}

/// A verified checkpoint as `vouch log --json` reports it: origin, size, root (hex and
/// base64) and the cosignatures of `witnesses` that verify on it.
pub fn checkpoint_json(cp: &SignedCheckpoint, witnesses: &[Verifier]) -> Value {
    let cosigs: Vec<_> = vouch_tlog::verify_cosignatures(&cp.note.note, witnesses)
        .unwrap_or_default()
        .iter()
        .map(|s| json!({"name": s.verifier.name(), "key_id": format!("{:08x}", s.verifier.key_id()), "timestamp": s.timestamp}))
        .collect();
    json!({
        "origin": cp.checkpoint.origin,
        "size": cp.checkpoint.size,
        "root": cp.checkpoint.root.to_hex(),
        "root_base64": cp.checkpoint.root.to_base64(),
        "cosignatures": cosigs,
    })
}

fn proof_json(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(Hash::to_base64).collect()
}

/// Fetches the checkpoint and verifies it (log key, origin, witness quorum).
pub async fn checkpoint(client: &TileClient, t: &Trust) -> Result<Checked> {
    let checkpoint = client
        .checkpoint(&t.origin, std::slice::from_ref(&t.log_key))
        .await?;
    let cosignatures = check_witnesses(&checkpoint.note, &t.witnesses, t.quorum)?;
    Ok(Checked {
        checkpoint,
        cosignatures,
    })
}

/// An entry proven to be in the current tree.
#[derive(Debug, Clone)]
pub struct Included {
    pub index: u64,
    pub size: u64,
    pub root: Hash,
    pub leaf: Hash,
    pub proof: Vec<Hash>,
    pub checkpoint: SignedCheckpoint,
}

impl Included {
    /// As `vouch log inclusion --json` reports it.
    pub fn to_json(&self) -> Value {
        json!({
            "verified": true, "index": self.index, "size": self.size, "root": self.root.to_hex(),
            "leaf_hash": self.leaf.to_hex(), "proof": proof_json(&self.proof),
        })
    }
}

/// Proves that entry `index` (with leaf hash `leaf`, default: the log's own entry) is in
/// the log's current tree.
pub async fn inclusion(
    client: &TileClient,
    t: &Trust,
    index: u64,
    leaf: Option<Hash>,
) -> Result<Included> {
    let cp = tree_holding(client, t, index).await?;
    let size = cp.checkpoint.size;
    let leaf = match leaf {
        Some(l) => l,
        None => leaf_hash(&client.entry(index, size).await?),
    };
    let proof = client.inclusion_proof(index, size).await?;
    Included::verified(index, leaf, proof, cp)
}

/// The log's current checkpoint (verified), which must hold entry `index`.
async fn tree_holding(client: &TileClient, t: &Trust, index: u64) -> Result<SignedCheckpoint> {
    let cp = checkpoint(client, t).await?.checkpoint;
    let size = cp.checkpoint.size;
    if index >= size {
        return Err(tlog_error(&TlogError::IndexOutOfRange { index, size }));
    }
    Ok(cp)
}

impl Included {
    /// `leaf` at `index`, once `proof` leads from it to the root of `checkpoint`.
    fn verified(
        index: u64,
        leaf: Hash,
        proof: Vec<Hash>,
        checkpoint: SignedCheckpoint,
    ) -> Result<Self> {
        let (size, root) = (checkpoint.checkpoint.size, checkpoint.checkpoint.root);
        vouch_tlog::verify_inclusion(index, size, &leaf, &proof, &root)
            .map_err(|e| tlog_error(&e))?;
        Ok(Included {
            index,
            size,
            root,
            leaf,
            proof,
            checkpoint,
        })
    }
}

/// The older tree of a consistency check: from a signed checkpoint file (verified with
/// the log key), or from a size and a hex root. Returns size, root and the note (empty
/// without a file).
pub fn old_tree(
    t: &Trust,
    checkpoint: Option<&Path>,
    size_root: Option<(u64, &str)>,
) -> Result<(u64, Hash, String)> {
    match (checkpoint, size_root) {
        (Some(p), _) => {
            let bytes = std::fs::read(p)
                .map_err(|e| input_error(format!("reading {}: {e}", p.display())))?;
            let cp = t.open_checkpoint(&bytes)?;
            Ok((cp.checkpoint.size, cp.checkpoint.root, cp.to_note_string()))
        }
        (None, Some((size, root))) => {
            let root =
                Hash::from_hex(root.trim()).map_err(|e| input_error(format!("--old-root: {e}")))?;
            Ok((size, root, String::new()))
        }
        (None, None) => Err(input_error(
            "give --old-checkpoint FILE, or --old-size N with --old-root HEX",
        )),
    }
}

/// An older tree proven to be a prefix of the current one.
#[derive(Debug, Clone)]
pub struct Consistent {
    pub old_size: u64,
    pub old_root: Hash,
    pub size: u64,
    pub root: Hash,
    pub proof: Vec<Hash>,
}

impl Consistent {
    /// As `vouch log consistency --json` reports it.
    pub fn to_json(&self) -> Value {
        json!({
            "verified": true, "old_size": self.old_size, "old_root": self.old_root.to_hex(),
            "size": self.size, "root": self.root.to_hex(), "proof": proof_json(&self.proof),
        })
    }
}

/// Proves that the tree of `old_size` with `old_root` is a prefix of the current tree;
/// `old_note` is the older signed checkpoint, if there is one.
pub async fn consistency(
    client: &TileClient,
    t: &Trust,
    old_size: u64,
    old_root: Hash,
    old_note: String,
) -> Result<Consistent> {
    let cp = checkpoint(client, t).await?.checkpoint;
    let size = cp.checkpoint.size;
    let proof = if old_size > 0 && size > old_size {
        client.consistency_proof(old_size, size).await?
    } else {
        Vec::new()
    };
    let old = MonitorState {
        origin: t.origin.clone(),
        size: old_size,
        root: old_root.to_hex(),
        checkpoint: old_note,
    };
    old.check_next(&cp, &proof)?;
    Ok(Consistent {
        old_size,
        old_root,
        size,
        root: cp.checkpoint.root,
        proof,
    })
}

/// A tlog-proof file for entry `index`, checked against the log's own leaf before it is
/// returned; `extra` is the opaque application data line, in base64 (`--extra`).
pub async fn proof(
    client: &TileClient,
    t: &Trust,
    index: u64,
    extra: Option<&str>,
) -> Result<(TlogProof, Included)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let extra = extra.map(|b| b64.decode(b.trim())).transpose();
    let extra = extra.map_err(|e| input_error(format!("--extra: {e}")))?;
    let cp = tree_holding(client, t, index).await?;
    let size = cp.checkpoint.size;
    let proof = client.inclusion_proof(index, size).await?;
    // Check before returning: the leaf hash the log's own tiles hold at INDEX.
    let leaf = client.leaf_hash(index, size).await?;
    let included = Included::verified(index, leaf, proof, cp)?;
    let file = TlogProof {
        extra,
        index,
        proof: included.proof.clone(),
        checkpoint: included.checkpoint.to_note_string(),
    };
    Ok((file, included))
}

/// Verifies a tlog-proof file offline against `leaf` and the trusted keys.
pub fn verify_proof(path: &Path, leaf: &Hash, t: &Trust) -> Result<(TlogProof, Checked)> {
    let bytes =
        std::fs::read(path).map_err(|e| input_error(format!("reading {}: {e}", path.display())))?;
    let file =
        TlogProof::parse(&bytes).map_err(|e| input_error(format!("{}: {e}", path.display())))?;
    let v = file
        .verify(
            leaf,
            &t.origin,
            std::slice::from_ref(&t.log_key),
            &t.witnesses,
            t.quorum,
        )
        .map_err(|e| tlog_error(&e))?;
    let checked = Checked {
        checkpoint: v.checkpoint,
        cosignatures: v.cosignatures.len(),
    };
    Ok((file, checked))
}

/// How a monitor runs.
#[derive(Debug, Clone)]
pub struct MonitorPlan {
    /// The state file (created on first run, replaced atomically).
    pub state: PathBuf,
    pub interval: Duration,
    /// Stop after this many checks (`None`: run until stopped).
    pub iterations: Option<u64>,
}

/// What a monitor saw over its whole run.
#[derive(Debug, Clone)]
pub struct Monitored {
    pub checks: u64,
    pub observations: Vec<Observation>,
    pub state: Option<MonitorState>,
}

/// Follows the log: every new checkpoint must be consistent with the last one seen.
/// `on_step` hears each verified step after its state is persisted, and may end the run
/// early (`ControlFlow::Break`: the caller can no longer report). A fork, rollback or
/// failed verification ends the run at once; a network failure is retried at the next
/// interval and returned only if the last check failed.
pub async fn monitor(
    client: &TileClient,
    t: &Trust,
    plan: &MonitorPlan,
    on_step: &mut dyn FnMut(&Step) -> std::ops::ControlFlow<()>,
) -> Result<Monitored> {
    let mut observations = Vec::new();
    let mut last_error: Option<CodedError>;
    let mut checks: u64 = 0;
    loop {
        checks += 1;
        let prev = MonitorState::load(&plan.state)?;
        let keys = std::slice::from_ref(&t.log_key);
        match poll(
            client,
            &t.origin,
            keys,
            &t.witnesses,
            t.quorum,
            prev.as_ref(),
        )
        .await
        {
            Ok(step) => {
                // Persist before reporting: what was verified is never forgotten.
                step.state.save(&plan.state)?;
                tracing::info!(
                    size = step.checkpoint.checkpoint.size,
                    cosignatures = step.cosignatures,
                    "checkpoint verified"
                );
                observations.push(step.observation);
                last_error = None;
                if on_step(&step).is_break() {
                    let state = Some(step.state);
                    return Ok(Monitored {
                        checks,
                        observations,
                        state,
                    });
                }
            }
            // The state keeps the last good checkpoint as evidence.
            Err(e) if e.is_log_misbehaviour() => return Err(e.into()),
            Err(e) => {
                let err = CodedError::from(e);
                // Verification failures (bad signature, quorum) are verdicts, not blips.
                if err.outcome == vouch_api_client::Outcome::Refused {
                    return Err(err);
                }
                tracing::warn!(error = %err.message, code = %err.code, "monitor check failed; retrying next interval");
                last_error = Some(err);
            }
        }
        if plan.iterations.is_some_and(|n| checks >= n) {
            break;
        }
        tokio::time::sleep(plan.interval).await;
    }
    if let Some(e) = last_error {
        return Err(e);
    }
    let state = MonitorState::load(&plan.state)?;
    Ok(Monitored {
        checks,
        observations,
        state,
    })
}
