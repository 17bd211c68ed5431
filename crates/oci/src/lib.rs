//! Container images in any OCI registry: find, verify and write cosign-compatible
//! signatures and attestations. The verification itself is vouch-verify's; this crate
//! owns the registry protocol, cosign's two schemes and the `OCI_E…` codes.
//!
//! - [`verify_image`]: resolve a tag once (a digest reference is not resolved), list
//!   referrers (the API, else the `sha256-<hex>` tag), read the legacy `sha256-<hex>.sig`
//!   and `.att` tags, verify every Sigstore bundle found (at most [`MAX_SIGNATURES`]) and
//!   check its claim against the image digest.
//! - [`sign_image`]: sign an in-toto statement about the image keylessly and attach it
//!   as an OCI 1.1 referrer (or under the referrers tag); with `legacy_tag`, sign as
//!   cosign 2.x does (a Rekor v1 SET in the annotations of a `sha256-<hex>.sig` or
//!   `.att` layer).
//!
//! Safety: every manifest and blob digest is recomputed from the bytes, every answer has
//! a size cap, redirects are followed only for blob downloads, and plain HTTP goes only
//! to loopback registries unless the caller allows it.

mod client;
pub mod cosign;
mod credentials;
mod error;
mod legacy;
mod push;
mod reference;
mod verify;

pub use client::{sha256_digest, Client, Manifest, MAX_MANIFEST_BYTES, MAX_SIGNATURE_BLOB_BYTES};
pub use credentials::Credentials;
pub use error::{OciError, CODES};
pub use push::{attach, sign_image, SignImageRequest, SignedImage, MAX_PREDICATE_BYTES};
pub use reference::{check_digest, ImageRef};
pub use verify::{verify_image, ImageReport, Verdict, VerifyImageRequest, MAX_SIGNATURES};
