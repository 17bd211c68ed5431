//! `vouch sign image` and `vouch attest image`: sign an in-toto statement about the image
//! digest keylessly (vouch-publisher's signing) and attach the bundle as cosign v3 does:
//! an OCI 1.1 referrer, indexed under the `sha256-<hex>` tag when the registry has no
//! referrers API.

#![allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]

use std::path::PathBuf;

use serde_json::{json, Value};
use vouch_publisher::sign::{http_client, read_token, sign, Payload, Services};

use crate::client::Client;
use crate::cosign::{
    self, BUNDLE_MEDIA_TYPE, COSIGN_SIGN_PREDICATE, EMPTY_MEDIA_TYPE, OCI_INDEX, OCI_MANIFEST,
};
use crate::reference::ImageRef;
use crate::OciError;

/// Cap on a predicate file.
pub const MAX_PREDICATE_BYTES: usize = 4 * 1024 * 1024;

/// What `vouch sign image` / `vouch attest image` is asked.
#[derive(Debug, Clone)]
pub struct SignImageRequest {
    /// `REF`: a tag (resolved once) or a digest.
    pub image: String,
    /// For `attest`: the predicate file and `--type` (a cosign name or a URI).
    pub predicate: Option<(PathBuf, String)>,
    pub identity_token: Option<String>,
    pub identity_token_file: Option<PathBuf>,
    pub services: Services,
    pub tls_ca: Option<PathBuf>,
    pub allow_insecure: bool,
    /// `--legacy-tag`: write what cosign 2.x writes (a layer of the `sha256-<hex>.sig`
    /// or `.att` image, with a Rekor v1 SET) instead of a referrer bundle.
    pub legacy_tag: bool,
}

/// What was signed and where it was attached.
#[derive(Debug, Clone)]
pub struct SignedImage {
    pub image: String,
    pub digest: String,
    pub predicate_type: String,
    pub identity: String,
    pub issuer: Option<String>,
    /// The referrer manifest's digest (with `legacy_tag`, the `.sig`/`.att` manifest's).
    pub referrer: String,
    /// `referrers API`, `tag sha256-<hex>`, or (`--legacy-tag`) `tag sha256-<hex>.sig (N
    /// layers)`, N the signatures that image now holds.
    pub attached_via: String,
    pub requests: u64,
}

impl std::fmt::Display for SignedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "signed    {}@{}", self.image, self.digest)?;
        writeln!(f, "type      {}", self.predicate_type)?;
        writeln!(f, "as        {}", self.identity)?;
        writeln!(f, "issuer    {}", self.issuer.as_deref().unwrap_or("-"))?;
        write!(f, "attached  {} ({})", self.referrer, self.attached_via)
    }
}

impl SignedImage {
    /// `--json`.
    pub fn to_json(&self) -> Value {
        json!({
            "image": self.image, "digest": self.digest, "predicate_type": self.predicate_type,
            "identity": self.identity, "issuer": self.issuer, "referrer": self.referrer,
            "attached_via": self.attached_via, "http_requests": self.requests,
        })
    }
}

/// Signs (or attests) an image and attaches the bundle.
pub async fn sign_image(req: &SignImageRequest) -> Result<SignedImage, OciError> {
    let image = ImageRef::parse(&req.image)?;
    let (predicate_type, predicate) = match &req.predicate {
        Some((path, t)) => (cosign::predicate_type(t)?, Some(read_predicate(path)?)),
        None => (COSIGN_SIGN_PREDICATE.to_owned(), None),
    };
    let token = read_token(
        req.identity_token.as_deref(),
        req.identity_token_file.as_deref(),
    )
    .map_err(OciError::Sign)?;
    let client = Client::new(&image, req.allow_insecure, true)?;
    let reference = image
        .digest
        .as_deref()
        .or(image.tag.as_deref())
        .unwrap_or("latest");
    let subject = client.image_manifest(&image, reference).await?;
    let hex = subject.digest.trim_start_matches("sha256:").to_owned();
    let mut statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": image.name(), "digest": {"sha256": hex}}],
        "predicateType": predicate_type,
    });
    if let (Some(p), Some(obj)) = (predicate, statement.as_object_mut()) {
        obj.insert("predicate".into(), p);
    }
    let http = http_client(req.tls_ca.as_deref()).map_err(|e| match e.into_coded() {
        Ok(c) => OciError::Sign(c),
        Err(other) => OciError::Local {
            what: "http client".into(),
            detail: other.to_string(),
        },
    })?;
    let cfg = load_config(&req.services, &http).await?;
    if req.legacy_tag {
        let statement_bytes = statement.to_string().into_bytes();
        let legacy = crate::legacy::sign_and_attach(
            &client,
            &cfg,
            &token,
            http,
            (&image.name(), &subject.digest),
            req.predicate
                .as_ref()
                .map(|_| (statement_bytes.as_slice(), predicate_type.as_str())),
        )
        .await?;
        return Ok(SignedImage {
            image: image.display(),
            digest: subject.digest,
            predicate_type: match req.predicate {
                Some(_) => predicate_type,
                None => cosign::SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
            },
            identity: legacy.identity,
            issuer: legacy.issuer,
            referrer: legacy.manifest,
            attached_via: legacy.attached_via,
            requests: client.requests(),
        });
    }
    let signed = sign(
        &cfg,
        &token,
        http,
        &Payload::Statement(statement.to_string().into_bytes()),
    )
    .await
    .map_err(OciError::Sign)?;
    let (referrer, attached_via) = attach(
        &client,
        &subject.media_type,
        &subject.digest,
        subject.bytes.len(),
        &signed.bundle,
        &predicate_type,
    )
    .await?;
    Ok(SignedImage {
        image: image.display(),
        digest: subject.digest,
        predicate_type,
        identity: signed.identity,
        issuer: signed.issuer,
        referrer,
        attached_via,
        requests: client.requests(),
    })
}

fn read_predicate(path: &std::path::Path) -> Result<Value, OciError> {
    let local = |detail: String| OciError::Local {
        what: format!("predicate {}", path.display()),
        detail,
    };
    let meta = std::fs::metadata(path).map_err(|e| local(e.to_string()))?;
    if meta.len() > MAX_PREDICATE_BYTES as u64 {
        return Err(OciError::TooLarge {
            what: format!("predicate {}", path.display()),
            cap: MAX_PREDICATE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| local(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| local(format!("not JSON: {e}")))
}

async fn load_config(
    services: &Services,
    http: &reqwest::Client,
) -> Result<vouch_sign::TrustConfig, OciError> {
    let coded = |e: vouch_sign::SignError| OciError::Sign(vouch_publisher::sign::sign_error(e));
    match services {
        Services::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| OciError::Local {
                what: path.display().to_string(),
                detail: e.to_string(),
            })?;
            vouch_sign::TrustConfig::from_json(&bytes).map_err(coded)
        }
        Services::Server(server) => {
            let base = vouch_api_client::base_url(server).map_err(OciError::Sign)?;
            vouch_sign::TrustConfig::fetch(http, &base)
                .await
                .map_err(coded)
        }
    }
}

/// Pushes a bundle as a referrer of `subject` and, when the registry did not answer
/// `OCI-Subject`, adds it to the `sha256-<hex>` tag's index (the referrers tag schema).
/// Returns the referrer manifest's digest and how it was attached.
pub async fn attach(
    client: &Client,
    subject_media_type: &str,
    subject_digest: &str,
    subject_size: usize,
    bundle: &[u8],
    predicate_type: &str,
) -> Result<(String, String), OciError> {
    let empty = client.push_blob(b"{}").await?;
    let layer = client.push_blob(bundle).await?;
    let content = if predicate_type == COSIGN_SIGN_PREDICATE || bundle_is_dsse(bundle) {
        "dsse-envelope"
    } else {
        "message-signature"
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty, "size": 2},
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "digest": layer, "size": bundle.len()}],
        "subject": {"mediaType": subject_media_type, "digest": subject_digest, "size": subject_size},
        "annotations": {
            "dev.sigstore.bundle.content": content,
            "dev.sigstore.bundle.predicateType": predicate_type,
            "org.opencontainers.image.created": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
    });
    let bytes = manifest.to_string().into_bytes();
    let digest = crate::client::sha256_digest(&bytes);
    let (digest, indexed) = client.push_manifest(&digest, OCI_MANIFEST, &bytes).await?;
    if indexed {
        return Ok((digest, "referrers API".into()));
    }
    let tag = format!("sha256-{}", subject_digest.trim_start_matches("sha256:"));
    let mut index = match client.manifest(&tag).await? {
        Some(m) if m.json["mediaType"].as_str() == Some(OCI_INDEX) => m.json,
        _ => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
    };
    let descriptor = json!({
        "mediaType": OCI_MANIFEST, "digest": digest, "size": bytes.len(),
        "artifactType": BUNDLE_MEDIA_TYPE, "annotations": manifest["annotations"],
    });
    match index["manifests"].as_array_mut() {
        Some(list) => list.push(descriptor),
        None => {
            return Err(OciError::malformed(
                format!("referrers tag {tag}"),
                "an index without a manifests list",
            ))
        }
    }
    client
        .push_manifest(&tag, OCI_INDEX, index.to_string().as_bytes())
        .await?;
    Ok((digest, format!("tag {tag}")))
}

fn bundle_is_dsse(bundle: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bundle).is_ok_and(|v| v.get("dsseEnvelope").is_some())
}
