//! The HTTP service behind `vouch serve`: mounts the log, and later the CA and registry routes, on one axum router.
//!
//! - [`config`]: [`ServeConfig`], the typed configuration file (and the `--dev` one).
//! - [`app`]: opening storage and the log, the shared state, the router.
//! - [`tiles`]: `GET <prefix>/checkpoint` and `GET <prefix>/tile/...`.
//! - [`witness`]: the built-in tlog-witness, `POST /add-checkpoint`.
//! - [`internal`]: the authenticated add-entry endpoint.
//! - [`ApiError`]: every HTTP error as `(status, code, detail)` JSON.
//!
//! **Architecture invariant:** only this crate speaks HTTP; the log and storage crates
//! know nothing of it.

pub mod app;
mod cache;
pub mod config;
mod error;
pub mod internal;
pub mod tiles;
pub mod witness;

pub use app::{open, router, serve, App, AppState, Secrets};
pub use config::ServeConfig;
pub use error::{ApiError, ServeError};
