//! Release pipeline tools: sealing a release directory (SHA256SUMS, `.sha256` files,
//! `dist-manifest.json`, `crates-manifest.json`), verifying files against those records,
//! and comparing what package indexes serve with them.
//!
//! - [`seal`] hashes a directory once (SHA-256 and BLAKE3 in one streamed pass per file,
//!   see [`hash`]) and writes the records, idempotently;
//! - [`check`] verifies files against a checksum list or a manifest;
//! - [`index`] asks PyPI, crates.io or a vouch registry what they serve, with bounded
//!   retries for propagation lag.
//!
//! Formats live in [`sums`] and [`manifest`]; [`report`] renders each result as its
//! command's `--json` object and text lines; every error is a [`ReleaseError`] with a
//! stable code.

pub mod check;
pub mod digest;
pub mod error;
pub mod hash;
pub mod index;
pub mod manifest;
pub mod name;
pub mod report;
pub mod seal;
pub mod sums;

pub use error::ReleaseError;
