//! `vouch sign image --legacy-tag` and `vouch attest image --legacy-tag`: what cosign 2.x
//! writes by default (cosign 3's `--new-bundle-format=false`). The signature is logged in
//! a Rekor **v1** log, whose signed entry timestamp (SET) is what the legacy layer's
//! annotations carry, and the layer is appended to the image manifest under the tag
//! `sha256-<hex>.sig` (a simple-signing payload) or `sha256-<hex>.att` (a DSSE envelope).

#![allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]

use serde_json::{json, Map, Value};
use sha2::Digest as _;
use vouch_publisher::sign::sign_error;
use vouch_sign::{KeylessSigner, RekorVersion, TrustConfig};

use crate::client::Client;
use crate::cosign::{self, DSSE_MEDIA_TYPE, OCI_MANIFEST, SIMPLE_SIGNING_MEDIA_TYPE};
use crate::OciError;

/// The media type of the (empty) image config cosign's signature images carry.
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// cosign's annotation naming an `.att` layer's predicate type.
const ANN_PREDICATE_TYPE: &str = "predicateType";

/// A legacy signature or attestation, signed and attached.
pub(crate) struct LegacySigned {
    /// The digest of the `.sig`/`.att` manifest written.
    pub(crate) manifest: String,
    /// `tag sha256-<hex>.sig` (or `.att`) and how many layers it now holds.
    pub(crate) attached_via: String,
    pub(crate) identity: String,
    pub(crate) issuer: Option<String>,
}

/// Signs keylessly with a Rekor v1 entry and appends the layer to the legacy tag.
/// Without `statement` the simple-signing payload for `image_name@digest` is signed
/// (`.sig`); with it, the in-toto statement of `predicate_type` as DSSE (`.att`).
/// `SIGN_E002` when the instance offers no Rekor v1 log.
pub(crate) async fn sign_and_attach(
    client: &Client,
    cfg: &TrustConfig,
    token: &str,
    http: reqwest::Client,
    (image_name, digest): (&str, &str),
    statement: Option<(&[u8], &str)>,
) -> Result<LegacySigned, OciError> {
    let coded = |e| OciError::Sign(sign_error(e));
    let signer = KeylessSigner::new(cfg, token, http)
        .await
        .map_err(coded)?
        .with_rekor_version(RekorVersion::V1)
        .map_err(coded)?;
    let (suffix, media_type, layer, annotations) = match statement {
        None => {
            let payload = cosign::simple_signing_payload(image_name, digest);
            let bundle = signer
                .sign_artifact_digest(sha2::Sha256::digest(&payload).into())
                .await
                .map_err(coded)?;
            let ann = cosign::legacy_annotations(&bundle, signer.certificate_chain_der())?;
            ("sig", SIMPLE_SIGNING_MEDIA_TYPE, payload, ann)
        }
        Some((statement, predicate_type)) => {
            let bundle = signer.sign_in_toto(statement).await.map_err(coded)?;
            let mut ann = cosign::legacy_annotations(&bundle, signer.certificate_chain_der())?;
            ann.insert(ANN_PREDICATE_TYPE.into(), json!(predicate_type));
            (
                "att",
                DSSE_MEDIA_TYPE,
                cosign::bundle_envelope(&bundle)?,
                ann,
            )
        }
    };
    let tag = format!("sha256-{}.{suffix}", digest.trim_start_matches("sha256:"));
    let (manifest, layers) = append_layer(client, &tag, media_type, &layer, annotations).await?;
    let (identity, issuer) = signer.identity();
    Ok(LegacySigned {
        manifest,
        attached_via: match layers {
            1 => format!("tag {tag} (1 layer)"),
            n => format!("tag {tag} ({n} layers)"),
        },
        identity,
        issuer,
    })
}

/// Appends one layer to the image manifest under `tag` (created when absent), as cosign
/// does: the layers already there are kept (an identical one is not added twice), the
/// config lists every layer's digest as a diff ID, and the manifest replaces the tag.
/// Returns the new manifest's digest and its layer count. Two signers appending at
/// once can lose one layer (the tag is read, then written), as with cosign.
pub(crate) async fn append_layer(
    client: &Client,
    tag: &str,
    media_type: &str,
    layer: &[u8],
    annotations: Map<String, Value>,
) -> Result<(String, usize), OciError> {
    let digest = client.push_blob(layer).await?;
    let descriptor = json!({
        "mediaType": media_type,
        "size": layer.len(),
        "digest": digest,
        "annotations": annotations,
    });
    let mut layers: Vec<Value> = match client.manifest(tag).await? {
        Some(m) => m.json["layers"].as_array().cloned().ok_or_else(|| {
            OciError::malformed(format!("legacy tag {tag}"), "a manifest without layers")
        })?,
        None => Vec::new(),
    };
    if !layers.contains(&descriptor) {
        layers.push(descriptor);
    }
    let diff_ids: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
    let history: Vec<Value> = layers
        .iter()
        .map(|_| json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    let config = json!({
        "architecture": "", "os": "", "config": {},
        "created": "0001-01-01T00:00:00Z", "history": history,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes();
    let config_digest = client.push_blob(&config).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": layers,
    })
    .to_string()
    .into_bytes();
    let count = layers.len();
    let (manifest_digest, _) = client.push_manifest(tag, OCI_MANIFEST, &manifest).await?;
    Ok((manifest_digest, count))
}
