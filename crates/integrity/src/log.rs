//! How an integrity record enters the transparency log, and checking that it did.
//!
//! **The leaf of a record is the ASCII bytes of its compact JWS**, exactly as stored and
//! served (no trailing newline). The JWS, not the bare payload, is logged so that the log
//! commits to the registry's signature too: a monitor can verify every record it sees
//! with the published key set alone, and a record the registry cannot prove it logged
//! under its own key is worthless. The Merkle leaf hash is RFC 9162's
//! `SHA-256(0x00 || jws)` ([`vouch_tlog::leaf_hash`]).

use vouch_tlog::{open_checkpoint, verify_inclusion, Hash, SignedCheckpoint, Verifier};

use crate::error::{IntegrityError, Result};
use crate::jws::SignedRecord;

/// The log entry for a record's compact JWS: its bytes, unchanged.
pub fn log_leaf(jws: &str) -> &[u8] {
    jws.as_bytes()
}

/// The RFC 9162 leaf hash of a record's log entry.
pub fn log_leaf_hash(jws: &str) -> Hash {
    vouch_tlog::leaf_hash(log_leaf(jws))
}

/// Proof that a record is in the log: its leaf index, the inclusion proof (RFC 9162,
/// Section 2.1.3) and the signed checkpoint (C2SP tlog-checkpoint note) it leads to.
#[derive(Debug, Clone, Copy)]
pub struct InclusionEvidence<'a> {
    /// Index of the record's leaf.
    pub index: u64,
    /// Sibling hashes from the leaf to the root.
    pub proof: &'a [Hash],
    /// The checkpoint note as served.
    pub checkpoint: &'a [u8],
}

/// Checks that `record` (already verified) is logged: opens the checkpoint with the
/// log's keys and origin, then verifies the inclusion proof of the record's leaf against
/// its root. Returns the opened checkpoint so the caller can check consistency with the
/// last one it saw (`vouch audit transparency`).
pub fn verify_logged(
    record: &SignedRecord,
    evidence: &InclusionEvidence<'_>,
    origin: &str,
    log_keys: &[Verifier],
) -> Result<SignedCheckpoint> {
    let checkpoint = open_checkpoint(evidence.checkpoint, origin, log_keys)
        .map_err(|source| IntegrityError::LogProof { source })?;
    verify_inclusion(
        evidence.index,
        checkpoint.checkpoint.size,
        &log_leaf_hash(record.jws()),
        evidence.proof,
        &checkpoint.checkpoint.root,
    )
    .map_err(|source| IntegrityError::LogProof { source })?;
    Ok(checkpoint)
}
