//! Webhook deliveries: the signature or token is verified over the raw body BEFORE the
//! body is parsed, then release events are reduced to (repository, tag, action).
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
//! - Gitea/Forgejo: `X-Gitea-Signature` / `X-Forgejo-Signature: <hex HMAC-SHA256>`
//!   (every one present must verify; at least one must be present).
//! - GitLab: `X-Gitlab-Token: <secret>`, compared in constant time.
//!
//! All comparisons are constant-time (`hmac`'s `verify_slice`, `subtle`).

use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::error::IngestError;
use crate::forge::{ForgeKind, RepoRef, Secret};

/// Largest webhook body accepted (1 MiB). GitHub caps deliveries at 25 MB, but release
/// events are a few kilobytes; the registry should apply the same cap to the request
/// body before calling [`verify_webhook`].
pub const WEBHOOK_BODY_CAP_BYTES: usize = 1 << 20;

/// What a release event did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReleaseAction {
    /// Published (GitHub `published`/`released`/`prereleased`/`created`, Gitea
    /// `published`, GitLab `create`): ingest it.
    Published,
    /// Edited (`edited`, `updated`, `update`): re-list and compare (immutability).
    Updated,
    /// Deleted or unpublished: keep what is stored, audit it.
    Deleted,
    /// Any other action, as sent.
    Other(String),
}

/// A verified webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// A release event.
    Release {
        repo: RepoRef,
        tag: String,
        action: ReleaseAction,
    },
    /// GitHub's `ping` on hook creation.
    Ping,
    /// A correctly signed event of another kind (push, issues, ...): nothing to do.
    Other { event: String },
}

type HmacSha256 = Hmac<Sha256>;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn check_hmac(
    secret: &Secret,
    body: &[u8],
    header_name: &'static str,
    hex_sig: &str,
) -> Result<(), IngestError> {
    let sig = hex::decode(hex_sig).map_err(|_| IngestError::WebhookSignatureInvalid {
        header: header_name,
        detail: "not hex",
    })?;
    if sig.len() != 32 {
        return Err(IngestError::WebhookSignatureInvalid {
            header: header_name,
            detail: "expected a 32-byte HMAC-SHA256",
        });
    }
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes()).map_err(|_| {
        IngestError::Config {
            detail: "webhook secret unusable as an HMAC key".into(),
        }
    })?;
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| IngestError::WebhookSignatureInvalid {
            header: header_name,
            detail: "HMAC-SHA256 of the body differs",
        })
}

/// Verifies a delivery's signature or token for a forge of `kind`, then parses it.
/// `headers` and `body` are the request's, untouched (the HMAC is over the raw bytes).
pub fn verify_webhook(
    kind: ForgeKind,
    headers: &HeaderMap,
    body: &[u8],
    secret: &Secret,
) -> Result<WebhookEvent, IngestError> {
    if secret.expose().len() < 16 {
        return Err(IngestError::Config {
            detail: format!(
                "webhook secret: expected at least 16 characters, found {}",
                secret.expose().len()
            ),
        });
    }
    if body.len() > WEBHOOK_BODY_CAP_BYTES {
        return Err(IngestError::WebhookTooLarge {
            cap_bytes: WEBHOOK_BODY_CAP_BYTES as u64,
            found_bytes: body.len() as u64,
        });
    }
    match kind {
        ForgeKind::GitHub => {
            const H: &str = "X-Hub-Signature-256";
            let value =
                header(headers, H).ok_or(IngestError::WebhookSignatureMissing { header: H })?;
            let hex_sig =
                value
                    .strip_prefix("sha256=")
                    .ok_or(IngestError::WebhookSignatureInvalid {
                        header: H,
                        detail: "expected the sha256= prefix",
                    })?;
            check_hmac(secret, body, H, hex_sig)?;
            let event = header(headers, "X-GitHub-Event").unwrap_or("");
            parse_hub_event(event, body, "X-GitHub-Event")
        }
        ForgeKind::Gitea => {
            let mut checked = 0;
            for h in ["X-Forgejo-Signature", "X-Gitea-Signature"] {
                if let Some(sig) = header(headers, h) {
                    check_hmac(secret, body, h, sig)?;
                    checked += 1;
                }
            }
            if checked == 0 {
                return Err(IngestError::WebhookSignatureMissing {
                    header: "X-Gitea-Signature (or X-Forgejo-Signature)",
                });
            }
            let event = header(headers, "X-Forgejo-Event")
                .or_else(|| header(headers, "X-Gitea-Event"))
                .unwrap_or("");
            parse_hub_event(event, body, "X-Gitea-Event")
        }
        ForgeKind::GitLab => {
            const H: &str = "X-Gitlab-Token";
            let token =
                header(headers, H).ok_or(IngestError::WebhookSignatureMissing { header: H })?;
            // Hash both sides first so the comparison is constant-time in the length too.
            let found = Sha256::digest(token.as_bytes());
            let expected = Sha256::digest(secret.expose().as_bytes());
            if !bool::from(found.ct_eq(&expected)) {
                return Err(IngestError::WebhookSignatureInvalid {
                    header: H,
                    detail: "token differs from the shared secret",
                });
            }
            let event = header(headers, "X-Gitlab-Event").unwrap_or("");
            parse_gitlab_event(event, body)
        }
    }
}

fn payload_error(detail: impl Into<String>) -> IngestError {
    IngestError::WebhookPayload {
        detail: detail.into(),
    }
}

#[derive(Deserialize)]
struct HubPayload {
    action: Option<String>,
    release: Option<HubRelease>,
    repository: Option<HubRepository>,
}

#[derive(Deserialize)]
struct HubRelease {
    tag_name: String,
}

#[derive(Deserialize)]
struct HubRepository {
    full_name: String,
}

fn action(a: &str) -> ReleaseAction {
    match a {
        "published" | "released" | "prereleased" | "created" | "create" => ReleaseAction::Published,
        "edited" | "updated" | "update" => ReleaseAction::Updated,
        "deleted" | "unpublished" | "delete" => ReleaseAction::Deleted,
        other => ReleaseAction::Other(other.chars().take(64).collect()),
    }
}

fn check_tag(tag: String) -> Result<String, IngestError> {
    if tag.is_empty() || tag.len() > 255 || tag.chars().any(char::is_control) {
        return Err(payload_error(
            "release tag: expected 1..=255 printable characters",
        ));
    }
    Ok(tag)
}

/// GitHub and Gitea/Forgejo share the payload shape for release events.
fn parse_hub_event(
    event: &str,
    body: &[u8],
    header_name: &str,
) -> Result<WebhookEvent, IngestError> {
    match event {
        "ping" => Ok(WebhookEvent::Ping),
        "release" => {
            let p: HubPayload = serde_json::from_slice(body)
                .map_err(|e| payload_error(format!("release event: {e}")))?;
            let release = p
                .release
                .ok_or_else(|| payload_error("release event without release"))?;
            let repo = p
                .repository
                .ok_or_else(|| payload_error("release event without repository"))?;
            Ok(WebhookEvent::Release {
                repo: RepoRef::parse(&repo.full_name)?,
                tag: check_tag(release.tag_name)?,
                action: action(p.action.as_deref().unwrap_or("")),
            })
        }
        "" => Err(payload_error(format!("missing {header_name} header"))),
        other => Ok(WebhookEvent::Other {
            event: other.chars().take(64).collect(),
        }),
    }
}

#[derive(Deserialize)]
struct GitLabPayload {
    object_kind: String,
    action: Option<String>,
    tag: Option<String>,
    project: Option<GitLabProject>,
}

#[derive(Deserialize)]
struct GitLabProject {
    path_with_namespace: String,
}

fn parse_gitlab_event(event: &str, body: &[u8]) -> Result<WebhookEvent, IngestError> {
    if event != "Release Hook" {
        if event.is_empty() {
            return Err(payload_error("missing X-Gitlab-Event header"));
        }
        return Ok(WebhookEvent::Other {
            event: event.chars().take(64).collect(),
        });
    }
    let p: GitLabPayload =
        serde_json::from_slice(body).map_err(|e| payload_error(format!("release hook: {e}")))?;
    if p.object_kind != "release" {
        return Err(payload_error(format!(
            "release hook: expected object_kind \"release\", found {:?}",
            p.object_kind.chars().take(64).collect::<String>()
        )));
    }
    let project = p
        .project
        .ok_or_else(|| payload_error("release hook without project"))?;
    Ok(WebhookEvent::Release {
        repo: RepoRef::parse(&project.path_with_namespace)?,
        tag: check_tag(
            p.tag
                .ok_or_else(|| payload_error("release hook without tag"))?,
        )?,
        action: action(p.action.as_deref().unwrap_or("")),
    })
}

/// The signature header value GitHub would send for `body` (`sha256=<hex>`); for tests
/// and for tools that replay deliveries.
pub fn github_signature(secret: &Secret, body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(secret, body))
}

/// Hex HMAC-SHA256 of `body` (Gitea's and Forgejo's signature header value).
pub fn hmac_hex(secret: &Secret, body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
