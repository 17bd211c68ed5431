//! Release listings: the three forges' JSON shapes, parsed into one normalized
//! [`Release`] with its [`AssetRef`]s, and the list/get calls that fetch them.
//!
//! Drafts are never returned (they are mutable and unpublished). Every name is checked
//! (no empty names, no control characters, no duplicates within a release), so the
//! registry can key assets on `(release, name)` without surprises.

use serde::Deserialize;
use url::Url;

use crate::error::IngestError;
use crate::fetch::Fetcher;
use crate::forge::{ForgeKind, RepoRef};

/// A published release, normalized across forges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The forge's id for the release (GitHub/Gitea numeric id; GitLab has none, so the tag).
    pub forge_id: String,
    /// The git tag.
    pub tag: String,
    /// The display name, if any.
    pub name: Option<String>,
    /// Publication time as the forge wrote it (RFC 3339), if published.
    pub published_at: Option<String>,
    /// Whether the forge marks it as a pre-release.
    pub prerelease: bool,
    /// The uploaded assets (GitLab: the release links).
    pub assets: Vec<AssetRef>,
}

/// One asset as the forge lists it: claims, not yet facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRef {
    /// The asset's file name, unique within its release.
    pub name: String,
    /// The size the forge lists (GitLab links carry none).
    pub size_claimed: Option<u64>,
    /// Where the bytes are downloaded from.
    pub download_url: Url,
    /// A SHA-256 the forge lists for the asset (GitHub's `digest: "sha256:..."`).
    pub sha256_claimed: Option<[u8; 32]>,
}

const MAX_NAME_BYTES: usize = 255;

fn check_name(what: &'static str, name: &str) -> Result<(), IngestError> {
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name == "."
        || name == ".."
        || name.chars().any(char::is_control)
    {
        return Err(IngestError::InvalidResponse {
            what,
            detail: format!(
                "name {:?}: expected 1..={MAX_NAME_BYTES} bytes, no control characters, not . or ..",
                name.chars().take(80).collect::<String>()
            ),
        });
    }
    Ok(())
}

fn parse_url(what: &'static str, s: &str) -> Result<Url, IngestError> {
    Url::parse(s).map_err(|e| IngestError::InvalidResponse {
        what,
        detail: format!(
            "download url {:?}: {e}",
            s.chars().take(200).collect::<String>()
        ),
    })
}

fn parse_digest(s: Option<&str>) -> Option<[u8; 32]> {
    // Only sha256 digests are used; other algorithms are ignored rather than refused.
    let hex_part = s?.strip_prefix("sha256:")?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

#[derive(Deserialize)]
struct GitHubRelease {
    id: u64,
    tag_name: String,
    name: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    published_at: Option<String>,
    #[serde(default)]
    assets: Vec<GitHubAsset>,
}

/// Gitea and Forgejo assets have the same shape minus `digest`.
#[derive(Deserialize)]
struct GitHubAsset {
    name: String,
    size: u64,
    browser_download_url: String,
    #[serde(default)]
    digest: Option<String>,
}

#[derive(Deserialize)]
struct GitLabRelease {
    tag_name: String,
    name: Option<String>,
    released_at: Option<String>,
    #[serde(default)]
    upcoming_release: bool,
    #[serde(default)]
    assets: GitLabAssets,
}

#[derive(Deserialize, Default)]
struct GitLabAssets {
    #[serde(default)]
    links: Vec<GitLabLink>,
}

#[derive(Deserialize)]
struct GitLabLink {
    name: String,
    url: String,
    direct_asset_url: Option<String>,
}

fn from_github(r: GitHubRelease) -> Result<Option<Release>, IngestError> {
    if r.draft {
        return Ok(None);
    }
    check_name("release", &r.tag_name)?;
    let assets = r
        .assets
        .into_iter()
        .map(|a| {
            check_name("asset", &a.name)?;
            Ok(AssetRef {
                download_url: parse_url("asset", &a.browser_download_url)?,
                sha256_claimed: parse_digest(a.digest.as_deref()),
                name: a.name,
                size_claimed: Some(a.size),
            })
        })
        .collect::<Result<Vec<_>, IngestError>>()?;
    finish(Release {
        forge_id: r.id.to_string(),
        tag: r.tag_name,
        name: r.name.filter(|n| !n.is_empty()),
        published_at: r.published_at,
        prerelease: r.prerelease,
        assets,
    })
    .map(Some)
}

fn from_gitlab(r: GitLabRelease) -> Result<Option<Release>, IngestError> {
    if r.upcoming_release {
        return Ok(None);
    }
    check_name("release", &r.tag_name)?;
    let assets = r
        .assets
        .links
        .into_iter()
        .map(|l| {
            check_name("asset", &l.name)?;
            let url = l.direct_asset_url.as_deref().unwrap_or(&l.url);
            Ok(AssetRef {
                download_url: parse_url("asset", url)?,
                name: l.name,
                size_claimed: None,
                sha256_claimed: None,
            })
        })
        .collect::<Result<Vec<_>, IngestError>>()?;
    finish(Release {
        forge_id: r.tag_name.clone(),
        tag: r.tag_name,
        name: r.name.filter(|n| !n.is_empty()),
        published_at: r.released_at,
        prerelease: false,
        assets,
    })
    .map(Some)
}

#[allow(
    clippy::indexing_slicing,
    reason = "windows(2) yields slices of exactly two"
)]
fn finish(release: Release) -> Result<Release, IngestError> {
    let mut names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(IngestError::InvalidResponse {
            what: "release",
            detail: format!("release {:?} lists asset {:?} twice", release.tag, w[0]),
        });
    }
    Ok(release)
}

fn json_error(what: &'static str, e: serde_json::Error) -> IngestError {
    IngestError::InvalidResponse {
        what,
        detail: e.to_string(),
    }
}

/// Parses one release object in `kind`'s shape. `None` for drafts and upcoming releases.
pub fn parse_release(kind: ForgeKind, json: &[u8]) -> Result<Option<Release>, IngestError> {
    match kind {
        ForgeKind::GitHub | ForgeKind::Gitea => {
            from_github(serde_json::from_slice(json).map_err(|e| json_error("release", e))?)
        }
        ForgeKind::GitLab => {
            from_gitlab(serde_json::from_slice(json).map_err(|e| json_error("release", e))?)
        }
    }
}

/// Parses a page of releases in `kind`'s shape; drafts are left out. Also answers the
/// number of entries on the page (drafts included), for pagination.
pub fn parse_release_list(
    kind: ForgeKind,
    json: &[u8],
) -> Result<(Vec<Release>, usize), IngestError> {
    let parsed: Vec<Option<Release>> = match kind {
        ForgeKind::GitHub | ForgeKind::Gitea => {
            let list: Vec<GitHubRelease> =
                serde_json::from_slice(json).map_err(|e| json_error("release list", e))?;
            list.into_iter()
                .map(from_github)
                .collect::<Result<_, _>>()?
        }
        ForgeKind::GitLab => {
            let list: Vec<GitLabRelease> =
                serde_json::from_slice(json).map_err(|e| json_error("release list", e))?;
            list.into_iter()
                .map(from_gitlab)
                .collect::<Result<_, _>>()?
        }
    };
    let count = parsed.len();
    Ok((parsed.into_iter().flatten().collect(), count))
}

impl Fetcher {
    fn releases_url(&self, repo: &RepoRef) -> Result<Url, IngestError> {
        let c = self.config();
        match c.kind {
            ForgeKind::GitHub | ForgeKind::Gitea => {
                c.api_url(&["repos", repo.owner(), repo.name(), "releases"])
            }
            ForgeKind::GitLab => c.api_url(&["projects", &repo.to_string(), "releases"]),
        }
    }

    /// Every published release of `repo`, newest first as the forge orders them, up to
    /// `limits.max_pages` pages.
    pub async fn list_releases(&self, repo: &RepoRef) -> Result<Vec<Release>, IngestError> {
        let kind = self.config().kind;
        // Gitea caps pages at 50 by default; GitHub and GitLab allow 100.
        let per_page: usize = if kind == ForgeKind::Gitea { 50 } else { 100 };
        let size_param = if kind == ForgeKind::Gitea {
            "limit"
        } else {
            "per_page"
        };
        let mut out = Vec::new();
        for page in 1..=self.config().limits.max_pages {
            let mut url = self.releases_url(repo)?;
            url.query_pairs_mut()
                .append_pair(size_param, &per_page.to_string())
                .append_pair("page", &page.to_string());
            let body = self.get_json_bytes(url, true).await?.ok_or_else(|| {
                IngestError::ReleaseNotFound {
                    repo: repo.to_string(),
                    tag: "*".into(),
                }
            })?;
            let (releases, count) = parse_release_list(kind, &body)?;
            out.extend(releases);
            if count < per_page {
                break;
            }
        }
        Ok(out)
    }

    /// The published release tagged `tag`.
    pub async fn release(&self, repo: &RepoRef, tag: &str) -> Result<Release, IngestError> {
        check_name("tag", tag)?;
        let c = self.config();
        let url = match c.kind {
            ForgeKind::GitHub | ForgeKind::Gitea => {
                c.api_url(&["repos", repo.owner(), repo.name(), "releases", "tags", tag])?
            }
            ForgeKind::GitLab => c.api_url(&["projects", &repo.to_string(), "releases", tag])?,
        };
        let not_found = || IngestError::ReleaseNotFound {
            repo: repo.to_string(),
            tag: tag.to_owned(),
        };
        let body = self
            .get_json_bytes(url, true)
            .await?
            .ok_or_else(not_found)?;
        let release = parse_release(c.kind, &body)?.ok_or_else(not_found)?;
        if release.tag != tag {
            return Err(IngestError::InvalidResponse {
                what: "release",
                detail: format!("asked for tag {tag:?}, found {:?}", release.tag),
            });
        }
        Ok(release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_shape_with_digest_and_draft() {
        let json = br#"[
          {"id": 7, "tag_name": "v1.0.0", "name": "One", "draft": false, "prerelease": false,
           "published_at": "2025-01-02T03:04:05Z",
           "assets": [{"id": 1, "name": "a.tar.gz", "size": 12,
             "browser_download_url": "https://github.com/o/r/releases/download/v1.0.0/a.tar.gz",
             "digest": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]},
          {"id": 8, "tag_name": "v2-draft", "name": "", "draft": true, "prerelease": false,
           "published_at": null, "assets": []}
        ]"#;
        let (list, count) = parse_release_list(ForgeKind::GitHub, json).unwrap();
        assert_eq!(count, 2);
        assert_eq!(list.len(), 1);
        let a = &list[0].assets[0];
        assert_eq!(a.size_claimed, Some(12));
        assert_eq!(a.sha256_claimed.unwrap()[0], 0xba);
        assert_eq!(list[0].forge_id, "7");
    }

    #[test]
    fn gitlab_shape() {
        let json = br#"{"tag_name": "v1", "name": "v1", "released_at": "2025-01-02T03:04:05Z",
          "assets": {"count": 2, "sources": [{"format": "zip", "url": "https://x/y.zip"}],
            "links": [{"id": 1, "name": "bin", "url": "https://gitlab.example/l",
                       "direct_asset_url": "https://gitlab.example/-/releases/v1/downloads/bin",
                       "link_type": "other"}]}}"#;
        let r = parse_release(ForgeKind::GitLab, json).unwrap().unwrap();
        assert_eq!(r.forge_id, "v1");
        assert_eq!(r.assets.len(), 1);
        assert_eq!(
            r.assets[0].download_url.as_str(),
            "https://gitlab.example/-/releases/v1/downloads/bin"
        );
        assert_eq!(r.assets[0].size_claimed, None);
    }

    #[test]
    fn bad_listings_are_refused() {
        let dup = br#"[{"id": 1, "tag_name": "v1", "assets": [
            {"name": "a", "size": 1, "browser_download_url": "https://h/a"},
            {"name": "a", "size": 2, "browser_download_url": "https://h/b"}]}]"#;
        let e = parse_release_list(ForgeKind::Gitea, dup).unwrap_err();
        assert_eq!(e.code(), "INGEST_E011");
        let ctl = br#"{"id": 1, "tag_name": "v1", "assets": [
            {"name": "a\u0000b", "size": 1, "browser_download_url": "https://h/a"}]}"#;
        assert_eq!(
            parse_release(ForgeKind::GitHub, ctl).unwrap_err().code(),
            "INGEST_E011"
        );
        let neg = br#"{"id": 1, "tag_name": "v1", "assets": [
            {"name": "a", "size": -1, "browser_download_url": "https://h/a"}]}"#;
        assert_eq!(
            parse_release(ForgeKind::GitHub, neg).unwrap_err().code(),
            "INGEST_E011"
        );
        assert_eq!(
            parse_release(ForgeKind::GitHub, b"{").unwrap_err().code(),
            "INGEST_E011"
        );
    }
}
