//! `vouch verify image`: find every signature (or attestation) cosign could have
//! attached to an image, in both schemes, verify each fully through vouch-verify, check
//! its claim against the image digest, and report every verdict.

#![allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]

use serde_json::{json, Map, Value};
use vouch_api_client::CodedError;
use vouch_verify::request::report_json;
use vouch_verify::{Artifact, Content, ParsedBundle, Policy, PolicySpec, TrustSpec, Verifier};

use crate::client::{Client, Manifest, MAX_SIGNATURE_BLOB_BYTES};
use crate::cosign::{self, BUNDLE_MEDIA_TYPE, COSIGN_SIGN_PREDICATE};
use crate::reference::ImageRef;
use crate::OciError;

/// At most this many signature manifests (referrers plus legacy tags) are examined.
pub const MAX_SIGNATURES: usize = 64;

/// What `vouch verify image` is asked.
#[derive(Debug, Clone, Default)]
pub struct VerifyImageRequest {
    /// `REF`: a tag or digest reference.
    pub image: String,
    pub policy: PolicySpec,
    pub trust: TrustSpec,
    /// `--type`: a cosign name or a predicate URI; `None` verifies signatures.
    pub predicate_type: Option<String>,
    /// `--platform OS/ARCH[/VARIANT]`: a child of the index to report.
    pub platform: Option<String>,
    /// `--allow-insecure-registry`.
    pub allow_insecure: bool,
}

/// One signature examined and what became of it.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Where it was found (`referrer sha256:…`, `tag sha256-….sig layer 0`).
    pub source: String,
    /// The verified result's JSON (vouch verify's fields, plus `predicate` for an
    /// attestation), or the error that stopped it.
    pub result: Result<Map<String, Value>, CodedError>,
}

/// The report of one `vouch verify image`.
#[derive(Debug, Clone)]
pub struct ImageReport {
    /// The reference as given (normalized).
    pub image: String,
    /// The image digest everything was checked against.
    pub digest: String,
    /// True when a tag was resolved to `digest` (one request).
    pub resolved_from_tag: bool,
    /// `--platform`'s child manifest: `(platform, digest)`.
    pub platform: Option<(String, String)>,
    /// The predicate type required (`None`: signatures).
    pub predicate_type: Option<String>,
    /// Every signature examined, in the order found.
    pub verdicts: Vec<Verdict>,
    /// Where signatures were looked for.
    pub looked: Vec<String>,
    /// HTTP requests made.
    pub requests: u64,
    /// The trust root used.
    pub trust_root: String,
}

impl ImageReport {
    /// True when at least one signature verified.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().any(|v| v.result.is_ok())
    }

    /// Why the image did not pass: no signature at all (`OCI_E009`), else the first
    /// failure's own code.
    pub fn failure(&self) -> Option<CodedError> {
        if self.passed() {
            return None;
        }
        match self.verdicts.iter().find_map(|v| v.result.as_ref().err()) {
            Some(e) => {
                let mut e = e.clone();
                if self.verdicts.len() > 1 {
                    e.message = format!(
                        "none of {} signatures verified; the first: {}",
                        self.verdicts.len(),
                        e.message
                    );
                }
                Some(e)
            }
            None => Some(CodedError::from(&OciError::NoSignatures {
                kind: if self.predicate_type.is_some() {
                    "attestation"
                } else {
                    "signature"
                },
                image: format!("{}@{}", self.image, self.digest),
                looked: self.looked.join(", "),
            })),
        }
    }

    /// The report as one JSON object (`--json`).
    pub fn to_json(&self) -> Value {
        let verdicts: Vec<Value> = self
            .verdicts
            .iter()
            .map(|v| match &v.result {
                Ok(obj) => {
                    let mut o = obj.clone();
                    o.insert("source".into(), json!(v.source));
                    Value::Object(o)
                }
                Err(e) => json!({
                    "source": v.source, "verified": false,
                    "error": {"code": e.code, "message": e.message},
                }),
            })
            .collect();
        let mut out = json!({
            "verified": self.passed(),
            "image": self.image,
            "digest": self.digest,
            "resolved_from_tag": self.resolved_from_tag,
            "predicate_type": self.predicate_type,
            "signatures": verdicts,
            "looked_in": self.looked,
            "http_requests": self.requests,
            "trust_root": self.trust_root,
        });
        if let (Some((p, d)), Some(o)) = (&self.platform, out.as_object_mut()) {
            o.insert("platform".into(), json!({"platform": p, "digest": d}));
        }
        if let (Some(e), Some(o)) = (self.failure(), out.as_object_mut()) {
            o.insert(
                "error".into(),
                json!({"code": e.code, "message": e.message}),
            );
        }
        out
    }
}

impl std::fmt::Display for ImageReport {
    /// Text lines; identities and sources come from the registry, so a caller printing to
    /// a terminal must neutralise control characters.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = if self.passed() {
            "verified"
        } else {
            "NOT verified"
        };
        writeln!(f, "{head}: {}@{}", self.image, self.digest)?;
        if self.resolved_from_tag {
            writeln!(f, "  resolved:   tag -> {}", self.digest)?;
        }
        if let Some((p, d)) = &self.platform {
            writeln!(f, "  platform:   {p} -> {d}")?;
        }
        if let Some(t) = &self.predicate_type {
            writeln!(f, "  type:       {t}")?;
        }
        for v in &self.verdicts {
            match &v.result {
                Ok(obj) => {
                    let signer = &obj["signer"];
                    let who = signer["identity"].as_str().unwrap_or("managed key (--key)");
                    writeln!(f, "  ok          {} signed by {who}", v.source)?;
                    if let Some(i) = signer["issuer"].as_str() {
                        writeln!(f, "              issuer {i}")?;
                    }
                }
                Err(e) => writeln!(
                    f,
                    "  FAILED      {}: error[{}]: {}",
                    v.source, e.code, e.message
                )?,
            }
        }
        writeln!(f, "  looked in:  {}", self.looked.join(", "))?;
        writeln!(f, "  requests:   {}", self.requests)?;
        write!(f, "  trust root: {}", self.trust_root)
    }
}

/// One candidate signature, before verification.
enum Candidate {
    /// A referrer manifest holding a Sigstore bundle layer.
    Referrer { manifest: String },
    /// A legacy `.sig` or `.att` layer.
    Legacy {
        layer: Value,
        index: usize,
        attestation: bool,
    },
}

/// Verifies an image's signatures (or, with a predicate type, its attestations).
pub async fn verify_image(req: &VerifyImageRequest) -> Result<ImageReport, OciError> {
    let image = ImageRef::parse(&req.image)?;
    let wanted = req
        .predicate_type
        .as_deref()
        .map(cosign::predicate_type)
        .transpose()?;
    let policy = req.policy.build()?;
    let root = req.trust.load()?;
    let verifier = Verifier::new(&root)?;
    let client = Client::new(&image, req.allow_insecure, false)?;

    let (digest, resolved) = match &image.digest {
        Some(d) => (d.clone(), None),
        None => {
            let tag = image.tag.as_deref().unwrap_or("latest");
            let m = client.image_manifest(&image, tag).await?;
            (m.digest.clone(), Some(m))
        }
    };
    let platform = match &req.platform {
        Some(p) => Some(select_platform(&client, &digest, resolved, p).await?),
        None => None,
    };
    let hex = digest.trim_start_matches("sha256:").to_owned();

    // Scheme 1: referrers (API, else the sha256-<hex> tag's index).
    let mut looked = Vec::new();
    let mut candidates = Vec::new();
    let index = match client.referrers(&digest).await? {
        Some(i) => {
            looked.push("referrers API".to_owned());
            Some(i)
        }
        None => {
            looked.push(format!("tag sha256-{hex}"));
            client
                .manifest(&format!("sha256-{hex}"))
                .await?
                .map(|m| m.json)
        }
    };
    if let Some(index) = index {
        for d in index["manifests"].as_array().into_iter().flatten() {
            // The index's artifactType is not trusted: each manifest's layer is checked.
            if let Some(m) = d["digest"].as_str() {
                candidates.push(Candidate::Referrer {
                    manifest: m.to_owned(),
                });
            }
        }
    }
    candidates.truncate(MAX_SIGNATURES);
    let keyed = matches!(policy, Policy::ManagedKey(_));
    let check = Check {
        client: &client,
        verifier: &verifier,
        policy: &policy,
        digest: &digest,
        wanted: wanted.as_deref(),
        keyed,
    };
    let mut verdicts = check.all(&candidates, "").await;

    // Scheme 2: the legacy tag, read only when no referrer verified (the image has
    // passed otherwise, and a digest reference then costs one referrers request plus
    // one per referrer manifest and blob).
    if !verdicts.iter().any(|v| v.result.is_ok()) {
        let attestation = wanted.is_some();
        let (suffix, layer_type) = if attestation {
            ("att", cosign::DSSE_MEDIA_TYPE)
        } else {
            ("sig", cosign::SIMPLE_SIGNING_MEDIA_TYPE)
        };
        let legacy_tag = format!("sha256-{hex}.{suffix}");
        looked.push(format!("tag {legacy_tag}"));
        let mut legacy = Vec::new();
        if let Some(m) = client.manifest(&legacy_tag).await? {
            for (index, layer) in m.json["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if layer["mediaType"].as_str() == Some(layer_type) {
                    legacy.push(Candidate::Legacy {
                        layer: layer.clone(),
                        index,
                        attestation,
                    });
                }
            }
        }
        legacy.truncate(MAX_SIGNATURES.saturating_sub(candidates.len()));
        verdicts.extend(check.all(&legacy, &legacy_tag).await);
    }
    Ok(ImageReport {
        image: image.display(),
        digest,
        resolved_from_tag: image.digest.is_none(),
        platform,
        predicate_type: wanted,
        verdicts,
        looked,
        requests: client.requests(),
        trust_root: root.source().to_string(),
    })
}

struct Check<'a> {
    client: &'a Client,
    verifier: &'a Verifier,
    policy: &'a Policy,
    digest: &'a str,
    wanted: Option<&'a str>,
    keyed: bool,
}

impl Check<'_> {
    /// Every candidate's verdict: fetched concurrently (the registry round trips
    /// overlap), judged in order; a referrer that is not a Sigstore bundle is skipped.
    async fn all(&self, candidates: &[Candidate], legacy_tag: &str) -> Vec<Verdict> {
        let results = futures_util::future::join_all(candidates.iter().map(|c| async {
            match c {
                Candidate::Referrer { manifest } => self.referrer(manifest).await,
                Candidate::Legacy {
                    layer, attestation, ..
                } => self.legacy(layer, *attestation).await,
            }
        }))
        .await;
        let mut verdicts = Vec::new();
        for (c, result) in candidates.iter().zip(results) {
            let source = match c {
                Candidate::Referrer { manifest } => format!("referrer {manifest}"),
                Candidate::Legacy { index, .. } => format!("tag {legacy_tag} layer {index}"),
            };
            match result {
                Ok(Some(obj)) => verdicts.push(Verdict {
                    source,
                    result: Ok(obj),
                }),
                Ok(None) => {}
                Err(e) => verdicts.push(Verdict {
                    source,
                    result: Err(CodedError::from(&e)),
                }),
            }
        }
        verdicts
    }

    /// A referrer: its layer must be a Sigstore bundle (else `None`, skipped), its subject
    /// this image, and the bundle must verify for this digest.
    async fn referrer(&self, manifest: &str) -> Result<Option<Map<String, Value>>, OciError> {
        let m = self
            .client
            .manifest(manifest)
            .await?
            .ok_or_else(|| OciError::Status {
                what: format!("referrer manifest {manifest}"),
                expected: "200",
                found: 404,
            })?;
        let layers = m.json["layers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let [layer] = layers else {
            return Ok(None);
        };
        if layer["mediaType"].as_str() != Some(BUNDLE_MEDIA_TYPE) {
            return Ok(None);
        }
        let subject = m.json["subject"]["digest"].as_str().unwrap_or("(none)");
        if subject != self.digest {
            return Err(OciError::ClaimMismatch {
                expected: self.digest.to_owned(),
                found: format!("{subject} (the referrer's subject)"),
            });
        }
        let blob = self.layer_blob(&m, layer).await?;
        let artifact = Artifact::parse_digest(self.digest)?;
        self.judge(&artifact, &blob).map(Some)
    }

    /// A legacy `.sig` (simple signing) or `.att` (DSSE) layer.
    async fn legacy(
        &self,
        layer: &Value,
        attestation: bool,
    ) -> Result<Option<Map<String, Value>>, OciError> {
        let empty = Map::new();
        let ann = layer["annotations"].as_object().unwrap_or(&empty);
        let digest = layer["digest"]
            .as_str()
            .ok_or_else(|| OciError::malformed("legacy layer", "no digest"))?;
        let blob = self.client.blob(digest, MAX_SIGNATURE_BLOB_BYTES).await?;
        if attestation {
            let bundle = cosign::dsse_bundle(&blob, ann, self.keyed)?;
            let artifact = Artifact::parse_digest(self.digest)?;
            return self.judge(&artifact, &bundle).map(Some);
        }
        // The claim first: a valid signature over another image's payload is no
        // signature of this one.
        let claimed = cosign::simple_signing_digest(&blob)?;
        if claimed != self.digest {
            return Err(OciError::ClaimMismatch {
                expected: self.digest.to_owned(),
                found: format!("{claimed} (docker-manifest-digest)"),
            });
        }
        let bundle = cosign::simple_signing_bundle(&blob, ann, self.keyed)?;
        self.judge(&Artifact::bytes(blob), &bundle).map(Some)
    }

    async fn layer_blob(&self, m: &Manifest, layer: &Value) -> Result<Vec<u8>, OciError> {
        let digest = layer["digest"].as_str().ok_or_else(|| {
            OciError::malformed(
                format!("referrer manifest {}", m.digest),
                "layer without digest",
            )
        })?;
        self.client.blob(digest, MAX_SIGNATURE_BLOB_BYTES).await
    }

    /// Verifies the bundle, then checks its content is what was asked for.
    fn judge(
        &self,
        artifact: &Artifact,
        bundle_json: &[u8],
    ) -> Result<Map<String, Value>, OciError> {
        // A statement of another type cannot pass whatever its signature: it is not
        // worth verifying (the same check runs on the verified content below).
        let expected = self.wanted.unwrap_or(COSIGN_SIGN_PREDICATE);
        if let Some(t) = cosign::bundle_predicate_type(bundle_json) {
            if t != expected {
                return Err(OciError::PredicateType {
                    expected: expected.to_owned(),
                    found: t,
                });
            }
        }
        let bundle = ParsedBundle::from_json(bundle_json)?;
        let verified = self.verifier.verify(artifact, &bundle, self.policy)?;
        let found = match &verified.content {
            Content::Dsse { predicate_type, .. } => predicate_type.clone(),
            _ => "(a message signature)".to_owned(),
        };
        let ok = match (self.wanted, &verified.content) {
            (Some(w), Content::Dsse { predicate_type, .. }) => predicate_type == w,
            (Some(_), _) => false,
            (None, Content::Dsse { predicate_type, .. }) => predicate_type == COSIGN_SIGN_PREDICATE,
            (None, _) => true,
        };
        if !ok {
            return Err(OciError::PredicateType {
                expected: self.wanted.unwrap_or(COSIGN_SIGN_PREDICATE).to_owned(),
                found,
            });
        }
        let mut obj = report_json(&verified);
        if self.wanted.is_some() {
            obj.insert(
                "predicate".into(),
                cosign::bundle_predicate(bundle_json).unwrap_or(Value::Null),
            );
        }
        Ok(obj)
    }
}

/// Finds the child of an index for `platform` (`os/arch[/variant]`).
async fn select_platform(
    client: &Client,
    digest: &str,
    resolved: Option<Manifest>,
    platform: &str,
) -> Result<(String, String), OciError> {
    let fail = |detail: String| OciError::Platform {
        platform: platform.to_owned(),
        detail,
    };
    let m = match resolved {
        Some(m) => m,
        None => client
            .manifest(digest)
            .await?
            .ok_or_else(|| fail(format!("the image {digest} is not in the registry")))?,
    };
    let Some(children) = m.json["manifests"].as_array() else {
        return Err(fail(format!(
            "the image is a single manifest ({}), not an index",
            m.media_type
        )));
    };
    let mut parts = platform.split('/');
    let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
    for c in children {
        let p = &c["platform"];
        let matches = p["os"].as_str() == os
            && p["architecture"].as_str() == arch
            && (variant.is_none() || p["variant"].as_str() == variant);
        if let (true, Some(d)) = (matches, c["digest"].as_str()) {
            return Ok((platform.to_owned(), d.to_owned()));
        }
    }
    let have: Vec<String> = children
        .iter()
        .map(|c| {
            let p = &c["platform"];
            format!(
                "{}/{}",
                p["os"].as_str().unwrap_or("?"),
                p["architecture"].as_str().unwrap_or("?")
            )
        })
        .collect();
    Err(fail(format!(
        "no child manifest for it; the index has {}",
        have.join(", ")
    )))
}
