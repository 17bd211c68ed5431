//! PEP 740 for Python distributions: the attestation and provenance objects, their
//! conversion to and from Sigstore bundles, and the one judgement of an attestation for a
//! distribution file against a trusted publisher (or any keyless identity) and a trusted
//! root. The cryptography is the verify layer's (`vouch-verify`); this crate owns what
//! PyPI adds on top (subject, predicate type, publisher claims) and the `PEP740_E…` codes.
//!
//! ```no_run
//! use vouch_pep740::{verify_attestation, Attestation, Dist, Identity, TrustedPublisher};
//! use vouch_verify::{TrustRoot, Verifier};
//! # fn main() -> Result<(), vouch_pep740::Pep740Error> {
//! let verifier = Verifier::new(&TrustRoot::public_good()?)?;
//! let dist = Dist::from_file("demo-1.0-py3-none-any.whl".as_ref())?;
//! let attestation = Attestation::from_json(&std::fs::read("demo-1.0-py3-none-any.whl.publish.attestation").unwrap())?;
//! let publisher = TrustedPublisher::from_repository_url("https://github.com/org/demo")?
//!     .with_workflow("release.yml");
//! verify_attestation(&verifier, &attestation, &dist, &Identity::Publisher(publisher))?;
//! # Ok(()) }
//! ```

mod dist;
mod error;
pub mod index;
mod model;
mod policy;
pub mod request;
mod verify;

pub use dist::{canonical_name, Dist};
pub use error::Pep740Error;
pub use model::{
    Attestation, AttestationBundle, Envelope, Provenance, Publisher, VerificationMaterial,
    IN_TOTO_PAYLOAD_TYPE, MAX_OBJECT_BYTES,
};
pub use policy::{
    Identity, PublisherKind, TrustedPublisher, GITHUB_ACTIONS_ISSUER, GITLAB_COM_ISSUER,
};
pub use verify::{
    publish_statement, verify_attestation, verify_provenance, VerifiedAttestation, PYPI_PUBLISH_V1,
    SLSA_PROVENANCE_V1, STATEMENT_V1,
};
