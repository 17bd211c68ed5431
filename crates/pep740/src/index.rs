//! Finding a distribution's provenance through a PyPI-shaped index: the PEP 691 JSON
//! simple page of its project lists the file with a PEP 740 `provenance` URL; an index
//! that lists none is asked through the Integrity API
//! (`GET /integrity/<project>/<version>/<file>/provenance`). Every answer is read under a
//! size cap and every request has a timeout.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::Url;
use serde_json::Value;

use crate::dist::Dist;
use crate::error::Pep740Error;
use crate::model::{Provenance, MAX_OBJECT_BYTES};

/// PEP 691's JSON media type, version 1.
pub const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";
/// The Integrity API's provenance media type.
const INTEGRITY_JSON: &str = "application/vnd.pypi.integrity.v1+json";
const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the provenance was found, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The provenance.
    pub provenance: Provenance,
    /// The URL it was read from.
    pub url: String,
}

/// An index client: the index root (`https://pypi.org`, or its `/simple/` URL) and the
/// HTTP client (trusting `tls_ca` besides the platform roots).
pub struct Index {
    root: Url,
    client: Client,
}

impl Index {
    /// Prepares requests to the index at `url`.
    pub fn new(url: &str, tls_ca: Option<&Path>) -> Result<Self, Pep740Error> {
        let fail = |detail: String| Pep740Error::Index {
            url: url.to_owned(),
            detail,
        };
        let trimmed = url.trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/simple").unwrap_or(trimmed);
        let root = Url::parse(&format!("{trimmed}/")).map_err(|e| fail(e.to_string()))?;
        if !matches!(root.scheme(), "http" | "https") {
            return Err(fail(format!(
                "expected an http or https URL, found scheme {:?}",
                root.scheme()
            )));
        }
        let mut builder = Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = tls_ca {
            let pem = std::fs::read(path).map_err(|e| Pep740Error::Read {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| fail(format!("{}: not a PEM certificate: {e}", path.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|e| fail(e.to_string()))?;
        Ok(Self { root, client })
    }

    /// The provenance of `dist` as this index serves it.
    pub fn provenance(&self, dist: &Dist) -> Result<Found, Pep740Error> {
        let project = dist.project();
        let page = self.join(&format!("simple/{project}/"))?;
        let listed = match self.get(&page, SIMPLE_JSON)? {
            Some(body) => provenance_url(&page, &body, dist.name())?,
            None => None,
        };
        let url = match listed {
            Some(url) => url,
            None => self.join(&format!(
                "integrity/{project}/{}/{}/provenance",
                dist.version(),
                dist.name()
            ))?,
        };
        let body = self
            .get(&url, INTEGRITY_JSON)?
            .ok_or_else(|| Pep740Error::NoProvenance {
                name: dist.name().to_owned(),
                detail: format!("{url} answered 404"),
            })?;
        let provenance = Provenance::from_json(&body)?;
        Ok(Found {
            provenance,
            url: url.to_string(),
        })
    }

    fn join(&self, path: &str) -> Result<Url, Pep740Error> {
        self.root.join(path).map_err(|e| Pep740Error::Index {
            url: self.root.to_string(),
            detail: format!("{path}: {e}"),
        })
    }

    /// GET under the size cap; `None` on 404.
    fn get(&self, url: &Url, accept: &str) -> Result<Option<Vec<u8>>, Pep740Error> {
        let fail = |detail: String| Pep740Error::Index {
            url: url.to_string(),
            detail,
        };
        let resp = self
            .client
            .get(url.clone())
            .header("Accept", accept)
            .send()
            .map_err(|e| fail(error_chain(&e)))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(fail(format!("the index answered {status}")));
        }
        let cap = MAX_OBJECT_BYTES as u64;
        let mut body = Vec::new();
        resp.take(cap + 1)
            .read_to_end(&mut body)
            .map_err(|e| fail(error_chain(&e)))?;
        if body.len() as u64 > cap {
            return Err(fail(format!("the answer is over {cap} bytes")));
        }
        Ok(Some(body))
    }
}

/// The file's `provenance` URL on a PEP 691 project page, resolved against the page.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json Value reads answer Null when absent"
)]
fn provenance_url(page: &Url, body: &[u8], file: &str) -> Result<Option<Url>, Pep740Error> {
    let answer = |detail: String| Pep740Error::IndexAnswer {
        url: page.to_string(),
        detail,
    };
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| answer(format!("not PEP 691 JSON: {e}")))?;
    let files = doc["files"]
        .as_array()
        .ok_or_else(|| answer("expected a \"files\" array".into()))?;
    let Some(entry) = files.iter().find(|f| f["filename"].as_str() == Some(file)) else {
        return Err(Pep740Error::NoProvenance {
            name: file.to_owned(),
            detail: format!("{page} does not list the file"),
        });
    };
    match &entry["provenance"] {
        Value::String(url) => page
            .join(url)
            .map(Some)
            .map_err(|e| answer(format!("provenance URL {url:?}: {e}"))),
        Value::Null => Ok(None),
        other => Err(answer(format!(
            "expected the provenance as a URL or null, found {other}"
        ))),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
