//! C2SP tlog-cosignature (Ed25519, type 0x04): collecting the witness cosignatures on a
//! checkpoint note and checking a k-of-n witness policy.

use crate::note::{KeyType, Note, VerifiedSignature, Verifier};
use crate::Error;

/// Verifies the cosignatures on `note` from `witnesses` (type-0x04 verifiers) and
/// returns the ones that verified, one per witness. Signatures from other keys are
/// ignored; a bad signature from a configured witness is an error, as for any note.
pub fn verify_cosignatures(
    note: &Note,
    witnesses: &[Verifier],
) -> Result<Vec<VerifiedSignature>, Error> {
    for w in witnesses {
        if w.key_type() != KeyType::Cosignature {
            return Err(Error::KeyTypeMismatch {
                expected: KeyType::Cosignature,
                found: w.key_type(),
            });
        }
    }
    match note.verify(witnesses) {
        Ok(v) => Ok(v),
        Err(Error::NoVerifiedSignature) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Checks that at least `quorum` distinct witnesses among `witnesses` cosigned the note.
pub fn check_quorum(
    note: &Note,
    witnesses: &[Verifier],
    quorum: usize,
) -> Result<Vec<VerifiedSignature>, Error> {
    let got = verify_cosignatures(note, witnesses)?;
    if got.len() < quorum {
        return Err(Error::QuorumNotMet {
            expected: quorum,
            found: got.len(),
        });
    }
    Ok(got)
}
