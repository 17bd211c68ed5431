//! `KeylessSigner`: one fresh in-memory P-256 key and the certificate the CA issued for
//! it; each signing timestamps the signature, logs it, and assembles a bundle v0.3.

use std::time::SystemTime;

use der::Decode;
use sha2::{Digest, Sha256};
use sigstore_bundle::{BundleV03, VerificationMaterialV03};
use sigstore_crypto::KeyPair;
use sigstore_types::bundle::{MessageDigest, MessageSignature, SignatureContent};
use sigstore_types::HashAlgorithm;
use sigstore_types::{
    DerCertificate, DsseEnvelope, DsseSignature, KeyId, PayloadBytes, Sha256Hash, TimestampToken,
    TransparencyLogEntry,
};

use crate::config::TrustConfig;
use crate::error::SignError;
use crate::{fulcio, rekor, rekor_v1, tsa};

/// Which Rekor API a signer writes its log entries through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekorVersion {
    /// `POST /api/v1/log/entries`: a `hashedrekord` or `dsse` 0.0.1 entry with an
    /// integrated time, a signed entry timestamp (SET) and an inclusion proof. No RFC
    /// 3161 timestamp is requested: the SET is the signing time (PEP 740 attestations
    /// have no place for one).
    V1,
    /// `POST /api/v2/log/entries`: a `hashedrekord` 0.0.2 entry with an inclusion
    /// proof; the signing time comes from the TSAs.
    V2,
}

/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Cap on a statement to sign: statements are metadata, not artifacts.
pub const MAX_STATEMENT_BYTES: usize = 4 * 1024 * 1024;

/// Who a bundle says signed.
#[derive(Debug, Clone)]
enum Material {
    /// Keyless: the short-lived certificate the CA issued for the key.
    /// `chain` holds the DER certificates the CA sent after the leaf.
    Certificate {
        der: Vec<u8>,
        chain: Vec<Vec<u8>>,
        not_after: SystemTime,
    },
    /// A managed key: its DER SubjectPublicKeyInfo and the bundle's `publicKey.hint`.
    PublicKey { spki_der: Vec<u8>, hint: String },
}

/// A signer bound to one short-lived certificate (keyless, [`KeylessSigner::new`]) or to
/// a managed key ([`KeylessSigner::managed_key`]). Cheap to keep for the certificate's
/// lifetime (10 minutes at vouch's CA); every signing call reuses the key and
/// certificate.
pub struct KeylessSigner {
    key: KeyPair,
    material: Material,
    config: TrustConfig,
    http: reqwest::Client,
    rekor_version: RekorVersion,
}

impl std::fmt::Debug for KeylessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessSigner")
            .field("services", self.config.services())
            .finish_non_exhaustive()
    }
}

impl KeylessSigner {
    /// Generates a fresh in-memory P-256 key, sends a CSR for it with `identity_token`
    /// to the CA, and checks the certificate: it chains to a CA of the trusted root,
    /// its embedded SCT verifies against a CT log of the trusted root, and it
    /// certifies our key.
    pub async fn new(
        cfg: &TrustConfig,
        identity_token: &str,
        http: reqwest::Client,
    ) -> Result<Self, SignError> {
        fulcio::check_token_shape(identity_token)?;
        let key =
            KeyPair::generate_ecdsa_p256().map_err(|e| SignError::local("generate key", e))?;
        let checked = fulcio::request_certificate(
            &http,
            &cfg.services().ca_url,
            identity_token,
            &key,
            cfg.trusted_root(),
        )
        .await?;
        let leaf = x509_cert::Certificate::from_der(&checked.leaf_der).map_err(|e| {
            SignError::CaResponseMalformed {
                detail: format!("leaf certificate does not parse: {e}"),
            }
        })?;
        let not_after = leaf.tbs_certificate.validity.not_after.to_system_time();
        let material = Material::Certificate {
            der: checked.leaf_der,
            chain: checked.chain_ders,
            not_after,
        };
        Ok(Self::with_material(cfg, key, material, http))
    }

    /// A signer for a managed key: an unencrypted ECDSA P-256 private key in PEM, PKCS#8
    /// (`PRIVATE KEY`, as `openssl genpkey` and `vouch keygen signing-key` write) or SEC1
    /// (`EC PRIVATE KEY`). No certificate is asked for: bundles carry a `publicKey`
    /// hint (base64 of SHA-256 of the DER public key, as cosign and sigstore-go write)
    /// and the log entry names the public key. `SIGN_E023` for a key that cannot be
    /// used.
    pub fn managed_key(
        cfg: &TrustConfig,
        private_key_pem: &str,
        http: reqwest::Client,
    ) -> Result<Self, SignError> {
        let key = crate::managed::load_private_key(private_key_pem)?;
        let spki_der = key
            .public_key_der()
            .map_err(|e| SignError::local("encode public key", e))?
            .as_bytes()
            .to_vec();
        let hint = crate::managed::hint(&spki_der);
        let material = Material::PublicKey { spki_der, hint };
        Ok(Self::with_material(cfg, key, material, http))
    }

    /// A signer of `key` whose bundles carry `material`, logging to Rekor v2 when the
    /// trust configuration names a v2 log, else to Rekor v1.
    fn with_material(
        cfg: &TrustConfig,
        key: KeyPair,
        material: Material,
        http: reqwest::Client,
    ) -> Self {
        let rekor_version = if cfg.services().rekor_urls.is_empty() {
            RekorVersion::V1
        } else {
            RekorVersion::V2
        };
        KeylessSigner {
            key,
            material,
            config: cfg.clone(),
            http,
            rekor_version,
        }
    }

    /// The managed key's DER SubjectPublicKeyInfo (None for a keyless signer).
    pub fn public_key_der(&self) -> Option<&[u8]> {
        match &self.material {
            Material::PublicKey { spki_der, .. } => Some(spki_der),
            Material::Certificate { .. } => None,
        }
    }

    fn verifier(&self) -> rekor::Verifier<'_> {
        match &self.material {
            Material::Certificate { der, .. } => rekor::Verifier::Certificate(der),
            Material::PublicKey { spki_der, .. } => rekor::Verifier::PublicKey(spki_der),
        }
    }

    fn bundle(&self, content: SignatureContent) -> BundleV03 {
        let verification = match &self.material {
            Material::Certificate { der, .. } => {
                VerificationMaterialV03::Certificate(DerCertificate::new(der.clone()))
            }
            Material::PublicKey { hint, .. } => {
                VerificationMaterialV03::PublicKey { hint: hint.clone() }
            }
        };
        BundleV03::new(verification, content)
    }

    /// Writes log entries through `version` from now on. By default a signer uses
    /// Rekor v2 when the signing config offers a v2 log, else v1. Refused
    /// (`SIGN_E002`) when the signing config offers no log of that version.
    pub fn with_rekor_version(mut self, version: RekorVersion) -> Result<Self, SignError> {
        let services = self.config.services();
        let (urls, n) = match version {
            RekorVersion::V1 => (&services.rekor_v1_urls, 1),
            RekorVersion::V2 => (&services.rekor_urls, 2),
        };
        if urls.is_empty() {
            return Err(SignError::NoService {
                service: "transparency log",
                detail: format!(
                    "Rekor v{n} was asked for but the signing config offers no rekorTlogUrls \
                     entry valid now with majorApiVersion {n}"
                ),
            });
        }
        if version == RekorVersion::V2 && services.tsa_urls.is_empty() {
            return Err(SignError::NoService {
                service: "timestamp authority",
                detail: "Rekor v2 bundles need an RFC 3161 timestamp: the signing config \
                         offers no tsaUrls entry valid now"
                    .into(),
            });
        }
        self.rekor_version = version;
        Ok(self)
    }

    /// The Rekor API this signer writes through.
    pub fn rekor_version(&self) -> RekorVersion {
        self.rekor_version
    }

    /// Signs an in-toto Statement as a DSSE envelope logged in a Rekor **v1** log as a
    /// `dsse` 0.0.1 entry, whatever this signer's default version: the bundle v0.3 JSON
    /// has one tlog entry with `integratedTime`, `inclusionPromise` (SET) and
    /// `inclusionProof`, and no RFC 3161 timestamp. This is what a PEP 740 attestation
    /// carries (`vouch attest pypi`). `SIGN_E002` when no v1 log is offered.
    pub async fn sign_in_toto_rekor_v1(&self, statement_json: &[u8]) -> Result<Vec<u8>, SignError> {
        if self.config.services().rekor_v1_urls.is_empty() {
            return Err(SignError::NoService {
                service: "transparency log",
                detail: "a Rekor v1 entry was asked for but the signing config offers no \
                         rekorTlogUrls entry valid now with majorApiVersion 1"
                    .into(),
            });
        }
        self.sign_statement(statement_json, RekorVersion::V1).await
    }

    /// The DER leaf certificate (empty for a managed key).
    pub fn certificate_der(&self) -> &[u8] {
        match &self.material {
            Material::Certificate { der, .. } => der,
            Material::PublicKey { .. } => &[],
        }
    }

    /// The DER certificates the CA sent after the leaf (intermediates, then usually the
    /// root), in its order: what cosign's legacy `dev.sigstore.cosign/chain` annotation
    /// holds (empty for a managed key).
    pub fn certificate_chain_der(&self) -> &[Vec<u8>] {
        match &self.material {
            Material::Certificate { chain, .. } => chain,
            Material::PublicKey { .. } => &[],
        }
    }

    /// The certificate's identity (its SAN) and OIDC issuer, as a verifier will see them;
    /// for a managed key, `key:` and its hint, and no issuer.
    pub fn identity(&self) -> (String, Option<String>) {
        let der = match &self.material {
            Material::Certificate { der, .. } => der,
            Material::PublicKey { hint, .. } => return (format!("key:{hint}"), None),
        };
        match sigstore_crypto::parse_certificate_info(&DerCertificate::new(der.clone())) {
            Ok(info) => (
                info.identity
                    .as_ref()
                    .map(|san| san.as_str().to_string())
                    .unwrap_or_default(),
                info.issuer.clone(),
            ),
            Err(_) => (String::new(), None),
        }
    }

    /// Signs an artifact given by its SHA-256 (hashedrekord) and returns bundle v0.3
    /// JSON with a `messageSignature`.
    pub async fn sign_artifact_digest(&self, sha256: [u8; 32]) -> Result<Vec<u8>, SignError> {
        self.check_still_valid()?;
        let digest = Sha256Hash::from(sha256);
        let signature = self
            .key
            .sign_digest(&digest)
            .map_err(|e| SignError::local("sign digest", e))?;
        let (timestamps, entries) = match self.rekor_version {
            RekorVersion::V2 => self.witness(sha256, signature.as_bytes()).await?,
            RekorVersion::V1 => (
                Vec::new(),
                self.log_v1(&rekor_v1::Proposal::HashedRekord {
                    digest: sha256,
                    signature: signature.as_bytes(),
                })
                .await?,
            ),
        };
        let mut bundle = self.bundle(SignatureContent::MessageSignature(
            MessageSignature::new(signature)
                .with_message_digest(MessageDigest::new(HashAlgorithm::Sha2256, digest.into())),
        ));
        for entry in entries {
            bundle = bundle.with_tlog_entry(entry);
        }
        for token in timestamps {
            bundle = bundle.with_rfc3161_timestamp(TimestampToken::new(token));
        }
        encode(bundle)
    }

    /// Signs an in-toto Statement (JSON, used byte for byte as the payload) as a DSSE
    /// envelope of type `application/vnd.in-toto+json` and returns bundle v0.3 JSON.
    pub async fn sign_in_toto(&self, statement_json: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_statement(statement_json, self.rekor_version)
            .await
    }

    async fn sign_statement(
        &self,
        statement_json: &[u8],
        version: RekorVersion,
    ) -> Result<Vec<u8>, SignError> {
        check_statement(statement_json)?;
        self.check_still_valid()?;
        let pae = pae(IN_TOTO_PAYLOAD_TYPE, statement_json);
        let signature = self
            .key
            .sign(&pae)
            .map_err(|e| SignError::local("sign envelope", e))?;
        let (timestamps, entries) = match version {
            RekorVersion::V2 => {
                let pae_digest: [u8; 32] = Sha256::digest(&pae).into();
                self.witness(pae_digest, signature.as_bytes()).await?
            }
            RekorVersion::V1 => {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD;
                let envelope_json = serde_json::json!({
                    "payload": b64.encode(statement_json),
                    "payloadType": IN_TOTO_PAYLOAD_TYPE,
                    "signatures": [{"sig": b64.encode(signature.as_bytes())}],
                })
                .to_string();
                let proposal = rekor_v1::Proposal::Dsse {
                    envelope_json: &envelope_json,
                    payload: statement_json,
                    signature: signature.as_bytes(),
                };
                (Vec::new(), self.log_v1(&proposal).await?)
            }
        };
        let envelope = DsseEnvelope::new(
            IN_TOTO_PAYLOAD_TYPE.to_string(),
            PayloadBytes::new(statement_json.to_vec()),
            DsseSignature::new(signature, KeyId::default()),
        );
        let mut bundle = self.bundle(SignatureContent::DsseEnvelope(envelope));
        for entry in entries {
            bundle = bundle.with_tlog_entry(entry);
        }
        for token in timestamps {
            bundle = bundle.with_rfc3161_timestamp(TimestampToken::new(token));
        }
        encode(bundle)
    }

    /// Logs `proposal` at every selected Rekor v1 log; each answer is checked (body,
    /// SET, integrated time, inclusion proof and checkpoint) before it is kept.
    async fn log_v1(
        &self,
        proposal: &rekor_v1::Proposal<'_>,
    ) -> Result<Vec<TransparencyLogEntry>, SignError> {
        let urls = &self.config.services().rekor_v1_urls;
        let mut entries = Vec::with_capacity(urls.len());
        for url in urls {
            entries.push(
                rekor_v1::submit(
                    &self.http,
                    url,
                    proposal,
                    self.verifier(),
                    self.config.trusted_root(),
                )
                .await?,
            );
        }
        Ok(entries)
    }

    /// Timestamps the signature at every selected TSA, then logs `digest` + signature
    /// at every selected log; each answer is checked before it is kept.
    async fn witness(
        &self,
        digest: [u8; 32],
        signature: &[u8],
    ) -> Result<(Vec<Vec<u8>>, Vec<TransparencyLogEntry>), SignError> {
        let services = self.config.services();
        let mut timestamps = Vec::with_capacity(services.tsa_urls.len());
        for url in &services.tsa_urls {
            timestamps.push(
                tsa::timestamp(&self.http, url, signature, self.config.trusted_root()).await?,
            );
        }
        let submission = rekor::Submission {
            digest,
            signature,
            verifier: self.verifier(),
        };
        let mut entries = Vec::with_capacity(services.rekor_urls.len());
        for url in &services.rekor_urls {
            entries.push(
                rekor::submit(&self.http, url, &submission, self.config.trusted_root()).await?,
            );
        }
        Ok((timestamps, entries))
    }

    fn check_still_valid(&self) -> Result<(), SignError> {
        let Material::Certificate { not_after, .. } = &self.material else {
            return Ok(());
        };
        if SystemTime::now() >= *not_after {
            return Err(SignError::local(
                "certificate expired",
                "the short-lived certificate is no longer valid; create a new signer",
            ));
        }
        Ok(())
    }
}

/// DSSE pre-authentication encoding (DSSE v1 protocol).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Refuses what is not an in-toto Statement v1 (or v0.1): call it before asking for a
/// certificate ([`KeylessSigner::sign_in_toto`] checks again).
pub fn check_statement(statement: &[u8]) -> Result<(), SignError> {
    let invalid = |detail: String| SignError::StatementInvalid { detail };
    if statement.len() > MAX_STATEMENT_BYTES {
        return Err(invalid(format!(
            "expected at most {MAX_STATEMENT_BYTES} bytes, found {}",
            statement.len()
        )));
    }
    let value: serde_json::Value =
        serde_json::from_slice(statement).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let kind = value.get("_type").and_then(|t| t.as_str()).unwrap_or("");
    if kind != "https://in-toto.io/Statement/v1" && kind != "https://in-toto.io/Statement/v0.1" {
        return Err(invalid(format!(
            "expected _type https://in-toto.io/Statement/v1, found {kind:?}"
        )));
    }
    let subjects = value
        .get("subject")
        .and_then(|s| s.as_array())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("expected a non-empty subject array".into()))?;
    for (i, subject) in subjects.iter().enumerate() {
        let digests = subject
            .get("digest")
            .and_then(|d| d.as_object())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| invalid(format!("subject {i}: expected a non-empty digest object")))?;
        if digests.values().any(|v| !v.is_string()) {
            return Err(invalid(format!(
                "subject {i}: digest values must be strings"
            )));
        }
    }
    if !value.get("predicateType").is_some_and(|p| p.is_string()) {
        return Err(invalid("expected a predicateType string".into()));
    }
    serde_json::from_slice::<sigstore_types::Statement>(statement)
        .map_err(|e| invalid(format!("not an in-toto Statement: {e}")))?;
    Ok(())
}

fn encode(bundle: BundleV03) -> Result<Vec<u8>, SignError> {
    let json = bundle
        .into_bundle()
        .to_json_pretty()
        .map_err(|e| SignError::local("encode bundle", e))?;
    Ok(json.into_bytes())
}
