//! The repository side of TUF: Ed25519 role keys, the four top-level roles built and signed over TUF canonical JSON, and the trusted-root history kept across key rotations.
//!
//! vouch signs with Ed25519 only (`keytype`/`scheme` `ed25519`, the public key as hex),
//! which python-tuf, go-tuf and sigstore-tuf all read. Key ids are the SHA-256 of the
//! key's canonical JSON (`sigstore_tuf::Key::key_id`, securesystemslib's rule). The
//! files are pretty-printed JSON; signatures cover the canonical form of `signed`, so the
//! layout does not matter to any client.

use std::collections::BTreeMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};

use crate::error::Error;

/// The TUF spec version vouch writes.
pub const SPEC_VERSION: &str = "1.0.31";

const PEM_LABEL: &str = "VOUCH TUF ED25519 PRIVATE KEY";

/// An Ed25519 signing key for one or more roles.
pub struct KeyPair {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
    public: PublicKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("keyid", &self.public.id)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh key from the system's random source.
    pub fn generate() -> Result<Self, Error> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|e| Error::Key {
            expected: "a new Ed25519 key".into(),
            found: format!("random source failure: {e}"),
        })?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// A key from its PKCS#8 DER encoding.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|e| Error::Key {
            expected: "an Ed25519 PKCS#8 private key".into(),
            found: e.to_string(),
        })?;
        let public = PublicKey::ed25519(pair.public_key().as_ref())?;
        Ok(KeyPair {
            pair,
            pkcs8: der.to_vec(),
            public,
        })
    }

    /// The PKCS#8 DER encoding (secret).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half, as TUF metadata names it.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The private key file `vouch admin tuf keygen` writes (PEM-armoured PKCS#8).
    pub fn to_pem(&self) -> String {
        let b64 = STANDARD.encode(&self.pkcs8);
        let mut out = format!("-----BEGIN {PEM_LABEL}-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str(&format!("-----END {PEM_LABEL}-----\n"));
        out
    }

    /// Reads a private key file written by [`KeyPair::to_pem`].
    pub fn from_pem(text: &str) -> Result<Self, Error> {
        let begin = format!("-----BEGIN {PEM_LABEL}-----");
        let end = format!("-----END {PEM_LABEL}-----");
        let body = text
            .trim()
            .strip_prefix(&begin)
            .and_then(|rest| rest.strip_suffix(&end))
            .ok_or_else(|| Error::Key {
                expected: format!("a file between `{begin}` and `{end}`"),
                found: text.lines().next().unwrap_or("").chars().take(60).collect(),
            })?;
        let b64: String = body.split_whitespace().collect();
        let der = STANDARD.decode(b64).map_err(|e| Error::Key {
            expected: "base64 PKCS#8 in the key file".into(),
            found: e.to_string(),
        })?;
        Self::from_pkcs8(&der)
    }

    fn sign_bytes(&self, msg: &[u8]) -> String {
        hex::encode(self.pair.sign(msg).as_ref())
    }
}

/// A public key as TUF metadata lists it, with its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: String,
    key: Value,
}

impl PublicKey {
    fn ed25519(raw: &[u8]) -> Result<Self, Error> {
        let key = json!({
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": { "public": hex::encode(raw) },
        });
        Self::from_value(key)
    }

    /// A key from its TUF JSON object (`{keytype, scheme, keyval}`), the public key
    /// file `vouch admin tuf keygen` writes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| Error::Key {
            expected: "a TUF public key JSON object".into(),
            found: e.to_string(),
        })?;
        Self::from_value(v)
    }

    fn from_value(key: Value) -> Result<Self, Error> {
        let parsed: sigstore_tuf::Key =
            serde_json::from_value(key.clone()).map_err(|e| Error::Key {
                expected: "a TUF key object {keytype, scheme, keyval}".into(),
                found: e.to_string(),
            })?;
        if parsed.keytype != "ed25519" || parsed.scheme != "ed25519" {
            return Err(Error::Key {
                expected: "keytype and scheme ed25519".into(),
                found: format!("{}/{}", parsed.keytype, parsed.scheme),
            });
        }
        let id = parsed.key_id().map_err(|e| Error::Key {
            expected: "a key with a canonical JSON form".into(),
            found: e.to_string(),
        })?;
        Ok(PublicKey { id, key })
    }

    /// The key id (hex SHA-256 of the canonical key object).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The TUF key object.
    pub fn to_json(&self) -> Value {
        self.key.clone()
    }
}

/// The keys and threshold of one role.
#[derive(Debug, Clone)]
pub struct RoleKeys {
    pub keys: Vec<PublicKey>,
    pub threshold: u32,
}

impl RoleKeys {
    /// One key, threshold 1.
    pub fn single(key: &PublicKey) -> Self {
        RoleKeys {
            keys: vec![key.clone()],
            threshold: 1,
        }
    }

    /// Refuses (as role `name`) a threshold outside 1 to the number of keys.
    pub(crate) fn check_threshold(&self, name: &str) -> Result<(), Error> {
        if self.threshold == 0 || self.keys.len() < self.threshold as usize {
            return Err(Error::Repository {
                expected: format!(
                    "{name}: a threshold between 1 and its {} key(s)",
                    self.keys.len()
                ),
                found: format!("threshold {}", self.threshold),
            });
        }
        Ok(())
    }

    /// Adds the role's keys to a root's `keys` object.
    pub(crate) fn put_keys(&self, keys: &mut serde_json::Map<String, Value>) {
        for k in &self.keys {
            keys.insert(k.id().to_owned(), k.to_json());
        }
    }

    /// The role's entry in a root's `roles` object.
    pub(crate) fn entry(&self) -> Value {
        let ids: Vec<&str> = self.keys.iter().map(PublicKey::id).collect();
        json!({ "keyids": ids, "threshold": self.threshold })
    }
}

/// TUF's time format: RFC 3339, UTC, whole seconds.
pub fn tuf_time(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The `signed` part of a root.
pub fn root(
    version: u64,
    expires: i64,
    root: &RoleKeys,
    targets: &RoleKeys,
    snapshot: &RoleKeys,
    timestamp: &RoleKeys,
) -> Result<Value, Error> {
    let mut keys = serde_json::Map::new();
    let mut roles = serde_json::Map::new();
    for (name, role) in [
        ("root", root),
        ("targets", targets),
        ("snapshot", snapshot),
        ("timestamp", timestamp),
    ] {
        role.check_threshold(name)?;
        role.put_keys(&mut keys);
        roles.insert(name.to_owned(), role.entry());
    }
    Ok(json!({
        "_type": "root",
        "spec_version": SPEC_VERSION,
        "version": version,
        "expires": tuf_time(expires),
        "consistent_snapshot": true,
        "keys": keys,
        "roles": roles,
    }))
}

/// The `signed` part of a targets role listing `files` (name, bytes).
pub fn targets(version: u64, expires: i64, files: &[(&str, &[u8])]) -> Value {
    let mut map = serde_json::Map::new();
    for (name, bytes) in files {
        map.insert(
            (*name).to_owned(),
            json!({
                "length": bytes.len(),
                "hashes": {
                    "sha256": hex::encode(Sha256::digest(bytes)),
                    "sha512": hex::encode(Sha512::digest(bytes)),
                },
            }),
        );
    }
    json!({
        "_type": "targets",
        "spec_version": SPEC_VERSION,
        "version": version,
        "expires": tuf_time(expires),
        "targets": map,
    })
}

/// The `signed` part of a snapshot pinning top-level targets `targets_version`.
pub fn snapshot(version: u64, expires: i64, targets_version: u64) -> Value {
    json!({
        "_type": "snapshot",
        "spec_version": SPEC_VERSION,
        "version": version,
        "expires": tuf_time(expires),
        "meta": { "targets.json": { "version": targets_version } },
    })
}

/// The `signed` part of a timestamp pinning `snapshot_bytes` as snapshot `snapshot_version`.
pub fn timestamp(
    version: u64,
    expires: i64,
    snapshot_version: u64,
    snapshot_bytes: &[u8],
) -> Value {
    json!({
        "_type": "timestamp",
        "spec_version": SPEC_VERSION,
        "version": version,
        "expires": tuf_time(expires),
        "meta": { "snapshot.json": {
            "version": snapshot_version,
            "length": snapshot_bytes.len(),
            "hashes": { "sha256": hex::encode(Sha256::digest(snapshot_bytes)) },
        } },
    })
}

/// The signed metadata file: `{"signed": .., "signatures": [..]}` with one signature per key.
pub fn sign(signed: &Value, keys: &[&KeyPair]) -> Result<Vec<u8>, Error> {
    let canonical = canonical(signed)?;
    let signatures: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "keyid": k.public.id, "sig": k.sign_bytes(&canonical) }))
        .collect();
    to_file(&json!({ "signed": signed, "signatures": signatures }))
}

/// Adds `key`'s signature to an already signed file (threshold signing: each
/// holder of a root or targets key signs the same file in turn). A signature by the
/// same key is replaced.
pub fn add_signature(file: &[u8], key: &KeyPair) -> Result<Vec<u8>, Error> {
    let mut doc: Value = serde_json::from_slice(file).map_err(|e| Error::Malformed {
        detail: format!("expected signed TUF metadata: {e}"),
    })?;
    let signed = doc.get("signed").cloned().ok_or_else(|| Error::Malformed {
        detail: "expected a `signed` member".into(),
    })?;
    let sig = key.sign_bytes(&canonical(&signed)?);
    let mut sigs: Vec<Value> = doc
        .get("signatures")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    sigs.retain(|s| s.get("keyid").and_then(Value::as_str) != Some(key.public.id.as_str()));
    sigs.push(json!({ "keyid": key.public.id, "sig": sig }));
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("signatures".into(), Value::Array(sigs));
    }
    to_file(&doc)
}

fn canonical(v: &Value) -> Result<Vec<u8>, Error> {
    sigstore_tuf::canonical_json::to_canonical_bytes(v).map_err(|e| Error::Malformed {
        detail: format!("no canonical JSON form: {e}"),
    })
}

/// A metadata file's bytes: pretty-printed JSON and a final newline.
pub(crate) fn to_file(v: &Value) -> Result<Vec<u8>, Error> {
    let mut out = serde_json::to_vec_pretty(v).map_err(|e| Error::Malformed {
        detail: e.to_string(),
    })?;
    out.push(b'\n');
    Ok(out)
}

/// The consistent-snapshot file name of a target: `<sha256 hex>.<name>`.
pub fn target_file_name(name: &str, bytes: &[u8]) -> String {
    format!("{}.{name}", hex::encode(Sha256::digest(bytes)))
}

/// The `version` and `expires` (unix seconds) of a signed metadata file, unverified
/// (the repository reads back its own files).
pub fn version_and_expiry(file: &[u8]) -> Result<(u64, i64), Error> {
    let doc: Value = serde_json::from_slice(file).map_err(|e| Error::Malformed {
        detail: e.to_string(),
    })?;
    let signed = doc.get("signed");
    let version = signed
        .and_then(|s| s.get("version"))
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Malformed {
            detail: "expected signed.version".into(),
        })?;
    let expires = signed
        .and_then(|s| s.get("expires"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .ok_or_else(|| Error::Malformed {
            detail: "expected signed.expires in RFC 3339".into(),
        })?;
    Ok((version, expires.as_second()))
}

/// The trusted root to publish after the instance's keys changed: every CA, log, CT log
/// and TSA of `current`, then each one of `previous` that `current` no longer has, with
/// its validity closed at `now` (if it was open), so bundles signed before a rotation
/// keep verifying and nothing new can be signed under the retired keys.
pub fn merge_trusted_root(previous: &[u8], current: &[u8], now: i64) -> Result<Vec<u8>, Error> {
    let parse = |b: &[u8], what: &str| -> Result<Value, Error> {
        serde_json::from_slice(b).map_err(|e| Error::Malformed {
            detail: format!("{what} trusted root: {e}"),
        })
    };
    let prev = parse(previous, "previous")?;
    let mut out = parse(current, "current")?;
    let end = tuf_time(now);
    // (array, identity of an entry, where its validFor lives)
    let lists: [(&str, &str, &str); 4] = [
        ("tlogs", "/logId/keyId", "/publicKey/validFor"),
        ("ctlogs", "/logId/keyId", "/publicKey/validFor"),
        ("certificateAuthorities", "/certChain", "/validFor"),
        ("timestampAuthorities", "/certChain", "/validFor"),
    ];
    for (list, id_ptr, valid_ptr) in lists {
        let have: Vec<Value> = out
            .get(list)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.pointer(id_ptr).cloned())
                    .collect()
            })
            .unwrap_or_default();
        let mut retired = Vec::new();
        for entry in prev
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = entry.pointer(id_ptr) else {
                continue;
            };
            if have.contains(id) {
                continue;
            }
            let mut entry = entry.clone();
            if let Some(valid) = entry.pointer_mut(valid_ptr).and_then(Value::as_object_mut) {
                valid
                    .entry("end")
                    .or_insert_with(|| Value::String(end.clone()));
            }
            retired.push(entry);
        }
        if let Some(arr) = out.get_mut(list).and_then(Value::as_array_mut) {
            arr.extend(retired);
        }
    }
    to_file(&out)
}

/// The trusted root and the signing config of a client trust configuration (what `GET
/// /api/v1/trust-config` answers: `{"trustedRoot": .., "signingConfig": ..}`), each as
/// its own pretty-printed file, as the targets role lists them.
pub fn split_trust_config(trust_config: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let doc: Value = serde_json::from_slice(trust_config).map_err(|e| Error::Malformed {
        detail: format!("expected a trust configuration (JSON): {e}"),
    })?;
    let part = |name: &str| -> Result<Vec<u8>, Error> {
        let v = doc.get(name).ok_or_else(|| Error::Malformed {
            detail: format!("expected a trust configuration with {name}, found none"),
        })?;
        to_file(v)
    };
    Ok((part("trustedRoot")?, part("signingConfig")?))
}

/// Whether the published trusted root and signing config already say what
/// `trust_config` says (the published root merged with the current one is the same
/// JSON, and the signing config is byte-identical). `Some(detail)` names what differs.
pub fn trust_material_differs(
    published_root: Option<&[u8]>,
    published_signing_config: Option<&[u8]>,
    trust_config: &[u8],
    now: i64,
) -> Result<Option<String>, Error> {
    let (root, sc) = split_trust_config(trust_config)?;
    let Some(old) = published_root else {
        return Ok(Some("no trusted root is published".into()));
    };
    let merged = merge_trusted_root(old, &root, now)?;
    let same_root =
        serde_json::from_slice::<Value>(old).ok() == serde_json::from_slice::<Value>(&merged).ok();
    if !same_root {
        return Ok(Some("the CA, TSA or log keys changed".into()));
    }
    if published_signing_config != Some(&sc[..]) {
        return Ok(Some("the signing config (service URLs) changed".into()));
    }
    Ok(None)
}

/// Target files of a repository keyed by name, as [`targets`] takes them.
pub type Files = BTreeMap<String, Vec<u8>>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    #[test]
    fn a_signed_root_verifies_with_sigstore_tuf_and_a_threshold_above_the_keys_is_refused() {
        let k = KeyPair::generate().unwrap();
        let one = RoleKeys::single(k.public());
        let signed = root(1, 4_000_000_000, &one, &one, &one, &one).unwrap();
        let file = sign(&signed, &[&k]).unwrap();
        let set = sigstore_tuf::TrustedMetadataSet::from_root(&file).unwrap();
        assert_eq!(set.root().version, 1);
        // Signing the same file again by the same key replaces, never duplicates.
        let again = add_signature(&file, &k).unwrap();
        let v: Value = serde_json::from_slice(&again).unwrap();
        assert_eq!(v["signatures"].as_array().unwrap().len(), 1);

        let two = RoleKeys {
            keys: vec![k.public().clone()],
            threshold: 2,
        };
        let e = root(1, 4_000_000_000, &two, &one, &one, &one).unwrap_err();
        assert_eq!(e.code(), "TUF_E015");
    }

    #[test]
    fn key_files_round_trip_and_other_files_are_refused() {
        let k = KeyPair::generate().unwrap();
        let back = KeyPair::from_pem(&k.to_pem()).unwrap();
        assert_eq!(back.public(), k.public());
        assert_eq!(KeyPair::from_pem("hello").unwrap_err().code(), "TUF_E013");
        let pk = PublicKey::from_json(
            br#"{"keytype":"rsa","scheme":"rsassa-pss-sha256","keyval":{"public":"x"}}"#,
        )
        .unwrap_err();
        assert_eq!(pk.code(), "TUF_E013");
        let same =
            PublicKey::from_json(&serde_json::to_vec(&k.public().to_json()).unwrap()).unwrap();
        assert_eq!(same.id(), k.public().id());
    }

    #[test]
    fn merged_trusted_root_keeps_retired_keys_closed_and_current_ones_open() {
        let old = br#"{"tlogs":[{"logId":{"keyId":"L"},"publicKey":{"validFor":{"start":"2026-01-01T00:00:00Z"}}}],
            "certificateAuthorities":[{"certChain":{"certificates":[{"rawBytes":"OLD"}]},"validFor":{"start":"2026-01-01T00:00:00Z"}}],
            "ctlogs":[],"timestampAuthorities":[]}"#;
        let new = br#"{"tlogs":[{"logId":{"keyId":"L"},"publicKey":{"validFor":{"start":"2026-01-01T00:00:00Z"}}}],
            "certificateAuthorities":[{"certChain":{"certificates":[{"rawBytes":"NEW"}]},"validFor":{"start":"2026-06-01T00:00:00Z"}}],
            "ctlogs":[],"timestampAuthorities":[]}"#;
        let merged: Value =
            serde_json::from_slice(&merge_trusted_root(old, new, 1_800_000_000).unwrap()).unwrap();
        let cas = merged["certificateAuthorities"].as_array().unwrap();
        assert_eq!(cas.len(), 2);
        assert_eq!(cas[0]["certChain"]["certificates"][0]["rawBytes"], "NEW");
        assert!(cas[0]["validFor"].get("end").is_none());
        assert_eq!(cas[1]["validFor"]["end"], tuf_time(1_800_000_000));
        assert_eq!(
            merged["tlogs"].as_array().unwrap().len(),
            1,
            "the unchanged log once"
        );
        // Merging again is a fixed point: nothing new to publish.
        let again =
            merge_trusted_root(&serde_json::to_vec(&merged).unwrap(), new, 1_900_000_000).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&again).unwrap(), merged);
    }
}
