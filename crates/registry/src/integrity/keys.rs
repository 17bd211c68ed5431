//! The registry signing key ring: loading or creating the key at start, sealing it under `TOKEN_ENC_KEY` bound to this instance, rotation, the offline reset, and the served JWKS.
//!
//! A key's seed is sealed with the AES-256-GCM envelope of `vouch-ca` under the purpose
//! label `vouch-registry-integrity-key/instance=<id>/kid=<kid>`: the envelope's
//! additional authenticated data binds the key to this database's instance id (made
//! by the schema migration) and to its own kid. A key row copied into another
//! instance's database is refused before decryption (INTEGRITY_E103, the row names its
//! instance) and, were the column edited, fails to open anyway (INTEGRITY_E102).

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use vouch_ca::{EncryptedKeyMaterial, EncryptionKey};
use vouch_integrity::{KeySet, Kid, RegistrySigningKey, SEAL_PURPOSE};
use vouch_store::meta::{MetaStore, StoredRegistryKey, Timestamp};
use zeroize::Zeroizing;

use super::error::BootError;

/// The additional-data label a key is sealed under.
fn purpose(instance_id: &str, kid: &str) -> String {
    format!("{SEAL_PURPOSE}/instance={instance_id}/kid={kid}")
}

/// A fresh key sealed for this instance, as the row to store.
pub(crate) fn new_sealed_key(
    enc: &EncryptionKey,
    instance_id: &str,
    now: Timestamp,
) -> Result<(RegistrySigningKey, StoredRegistryKey), BootError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut()).map_err(|_| BootError::Random)?;
    let key = RegistrySigningKey::from_seed(&seed);
    let kid = key.kid().to_string();
    let sealed = EncryptedKeyMaterial::seal(enc, &purpose(instance_id, &kid), seed.as_ref())
        .map_err(|_| BootError::Random)?;
    let row = StoredRegistryKey {
        kid,
        public_key: key.public_key().to_bytes(),
        sealed: sealed.as_bytes().to_vec(),
        instance_id: instance_id.to_owned(),
        created_at: now,
        retired_at: None,
    };
    Ok((key, row))
}

/// Opens the private half of a stored key, checking it belongs to this instance.
pub(crate) fn open_row(
    row: &StoredRegistryKey,
    enc: &EncryptionKey,
    instance_id: &str,
) -> Result<RegistrySigningKey, BootError> {
    if row.instance_id != instance_id {
        return Err(BootError::ForeignKey {
            kid: row.kid.clone(),
            row_instance: row.instance_id.clone(),
            instance: instance_id.to_owned(),
        });
    }
    let sealed = EncryptedKeyMaterial::from_bytes(row.sealed.clone()).map_err(|_| {
        BootError::KeyDoesNotOpen {
            kid: row.kid.clone(),
        }
    })?;
    let plain = sealed
        .open(enc, &purpose(instance_id, &row.kid))
        .map_err(|_| BootError::KeyDoesNotOpen {
            kid: row.kid.clone(),
        })?;
    let seed: &[u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| BootError::KeyDoesNotOpen {
            kid: row.kid.clone(),
        })?;
    let key = RegistrySigningKey::from_seed(seed);
    if key.kid().as_str() != row.kid || key.public_key().to_bytes() != row.public_key {
        return Err(BootError::KeyDoesNotOpen {
            kid: row.kid.clone(),
        });
    }
    Ok(key)
}

/// The public key set of stored rows, current first (rows come current first, then
/// newest first; the set is built oldest to newest through rotations).
pub(crate) fn key_set(rows: &[StoredRegistryKey]) -> Result<KeySet, BootError> {
    let mut iter = rows.iter().rev();
    let first = iter.next().ok_or(BootError::NoKey)?;
    let public = |r: &StoredRegistryKey| {
        vouch_integrity::RegistryPublicKey::from_bytes(&r.public_key)
            .ok_or_else(|| BootError::KeyDoesNotOpen { kid: r.kid.clone() })
    };
    let mut set = KeySet::new(public(first)?);
    for r in iter {
        set.rotate(public(r)?, to_system(r.created_at))
            .map_err(|_| BootError::KeyDoesNotOpen { kid: r.kid.clone() })?;
    }
    Ok(set)
}

pub(crate) fn to_system(t: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(t.0).unwrap_or(0))
}

/// The served `/.well-known/registry-key.json`: body and strong ETag, rebuilt on
/// every key change.
#[derive(Debug, Clone)]
pub struct Jwks {
    pub body: Bytes,
    pub etag: String,
}

impl Jwks {
    #[allow(
        clippy::indexing_slicing,
        reason = "a SHA-256 digest is 32 bytes, more than 16"
    )]
    fn of(set: &KeySet) -> Self {
        use sha2::Digest;
        let body = set.to_jwks();
        let digest = sha2::Sha256::digest(body.as_bytes());
        Jwks {
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
            body: Bytes::from(body),
        }
    }
}

/// Public facts about one key, for the Security page and `vouch admin keys list`.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

/// The keys in memory: the current private key, the public set, the JWKS.
#[derive(Debug)]
pub(crate) struct Ring {
    pub signing: Arc<RegistrySigningKey>,
    pub set: KeySet,
    pub jwks: Jwks,
    pub info: Vec<KeyInfo>,
}

impl Ring {
    pub(crate) fn build(
        signing: RegistrySigningKey,
        rows: &[StoredRegistryKey],
    ) -> Result<Self, BootError> {
        let set = key_set(rows)?;
        if set.current().kid() != signing.kid() {
            return Err(BootError::KeyDoesNotOpen {
                kid: signing.kid().to_string(),
            });
        }
        Ok(Ring {
            jwks: Jwks::of(&set),
            signing: Arc::new(signing),
            set,
            info: rows
                .iter()
                .map(|r| KeyInfo {
                    kid: r.kid.clone(),
                    created_at: r.created_at,
                    retired_at: r.retired_at,
                })
                .collect(),
        })
    }
}

/// Loads the current key (creating the first one if there is none), shared by the
/// server's start and the offline commands.
pub(crate) async fn load_or_create(
    meta: &dyn MetaStore,
    enc: &EncryptionKey,
    instance_id: &str,
) -> Result<RwLock<Ring>, BootError> {
    let mut rows = meta.registry_keys().await?;
    if rows.is_empty() {
        let (_, row) = new_sealed_key(enc, instance_id, Timestamp::now())?;
        // Another node may create the first key concurrently: whichever wins, reload.
        meta.rotate_registry_key(None, &row).await?;
        rows = meta.registry_keys().await?;
    }
    let current = rows.first().ok_or(BootError::NoKey)?;
    if current.retired_at.is_some() {
        return Err(BootError::NoKey);
    }
    let signing = open_row(current, enc, instance_id)?;
    Ok(RwLock::new(Ring::build(signing, &rows)?))
}

/// Checks that the current registry key opens with `enc` in this database (`vouch
/// admin init` refuses a database whose key it could not use).
pub(crate) async fn check_current(
    meta: &dyn MetaStore,
    enc: &EncryptionKey,
) -> Result<(), BootError> {
    let instance_id = meta.instance_id().await?;
    let rows = meta.registry_keys().await?;
    let current = rows.first().ok_or(BootError::NoKey)?;
    open_row(current, enc, &instance_id).map(|_| ())
}

/// Makes a fresh key current, retiring (never removing) the current one. `expected`
/// is the kid the caller believes current; a concurrent rotation makes this fail
/// with [`BootError::RotationRaced`]. Returns (old kid, new kid) and the new ring.
pub(crate) async fn rotate(
    meta: &dyn MetaStore,
    enc: &EncryptionKey,
    instance_id: &str,
    expected: &str,
) -> Result<(String, Kid, Ring), BootError> {
    let (key, row) = new_sealed_key(enc, instance_id, Timestamp::now())?;
    if !meta.rotate_registry_key(Some(expected), &row).await? {
        return Err(BootError::RotationRaced);
    }
    let rows = meta.registry_keys().await?;
    let kid = key.kid();
    Ok((expected.to_owned(), kid, Ring::build(key, &rows)?))
}

/// The documented recovery for a lost TOKEN_ENC_KEY (`vouch admin keys reset`, server
/// stopped): seals a fresh key under the NEW TOKEN_ENC_KEY and makes it current,
/// retiring the one that no longer opens. The old public keys stay in the key set, so
/// every record signed before keeps verifying; their private halves are never needed
/// again. Audited as `registry.signing_key.reset` with `{oldKid, newKid, reason}`.
/// Returns (old kid, new kid).
pub async fn reset(
    meta: &dyn MetaStore,
    enc: &EncryptionKey,
    actor: &str,
) -> Result<(Option<String>, String), BootError> {
    let instance_id = meta.instance_id().await?;
    let rows = meta.registry_keys().await?;
    let old = rows
        .first()
        .filter(|r| r.retired_at.is_none())
        .map(|r| r.kid.clone());
    let now = Timestamp::now();
    let (key, row) = new_sealed_key(enc, &instance_id, now)?;
    if !meta.rotate_registry_key(old.as_deref(), &row).await? {
        return Err(BootError::RotationRaced);
    }
    let new = key.kid().to_string();
    let details = serde_json::json!({
        "oldKid": old,
        "newKid": new,
        "reason": "token_enc_key_lost",
    });
    meta.append_audit(
        "registry.signing_key.reset",
        Some(actor),
        None,
        &details.to_string(),
        now,
    )
    .await?;
    Ok((old, new))
}

/// Re-seals one stored key from `old` to `new` TOKEN_ENC_KEY for `vouch admin
/// rotate-token-enc-key`: the row must open with `old` into the key its kid and public
/// key name (the checks of [`open_row`]); the same seed is sealed under `new` with the
/// same instance- and kid-bound purpose. Returns the new sealed bytes.
pub(crate) fn reseal_row(
    row: &StoredRegistryKey,
    old: &EncryptionKey,
    new: &EncryptionKey,
    instance_id: &str,
) -> Result<Vec<u8>, BootError> {
    open_row(row, old, instance_id)?;
    let label = purpose(instance_id, &row.kid);
    let sealed = EncryptedKeyMaterial::from_bytes(row.sealed.clone()).map_err(|_| {
        BootError::KeyDoesNotOpen {
            kid: row.kid.clone(),
        }
    })?;
    let plain = sealed
        .open(old, &label)
        .map_err(|_| BootError::KeyDoesNotOpen {
            kid: row.kid.clone(),
        })?;
    let resealed =
        EncryptedKeyMaterial::seal(new, &label, &plain).map_err(|_| BootError::Random)?;
    Ok(resealed.as_bytes().to_vec())
}
