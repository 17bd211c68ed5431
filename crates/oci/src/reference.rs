//! Image references as docker and cosign write them: `[REGISTRY/]REPO[:TAG][@sha256:HEX]`,
//! Docker Hub's defaults included, and which scheme a registry is reached with.

use crate::OciError;

/// One parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry host (and port) as written, e.g. `127.0.0.1:5000` or `ghcr.io`.
    pub registry: String,
    /// The repository path, e.g. `library/alpine`.
    pub repository: String,
    /// The tag, when one was given.
    pub tag: Option<String>,
    /// `sha256:<64 hex>`, when the reference names a digest.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `REF`. A digest must be `sha256:` with 64 lowercase hex characters.
    pub fn parse(input: &str) -> Result<Self, OciError> {
        let bad = |why| OciError::BadReference {
            input: input.chars().take(200).collect(),
            why,
        };
        if input.is_empty() || input.len() > 512 || input.chars().any(|c| c.is_whitespace()) {
            return Err(bad("empty, over 512 bytes, or containing whitespace"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                check_digest(d)
                    .ok_or_else(|| bad("the digest is not sha256:<64 lowercase hex>"))?;
                (r, Some(d.to_owned()))
            }
            None => (input, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest.get(i..).unwrap_or("").contains('/') => (
                rest.get(..i).unwrap_or(""),
                rest.get(i + 1..).map(str::to_owned),
            ),
            _ => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                return Err(bad("the tag is not [A-Za-z0-9_.-]{1,128}"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), path.to_owned())
            }
            _ if name.contains('/') => ("docker.io".to_owned(), name.to_owned()),
            _ => ("docker.io".to_owned(), format!("library/{name}")),
        };
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
                    })
            });
        if !repo_ok || registry.is_empty() {
            return Err(bad("the repository is not lowercase path components"));
        }
        if tag.is_none() && digest.is_none() {
            return Ok(ImageRef {
                registry,
                repository,
                tag: Some("latest".into()),
                digest,
            });
        }
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host an API request goes to (Docker Hub's API lives on another name).
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// True when the registry is on the loopback interface.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => &self.registry,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The base URL of the registry API: plain http for a loopback registry or when
    /// `allow_insecure` (--allow-insecure-registry), https otherwise.
    pub fn base_url(&self, allow_insecure: bool) -> String {
        let scheme = if self.is_loopback() || allow_insecure {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", self.api_host())
    }

    /// `registry/repository` (what a subject name or a log line shows).
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The reference as written back (`name:tag` or `name@digest`).
    pub fn display(&self) -> String {
        match (&self.tag, &self.digest) {
            (_, Some(d)) => format!("{}@{d}", self.name()),
            (Some(t), None) => format!("{}:{t}", self.name()),
            (None, None) => self.name(),
        }
    }
}

/// The hex of `sha256:<64 lowercase hex>`, or `None` for anything else.
pub fn check_digest(d: &str) -> Option<&str> {
    let hex = d.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))).then_some(hex)
}

/// Refuses a URL the registry sent (token realm, redirect) that is plain http to a host
/// off loopback, unless `allow_insecure`.
pub fn check_scheme(url: &reqwest::Url, allow_insecure: bool) -> Result<(), OciError> {
    let host = url.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback || allow_insecure => Ok(()),
        _ => Err(OciError::Insecure {
            registry: url.host_str().unwrap_or("").to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_like_docker() {
        let r = ImageRef::parse("alpine").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("docker.io", "library/alpine", Some("latest"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("127.0.0.1:5000/org/app:v1@{d}")).unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "org/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert!(r.is_loopback());
        let r = ImageRef::parse("ghcr.io/kubewarden/controller:v1.34.0").unwrap();
        assert!(!r.is_loopback());
        assert_eq!(r.base_url(false), "https://ghcr.io");
        assert_eq!(r.base_url(true), "http://ghcr.io");
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert!(check_scheme(&url("http://127.0.0.1:5000/token"), false).is_ok());
        assert!(check_scheme(&url("http://[::1]/token"), false).is_ok());
        assert!(check_scheme(&url("https://auth.example/token"), false).is_ok());
        let off_loopback = check_scheme(&url("http://auth.example/token"), false);
        assert_eq!(off_loopback.unwrap_err().code(), "OCI_E008");
        assert!(check_scheme(&url("http://auth.example/token"), true).is_ok());
        assert!(check_scheme(&url("ftp://127.0.0.1/x"), true).is_err());
        for bad in ["", "UPPER/case", "a@sha256:12", "a:b c", "a:", "x/@sha256:"] {
            assert_eq!(
                ImageRef::parse(bad).unwrap_err().code(),
                "OCI_E001",
                "{bad}"
            );
        }
    }
}
