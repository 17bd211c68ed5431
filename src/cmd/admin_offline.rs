//! `vouch admin backup` and `vouch admin restore`: their flags; `vouch_registry::offline` does the work.

use std::path::{Path, PathBuf};

use vouch_registry::offline::{self, Answer, OfflineError};

use crate::output::{answer, CodedError, Exit};

/// Where the registry is: the same flags as `vouch serve`.
#[derive(Debug, clap::Args)]
pub struct Where {
    /// The server's configuration file (production; secrets and database URLs come from
    /// the environment variables it names).
    #[arg(long, value_name = "FILE", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// The server's data directory (relative paths in --config are resolved against it;
    /// with --dev it holds everything).
    #[arg(long, value_name = "DIR", required_if_eq("dev", "true"))]
    data: Option<PathBuf>,
    /// A `vouch serve --dev` data directory: its key files are included in the backup
    /// (a dev server keeps its secrets there) and restored with it.
    #[arg(long)]
    dev: bool,
    /// Metadata database `postgres://...` or SQLite path, as `vouch serve --database`.
    #[arg(long, value_name = "URL_OR_PATH", env = "VOUCH_DATABASE_URL")]
    database: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Back up a running registry into a new directory, with a checked manifest.
///
/// Copies the metadata database as one snapshot (SQLite
/// `VACUUM INTO`, PostgreSQL `pg_dump`), then the checkpoint lock rows, then the
/// object store (tiles, bundles, blobs, sealed keys). That order makes the copy
/// consistent: everything the metadata names is in the log the lock rows commit to,
/// and every tile of those checkpoints is in the copy (checked before the manifest is
/// written). OUT must be new or empty. Production secrets (the variables the config
/// names, TOKEN_ENC_KEY above all) are NOT included: keep them separately.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    at: Where,
    /// The backup directory to create (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Restore a backup into an empty place, with the server stopped.
///
/// Run with the server STOPPED, into an empty place (no object, no
/// metadata table or file, no lock row), then start `vouch serve` with the same config
/// (and the same secrets). Every file is checked against the manifest and the tiles
/// against each log's checkpoint before anything is written.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    at: Where,
    /// The backup directory (`vouch admin backup --out`).
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
}

impl Where {
    fn parts(&self) -> (Option<&Path>, bool, Option<&Path>, Option<&str>) {
        let (config, data) = (self.config.as_deref(), self.data.as_deref());
        (config, self.dev, data, self.database.as_deref())
    }
}

pub fn backup(a: BackupArgs, rt: &tokio::runtime::Runtime) -> anyhow::Result<Exit> {
    let (config, dev, data, db) = a.at.parts();
    let r = rt.block_on(offline::backup(config, dev, data, db, &a.out));
    print_offline(a.at.json, r)
}

pub fn restore(a: RestoreArgs, rt: &tokio::runtime::Runtime) -> anyhow::Result<Exit> {
    let (config, dev, data, db) = a.at.parts();
    let r = rt.block_on(offline::restore(config, dev, data, db, &a.from));
    print_offline(a.at.json, r)
}

/// Prints an offline command's answer, or reports its error with its code (exit 2).
pub(super) fn print_offline(json: bool, r: Result<Answer, OfflineError>) -> anyhow::Result<Exit> {
    let a = r.map_err(|e| CodedError::error(e.code(), e.to_string()))?;
    answer(json, &a.json, &a.lines)
}
