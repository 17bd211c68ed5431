//! The simple repository API: `/simple/` and `/simple/<project>/` as PEP 691 JSON or PEP 503 HTML (api-version 1.3), files and their PEP 658 metadata by digest, and PEP 740 provenance.
//!
//! File URLs name the file's BLAKE3 (`/files/<blake3>/<filename>`), so a URL always
//! means the same bytes and answers are immutable; a file is served only through its
//! committed row (a blob a refused or crashed upload left behind is never reachable).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};
use vouch_store::meta::PyFile;

use super::error::not_found;
use super::{names, API_VERSION, HTML_MEDIA_TYPE, JSON_MEDIA_TYPE};
use crate::{ApiError, AppState};

/// Which form the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

/// PEP 691 content negotiation: the highest `q` among the forms this index serves;
/// `text/html` and `*/*` mean HTML; no `Accept` (or nothing acceptable) is HTML too.
pub fn negotiate(headers: &HeaderMap) -> Format {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Format::Html;
    };
    let mut best: Option<(f32, Format)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match media.as_str() {
            JSON_MEDIA_TYPE | "application/vnd.pypi.simple.latest+json" => Format::Json,
            HTML_MEDIA_TYPE | "application/vnd.pypi.simple.latest+html" | "text/html" | "*/*" => {
                Format::Html
            }
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, format));
        }
    }
    best.map_or(Format::Html, |(_, f)| f)
}

/// A simple page rendered in both forms, kept in the per-node page cache
/// ([`super::PyIndex::pages`]) for [`super::PAGE_CACHE_TTL`].
#[derive(Debug)]
pub struct Page {
    json: bytes::Bytes,
    html: bytes::Bytes,
}

impl Page {
    fn new(json_body: &Value, html: String) -> Self {
        Page {
            json: json_body.to_string().into(),
            html: html.into(),
        }
    }
}

/// The cache key of `GET /simple/` (no project name can be empty).
const ROOT_KEY: &str = "";

fn answer(format: Format, page: &Page) -> Response {
    let (ct, body) = match format {
        Format::Json => (JSON_MEDIA_TYPE, page.json.clone()),
        Format::Html => (HTML_MEDIA_TYPE, page.html.clone()),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
            (header::VARY, HeaderValue::from_static("Accept")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=60"),
            ),
        ],
        body,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    crate::web::html::escape_with(s, "&#x27;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n<title>{}</title>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// `GET /simple`.
pub async fn root_redirect() -> Redirect {
    Redirect::permanent("/simple/")
}

/// `GET /simple/`: every project with files.
pub async fn root(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = negotiate(&headers);
    if let Some(hit) = app.pypi.pages.get(ROOT_KEY) {
        return Ok(answer(format, &hit));
    }
    let packages = app
        .meta
        .pypi_projects()
        .await
        .map_err(crate::packages::codes::meta)?;
    let projects: Vec<&str> = packages
        .iter()
        .filter_map(|p| names::project_of(p))
        .collect();
    let json_body = json!({
        "meta": { "api-version": API_VERSION },
        "projects": projects.iter().map(|p| json!({ "name": p })).collect::<Vec<_>>(),
    });
    let mut links = String::new();
    for p in &projects {
        let _ = writeln!(links, "<a href=\"/simple/{0}/\">{0}</a><br>", escape(p));
    }
    let rendered = Arc::new(Page::new(&json_body, page("Simple index", &links)));
    app.pypi
        .pages
        .insert(ROOT_KEY.to_owned(), Arc::clone(&rendered));
    Ok(answer(format, &rendered))
}

/// `GET /simple/<project>`: to the normalised name with its slash.
pub async fn project_redirect(Path(project): Path<String>) -> Result<Redirect, ApiError> {
    if !names::valid(&project) {
        return Err(not_found(format!("project {project:?}")));
    }
    Ok(Redirect::permanent(&format!(
        "/simple/{}/",
        names::normalize(&project)
    )))
}

/// A file's URL: by its BLAKE3, so the URL means these bytes forever.
fn file_url(app: &AppState, f: &PyFile) -> String {
    format!(
        "{}/files/{}/{}",
        app.public_url,
        hex::encode(f.dist.blake3),
        f.dist.filename
    )
}

fn provenance_url(app: &AppState, project: &str, f: &PyFile) -> Option<String> {
    f.provenance_blake3.map(|_| {
        format!(
            "{}/integrity/{project}/{}/{}/provenance",
            app.public_url, f.dist.version, f.dist.filename
        )
    })
}

fn upload_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// `GET /simple/<project>/`: the project's files (a non-normalised name redirects).
pub async fn project(
    State(app): State<Arc<AppState>>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !names::valid(&project) {
        return Err(not_found(format!("project {project:?}")));
    }
    let norm = names::normalize(&project);
    if norm != project {
        return Ok(Redirect::permanent(&format!("/simple/{norm}/")).into_response());
    }
    let format = negotiate(&headers);
    if let Some(hit) = app.pypi.pages.get(&norm) {
        return Ok(answer(format, &hit));
    }
    let files = app
        .meta
        .pypi_files(&names::package_of(&norm))
        .await
        .map_err(crate::packages::codes::meta)?;
    if files.is_empty() {
        return Err(not_found(format!("project {norm}")));
    }
    let mut versions: Vec<&str> = Vec::new();
    let mut json_files = Vec::with_capacity(files.len());
    let mut links = String::new();
    for f in &files {
        if !versions.contains(&f.dist.version.as_str()) {
            versions.push(&f.dist.version);
        }
        let url = file_url(&app, f);
        let sha = hex::encode(f.dist.sha256);
        let yanked = match &f.yanked {
            Some(reason) if !reason.is_empty() => Value::String(reason.clone()),
            Some(_) => Value::Bool(true),
            None => Value::Bool(false),
        };
        let core = match f.metadata_sha256 {
            Some(m) => json!({ "sha256": hex::encode(m) }),
            None => Value::Bool(false),
        };
        let provenance = provenance_url(&app, &norm, f);
        json_files.push(json!({
            "filename": f.dist.filename,
            "url": url,
            "hashes": { "sha256": sha },
            "requires-python": f.dist.requires_python,
            "size": f.dist.size,
            "upload-time": upload_time(f.uploaded_at.0),
            "yanked": yanked,
            "core-metadata": core,
            "data-dist-info-metadata": core,
            "provenance": provenance,
        }));
        let mut attrs = String::new();
        if let Some(rp) = &f.dist.requires_python {
            let _ = write!(attrs, " data-requires-python=\"{}\"", escape(rp));
        }
        if let Some(m) = f.metadata_sha256 {
            let m = hex::encode(m);
            let _ = write!(
                attrs,
                " data-dist-info-metadata=\"sha256={m}\" data-core-metadata=\"sha256={m}\""
            );
        }
        if let Some(reason) = &f.yanked {
            let _ = write!(attrs, " data-yanked=\"{}\"", escape(reason));
        }
        if let Some(p) = &provenance {
            let _ = write!(attrs, " data-provenance=\"{}\"", escape(p));
        }
        let _ = writeln!(
            links,
            "<a href=\"{}#sha256={sha}\"{attrs}>{}</a><br>",
            escape(&url),
            escape(&f.dist.filename)
        );
    }
    let json_body = json!({
        "meta": { "api-version": API_VERSION },
        "name": norm,
        "versions": versions,
        "files": json_files,
    });
    let rendered = Arc::new(Page::new(
        &json_body,
        page(&format!("Links for {norm}"), &links),
    ));
    app.pypi.pages.insert(norm, Arc::clone(&rendered));
    Ok(answer(format, &rendered))
}

fn immutable(bytes: bytes::Bytes, content_type: &'static str, etag: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_owned(),
            ),
            (header::ETAG, etag),
        ],
        bytes,
    )
        .into_response()
}

async fn blob(app: &AppState, b3: &[u8; 32], what: &str) -> Result<bytes::Bytes, ApiError> {
    app.blobs
        .get(b3)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            tracing::error!(file = %what, "an indexed Python file is missing from storage");
            ApiError::internal(&std::io::Error::other("indexed blob missing"))
        })
}

/// `GET /files/<blake3>/<filename>` and `GET /files/<blake3>/<filename>.metadata`.
pub async fn file(
    State(app): State<Arc<AppState>>,
    Path((digest, filename)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let missing = || not_found(format!("file {digest}/{filename}"));
    let (name, metadata) = match filename.strip_suffix(".metadata") {
        Some(base) => (base, true),
        None => (filename.as_str(), false),
    };
    let row = app
        .meta
        .pypi_file(name)
        .await
        .map_err(crate::packages::codes::meta)?
        .filter(|f| hex::encode(f.dist.blake3) == digest)
        .ok_or_else(missing)?;
    if metadata {
        let b3 = row.metadata_blake3.ok_or_else(missing)?;
        let bytes = blob(&app, &b3, &filename).await?;
        return Ok(immutable(
            bytes,
            "text/plain; charset=utf-8",
            format!("\"{}\"", hex::encode(b3)),
        ));
    }
    let bytes = blob(&app, &row.dist.blake3, &filename).await?;
    Ok(immutable(
        bytes,
        "application/octet-stream",
        format!("\"{digest}\""),
    ))
}

/// The file `filename` of release `version` of the vouch package `package`; `missing()`
/// when there is no such file or it belongs to another release or project.
pub(super) async fn release_file(
    app: &AppState,
    package: &str,
    version: &str,
    filename: &str,
    missing: impl Fn() -> ApiError,
) -> Result<PyFile, ApiError> {
    let row = app
        .meta
        .pypi_file(filename)
        .await
        .map_err(crate::packages::codes::meta)?
        .ok_or_else(&missing)?;
    let files = app
        .meta
        .pypi_files(package)
        .await
        .map_err(crate::packages::codes::meta)?;
    if row.dist.version != version || !files.iter().any(|f| f.id == row.id) {
        return Err(missing());
    }
    Ok(row)
}

/// `GET /integrity/<project>/<version>/<filename>/provenance`: the PEP 740 provenance
/// object stored with the file (verified at upload).
pub async fn provenance(
    State(app): State<Arc<AppState>>,
    Path((project, version, filename)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let missing = || not_found(format!("provenance of {project} {version} {filename}"));
    let package = names::package_of(&project);
    let row = release_file(&app, &package, &version, &filename, &missing).await?;
    let b3 = row.provenance_blake3.ok_or_else(missing)?;
    let bytes = blob(&app, &b3, &filename).await?;
    Ok(immutable(
        bytes,
        "application/vnd.pypi.integrity.v1+json",
        format!("\"{}\"", hex::encode(b3)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation_follows_pep691() {
        assert_eq!(negotiate(&HeaderMap::new()), Format::Html);
        assert_eq!(negotiate(&accept(JSON_MEDIA_TYPE)), Format::Json);
        // What pip sends.
        let pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
        assert_eq!(negotiate(&accept(pip)), Format::Json);
        assert_eq!(
            negotiate(&accept(
                "application/vnd.pypi.simple.v1+json;q=0.2, text/html"
            )),
            Format::Html
        );
        assert_eq!(negotiate(&accept("application/json")), Format::Html);
        assert_eq!(
            negotiate(&accept("application/vnd.pypi.simple.v1+json;q=0")),
            Format::Html
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
        );
    }
}
