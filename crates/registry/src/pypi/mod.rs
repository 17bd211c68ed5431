//! The Python package index: PEP 503/691 simple pages, files by digest with their PEP 658 metadata, PEP 740 provenance, and PyPI's upload API with trusted publishing.
//!
//! - [`simple`]: `GET /simple/` and `GET /simple/<project>/` (PEP 691 JSON or PEP 503
//!   HTML by `Accept`, api-version 1.3), `GET /files/<blake3>/<filename>[.metadata]`
//!   and `GET /integrity/<project>/<version>/<filename>/provenance`.
//! - [`token`]: PyPI's trusted-publishing exchange: `GET /_/oidc/audience` and
//!   `POST /_/oidc/mint-token` turn a CI's OIDC token into a short-lived upload token
//!   scoped to the projects whose trusted-publisher bindings accept it.
//! - [`upload`]: `POST /legacy/`, the upload API twine and uv speak.
//! - [`attest`]: the PEP 740 attestations of an upload, verified before it is stored.
//! - [`yank`]: owners yank and un-yank releases (PEP 592).
//!
//! A Python project is the vouch package `@pypi/<PEP 503 name>`
//! ([`vouch_store::meta::PYPI_SCOPE`]): its owners, bindings (pending and active)
//! and the one claim-matching rule (`vouch-binding`) are the ones every vouch package
//! has, so `POST /api/v1/publishers` with `"package": "@pypi/NAME"` registers a
//! project's trusted publisher. The error codes are [`error::PypiError`]'s (`PYPI_E…`);
//! binding refusals keep their `PUB_E…` codes.

pub mod attest;
pub mod error;
pub mod names;
pub mod record;
pub mod simple;
pub mod token;
pub mod upload;
pub mod wheel;
pub mod yank;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub use error::PypiError;

/// The PEP 691 JSON media type.
pub const JSON_MEDIA_TYPE: &str = "application/vnd.pypi.simple.v1+json";
/// The PEP 691 HTML media type (PEP 503 pages).
pub const HTML_MEDIA_TYPE: &str = "application/vnd.pypi.simple.v1+html";
/// The simple API version answered (1.3: PEP 740 provenance).
pub const API_VERSION: &str = "1.3";

/// How long a rendered simple page is served from memory on a node that did not write
/// the change itself (writes on this node drop the page at once).
pub const PAGE_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Most pages kept rendered before the cache is cleared.
const PAGE_CACHE_ENTRIES: usize = 16_384;

/// Every route of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/simple", get(simple::root_redirect))
        .route("/simple/", get(simple::root))
        .route("/simple/{project}", get(simple::project_redirect))
        .route("/simple/{project}/", get(simple::project))
        .route("/files/{digest}/{filename}", get(simple::file))
        .route(
            "/integrity/{project}/{version}/{filename}/provenance",
            get(simple::provenance),
        )
        .route(
            "/integrity/{project}/{version}/{filename}/record",
            get(record::record),
        )
        .route("/_/oidc/audience", get(token::audience))
        .route(
            "/_/oidc/mint-token",
            post(token::mint).layer(DefaultBodyLimit::max(token::MAX_MINT_BODY)),
        )
        // The body is streamed and capped by the upload itself.
        .route(
            "/legacy/",
            post(upload::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/pypi/{project}/{version}/yank",
            post(yank::yank).delete(yank::unyank),
        )
}

/// The index's own state inside [`AppState`].
pub struct PyIndex {
    /// The audience a CI token must carry at mint-token: this server's public URL.
    pub audience: String,
    /// Verifies CI tokens for that audience (same issuers and replay store as the CA).
    pub verifier: vouch_oidc::Verifier,
    /// Rendered simple pages by normalised project name (`""`: `/simple/`).
    pub pages: crate::cache::FreshCache<simple::Page>,
}

impl std::fmt::Debug for PyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyIndex")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl PyIndex {
    /// The index's verifier: `[oidc]` issuers (and the dev issuer) with the public URL as
    /// the audience, so tokens minted for Fulcio (or for PyPI) are not upload tokens here.
    pub fn open(
        cfg: &crate::config::ServeConfig,
        sigstore: &crate::sigstore::SigstoreServices,
        meta: Arc<dyn vouch_store::meta::MetaStore>,
        public_url: &str,
    ) -> Result<Self, crate::ServeError> {
        let mut section = cfg.oidc.clone();
        section.audience = public_url.to_owned();
        let verifier = crate::sigstore::oidc::verifier(
            &section,
            sigstore.dev_issuer.as_deref(),
            meta,
            Arc::clone(&sigstore.clock),
        )?;
        Ok(PyIndex {
            audience: public_url.to_owned(),
            verifier,
            pages: crate::cache::FreshCache::new(PAGE_CACHE_TTL, PAGE_CACHE_ENTRIES),
        })
    }

    /// Drops the pages a write to `project` (normalised) changed on this node.
    pub fn changed(&self, project: &str) {
        self.pages.invalidate(project);
        self.pages.invalidate("");
    }
}
