//! PyPI's JSON API: `GET {base}/pypi/{project}/{version}/json`, of which only
//! `urls[].filename` and `urls[].digests.sha256` are read (PEP 691's predecessor, as served
//! by pypi.org and warehouse-compatible mirrors).
//!
//! Which sealed assets belong on PyPI: wheels and sdists of this project and version,
//! recognised by their file name (`{dist}-{version}-….whl`, `{dist}-{version}.tar.gz` or
//! `.zip`, with the distribution name normalised per PEP 503), plus any other manifest
//! asset the index happens to serve.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    hex_field, malformed, str_field, url, ArtifactResult, ArtifactStatus, Observation, Source,
};
use crate::error::ReleaseError;
use crate::index::{Drift, Fetched, Fetcher};
use crate::manifest::DistManifest;
use crate::name::AssetName;

/// PEP 503 normalisation, with `_` as the separator as wheel and sdist names use it.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('_');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// True when `file` is a wheel or sdist of `project` at `version`.
pub fn is_python_artifact(file: &str, project: &str, version: &str) -> bool {
    let stem = if let Some(s) = file.strip_suffix(".whl") {
        // {dist}-{version}(-{build})?-{py}-{abi}-{platform}
        let mut parts = s.splitn(3, '-');
        let (Some(dist), Some(ver)) = (parts.next(), parts.next()) else {
            return false;
        };
        return parts.next().is_some() && normalize(dist) == normalize(project) && ver == version;
    } else if let Some(s) = file.strip_suffix(".tar.gz") {
        s
    } else if let Some(s) = file.strip_suffix(".zip") {
        s
    } else {
        return false;
    };
    match stem.rsplit_once('-') {
        Some((dist, ver)) => normalize(dist) == normalize(project) && ver == version,
        None => false,
    }
}

/// One PyPI project version to check.
pub struct PypiSource<'a> {
    url: String,
    manifest: &'a DistManifest,
    expected: BTreeSet<String>,
}

impl<'a> PypiSource<'a> {
    pub fn new(
        base: &str,
        project: &str,
        version: &str,
        manifest: &'a DistManifest,
    ) -> Result<Self, ReleaseError> {
        let expected: BTreeSet<String> = manifest
            .assets
            .iter()
            .map(|a| a.name.as_str())
            .filter(|n| is_python_artifact(n, project, version))
            .map(str::to_owned)
            .collect();
        if expected.is_empty() {
            return Err(ReleaseError::InvalidArgument {
                what: "--package/--version",
                value: format!("{project} {version}"),
                expected: "a project and version with at least one wheel or sdist in the manifest",
            });
        }
        Ok(Self {
            url: url(base, &["pypi", project, version, "json"]),
            manifest,
            expected,
        })
    }
}

/// Parses the served `urls[]` into file name → sha256 (lowercase hex).
pub fn parse_served(
    url: &str,
    body: &serde_json::Value,
) -> Result<BTreeMap<String, String>, ReleaseError> {
    let urls = body
        .get("urls")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| malformed(url, "`urls` is missing or not an array"))?;
    let mut served = BTreeMap::new();
    for (i, entry) in urls.iter().enumerate() {
        let path = format!("urls[{i}]");
        let filename = str_field(url, entry, &path, "filename")?;
        AssetName::parse(filename).map_err(|e| malformed(url, format!("{path}.filename: {e}")))?;
        let digests = entry
            .get("digests")
            .ok_or_else(|| malformed(url, format!("{path}.digests is missing")))?;
        let sha256 = hex_field(url, digests, &format!("{path}.digests"), "sha256")?;
        if served.insert(filename.to_owned(), sha256).is_some() {
            return Err(malformed(
                url,
                format!("{path}: file {filename:?} listed twice"),
            ));
        }
    }
    Ok(served)
}

impl Source for PypiSource<'_> {
    fn urls(&self) -> Vec<String> {
        vec![self.url.clone()]
    }

    fn observe(&self, fetcher: &Fetcher) -> Result<Observation, ReleaseError> {
        let served = match fetcher.get_json(&self.url)? {
            Fetched::Json(body) => parse_served(&self.url, &body)?,
            Fetched::NotFound => BTreeMap::new(),
            Fetched::Transient(detail) => {
                return Ok(Observation::Transient {
                    url: self.url.clone(),
                    detail,
                })
            }
        };
        let mut results = Vec::new();
        for name in &self.expected {
            let status = match served.get(name) {
                None => ArtifactStatus::Missing,
                Some(found) => compare(self.manifest, name, found),
            };
            results.push(ArtifactResult {
                artifact: name.clone(),
                status,
            });
        }
        for (name, found) in &served {
            if self.expected.contains(name) {
                continue;
            }
            let status = if self.manifest.asset(name).is_some() {
                compare(self.manifest, name, found)
            } else {
                ArtifactStatus::Unexpected
            };
            results.push(ArtifactResult {
                artifact: name.clone(),
                status,
            });
        }
        Ok(Observation::Seen(results))
    }
}

fn compare(manifest: &DistManifest, name: &str, found: &str) -> ArtifactStatus {
    match manifest.asset(name) {
        Some(a) if a.sha256.to_hex() == found => ArtifactStatus::Ok,
        Some(a) => {
            ArtifactStatus::Mismatch(Drift::new("sha256", a.sha256.to_hex(), found.to_owned()))
        }
        None => ArtifactStatus::Unexpected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn recognises_wheels_and_sdists() {
        assert!(is_python_artifact(
            "my_pkg-1.0-py3-none-any.whl",
            "My.Pkg",
            "1.0"
        ));
        assert!(is_python_artifact(
            "my_pkg-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl",
            "my-pkg",
            "1.0"
        ));
        assert!(is_python_artifact("my_pkg-1.0.tar.gz", "my-pkg", "1.0"));
        assert!(!is_python_artifact("my_pkg-1.1.tar.gz", "my-pkg", "1.0"));
        assert!(!is_python_artifact(
            "other-1.0-py3-none-any.whl",
            "my-pkg",
            "1.0"
        ));
        assert!(!is_python_artifact("my_pkg-1.0.whl", "my-pkg", "1.0"));
        assert!(!is_python_artifact(
            "vouch-x86_64-linux.tar.gz",
            "my-pkg",
            "1.0"
        ));
    }

    #[test]
    fn parses_the_served_shape_strictly() {
        let d = "a".repeat(64);
        let ok = serde_json::json!({"urls": [{"filename": "a.whl", "digests": {"sha256": d, "md5": "x"}}]});
        assert_eq!(parse_served("u", &ok).unwrap().len(), 1);
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"urls": {}}),
            serde_json::json!({"urls": [{"filename": "a.whl"}]}),
            serde_json::json!({"urls": [{"filename": "a.whl", "digests": {"sha256": "zz"}}]}),
            serde_json::json!({"urls": [{"filename": "../a.whl", "digests": {"sha256": d}}]}),
            serde_json::json!({"urls": [{"filename": 1, "digests": {"sha256": d}}]}),
            serde_json::json!({"urls": [{"filename": "a", "digests": {"sha256": d}}, {"filename": "a", "digests": {"sha256": d}}]}),
        ] {
            assert_eq!(
                parse_served("u", &bad).unwrap_err().code(),
                "RELEASE_E008",
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
                let _ = parse_served("u", &v);
            }
        }

        #[test]
        fn name_matching_never_panics(f in "\\PC{0,40}", p in "\\PC{0,10}", v in "\\PC{0,10}") {
            let _ = is_python_artifact(&f, &p, &v);
        }
    }
}
