//! The HTTP service behind `vouch serve`: mounts the log, and later the CA and registry routes, on one axum router.
//!
//! - [`backup`]: online backup and offline restore with a checked manifest.
//! - [`config`]: [`ServeConfig`], the typed configuration file (and the `--dev` one).
//! - [`app`]: opening storage and the log, the shared state, the router.
//! - [`tiles`]: `GET <prefix>/checkpoint` and `GET <prefix>/tile/...`.
//! - [`witness`]: the built-in tlog-witness, `POST /add-checkpoint`.
//! - [`internal`]: the authenticated add-entry endpoint.
//! - [`rekor`]: Rekor v2 `POST /api/v2/log/entries` on the log.
//! - [`sigstore`]: OIDC (and the `--dev` issuer), the CA with its CT log, the TSA, the trust config.
//! - [`tls`]: serving HTTPS (`--tls-cert`, `--tls-key`).
//! - [`integrity`]: the registry signing key and JWKS, integrity records, backfill, audit and admin APIs.
//! - [`packages`]: trusted publishers, publish, the index, blobs, the OpenAPI document.
//! - [`cargo`]: the Cargo sparse registry with crates.io-compatible trusted publishing.
//! - [`web`]: the server-rendered web UI (admin sign-in, Security and Audit pages, package and release pages).
//! - [`accounts`]: the admin API for users, tokens and package owners.
//! - [`keygen`]: the operator's secrets (`vouch keygen`).
//! - [`init`]: `vouch admin init`, the one step that creates a production instance.
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics` and the request-metrics middleware.
//! - [`ApiError`]: every HTTP error as `(status, code, detail)` JSON.
//!
//! **Architecture invariant:** only this crate speaks HTTP; the log and storage crates
//! know nothing of it.

pub mod accounts;
pub mod app;
pub mod backup;
mod cache;
pub mod cargo;
pub mod cluster;
pub mod config;
pub mod conn;
mod deadline;
mod error;
pub mod init;
pub mod integrity;
pub mod internal;
pub mod keygen;
pub mod launch;
pub mod limits;
pub mod offline;
pub mod ops;
pub mod packages;
pub mod pypi;
pub mod rekor;
pub mod reseal;
pub mod sigstore;
pub mod tiles;
pub mod tls;
pub mod tuf;
pub mod web;
pub mod witness;

pub use app::{
    follow, lead, open, open_as, router, serve, serve_tls, App, AppState, Membership, Runtime,
    Secrets,
};
pub use config::ServeConfig;
pub use error::{ApiError, ServeError};
