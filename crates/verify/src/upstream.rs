//! Translation of sigstore-verify's errors into [`VerifyError`]. Upstream groups its errors
//! by category with free-text detail; each category becomes one coded variant here, and
//! the detail is kept (on one line) for humans.

use sigstore_verify::{CertificateError, Error as E, TimestampError, TransparencyLogError};

use crate::error::{Authority, ValidityBound, VerifyError};
use crate::trust::one_line;

/// Maps an upstream verification error to ours.
pub(crate) fn map_error(err: E) -> VerifyError {
    let detail = |s: &dyn std::fmt::Display| one_line(&s.to_string());
    match err {
        E::IdentityMismatch { expected, actual } => VerifyError::IdentityMismatch {
            expected: expected.to_string(),
            found: actual.map(|a| a.to_string()),
        },
        E::IssuerMismatch { expected, actual } => VerifyError::IssuerMismatch {
            expected,
            found: actual,
        },
        E::SignatureInvalid(d) => VerifyError::SignatureInvalid { detail: detail(&d) },
        // Upstream raises this one message from its log-entry consistency step (after the
        // signature and digest checks passed): the entry logged another artifact or
        // envelope, so it is the entry that does not match (sigstore-python agrees).
        E::ArtifactMismatch(d) if d.contains("for hashedrekord entry") => {
            VerifyError::LogEntryMismatch { detail: detail(&d) }
        }
        E::ArtifactMismatch(d) => VerifyError::ArtifactMismatch { detail: detail(&d) },
        E::UnsupportedArtifact(d) => VerifyError::UnsupportedArtifact { detail: detail(&d) },
        E::Certificate(c) => map_certificate(c),
        E::TransparencyLog(t) => map_tlog(t),
        E::Timestamp(t) => map_timestamp(t),
        E::InvalidBundle(d) => VerifyError::InvalidBundle { detail: detail(&d) },
        E::UnsupportedBundle(d) => VerifyError::UnsupportedBundle { detail: detail(&d) },
        E::InvalidTrustRoot(d) => VerifyError::InvalidTrustRoot { detail: detail(&d) },
        E::TrustRoot(e) => VerifyError::InvalidTrustRoot { detail: detail(&e) },
        E::TrustedCertificate(e) => VerifyError::InvalidTrustRoot { detail: detail(&e) },
        E::Bundle(e) => map_structure(e),
        E::Types(e) => VerifyError::InvalidBundle { detail: detail(&e) },
        // Raised while resolving or using the signing key: the signature cannot be
        // checked with the key material the bundle carries.
        E::Crypto(e) => VerifyError::SignatureInvalid { detail: detail(&e) },
        E::ArtifactRead(e) => VerifyError::UnsupportedArtifact { detail: detail(&e) },
        // `Error` is non-exhaustive; a new upstream category is a rejection until mapped.
        other => VerifyError::InvalidBundle {
            detail: detail(&other),
        },
    }
}

fn map_certificate(err: CertificateError) -> VerifyError {
    match err {
        CertificateError::NoValidAuthority { time } => VerifyError::MissingAuthority {
            authority: Authority::CertificateAuthority,
            detail: format!("none is valid at the signing time {time}"),
        },
        CertificateError::NotYetValid { time, not_before } => {
            VerifyError::CertificateNotValidAtSigningTime {
                signing_time: time,
                bound: ValidityBound::NotBefore(not_before),
            }
        }
        CertificateError::Expired { time, not_after } => {
            VerifyError::CertificateNotValidAtSigningTime {
                signing_time: time,
                bound: ValidityBound::NotAfter(not_after),
            }
        }
        CertificateError::Sct(d) => VerifyError::Sct {
            detail: one_line(&d),
        },
        CertificateError::ChainInvalid(d) => match webpki_validity(&d) {
            Some(err) => err,
            None => VerifyError::CertificateChain {
                detail: one_line(&d),
            },
        },
        other => VerifyError::CertificateChain {
            detail: one_line(&other.to_string()),
        },
    }
}

/// sigstore-bundle's structural checks, each sent to the check it belongs to.
fn map_structure(err: sigstore_bundle::Error) -> VerifyError {
    use sigstore_bundle::Error as B;
    let detail = one_line(&err.to_string());
    match err {
        B::MissingInclusionProof(_) | B::LogIndexOutOfRange { .. } | B::CheckpointRootMismatch => {
            VerifyError::InclusionProof { detail }
        }
        B::MissingCheckpoint => VerifyError::Checkpoint { detail },
        B::MissingInclusionPromise(_) => VerifyError::InclusionPromise { detail },
        B::MissingSigningTimeEvidence | B::MissingTimestamp => {
            VerifyError::NoVerifiedTime { detail }
        }
        _ => VerifyError::InvalidBundle { detail },
    }
}

/// Upstream checks the chain with webpki before its own validity-window check, so a leaf
/// that was expired (or not yet valid) at the signing time arrives as `ChainInvalid` with
/// webpki's `CertExpired { time: UnixTime(..), not_after: UnixTime(..) }` (or
/// `CertNotValidYet { .., not_before: .. }`) in the text, and upstream's own
/// `Expired`/`NotYetValid` variants are never reached for it. Recover the structure so
/// the error gets its own code; anything unparsable stays a chain error.
fn webpki_validity(detail: &str) -> Option<VerifyError> {
    let (bound_is_after, rest) = if let Some(i) = detail.find("CertExpired {") {
        (true, &detail[i..])
    } else if let Some(i) = detail.find("CertNotValidYet {") {
        (false, &detail[i..])
    } else {
        return None;
    };
    let mut numbers = rest
        .split("UnixTime(")
        .skip(1)
        .map(|part| part.split(')').next().and_then(|n| n.parse::<i64>().ok()));
    let time = jiff::Timestamp::from_second(numbers.next()??).ok()?;
    let bound = jiff::Timestamp::from_second(numbers.next()??).ok()?;
    Some(VerifyError::CertificateNotValidAtSigningTime {
        signing_time: time,
        bound: if bound_is_after {
            ValidityBound::NotAfter(bound)
        } else {
            ValidityBound::NotBefore(bound)
        },
    })
}

fn map_tlog(err: TransparencyLogError) -> VerifyError {
    match err {
        TransparencyLogError::UnknownLog { log_id } => VerifyError::MissingAuthority {
            authority: Authority::TransparencyLog,
            detail: format!("the entry's log {log_id} is not in the trusted root"),
        },
        TransparencyLogError::InclusionProof(d) => VerifyError::InclusionProof {
            detail: one_line(&d),
        },
        TransparencyLogError::Checkpoint(d) => VerifyError::Checkpoint {
            detail: one_line(&d),
        },
        // The entry's log is in the trusted root (checked before upstream runs) but none
        // of its keys covers the entry's time: the root lacks the authority needed.
        TransparencyLogError::InclusionPromise(d) if d.starts_with("No log key valid") => {
            VerifyError::MissingAuthority {
                authority: Authority::TransparencyLog,
                detail: one_line(&d),
            }
        }
        TransparencyLogError::InclusionPromise(d) => VerifyError::InclusionPromise {
            detail: one_line(&d),
        },
        TransparencyLogError::EntryMismatch(d) => VerifyError::LogEntryMismatch {
            detail: one_line(&d),
        },
        TransparencyLogError::IntegratedTime(d) => VerifyError::IntegratedTime {
            detail: one_line(&d),
        },
        // A body that does not parse as its declared kind cannot describe this bundle.
        TransparencyLogError::MalformedEntry(d) => VerifyError::LogEntryMismatch {
            detail: format!("malformed log entry: {}", one_line(&d)),
        },
        other => VerifyError::InvalidBundle {
            detail: one_line(&other.to_string()),
        },
    }
}

fn map_timestamp(err: TimestampError) -> VerifyError {
    match err {
        TimestampError::NoVerifiedTimestamp(d) => VerifyError::NoVerifiedTime {
            detail: one_line(&d),
        },
        other => VerifyError::Timestamp {
            detail: one_line(&other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the webpki text this module parses (rustls-webpki 0.103 via sigstore-verify
    /// 0.15.1); if an upgrade changes it, the conformance cases with expired certificates
    /// fall back to VERIFY_E013 and this test names the reason.
    #[test]
    fn webpki_expiry_text_becomes_a_validity_error() {
        let d = "certificate chain validation failed: CertExpired { time: UnixTime(1778168051), not_after: UnixTime(1778167690) }";
        let err = map_certificate(CertificateError::ChainInvalid(d.into()));
        assert_eq!(err.code(), "VERIFY_E014");
        assert!(
            err.to_string().contains("expired at 2026-05-07T15:28:10Z"),
            "{err}"
        );
        let d = "CertNotValidYet { time: UnixTime(1675209600), not_before: UnixTime(1893456000) }";
        let err = map_certificate(CertificateError::ChainInvalid(d.into()));
        assert!(
            err.to_string()
                .contains("not valid before 2030-01-01T00:00:00Z"),
            "{err}"
        );
        let err = map_certificate(CertificateError::ChainInvalid(
            "CertExpired { garbled".into(),
        ));
        assert_eq!(err.code(), "VERIFY_E013");
    }

    #[test]
    fn log_without_a_key_for_the_entry_time_is_a_missing_authority() {
        let d = "No log key valid at integrated time 2023-07-12T17:35:19Z for log ID abc=";
        let err = map_tlog(TransparencyLogError::InclusionPromise(d.into()));
        assert_eq!(err.code(), "VERIFY_E016");
        let err = map_tlog(TransparencyLogError::InclusionPromise(
            "SET verification failed".into(),
        ));
        assert_eq!(err.code(), "VERIFY_E019");
    }

    #[test]
    fn consistency_step_artifact_mismatch_is_a_log_entry_mismatch() {
        let err = map_error(E::ArtifactMismatch(
            "artifact hash mismatch for hashedrekord entry".into(),
        ));
        assert_eq!(err.code(), "VERIFY_E020");
        let err = map_error(E::ArtifactMismatch(
            "message digest in bundle does not match artifact hash".into(),
        ));
        assert_eq!(err.code(), "VERIFY_E011");
    }
}
