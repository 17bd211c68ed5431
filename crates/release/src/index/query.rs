//! One `verify-index` run from its inputs: which index, where, which package and
//! version, read from the sealed manifests; the source is chosen here so that a caller
//! (the `vouch release verify-index` command, a CI action) only supplies the options.

use std::path::{Path, PathBuf};

use super::{
    crates_io::CratesSource, pypi::PypiSource, vouch::VouchSource, Fetcher, IndexReport, Limits,
    RetryEvent, Source,
};
use crate::error::ReleaseError;
use crate::manifest::{CratesManifest, DistManifest, CRATES_MANIFEST};

/// The index shapes understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Pypi,
    Crates,
    Vouch,
}

impl IndexKind {
    /// The name used in reports: `pypi`, `crates` or `vouch`.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Pypi => "pypi",
            IndexKind::Crates => "crates",
            IndexKind::Vouch => "vouch",
        }
    }

    /// The public index's base URL, if this kind has one.
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            IndexKind::Pypi => Some("https://pypi.org"),
            IndexKind::Crates => Some("https://crates.io"),
            IndexKind::Vouch => None,
        }
    }
}

/// What to compare: the sealed manifest against one index.
#[derive(Debug, Clone)]
pub struct IndexQuery {
    pub manifest: PathBuf,
    pub index: IndexKind,
    /// Base URL [default: [`IndexKind::default_url`]].
    pub url: Option<String>,
    /// PyPI project or vouch package; for crates, limits the check to one crate.
    pub package: Option<String>,
    /// [default: the manifest's tag without a leading `v`].
    pub version: Option<String>,
    /// crates-manifest.json [default: beside `manifest`].
    pub crates_manifest: Option<PathBuf>,
}

impl IndexQuery {
    /// The base URL asked: the given one, or the index's public one.
    pub fn base_url(&self) -> Result<String, ReleaseError> {
        let base = match (&self.url, self.index.default_url()) {
            (Some(u), _) => u.clone(),
            (None, Some(d)) => d.to_owned(),
            (None, None) => return Err(invalid("--url", "", "the vouch registry's base URL")),
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(invalid("--url", &base, "an http:// or https:// URL"));
        }
        Ok(base)
    }

    /// Asks the index, retrying while anything is missing. `on_start` hears the base URL
    /// once the inputs are known to be complete, before the first request; `on_retry`
    /// hears of each retry.
    pub fn run(
        &self,
        limits: Limits,
        on_start: &dyn Fn(&str),
        on_retry: &dyn Fn(&RetryEvent),
    ) -> Result<IndexReport, ReleaseError> {
        let dist = DistManifest::parse(&read_text(&self.manifest)?)?;
        let base = self.base_url()?;
        let version = self.version.clone().or_else(|| {
            let tag = dist.tag.as_deref()?;
            Some(tag.strip_prefix('v').unwrap_or(tag).to_owned())
        });
        let required = |v: &Option<String>, what, expected| match v {
            Some(s) => Ok(s.clone()),
            None => Err(invalid(what, "", expected)),
        };
        let crates_manifest;
        let source: Box<dyn Source + '_> = match self.index {
            IndexKind::Pypi => {
                let package = required(&self.package, "--package", "the PyPI project name")?;
                let version = required(&version, "--version", "a version (or a manifest tag)")?;
                Box::new(PypiSource::new(&base, &package, &version, &dist)?)
            }
            IndexKind::Vouch => {
                let package = required(&self.package, "--package", "the vouch package name")?;
                let version = required(&version, "--version", "a version (or a manifest tag)")?;
                Box::new(VouchSource::new(&base, &package, &version, &dist)?)
            }
            IndexKind::Crates => {
                let path = self.crates_manifest.clone().unwrap_or_else(|| {
                    let dir = self.manifest.parent().unwrap_or(Path::new("."));
                    dir.join(CRATES_MANIFEST)
                });
                crates_manifest = CratesManifest::parse(&read_text(&path)?)?;
                let only = self.package.as_deref();
                Box::new(CratesSource::new(&base, &dist, &crates_manifest, only)?)
            }
        };
        on_start(&base);
        super::run(source.as_ref(), &Fetcher::new(limits)?, on_retry)
    }
}

fn read_text(path: &Path) -> Result<String, ReleaseError> {
    std::fs::read_to_string(path).map_err(|e| ReleaseError::io(path, e))
}

fn invalid(what: &'static str, value: &str, expected: &'static str) -> ReleaseError {
    ReleaseError::InvalidArgument {
        what,
        value: value.to_owned(),
        expected,
    }
}
