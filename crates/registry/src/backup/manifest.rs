//! The backup manifest (`manifest.json`): format and versions, what the metadata file is, each log's checkpoint, and the SHA-256 of every file; plus the lock-rows file. The wire structs are private; restore parses strictly.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use vouch_tlog::Hash;

use super::BackupError;

/// The only manifest format this binary writes and reads.
pub const FORMAT: &str = "vouch-backup/1";

/// Which database the metadata file came from (and must be restored into).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKind {
    /// `meta.db`, a SQLite file.
    Sqlite,
    /// `meta.pgdump`, a `pg_dump --format=custom` archive.
    Postgres,
}

impl MetaKind {
    fn as_str(self) -> &'static str {
        match self {
            MetaKind::Sqlite => "sqlite",
            MetaKind::Postgres => "postgres",
        }
    }
}

/// One log's committed checkpoint as backed up.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub origin: String,
    /// Object-key prefix of the log's tiles (`""` main, `"ct/"` CT).
    pub prefix: String,
    pub size: u64,
    pub root: Hash,
    /// The signed note, exactly as in the lock row.
    pub note: String,
}

impl LogEntry {
    pub(super) fn from_note(origin: &str, prefix: &str, note: &[u8]) -> Result<Self, BackupError> {
        let cp = super::parse_note(origin, note)?;
        let text = String::from_utf8(note.to_vec()).map_err(|_| BackupError::BadCheckpoint {
            origin: origin.to_owned(),
            reason: "not UTF-8".into(),
        })?;
        Ok(LogEntry {
            origin: origin.to_owned(),
            prefix: prefix.to_owned(),
            size: cp.size,
            root: cp.root,
            note: text,
        })
    }
}

/// What a backup holds.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub vouch_version: String,
    pub created_at: u64,
    pub meta: MetaKind,
    pub logs: Vec<LogEntry>,
    /// Relative path → lowercase hex SHA-256, for every file but the manifest.
    pub files: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    vouch_version: String,
    created_at: u64,
    meta: String,
    logs: Vec<WireLog>,
    files: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLog {
    origin: String,
    prefix: String,
    size: u64,
    root: String,
    checkpoint: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRow {
    log_id: String,
    checkpoint_base64: String,
}

impl Manifest {
    pub(super) fn new(
        meta: MetaKind,
        logs: Vec<LogEntry>,
        files: BTreeMap<String, String>,
    ) -> Self {
        let created_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Manifest {
            vouch_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at,
            meta,
            logs,
            files,
        }
    }

    /// The manifest as pretty JSON (what `manifest.json` holds).
    pub fn to_json(&self) -> String {
        let w = Wire {
            format: FORMAT.into(),
            vouch_version: self.vouch_version.clone(),
            created_at: self.created_at,
            meta: self.meta.as_str().into(),
            logs: self
                .logs
                .iter()
                .map(|l| WireLog {
                    origin: l.origin.clone(),
                    prefix: l.prefix.clone(),
                    size: l.size,
                    root: l.root.to_hex(),
                    checkpoint: l.note.clone(),
                })
                .collect(),
            files: self.files.clone(),
        };
        // Plain strings and integers only: serialisation cannot fail.
        serde_json::to_string_pretty(&w).expect("manifest serialises")
    }

    /// Parses `manifest.json` strictly: unknown fields, another format, a root that is
    /// not a hash, or a checkpoint whose size or root disagrees with its fields are
    /// refused.
    pub fn parse(text: &str) -> Result<Self, BackupError> {
        let bad = |reason: String| BackupError::Manifest { reason };
        let w: Wire = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if w.format != FORMAT {
            return Err(bad(format!(
                "format {:?}, this vouch reads {FORMAT:?}",
                w.format
            )));
        }
        let meta = match w.meta.as_str() {
            "sqlite" => MetaKind::Sqlite,
            "postgres" => MetaKind::Postgres,
            other => return Err(bad(format!("unknown metadata kind {other:?}"))),
        };
        let mut logs = Vec::new();
        for l in w.logs {
            let entry = LogEntry::from_note(&l.origin, &l.prefix, l.checkpoint.as_bytes())?;
            if entry.size != l.size || entry.root.to_hex() != l.root {
                return Err(bad(format!(
                    "log {}: size {} / root {} disagree with its checkpoint (size {}, root {})",
                    l.origin, l.size, l.root, entry.size, entry.root
                )));
            }
            if !matches!(l.prefix.as_str(), "" | "ct/") {
                return Err(bad(format!(
                    "log {}: unknown prefix {:?}",
                    l.origin, l.prefix
                )));
            }
            logs.push(entry);
        }
        for (path, digest) in &w.files {
            let safe = !path.is_empty()
                && !path.starts_with('/')
                && path
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != "..");
            if !safe {
                return Err(bad(format!("file path {path:?} leaves the backup")));
            }
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("file {path}: {digest:?} is not a SHA-256")));
            }
        }
        Ok(Manifest {
            vouch_version: w.vouch_version,
            created_at: w.created_at,
            meta,
            logs,
            files: w.files,
        })
    }
}

/// The lock rows as JSON (`lock.json`).
pub(super) fn rows_to_json(rows: &[(String, Vec<u8>)]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let wire: Vec<WireRow> = rows
        .iter()
        .map(|(id, cp)| WireRow {
            log_id: id.clone(),
            checkpoint_base64: b64.encode(cp),
        })
        .collect();
    serde_json::to_string_pretty(&wire).expect("rows serialise")
}

pub(super) fn rows_from_json(text: &str) -> Result<Vec<(String, Vec<u8>)>, BackupError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let wire: Vec<WireRow> = serde_json::from_str(text).map_err(|e| BackupError::Manifest {
        reason: format!("lock.json: {e}"),
    })?;
    wire.into_iter()
        .map(|r| {
            let cp = b64
                .decode(&r.checkpoint_base64)
                .map_err(|e| BackupError::Manifest {
                    reason: format!("lock.json row {}: {e}", r.log_id),
                })?;
            Ok((r.log_id, cp))
        })
        .collect()
}
