//! crates.io's API: `GET {base}/api/v1/crates/{name}/versions`, following
//! `meta.next_page` when the index paginates. Per version, `num`, `checksum` (SHA-256 of
//! the `.crate`), `trustpub_data` (set when published through trusted publishing) and
//! `published_by` (the user whose token published it) are read.
//!
//! Policy: a version without `trustpub_data` was published with a token (by
//! `published_by`, or by nobody the index names); it passes only if `crates-manifest.json`
//! records it as `manual_token_publish`.

use std::collections::BTreeMap;

use super::{
    hex_field, malformed, str_field, url, ArtifactResult, ArtifactStatus, Observation, Source,
};
use crate::error::ReleaseError;
use crate::index::{Drift, Fetched, Fetcher};
use crate::manifest::{CrateEntry, CratesManifest, DistManifest, ReleaseStatus};

/// Pages followed per crate at most; crates.io serves 100 versions per page.
const MAX_PAGES: usize = 50;

/// One version as the index serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedVersion {
    pub checksum: String,
    pub trusted: bool,
    pub published_by: Option<String>,
}

/// The crates of a release to check.
pub struct CratesSource<'a> {
    base: String,
    crates: Vec<&'a CrateEntry>,
}

impl<'a> CratesSource<'a> {
    /// `only` restricts the check to one crate name. The two manifests must agree on every
    /// `.crate` file the dist manifest also lists.
    pub fn new(
        base: &str,
        dist: &DistManifest,
        crates: &'a CratesManifest,
        only: Option<&str>,
    ) -> Result<Self, ReleaseError> {
        for c in &crates.crates {
            if let Some(asset) = dist.asset(&c.id.crate_file_name()) {
                if asset.sha256 != c.checksum {
                    return Err(ReleaseError::ManifestsDisagree {
                        name: c.id.crate_file_name(),
                        dist: asset.sha256.to_hex(),
                        crates: c.checksum.to_hex(),
                    });
                }
            }
        }
        let selected: Vec<&CrateEntry> = crates
            .crates
            .iter()
            .filter(|c| only.is_none_or(|n| c.id.name() == n))
            .collect();
        if selected.is_empty() {
            return Err(ReleaseError::InvalidArgument {
                what: "--package",
                value: only.unwrap_or_default().to_owned(),
                expected: "a crate listed in crates-manifest.json",
            });
        }
        Ok(Self {
            base: base.to_owned(),
            crates: selected,
        })
    }

    fn versions_url(&self, name: &str) -> String {
        url(&self.base, &["api", "v1", "crates", name, "versions"])
    }
}

/// Parses one page: version number → served data, and the next page's query, if any.
pub fn parse_page(
    url: &str,
    body: &serde_json::Value,
) -> Result<(BTreeMap<String, ServedVersion>, Option<String>), ReleaseError> {
    let versions = body
        .get("versions")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| malformed(url, "`versions` is missing or not an array"))?;
    let mut out = BTreeMap::new();
    for (i, v) in versions.iter().enumerate() {
        let path = format!("versions[{i}]");
        let num = str_field(url, v, &path, "num")?;
        let checksum = hex_field(url, v, &path, "checksum")?;
        let trusted = match v.get("trustpub_data") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Object(_)) => true,
            Some(_) => {
                return Err(malformed(
                    url,
                    format!("{path}.trustpub_data is not an object"),
                ))
            }
        };
        let published_by = match v.get("published_by") {
            None | Some(serde_json::Value::Null) => None,
            Some(user @ serde_json::Value::Object(_)) => Some(
                user.get("login")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("(unnamed user)")
                    .to_owned(),
            ),
            Some(_) => {
                return Err(malformed(
                    url,
                    format!("{path}.published_by is not an object"),
                ))
            }
        };
        let served = ServedVersion {
            checksum,
            trusted,
            published_by,
        };
        if out.insert(num.to_owned(), served).is_some() {
            return Err(malformed(
                url,
                format!("{path}: version {num} listed twice"),
            ));
        }
    }
    let next = match body.get("meta").and_then(|m| m.get("next_page")) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(q)) if q.starts_with('?') && !q.contains(['#', ' ']) => {
            Some(q.clone())
        }
        Some(_) => return Err(malformed(url, "meta.next_page is not a query string")),
    };
    Ok((out, next))
}

/// The verdict for one crate version given what the index serves.
pub fn judge(entry: &CrateEntry, served: Option<&ServedVersion>) -> ArtifactStatus {
    let Some(served) = served else {
        return ArtifactStatus::Missing;
    };
    if served.checksum != entry.checksum.to_hex() {
        return ArtifactStatus::Mismatch(Drift::new(
            "checksum",
            entry.checksum.to_hex(),
            served.checksum.clone(),
        ));
    }
    if !served.trusted && entry.release_status != ReleaseStatus::ManualTokenPublish {
        return ArtifactStatus::ManualPublish {
            publisher: served.published_by.clone(),
        };
    }
    ArtifactStatus::Ok
}

enum Lookup {
    Found(Option<ServedVersion>),
    Transient { url: String, detail: String },
}

impl CratesSource<'_> {
    fn lookup(&self, fetcher: &Fetcher, entry: &CrateEntry) -> Result<Lookup, ReleaseError> {
        let first = self.versions_url(entry.id.name());
        let mut page_url = first.clone();
        for _ in 0..MAX_PAGES {
            let body = match fetcher.get_json(&page_url)? {
                Fetched::Json(body) => body,
                Fetched::NotFound => return Ok(Lookup::Found(None)),
                Fetched::Transient(detail) => {
                    return Ok(Lookup::Transient {
                        url: page_url,
                        detail,
                    })
                }
            };
            let (mut versions, next) = parse_page(&page_url, &body)?;
            if let Some(v) = versions.remove(entry.id.version()) {
                return Ok(Lookup::Found(Some(v)));
            }
            match next {
                Some(query) => page_url = format!("{first}{query}"),
                None => return Ok(Lookup::Found(None)),
            }
        }
        Err(malformed(
            &first,
            format!("more than {MAX_PAGES} pages of versions"),
        ))
    }
}

impl Source for CratesSource<'_> {
    fn urls(&self) -> Vec<String> {
        self.crates
            .iter()
            .map(|c| self.versions_url(c.id.name()))
            .collect()
    }

    fn observe(&self, fetcher: &Fetcher) -> Result<Observation, ReleaseError> {
        let mut results = Vec::new();
        for entry in &self.crates {
            let served = match self.lookup(fetcher, entry)? {
                Lookup::Found(v) => v,
                Lookup::Transient { url, detail } => {
                    return Ok(Observation::Transient { url, detail })
                }
            };
            results.push(ArtifactResult {
                artifact: entry.id.to_string(),
                status: judge(entry, served.as_ref()),
            });
        }
        Ok(Observation::Seen(results))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Sha256;
    use crate::name::CrateId;
    use proptest::prelude::*;

    fn entry(status: ReleaseStatus) -> CrateEntry {
        CrateEntry {
            id: CrateId::parse("demo@1.0.0").unwrap(),
            checksum: Sha256::from_bytes([0xab; 32]),
            release_status: status,
        }
    }

    #[test]
    fn policy() {
        let good = "ab".repeat(32);
        let served = |trusted, by: Option<&str>| ServedVersion {
            checksum: good.clone(),
            trusted,
            published_by: by.map(str::to_owned),
        };
        let trusted = entry(ReleaseStatus::TrustedPublish);
        let manual = entry(ReleaseStatus::ManualTokenPublish);
        assert_eq!(
            judge(&trusted, Some(&served(true, None))),
            ArtifactStatus::Ok
        );
        assert_eq!(
            judge(&trusted, Some(&served(false, Some("alice")))),
            ArtifactStatus::ManualPublish {
                publisher: Some("alice".into())
            }
        );
        assert_eq!(
            judge(&manual, Some(&served(false, Some("alice")))),
            ArtifactStatus::Ok
        );
        assert_eq!(
            judge(&manual, Some(&served(true, None))),
            ArtifactStatus::Ok
        );
        assert_eq!(judge(&trusted, None), ArtifactStatus::Missing);
        let drift = ServedVersion {
            checksum: "cd".repeat(32),
            ..served(true, None)
        };
        assert_eq!(judge(&manual, Some(&drift)).label(), "mismatch");
    }

    #[test]
    fn parses_pages() {
        let body = serde_json::json!({
            "versions": [
                {"num": "1.0.0", "checksum": "AB".repeat(32), "trustpub_data": {"provider": "github"}, "published_by": null},
                {"num": "0.9.0", "checksum": "ab".repeat(32), "published_by": {"login": "bob"}}
            ],
            "meta": {"next_page": "?page=2"}
        });
        let (v, next) = parse_page("u", &body).unwrap();
        assert!(v["1.0.0"].trusted);
        assert_eq!(v["1.0.0"].checksum, "ab".repeat(32));
        assert_eq!(v["0.9.0"].published_by.as_deref(), Some("bob"));
        assert_eq!(next.as_deref(), Some("?page=2"));
        for bad in [
            serde_json::json!({"versions": 1}),
            serde_json::json!({"versions": [{"num": "1", "checksum": "x"}]}),
            serde_json::json!({"versions": [{"num": "1", "checksum": "ab".repeat(32), "trustpub_data": true}]}),
            serde_json::json!({"versions": [], "meta": {"next_page": "http://elsewhere/"}}),
        ] {
            assert_eq!(
                parse_page("u", &bad).unwrap_err().code(),
                "RELEASE_E008",
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
                let _ = parse_page("u", &v);
            }
        }
    }
}
