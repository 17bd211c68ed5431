//! `PUT /api/v1/crates/new`: cargo's publish body (length-prefixed metadata JSON, then the `.crate`), checked against the manifest inside the archive, committed as an immutable version with a checksum the registry computed, then signed and logged as an integrity record.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_package::PublishError;
use vouch_store::meta::{
    cargo_name_norm, CargoClaim, CargoCrate, MetaError, NewCargoVersion, Timestamp, TokenCheck,
    TokenScope,
};

use super::index::{presented_token, token_refusal};
use super::trustpub::{is_publish_token, live_publish_token};
use super::{CargoError, MAX_CRATE_BYTES, MAX_METADATA_BYTES};
use crate::AppState;

/// The metadata JSON cargo sends (fields this registry reads; others are ignored, as
/// cargo adds some over time).
#[derive(Debug, Deserialize)]
pub struct NewCrate {
    pub name: String,
    pub vers: String,
    #[serde(default)]
    pub deps: Vec<NewDep>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub links: Option<String>,
    #[serde(default)]
    pub rust_version: Option<String>,
}

/// One dependency as cargo's publish JSON names it.
#[derive(Debug, Deserialize)]
pub struct NewDep {
    pub name: String,
    pub version_req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default)]
    pub explicit_name_in_toml: Option<String>,
}

fn yes() -> bool {
    true
}

/// Splits cargo's framing: `u32le json_len, json, u32le crate_len, crate`, nothing after.
pub fn split_body(body: &[u8]) -> Result<(&[u8], &[u8]), CargoError> {
    let (json, rest) = take_framed(body, "metadata JSON", MAX_METADATA_BYTES)?;
    let (krate, rest) = take_framed(rest, ".crate", MAX_CRATE_BYTES)?;
    if !rest.is_empty() {
        return Err(CargoError::malformed(format!(
            "{} bytes follow the .crate; expected the body to end there",
            rest.len()
        )));
    }
    Ok((json, krate))
}

fn take_framed<'a>(
    buf: &'a [u8],
    what: &str,
    max: usize,
) -> Result<(&'a [u8], &'a [u8]), CargoError> {
    let (len, rest) = buf
        .split_first_chunk::<4>()
        .ok_or_else(|| CargoError::malformed(format!("the body ends before the {what} length")))?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > max {
        return Err(CargoError::too_large(what, max));
    }
    if rest.len() < len {
        return Err(CargoError::malformed(format!(
            "the {what} length says {len} bytes, {} remain",
            rest.len()
        )));
    }
    Ok(rest.split_at(len))
}

/// crates.io's name rule: 1 to 64 ASCII letters, digits, `-` or `_`, starting with a
/// letter (CARGO_E004 otherwise).
pub fn check_name(name: &str) -> Result<(), CargoError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CargoError::invalid(format!(
            "crate names are 1 to 64 ASCII letters, digits, '-' or '_' starting with a letter, found {name:?}"
        )))
    }
}

/// Who a publish is made by: a trusted-publishing token's identity, or a user.
enum Publisher {
    Trusted { crates: Vec<String>, data: Value },
    User { id: i64, login: String },
}

/// `PUT /api/v1/crates/new`.
pub async fn publish(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, CargoError> {
    let publisher = publisher_of(&state, &headers).await?;
    let body = body.map_err(|_| {
        CargoError::too_large("publish body", MAX_CRATE_BYTES + MAX_METADATA_BYTES + 8)
    })?;
    let (json_bytes, crate_bytes) = split_body(&body)?;
    let meta: NewCrate = serde_json::from_slice(json_bytes)
        .map_err(|e| CargoError::malformed(format!("the publish metadata JSON: {e}")))?;
    check_name(&meta.name)?;
    let version = semver::Version::parse(&meta.vers)
        .map_err(|e| CargoError::invalid(format!("version {:?} is not SemVer: {e}", meta.vers)))?;
    let norm = cargo_name_norm(&meta.name);
    if let Publisher::Trusted { crates, .. } = &publisher {
        if !crates.contains(&norm) {
            return Err(CargoError::forbidden(format!(
                "this publish token is scoped to {crates:?} (the crates whose trusted publishers matched its identity), not {}",
                meta.name
            )));
        }
    }
    let krate = claim(&state, &publisher, &meta.name).await?;
    // The archive: checksum computed here, the manifest inside must agree.
    let dir = format!("{}-{}", meta.name, meta.vers);
    let owned = Bytes::copy_from_slice(crate_bytes);
    let inspected = {
        let owned = owned.clone();
        tokio::task::spawn_blocking(move || super::crate_file::inspect(&owned, &dir))
            .await
            .map_err(|e| CargoError::internal(&std::io::Error::other(e.to_string())))??
    };
    if inspected.name != meta.name {
        return Err(CargoError::disagree("name", &meta.name, &inspected.name));
    }
    if inspected.version != meta.vers {
        return Err(CargoError::disagree("vers", &meta.vers, &inspected.version));
    }
    if inspected.links != meta.links {
        return Err(CargoError::disagree(
            "links",
            meta.links.as_deref().unwrap_or("(none)"),
            inspected.links.as_deref().unwrap_or("(none)"),
        ));
    }
    let cksum = hex::encode(Sha256::digest(&owned));
    let blob = state
        .blobs
        .put_bytes(&owned)
        .await
        .map_err(|e| CargoError::internal(&e))?;
    let pubtime = Timestamp::now();
    let index_line = index_line(&meta, &cksum, pubtime);
    let (published_by, trustpub_data, who) = match &publisher {
        Publisher::Trusted { data, .. } => (
            None,
            Some(data.clone()),
            json!({"trusted_publishing": data}),
        ),
        Publisher::User { id, login } => {
            let user = json!({"id": id, "login": login, "name": login});
            (Some(user.clone()), None, json!({"user": user}))
        }
    };
    let provenance = json!({
        "registry": state.public_url,
        "crate": meta.name,
        "vers": meta.vers,
        "cksum": cksum,
        "pubtime": pubtime.0,
        "published_by": who,
    });
    let provenance = String::from_utf8(
        vouch_integrity::canonical_json(&provenance).map_err(|e| CargoError::internal(&e))?,
    )
    .map_err(|e| CargoError::internal(&e))?;
    let mut key = version.clone();
    key.build = semver::BuildMetadata::EMPTY;
    let new = NewCargoVersion {
        crate_id: krate.id,
        vers: meta.vers.clone(),
        vers_key: key.to_string(),
        cksum: cksum.clone(),
        blake3: hex::encode(blob.blake3),
        size: blob.size,
        index_line: index_line.to_string(),
        published_by: published_by.map(|v| v.to_string()),
        trustpub_data: trustpub_data.map(|v| v.to_string()),
        provenance: provenance.clone(),
        pubtime,
    };
    match state.meta.cargo_insert_version(&new).await {
        Ok(_) => {}
        Err(MetaError::VersionExists { .. }) => {
            return Err(CargoError::identity(&PublishError::VersionExists {
                package: meta.name.clone(),
                version: meta.vers.clone(),
            })
            .with_status(axum::http::StatusCode::CONFLICT))
        }
        Err(e) => return Err(e.into()),
    }
    state.cargo.invalidate(&norm);
    let asset = vouch_integrity::AssetEntry {
        name: format!("{}-{}.crate", meta.name, meta.vers),
        size: blob.size,
        sha256: blob.sha256,
        blake3: blob.blake3,
    };
    let provenance_sha256: [u8; 32] = Sha256::digest(provenance.as_bytes()).into();
    let mut other = Vec::new();
    if let Err(e) = crate::integrity::records::record_crate(
        &state,
        &meta.name,
        &meta.vers,
        asset,
        provenance_sha256,
    )
    .await
    {
        tracing::warn!(error = %e, krate = %meta.name, vers = %meta.vers, "cargo integrity record not made");
        other.push(format!(
            "the version is published, but its integrity record could not be made yet ({e})"
        ));
    }
    Ok(axum::Json(json!({"warnings": {
        "invalid_categories": [], "invalid_badges": [], "other": other,
    }}))
    .into_response())
}

async fn publisher_of(state: &AppState, headers: &HeaderMap) -> Result<Publisher, CargoError> {
    let token = presented_token(headers)?.ok_or_else(CargoError::no_token)?;
    if is_publish_token(token) {
        let row = live_publish_token(state, token).await?;
        let data: Value =
            serde_json::from_str(&row.publisher).map_err(|e| CargoError::internal(&e))?;
        return Ok(Publisher::Trusted {
            crates: row.crates,
            data,
        });
    }
    match state.meta.check_token(token, Timestamp::now()).await? {
        TokenCheck::Valid(user, t) if t.scope == TokenScope::Owner => Ok(Publisher::User {
            id: user.id.0,
            login: user.name,
        }),
        TokenCheck::Valid(_, _) => Err(CargoError::bad_token(
            "an administrator token cannot publish: use a user's API token or trusted publishing",
        )),
        other => Err(CargoError::bad_token(token_refusal(&other))),
    }
}

/// The crate a publish goes to: a user's token claims a new name or must own the
/// crate; a publish token's crates exist (their bindings were registered). The
/// spelling must be the crate's own (CARGO_E011).
async fn claim(
    state: &AppState,
    publisher: &Publisher,
    name: &str,
) -> Result<CargoCrate, CargoError> {
    let krate = match publisher {
        Publisher::Trusted { .. } => state
            .meta
            .cargo_crate(name)
            .await?
            .ok_or_else(|| CargoError::not_found(format!("no crate named {name}")))?,
        Publisher::User { id, login } => {
            match state
                .meta
                .cargo_claim(name, vouch_store::meta::UserId(*id), Timestamp::now())
                .await?
            {
                CargoClaim::Created(c) | CargoClaim::Owned(c) => c,
                CargoClaim::Foreign(c) => {
                    return Err(CargoError::forbidden(format!(
                        "user {login} is not an owner of crate {}",
                        c.name
                    )))
                }
            }
        }
    };
    if krate.name != name {
        return Err(CargoError::name_conflict(name, &krate.name));
    }
    Ok(krate)
}

/// The index line of a new version (RFC 2789 fields; `yanked` is set when served).
pub fn index_line(meta: &NewCrate, cksum: &str, pubtime: Timestamp) -> Value {
    let deps: Vec<Value> = meta
        .deps
        .iter()
        .map(|d| {
            let mut dep = json!({
                "name": d.explicit_name_in_toml.as_deref().unwrap_or(&d.name),
                "req": d.version_req,
                "features": d.features,
                "optional": d.optional,
                "default_features": d.default_features,
                "target": d.target,
                "kind": d.kind.as_deref().unwrap_or("normal"),
            });
            if let Some(m) = dep.as_object_mut() {
                if let Some(r) = &d.registry {
                    m.insert("registry".into(), r.clone().into());
                }
                if d.explicit_name_in_toml.is_some() {
                    m.insert("package".into(), d.name.clone().into());
                }
            }
            dep
        })
        .collect();
    // Features using `dep:` or `?/` go to `features2` (schema v2), as crates.io does,
    // so older cargo versions skip what they cannot read.
    let (features, features2): (BTreeMap<_, _>, BTreeMap<_, _>) =
        meta.features.iter().partition(|(_, values)| {
            !values
                .iter()
                .any(|v| v.starts_with("dep:") || v.contains("?/"))
        });
    let pubtime = jiff::Timestamp::from_second(pubtime.0)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut line = json!({
        "name": meta.name,
        "vers": meta.vers,
        "deps": deps,
        "cksum": cksum,
        "features": features,
        "yanked": false,
        "links": meta.links,
        "rust_version": meta.rust_version,
        "pubtime": pubtime,
    });
    if !features2.is_empty() {
        if let Some(m) = line.as_object_mut() {
            m.insert("features2".into(), json!(features2));
            m.insert("v".into(), 2.into());
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(json: &[u8], krate: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(json.len() as u32).to_le_bytes());
        b.extend_from_slice(json);
        b.extend_from_slice(&(krate.len() as u32).to_le_bytes());
        b.extend_from_slice(krate);
        b
    }

    #[test]
    fn framing_is_exact() {
        let b = framed(b"{}", b"abc");
        assert_eq!(split_body(&b).unwrap(), (&b"{}"[..], &b"abc"[..]));
        let mut extra = b.clone();
        extra.push(0);
        assert_eq!(split_body(&extra).unwrap_err().code, "CARGO_E001");
        assert_eq!(
            split_body(&b[..b.len() - 1]).unwrap_err().code,
            "CARGO_E001"
        );
        assert_eq!(split_body(&[1, 0]).unwrap_err().code, "CARGO_E001");
        let huge = (u32::MAX).to_le_bytes();
        assert_eq!(split_body(&huge).unwrap_err().code, "CARGO_E014");
    }

    #[test]
    fn names_follow_crates_io() {
        for ok in ["a", "serde_json", "foo-bar", "A1"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "1abc", "-a", "a b", "ä", &"a".repeat(65)] {
            assert_eq!(check_name(bad).unwrap_err().code, "CARGO_E004", "{bad}");
        }
    }

    #[test]
    fn index_line_moves_new_feature_syntax_to_features2() {
        let meta: NewCrate = serde_json::from_value(json!({
            "name": "demo", "vers": "1.0.0",
            "deps": [{"name": "real", "version_req": "^1", "explicit_name_in_toml": "alias",
                      "optional": true, "default_features": false, "features": [], "target": null,
                      "kind": "normal", "registry": null}],
            "features": {"a": ["b"], "b": [], "c": ["dep:alias"]},
            "rust_version": "1.70",
        }))
        .unwrap();
        let line = index_line(&meta, &"0".repeat(64), Timestamp(0));
        assert_eq!(line["deps"][0]["name"], "alias");
        assert_eq!(line["deps"][0]["package"], "real");
        assert_eq!(line["features"], json!({"a": ["b"], "b": []}));
        assert_eq!(line["features2"], json!({"c": ["dep:alias"]}));
        assert_eq!(line["v"], 2);
        assert_eq!(line["pubtime"], "1970-01-01T00:00:00Z");
        assert_eq!(line["rust_version"], "1.70");
    }
}
