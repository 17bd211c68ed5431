//! `POST /api/v1/publish`: a token-less upload whose Sigstore bundle is its credential.
//!
//! Steps, each refusing with a code and storing nothing on failure:
//! 1. Rotation gate (PUB_E008).
//! 2. Stream the multipart body: the `archive` part to memory or a temporary file,
//!    hashing SHA-256 and BLAKE3 as it arrives; the `bundle` part to memory
//!    (PUB_E009/E010). [`receive`]
//! 3. Inspect the archive strictly (`vouch-package`: paths, links, devices, bombs:
//!    PKG_E*) and read name and version from its `vouch.toml` (PUB_E011, PKG_E005/6).
//! 4. Verify the bundle fully against the instance's trusted root: a DSSE in-toto
//!    Statement v1 whose subject has the archive's SHA-256 and whose predicate is SLSA
//!    provenance v1, certificate chain, SCT, log inclusion, signing time (PUB_E005).
//!    Steps 3 and 4 are `vouch-package`'s publish checks, run by [`steps`].
//! 5. Match the certificate's identity to the package's bindings, or its pending
//!    bindings while the package does not exist (PUB_E001, PUB_E006). [`commit`]
//! 6. Store the blob, then the bundle (content-addressed, idempotent, invisible until
//!    referenced), then commit the version row: the single commit point. A concurrent
//!    publish of the same version loses there with PUB_E007; a pending binding is
//!    promoted in that same transaction, together with the package's creation; bindings
//!    that changed under the publish twice in a row end it with PUB_E013.
//!
//! This file is the HTTP handler only: headers in, the steps in order, a response out.

mod commit;
mod receive;
mod steps;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;

use super::identity;
use super::{codes, multipart};
use crate::{ApiError, AppState};

pub use receive::{sweep_uploads, STALE_UPLOAD_AGE};
pub use steps::Signed;

/// `POST /api/v1/publish`.
pub async fn publish(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let packages = &state.packages;
    // Refused early while a rotation runs, so nobody uploads only to be refused; but
    // not held here: a slow body holding the gate made a rotation queue behind it and
    // every other publish fail with PUB_E008 until that one connection died (issue 13).
    drop(
        packages
            .rotation
            .try_publish()
            .ok_or_else(codes::rotation_in_progress)?,
    );
    state
        .integrity
        .check_fresh()
        .map_err(|_| codes::rotation_in_progress())?;
    let trust = packages.trust();

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary =
        multipart::boundary(content_type).map_err(|e| codes::bad_upload(e.to_string()))?;
    let upload = receive::receive(&state, body, &boundary).await?;

    let (manifest, signed) =
        steps::check_upload(&upload, Arc::clone(&trust), packages.limits.archive).await?;
    let name = manifest.name().to_string();
    let version = manifest.version().to_string();

    let presented = match identity::present(&signed.claims, &trust.issuers) {
        Ok(p) => p,
        Err(r) => return Err(steps::refuse(&state, &name, &version, &signed, r).await),
    };
    // Held only around the commit (which signs with the registry key): a rotation
    // waits for commits in flight, never for bodies still arriving.
    let _pass = packages
        .rotation
        .try_publish()
        .ok_or_else(codes::rotation_in_progress)?;
    // A node that has not confirmed its registry key current within the bound (a
    // rotation elsewhere it has not seen yet, or a database it cannot read) would
    // sign the version's record with a possibly superseded key: refused like a
    // rotation in progress, and retried.
    state
        .integrity
        .check_fresh()
        .map_err(|_| codes::rotation_in_progress())?;
    commit::commit(&state, &upload, &name, &version, &signed, &presented).await
}
