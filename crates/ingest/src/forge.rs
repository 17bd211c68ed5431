//! What a forge is: its kind, API base URL, optional token, allowed hosts and limits,
//! and the repository references and endpoint URLs built from them.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;
use zeroize::Zeroizing;

use crate::error::IngestError;
use crate::guard::NetPolicy;

/// The forge families whose release APIs are understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForgeKind {
    /// GitHub or GitHub Enterprise Server (`/repos/{owner}/{repo}/releases`).
    GitHub,
    /// Gitea or Forgejo (`/api/v1/repos/{owner}/{repo}/releases`).
    Gitea,
    /// GitLab (`/api/v4/projects/{id}/releases`, assets as links).
    GitLab,
}

impl ForgeKind {
    /// A stable lowercase name (`github`, `gitea`, `gitlab`).
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::GitHub => "github",
            ForgeKind::Gitea => "gitea",
            ForgeKind::GitLab => "gitlab",
        }
    }

    /// Parses `github`, `gitea`, `forgejo` (same API as Gitea) or `gitlab`.
    pub fn parse(s: &str) -> Result<Self, IngestError> {
        match s.to_ascii_lowercase().as_str() {
            "github" => Ok(ForgeKind::GitHub),
            "gitea" | "forgejo" => Ok(ForgeKind::Gitea),
            "gitlab" => Ok(ForgeKind::GitLab),
            _ => Err(IngestError::Config {
                detail: format!(
                    "unknown forge kind {s:?}: expected github, gitea, forgejo or gitlab"
                ),
            }),
        }
    }
}

impl std::fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret string (API token, webhook secret): zeroed on drop, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret's value; keep its uses few and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Size caps, timeouts and bounds for every request to a forge.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest JSON response read, in bytes (default 4 MiB).
    pub json_cap_bytes: u64,
    /// TCP and TLS connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response (default 30 s).
    pub read_timeout: Duration,
    /// Whole-request deadline for JSON requests (default 60 s). Asset downloads have no
    /// whole-request deadline (a 16 GiB asset takes a while) but keep the read timeout.
    pub json_timeout: Duration,
    /// Redirects followed per request (default 3); each hop is re-checked.
    pub max_redirects: usize,
    /// Pages fetched when listing releases (default 10).
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            json_cap_bytes: 4 << 20,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            json_timeout: Duration::from_secs(60),
            max_redirects: 3,
            max_pages: 10,
        }
    }
}

/// One configured forge.
#[derive(Debug, Clone)]
pub struct ForgeConfig {
    /// Which API family.
    pub kind: ForgeKind,
    /// API base: `https://api.github.com`, `https://codeberg.org`, `https://gitlab.com`
    /// (the `/api/v1` and `/api/v4` prefixes are added for Gitea and GitLab).
    pub api_base: Url,
    /// API token, sent only to the API base's origin (never on a hop to another host).
    pub token: Option<Secret>,
    /// Hosts requests may go to: the API host, plus download hosts (see [`ForgeConfig::new`]).
    pub allowed_hosts: Vec<String>,
    /// Allows loopback and private addresses (test servers only).
    pub allow_private_for_tests: bool,
    /// Single addresses exempt from the range checks (an internal forge).
    pub exempt_addrs: Vec<IpAddr>,
    /// Allows plain http (tests, internal forges); https is never downgraded.
    pub allow_http: bool,
    /// Caps and timeouts.
    pub limits: Limits,
}

impl ForgeConfig {
    /// A configuration with the API host allowed and, for github.com, the hosts its
    /// release downloads redirect to.
    pub fn new(kind: ForgeKind, api_base: Url) -> Result<Self, IngestError> {
        let host = api_base
            .host_str()
            .ok_or_else(|| IngestError::Config {
                detail: format!("api base {api_base} has no host"),
            })?
            .to_ascii_lowercase();
        let mut allowed_hosts = vec![host.clone()];
        if kind == ForgeKind::GitHub && host == "api.github.com" {
            allowed_hosts.extend(
                [
                    "github.com",
                    "objects.githubusercontent.com",
                    "release-assets.githubusercontent.com",
                ]
                .map(String::from),
            );
        }
        Ok(Self {
            kind,
            api_base,
            token: None,
            allowed_hosts,
            allow_private_for_tests: false,
            exempt_addrs: Vec::new(),
            allow_http: false,
            limits: Limits::default(),
        })
    }

    /// github.com's public API.
    pub fn github() -> Self {
        // The literal parses; `new` only fails for a URL without a host.
        let url = Url::parse("https://api.github.com").expect("static URL");
        Self::new(ForgeKind::GitHub, url).expect("static URL has a host")
    }

    pub(crate) fn net_policy(&self) -> NetPolicy {
        NetPolicy {
            allowed_hosts: self
                .allowed_hosts
                .iter()
                .map(|h| {
                    h.trim_matches(|c| c == '[' || c == ']')
                        .to_ascii_lowercase()
                })
                .collect(),
            allow_private_for_tests: self.allow_private_for_tests,
            exempt_addrs: self.exempt_addrs.clone(),
            allow_http: self.allow_http,
        }
    }

    /// Builds an API URL from path segments (each percent-encoded as one segment).
    pub(crate) fn api_url(&self, segments: &[&str]) -> Result<Url, IngestError> {
        let mut url = self.api_base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| IngestError::Config {
                detail: format!("api base {} cannot have a path", self.api_base),
            })?;
            path.pop_if_empty();
            match self.kind {
                ForgeKind::GitHub => {}
                ForgeKind::Gitea => {
                    path.extend(["api", "v1"]);
                }
                ForgeKind::GitLab => {
                    path.extend(["api", "v4"]);
                }
            }
            path.extend(segments);
        }
        Ok(url)
    }
}

/// A repository on a forge: `owner/name` (GitLab: `group/subgroup/project`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoRef {
    owner: String,
    name: String,
}

impl RepoRef {
    /// Parses `owner/name`; GitLab paths may have more segments (the last is the name).
    pub fn parse(full: &str) -> Result<Self, IngestError> {
        let (owner, name) = full.rsplit_once('/').ok_or_else(|| invalid(full))?;
        Self::new(owner, name)
    }

    /// A reference from its parts.
    pub fn new(owner: &str, name: &str) -> Result<Self, IngestError> {
        let full = format!("{owner}/{name}");
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if full.len() > 255 || !segment_ok(name) || !owner.split('/').all(segment_ok) {
            return Err(invalid(&full));
        }
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The owner (GitLab: the namespace path).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The repository name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the same repository, compared case-insensitively (forges treat
    /// owner and repository names case-insensitively).
    pub fn same_as(&self, other: &RepoRef) -> bool {
        self.owner.eq_ignore_ascii_case(&other.owner) && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl std::fmt::Display for RepoRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

fn invalid(found: &str) -> IngestError {
    IngestError::InvalidRepo {
        expected: "owner/name of letters, digits, '-', '_' and '.' (GitLab: group/…/project)",
        found: found.chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_refs() {
        let r = RepoRef::parse("acme/widget").unwrap();
        assert_eq!((r.owner(), r.name()), ("acme", "widget"));
        let r = RepoRef::parse("group/sub/project").unwrap();
        assert_eq!((r.owner(), r.name()), ("group/sub", "project"));
        for bad in [
            "acme", "acme/", "/w", "a/../b", "a/b c", "a/b?x", "a//b", "a/..",
        ] {
            assert_eq!(
                RepoRef::parse(bad).unwrap_err().code(),
                "INGEST_E002",
                "{bad}"
            );
        }
        assert!(RepoRef::parse("Acme/Widget")
            .unwrap()
            .same_as(&RepoRef::parse("acme/widget").unwrap()));
    }

    #[test]
    fn api_urls_encode_segments() {
        let c = ForgeConfig::new(
            ForgeKind::GitLab,
            Url::parse("https://gitlab.example/").unwrap(),
        )
        .unwrap();
        let u = c
            .api_url(&["projects", "group/sub/project", "releases"])
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://gitlab.example/api/v4/projects/group%2Fsub%2Fproject/releases"
        );
        let c = ForgeConfig::github();
        assert!(c
            .allowed_hosts
            .contains(&"objects.githubusercontent.com".to_owned()));
        let u = c
            .api_url(&["repos", "o", "r", "releases", "tags", "v1/../x"])
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://api.github.com/repos/o/r/releases/tags/v1%2F..%2Fx"
        );
    }
}
