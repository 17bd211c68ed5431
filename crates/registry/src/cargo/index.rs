//! The sparse index (RFC 2789) under `/cargo/index/` and the downloads its `dl` names: `config.json`, one file per crate at cargo's path, `ETag`/`Last-Modified` answered with 304, read tokens when `auth-required`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use vouch_store::meta::{
    cargo_name_norm, CargoVersion, MetaStore, Timestamp, TokenCheck, TokenScope,
};

use super::{CargoError, IndexFile};
use crate::AppState;

/// `Authorization` values longer than this are refused unread.
const MAX_AUTHORIZATION_BYTES: usize = 512;

/// The token cargo sent: the header verbatim (cargo's `cargo:token`), or after
/// `Bearer ` when a tool adds the scheme. `None` when absent.
pub fn presented_token(headers: &HeaderMap) -> Result<Option<&str>, CargoError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    if v.len() > MAX_AUTHORIZATION_BYTES {
        return Err(CargoError::bad_token(format!(
            "the Authorization header is over {MAX_AUTHORIZATION_BYTES} bytes"
        )));
    }
    let v = v
        .to_str()
        .map_err(|_| CargoError::bad_token("the Authorization header is not ASCII"))?
        .trim();
    let v = match v.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => v,
    };
    Ok((!v.is_empty()).then_some(v))
}

/// The login URL cargo shows on a 401.
pub fn login_url(state: &AppState) -> String {
    state
        .cargo
        .settings
        .login_url
        .clone()
        .unwrap_or_else(|| format!("{}/", state.public_url))
}

/// On an `auth-required` registry, a request must carry a read token: a user's API
/// token (owner scope) or a live trusted-publishing publish token. Anonymous is
/// CARGO_E009 with cargo's `www-authenticate`; a bad token CARGO_E006.
pub async fn require_reader(state: &AppState, headers: &HeaderMap) -> Result<(), CargoError> {
    if !state.cargo.settings.auth_required {
        return Ok(());
    }
    let Some(token) = presented_token(headers)? else {
        return Err(CargoError::auth_required(&login_url(state)));
    };
    if super::trustpub::is_publish_token(token) {
        return super::trustpub::live_publish_token(state, token)
            .await
            .map(|_| ());
    }
    match state.meta.check_token(token, Timestamp::now()).await? {
        TokenCheck::Valid(_, t) if t.scope == TokenScope::Owner => Ok(()),
        TokenCheck::Valid(_, _) => Err(CargoError::bad_token(
            "an administrator token is not a read token: use a user's API token",
        )),
        other => Err(CargoError::bad_token(token_refusal(&other))),
    }
}

/// Why a user token did not check out, in words.
pub fn token_refusal(check: &TokenCheck) -> String {
    match check {
        TokenCheck::UserDisabled(name) => format!("the token's user {name} is disabled"),
        TokenCheck::Revoked(at) => format!("the token was revoked at {}", at.0),
        TokenCheck::Expired(at) => format!("the token expired at {}", at.0),
        _ => "the token is not known to this registry".to_owned(),
    }
}

/// `GET /cargo/index/{*path}`: `config.json` or one crate's index file.
pub async fn index_file(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, CargoError> {
    require_reader(&state, &headers).await?;
    if path == "config.json" {
        return Ok(config_json(&state));
    }
    let name = crate_of_path(&path).ok_or_else(|| CargoError::bad_index_path(&path))?;
    let file = rendered(&state, name).await?;
    let Some(file) = file.as_ref() else {
        return Err(CargoError::not_found(format!(
            "no crate named {name} in this registry"
        )));
    };
    let not_modified = match headers.get(header::IF_NONE_MATCH) {
        Some(v) => v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim() == file.etag || t.trim() == "*")
        }),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .is_some_and(|v| v.as_bytes() == file.last_modified.as_bytes()),
    };
    let cache = if state.cargo.settings.auth_required {
        "private, no-cache"
    } else {
        "public, no-cache"
    };
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
            file.body.clone(),
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&file.last_modified) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(resp)
}

fn config_json(state: &AppState) -> Response {
    let mut doc = serde_json::json!({
        "dl": format!("{}/api/v1/crates", state.public_url),
        "api": state.public_url,
    });
    if state.cargo.settings.auth_required {
        if let Some(m) = doc.as_object_mut() {
            m.insert("auth-required".into(), true.into());
        }
    }
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        doc.to_string(),
    )
        .into_response()
}

/// The crate an index path names, if the path is exactly where cargo looks for it
/// (lowercase): `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`.
pub fn crate_of_path(path: &str) -> Option<&str> {
    let parts: Vec<&str> = path.split('/').collect();
    let name = *parts.last()?;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return None;
    }
    let expected = index_path(name);
    (expected == path).then_some(name)
}

/// Where cargo looks for `name` (lowercased) in a sparse index.
pub fn index_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.len() {
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => format!("3/{}/{lower}", lower.get(..1).unwrap_or_default()),
        _ => format!(
            "{}/{}/{lower}",
            lower.get(..2).unwrap_or_default(),
            lower.get(2..4).unwrap_or_default()
        ),
    }
}

/// A crate's index file, from the per-node cache or rendered from the database.
async fn rendered(state: &AppState, name: &str) -> Result<Option<Arc<IndexFile>>, CargoError> {
    let norm = cargo_name_norm(name);
    if let Some(hit) = state.cargo.cache.get(&norm) {
        return Ok(Some(hit));
    }
    // A crate that does not exist is not cached: its first publish may come from
    // another node.
    let Some(c) = state.meta.cargo_crate(name).await? else {
        return Ok(None);
    };
    let versions = state.meta.cargo_versions(c.id).await?;
    let file = Arc::new(render(&versions)?);
    state.cargo.cache.insert(norm, Arc::clone(&file));
    Ok(Some(file))
}

/// The index file of a crate's versions: one JSON line each, `yanked` from the yank
/// state; `ETag` from the bytes, `Last-Modified` from the latest publish or yank.
pub fn render(versions: &[CargoVersion]) -> Result<IndexFile, CargoError> {
    let mut body = Vec::new();
    let mut latest = 0i64;
    for v in versions {
        let mut line: serde_json::Value =
            serde_json::from_str(&v.published.index_line).map_err(|_| {
                CargoError::internal(&std::io::Error::other(format!(
                    "stored index line of version {} is not JSON",
                    v.published.vers
                )))
            })?;
        if let Some(m) = line.as_object_mut() {
            m.insert("yanked".into(), v.yanked.into());
        }
        body.extend_from_slice(line.to_string().as_bytes());
        body.push(b'\n');
        latest = latest
            .max(v.published.pubtime.0)
            .max(v.yank_changed_at.map_or(0, |t| t.0));
    }
    let digest = Sha256::digest(&body);
    Ok(IndexFile {
        etag: format!("\"{}\"", hex::encode(digest.get(..16).unwrap_or_default())),
        last_modified: http_date(latest),
        body: Bytes::from(body),
    })
}

/// An HTTP date (`Tue, 15 Nov 1994 08:12:31 GMT`).
pub fn http_date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// `GET /api/v1/crates/{name}/{version}/download`: the `.crate` as published, from
/// the content-addressed blob its version row names.
pub async fn download(
    State(state): State<Arc<AppState>>,
    Path((name, vers)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, CargoError> {
    require_reader(&state, &headers).await?;
    let version = find_version(state.meta.as_ref(), &name, &vers).await?;
    let mut b3 = [0u8; 32];
    hex::decode_to_slice(&version.published.blake3, &mut b3)
        .map_err(|e| CargoError::internal(&std::io::Error::other(e.to_string())))?;
    let bytes = state
        .blobs
        .get(&b3)
        .await
        .map_err(|e| CargoError::internal(&e))?
        .ok_or_else(|| {
            CargoError::internal(&std::io::Error::other(format!(
                "blob of {name} {vers} is missing from the object store"
            )))
        })?;
    let cache = if state.cargo.settings.auth_required {
        "private, max-age=31536000, immutable"
    } else {
        "public, max-age=31536000, immutable"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip"),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

/// A crate's version by name and number: CARGO_E008 when either is unknown.
pub async fn find_version(
    meta: &dyn MetaStore,
    name: &str,
    vers: &str,
) -> Result<CargoVersion, CargoError> {
    let c = meta
        .cargo_crate(name)
        .await?
        .ok_or_else(|| CargoError::not_found(format!("no crate named {name}")))?;
    meta.cargo_versions(c.id)
        .await?
        .into_iter()
        .find(|v| v.published.vers == vers)
        .ok_or_else(|| CargoError::not_found(format!("crate {name} has no version {vers}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_cargo() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Serde_Json"), "se/rd/serde_json");
        assert_eq!(crate_of_path("se/rd/serde_json"), Some("serde_json"));
        assert_eq!(crate_of_path("3/a/abc"), Some("abc"));
        for bad in [
            "se/rd/Serde",
            "xx/rd/serde",
            "3/b/abc",
            "1/ab",
            "../etc",
            "se/rd/",
        ] {
            assert_eq!(crate_of_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(http_date(784_887_151), "Tue, 15 Nov 1994 08:12:31 GMT");
    }
}
