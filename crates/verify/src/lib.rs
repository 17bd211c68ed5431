//! Verification library: Sigstore bundles against an identity policy, offline.
//! Embeddable by any Rust tool; no network, no global state.
//!
//! ```no_run
//! use vouch_verify::{Artifact, IdentityPolicy, Matcher, ParsedBundle, Policy, PolicyField, TrustRoot, Verifier};
//! # fn main() -> Result<(), vouch_verify::VerifyError> {
//! let verifier = Verifier::new(&TrustRoot::public_good()?)?; // once; share across threads
//! let policy = Policy::Keyless(IdentityPolicy::new(
//!     Matcher::regex(PolicyField::Identity, "https://github.com/org/repo/.*")?,
//!     Matcher::exact(PolicyField::Issuer, "https://token.actions.githubusercontent.com")?,
//! ));
//! let bundle = ParsedBundle::from_file("a.txt.sigstore.json".as_ref())?;
//! let verified = verifier.verify(&Artifact::file("a.txt"), &bundle, &policy)?;
//! # let _ = verified; Ok(()) }
//! ```
//!
//! Built on the sigstore-rust crates (sigstore-verify and siblings) for the
//! cryptography; this crate owns the policy layer, the limits and the error codes.

mod artifact;
mod bundle;
mod error;
pub mod limits;
mod outcome;
mod policy;
pub mod request;
mod tlog;
mod trust;
mod upstream;
mod verifier;

pub use artifact::{Artifact, IN_MEMORY_ARTIFACT_LIMIT_BYTES};
pub use bundle::{BundleVersion, ParsedBundle};
pub use error::{
    Authority, DigestProblem, ErrorClass, Input, SignerKind, ValidityBound, VerifyError, CODES,
};
pub use outcome::{Content, LogEntry, Signer, Subject, Verified};
pub use policy::{
    AnchoredRegex, CiClaim, IdentityPolicy, ManagedKey, Matcher, Policy, PolicyError, PolicyField,
};
pub use request::{verify_request, PolicySpec, TrustSpec};
pub use trust::{TrustRoot, TrustRootSource};
pub use verifier::{map_on_threads, BundleInput, Job, Verifier};
