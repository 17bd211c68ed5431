//! `vouch log`: read and audit any C2SP tlog-tiles log: checkpoints, inclusion and consistency proofs, tlog-proof files, and a monitor that fails with AUDIT_E001 on a fork or rollback.
//!
//! Error codes (README, "Error codes"): LOG_E001 checkpoint did not verify, LOG_E002 a
//! proof did not verify, LOG_E003 witness quorum not met (all exit 1); LOG_E004 log
//! unreachable or answered unexpectedly, LOG_E005 invalid input (exit 2); AUDIT_E001 the
//! log disagrees with what was seen before (exit 1).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use vouch_tiles_client::monitor::{poll, MonitorState, Observation};
use vouch_tiles_client::{Error as ClientError, TileClient};
use vouch_tlog::{leaf_hash, Error as TlogError, Hash, SignedCheckpoint, TlogProof, Verifier};

use crate::output::{clean, print_json, CodedError, Exit};

/// Read and audit a transparency log served as C2SP tlog-tiles.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Fetch the log's checkpoint and verify its signature (and witness cosignatures).
    Checkpoint(LogOpts),
    /// Prove that entry INDEX is in the log's current tree.
    Inclusion(InclusionArgs),
    /// Prove that an older checkpoint is a prefix of the log's current tree.
    Consistency(ConsistencyArgs),
    /// Write a c2sp.org/tlog-proof@v1 file for entry INDEX to stdout.
    Proof(ProofArgs),
    /// Verify a tlog-proof file offline against an entry and the trusted keys.
    VerifyProof(VerifyProofArgs),
    /// Follow a log: check every new checkpoint is consistent with the last one seen.
    Monitor(MonitorArgs),
}

/// Which log to talk to and which keys to trust.
#[derive(Debug, clap::Args)]
struct LogOpts {
    /// URL prefix of the log (where `checkpoint` and `tile/` are served).
    #[arg(long, value_name = "URL")]
    url: String,
    #[command(flatten)]
    trust: TrustOpts,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Trusted keys, shared by the online commands and `verify-proof`.
#[derive(Debug, clap::Args)]
struct TrustOpts {
    /// The log's verifier key: `name+keyid+base64(type||key)` (signed-note vkey).
    #[arg(long, value_name = "VKEY")]
    key: String,
    /// Checkpoint origin line to expect (default: the key's name).
    #[arg(long)]
    origin: Option<String>,
    /// A witness cosigner key (vkey, type 0x04); repeat for several witnesses.
    #[arg(long = "witness", value_name = "VKEY")]
    witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned (default: all of them).
    #[arg(long, value_name = "K")]
    quorum: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct InclusionArgs {
    /// Index of the entry.
    index: u64,
    /// The entry's bytes, to check they are what the log holds at INDEX.
    #[arg(long, value_name = "FILE", conflicts_with = "leaf_hash")]
    entry: Option<PathBuf>,
    /// The entry's RFC 9162 leaf hash in hex, instead of --entry.
    #[arg(long, value_name = "HEX")]
    leaf_hash: Option<String>,
    #[command(flatten)]
    log: LogOpts,
}

#[derive(Debug, clap::Args)]
struct ConsistencyArgs {
    /// An older signed checkpoint of the same log (verified with --key).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["old_size", "old_root"])]
    old_checkpoint: Option<PathBuf>,
    /// Older tree size, with --old-root.
    #[arg(long, requires = "old_root")]
    old_size: Option<u64>,
    /// Older root hash in hex, with --old-size.
    #[arg(long, value_name = "HEX", requires = "old_size")]
    old_root: Option<String>,
    #[command(flatten)]
    log: LogOpts,
}

#[derive(Debug, clap::Args)]
struct ProofArgs {
    /// Index of the entry.
    index: u64,
    /// Opaque application data for the `extra` line, as base64.
    #[arg(long, value_name = "BASE64")]
    extra: Option<String>,
    #[command(flatten)]
    log: LogOpts,
}

#[derive(Debug, clap::Args)]
struct VerifyProofArgs {
    /// The .tlog-proof file.
    proof: PathBuf,
    /// The entry's bytes.
    #[arg(long, value_name = "FILE", conflicts_with = "leaf_hash")]
    entry: Option<PathBuf>,
    /// The entry's leaf hash in hex, instead of --entry.
    #[arg(long, value_name = "HEX", required_unless_present = "entry")]
    leaf_hash: Option<String>,
    #[command(flatten)]
    trust: TrustOpts,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct MonitorArgs {
    /// File holding what the monitor has seen (created on first run, replaced atomically).
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// Check once and exit.
    #[arg(long, conflicts_with = "iterations")]
    once: bool,
    /// Seconds between checks.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    interval: u64,
    /// Stop after this many checks (default: run until stopped).
    #[arg(long, value_name = "N")]
    iterations: Option<u64>,
    #[command(flatten)]
    log: LogOpts,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match args.command {
            Command::Checkpoint(a) => checkpoint(a).await,
            Command::Inclusion(a) => inclusion(a).await,
            Command::Consistency(a) => consistency(a).await,
            Command::Proof(a) => proof(a).await,
            Command::VerifyProof(a) => verify_proof(a),
            Command::Monitor(a) => monitor(a).await,
        }
    })
}

fn input_error(msg: impl Into<String>) -> anyhow::Error {
    CodedError::new("LOG_E005", Exit::Error, msg).into()
}

/// Maps a core error to its code: what failed to verify decides LOG_E001/2/3.
fn tlog_error(e: &TlogError) -> CodedError {
    let (code, exit) = match e {
        TlogError::QuorumNotMet { .. } => ("LOG_E003", Exit::VerifyFailed),
        TlogError::RootMismatch { .. }
        | TlogError::ProofLength { .. }
        | TlogError::IndexOutOfRange { .. }
        | TlogError::EmptyTreeConsistency
        | TlogError::SizeOrder { .. } => ("LOG_E002", Exit::VerifyFailed),
        TlogError::NoVerifiedSignature
        | TlogError::SignatureInvalid { .. }
        | TlogError::OriginMismatch { .. }
        | TlogError::Checkpoint { .. }
        | TlogError::NoteMalformed { .. }
        | TlogError::NoteControlCharacter { .. }
        | TlogError::NoteNotUtf8 { .. }
        | TlogError::NoteTooLarge { .. }
        | TlogError::TooManySignatures { .. } => ("LOG_E001", Exit::VerifyFailed),
        _ => ("LOG_E005", Exit::Error),
    };
    CodedError::new(code, exit, e.to_string())
}

fn client_error(e: ClientError) -> anyhow::Error {
    let coded = match &e {
        e if e.is_log_misbehaviour() => CodedError::new(
            "AUDIT_E001",
            Exit::VerifyFailed,
            format!("{e}: do not trust this log"),
        ),
        ClientError::Tlog(t) => tlog_error(t),
        ClientError::Http { .. }
        | ClientError::Status { .. }
        | ClientError::TooLarge { .. }
        | ClientError::Url { .. } => CodedError::new("LOG_E004", Exit::Error, e.to_string()),
        _ => CodedError::new("LOG_E005", Exit::Error, e.to_string()),
    };
    coded.into()
}

/// Parsed trust configuration.
struct Trust {
    log_key: Verifier,
    origin: String,
    witnesses: Vec<Verifier>,
    quorum: usize,
}

impl TrustOpts {
    fn parse(&self) -> anyhow::Result<Trust> {
        let log_key =
            Verifier::parse(self.key.trim()).map_err(|e| input_error(format!("--key: {e}")))?;
        let witnesses = self
            .witnesses
            .iter()
            .map(|w| {
                Verifier::parse(w.trim()).map_err(|e| input_error(format!("--witness {w:?}: {e}")))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let quorum = self.quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            return Err(input_error(format!(
                "--quorum {quorum} is more than the {} --witness keys given",
                witnesses.len()
            )));
        }
        Ok(Trust {
            origin: self
                .origin
                .clone()
                .unwrap_or_else(|| log_key.name().to_owned()),
            log_key,
            witnesses,
            quorum,
        })
    }
}

/// Fetches and verifies the checkpoint (log key, origin, witness quorum).
async fn fetch_checkpoint(
    client: &TileClient,
    t: &Trust,
) -> anyhow::Result<(SignedCheckpoint, usize)> {
    let cp = client
        .checkpoint(&t.origin, std::slice::from_ref(&t.log_key))
        .await
        .map_err(client_error)?;
    let cosigs = vouch_tiles_client::monitor::check_witnesses(&cp.note, &t.witnesses, t.quorum)
        .map_err(client_error)?;
    Ok((cp, cosigs))
}

fn connect(url: &str) -> anyhow::Result<TileClient> {
    TileClient::new(url).map_err(client_error)
}

fn checkpoint_json(cp: &SignedCheckpoint, witnesses: &[Verifier]) -> serde_json::Value {
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

async fn checkpoint(a: LogOpts) -> anyhow::Result<Exit> {
    let t = a.trust.parse()?;
    let client = connect(&a.url)?;
    let (cp, cosigs) = fetch_checkpoint(&client, &t).await?;
    if a.json {
        let mut v = checkpoint_json(&cp, &t.witnesses);
        v["checkpoint"] = json!(cp.to_note_string());
        print_json(&v)?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "origin: {}", clean(&cp.checkpoint.origin))?;
        writeln!(out, "size:   {}", cp.checkpoint.size)?;
        writeln!(out, "root:   {}", cp.checkpoint.root)?;
        writeln!(
            out,
            "verified: log key {}, {cosigs} witness cosignature(s)",
            t.log_key.name()
        )?;
    }
    Ok(Exit::Ok)
}

/// The leaf hash to check: from a file, from hex, or `None` to use the log's own entry.
fn given_leaf(entry: &Option<PathBuf>, hex: &Option<String>) -> anyhow::Result<Option<Hash>> {
    if let Some(p) = entry {
        let bytes =
            std::fs::read(p).map_err(|e| input_error(format!("reading {}: {e}", p.display())))?;
        return Ok(Some(leaf_hash(&bytes)));
    }
    match hex {
        Some(h) => Ok(Some(
            Hash::from_hex(h.trim()).map_err(|e| input_error(format!("--leaf-hash: {e}")))?,
        )),
        None => Ok(None),
    }
}

fn proof_json(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(Hash::to_base64).collect()
}

async fn inclusion(a: InclusionArgs) -> anyhow::Result<Exit> {
    let t = a.log.trust.parse()?;
    let client = connect(&a.log.url)?;
    let (cp, _) = fetch_checkpoint(&client, &t).await?;
    let (size, root) = (cp.checkpoint.size, cp.checkpoint.root);
    if a.index >= size {
        return Err(tlog_error(&TlogError::IndexOutOfRange {
            index: a.index,
            size,
        })
        .into());
    }
    let leaf = match given_leaf(&a.entry, &a.leaf_hash)? {
        Some(l) => l,
        None => leaf_hash(&client.entry(a.index, size).await.map_err(client_error)?),
    };
    let proof = client
        .inclusion_proof(a.index, size)
        .await
        .map_err(client_error)?;
    vouch_tlog::verify_inclusion(a.index, size, &leaf, &proof, &root)
        .map_err(|e| tlog_error(&e))?;
    if a.log.json {
        print_json(&json!({
            "verified": true, "index": a.index, "size": size, "root": root.to_hex(),
            "leaf_hash": leaf.to_hex(), "proof": proof_json(&proof),
        }))?;
    } else {
        writeln!(
            std::io::stdout(),
            "entry {} (leaf {leaf}) is included in tree {size} with root {root}",
            a.index
        )?;
    }
    Ok(Exit::Ok)
}

async fn consistency(a: ConsistencyArgs) -> anyhow::Result<Exit> {
    let t = a.log.trust.parse()?;
    let (old_size, old_root, old_note) = match (&a.old_checkpoint, a.old_size, &a.old_root) {
        (Some(p), _, _) => {
            let bytes = std::fs::read(p)
                .map_err(|e| input_error(format!("reading {}: {e}", p.display())))?;
            let cp =
                vouch_tlog::open_checkpoint(&bytes, &t.origin, std::slice::from_ref(&t.log_key))
                    .map_err(|e| tlog_error(&e))?;
            (cp.checkpoint.size, cp.checkpoint.root, cp.to_note_string())
        }
        (None, Some(s), Some(r)) => {
            let root =
                Hash::from_hex(r.trim()).map_err(|e| input_error(format!("--old-root: {e}")))?;
            (s, root, String::new())
        }
        _ => {
            return Err(input_error(
                "give --old-checkpoint FILE, or --old-size N with --old-root HEX",
            ))
        }
    };
    let client = connect(&a.log.url)?;
    let (cp, _) = fetch_checkpoint(&client, &t).await?;
    let new_size = cp.checkpoint.size;
    let proof = if old_size > 0 && new_size > old_size {
        client
            .consistency_proof(old_size, new_size)
            .await
            .map_err(client_error)?
    } else {
        Vec::new()
    };
    let old = MonitorState {
        origin: t.origin.clone(),
        size: old_size,
        root: old_root.to_hex(),
        checkpoint: old_note,
    };
    old.check_next(&cp, &proof).map_err(client_error)?;
    if a.log.json {
        print_json(&json!({
            "verified": true, "old_size": old_size, "old_root": old_root.to_hex(),
            "size": new_size, "root": cp.checkpoint.root.to_hex(), "proof": proof_json(&proof),
        }))?;
    } else {
        writeln!(
            std::io::stdout(),
            "tree {old_size} ({old_root}) is a prefix of tree {new_size} ({})",
            cp.checkpoint.root
        )?;
    }
    Ok(Exit::Ok)
}

async fn proof(a: ProofArgs) -> anyhow::Result<Exit> {
    use base64::Engine as _;
    let t = a.log.trust.parse()?;
    let extra = match &a.extra {
        Some(b) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| input_error(format!("--extra: {e}")))?,
        ),
        None => None,
    };
    let client = connect(&a.log.url)?;
    let (cp, _) = fetch_checkpoint(&client, &t).await?;
    let (size, root) = (cp.checkpoint.size, cp.checkpoint.root);
    if a.index >= size {
        return Err(tlog_error(&TlogError::IndexOutOfRange {
            index: a.index,
            size,
        })
        .into());
    }
    let proof = client
        .inclusion_proof(a.index, size)
        .await
        .map_err(client_error)?;
    // Check before writing: the leaf hash the log's own tiles hold at INDEX.
    let leaf = client
        .leaf_hash(a.index, size)
        .await
        .map_err(client_error)?;
    vouch_tlog::verify_inclusion(a.index, size, &leaf, &proof, &root)
        .map_err(|e| tlog_error(&e))?;
    let file = TlogProof {
        extra,
        index: a.index,
        proof,
        checkpoint: cp.to_note_string(),
    };
    if a.log.json {
        print_json(
            &json!({"index": a.index, "size": size, "leaf_hash": leaf.to_hex(), "tlog_proof": file.to_string()}),
        )?;
    } else {
        std::io::stdout()
            .lock()
            .write_all(file.to_string().as_bytes())?;
    }
    Ok(Exit::Ok)
}

fn verify_proof(a: VerifyProofArgs) -> anyhow::Result<Exit> {
    let t = a.trust.parse()?;
    let bytes = std::fs::read(&a.proof)
        .map_err(|e| input_error(format!("reading {}: {e}", a.proof.display())))?;
    let file =
        TlogProof::parse(&bytes).map_err(|e| input_error(format!("{}: {e}", a.proof.display())))?;
    let leaf = given_leaf(&a.entry, &a.leaf_hash)?
        .ok_or_else(|| input_error("give --entry FILE or --leaf-hash HEX"))?;
    let v = file
        .verify(
            &leaf,
            &t.origin,
            std::slice::from_ref(&t.log_key),
            &t.witnesses,
            t.quorum,
        )
        .map_err(|e| tlog_error(&e))?;
    if a.json {
        let mut j = checkpoint_json(&v.checkpoint, &t.witnesses);
        j["verified"] = json!(true);
        j["index"] = json!(file.index);
        j["leaf_hash"] = json!(leaf.to_hex());
        print_json(&j)?;
    } else {
        writeln!(
            std::io::stdout(),
            "verified: entry {} is in {} at size {} ({} witness cosignature(s))",
            file.index,
            v.checkpoint.checkpoint.origin,
            v.checkpoint.checkpoint.size,
            v.cosignatures.len()
        )?;
    }
    Ok(Exit::Ok)
}

fn observation_json(o: &Observation) -> serde_json::Value {
    match o {
        Observation::First { size } => json!({"event": "first", "size": size}),
        Observation::Unchanged { size } => json!({"event": "unchanged", "size": size}),
        Observation::Grew { old, new } => json!({"event": "grew", "old_size": old, "size": new}),
    }
}

fn load_state(path: &Path) -> anyhow::Result<Option<MonitorState>> {
    MonitorState::load(path).map_err(client_error)
}

async fn monitor(a: MonitorArgs) -> anyhow::Result<Exit> {
    let t = a.log.trust.parse()?;
    let client = connect(&a.log.url)?;
    let iterations = if a.once { Some(1) } else { a.iterations };
    let mut events = Vec::new();
    let mut last_error: Option<anyhow::Error>;
    let mut i: u64 = 0;
    loop {
        i += 1;
        let prev = load_state(&a.state)?;
        match poll(
            &client,
            &t.origin,
            std::slice::from_ref(&t.log_key),
            &t.witnesses,
            t.quorum,
            prev.as_ref(),
        )
        .await
        {
            Ok(step) => {
                // Persist before reporting: what was verified is never forgotten.
                step.state.save(&a.state).map_err(client_error)?;
                tracing::info!(
                    size = step.checkpoint.checkpoint.size,
                    cosignatures = step.cosignatures,
                    "checkpoint verified"
                );
                if !a.log.json {
                    let line = match step.observation {
                        Observation::First { size } => format!("first checkpoint: size {size}"),
                        Observation::Unchanged { size } => format!("unchanged: size {size}"),
                        Observation::Grew { old, new } => {
                            format!("consistent: grew from {old} to {new}")
                        }
                    };
                    writeln!(
                        std::io::stdout(),
                        "{line} (root {})",
                        step.checkpoint.checkpoint.root
                    )?;
                }
                events.push(observation_json(&step.observation));
                last_error = None;
            }
            Err(e) if e.is_log_misbehaviour() => {
                // The state keeps the last good checkpoint as evidence.
                return Err(client_error(e));
            }
            Err(e) => {
                let err = client_error(e);
                // Verification failures (bad signature, quorum) are verdicts, not blips.
                if err
                    .downcast_ref::<CodedError>()
                    .is_some_and(|c| crate::output::exit_of(c) == Exit::VerifyFailed)
                {
                    return Err(err);
                }
                tracing::warn!(error = %err, "monitor check failed; retrying next interval");
                last_error = Some(err);
            }
        }
        if iterations.is_some_and(|n| i >= n) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(a.interval)).await;
    }
    if let Some(e) = last_error {
        return Err(e);
    }
    if a.log.json {
        let state = load_state(&a.state)?;
        print_json(&json!({
            "origin": t.origin,
            "size": state.as_ref().map(|s| s.size),
            "root": state.as_ref().map(|s| s.root.clone()),
            "checks": i,
            "events": events,
        }))?;
    }
    Ok(Exit::Ok)
}
