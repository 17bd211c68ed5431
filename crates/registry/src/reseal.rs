//! `vouch admin rotate-token-enc-key`: re-seals every key sealed under TOKEN_ENC_KEY (the CA, TSA and CT-log objects, every registry signing key row, and the TUF role keys a production server holds) under a new key, offline and atomically.
//!
//! Also `vouch admin keys reset-sigstore` ([`reset_sigstore_keys`]): new CA, TSA and CT keys after TOKEN_ENC_KEY was lost, as the next generation.
//!
//! Order, so that a crash anywhere leaves one key that opens the whole instance:
//! 1. open everything with the old key (a wrong old key is refused here, nothing written);
//! 2. write the next generation of the three objects (`sigstore/ca.sealed.g2`, ...)
//!    beside the current ones and read each back with the new key;
//! 3. ONE metadata transaction re-seals the registry key rows, records the new
//!    generation (`sigstore.sealed_generation`) and appends `instance.token_enc_key_rotated`.
//!
//! Before 3 commits the server reads the old generation (old key); after it, the new
//! one (new key). A rerun after the commit finds the instance already opening with
//! the new key and says so. The previous generation's objects are deleted after the
//! commit: material still sealed under a key being retired is exactly what a rotation
//! is meant to get rid of.

use vouch_ca::{EncryptedKeyMaterial, EncryptionKey, CA_MATERIAL_PURPOSE};
use vouch_store::meta::{MetaError, MetaStore, Timestamp};
use vouch_store::{ObjectKey, Objects, StoreError};
use vouch_timestamp::TSA_MATERIAL_PURPOSE;

use crate::integrity::keys::reseal_row;
use crate::integrity::BootError;
use crate::sigstore::keys::{
    self, object_name, CA_OBJECT, CT_NOTE_OBJECT, CT_NOTE_PURPOSE, GENERATION_SETTING, TSA_OBJECT,
};
use crate::sigstore::keys::{REKOR_V1_OBJECT, REKOR_V1_PURPOSE};
use crate::sigstore::SetupError;

/// The sealed objects: base name, what it is, envelope purpose.
const OBJECTS: [(&str, &str, &str); 4] = [
    (CA_OBJECT, "CA key material", CA_MATERIAL_PURPOSE),
    (TSA_OBJECT, "TSA key material", TSA_MATERIAL_PURPOSE),
    (CT_NOTE_OBJECT, "CT log checkpoint key", CT_NOTE_PURPOSE),
    (REKOR_V1_OBJECT, "Rekor v1 log key", REKOR_V1_PURPOSE),
];

/// The audit event of a rotation.
pub const ROTATED_EVENT: &str = "instance.token_enc_key_rotated";

/// Why a rotation was refused or failed. Each variant has a stable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResealError {
    /// A sealed object does not open with the old key: the wrong old key.
    #[error("the sealed {what} at object {key} does not open with the old TOKEN_ENC_KEY ({reason}); nothing was written")]
    OldKeyDoesNotOpen {
        what: &'static str,
        key: String,
        reason: String,
    },
    /// The current registry signing key does not open with the old key.
    #[error("the current registry signing key {kid} does not open with the old TOKEN_ENC_KEY; nothing was written")]
    RegistryKeyDoesNotOpen { kid: String },
    /// The new key opens what the old one sealed: they are the same key.
    #[error("the new TOKEN_ENC_KEY is the same key as the old one; nothing was written")]
    SameKey,
    /// A sealed object the instance needs is missing.
    #[error("object {key} is missing: the instance is not initialised (run `vouch admin init`)")]
    Missing { key: String },
    /// A re-sealed object did not read back as the same material under the new key.
    #[error("the re-sealed object {key} did not read back under the new key; the old key still opens the instance")]
    ReadBack { key: String },
    #[error("object store: {0}")]
    Store(#[from] StoreError),
    #[error("metadata database: {0}")]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Boot(#[from] BootError),
}

impl ResealError {
    /// The stable code (README, "Error codes"). Never renumbered.
    pub fn code(&self) -> &'static str {
        match self {
            ResealError::OldKeyDoesNotOpen { .. } => "SIGSTORE_E001",
            ResealError::RegistryKeyDoesNotOpen { .. } => {
                vouch_integrity::IntegrityError::KeyDecryptionFailed.code()
            }
            ResealError::SameKey => "ADMIN_E031",
            ResealError::Missing { .. } => "ADMIN_E032",
            ResealError::ReadBack { .. } => "ADMIN_E033",
            ResealError::Store(_) => "ADMIN_E034",
            ResealError::Meta(e) => e.code(),
            ResealError::Setup(e) => e.code(),
            ResealError::Boot(e) => e.code(),
        }
    }
}

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotateOutcome {
    /// True when the instance already opened with the new key (a rerun after the commit).
    pub already_rotated: bool,
    /// The generation of sealed objects before, and the one now active.
    pub from_generation: u32,
    pub generation: u32,
    /// The active objects, now sealed under the new key.
    pub objects: Vec<String>,
    /// Registry signing keys (kids) re-sealed under the new key.
    pub registry_keys: Vec<String>,
    /// Retired registry keys that did not open with the old key either (sealed under a
    /// TOKEN_ENC_KEY lost before, see `vouch admin keys reset`): left as they were;
    /// their public keys stay published.
    pub left_sealed: Vec<String>,
}

fn object_key(name: &str) -> Result<ObjectKey, ResealError> {
    ObjectKey::new(name).map_err(ResealError::Store)
}

/// Opens the object `name` with `key` (purpose `purpose`); `Ok(None)` when it does not open.
async fn open_with(
    objects: &dyn Objects,
    name: &str,
    purpose: &str,
    key: &EncryptionKey,
) -> Result<Result<zeroize::Zeroizing<Vec<u8>>, String>, ResealError> {
    let bytes = objects
        .get(&object_key(name)?)
        .await?
        .ok_or_else(|| ResealError::Missing {
            key: name.to_owned(),
        })?;
    Ok(EncryptedKeyMaterial::from_bytes(bytes.to_vec())
        .and_then(|s| s.open(key, purpose))
        .map_err(|e| format!("{}: {e}", e.code())))
}

/// Rotates TOKEN_ENC_KEY from `old` to `new` (server stopped); see the module docs.
pub async fn rotate_token_enc_key(
    meta: &dyn MetaStore,
    objects: &dyn Objects,
    old: &EncryptionKey,
    new: &EncryptionKey,
    actor: &str,
) -> Result<RotateOutcome, ResealError> {
    let generation = keys::generation(meta).await?;
    let next = generation + 1;
    let instance_id = meta.instance_id().await?;
    let rows = meta.registry_keys().await?;
    let current = rows
        .first()
        .filter(|r| r.retired_at.is_none())
        .ok_or(BootError::NoKey)?;

    // 1. Everything must open with the old key; nothing is written before this passes.
    let mut plain = Vec::new();
    for (base, what, purpose) in OBJECTS {
        let name = object_name(base, generation);
        match open_with(objects, &name, purpose, old).await? {
            Ok(p) => plain.push((base, purpose, p)),
            Err(reason) => {
                // A rerun after the commit: everything already opens with the new key.
                if name == object_name(CA_OBJECT, generation)
                    && already_rotated(objects, generation, new).await?
                    && crate::integrity::keys::open_row(current, new, &instance_id).is_ok()
                {
                    finish_tuf_keys(objects, new).await;
                    return Ok(RotateOutcome {
                        already_rotated: true,
                        from_generation: generation,
                        generation,
                        objects: active_names(generation),
                        registry_keys: Vec::new(),
                        left_sealed: Vec::new(),
                    });
                }
                return Err(ResealError::OldKeyDoesNotOpen {
                    what,
                    key: name,
                    reason,
                });
            }
        }
    }
    let tuf_plain = tuf_keys_open(objects, old).await?;
    // What opened with the old key opening with the new one too: the same key.
    let ca = object_name(CA_OBJECT, generation);
    if open_with(objects, &ca, CA_MATERIAL_PURPOSE, new)
        .await?
        .is_ok()
    {
        return Err(ResealError::SameKey);
    }
    let mut resealed = Vec::new();
    let mut left_sealed = Vec::new();
    for row in &rows {
        match reseal_row(row, old, new, &instance_id) {
            Ok(bytes) => resealed.push((row.kid.clone(), bytes)),
            Err(_) if row.retired_at.is_some() => left_sealed.push(row.kid.clone()),
            Err(BootError::KeyDoesNotOpen { kid }) => {
                return Err(ResealError::RegistryKeyDoesNotOpen { kid })
            }
            Err(e) => return Err(e.into()),
        }
    }

    // 2. The next generation beside the current one, each read back with the new key.
    for (base, purpose, p) in &plain {
        let name = object_name(base, next);
        let sealed = EncryptedKeyMaterial::seal(new, purpose, p)
            .map_err(|_| ResealError::ReadBack { key: name.clone() })?;
        objects
            .put(&object_key(&name)?, sealed.as_bytes().to_vec().into())
            .await?;
        match open_with(objects, &name, purpose, new).await? {
            Ok(back) if back.as_slice() == p.as_slice() => {}
            _ => return Err(ResealError::ReadBack { key: name }),
        }
    }

    // The TUF role keys (optional objects, no generations): `<role>.sealed.next`
    // beside each, read back; copied over after the commit (the server falls back to
    // `.next` if a crash comes between).
    for (role, p) in &tuf_plain {
        let (_, next) = crate::tuf::sealed_names(role);
        let purpose = crate::tuf::purpose(role);
        let sealed = EncryptedKeyMaterial::seal(new, &purpose, p)
            .map_err(|_| ResealError::ReadBack { key: next.clone() })?;
        objects
            .put(&object_key(&next)?, sealed.as_bytes().to_vec().into())
            .await?;
        match open_with(objects, &next, &purpose, new).await? {
            Ok(back) if back.as_slice() == p.as_slice() => {}
            _ => return Err(ResealError::ReadBack { key: next }),
        }
    }

    // 3. The commit point.
    let details = serde_json::json!({
        "fromGeneration": generation,
        "generation": next,
        "objects": active_names(next),
        "registryKeys": resealed.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        "leftSealed": left_sealed,
    });
    meta.commit_reseal(
        &resealed,
        (GENERATION_SETTING, &next.to_string()),
        ROTATED_EVENT,
        actor,
        &details.to_string(),
        Timestamp::now(),
    )
    .await?;

    // Committed: the previous generation is sealed under the retired key; remove it.
    for name in active_names(generation) {
        if let Err(e) = objects.delete(&object_key(&name)?).await {
            tracing::warn!(object = %name, error = %e, "could not delete the previous generation");
        }
    }
    finish_tuf_keys(objects, new).await;
    Ok(RotateOutcome {
        already_rotated: false,
        from_generation: generation,
        generation: next,
        objects: active_names(next),
        registry_keys: resealed.into_iter().map(|(k, _)| k).collect(),
        left_sealed,
    })
}

/// The TUF role keys the instance holds (`tuf/keys/<role>.sealed`, any of them may be
/// absent), each opened with the old key.
async fn tuf_keys_open(
    objects: &dyn Objects,
    old: &EncryptionKey,
) -> Result<Vec<(&'static str, zeroize::Zeroizing<Vec<u8>>)>, ResealError> {
    let mut out = Vec::new();
    for role in crate::tuf::SEALED_ROLES {
        let (name, _) = crate::tuf::sealed_names(role);
        if objects.get(&object_key(&name)?).await?.is_none() {
            continue;
        }
        match open_with(objects, &name, &crate::tuf::purpose(role), old).await? {
            Ok(p) => out.push((role, p)),
            Err(reason) => {
                return Err(ResealError::OldKeyDoesNotOpen {
                    what: "TUF role key",
                    key: name,
                    reason,
                })
            }
        }
    }
    Ok(out)
}

/// After the commit: each `<role>.sealed.next` that opens with the new key replaces
/// `<role>.sealed`. A failure here is logged, not returned: the rotation is committed,
/// the server opens `.next` itself, and a rerun finishes the copy.
async fn finish_tuf_keys(objects: &dyn Objects, new: &EncryptionKey) {
    for role in crate::tuf::SEALED_ROLES {
        let (name, next) = crate::tuf::sealed_names(role);
        let purpose = crate::tuf::purpose(role);
        let Ok(Some(bytes)) = (match object_key(&next) {
            Ok(k) => objects.get(&k).await.map_err(ResealError::from),
            Err(e) => Err(e),
        }) else {
            continue;
        };
        if !matches!(open_with(objects, &next, &purpose, new).await, Ok(Ok(_))) {
            continue;
        }
        let done = match object_key(&name) {
            Ok(k) => objects.put(&k, bytes).await.map_err(ResealError::from),
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => {
                if let Ok(k) = object_key(&next) {
                    let _ = objects.delete(&k).await;
                }
            }
            Err(e) => {
                tracing::warn!(object = %name, error = %e, "could not replace the TUF key with its re-sealed copy; the server reads the .next object")
            }
        }
    }
}

fn active_names(generation: u32) -> Vec<String> {
    OBJECTS
        .iter()
        .map(|(base, _, _)| object_name(base, generation))
        .collect()
}

async fn already_rotated(
    objects: &dyn Objects,
    generation: u32,
    new: &EncryptionKey,
) -> Result<bool, ResealError> {
    for (base, _, purpose) in OBJECTS {
        if open_with(objects, &object_name(base, generation), purpose, new)
            .await?
            .is_err()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The audit event of `vouch admin keys reset-sigstore`.
pub const SIGSTORE_RESET_EVENT: &str = "instance.sigstore_keys_reset";

/// What `vouch admin keys reset-sigstore` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SigstoreResetOutcome {
    /// The generation of sealed objects before (kept, never deleted), and the new one.
    pub from_generation: u32,
    pub generation: u32,
    /// The new generation's objects, sealed under the current TOKEN_ENC_KEY.
    pub objects: Vec<String>,
    /// The previous generation's objects, left in place as evidence.
    pub kept: Vec<String>,
    /// The origin of the CT log the new CT key signs.
    pub ct_origin: String,
}

/// New CA, TSA and CT-log keys after TOKEN_ENC_KEY was lost (server stopped): the
/// next generation of the three sealed objects, sealed under `enc` (the CURRENT key),
/// and a new, empty CT log (`<origin>/ct-g<N>`, see [`crate::sigstore::ct`]), since
/// the old one's checkpoints are signed by a key nobody can open any more.
///
/// Order, as in a rotation: write the next generation's objects and create the new CT
/// log; then ONE metadata transaction records the generation and appends
/// `instance.sigstore_keys_reset`. Before that commit the instance still reads the old
/// generation (and still fails to start: SIGSTORE_E001); a rerun reuses what a crashed
/// attempt left if it opens with `enc`, and replaces what does not (never-active
/// objects, not evidence). The previous generation is never deleted: old bundles chain
/// to the old root, and its sealed objects are the record of what that root was.
pub async fn reset_sigstore_keys(
    cfg: &crate::ServeConfig,
    meta: &dyn MetaStore,
    objects: &std::sync::Arc<dyn Objects>,
    lock: std::sync::Arc<dyn vouch_store::CheckpointLock>,
    enc: &EncryptionKey,
    clock: &dyn vouch_log::Clock,
    actor: &str,
) -> Result<SigstoreResetOutcome, ResealError> {
    use crate::sigstore::ct;
    let generation = keys::generation(meta).await?;
    let next = generation
        .checked_add(1)
        .ok_or_else(|| SetupError::Material {
            what: "sealed key generation",
            reason: format!("no generation after {generation}"),
        })?;
    // Only an initialised instance is reset: `vouch admin init` makes the first keys.
    for name in active_names(generation) {
        if objects.get(&object_key(&name)?).await?.is_none() {
            return Err(ResealError::Missing { key: name });
        }
    }
    // Leftovers of an interrupted attempt that do not open with `enc` were never active.
    for (base, _, purpose) in OBJECTS {
        let name = object_name(base, next);
        if let Some(bytes) = objects.get(&object_key(&name)?).await? {
            let opens = EncryptedKeyMaterial::from_bytes(bytes.to_vec())
                .and_then(|s| s.open(enc, purpose))
                .is_ok();
            if !opens {
                objects.delete(&object_key(&name)?).await?;
            }
        }
    }
    keys::ca_material(&**objects, enc, &cfg.ca, clock, next).await?;
    keys::tsa_material(&**objects, enc, &cfg.tsa, clock, next).await?;
    let ct_key = keys::ct_note_key(&**objects, enc, &ct::origin_for(cfg, next), next).await?;
    let ct_origin = ct_key.name().to_owned();
    let ct_log = ct::open(cfg, objects, lock, ct_key, true, None).await?;
    ct_log.shutdown().await;

    // The commit point.
    let details = serde_json::json!({
        "fromGeneration": generation,
        "generation": next,
        "objects": active_names(next),
        "kept": active_names(generation),
        "ctOrigin": ct_origin,
    });
    meta.commit_reseal(
        &[],
        (GENERATION_SETTING, &next.to_string()),
        SIGSTORE_RESET_EVENT,
        actor,
        &details.to_string(),
        Timestamp::now(),
    )
    .await?;
    Ok(SigstoreResetOutcome {
        from_generation: generation,
        generation: next,
        objects: active_names(next),
        kept: active_names(generation),
        ct_origin,
    })
}
