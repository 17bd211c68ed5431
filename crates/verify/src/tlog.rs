//! Log-inclusion checks of a keyless bundle (upstream's steps 4 to 6: Merkle inclusion
//! proof, signed checkpoint, integrated time inside the certificate's validity), run here
//! so that each SET is verified once.
//!
//! sigstore-verify 0.15.1 verifies a Rekor v1 SET twice per bundle: in its time step
//! (step 0, which must authenticate `integratedTime` before using it) and again in its
//! log step (step 4). The verifier asks upstream to skip step 4 only for bundles whose
//! every SET step 0 verifies ([`sets_verified_by_time_step`]), then runs the rest of
//! step 4 and step 6 here, with upstream's messages and the same codes. Nothing is
//! skipped: every proof, checkpoint and SET is still verified exactly once.

use sigstore_crypto::Keyring;
use sigstore_types::bundle::InclusionProof;
use sigstore_types::{Bundle, Checkpoint, KindVersion, TransparencyLogEntry};

use crate::error::VerifyError;

/// Rekor v1 kinds: the ones whose SET upstream's time step verifies.
fn is_rekor_v1(entry: &TransparencyLogEntry) -> bool {
    matches!(
        entry.kind_version,
        KindVersion::HashedRekordV001 | KindVersion::DsseV001 | KindVersion::IntotoV002
    )
}

fn is_rekor_v2(entry: &TransparencyLogEntry) -> bool {
    entry.kind_version == KindVersion::HashedRekordV002
}

/// Whether upstream's time step verifies every SET the bundle carries (a Rekor v1 entry
/// with an integrated time). Only then may upstream's log step be replaced by
/// [`verify_entries`]; any other bundle goes through upstream's full path.
pub(crate) fn sets_verified_by_time_step(bundle: &Bundle) -> bool {
    bundle
        .verification_material
        .tlog_entries
        .iter()
        .all(|e| e.inclusion_promise.is_none() || (is_rekor_v1(e) && e.integrated_time.is_some()))
}

/// Upstream's `verify_tlog_entries` without the SET (verified by its time step, see
/// [`sets_verified_by_time_step`]): each entry's inclusion proof and checkpoint, and a
/// SET-authenticated integrated time inside the certificate's validity.
pub(crate) fn verify_entries(
    bundle: &Bundle,
    rekor_keys: &Keyring,
    not_before: jiff::Timestamp,
    not_after: jiff::Timestamp,
) -> Result<(), VerifyError> {
    let now = jiff::Timestamp::now();
    for entry in &bundle.verification_material.tlog_entries {
        if let Some(proof) = &entry.inclusion_proof {
            verify_merkle_inclusion(entry, proof)?;
            verify_checkpoint(proof, is_rekor_v2(entry), rekor_keys, now)?;
        }
        if !is_rekor_v2(entry) && entry.inclusion_promise.is_some() {
            if let Some(time) = entry.integrated_time {
                validate_integrated_time(time, now, not_before, not_after)?;
            }
        }
    }
    Ok(())
}

fn verify_merkle_inclusion(
    entry: &TransparencyLogEntry,
    proof: &InclusionProof,
) -> Result<(), VerifyError> {
    // Rekor v2 takes index, size and root from the entry and the signed checkpoint, not
    // from the proof's unauthenticated duplicates (as upstream does).
    let (leaf_index, tree_size, root_hash) = if is_rekor_v2(entry) {
        let checkpoint = proof
            .checkpoint
            .checkpoint()
            .ok_or_else(|| checkpoint_error("Rekor v2 inclusion proof has no checkpoint"))?;
        (
            entry.log_index.get(),
            checkpoint.tree_size(),
            *checkpoint.root_hash(),
        )
    } else {
        (proof.log_index.get(), proof.tree_size, proof.root_hash)
    };
    let leaf_hash = sigstore_merkle::hash_leaf(entry.canonicalized_body.as_bytes());
    sigstore_merkle::verify_inclusion_proof(
        &leaf_hash,
        leaf_index,
        tree_size,
        &proof.hashes,
        &root_hash,
    )
    .map_err(|e| VerifyError::InclusionProof {
        detail: crate::trust::one_line(&format!("inclusion proof verification failed: {e}")),
    })
}

/// The checkpoint parses, (Rekor v1) matches the proof's root, and carries a valid
/// signature by a Rekor key of the trusted root. Four-byte key hints may collide, so
/// every matching key is tried.
fn verify_checkpoint(
    proof: &InclusionProof,
    is_v2: bool,
    rekor_keys: &Keyring,
    now: jiff::Timestamp,
) -> Result<(), VerifyError> {
    let checkpoint = Checkpoint::from_text(proof.checkpoint.envelope())
        .map_err(|e| checkpoint_error(&format!("Failed to parse checkpoint: {e}")))?;
    if !is_v2 && checkpoint.root_hash().as_bytes() != proof.root_hash.as_bytes() {
        return Err(checkpoint_error(&format!(
            "Checkpoint root hash mismatch: expected {}, got {}",
            checkpoint.root_hash().to_hex(),
            proof.root_hash.to_hex()
        )));
    }
    let message = checkpoint.signed_data();
    let mut found_matching_key = false;
    for sig in checkpoint.signatures() {
        for key in rekor_keys.keys_by_hint(&sig.key_id, now) {
            found_matching_key = true;
            if key.verify(message, &sig.signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(checkpoint_error(if found_matching_key {
        "No valid Rekor signature found on checkpoint"
    } else {
        "No matching Rekor key found for checkpoint signature"
    }))
}

fn checkpoint_error(detail: &str) -> VerifyError {
    VerifyError::Checkpoint {
        detail: crate::trust::one_line(detail),
    }
}

fn validate_integrated_time(
    time: jiff::Timestamp,
    now: jiff::Timestamp,
    not_before: jiff::Timestamp,
    not_after: jiff::Timestamp,
) -> Result<(), VerifyError> {
    let detail = if time > now {
        format!("integrated time {time} is in the future (current time: {now})")
    } else if time < not_before {
        format!("integrated time {time} is before certificate validity (not_before: {not_before})")
    } else if time > not_after {
        format!("integrated time {time} is after certificate validity (not_after: {not_after})")
    } else {
        return Ok(());
    };
    Err(VerifyError::IntegratedTime { detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn integrated_time_outside_validity_or_in_future_is_refused() {
        let (nb, na, now) = (ts(1_000), ts(2_000), ts(3_000));
        assert!(validate_integrated_time(ts(1_500), now, nb, na).is_ok());
        for bad in [ts(999), ts(2_001), ts(3_001)] {
            let err = validate_integrated_time(bad, now, nb, na).unwrap_err();
            assert_eq!(err.code(), "VERIFY_E021", "{err}");
        }
    }
}
