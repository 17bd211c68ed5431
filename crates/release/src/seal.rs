//! Sealing a release directory: hash every asset once (SHA-256 and BLAKE3 together), then
//! write `SHA256SUMS`, one `<asset>.sha256` per asset, `dist-manifest.json` and, when
//! crates are given, `crates-manifest.json`.
//!
//! Idempotence: outputs are a pure function of the assets' bytes and names, the tag, the
//! commit, the crate list and `generated_at`; a file whose content would not change is not
//! rewritten, and every write goes through a temporary file and a rename so a crash never
//! leaves a half-written record. The seal's own outputs are never assets, so a re-run
//! sees exactly the files the first run saw.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::digest::Sha256;
use crate::error::ReleaseError;
use crate::hash::{hash_file, FileDigests};
use crate::manifest::{
    Asset, CrateEntry, CratesManifest, DistManifest, ReleaseStatus, CRATES_MANIFEST, DIST_MANIFEST,
};
use crate::name::{AssetName, CrateId};
use crate::sums::Sums;

/// File name of the combined checksum list.
pub const SHA256SUMS: &str = "SHA256SUMS";
/// Suffix of the per-asset checksum files.
pub const SHA256_SUFFIX: &str = ".sha256";
/// Prefix of the temporary files a seal writes before renaming them into place.
const TMP_PREFIX: &str = ".vouch-seal-";

/// True for names the seal writes itself (and its temporary files): these are never
/// assets. A release asset whose own name ends in `.sha256` cannot be sealed.
pub fn is_seal_output(name: &str) -> bool {
    name == SHA256SUMS
        || name == DIST_MANIFEST
        || name == CRATES_MANIFEST
        || name.ends_with(SHA256_SUFFIX)
        || name.starts_with(TMP_PREFIX)
}

/// What to seal and how to label it.
#[derive(Debug, Clone)]
pub struct SealOptions {
    pub dir: PathBuf,
    pub tag: Option<String>,
    pub commit: Option<String>,
    /// Crates published by this release and their packaged `.crate` files.
    pub crates: Vec<(CrateId, PathBuf)>,
    /// Crate versions that were (or will be) published by a person with a token.
    pub manual_exceptions: Vec<CrateId>,
    /// RFC 3339 UTC, whole seconds; see [`normalize_time`].
    pub generated_at: String,
}

impl SealOptions {
    /// Options from command-line spellings: crates as `NAME@VERSION=FILE`, exceptions as
    /// `NAME@VERSION`, the time as RFC 3339 (default: now).
    pub fn from_specs(
        dir: PathBuf,
        tag: Option<String>,
        commit: Option<String>,
        crates: &[String],
        manual_exceptions: &[String],
        time: Option<&str>,
    ) -> Result<Self, ReleaseError> {
        let crate_spec = |spec: &String| match spec.split_once('=') {
            Some((id, file)) if !file.is_empty() => Ok((CrateId::parse(id)?, PathBuf::from(file))),
            _ => Err(ReleaseError::InvalidArgument {
                what: "--crate",
                value: spec.to_owned(),
                expected: "NAME@VERSION=FILE",
            }),
        };
        Ok(SealOptions {
            dir,
            tag,
            commit,
            crates: crates.iter().map(crate_spec).collect::<Result<_, _>>()?,
            manual_exceptions: manual_exceptions
                .iter()
                .map(|s| CrateId::parse(s))
                .collect::<Result<_, _>>()?,
            generated_at: match time {
                Some(t) => normalize_time(t)?,
                None => now(),
            },
        })
    }
}

/// The files found and the work ahead, before any byte is hashed.
#[derive(Debug)]
pub struct SealPlan {
    options: SealOptions,
    assets: Vec<(AssetName, PathBuf, u64)>,
    /// Crate files that are not assets of the directory and need their own hashing.
    extra_crate_files: Vec<(PathBuf, u64)>,
    stale_sha256: Vec<String>,
}

/// The records of a sealed release, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub dist: DistManifest,
    pub crates: Option<CratesManifest>,
    /// `<asset>.sha256` files in the directory whose asset no longer exists.
    pub stale_sha256: Vec<String>,
}

/// Which outputs a write changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub written: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Parses an RFC 3339 time and renders it as UTC with whole seconds
/// (`2026-01-02T03:04:05Z`), the form the manifests carry.
pub fn normalize_time(text: &str) -> Result<String, ReleaseError> {
    let ts: jiff::Timestamp = text.parse().map_err(|_| ReleaseError::InvalidArgument {
        what: "time",
        value: text.to_owned(),
        expected: "an RFC 3339 timestamp such as 2026-01-02T03:04:05Z",
    })?;
    Ok(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The current time in the manifests' form.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn check_tag(tag: &str) -> Result<(), ReleaseError> {
    if tag.is_empty() || tag.len() > 256 || tag.chars().any(char::is_control) {
        return Err(ReleaseError::InvalidArgument {
            what: "tag",
            value: tag.to_owned(),
            expected: "1 to 256 printable characters",
        });
    }
    Ok(())
}

fn check_commit(commit: &str) -> Result<String, ReleaseError> {
    let ok = (7..=64).contains(&commit.len()) && commit.chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        return Err(ReleaseError::InvalidArgument {
            what: "commit",
            value: commit.to_owned(),
            expected: "7 to 64 hex digits",
        });
    }
    Ok(commit.to_ascii_lowercase())
}

impl SealPlan {
    /// Lists the directory's assets and checks every option. Directories inside `dir` are
    /// skipped; symlinks and other special files are refused.
    pub fn scan(mut options: SealOptions) -> Result<Self, ReleaseError> {
        if let Some(tag) = &options.tag {
            check_tag(tag)?;
        }
        if let Some(commit) = &options.commit {
            options.commit = Some(check_commit(commit)?);
        }
        let mut crate_names = BTreeSet::new();
        for (id, _) in &options.crates {
            if !crate_names.insert(id.name().to_owned()) {
                return Err(ReleaseError::InvalidArgument {
                    what: "--crate",
                    value: id.to_string(),
                    expected: "each crate name at most once",
                });
            }
        }
        for exc in &options.manual_exceptions {
            if !options.crates.iter().any(|(id, _)| id == exc) {
                return Err(ReleaseError::InvalidArgument {
                    what: "--manual-exception",
                    value: exc.to_string(),
                    expected: "a NAME@VERSION also given with --crate",
                });
            }
        }

        let dir = &options.dir;
        let entries = fs::read_dir(dir).map_err(|e| ReleaseError::io(dir, e))?;
        let mut assets = Vec::new();
        let mut sha256_files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ReleaseError::io(dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| ReleaseError::io(&path, e))?;
            if kind.is_dir() {
                continue;
            }
            let raw = entry.file_name();
            let Some(name) = raw.to_str() else {
                return Err(ReleaseError::InvalidName {
                    name: raw.to_string_lossy().into_owned(),
                    reason: "not valid UTF-8",
                });
            };
            if is_seal_output(name) {
                if let Some(base) = name.strip_suffix(SHA256_SUFFIX) {
                    sha256_files.push((name.to_owned(), base.to_owned()));
                }
                continue;
            }
            if !kind.is_file() {
                return Err(ReleaseError::NotRegularFile { path });
            }
            let asset = AssetName::parse(name)?;
            let size = entry
                .metadata()
                .map_err(|e| ReleaseError::io(&path, e))?
                .len();
            assets.push((asset, path, size));
        }
        if assets.is_empty() {
            return Err(ReleaseError::NothingToSeal { dir: dir.clone() });
        }
        assets.sort_by(|a, b| a.0.cmp(&b.0));
        let names: BTreeSet<&str> = assets.iter().map(|a| a.0.as_str()).collect();
        let mut stale_sha256: Vec<String> = sha256_files
            .into_iter()
            .filter(|(_, base)| !names.contains(base.as_str()))
            .map(|(file, _)| file)
            .collect();
        stale_sha256.sort();

        let mut extra_crate_files = Vec::new();
        for (_, path) in &options.crates {
            if Self::asset_for(&assets, dir, path)?.is_none() {
                let meta = fs::metadata(path).map_err(|e| ReleaseError::io(path, e))?;
                extra_crate_files.push((path.clone(), meta.len()));
            }
        }
        Ok(Self {
            options,
            assets,
            extra_crate_files,
            stale_sha256,
        })
    }

    /// The asset of the sealed directory that `path` is, if it is one.
    fn asset_for(
        assets: &[(AssetName, PathBuf, u64)],
        dir: &Path,
        path: &Path,
    ) -> Result<Option<AssetName>, ReleaseError> {
        let canon = |p: &Path| fs::canonicalize(p).map_err(|e| ReleaseError::io(p, e));
        let file = canon(path)?;
        let dir = canon(dir)?;
        if file.parent() != Some(dir.as_path()) {
            return Ok(None);
        }
        let name = file.file_name().and_then(|n| n.to_str());
        Ok(assets
            .iter()
            .find(|a| Some(a.0.as_str()) == name)
            .map(|a| a.0.clone()))
    }

    /// Number of assets found.
    pub fn asset_count(&self) -> usize {
        self.assets.len()
    }

    /// Bytes to hash: all assets plus crate files outside the directory.
    pub fn total_bytes(&self) -> u64 {
        let assets: u64 = self.assets.iter().map(|a| a.2).sum();
        assets + self.extra_crate_files.iter().map(|c| c.1).sum::<u64>()
    }

    /// Hashes every file (in parallel on rayon's pool) and builds the records.
    pub fn hash(self, progress: &(dyn Fn(u64) + Sync)) -> Result<Sealed, ReleaseError> {
        let jobs: Vec<&Path> = self
            .assets
            .iter()
            .map(|a| a.1.as_path())
            .chain(self.extra_crate_files.iter().map(|c| c.0.as_path()))
            .collect();
        let digests: Vec<FileDigests> = jobs
            .par_iter()
            .map(|p| hash_file(p, progress).map_err(|e| ReleaseError::io(*p, e)))
            .collect::<Result<_, _>>()?;
        let (asset_digests, crate_digests) = digests.split_at(self.assets.len());
        let dist_assets: Vec<Asset> = self
            .assets
            .iter()
            .zip(asset_digests)
            .map(|((name, _, _), d)| Asset {
                name: name.clone(),
                size: d.size,
                sha256: d.sha256,
                blake3: d.blake3,
            })
            .collect();
        let extra: BTreeMap<&Path, Sha256> = self
            .extra_crate_files
            .iter()
            .zip(crate_digests)
            .map(|((p, _), d)| (p.as_path(), d.sha256))
            .collect();

        let o = &self.options;
        let crates = if o.crates.is_empty() {
            None
        } else {
            let mut entries = Vec::new();
            for (id, path) in &o.crates {
                let checksum = match Self::asset_for(&self.assets, &o.dir, path)? {
                    Some(name) => dist_assets
                        .iter()
                        .find(|a| a.name == name)
                        .map(|a| a.sha256),
                    None => extra.get(path.as_path()).copied(),
                };
                let checksum = checksum.ok_or_else(|| {
                    ReleaseError::io(
                        path,
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "crate file vanished during sealing",
                        ),
                    )
                })?;
                let release_status = if o.manual_exceptions.contains(id) {
                    ReleaseStatus::ManualTokenPublish
                } else {
                    ReleaseStatus::TrustedPublish
                };
                entries.push(CrateEntry {
                    id: id.clone(),
                    checksum,
                    release_status,
                });
            }
            entries.sort_by(|a, b| a.id.cmp(&b.id));
            Some(CratesManifest {
                tag: o.tag.clone(),
                commit: o.commit.clone(),
                generated_at: o.generated_at.clone(),
                crates: entries,
            })
        };
        Ok(Sealed {
            dist: DistManifest {
                tag: o.tag.clone(),
                commit: o.commit.clone(),
                generated_at: o.generated_at.clone(),
                assets: dist_assets,
            },
            crates,
            stale_sha256: self.stale_sha256,
        })
    }
}

impl Sealed {
    /// Every output file as (file name, content), in the order they are written.
    /// `SHA256SUMS` comes after the per-asset files and the manifests last, so a reader
    /// that sees a manifest knows the checksum files beside it are complete.
    pub fn outputs(&self) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(self.dist.assets.len() + 3);
        for a in &self.dist.assets {
            let one = Sums::from_entries([(a.name.clone(), a.sha256)]);
            out.push((format!("{}{SHA256_SUFFIX}", a.name), one.render()));
        }
        let all = Sums::from_entries(self.dist.assets.iter().map(|a| (a.name.clone(), a.sha256)));
        out.push((SHA256SUMS.to_owned(), all.render()));
        if let Some(c) = &self.crates {
            out.push((CRATES_MANIFEST.to_owned(), c.render()));
        }
        out.push((DIST_MANIFEST.to_owned(), self.dist.render()));
        out
    }

    /// Writes the outputs into `dir`, skipping files whose content is already right.
    pub fn write(&self, dir: &Path) -> Result<WriteSummary, ReleaseError> {
        let mut summary = WriteSummary::default();
        for (name, content) in self.outputs() {
            let path = dir.join(&name);
            match fs::read(&path) {
                Ok(existing) if existing == content.as_bytes() => {
                    summary.unchanged.push(name);
                    continue;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ReleaseError::io(&path, e)),
            }
            let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
            fs::write(&tmp, content.as_bytes()).map_err(|e| ReleaseError::io(&tmp, e))?;
            fs::rename(&tmp, &path).map_err(|e| ReleaseError::io(&path, e))?;
            summary.written.push(name);
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_recognised() {
        for n in [
            "SHA256SUMS",
            "a.whl.sha256",
            "dist-manifest.json",
            "crates-manifest.json",
            ".vouch-seal-x",
        ] {
            assert!(is_seal_output(n), "{n}");
        }
        for n in ["a.whl", "SHA256SUMS.asc", "dist-manifest.json.sig"] {
            assert!(!is_seal_output(n), "{n}");
        }
    }

    #[test]
    fn times_and_labels() {
        assert_eq!(
            normalize_time("2026-01-02T03:04:05.9+01:00").unwrap(),
            "2026-01-02T02:04:05Z"
        );
        assert_eq!(
            normalize_time("yesterday").unwrap_err().code(),
            "RELEASE_E006"
        );
        assert!(check_tag("v1.0.0").is_ok());
        assert!(check_tag("v1\n").is_err());
        assert_eq!(check_commit("ABCDEF1").unwrap(), "abcdef1");
        assert!(check_commit("xyz1234").is_err());
    }
}
