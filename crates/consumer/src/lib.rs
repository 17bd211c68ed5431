//! The consumer side of vouch as a library: fetch a package version with inline
//! verification, keep the lockfile (`vouch.lock`, with its `[provenance]` block and the
//! bundles cached beside it), and audit it (signatures offline, transparency against
//! the registry's log). The `vouch` binary's `fetch`, `lock` and `audit` commands are
//! thin wrappers over these functions; a CI action, a package-manager plugin or a
//! policy engine can call them the same way.
//!
//! Errors are [`vouch_api_client::CodedError`]s with the stable codes of docs/errors.md
//! (`FETCH_E*`, `LOCK_E*`, `AUDIT_E*`, `VERIFY_E*` from the verifier, and the registry's
//! own codes passed through); reports are plain data for the caller to print. Nothing
//! here prints, draws progress bars or exits.
//!
//! Fetching and verifying a package from another Rust program:
//!
//! ```no_run
//! use std::path::PathBuf;
//! use vouch_api_client::NoProgress;
//! use vouch_consumer::{fetch, FetchRequest, OutTarget, Spec};
//!
//! # async fn run() -> Result<(), vouch_api_client::CodedError> {
//! let fetched = fetch(
//!     &FetchRequest {
//!         server: vouch_api_client::base_url("https://registry.example")?,
//!         spec: Spec::parse("@acme/widget@1.2.0")?, // or "@acme/widget" for the newest
//!         lockfile: PathBuf::from("vouch.lock"),
//!         out: OutTarget::Dir(PathBuf::from("vendor")),
//!         policy: None,
//!         trusted_root: None, // or Some(bytes): pin the root instead of trusting the answer
//!     },
//!     &NoProgress,
//! )
//! .await?; // any failed check is an error with its code, e.g. FETCH_E001
//! println!("{}@{} signed by {}", fetched.name, fetched.version, fetched.identity);
//!
//! // Later, offline: re-verify every locked bundle.
//! let report = vouch_consumer::audit_signatures(
//!     &PathBuf::from("vouch.lock"),
//!     vouch_consumer::Network::Offline,
//!     None, // or Some(&policy): a vouch_policy::PolicyFile every signer must satisfy
//!     None, // or Some(path): a trusted_root.json to verify against instead of the cached one
//! )?;
//! assert!(report.all_verified());
//! # Ok(())
//! # }
//! ```

pub mod artifact;
pub mod bench;
pub mod cargo_audit;
pub mod check;
pub mod claims;
pub mod fetch;
pub mod lockfile;
pub mod record;
pub mod root;
pub mod signatures;
pub mod transparency;

pub use artifact::{refusal_json, verify_artifact, ArtifactPolicy, ArtifactVerified};
pub use bench::{bench_audit, replicate_lockfile, AuditBench};
pub use cargo_audit::{audit_cargo, CargoAudit, CargoAuditReport};
pub use check::{check_lockfile, normalise_lockfile, CheckReport, Normalised, Problem};
pub use claims::{check_claims, policy_for, RecordedBinding};
pub use fetch::{
    fetch, log_facts, new_server_entry, newest_version, FetchRequest, Fetched, LogFacts, OutTarget,
    Spec,
};
pub use lockfile::{
    blob_rel, bundle_rel, LockedPackage, Lockfile, Provenance, ServerEntry, DEFAULT_LOCKFILE,
};
pub use record::{record_published, PublishedVersion};
pub use root::{audit_roots, tuf_error, RootChoice};
pub use signatures::{audit_signatures, Network, SignatureReport, Status};
pub use transparency::{audit_transparency, prove, Leaf, ServerReport, TransparencyReport};
