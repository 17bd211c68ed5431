//! The OCI distribution client: manifests, blobs, referrers and uploads for one
//! repository, with the anonymous (or credentialed) bearer-token flow, a size cap on
//! every answer, every digest recomputed from the bytes, redirects followed only for
//! blob downloads, and a count of the HTTP requests made.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::credentials::Credentials;
use crate::reference::{check_scheme, ImageRef};
use crate::OciError;

/// Cap on one manifest or index (the distribution spec lets registries refuse over 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Cap on one signature blob (a bundle, a simple-signing payload, a DSSE envelope).
pub const MAX_SIGNATURE_BLOB_BYTES: usize = 16 * 1024 * 1024;
/// Cap on a token endpoint's answer.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Redirects followed for one blob download.
const MAX_REDIRECTS: usize = 3;

/// Media types asked for when reading a manifest.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// A manifest as fetched: its bytes, the media type it declares, and the digest
/// computed from the bytes.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
    pub json: serde_json::Value,
}

/// A client for one repository of one registry.
pub struct Client {
    http: reqwest::Client,
    base: String,
    registry: String,
    repository: String,
    push: bool,
    allow_insecure: bool,
    credentials: Option<Credentials>,
    /// The Authorization header value once a challenge was answered.
    authorization: Mutex<Option<String>>,
    requests: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("repository", &self.repository)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `image`'s repository; `push` asks for push scope in token requests.
    pub fn new(image: &ImageRef, allow_insecure: bool, push: bool) -> Result<Self, OciError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OciError::Local {
                what: "http client".into(),
                detail: e.to_string(),
            })?;
        Ok(Client {
            http,
            base: image.base_url(allow_insecure),
            registry: image.registry.clone(),
            repository: image.repository.clone(),
            push,
            allow_insecure,
            credentials: Credentials::lookup(&image.registry)?,
            authorization: Mutex::new(None),
            requests: AtomicU64::new(0),
        })
    }

    /// HTTP requests made so far (token requests and redirects included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repository)
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> OciError {
        OciError::Unreachable {
            registry: self.registry.clone(),
            detail: e.to_string(),
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        auth: bool,
    ) -> Result<reqwest::Response, OciError> {
        let mut req = self
            .http
            .request(method.clone(), url)
            .headers(headers.clone());
        if auth {
            let value = self
                .authorization
                .lock()
                .map_err(|_| self.unreachable("authorization lock poisoned"))?
                .clone();
            if let Some(v) = value {
                req = req.header(AUTHORIZATION, v);
            }
        }
        if let Some(b) = body {
            req = req.body(b.to_vec());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        req.send().await.map_err(|e| self.unreachable(e))
    }

    /// Sends a request; on a 401 answers the challenge (Bearer: a token from the realm,
    /// anonymous or with credentials; Basic: the credentials) and sends it once more.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<&[u8]>,
    ) -> Result<reqwest::Response, OciError> {
        let resp = self.send_once(&method, url, &headers, body, true).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let value = self.answer(&challenge).await?;
        *self
            .authorization
            .lock()
            .map_err(|_| self.unreachable("authorization lock poisoned"))? = Some(value);
        let resp = self.send_once(&method, url, &headers, body, true).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(OciError::Auth {
                registry: self.registry.clone(),
                detail: "still 401 after answering the challenge".into(),
            });
        }
        Ok(resp)
    }

    async fn answer(&self, challenge: &str) -> Result<String, OciError> {
        let auth_err = |detail: String| OciError::Auth {
            registry: self.registry.clone(),
            detail,
        };
        let basic = self.credentials.as_ref().map(|c| {
            let raw = format!("{}:{}", c.username, c.password);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        });
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return basic.ok_or_else(|| {
                auth_err("the registry wants credentials (basic) and none are configured".into())
            });
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(auth_err(format!(
                "unsupported challenge {:?}",
                challenge.chars().take(100).collect::<String>()
            )));
        }
        let param = |name: &str| -> Option<String> { challenge_param(params, name) };
        let realm =
            param("realm").ok_or_else(|| auth_err("bearer challenge without realm".into()))?;
        let mut url = reqwest::Url::parse(&realm)
            .map_err(|e| auth_err(format!("realm {realm:?} is not a URL: {e}")))?;
        check_scheme(&url, self.allow_insecure)?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = param("service") {
                q.append_pair("service", &service);
            }
            let actions = if self.push { "pull,push" } else { "pull" };
            q.append_pair(
                "scope",
                &format!("repository:{}:{actions}", self.repository),
            );
        }
        let mut headers = HeaderMap::new();
        if let Some(b) = &basic {
            if let Ok(v) = b.parse() {
                headers.insert(AUTHORIZATION, v);
            }
        }
        let resp = self
            .send_once(&Method::GET, url.as_str(), &headers, None, false)
            .await?;
        if !resp.status().is_success() {
            return Err(auth_err(format!(
                "token endpoint answered HTTP {}",
                resp.status().as_u16()
            )));
        }
        let bytes = read_capped(resp, MAX_TOKEN_BYTES, "token answer").await?;
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| auth_err(format!("token answer is not JSON: {e}")))?;
        let token = doc
            .get("token")
            .or_else(|| doc.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| auth_err("token answer has no token".into()))?;
        Ok(format!("Bearer {token}"))
    }

    /// `GET /v2/<name>/<path>` asking for the media type `accept`.
    async fn get_accepting(
        &self,
        path: &str,
        accept: &'static str,
    ) -> Result<reqwest::Response, OciError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, reqwest::header::HeaderValue::from_static(accept));
        self.send(Method::GET, &self.url(path), headers, None).await
    }

    /// The manifest of `image` at `reference` (tag or digest), which must exist: a 404
    /// is refused (`OciError::Status`) naming the image.
    pub async fn image_manifest(
        &self,
        image: &ImageRef,
        reference: &str,
    ) -> Result<Manifest, OciError> {
        self.manifest(reference)
            .await?
            .ok_or_else(|| OciError::Status {
                what: format!("image {}", image.display()),
                expected: "200",
                found: 404,
            })
    }

    /// Fetches a manifest by tag or digest; `None` when the registry answers 404. The
    /// digest is computed from the bytes and, for a digest reference, must equal it.
    pub async fn manifest(&self, reference: &str) -> Result<Option<Manifest>, OciError> {
        let what = format!("manifest {}:{reference}", self.repository);
        let resp = self
            .get_accepting(&format!("manifests/{reference}"), MANIFEST_ACCEPT)
            .await?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_redirection() => {
                return Err(OciError::Redirect {
                    what,
                    detail: "manifests are read from the registry itself".into(),
                })
            }
            s => {
                return Err(OciError::Status {
                    what,
                    expected: "200 or 404",
                    found: s.as_u16(),
                })
            }
        }
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or("").trim().to_owned());
        let bytes = read_capped(resp, MAX_MANIFEST_BYTES, &what).await?;
        let digest = sha256_digest(&bytes);
        if reference.starts_with("sha256:") && digest != reference {
            return Err(OciError::DigestMismatch {
                what,
                expected: reference.to_owned(),
                found: digest,
            });
        }
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| OciError::malformed(&what, e))?;
        let media_type = json
            .get("mediaType")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .or(header_type)
            .unwrap_or_default();
        Ok(Some(Manifest {
            bytes,
            media_type,
            digest,
            json,
        }))
    }

    /// The referrers list of `digest` through `GET /v2/<name>/referrers/<digest>`; `None`
    /// when the registry has no referrers API (404), so the caller falls back to the
    /// `sha256-<hex>` tag.
    pub async fn referrers(&self, digest: &str) -> Result<Option<serde_json::Value>, OciError> {
        let what = format!("referrers of {digest}");
        let resp = self
            .get_accepting(
                &format!("referrers/{digest}"),
                "application/vnd.oci.image.index.v1+json",
            )
            .await?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => return Ok(None),
            s => {
                return Err(OciError::Status {
                    what,
                    expected: "200 or 404",
                    found: s.as_u16(),
                })
            }
        }
        let bytes = read_capped(resp, MAX_MANIFEST_BYTES, &what).await?;
        let json = serde_json::from_slice(&bytes).map_err(|e| OciError::malformed(&what, e))?;
        Ok(Some(json))
    }

    /// Downloads a blob, following at most three redirects (each URL's scheme checked),
    /// and checks that the bytes hash to `digest`.
    pub async fn blob(&self, digest: &str, cap: usize) -> Result<Vec<u8>, OciError> {
        let what = format!("blob {digest}");
        let mut url = self.url(&format!("blobs/{digest}"));
        let mut resp = self.send(Method::GET, &url, HeaderMap::new(), None).await?;
        let mut hops = 0;
        while resp.status().is_redirection() {
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(OciError::Redirect {
                    what,
                    detail: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| OciError::Redirect {
                    what: what.clone(),
                    detail: "redirect without Location".into(),
                })?;
            let next = reqwest::Url::parse(&url)
                .and_then(|base| base.join(location))
                .map_err(|e| OciError::Redirect {
                    what: what.clone(),
                    detail: format!("bad Location: {e}"),
                })?;
            check_scheme(&next, self.allow_insecure)?;
            url = next.to_string();
            // The registry's token is not sent to wherever the blob is stored.
            resp = self
                .send_once(&Method::GET, &url, &HeaderMap::new(), None, false)
                .await?;
        }
        if resp.status() != StatusCode::OK {
            return Err(OciError::Status {
                what,
                expected: "200",
                found: resp.status().as_u16(),
            });
        }
        let bytes = read_capped(resp, cap, &what).await?;
        let found = sha256_digest(&bytes);
        if found != digest {
            return Err(OciError::DigestMismatch {
                what,
                expected: digest.to_owned(),
                found,
            });
        }
        Ok(bytes)
    }

    /// Uploads a blob (monolithic POST then PUT) unless the registry has it; returns its
    /// digest.
    pub async fn push_blob(&self, bytes: &[u8]) -> Result<String, OciError> {
        let digest = sha256_digest(bytes);
        let what = format!("blob {digest}");
        let head = self
            .send(
                Method::HEAD,
                &self.url(&format!("blobs/{digest}")),
                HeaderMap::new(),
                None,
            )
            .await?;
        if head.status() == StatusCode::OK {
            return Ok(digest);
        }
        let start = self
            .send(
                Method::POST,
                &self.url("blobs/uploads/"),
                HeaderMap::new(),
                None,
            )
            .await?;
        if start.status() != StatusCode::ACCEPTED {
            return Err(refused(&what, start).await);
        }
        let location = start
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| OciError::malformed(&what, "upload started without a Location"))?;
        let mut upload = reqwest::Url::parse(&self.base)
            .and_then(|b| b.join(location))
            .map_err(|e| OciError::malformed(&what, e))?;
        check_scheme(&upload, self.allow_insecure)?;
        upload.query_pairs_mut().append_pair("digest", &digest);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/octet-stream"),
        );
        let put = self
            .send(Method::PUT, upload.as_str(), headers, Some(bytes))
            .await?;
        if put.status() != StatusCode::CREATED {
            return Err(refused(&what, put).await);
        }
        Ok(digest)
    }

    /// Uploads a manifest under `reference` (a tag or its digest); returns its digest and
    /// whether the registry answered `OCI-Subject` (it indexes referrers itself).
    pub async fn push_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(String, bool), OciError> {
        let digest = sha256_digest(bytes);
        let what = format!("manifest {}:{reference}", self.repository);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            media_type
                .parse()
                .map_err(|_| OciError::malformed(&what, "media type is not a header value"))?,
        );
        let resp = self
            .send(
                Method::PUT,
                &self.url(&format!("manifests/{reference}")),
                headers,
                Some(bytes),
            )
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(refused(&what, resp).await);
        }
        let subject = resp.headers().contains_key("oci-subject");
        Ok((digest, subject))
    }
}

async fn refused(what: &str, resp: reqwest::Response) -> OciError {
    let status = resp.status().as_u16();
    let detail = read_capped(resp, 4096, what)
        .await
        .map(|b| String::from_utf8_lossy(&b).chars().take(300).collect())
        .unwrap_or_default();
    OciError::PushRefused {
        what: what.to_owned(),
        status,
        detail,
    }
}

/// Reads a body, refusing it as soon as it passes `cap` bytes.
async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
    what: &str,
) -> Result<Vec<u8>, OciError> {
    let too_large = || OciError::TooLarge {
        what: what.to_owned(),
        cap,
    };
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| OciError::Unreachable {
        registry: resp.url().host_str().unwrap_or("").to_owned(),
        detail: e.to_string(),
    })? {
        if out.len() + chunk.len() > cap {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// One `name="value"` parameter of a WWW-Authenticate challenge.
fn challenge_param(params: &str, name: &str) -> Option<String> {
    let mut rest = params;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        let (key, after) = rest.split_once('=')?;
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => {
                let end = q.find('"')?;
                (q.get(..end)?, q.get(end + 1..)?)
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (after.get(..end)?, after.get(end..)?)
            }
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(value.to_owned());
        }
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let p = r#"realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#;
        assert_eq!(
            challenge_param(p, "realm").unwrap(),
            "https://ghcr.io/token"
        );
        assert_eq!(challenge_param(p, "service").unwrap(), "ghcr.io");
        assert_eq!(challenge_param(p, "scope").unwrap(), "repository:a/b:pull");
        assert_eq!(
            challenge_param("realm=x,service=y", "service").unwrap(),
            "y"
        );
        assert!(challenge_param(p, "missing").is_none());
    }
}
