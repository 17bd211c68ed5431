//! Row types of the registry-integrity tables: signing keys, settings, admin tokens, ingested releases and assets, relayed attestations and signed integrity records.

use super::Timestamp;

/// One registry signing key as stored: the public half in the clear, the private half
/// sealed (AES-256-GCM under `TOKEN_ENC_KEY`) by the server, which alone knows the
/// envelope format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRegistryKey {
    /// 16 hex characters: the first 16 of SHA-256 of the public key.
    pub kid: String,
    /// Raw Ed25519 public key.
    pub public_key: [u8; 32],
    /// The sealed seed, opaque to the store.
    pub sealed: Vec<u8>,
    /// The instance the key was sealed for (see [`crate::meta::MetaStore::instance_id`]).
    pub instance_id: String,
    pub created_at: Timestamp,
    /// `None` for the current key.
    pub retired_at: Option<Timestamp>,
}

/// An administrator token's metadata (the secret is stored only as its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub id: i64,
    pub label: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Prefix of administrator tokens, distinct from user API tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "vouch_admin_";

/// A release to record: one upstream forge release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    /// The configured forge (`[[forges]] id`).
    pub forge_id: String,
    /// `OWNER/REPO` (or the forge's equivalent).
    pub repository: String,
    pub tag: String,
    /// The forge's own id of the release.
    pub upstream_id: String,
    pub created_at: Timestamp,
}

/// A recorded release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRow {
    pub id: i64,
    pub forge_id: String,
    pub repository: String,
    pub tag: String,
    pub upstream_id: String,
    pub created_at: Timestamp,
}

/// Whether the registry hashed an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetStatus {
    /// Streamed and hashed within the budget: digests are set.
    Hashed,
    /// Over the hash budget: indexed without digests or an integrity entry.
    Skipped,
}

impl AssetStatus {
    fn as_str(self) -> &'static str {
        match self {
            AssetStatus::Hashed => "hashed",
            AssetStatus::Skipped => "skipped",
        }
    }

    pub(crate) fn column(self) -> &'static str {
        self.as_str()
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "hashed" => Some(AssetStatus::Hashed),
            "skipped" => Some(AssetStatus::Skipped),
            _ => None,
        }
    }
}

/// One asset of a release as the registry observed it. `sha256`/`blake3` are set
/// exactly when `status` is [`AssetStatus::Hashed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseAsset {
    pub release_id: i64,
    pub name: String,
    pub size: u64,
    pub download_url: String,
    pub sha256: Option<[u8; 32]>,
    pub blake3: Option<[u8; 32]>,
    pub status: AssetStatus,
    pub created_at: Timestamp,
}

/// What [`crate::meta::MetaStore::insert_release_asset`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetInsert {
    /// A new row.
    Inserted,
    /// An identical row (same size, status and digests) was already there: nothing to do.
    Unchanged,
    /// A row with this (release, name) exists and differs: published assets are
    /// immutable, so nothing was written. Carries the stored row.
    Conflict(ReleaseAsset),
}

/// A relayed, verified attestation bundle of a release asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttestation {
    pub release_id: i64,
    pub asset_name: String,
    /// The Sigstore bundle JSON as fetched (and verified).
    pub bundle: String,
    /// The verified signer identity (workflow URI).
    pub identity: String,
    pub created_at: Timestamp,
}

/// What an integrity record is about, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Package,
    Release,
}

impl RecordKind {
    pub(crate) fn column(self) -> &'static str {
        match self {
            RecordKind::Package => "package",
            RecordKind::Release => "release",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "package" => Some(RecordKind::Package),
            "release" => Some(RecordKind::Release),
            _ => None,
        }
    }
}

/// A signed integrity record to store after it was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntegrityRecord {
    pub kind: RecordKind,
    /// Package name, or the release id in decimal.
    pub subject: String,
    /// Package version or release tag.
    pub version: String,
    pub kid: String,
    /// The compact JWS, exactly as logged.
    pub jws: String,
    pub log_index: u64,
    pub created_at: Timestamp,
}

/// A stored integrity record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityRow {
    pub id: i64,
    pub kind: RecordKind,
    pub subject: String,
    pub version: String,
    pub kid: String,
    pub jws: String,
    pub log_index: u64,
    pub created_at: Timestamp,
}

/// A package version without an integrity record (for the backfill).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrecordedVersion {
    pub package: String,
    pub version: super::VersionEntry,
}
