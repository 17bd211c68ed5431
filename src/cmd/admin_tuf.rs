//! `vouch admin tuf`: the flags of the TUF repository's operator commands; `vouch_registry::tuf::admin` does the work.

use std::path::PathBuf;

use clap::Subcommand;
use vouch_registry::tuf::admin::{self as tuf, Roles};

use super::flags::ServerPlace;
use crate::output::{answer, CodedError, Exit};

/// The instance's TUF repository: offline root and targets keys, threshold signing,
/// publishing to the server (docs/trust.md, "Operating the repository").
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
    /// Print one JSON object.
    #[arg(long, global = true)]
    json: bool,
}

/// Key files and threshold of the root and targets roles.
#[derive(Debug, clap::Args)]
struct KeyArgs {
    /// A root key's public file (`NAME.pub.json`, or the private key file); repeat.
    #[arg(long = "root-key", value_name = "FILE", requires = "threshold")]
    root_keys: Vec<PathBuf>,
    /// Root signatures required.
    #[arg(long, value_name = "N")]
    threshold: Option<u32>,
    /// A targets key's public file; repeat.
    #[arg(long = "targets-key", value_name = "FILE")]
    targets_keys: Vec<PathBuf>,
    /// Targets signatures required.
    #[arg(long, value_name = "N", default_value_t = 1)]
    targets_threshold: u32,
    /// The server's snapshot public key (`vouch admin tuf online-keys`).
    #[arg(long = "snapshot-key", value_name = "FILE")]
    snapshot_keys: Vec<PathBuf>,
    /// The server's timestamp public key (`vouch admin tuf online-keys`).
    #[arg(long = "timestamp-key", value_name = "FILE")]
    timestamp_keys: Vec<PathBuf>,
    /// Days until this root version expires.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    expires_days: u32,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Generate a role key: FILE (private, 0600, never overwritten) and FILE's
    /// `.pub.json` beside it. Run on the key holder's offline machine.
    Keygen {
        /// The private key file to create (e.g. root-alice.pem).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Create (if absent) the timestamp and snapshot keys the server signs with,
    /// sealed under TOKEN_ENC_KEY, and write their public key files into --out.
    OnlineKeys {
        #[command(flatten)]
        place: ServerPlace,
        /// Directory for timestamp.pub.json and snapshot.pub.json.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Write the first root (DIR/1.root.json, unsigned) naming every role's keys; each
    /// root key holder then signs it (`sign`) until the threshold is met.
    Init {
        /// The staging directory (it gets N.root.json, N.targets.json, targets/).
        /// The staging directory.
        #[arg(long, value_name = "DIR")]
        repo: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Write the next root version (unsigned) from DIR's latest, replacing the roles
    /// given; it needs a threshold of the previous root's keys AND of its own.
    RotateRoot {
        /// The staging directory.
        #[arg(long, value_name = "DIR")]
        repo: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Write the next targets version (unsigned) listing the instance's trusted root
    /// (retired keys kept, closed) and signing config, from a trust configuration
    /// (`vouch trust-config --server URL --out FILE`, or `status --trust-config-out`).
    Targets {
        /// The staging directory.
        #[arg(long, value_name = "DIR")]
        repo: PathBuf,
        /// The instance's trust configuration (`{trustedRoot, signingConfig}`).
        #[arg(long, value_name = "FILE")]
        trust_config: PathBuf,
        /// Days until this targets version expires.
        #[arg(long, value_name = "DAYS", default_value_t = 365)]
        expires_days: u32,
    },
    /// Add a signature to a root or targets file and say how many each role still needs.
    Sign {
        /// The private key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The metadata file (DIR/N.root.json or DIR/N.targets.json).
        meta: PathBuf,
    },
    /// Publish DIR's new root and targets versions on the server (checked as a client
    /// checks them; refused with their TUF_E code), then sign a new snapshot and
    /// timestamp with the server's online keys. The server may be running.
    Publish {
        #[command(flatten)]
        place: ServerPlace,
        /// The staging directory.
        #[arg(long, value_name = "DIR")]
        repo: PathBuf,
    },
    /// The published versions and expiries, the keys the server holds, and whether the
    /// targets still list the instance's trust material (exit 1 with TUF_E017 if not, or
    /// with TUF_E018 when root or targets expire within 30 days).
    Status {
        #[command(flatten)]
        place: ServerPlace,
        /// Write the instance's current trust configuration here (for `targets`).
        #[arg(long, value_name = "FILE")]
        trust_config_out: Option<PathBuf>,
    },
}

impl KeyArgs {
    fn roles(&self) -> Roles<'_> {
        let root = (&*self.root_keys, self.threshold);
        let targets = (&*self.targets_keys, self.targets_threshold);
        Roles::new(root, targets, &self.snapshot_keys, &self.timestamp_keys)
    }
}

pub fn run(args: Args, rt: &tokio::runtime::Runtime) -> anyhow::Result<Exit> {
    use super::admin_offline::print_offline as print;
    let json = args.json;
    match args.sub {
        Sub::Keygen { out } => print(json, tuf::keygen(&out)),
        Sub::OnlineKeys { place: p, out } => {
            let (c, dev, d) = p.parts();
            print(json, rt.block_on(tuf::online_keys(c, dev, d, &out)))
        }
        Sub::Init { repo, keys } => print(json, tuf::init(&repo, &keys.roles(), keys.expires_days)),
        Sub::RotateRoot { repo, keys } => print(
            json,
            tuf::rotate_root(&repo, &keys.roles(), keys.expires_days),
        ),
        Sub::Targets {
            repo,
            trust_config,
            expires_days,
        } => print(json, tuf::targets(&repo, &trust_config, expires_days)),
        Sub::Sign { key, meta } => print(json, tuf::sign(&key, &meta)),
        Sub::Publish { place: p, repo } => {
            let (c, dev, d) = p.parts();
            print(json, rt.block_on(tuf::publish(c, dev, d, &repo)))
        }
        Sub::Status {
            place: p,
            trust_config_out,
        } => {
            let (c, dev, d) = p.parts();
            let r = rt.block_on(tuf::status(c, dev, d, trust_config_out.as_deref()));
            let (a, warned) = r.map_err(|e| CodedError::error(e.code(), e.to_string()))?;
            answer(json, &a.json, &a.lines)?;
            Ok(if warned { Exit::VerifyFailed } else { Exit::Ok })
        }
    }
}
