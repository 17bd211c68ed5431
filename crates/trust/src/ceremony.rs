//! The operator's side of an instance's TUF repository (`vouch admin tuf`): key files, root and targets versions written into a staging directory, threshold signing by each key holder in turn, and the checks a publish makes before anything reaches the server.
//!
//! The staging directory has the layout the server publishes under `/tuf/`, without
//! the two roles the server signs online:
//!
//! - `DIR/<N>.root.json`: root versions 1, 2, …, each signed by the key holders;
//! - `DIR/<N>.targets.json`: targets versions, signed with the targets key(s);
//! - `DIR/targets/<sha256>.<name>`: the files a targets version lists.
//!
//! Every file here is written by [`crate::repo`]'s builders and signer; every check is
//! `sigstore-tuf`'s (the same code the client runs), so what a publish accepts is what
//! a client accepts.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstore_tuf::{Metadata, Root, Targets, TrustedMetadataSet};

use crate::client::{map, Phase, SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET};
use crate::error::Error;
use crate::repo::{self, KeyPair, PublicKey, RoleKeys};

/// The two files `vouch admin tuf keygen` writes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyFiles {
    /// The private key (PEM-armoured PKCS#8, mode 0600): keep it offline.
    pub private: PathBuf,
    /// The public key as a TUF key object: hand it to whoever builds the root.
    pub public: PathBuf,
    /// The TUF key id.
    pub keyid: String,
}

/// The public key file beside a private key file: `NAME.pem` → `NAME.pub.json`.
pub fn public_path(private: &Path) -> PathBuf {
    let name = private
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".pem").unwrap_or(&name);
    private.with_file_name(format!("{stem}.pub.json"))
}

/// A new Ed25519 role key: `out` (private, 0600, never written over a file) and its
/// public half beside it ([`public_path`]).
pub fn keygen(out: &Path) -> Result<KeyFiles, Error> {
    let pair = KeyPair::generate()?;
    let public = public_path(out);
    if public.exists() {
        return Err(io_err(
            &public,
            "a new file (a key file is never written over)",
        ));
    }
    write_new(out, pair.to_pem().as_bytes(), 0o600)?;
    write_new(&public, &repo::to_file(&pair.public().to_json())?, 0o644)?;
    Ok(KeyFiles {
        private: out.to_owned(),
        public,
        keyid: pair.public().id().to_owned(),
    })
}

/// A public key from its `.pub.json` file, or the public half of a private key file.
pub fn read_public(path: &Path) -> Result<PublicKey, Error> {
    let bytes = read(path)?;
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        return Ok(read_private(path)?.public().clone());
    }
    PublicKey::from_json(&bytes)
}

/// A private key file written by [`keygen`].
pub fn read_private(path: &Path) -> Result<KeyPair, Error> {
    let bytes = read(path)?;
    KeyPair::from_pem(&String::from_utf8_lossy(&bytes))
}

/// The roles a new root version sets; `None` keeps the previous version's.
#[derive(Debug, Clone, Default)]
pub struct RootRoles {
    pub root: Option<RoleKeys>,
    pub targets: Option<RoleKeys>,
    pub snapshot: Option<RoleKeys>,
    pub timestamp: Option<RoleKeys>,
}

/// `vouch admin tuf init`: writes `DIR/1.root.json`, unsigned (each root key holder
/// then signs it with [`sign_file`]). Every role must be given.
pub fn init_root(dir: &Path, roles: &RootRoles, expires: i64) -> Result<PathBuf, Error> {
    let need = |r: &Option<RoleKeys>, name: &str| {
        r.clone().ok_or_else(|| Error::Repository {
            expected: format!("the {name} role's key(s) for the first root"),
            found: "none".into(),
        })
    };
    let signed = repo::root(
        1,
        expires,
        &need(&roles.root, "root")?,
        &need(&roles.targets, "targets")?,
        &need(&roles.snapshot, "snapshot")?,
        &need(&roles.timestamp, "timestamp")?,
    )?;
    if latest(dir, "root")?.is_some() {
        return Err(Error::Repository {
            expected: format!("a staging directory with no root yet: {}", dir.display()),
            found: "1.root.json exists (use `vouch admin tuf rotate-root`)".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, &e.to_string()))?;
    let path = dir.join("1.root.json");
    write_new(&path, &unsigned(&signed)?, 0o644)?;
    Ok(path)
}

/// `vouch admin tuf rotate-root`: writes `DIR/<N+1>.root.json` from the latest root
/// `N` in DIR, with the roles given replaced, unsigned. A client accepts it once it
/// carries a threshold of signatures of version N's root keys AND of its own.
pub fn rotate_root(dir: &Path, roles: &RootRoles, expires: i64) -> Result<PathBuf, Error> {
    let (n, prev_path) = latest(dir, "root")?.ok_or_else(|| Error::Repository {
        expected: format!("a root version in {}", dir.display()),
        found: "none (start with `vouch admin tuf init`)".into(),
    })?;
    let prev: Value = parse(&read(&prev_path)?, &prev_path)?;
    let mut signed = prev
        .get("signed")
        .cloned()
        .ok_or_else(|| Error::Malformed {
            detail: format!("{}: expected a `signed` member", prev_path.display()),
        })?;
    let obj = signed.as_object_mut().ok_or_else(|| Error::Malformed {
        detail: format!("{}: `signed` is not an object", prev_path.display()),
    })?;
    obj.insert("version".into(), json!(n + 1));
    obj.insert("expires".into(), json!(repo::tuf_time(expires)));
    for (name, role) in [
        ("root", &roles.root),
        ("targets", &roles.targets),
        ("snapshot", &roles.snapshot),
        ("timestamp", &roles.timestamp),
    ] {
        if let Some(role) = role {
            set_role(&mut signed, name, role)?;
        }
    }
    prune_keys(&mut signed);
    let path = dir.join(format!("{}.root.json", n + 1));
    write_new(&path, &unsigned(&signed)?, 0o644)?;
    Ok(path)
}

/// `vouch admin tuf targets`: writes the next targets version of DIR listing the
/// instance's `trusted_root.json` and `signing_config.v0.2.json` (the two halves of
/// `trust_config`, as `GET /api/v1/trust-config` answers it), unsigned, and the two
/// files under `DIR/targets/`. The trusted root keeps every CA, log and TSA key the
/// previous targets version listed and the new material no longer has, with its
/// validity closed at `now`, so bundles signed before a rotation keep verifying.
pub fn write_targets(
    dir: &Path,
    trust_config: &[u8],
    expires: i64,
    now: i64,
) -> Result<PathBuf, Error> {
    let (trusted_root, signing_config) = repo::split_trust_config(trust_config)?;
    let previous = latest(dir, "targets")?;
    let version = previous.as_ref().map_or(1, |(v, _)| v + 1);
    let merged = match &previous {
        Some((_, p)) => match listed_target(dir, &read(p)?, TRUSTED_ROOT_TARGET)? {
            Some(old) => repo::merge_trusted_root(&old, &trusted_root, now)?,
            None => trusted_root,
        },
        None => trusted_root,
    };
    let files: [(&str, &[u8]); 2] = [
        (TRUSTED_ROOT_TARGET, &merged),
        (SIGNING_CONFIG_TARGET, &signing_config),
    ];
    let tdir = dir.join("targets");
    std::fs::create_dir_all(&tdir).map_err(|e| io_err(&tdir, &e.to_string()))?;
    for (name, bytes) in files {
        let path = tdir.join(repo::target_file_name(name, bytes));
        match std::fs::read(&path) {
            Ok(have) if have == bytes => {}
            _ => write_replace(&path, bytes)?,
        }
    }
    let signed = repo::targets(version, expires, &files);
    let path = dir.join(format!("{version}.targets.json"));
    write_new(&path, &unsigned(&signed)?, 0o644)?;
    Ok(path)
}

/// The bytes of target `name` as the targets file `targets` lists it, read from
/// `DIR/targets/<sha256>.<name>`; `None` when it lists no such target.
pub fn listed_target(dir: &Path, targets: &[u8], name: &str) -> Result<Option<Vec<u8>>, Error> {
    let md = Metadata::<Targets>::from_slice(targets).map_err(|e| map(e, Phase::Metadata))?;
    let Some(t) = md.signed().targets.get(name) else {
        return Ok(None);
    };
    let sha = t.hashes.get("sha256").ok_or_else(|| Error::Malformed {
        detail: format!("target {name} has no sha256"),
    })?;
    let path = dir.join("targets").join(format!("{sha}.{name}"));
    let bytes = read(&path)?;
    check_target(name, &bytes, t.length, sha)?;
    Ok(Some(bytes))
}

fn check_target(name: &str, bytes: &[u8], length: u64, sha256: &str) -> Result<(), Error> {
    let digest = hex::encode(Sha256::digest(bytes));
    if bytes.len() as u64 != length || digest != sha256 {
        return Err(Error::TargetMismatch {
            target: name.to_owned(),
            detail: format!(
                "expected {length} bytes with sha256 {sha256}, found {} bytes with sha256 {digest}",
                bytes.len()
            ),
        });
    }
    Ok(())
}

/// One role's signature count on a metadata file, against one root version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignatureCount {
    /// The role whose keys count.
    pub role: String,
    /// The root version that names those keys.
    pub root_version: u64,
    /// Distinct valid signatures by those keys.
    pub valid: usize,
    pub threshold: usize,
    /// The key ids that count.
    #[serde(skip)]
    pub keyids: Vec<String>,
}

impl SignatureCount {
    pub fn met(&self) -> bool {
        self.valid >= self.threshold
    }
}

/// `vouch admin tuf sign`: adds `key`'s signature to the metadata file at `path` (a
/// signature by the same key is replaced) and says how many signatures each role that
/// must sign it now has: a root version, its own root keys and the previous version's
/// (when DIR holds it); a targets version, the targets keys of DIR's latest root.
/// A key that none of those roles names is refused (TUF_E015) and nothing is written.
pub fn sign_file(path: &Path, key: &KeyPair) -> Result<Vec<SignatureCount>, Error> {
    let file = read(path)?;
    let out = repo::add_signature(&file, key)?;
    let counts = counts(path, &out)?;
    let id = key.public().id();
    if !counts.is_empty() && !counts.iter().any(|c| c.keyids.iter().any(|k| k == id)) {
        let roles: Vec<String> = counts
            .iter()
            .map(|c| format!("{} of root version {}", c.role, c.root_version))
            .collect();
        return Err(Error::Repository {
            expected: format!(
                "a key of the role(s) that sign {}: {}",
                path.display(),
                roles.join(", ")
            ),
            found: format!("key {id}, which none of them names"),
        });
    }
    write_replace(path, &out)?;
    Ok(counts)
}

/// The signature counts [`sign_file`] reports, for a file as it is.
pub fn counts(path: &Path, file: &[u8]) -> Result<Vec<SignatureCount>, Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let doc: Value = parse(file, path)?;
    let kind = doc
        .pointer("/signed/_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "root" => {
            let md = Metadata::<Root>::from_slice(file).map_err(|e| map(e, Phase::Metadata))?;
            let v = md.signed().version;
            let mut out = vec![count(&md, md.signed(), "root")?];
            if v > 1 {
                let prev = dir.join(format!("{}.root.json", v - 1));
                if let Ok(bytes) = std::fs::read(&prev) {
                    let p = Metadata::<Root>::from_slice(&bytes)
                        .map_err(|e| map(e, Phase::Metadata))?;
                    out.push(count(&md, p.signed(), "root")?);
                }
            }
            Ok(out)
        }
        "targets" => {
            let md = Metadata::<Targets>::from_slice(file).map_err(|e| map(e, Phase::Metadata))?;
            let Some((_, root_path)) = latest(dir, "root")? else {
                return Ok(Vec::new());
            };
            let root = Metadata::<Root>::from_slice(&read(&root_path)?)
                .map_err(|e| map(e, Phase::Metadata))?;
            Ok(vec![count(&md, root.signed(), "targets")?])
        }
        other => Err(Error::Repository {
            expected: "a root or targets metadata file (the server signs snapshot and timestamp)"
                .into(),
            found: format!("_type {other:?}"),
        }),
    }
}

/// How many distinct valid signatures `md` carries by `root`'s keys for `role`.
fn count<T: sigstore_tuf::metadata::Role>(
    md: &Metadata<T>,
    root: &Root,
    role: &str,
) -> Result<SignatureCount, Error> {
    let keys = root.roles.get(role).ok_or_else(|| Error::Malformed {
        detail: format!("root version {} has no {role} role", root.version),
    })?;
    // Ask for one more signature than there are keys: the refusal carries the count.
    let mut all = keys.clone();
    all.threshold = keys.keyids.len() + 1;
    let valid = match md.verify_threshold(&root.keys, &all, role) {
        Err(sigstore_tuf::Error::ThresholdNotMet { found, .. }) => found,
        Ok(()) => all.threshold,
        Err(e) => return Err(map(e, Phase::Metadata)),
    };
    Ok(SignatureCount {
        role: role.to_owned(),
        root_version: root.version,
        valid,
        threshold: keys.threshold,
        keyids: keys.keyids.clone(),
    })
}

/// What a staging directory holds, checked as a client would check it.
#[derive(Debug, Clone)]
pub struct Staged {
    /// Root versions after the one the server trusts, in order, with their bytes.
    pub roots: Vec<(u64, Vec<u8>)>,
    /// The latest root after these (the server's, when DIR adds none).
    pub final_root: Vec<u8>,
    /// The latest targets version of DIR, when DIR has one.
    pub targets: Option<StagedTargets>,
}

/// A targets version of the staging directory, checked.
#[derive(Debug, Clone)]
pub struct StagedTargets {
    pub version: u64,
    /// The signed `N.targets.json`.
    pub bytes: Vec<u8>,
    /// The files it lists: (consistent-snapshot name `<sha256>.<name>`, bytes).
    pub files: Vec<(String, Vec<u8>)>,
}

/// Checks DIR against the root the server publishes now (`server_root`, `None` when it
/// publishes none): every new root version is signed by a threshold of the previous
/// root's keys and of its own (`sigstore-tuf`'s root update), and DIR's latest targets
/// version by a threshold of the final root's targets keys, each file it lists present
/// with its length and hashes. Expiry is checked against `now`.
pub fn check_staged(
    dir: &Path,
    server_root: Option<&[u8]>,
    now: jiff::Timestamp,
) -> Result<Staged, Error> {
    let mut set: Option<TrustedMetadataSet> = match server_root {
        Some(b) => Some(TrustedMetadataSet::from_root(b).map_err(|e| map(e, Phase::Metadata))?),
        None => None,
    };
    let mut roots = Vec::new();
    let mut v = set.as_ref().map_or(1, |s| s.root().version + 1);
    loop {
        let path = dir.join(format!("{v}.root.json"));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(io_err(&path, &e.to_string())),
        };
        if let Some(s) = set.as_mut() {
            s.update_root(&bytes).map_err(|e| map(e, Phase::Metadata))?;
        } else {
            set = Some(TrustedMetadataSet::from_root(&bytes).map_err(|e| map(e, Phase::Metadata))?);
        }
        roots.push((v, bytes));
        v += 1;
    }
    let set = set.ok_or_else(|| Error::Repository {
        expected: format!(
            "a signed 1.root.json in {} (the server publishes no root yet)",
            dir.display()
        ),
        found: "none".into(),
    })?;
    set.check_root_expired(now)
        .map_err(|e| map(e, Phase::Metadata))?;
    let root = set.root();
    let targets = match latest(dir, "targets")? {
        None => None,
        Some((tv, path)) => {
            let bytes = read(&path)?;
            let md =
                Metadata::<Targets>::from_slice(&bytes).map_err(|e| map(e, Phase::Metadata))?;
            let role = root.roles.get("targets").ok_or_else(|| Error::Malformed {
                detail: format!("root version {} has no targets role", root.version),
            })?;
            md.verify_threshold(&root.keys, role, "targets")
                .map_err(|e| map(e, Phase::Metadata))?;
            if md.signed().expires <= now {
                return Err(Error::Expired {
                    role: "targets".into(),
                    expires: md.signed().expires.to_string(),
                    now: now.to_string(),
                });
            }
            let mut files = Vec::new();
            for name in md.signed().targets.keys() {
                let body =
                    listed_target(dir, &bytes, name)?.ok_or_else(|| Error::TargetMissing {
                        target: name.clone(),
                    })?;
                files.push((repo::target_file_name(name, &body), body));
            }
            Some(StagedTargets {
                version: tv,
                bytes,
                files,
            })
        }
    };
    Ok(Staged {
        roots,
        final_root: set.root_bytes().to_vec(),
        targets,
    })
}

/// Checks that the targets file `targets` is signed by a threshold of `root`'s targets
/// keys (a root rotation that replaced the targets keys needs new targets).
pub fn check_targets_signed(root: &[u8], targets: &[u8]) -> Result<(), Error> {
    let root = Metadata::<Root>::from_slice(root).map_err(|e| map(e, Phase::Metadata))?;
    let md = Metadata::<Targets>::from_slice(targets).map_err(|e| map(e, Phase::Metadata))?;
    let role = root
        .signed()
        .roles
        .get("targets")
        .ok_or_else(|| Error::Malformed {
            detail: "the root has no targets role".into(),
        })?;
    md.verify_threshold(&root.signed().keys, role, "targets")
        .map_err(|e| map(e, Phase::Metadata))
}

/// The key ids a root names for `role`.
pub fn role_keyids(root: &[u8], role: &str) -> Result<Vec<String>, Error> {
    let md = Metadata::<Root>::from_slice(root).map_err(|e| map(e, Phase::Metadata))?;
    Ok(md
        .signed()
        .roles
        .get(role)
        .map(|r| r.keyids.clone())
        .unwrap_or_default())
}

/// The highest `<N>.<role>.json` in DIR, with its path.
pub fn latest(dir: &Path, role: &str) -> Result<Option<(u64, PathBuf)>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(dir, &e.to_string())),
    };
    let suffix = format!(".{role}.json");
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(v) = name
            .strip_suffix(&suffix)
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, entry.path()));
        }
    }
    Ok(best)
}

fn set_role(signed: &mut Value, name: &str, role: &RoleKeys) -> Result<(), Error> {
    role.check_threshold(name)?;
    role.put_keys(root_object(signed, "keys")?);
    root_object(signed, "roles")?.insert(name.to_owned(), role.entry());
    Ok(())
}

/// The previous root's `field` object (`keys`, `roles`).
fn root_object<'a>(
    signed: &'a mut Value,
    field: &str,
) -> Result<&'a mut serde_json::Map<String, Value>, Error> {
    signed
        .get_mut(field)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::Malformed {
            detail: format!("the previous root has no `{field}` object"),
        })
}

/// Drops the keys no role names any more.
fn prune_keys(signed: &mut Value) {
    let used: Vec<String> = signed
        .get("roles")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|r| r.values())
        .filter_map(|r| r.get("keyids").and_then(Value::as_array))
        .flatten()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    if let Some(keys) = signed.get_mut("keys").and_then(Value::as_object_mut) {
        keys.retain(|id, _| used.contains(id));
    }
}

fn unsigned(signed: &Value) -> Result<Vec<u8>, Error> {
    repo::to_file(&json!({ "signed": signed, "signatures": [] }))
}

fn parse(bytes: &[u8], path: &Path) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
        detail: format!("{}: {e}", path.display()),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| io_err(path, &e.to_string()))
}

fn io_err(path: &Path, detail: &str) -> Error {
    Error::File {
        path: path.display().to_string(),
        detail: detail.to_owned(),
    }
}

/// Creates `path` (never over an existing file) with `mode`, synced.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io_err(path, &e.to_string()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err(path, &e.to_string()))
}

/// Replaces `path` atomically (a temporary file beside it, then a rename).
fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, bytes, 0o644)?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, &e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    const FAR: i64 = 4_000_000_000;

    fn keys(dir: &Path, name: &str) -> (KeyPair, PublicKey) {
        let files = keygen(&dir.join(format!("{name}.pem"))).unwrap();
        (
            read_private(&files.private).unwrap(),
            read_public(&files.public).unwrap(),
        )
    }

    fn role(keys: &[&PublicKey], threshold: u32) -> Option<RoleKeys> {
        Some(RoleKeys {
            keys: keys.iter().map(|k| (*k).clone()).collect(),
            threshold,
        })
    }

    #[test]
    fn a_two_of_three_root_rotates_only_with_both_thresholds_and_targets_need_the_targets_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let k = tmp.path().join("keys");
        std::fs::create_dir_all(&k).unwrap();
        let (a, pa) = keys(&k, "a");
        let (b, pb) = keys(&k, "b");
        let (_c, pc) = keys(&k, "c");
        let (d, pd) = keys(&k, "d");
        let (t, pt) = keys(&k, "t");
        // keygen never writes over a key.
        assert_eq!(keygen(&k.join("a.pem")).unwrap_err().code(), "TUF_E016");
        let dir = tmp.path().join("repo");
        let roles = RootRoles {
            root: role(&[&pa, &pb, &pc], 2),
            targets: role(&[&pt], 1),
            snapshot: role(&[&pt], 1),
            timestamp: role(&[&pt], 1),
        };
        let r1 = init_root(&dir, &roles, FAR).unwrap();
        let now = jiff::Timestamp::now();
        // Unsigned, then 1 of 2: refused with the threshold code.
        assert_eq!(
            check_staged(&dir, None, now).unwrap_err().code(),
            "TUF_E003"
        );
        let c = sign_file(&r1, &a).unwrap();
        assert_eq!((c[0].valid, c[0].threshold), (1, 2));
        let c = sign_file(&r1, &b).unwrap();
        assert!(c[0].met());
        let staged = check_staged(&dir, None, now).unwrap();
        assert_eq!(staged.roots.len(), 1);
        assert!(staged.targets.is_none());

        let tc = br#"{"trustedRoot":{"certificateAuthorities":[],"tlogs":[],"ctlogs":[],"timestampAuthorities":[]},"signingConfig":{"mediaType":"x"}}"#;
        let t1 = write_targets(&dir, tc, FAR, 1_800_000_000).unwrap();
        // A root key is not a targets key: refused, the file unchanged (unsigned).
        let before = std::fs::read(&t1).unwrap();
        assert_eq!(sign_file(&t1, &a).unwrap_err().code(), "TUF_E015");
        assert_eq!(std::fs::read(&t1).unwrap(), before);
        assert_eq!(
            check_staged(&dir, None, now).unwrap_err().code(),
            "TUF_E003",
            "targets with no signature"
        );
        let c = sign_file(&t1, &t).unwrap();
        assert_eq!((c[0].role.as_str(), c[0].valid), ("targets", 1));
        let staged = check_staged(&dir, None, now).unwrap();
        assert_eq!(staged.targets.as_ref().unwrap().files.len(), 2);

        // Rotation to {b, c, d} 2-of-3: signed by a and b (old 2 of 2 needed) and d.
        let r2 = rotate_root(
            &dir,
            &RootRoles {
                root: role(&[&pb, &pc, &pd], 2),
                ..RootRoles::default()
            },
            FAR,
        )
        .unwrap();
        let server_root = std::fs::read(&r1).unwrap();
        sign_file(&r2, &a).unwrap();
        let c = sign_file(&r2, &d).unwrap();
        // New root: d valid (a is not one of its keys); old root: a.
        assert_eq!(
            c.iter().map(|c| c.valid).collect::<Vec<_>>(),
            vec![1, 1],
            "{c:?}"
        );
        assert_eq!(
            check_staged(&dir, Some(&server_root), now)
                .unwrap_err()
                .code(),
            "TUF_E003"
        );
        let c = sign_file(&r2, &b).unwrap();
        assert!(c.iter().all(SignatureCount::met), "{c:?}");
        let staged = check_staged(&dir, Some(&server_root), now).unwrap();
        assert_eq!(staged.roots.len(), 1);
        assert_eq!(staged.roots[0].0, 2);
        // The key a left the root.
        let v: Value = serde_json::from_slice(&staged.final_root).unwrap();
        assert!(v["signed"]["keys"].get(pa.id()).is_none());
        assert!(v["signed"]["keys"].get(pt.id()).is_some());

        // A target whose bytes changed in DIR is refused.
        let files = staged.targets.unwrap().files;
        let (name, _) = &files[0];
        std::fs::write(dir.join("targets").join(name), b"other").unwrap();
        assert_eq!(
            check_staged(&dir, Some(&server_root), now)
                .unwrap_err()
                .code(),
            "TUF_E006"
        );
    }
}
