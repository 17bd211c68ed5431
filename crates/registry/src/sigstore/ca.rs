//! The Fulcio-v2-compatible CA routes: `POST /api/v2/signingCert` (verify the token, check proof of possession, issue, log the precertificate in the CT log, answer) and `GET /api/v2/trustBundle`.
//!
//! Order of checks, each failing closed before anything is issued or logged: body size
//! and JSON shape, key source, a CSR's self-signature (before the token, so a bad CSR does
//! not spend the token's `jti`), the token (signature, claims, replay), a public key's
//! proof over the token's subject, the identity's encodability. Only then is the
//! certificate built, and it is returned only once the CT log has committed its
//! `MerkleTreeLeaf` (the log group-commits concurrent issuances into one batch).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use vouch_ca::api::CreateSigningCertificateRequest;
use vouch_ca::{ObjectIdentifier, SigningRequest};
use vouch_oidc::{FulcioExtension, San};

use super::error::{self, body_rejection};
use super::oidc::require_json;
use crate::app::AppState;
use crate::ApiError;

/// The verified token's identity in the CA crate's terms. The issuer extensions (1.1 and
/// 1.8) are the CA's to write from `issuer`, so they are not passed as extensions.
pub fn certificate_identity(
    id: &vouch_oidc::CertificateIdentity,
) -> Result<vouch_ca::CertificateIdentity, ApiError> {
    let san = match &id.san {
        San::Uri(u) => vouch_ca::San::Uri(u.clone()),
        San::Email(e) => vouch_ca::San::Email(e.clone()),
        other => {
            return Err(error::internal(
                "SIGSTORE_E015",
                &format!("unsupported SAN kind {other:?}"),
            ))
        }
    };
    let mut extensions = Vec::with_capacity(id.extensions.len());
    for ext in &id.extensions {
        if matches!(
            ext.kind,
            FulcioExtension::Issuer | FulcioExtension::IssuerV2
        ) {
            continue;
        }
        let oid = ObjectIdentifier::new(ext.kind.oid()).map_err(|e| {
            error::internal("SIGSTORE_E015", &format!("bad OID {}: {e}", ext.kind.oid()))
        })?;
        extensions.push((oid, ext.value.clone()));
    }
    Ok(vouch_ca::CertificateIdentity {
        san,
        issuer: id.issuer.clone(),
        extensions,
    })
}

/// The bearer token of the `Authorization` header, if any.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().ok().and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    });
    match text {
        Some(t) if !t.is_empty() => Ok(Some(t)),
        _ => Err(error::refuse(
            StatusCode::UNAUTHORIZED,
            "SIGSTORE_E010",
            "the Authorization header must be `Bearer <identity token>`",
        )),
    }
}

/// `POST /api/v2/signingCert`.
pub async fn signing_cert(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| body_rejection(e, vouch_ca::api::MAX_REQUEST_BYTES))?;
    require_json(&headers)?;
    let wire: CreateSigningCertificateRequest = match serde_json::from_slice(&body) {
        Ok(w) => w,
        // The CA crate's parser gives the coded, value-free description of the problem.
        // (The CA crate owns `CA_E…`: the fallback is its variant, not a literal.)
        Err(e) => {
            return Err(ApiError::from(
                SigningRequest::from_json(&body).err().unwrap_or(
                    vouch_ca::CaError::MalformedRequest {
                        line: e.line(),
                        column: e.column(),
                        reason: "malformed request".into(),
                    },
                ),
            ))
        }
    };
    let is_csr = wire.certificate_signing_request.is_some();
    let request = SigningRequest::from_wire(wire)?;
    let token = match (request.identity_token().map(str::to_owned), bearer(&headers)?) {
        (Some(a), Some(b)) if a != b => {
            return Err(error::refuse(
                StatusCode::BAD_REQUEST,
                "SIGSTORE_E011",
                "the body's credentials.oidcIdentityToken and the Authorization header carry different tokens",
            ))
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => {
            return Err(error::refuse(
                StatusCode::UNAUTHORIZED,
                "SIGSTORE_E010",
                "an identity token is required: `Authorization: Bearer <token>` or credentials.oidcIdentityToken",
            ))
        }
    };
    let services = &app.sigstore;
    let (key, verified) = if is_csr {
        // A CSR proves possession by its own signature; the challenge is unused.
        let key = request.prove_possession("")?;
        (key, services.verifier.verify(&token).await?)
    } else {
        let verified = services.verifier.verify(&token).await?;
        let challenge = match &verified.identity.san {
            San::Email(email) => email.clone(),
            _ => verified.subject.clone(),
        };
        (request.prove_possession(&challenge)?, verified)
    };
    let identity = certificate_identity(&verified.identity)?;
    let issued = services.ca.issue(&key, &identity)?;
    let response = issued.to_response()?;
    // Durable in the CT log before the certificate leaves the server.
    let index = services
        .ct_log
        .add(Bytes::from(issued.ct_merkle_tree_leaf))
        .await
        .map_err(error::ct_log)?
        .index;
    tracing::info!(
        san = verified.identity.san.value(),
        issuer = %verified.issuer,
        ct_index = index,
        "certificate issued"
    );
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(response),
    )
        .into_response())
}

/// `GET /api/v2/trustBundle`: the CA chain, intermediate then root.
pub async fn trust_bundle(State(app): State<Arc<AppState>>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(app.sigstore.ca.trust_bundle()),
    )
        .into_response()
}
