//! The Sigstore services' long-lived key material: generated at first start, sealed under TOKEN_ENC_KEY (AES-256-GCM envelope of `vouch_ca`) and kept as objects next to the log's tiles; plus the clock adapters the CA, TSA and OIDC crates take.
//!
//! Objects (never served: the tile and blob routes only read under `tile/` and `blobs/`):
//!
//! - `sigstore/ca.sealed`: root, intermediate and CT (SCT) signing key ([`vouch_ca::CaMaterial`]);
//! - `sigstore/ct-note.sealed`: the Ed25519 signed-note key of the CT log's checkpoints;
//! - `sigstore/tsa.sealed`: TSA root and timestamping key ([`vouch_timestamp::TsaMaterial`]).
//!
//! Generations: `vouch admin rotate-token-enc-key` re-seals the three objects under a
//! new TOKEN_ENC_KEY into new names (`sigstore/ca.sealed.g2`, ...) and only then, in the
//! same metadata transaction that re-seals the registry keys, records the active
//! generation in the setting `sigstore.sealed_generation` ([`GENERATION_SETTING`]).
//! Everything reads the objects [`object_name`] gives for the recorded generation, so a
//! crash before that commit leaves the old generation (and the old key) in force.
//! Generation 1 (no setting) is the plain names above.
//!
//! First start on several nodes at once could race (two hierarchies, last write wins);
//! start one node first. An object that exists but does not open is never replaced: the
//! server refuses to start (`SIGSTORE_E001`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use vouch_ca::{CaConfig, CaMaterial, EncryptedKeyMaterial, EncryptionKey};
use vouch_log::Clock;
use vouch_store::{ObjectKey, Objects};
use vouch_timestamp::{TsaConfig, TsaMaterial};
use vouch_tlog::{KeyType, Signer};
use zeroize::Zeroizing;

use super::settings::{CaSection, TsaSection};
use super::SetupError;

/// Object key of the sealed CA material.
pub const CA_OBJECT: &str = "sigstore/ca.sealed";
/// Object key of the sealed CT log checkpoint key.
pub const CT_NOTE_OBJECT: &str = "sigstore/ct-note.sealed";
/// Object key of the sealed TSA material.
pub const TSA_OBJECT: &str = "sigstore/tsa.sealed";
/// Instance setting holding the active generation of the sealed objects (absent: 1).
pub const GENERATION_SETTING: &str = "sigstore.sealed_generation";

/// The object name of `base` (one of the three constants above) in `generation`:
/// generation 1 is `base` itself, so instances from before rotation existed keep theirs.
pub fn object_name(base: &str, generation: u32) -> String {
    if generation <= 1 {
        base.to_owned()
    } else {
        format!("{base}.g{generation}")
    }
}

/// The active generation recorded in the metadata database (1 when none is recorded).
/// A value that is not a positive integer is refused, never read as 1.
pub async fn generation(meta: &dyn vouch_store::meta::MetaStore) -> Result<u32, SetupError> {
    let value = meta
        .setting(GENERATION_SETTING)
        .await
        .map_err(|e| SetupError::Material {
            what: "sealed key generation",
            reason: format!("reading the setting {GENERATION_SETTING}: {e}"),
        })?;
    match value {
        None => Ok(1),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|g| *g >= 1)
            .ok_or_else(|| SetupError::Material {
                what: "sealed key generation",
                reason: format!(
                    "setting {GENERATION_SETTING} is {v:?}, expected a positive integer"
                ),
            }),
    }
}

/// Envelope purpose of the CT log's checkpoint key.
pub const CT_NOTE_PURPOSE: &str = "vouch-ct-note-key";

fn key(name: &str) -> ObjectKey {
    // The three names above, with or without a generation suffix, are valid object keys
    // (checked by the unit test below).
    ObjectKey::new(name).unwrap_or_else(|_| unreachable!("object key {name} is valid"))
}

fn material_err(what: &'static str) -> impl Fn(String) -> SetupError {
    move |reason| SetupError::Material { what, reason }
}

/// Reads and opens the sealed object at `name`, if there is one. An object that
/// exists but does not open is an error, never "absent".
async fn load<T>(
    objects: &dyn Objects,
    name: &str,
    what: &'static str,
    open: impl Fn(&EncryptedKeyMaterial) -> Result<T, (&'static str, String)>,
) -> Result<Option<T>, SetupError> {
    let k = key(name);
    let err = material_err(what);
    let Some(bytes) = objects
        .get(&k)
        .await
        .map_err(|e| err(format!("reading {name}: {e}")))?
    else {
        return Ok(None);
    };
    let sealed =
        EncryptedKeyMaterial::from_bytes(bytes.to_vec()).map_err(|e| SetupError::Unseal {
            what,
            key: name.to_owned(),
            code: e.code(),
            reason: e.to_string(),
        })?;
    open(&sealed)
        .map(Some)
        .map_err(|(code, reason)| SetupError::Unseal {
            what,
            key: name.to_owned(),
            code,
            reason,
        })
}

/// Reads and opens the sealed object at `name`, or generates, seals and stores new
/// material when there is none.
async fn load_or_create<T>(
    objects: &dyn Objects,
    name: &str,
    what: &'static str,
    open: impl Fn(&EncryptedKeyMaterial) -> Result<T, (&'static str, String)>,
    create: impl FnOnce() -> Result<(T, EncryptedKeyMaterial), String>,
) -> Result<T, SetupError> {
    if let Some(value) = load(objects, name, what, open).await? {
        return Ok(value);
    }
    let err = material_err(what);
    let (value, sealed) = create().map_err(&err)?;
    objects
        .put(&key(name), Bytes::from(sealed.as_bytes().to_vec()))
        .await
        .map_err(|e| err(format!("storing {name}: {e}")))?;
    tracing::info!(object = name, "generated and sealed new {what}");
    Ok(value)
}

/// The sealed material already in an object store, each opened with `enc` (an object
/// that does not open is [`SetupError::Unseal`]); nothing is created.
#[derive(Debug)]
pub struct ExistingMaterial {
    pub ca: bool,
    pub tsa: bool,
    /// The CT log's checkpoint key, to check the CT log's lock row against.
    pub ct_note: Option<Signer>,
}

/// Opens whatever sealed material `objects` holds, creating nothing (`vouch admin
/// init` looks before it writes).
pub async fn existing_material(
    objects: &dyn Objects,
    enc: &EncryptionKey,
    generation: u32,
) -> Result<ExistingMaterial, SetupError> {
    let ca = load(
        objects,
        &object_name(CA_OBJECT, generation),
        "CA key material",
        |sealed| CaMaterial::open(sealed, enc).map_err(|e| (e.code(), e.to_string())),
    )
    .await?
    .is_some();
    let tsa = load(
        objects,
        &object_name(TSA_OBJECT, generation),
        "TSA key material",
        |sealed| TsaMaterial::open(sealed, enc).map_err(|e| (e.code(), e.to_string())),
    )
    .await?
    .is_some();
    let ct_note = load(
        objects,
        &object_name(CT_NOTE_OBJECT, generation),
        "CT log checkpoint key",
        |sealed| open_ct_note(sealed, enc),
    )
    .await?;
    Ok(ExistingMaterial { ca, tsa, ct_note })
}

fn open_ct_note(
    sealed: &EncryptedKeyMaterial,
    enc: &EncryptionKey,
) -> Result<Signer, (&'static str, String)> {
    let plain = sealed
        .open(enc, CT_NOTE_PURPOSE)
        .map_err(|e| (e.code(), e.to_string()))?;
    let text = Zeroizing::new(String::from_utf8_lossy(&plain).into_owned());
    Signer::parse(text.trim()).map_err(|e| ("SIGSTORE_E003", format!("not a signed-note key: {e}")))
}

/// The CA's root, intermediate and SCT key.
pub async fn ca_material(
    objects: &dyn Objects,
    enc: &EncryptionKey,
    cfg: &CaSection,
    clock: &dyn Clock,
    generation: u32,
) -> Result<CaMaterial, SetupError> {
    if !(60..=3600).contains(&cfg.leaf_validity_secs) {
        return Err(SetupError::Config {
            reason: format!(
                "ca.leaf_validity_secs must be 60 to 3600, found {}",
                cfg.leaf_validity_secs
            ),
        });
    }
    let now = system_time(clock);
    load_or_create(
        objects,
        &object_name(CA_OBJECT, generation),
        "CA key material",
        |sealed| CaMaterial::open(sealed, enc).map_err(|e| (e.code(), e.to_string())),
        || {
            let mut config = CaConfig::default();
            config.organization = cfg.organization.clone();
            let m = CaMaterial::generate(&config, now).map_err(|e| format!("{}: {e}", e.code()))?;
            let sealed = m.seal(enc).map_err(|e| format!("{}: {e}", e.code()))?;
            Ok((m, sealed))
        },
    )
    .await
}

/// The TSA's root and timestamping key.
pub async fn tsa_material(
    objects: &dyn Objects,
    enc: &EncryptionKey,
    cfg: &TsaSection,
    clock: &dyn Clock,
    generation: u32,
) -> Result<TsaMaterial, SetupError> {
    let now = system_time(clock);
    load_or_create(
        objects,
        &object_name(TSA_OBJECT, generation),
        "TSA key material",
        |sealed| TsaMaterial::open(sealed, enc).map_err(|e| (e.code(), e.to_string())),
        || {
            let mut config = TsaConfig::default();
            config.organization = cfg.organization.clone();
            let m =
                TsaMaterial::generate(&config, now).map_err(|e| format!("{}: {e}", e.code()))?;
            let sealed = m.seal(enc).map_err(|e| format!("{}: {e}", e.code()))?;
            Ok((m, sealed))
        },
    )
    .await
}

/// The CT log's checkpoint signer (Ed25519 signed-note key named after the CT origin).
pub async fn ct_note_key(
    objects: &dyn Objects,
    enc: &EncryptionKey,
    origin: &str,
    generation: u32,
) -> Result<Signer, SetupError> {
    load_or_create(
        objects,
        &object_name(CT_NOTE_OBJECT, generation),
        "CT log checkpoint key",
        |sealed| open_ct_note(sealed, enc),
        || {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).map_err(|e| format!("random source: {e}"))?;
            let signer = Signer::from_seed(origin, KeyType::Ed25519, &seed)
                .map_err(|e| format!("CT origin {origin:?} is not a valid key name: {e}"))?;
            zeroize::Zeroize::zeroize(&mut seed);
            let text = Zeroizing::new(signer.to_key_string());
            let sealed = EncryptedKeyMaterial::seal(enc, CT_NOTE_PURPOSE, text.as_bytes())
                .map_err(|e| format!("{}: {e}", e.code()))?;
            Ok((signer, sealed))
        },
    )
    .await
}

fn system_time(clock: &dyn Clock) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(clock.unix_seconds())
}

/// The server clock as the CA and TSA crates read it.
#[derive(Debug)]
pub struct CaClock(pub Arc<dyn Clock>);

impl vouch_ca::Clock for CaClock {
    fn now(&self) -> SystemTime {
        system_time(&*self.0)
    }
}

/// The server clock as the OIDC crate reads it.
#[derive(Debug)]
pub struct OidcClock(pub Arc<dyn Clock>);

impl vouch_oidc::Clock for OidcClock {
    fn now(&self) -> vouch_oidc::UnixTime {
        vouch_oidc::UnixTime(i64::try_from(self.0.unix_seconds()).unwrap_or(i64::MAX))
    }
}

/// [`CaClock`] behind the `Arc<dyn vouch_ca::Clock>` the CA and TSA take.
pub fn ca_clock(clock: &Arc<dyn Clock>) -> Arc<dyn vouch_ca::Clock> {
    Arc::new(CaClock(Arc::clone(clock)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_valid_keys() {
        for n in [CA_OBJECT, CT_NOTE_OBJECT, TSA_OBJECT] {
            assert!(ObjectKey::new(n).is_ok(), "{n}");
            assert_eq!(object_name(n, 1), n);
            let g = object_name(n, u32::MAX);
            assert!(ObjectKey::new(&g).is_ok(), "{g}");
        }
    }
}
