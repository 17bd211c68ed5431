//! The `INTEGRITY_E1xx` codes of the registry's integrity service (key loading, rotation, recording, record reads), defined here so that the `INTEGRITY_E` prefix has one owner: this crate.
//!
//! The service (`vouch_registry::integrity`) maps its failures onto these; the codes
//! of this crate's own errors are [`crate::IntegrityError::code`]. Stable; never
//! renumbered or reused.

/// The current key row was sealed for another instance (a copied table).
pub const FOREIGN_KEY: &str = "INTEGRITY_E101";
/// Keys exist but none is current (a hand-edited database).
pub const NO_CURRENT_KEY: &str = "INTEGRITY_E102";
/// A concurrent rotation changed the current key first.
pub const ROTATION_RACED: &str = "INTEGRITY_E103";
/// The operating system's random number generator failed (in the service).
pub const SERVICE_RANDOM: &str = "INTEGRITY_E104";
/// The metadata database failed.
pub const METADATA: &str = "INTEGRITY_E105";
/// No integrity record exists for the subject asked for.
pub const NO_RECORD: &str = "INTEGRITY_E106";
/// The record is larger than one transparency-log entry.
pub const RECORD_TOO_LARGE: &str = "INTEGRITY_E107";
/// The transparency log did not take the record.
pub const LOG_REFUSED: &str = "INTEGRITY_E108";
/// A `[[forges]]` entry is unusable (bad kind, URL, repository or missing variable).
pub const FORGE_CONFIG: &str = "INTEGRITY_E109";
/// This node could not confirm its registry key is still current within the refresh
/// bound (another node may have rotated it): nothing is signed until it can.
pub const KEY_RING_STALE: &str = "INTEGRITY_E110";

/// The inclusion proof or checkpoint of a record does not verify (also
/// [`crate::IntegrityError::LogProof`]).
pub const LOG_PROOF: &str = "INTEGRITY_E030";

// The `INTEGRITY_E2xx` codes of `vouch verify integrity`'s client side
// (`vouch_api_client::integrity`), which does the IO this crate does not.

/// The record is about another subject or version than the one asked for.
pub const CLIENT_OTHER_SUBJECT: &str = "INTEGRITY_E201";
/// `--assets DIR`: an asset listed in the record is missing from DIR.
pub const CLIENT_ASSET_MISSING: &str = "INTEGRITY_E202";
/// `--package` is not `@scope/name@VERSION`.
pub const CLIENT_BAD_PACKAGE: &str = "INTEGRITY_E203";
/// `--log-key` is not a signed-note verifier key.
pub const CLIENT_BAD_LOG_KEY: &str = "INTEGRITY_E204";
