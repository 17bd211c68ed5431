//! The Cargo registry (issue 19): a sparse index cargo reads unchanged, the web API `cargo publish`, `yank` and `owner` use, crates.io-compatible trusted publishing, and a registry-signed, logged integrity record per publish.
//!
//! | route | module |
//! |---|---|
//! | `GET /cargo/index/config.json`, `GET /cargo/index/{1,2,3/a,ab/cd}/NAME` | [`index`] |
//! | `GET /api/v1/crates/{name}/{version}/download` | [`index`] |
//! | `PUT /api/v1/crates/new` | [`publish`] (the `.crate` checks in [`crate_file`]) |
//! | `DELETE /api/v1/crates/{name}/{version}/yank`, `PUT .../unyank`, owners, versions, the version's integrity record | [`api`] |
//! | `POST`/`DELETE /api/v1/trusted_publishing/tokens`, `POST /api/v1/trusted_publishing/{github,gitlab}_configs` | [`trustpub`] |
//!
//! Errors answer as cargo expects, `{"errors":[{"detail":"CARGO_E0xx: ..."}]}` (with
//! the code also in `code`), see [`CargoError`]. Credentials: cargo sends the token
//! verbatim in `Authorization`; a user's vouch API token (owner scope) is a read token
//! and, for crates the user owns, a publish token; the trusted-publishing exchange
//! makes 30-minute publish tokens scoped to the crates whose bindings matched.
//!
//! **Invariant:** a version is immutable once its row committed (the schema refuses
//! changes; only its yank state, kept apart, moves), and its `.crate` is served from the
//! content-addressed blob the row names, so downloads are byte-identical forever.

pub mod api;
pub mod crate_file;
mod error;
pub mod index;
pub mod publish;
pub mod trustpub;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;
use bytes::Bytes;
use serde::Deserialize;

pub use error::CargoError;

use crate::AppState;

/// `[cargo]`: the Cargo registry's settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CargoSection {
    /// A private registry: `config.json` says `auth-required`, and every index and
    /// download request needs a user's API token (a read token).
    #[serde(default)]
    pub auth_required: bool,
    /// Where cargo sends users for a token (`www-authenticate: Cargo login_url=...`);
    /// default `PUBLIC_URL/`.
    #[serde(default)]
    pub login_url: Option<String>,
}

/// Longest `.crate` accepted (crates.io's default is 10 MiB).
pub const MAX_CRATE_BYTES: usize = 10 << 20;
/// Longest publish metadata JSON.
pub const MAX_METADATA_BYTES: usize = 1 << 20;
/// How long a rendered index file is served from memory on a node that did not
/// write the change itself (writes on this node drop the entry at once).
pub const INDEX_CACHE_TTL: Duration = Duration::from_secs(1);
/// Most index files kept rendered before the cache is cleared.
const INDEX_CACHE_ENTRIES: usize = 16_384;

/// A rendered index file.
#[derive(Debug)]
pub struct IndexFile {
    pub body: Bytes,
    pub etag: String,
    pub last_modified: String,
}

/// What the Cargo routes share: settings and the per-node index cache.
#[derive(Debug)]
pub struct CargoState {
    pub settings: CargoSection,
    /// Normalised crate name -> rendered index file of a crate that exists.
    pub(crate) cache: crate::cache::FreshCache<IndexFile>,
}

impl CargoState {
    pub fn new(settings: CargoSection) -> Self {
        CargoState {
            settings,
            cache: crate::cache::FreshCache::new(INDEX_CACHE_TTL, INDEX_CACHE_ENTRIES),
        }
    }

    /// Drops a crate's rendered index file after a write on this node.
    pub fn invalidate(&self, norm: &str) {
        self.cache.invalidate(norm);
    }
}

/// The Cargo routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/cargo/index/{*path}", get(index::index_file))
        .route(
            "/api/v1/crates/{name}/{version}/download",
            get(index::download),
        )
        .route(
            "/api/v1/crates/new",
            put(publish::publish).layer(DefaultBodyLimit::max(
                MAX_CRATE_BYTES + MAX_METADATA_BYTES + 8,
            )),
        )
        .route(
            "/api/v1/crates/{name}/{version}/yank",
            delete(api::yank::<true>),
        )
        .route(
            "/api/v1/crates/{name}/{version}/unyank",
            put(api::yank::<false>),
        )
        .route(
            "/api/v1/crates/{name}/owners",
            get(api::owners)
                .put(api::change_owners_route::<true>)
                .delete(api::change_owners_route::<false>),
        )
        .route("/api/v1/crates/{name}/versions", get(api::versions))
        .route(
            "/api/v1/crates/{name}/{version}/integrity",
            get(api::integrity),
        )
        .route(
            "/api/v1/trusted_publishing/tokens",
            post(trustpub::exchange)
                .delete(trustpub::revoke)
                .layer(DefaultBodyLimit::max(64 << 10)),
        )
        .route(
            "/api/v1/trusted_publishing/github_configs",
            post(trustpub::add_github).layer(DefaultBodyLimit::max(16 << 10)),
        )
        .route(
            "/api/v1/trusted_publishing/gitlab_configs",
            post(trustpub::add_gitlab).layer(DefaultBodyLimit::max(16 << 10)),
        )
}
