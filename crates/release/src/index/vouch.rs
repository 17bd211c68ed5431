//! vouch's own index: `GET {base}/api/v1/packages/{name}/{version}` answering
//!
//! ```json
//! {"name": "@scope/name", "version": "1.2.3",
//!  "artifacts": [{"filename": "...", "size": 123, "sha256": "<hex>", "blake3": "<hex>"}]}
//! ```
//!
//! A scoped name keeps its `/` in the path (`/api/v1/packages/@scope/name/1.2.3`); every
//! other reserved character is percent-encoded. Every asset of the manifest is expected,
//! and size, SHA-256 and BLAKE3 are all compared.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    hex_field, malformed, str_field, url, ArtifactResult, ArtifactStatus, Observation, Source,
};
use crate::error::ReleaseError;
use crate::index::{Drift, Fetched, Fetcher};
use crate::manifest::DistManifest;
use crate::name::AssetName;

/// One artifact as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedArtifact {
    pub size: u64,
    pub sha256: String,
    pub blake3: String,
}

/// One vouch package version to check.
pub struct VouchSource<'a> {
    url: String,
    name: String,
    version: String,
    manifest: &'a DistManifest,
}

impl<'a> VouchSource<'a> {
    pub fn new(
        base: &str,
        name: &str,
        version: &str,
        manifest: &'a DistManifest,
    ) -> Result<Self, ReleaseError> {
        if name.is_empty()
            || name
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(ReleaseError::InvalidArgument {
                what: "--package",
                value: name.to_owned(),
                expected: "a package name such as @scope/name",
            });
        }
        let mut segments: Vec<&str> = vec!["api", "v1", "packages"];
        segments.extend(name.split('/'));
        segments.push(version);
        Ok(Self {
            url: url(base, &segments).replace("%40", "@"),
            name: name.to_owned(),
            version: version.to_owned(),
            manifest,
        })
    }
}

/// Parses the served document, checking it is about `name` at `version`.
pub fn parse_served(
    url: &str,
    body: &serde_json::Value,
    name: &str,
    version: &str,
) -> Result<BTreeMap<String, ServedArtifact>, ReleaseError> {
    let served_name = str_field(url, body, "$", "name")?;
    let served_version = str_field(url, body, "$", "version")?;
    if served_name != name || served_version != version {
        return Err(malformed(
            url,
            format!("answered for {served_name}@{served_version}, expected {name}@{version}"),
        ));
    }
    let artifacts = body
        .get("artifacts")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| malformed(url, "`artifacts` is missing or not an array"))?;
    let mut out = BTreeMap::new();
    for (i, a) in artifacts.iter().enumerate() {
        let path = format!("artifacts[{i}]");
        let filename = str_field(url, a, &path, "filename")?;
        AssetName::parse(filename).map_err(|e| malformed(url, format!("{path}.filename: {e}")))?;
        let size = a
            .get("size")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                malformed(
                    url,
                    format!("{path}.size is missing or not an unsigned integer"),
                )
            })?;
        let served = ServedArtifact {
            size,
            sha256: hex_field(url, a, &path, "sha256")?,
            blake3: hex_field(url, a, &path, "blake3")?,
        };
        if out.insert(filename.to_owned(), served).is_some() {
            return Err(malformed(
                url,
                format!("{path}: file {filename:?} listed twice"),
            ));
        }
    }
    Ok(out)
}

impl Source for VouchSource<'_> {
    fn urls(&self) -> Vec<String> {
        vec![self.url.clone()]
    }

    fn observe(&self, fetcher: &Fetcher) -> Result<Observation, ReleaseError> {
        let served = match fetcher.get_json(&self.url)? {
            Fetched::Json(body) => parse_served(&self.url, &body, &self.name, &self.version)?,
            Fetched::NotFound => BTreeMap::new(),
            Fetched::Transient(detail) => {
                return Ok(Observation::Transient {
                    url: self.url.clone(),
                    detail,
                })
            }
        };
        let mut results = Vec::new();
        let mut expected = BTreeSet::new();
        for asset in &self.manifest.assets {
            expected.insert(asset.name.as_str());
            let status = match served.get(asset.name.as_str()) {
                None => ArtifactStatus::Missing,
                Some(s) if s.size != asset.size => ArtifactStatus::Mismatch(Drift::new(
                    "size",
                    asset.size.to_string(),
                    s.size.to_string(),
                )),
                Some(s) if s.sha256 != asset.sha256.to_hex() => ArtifactStatus::Mismatch(
                    Drift::new("sha256", asset.sha256.to_hex(), s.sha256.clone()),
                ),
                Some(s) if s.blake3 != asset.blake3.to_hex() => ArtifactStatus::Mismatch(
                    Drift::new("blake3", asset.blake3.to_hex(), s.blake3.clone()),
                ),
                Some(_) => ArtifactStatus::Ok,
            };
            results.push(ArtifactResult {
                artifact: asset.name.as_str().to_owned(),
                status,
            });
        }
        for name in served.keys().filter(|n| !expected.contains(n.as_str())) {
            results.push(ArtifactResult {
                artifact: name.clone(),
                status: ArtifactStatus::Unexpected,
            });
        }
        Ok(Observation::Seen(results))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn manifest() -> DistManifest {
        DistManifest {
            tag: None,
            commit: None,
            generated_at: "2026-01-01T00:00:00Z".into(),
            assets: vec![],
        }
    }

    #[test]
    fn scoped_names_keep_their_slash() {
        let m = manifest();
        let s = VouchSource::new("http://h/", "@acme/tool", "1.2.3", &m).unwrap();
        assert_eq!(s.urls(), ["http://h/api/v1/packages/@acme/tool/1.2.3"]);
        for bad in ["", "@acme/../x", "a//b"] {
            assert!(VouchSource::new("http://h", bad, "1", &m).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_the_documented_shape() {
        let h = "ab".repeat(32);
        let body = serde_json::json!({"name": "@a/b", "version": "1", "artifacts": [
            {"filename": "x.tgz", "size": 3, "sha256": h, "blake3": h}]});
        assert_eq!(
            parse_served("u", &body, "@a/b", "1").unwrap()["x.tgz"].size,
            3
        );
        assert_eq!(
            parse_served("u", &body, "@a/b", "2").unwrap_err().code(),
            "RELEASE_E008"
        );
        let neg = serde_json::json!({"name": "@a/b", "version": "1", "artifacts": [
            {"filename": "x.tgz", "size": -3, "sha256": h, "blake3": h}]});
        assert_eq!(
            parse_served("u", &neg, "@a/b", "1").unwrap_err().code(),
            "RELEASE_E008"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
                let _ = parse_served("u", &v, "a", "1");
            }
        }
    }
}
