//! `vouch log`: read and audit any C2SP tlog-tiles log: checkpoints, inclusion and consistency proofs, tlog-proof files, and a monitor that fails with AUDIT_E001 on a fork or rollback.
//!
//! Error codes (README, "Error codes"): LOG_E001 checkpoint did not verify, LOG_E002 a
//! proof did not verify, LOG_E003 witness quorum not met (all exit 1); LOG_E004 log
//! unreachable or answered unexpectedly, LOG_E005 invalid input (exit 2); AUDIT_E001 the
//! log disagrees with what was seen before (exit 1).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use vouch_tiles_client::ops::{self, given_leaf, input_error, MonitorPlan, Trust};
use vouch_tiles_client::TileClient;

use crate::output::{answer, outln, print_json, CodedError, Exit};

/// Read and audit a transparency log served as C2SP tlog-tiles.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
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
pub struct LogOpts {
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
pub struct InclusionArgs {
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
pub struct ConsistencyArgs {
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
pub struct ProofArgs {
    /// Index of the entry.
    index: u64,
    /// Opaque application data for the `extra` line, as base64.
    #[arg(long, value_name = "BASE64")]
    extra: Option<String>,
    #[command(flatten)]
    log: LogOpts,
}

#[derive(Debug, clap::Args)]
pub struct VerifyProofArgs {
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
pub struct MonitorArgs {
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

pub fn run(command: Command) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match command {
            Command::Checkpoint(a) => checkpoint(a).await,
            Command::Inclusion(a) => inclusion(a).await,
            Command::Consistency(a) => consistency(a).await,
            Command::Proof(a) => proof(a).await,
            Command::VerifyProof(a) => verify_proof(a),
            Command::Monitor(a) => monitor(a).await,
        }
    })
}

impl TrustOpts {
    fn parse(&self) -> anyhow::Result<Trust> {
        let (origin, w) = (self.origin.as_deref(), &self.witnesses);
        Ok(Trust::parse(&self.key, origin, w, self.quorum)?)
    }
}

impl LogOpts {
    fn open(&self) -> anyhow::Result<(TileClient, Trust)> {
        let trust = self.trust.parse()?;
        Ok((TileClient::new(&self.url).map_err(CodedError::from)?, trust))
    }
}

async fn checkpoint(a: LogOpts) -> anyhow::Result<Exit> {
    let (client, t) = a.open()?;
    let c = ops::checkpoint(&client, &t).await?;
    answer(a.json, &c.to_json(&t), &c.lines(&t))
}

async fn inclusion(a: InclusionArgs) -> anyhow::Result<Exit> {
    let (client, t) = a.log.open()?;
    let leaf = given_leaf(a.entry.as_deref(), a.leaf_hash.as_deref())?;
    let i = ops::inclusion(&client, &t, a.index, leaf).await?;
    answer(a.log.json, &i.to_json(), &i.lines())
}

async fn consistency(a: ConsistencyArgs) -> anyhow::Result<Exit> {
    let t = a.log.trust.parse()?;
    let size_root = a.old_size.zip(a.old_root.as_deref());
    let (old_size, old_root, old_note) = ops::old_tree(&t, a.old_checkpoint.as_deref(), size_root)?;
    let (client, t) = a.log.open()?;
    let c = ops::consistency(&client, &t, old_size, old_root, old_note).await?;
    answer(a.log.json, &c.to_json(), &c.lines())
}

async fn proof(a: ProofArgs) -> anyhow::Result<Exit> {
    let (client, t) = a.log.open()?;
    let (file, i) = ops::proof(&client, &t, a.index, a.extra.as_deref()).await?;
    if a.log.json {
        print_json(&i.proof_json(&file))?;
    } else {
        std::io::stdout()
            .lock()
            .write_all(file.to_string().as_bytes())?;
    }
    Ok(Exit::Ok)
}

fn verify_proof(a: VerifyProofArgs) -> anyhow::Result<Exit> {
    let t = a.trust.parse()?;
    let leaf = given_leaf(a.entry.as_deref(), a.leaf_hash.as_deref())?;
    let leaf = leaf.ok_or_else(|| input_error("give --entry FILE or --leaf-hash HEX"))?;
    let (file, v) = ops::verify_proof(&a.proof, &leaf, &t)?;
    answer(
        a.json,
        &v.proof_json(&t, &file, &leaf),
        &v.proof_lines(&file),
    )
}

async fn monitor(a: MonitorArgs) -> anyhow::Result<Exit> {
    let (client, t) = a.log.open()?;
    let plan = MonitorPlan {
        state: a.state,
        interval: Duration::from_secs(a.interval),
        iterations: if a.once { Some(1) } else { a.iterations },
    };
    let mut printed: std::io::Result<()> = Ok(());
    let json = a.log.json;
    let m = ops::monitor(&client, &t, &plan, &mut |step| {
        if json {
            return std::ops::ControlFlow::Continue(());
        }
        printed = outln!("{}", step.line());
        match printed {
            Ok(()) => std::ops::ControlFlow::Continue(()),
            Err(_) => std::ops::ControlFlow::Break(()),
        }
    })
    .await?;
    printed?;
    if json {
        print_json(&m.to_json(&t))?;
    }
    Ok(Exit::Ok)
}
