//! Release ingest wiring (crate `vouch-ingest`): the `[[forges]]` configuration, `POST /api/admin/forges/{id}/sync` (API pull), `POST /api/v1/webhooks/{forge_id}` (signature verified), release and asset rows, hash-budget skips, immutability, attestation relay, and the public release reads.
//!
//! One ingest of a release: every asset is first streamed and hashed within the hash
//! budget (nothing is written until all of them came back; an asset whose bytes
//! disagree with the listing fails the whole ingest, audited `release.ingest_refused`).
//! Then, for a new release, the release and asset rows are written (idempotent on
//! (release, name)) with `release.asset_hashed` / `release.asset_skipped` audits, and
//! the integrity record is signed once. For a release already recorded nothing is
//! written: every difference from the stored assets (changed, added, removed) is
//! refused and audited `release.asset_changed`. Attestations of hashed assets on GitHub
//! forges are fetched and verified by the ingest crate; verified ones are stored, and
//! failures are audited but never block the ingest.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;
use vouch_ingest::immutability::{self, AssetFacts, Change, StoredAsset};
use vouch_ingest::{
    verify_webhook, AssetRef, AttestationVerifier, Fetcher, ForgeConfig, ForgeKind, HashBudget,
    HashOutcome, IngestError, Release, RepoRef, Secret, WebhookEvent,
};
use vouch_store::meta::{
    AssetInsert, AssetStatus, NewRelease, RecordKind, ReleaseAsset, ReleaseRow, Timestamp,
};

use super::admin::Admin;
use super::audit;
use super::backfill::record_release;
use super::error;
use crate::{ApiError, AppState};

/// Webhook-triggered ingests that may run at once; a delivery past this is answered
/// 503 `INGEST_E102` with `Retry-After` (forges redeliver; admins can sync).
pub const WEBHOOK_INGESTS_MAX: usize = 4;

/// How long a verified delivery is remembered, so that its replay is ignored.
pub const DELIVERY_MEMORY_SECS: i64 = 7 * 24 * 3600;

/// One `[[forges]]` entry of the server configuration.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ForgeSection {
    /// The forge's id in URLs (`/api/v1/webhooks/{id}`) and release rows.
    pub id: String,
    /// `github`, `gitea`/`forgejo` or `gitlab`.
    pub kind: String,
    /// API base URL (`https://api.github.com`, `https://codeberg.org/api/v1`, ...).
    pub api_base: String,
    /// The repository ingested: `OWNER/REPO`.
    pub repo: String,
    /// Names the variable holding an API token (optional).
    pub token_env: Option<String>,
    /// Names the variable holding the webhook secret; unset disables the webhook.
    pub webhook_secret_env: Option<String>,
    /// Tests only: allow loopback/private addresses and plain http.
    #[serde(default)]
    pub allow_private_for_tests: bool,
    /// GitHub only: relay the repository's artifact attestations, each verified
    /// against public-good Sigstore and a workflow identity of `repo` before it is
    /// stored (default true for GitHub forges).
    pub relay_attestations: Option<bool>,
}

/// A configured forge, ready to fetch from.
#[derive(Clone)]
pub struct Forge {
    pub id: String,
    pub kind: ForgeKind,
    pub repo: RepoRef,
    pub fetcher: Fetcher,
    webhook_secret: Option<Secret>,
    attestations: Option<AttestationVerifier>,
}

impl std::fmt::Debug for Forge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forge")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

/// Why a forge could not be configured.
#[derive(Debug, thiserror::Error)]
#[error("forge {id:?}: {detail}")]
pub struct ForgeConfigError {
    pub id: String,
    pub detail: String,
}

/// Shortest webhook secret `vouch serve` starts with (what deliveries are checked
/// against in `vouch_ingest::webhook`).
pub const MIN_WEBHOOK_SECRET: usize = 16;

/// The secrets the `[[forges]]` sections name (API tokens, webhook secrets), by forge
/// id. Read once, with the server's other secrets (`crate::Secrets`) and through the
/// same reader ([`crate::config::secret_env`]); `Debug` never prints them.
#[derive(Default, Clone)]
pub struct ForgeSecrets(Vec<(String, ForgeSecret)>);

#[derive(Default, Clone)]
struct ForgeSecret {
    token: Option<Secret>,
    webhook: Option<Secret>,
}

impl std::fmt::Debug for ForgeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(id, _)| id))
            .finish()
    }
}

impl ForgeSecrets {
    /// Reads every variable the sections name. An unset one is `INTEGRITY_E109`
    /// naming it; a webhook secret shorter than [`MIN_WEBHOOK_SECRET`] is
    /// `SERVE_E109` (issue 13: such a server started, then answered every delivery 401
    /// naming the expected length).
    pub fn from_env(sections: &[ForgeSection]) -> Result<Self, super::BootError> {
        let read = |s: &ForgeSection, var: &String| {
            crate::config::secret_env(var)
                .map(Secret::new)
                .map_err(|_| ForgeConfigError {
                    id: s.id.clone(),
                    detail: format!("environment variable {var} is not set"),
                })
        };
        let mut out = Vec::with_capacity(sections.len());
        for s in sections {
            let token = s.token_env.as_ref().map(|v| read(s, v)).transpose()?;
            let webhook = match &s.webhook_secret_env {
                Some(var) => {
                    let secret = read(s, var)?;
                    let found = secret.expose().len();
                    if found < MIN_WEBHOOK_SECRET {
                        return Err(super::BootError::WeakWebhookSecret {
                            forge: s.id.clone(),
                            var: var.clone(),
                            found,
                            min: MIN_WEBHOOK_SECRET,
                        });
                    }
                    Some(secret)
                }
                None => None,
            };
            out.push((s.id.clone(), ForgeSecret { token, webhook }));
        }
        Ok(ForgeSecrets(out))
    }

    fn of(&self, id: &str) -> ForgeSecret {
        self.0
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }
}

impl Forge {
    /// Builds a forge from its section and the secrets read for it.
    pub fn from_section(
        s: &ForgeSection,
        secrets: &ForgeSecrets,
    ) -> Result<Self, ForgeConfigError> {
        let bad = |detail: String| ForgeConfigError {
            id: s.id.clone(),
            detail,
        };
        let kind = ForgeKind::parse(&s.kind).map_err(|e| bad(e.to_string()))?;
        let url = s
            .api_base
            .parse()
            .map_err(|e| bad(format!("api_base: {e}")))?;
        let mut cfg = ForgeConfig::new(kind, url).map_err(|e| bad(e.to_string()))?;
        let secret = secrets.of(&s.id);
        let missing = |var: &Option<String>| match var {
            Some(var) => Err(bad(format!("environment variable {var} is not set"))),
            None => Ok(None),
        };
        cfg.token = match secret.token {
            Some(t) => Some(t),
            None => missing(&s.token_env)?,
        };
        if s.allow_private_for_tests {
            cfg.allow_private_for_tests = true;
            cfg.allow_http = true;
        }
        let webhook_secret = match secret.webhook {
            Some(w) => Some(w),
            None => missing(&s.webhook_secret_env)?,
        };
        let attestations = if kind == ForgeKind::GitHub && s.relay_attestations.unwrap_or(true) {
            Some(AttestationVerifier::public_good().map_err(|e| bad(e.to_string()))?)
        } else {
            None
        };
        Self::new(&s.id, cfg, &s.repo, webhook_secret, attestations).map_err(|e| bad(e.to_string()))
    }

    /// A forge from parts (tests build fetchers with a static resolver this way).
    pub fn new(
        id: &str,
        cfg: ForgeConfig,
        repo: &str,
        webhook_secret: Option<Secret>,
        attestations: Option<AttestationVerifier>,
    ) -> Result<Self, IngestError> {
        let kind = cfg.kind;
        Ok(Forge {
            id: id.to_owned(),
            kind,
            repo: RepoRef::parse(repo)?,
            fetcher: Fetcher::new(cfg)?,
            webhook_secret,
            attestations,
        })
    }

    /// The same forge with another fetcher (a test resolver).
    pub fn with_fetcher(mut self, fetcher: Fetcher) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// The same forge relaying attestations through `verifier`.
    pub fn with_attestations(mut self, verifier: AttestationVerifier) -> Self {
        self.attestations = Some(verifier);
        self
    }
}

/// What one ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub release_id: Option<i64>,
    pub tag: String,
    pub created: bool,
    pub hashed: u64,
    pub skipped: u64,
    /// Differences from a recorded release, refused.
    pub changed: u64,
    pub log_index: Option<u64>,
    pub attestations: u64,
}

impl IngestReport {
    fn json(&self) -> Value {
        json!({
            "release_id": self.release_id, "tag": self.tag, "created": self.created,
            "hashed": self.hashed, "skipped": self.skipped, "changed": self.changed,
            "log_index": self.log_index, "attestations": self.attestations,
        })
    }
}

fn ingest_error(e: &IngestError) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, e.code(), e.to_string())
}

/// Ingests one release of `forge` by tag (see the module documentation).
pub async fn ingest_tag(
    state: &AppState,
    forge: &Forge,
    tag: &str,
) -> Result<IngestReport, ApiError> {
    let release = match forge.fetcher.release(&forge.repo, tag).await {
        Ok(r) => r,
        Err(e) => {
            refused(state, forge, tag, &e).await;
            return Err(ingest_error(&e));
        }
    };
    ingest_release(state, forge, &release).await
}

async fn refused(state: &AppState, forge: &Forge, tag: &str, e: &IngestError) {
    let _ = audit::record(
        state,
        "release.ingest_refused",
        Some(&format!("forge:{}", forge.id)),
        Some(&format!("{}@{tag}", forge.repo.owner())),
        json!({"forgeId": forge.id, "tag": tag, "code": e.code(), "reason": e.to_string()}),
    )
    .await;
}

/// Ingests a listed release: hash every asset, find or write the release row, compare
/// with what is stored ([`vouch_ingest::immutability`]), write the new assets or refuse
/// the differences, sign the record once, relay attestations. One step per function.
pub async fn ingest_release(
    state: &AppState,
    forge: &Forge,
    release: &Release,
) -> Result<IngestReport, ApiError> {
    let hashed = hash_assets(state, forge, release).await?;
    let (row, created) = release_row(state, forge, release).await?;
    let recorded = release_record(state, row.id).await?;
    let stored = state
        .meta
        .release_assets(row.id)
        .await
        .map_err(error::meta)?;
    let facts: Vec<StoredAsset> = stored.iter().map(stored_facts).collect();
    let mut report = IngestReport {
        release_id: Some(row.id),
        tag: release.tag.clone(),
        created,
        ..Default::default()
    };
    let ctx = AuditCtx {
        actor: format!("forge:{}", forge.id),
        subject: format!("release:{}", row.id),
        release_id: row.id,
    };
    for change in immutability::diff_hashed(&facts, &hashed) {
        match change {
            Change::Unchanged { .. } => {}
            Change::NewAsset { name } if recorded.is_some() => {
                // The record vouches for the assets it was signed over: none is added.
                report.changed += 1;
                changed(state, &ctx, &name, "added upstream", None).await;
            }
            Change::NewAsset { name } => {
                let Some((asset, outcome)) = hashed.iter().find(|(a, _)| a.name == name) else {
                    continue;
                };
                add_asset(state, &ctx, asset, outcome, &mut report).await?;
            }
            Change::Changed { name, old, .. } => {
                report.changed += 1;
                changed(
                    state,
                    &ctx,
                    &name,
                    "content changed upstream",
                    Some(facts_json(&old)),
                )
                .await;
            }
            Change::Removed { name } => {
                report.changed += 1;
                changed(state, &ctx, &name, "removed upstream", None).await;
            }
            _ => {}
        }
    }
    report.log_index = match recorded {
        Some(r) => Some(r.log_index),
        None => record_once(state, &row).await?,
    };
    report.attestations = relay(state, forge, row.id, &hashed).await;
    Ok(report)
}

/// Step 1: hashes every asset within the budget. Nothing is written unless every asset
/// came back; a failure is audited `release.ingest_refused`.
async fn hash_assets<'r>(
    state: &AppState,
    forge: &Forge,
    release: &'r Release,
) -> Result<Vec<(&'r AssetRef, HashOutcome)>, ApiError> {
    let budget =
        HashBudget::new(state.integrity.hash_budget()).map_err(|e| ApiError::internal(&e))?;
    let mut outcomes = Vec::with_capacity(release.assets.len());
    for asset in &release.assets {
        match forge.fetcher.hash_asset(asset, budget).await {
            Ok(o) => outcomes.push((asset, o)),
            Err(e) => {
                refused(state, forge, &release.tag, &e).await;
                return Err(ingest_error(&e));
            }
        }
    }
    Ok(outcomes)
}

/// Step 2: the release row (found, or written now) and whether it is new.
async fn release_row(
    state: &AppState,
    forge: &Forge,
    release: &Release,
) -> Result<(ReleaseRow, bool), ApiError> {
    let repository = format!("{}/{}", forge.repo.owner(), forge.repo.name());
    state
        .meta
        .upsert_release(&NewRelease {
            forge_id: forge.id.clone(),
            repository,
            tag: release.tag.clone(),
            upstream_id: release.forge_id.clone(),
            created_at: Timestamp::now(),
        })
        .await
        .map_err(error::meta)
}

/// The release's integrity record, if one was signed.
async fn release_record(
    state: &AppState,
    release_id: i64,
) -> Result<Option<vouch_store::meta::IntegrityRow>, ApiError> {
    state
        .meta
        .integrity_record(RecordKind::Release, &release_id.to_string(), None)
        .await
        .map_err(error::meta)
}

/// Step 4: signs and logs the release's record (once), and says where it was logged.
async fn record_once(state: &AppState, row: &ReleaseRow) -> Result<Option<u64>, ApiError> {
    record_release(state, row).await?;
    Ok(release_record(state, row.id).await?.map(|r| r.log_index))
}

/// What the immutability rule compares of a stored row.
fn stored_facts(a: &ReleaseAsset) -> StoredAsset {
    StoredAsset {
        name: a.name.clone(),
        size: a.size,
        sha256: a.sha256,
    }
}

/// The stored facts as the `release.asset_changed` audit row shows them.
fn facts_json(f: &AssetFacts) -> Value {
    json!({"size": f.size, "sha256": f.sha256.map(hex::encode)})
}

/// Who and what the audit rows of one ingest name.
struct AuditCtx {
    actor: String,
    subject: String,
    release_id: i64,
}

/// Step 3, for an asset new to an unrecorded release: writes its row (idempotent on
/// (release, name)) and audits `release.asset_hashed` or `release.asset_skipped`. A row
/// a concurrent ingest wrote first with other facts is refused like any change.
async fn add_asset(
    state: &AppState,
    ctx: &AuditCtx,
    asset: &AssetRef,
    outcome: &HashOutcome,
    report: &mut IngestReport,
) -> Result<(), ApiError> {
    let (size, sha256, blake3, status) = match outcome {
        HashOutcome::Hashed(d) => (d.size, Some(d.sha256), Some(d.blake3), AssetStatus::Hashed),
        HashOutcome::Skipped { size, .. } => (*size, None, None, AssetStatus::Skipped),
        _ => return Ok(()),
    };
    let row = ReleaseAsset {
        release_id: ctx.release_id,
        name: asset.name.clone(),
        size,
        download_url: asset.download_url.to_string(),
        sha256,
        blake3,
        status,
        created_at: Timestamp::now(),
    };
    let inserted = state
        .meta
        .insert_release_asset(&row)
        .await
        .map_err(error::meta)?;
    let (action, details) = match (inserted, outcome) {
        (AssetInsert::Inserted, HashOutcome::Hashed(d)) => {
            report.hashed += 1;
            (
                "release.asset_hashed",
                json!({"releaseId": ctx.release_id, "name": asset.name, "size": d.size,
                       "sha256": hex::encode(d.sha256), "blake3": hex::encode(d.blake3)}),
            )
        }
        (AssetInsert::Inserted, HashOutcome::Skipped { size, cap, reason }) => {
            report.skipped += 1;
            (
                "release.asset_skipped",
                json!({"releaseId": ctx.release_id, "name": asset.name, "size": size,
                       "cap": cap, "reason": reason.as_str()}),
            )
        }
        (AssetInsert::Conflict(old), _) => {
            report.changed += 1;
            let old = facts_json(&AssetFacts {
                size: Some(old.size),
                sha256: old.sha256,
            });
            changed(
                state,
                ctx,
                &asset.name,
                "content changed upstream",
                Some(old),
            )
            .await;
            return Ok(());
        }
        _ => return Ok(()),
    };
    let _ = audit::record(state, action, Some(&ctx.actor), Some(&ctx.subject), details).await;
    Ok(())
}

/// Refuses and audits one difference from a recorded release (`release.asset_changed`).
async fn changed(
    state: &AppState,
    ctx: &AuditCtx,
    name: &str,
    reason: &str,
    stored: Option<Value>,
) {
    let release_id = ctx.release_id;
    tracing::warn!(
        release_id,
        name,
        reason,
        "published release asset differs upstream; refused"
    );
    let _ = audit::record(
        state,
        "release.asset_changed",
        Some(&ctx.actor),
        Some(&ctx.subject),
        json!({"releaseId": release_id, "name": name, "reason": reason, "stored": stored,
               "action": "refused"}),
    )
    .await;
}

/// Fetches, verifies (in the ingest crate) and stores attestations of hashed assets.
/// Never fails the ingest: problems are audited.
async fn relay(
    state: &AppState,
    forge: &Forge,
    release_id: i64,
    outcomes: &[(&AssetRef, HashOutcome)],
) -> u64 {
    let Some(verifier) = &forge.attestations else {
        return 0;
    };
    if forge.kind != ForgeKind::GitHub {
        return 0;
    }
    let mut stored = 0;
    for (asset, outcome) in outcomes {
        let HashOutcome::Hashed(d) = outcome else {
            continue;
        };
        let subject = format!("release:{release_id}");
        match forge
            .fetcher
            .fetch_attestations(verifier, &forge.repo, &d.sha256)
            .await
        {
            Ok(relayed) => {
                for a in relayed.accepted {
                    let row = vouch_store::meta::StoredAttestation {
                        release_id,
                        asset_name: asset.name.clone(),
                        bundle: a.bundle_json,
                        identity: a.identity.clone(),
                        created_at: Timestamp::now(),
                    };
                    if state.meta.insert_attestation(&row).await.unwrap_or(false) {
                        stored += 1;
                        let _ = audit::record(
                            state,
                            "release.attestation_stored",
                            None,
                            Some(&subject),
                            json!({"releaseId": release_id, "name": asset.name, "identity": a.identity}),
                        )
                        .await;
                    }
                }
                for e in relayed.rejected {
                    let _ = audit::record(
                        state,
                        "release.attestation_rejected",
                        None,
                        Some(&subject),
                        json!({"releaseId": release_id, "name": asset.name, "code": e.code(), "reason": e.to_string()}),
                    )
                    .await;
                }
            }
            Err(e) => {
                let _ = audit::record(
                    state,
                    "release.attestation_failed",
                    None,
                    Some(&subject),
                    json!({"releaseId": release_id, "name": asset.name, "code": e.code(), "reason": e.to_string()}),
                )
                .await;
            }
        }
    }
    stored
}

fn forge_by_id<'a>(state: &'a AppState, id: &str) -> Result<&'a Forge, ApiError> {
    state
        .integrity
        .forges()
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no forge {id:?} is configured")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncBody {
    /// One tag; absent: every listed release.
    tag: Option<String>,
}

/// `POST /api/admin/forges/{id}/sync` (admin, JSON): pulls releases through the API.
pub(crate) async fn sync(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    super::admin::require_json(&headers)?;
    let body: SyncBody = if body.is_empty() {
        SyncBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| error::admin_bad_request(format!("expected {{\"tag\": \"...\"}}: {e}")))?
    };
    let forge = forge_by_id(&state, &id)?.clone();
    let _ = audit::record(
        &state,
        "release.sync_started",
        Some(&admin.actor()),
        None,
        json!({"forgeId": id, "tag": body.tag}),
    )
    .await;
    let mut reports = Vec::new();
    match body.tag {
        Some(tag) => reports.push(ingest_tag(&state, &forge, &tag).await?.json()),
        None => {
            let list = forge
                .fetcher
                .list_releases(&forge.repo)
                .await
                .map_err(|e| ingest_error(&e))?;
            for r in &list {
                match ingest_release(&state, &forge, r).await {
                    Ok(rep) => reports.push(rep.json()),
                    Err(e) => {
                        reports.push(json!({"tag": r.tag, "code": e.code, "detail": e.detail}))
                    }
                }
            }
        }
    }
    Ok(Json(json!({"forge": id, "releases": reports})))
}

/// `POST /api/v1/webhooks/{forge_id}`: verified deliveries start an ingest in the
/// background (202); forged or unsigned ones are refused (401) and audited.
pub(crate) async fn webhook(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let forge = forge_by_id(&state, &id)?.clone();
    let Some(secret) = &forge.webhook_secret else {
        return Err(ApiError::not_found(format!(
            "forge {id:?} has no webhook configured"
        )));
    };
    let event = match verify_webhook(forge.kind, &headers, &body, secret) {
        Ok(e) => e,
        Err(e) => {
            let _ = audit::record(
                &state,
                "webhook.refused",
                None,
                None,
                json!({"forgeId": id, "code": e.code(), "reason": e.to_string()}),
            )
            .await;
            let status = match &e {
                IngestError::WebhookTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNAUTHORIZED,
            };
            return Err(ApiError::new(status, e.code(), e.to_string()));
        }
    };
    // A verified delivery is taken once. The key is the digest of the signed body, not
    // the delivery id header (X-GitHub-Delivery, X-Gitea-Delivery, X-Gitlab-Event-UUID):
    // the signature does not cover headers, so a replay could carry a fresh id. Kept in
    // the replay store (persisted, swept when expired) for DELIVERY_MEMORY_SECS.
    let digest = hex::encode(sha2::Sha256::digest(&body));
    let now = Timestamp::now();
    let seen = state
        .meta
        .insert_jti_if_absent(
            &format!("webhook:{id}"),
            &digest,
            Timestamp(now.0.saturating_add(DELIVERY_MEMORY_SECS)),
            now,
        )
        .await
        .map_err(error::meta)?;
    if seen == vouch_store::meta::ReplayOutcome::AlreadyPresent {
        return Ok((
            StatusCode::OK,
            Json(json!({"accepted": false, "duplicate": true})),
        )
            .into_response());
    }
    match event {
        WebhookEvent::Release { repo, tag, .. } => {
            if !repo.same_as(&forge.repo) {
                let _ = audit::record(
                    &state,
                    "webhook.refused",
                    None,
                    None,
                    json!({"forgeId": id, "reason": "repository is not the configured one",
                           "repository": format!("{}/{}", repo.owner(), repo.name())}),
                )
                .await;
                let e = IngestError::WebhookWrongRepository {
                    repository: format!("{}/{}", repo.owner(), repo.name()),
                };
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    e.code(),
                    e.to_string(),
                ));
            }
            let Ok(permit) = Arc::clone(&state.integrity.webhook_ingests).try_acquire_owned()
            else {
                let busy = IngestError::WebhookBusy {
                    running: WEBHOOK_INGESTS_MAX,
                };
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    busy.code(),
                    busy.to_string(),
                );
                e.retry_after = Some(30);
                return Err(e);
            };
            let st = Arc::clone(&state);
            tokio::spawn(async move {
                let _permit = permit;
                if let Err(e) = ingest_tag(&st, &forge, &tag).await {
                    tracing::warn!(code = e.code, detail = %e.detail, "webhook ingest failed");
                }
            });
            Ok((StatusCode::ACCEPTED, Json(json!({"accepted": true}))).into_response())
        }
        _ => Ok((StatusCode::ACCEPTED, Json(json!({"accepted": false}))).into_response()),
    }
}

/// `GET /api/v1/releases/{id}`: the release and every asset as indexed.
pub(crate) async fn release(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("release id {id:?} is not a number")))?;
    let Some(r) = state.meta.release_by_id(id).await.map_err(error::meta)? else {
        return Err(ApiError::not_found(format!("no release {id}")));
    };
    let assets = state.meta.release_assets(id).await.map_err(error::meta)?;
    Ok(Json(json!({
        "id": r.id, "forge": r.forge_id, "repository": r.repository, "tag": r.tag,
        "integrity_url": format!("/api/v1/releases/{id}/integrity"),
        "assets": assets.iter().map(|a| json!({
            "name": a.name, "size": a.size, "download_url": a.download_url,
            "status": match a.status { AssetStatus::Hashed => "hashed", AssetStatus::Skipped => "skipped" },
            "sha256": a.sha256.map(hex::encode), "blake3": a.blake3.map(hex::encode),
        })).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/releases/{id}/assets/{name}/attestations`: verified relayed bundles.
pub(crate) async fn attestations(
    State(state): State<Arc<AppState>>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("release id {id:?} is not a number")))?;
    let list = state
        .meta
        .attestations(id, &name)
        .await
        .map_err(error::meta)?;
    let items: Vec<Value> = list
        .iter()
        .map(|a| {
            json!({
                "identity": a.identity,
                "bundle": serde_json::from_str::<Value>(&a.bundle).unwrap_or(Value::Null),
                "stored_at": a.created_at.0,
            })
        })
        .collect();
    Ok(Json(
        json!({"release_id": id, "asset": name, "attestations": items}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(kind: &str, relay: Option<bool>) -> ForgeSection {
        toml::from_str::<ForgeSection>(&format!(
            "id = \"f\"\nkind = \"{kind}\"\napi_base = \"https://forge.example\"\nrepo = \"o/r\"\n{}",
            relay.map(|r| format!("relay_attestations = {r}\n")).unwrap_or_default()
        ))
        .unwrap()
    }

    #[test]
    fn github_forges_relay_attestations_unless_turned_off() {
        let none = ForgeSecrets::default();
        assert!(Forge::from_section(&section("github", None), &none)
            .unwrap()
            .attestations
            .is_some());
        assert!(Forge::from_section(&section("github", Some(false)), &none)
            .unwrap()
            .attestations
            .is_none());
        assert!(Forge::from_section(&section("gitea", None), &none)
            .unwrap()
            .attestations
            .is_none());
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    fn section(var: &str) -> ForgeSection {
        toml::from_str(&format!(
            "id = \"gh\"\nkind = \"github\"\napi_base = \"https://api.github.com\"\n\
             repo = \"acme/tool\"\nwebhook_secret_env = \"{var}\"\n"
        ))
        .unwrap()
    }

    /// Issue 13, finding 12: a short webhook secret used to start the server.
    #[test]
    fn a_short_webhook_secret_is_refused_at_start() {
        let var = format!("VOUCH_TEST_SHORT_HOOK_{}", std::process::id());
        std::env::set_var(&var, "fifteen-chars!!");
        let err = ForgeSecrets::from_env(&[section(&var)]).unwrap_err();
        assert_eq!(err.code(), "SERVE_E109");
        let msg = err.to_string();
        assert!(
            msg.contains("\"gh\"") && msg.contains(&var) && msg.contains("15"),
            "{msg}"
        );
        std::env::set_var(&var, "sixteen-chars!!!");
        let secrets = ForgeSecrets::from_env(&[section(&var)]).unwrap();
        assert!(!format!("{secrets:?}").contains("sixteen"));
        Forge::from_section(&section(&var), &secrets).unwrap();
    }

    /// The variable a section names must be set; the error names it (INTEGRITY_E109),
    /// whether it is read with the other secrets or the forge is built without them.
    #[test]
    fn an_unset_forge_variable_is_named() {
        let var = format!("VOUCH_TEST_UNSET_HOOK_{}", std::process::id());
        std::env::remove_var(&var);
        let err = ForgeSecrets::from_env(&[section(&var)]).unwrap_err();
        assert_eq!(err.code(), "INTEGRITY_E109");
        assert!(err.to_string().contains(&var), "{err}");
        let err = Forge::from_section(&section(&var), &ForgeSecrets::default()).unwrap_err();
        assert!(err.to_string().contains(&var), "{err}");
    }
}
