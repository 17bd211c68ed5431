//! Test material generated locally: a vouch CA (with its CT log key), a vouch TSA, a
//! P-256 transparency-log key that signs checkpoints, and the trusted root naming them.

mod checks;
mod flow;

use std::sync::Arc;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};
use vouch_ca::{
    CaConfig, CaMaterial, CertificateAuthority, CertificateIdentity, San, SigningRequest,
    SystemClock,
};
use vouch_timestamp::{TimestampAuthority, TsaConfig, TsaMaterial};

pub(crate) const IDENTITY: &str =
    "https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main";
pub(crate) const ISSUER: &str = "https://token.actions.githubusercontent.com";
pub(crate) const ORIGIN: &str = "vouch.test/log";

/// Everything a signing touches, generated in memory.
pub(crate) struct Material {
    pub(crate) ca: CertificateAuthority,
    pub(crate) tsa: TimestampAuthority,
    pub(crate) log_key: SigningKey,
}

impl Material {
    pub(crate) fn generate() -> Self {
        let clock: Arc<dyn vouch_ca::Clock> = Arc::new(SystemClock);
        let now = SystemTime::now();
        let ca_material = CaMaterial::generate(&CaConfig::default(), now).unwrap();
        let ca = CertificateAuthority::new(ca_material, clock.clone()).unwrap();
        let tsa_material = TsaMaterial::generate(&TsaConfig::default(), now).unwrap();
        let tsa = TimestampAuthority::new(tsa_material, clock).unwrap();
        Material {
            ca,
            tsa,
            log_key: SigningKey::random(&mut rand_core::OsRng),
        }
    }

    pub(crate) fn log_spki(&self) -> Vec<u8> {
        self.log_key
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    /// The trusted root naming this material.
    pub(crate) fn trusted_root_json(&self) -> String {
        let ca_chain: Vec<String> = self
            .ca
            .chain_pem()
            .iter()
            .map(|pem| B64.encode(pem_der(pem)))
            .collect();
        let tsa_chain: Vec<String> = self
            .tsa
            .chain_pem()
            .iter()
            .map(|pem| B64.encode(pem_der(pem)))
            .collect();
        let ct_key = self.ca.ct_log().public_key_der().to_vec();
        let log_key = self.log_spki();
        let certs = |chain: &[String]| {
            chain
                .iter()
                .map(|c| serde_json::json!({"rawBytes": c}))
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "http://127.0.0.1",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": B64.encode(&log_key), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": B64.encode(Sha256::digest(&log_key))}
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "vouch", "commonName": "vouch"},
                "uri": "http://127.0.0.1",
                "certChain": {"certificates": certs(&ca_chain)},
                "validFor": {"start": "2020-01-01T00:00:00Z"}
            }],
            "ctlogs": [{
                "baseUrl": "http://127.0.0.1",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": B64.encode(&ct_key), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": B64.encode(Sha256::digest(&ct_key))}
            }],
            "timestampAuthorities": [{
                "subject": {"organization": "vouch", "commonName": "vouch tsa"},
                "uri": "http://127.0.0.1",
                "certChain": {"certificates": certs(&tsa_chain)},
                "validFor": {"start": "2020-01-01T00:00:00Z"}
            }]
        })
        .to_string()
    }

    /// A signing config pointing every service at `base`.
    pub(crate) fn signing_config_json(base: &str) -> String {
        let valid = serde_json::json!({"start": "2020-01-01T00:00:00Z"});
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [{"url": base, "majorApiVersion": 1, "validFor": valid, "operator": "test"}],
            "oidcUrls": [],
            "rekorTlogUrls": [{"url": base, "majorApiVersion": 2, "validFor": valid, "operator": "test"}],
            "tsaUrls": [{"url": format!("{base}/api/v1/timestamp"), "majorApiVersion": 1, "validFor": valid, "operator": "test"}],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"}
        })
        .to_string()
    }

    /// The CA's answer to a CSR (JSON body of a `signingCert` request).
    pub(crate) fn issue_chain(&self, request_json: &[u8]) -> Vec<Vec<u8>> {
        let request = SigningRequest::from_json(request_json).unwrap();
        let key = request.prove_possession("unused for CSRs").unwrap();
        let issued = self.ca.issue(&key, &identity()).unwrap();
        let mut chain = vec![issued.certificate_der.clone()];
        chain.extend(self.ca.chain_pem().iter().map(|p| pem_der(p)));
        chain
    }

    /// Signs a checkpoint note for `size` and `root` with the log key (or `key`).
    pub(crate) fn checkpoint(
        &self,
        size: u64,
        root: &[u8; 32],
        key: Option<&SigningKey>,
    ) -> String {
        let body = format!("{ORIGIN}\n{size}\n{}\n", B64.encode(root));
        let key = key.unwrap_or(&self.log_key);
        let signature: DerSignature = key.sign(body.as_bytes());
        let spki = key.verifying_key().to_public_key_der().unwrap();
        let hint = &Sha256::digest(spki.as_bytes())[..4];
        let mut sig = hint.to_vec();
        sig.extend_from_slice(signature.as_bytes());
        format!("{body}\n\u{2014} {ORIGIN} {}\n", B64.encode(sig))
    }
}

pub(crate) fn identity() -> CertificateIdentity {
    CertificateIdentity {
        san: San::Uri(IDENTITY.into()),
        issuer: ISSUER.into(),
        extensions: Vec::new(),
    }
}

pub(crate) fn pem_der(pem: &str) -> Vec<u8> {
    der::pem::decode_vec(pem.as_bytes()).unwrap().1
}

/// The `signingCert` request body our client sends for `key`.
pub(crate) fn csr_request(key: &sigstore_crypto::KeyPair) -> Vec<u8> {
    let der = crate::fulcio::build_csr(key).unwrap();
    let pem =
        der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &der).unwrap();
    serde_json::to_vec(&serde_json::json!({"certificateSigningRequest": B64.encode(pem)})).unwrap()
}

/// A canonicalized hashedrekord v0.0.2 body.
pub(crate) fn hashedrekord_body(digest: &[u8; 32], signature: &[u8], cert_der: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": B64.encode(digest)},
            "signature": {
                "content": B64.encode(signature),
                "verifier": {
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "x509Certificate": {"rawBytes": B64.encode(cert_der)}
                }
            }
        }}
    }))
    .unwrap()
}

/// A log of four entries whose last is `body`: the entry JSON the log would return,
/// with the checkpoint signed by `checkpoint_key` (default: the trusted log key).
pub(crate) fn log_entry_json(
    material: &Material,
    body: &[u8],
    checkpoint_key: Option<&SigningKey>,
    tamper_proof: bool,
) -> serde_json::Value {
    use sigstore_merkle::{hash_children, hash_leaf};
    let leaves: Vec<_> = [b"a".as_slice(), b"b", b"c"]
        .iter()
        .map(|l| hash_leaf(l))
        .chain(std::iter::once(hash_leaf(body)))
        .collect();
    let left = hash_children(&leaves[0], &leaves[1]);
    let right = hash_children(&leaves[2], &leaves[3]);
    let root = hash_children(&left, &right);
    let mut proof = [*leaves[2].as_bytes(), *left.as_bytes()];
    if tamper_proof {
        proof[1][0] ^= 1;
    }
    let root_bytes: [u8; 32] = *root.as_bytes();
    let log_id = Sha256::digest(material.log_spki());
    serde_json::json!({
        "logIndex": "3",
        "logId": {"keyId": B64.encode(log_id)},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
        "inclusionProof": {
            "logIndex": "3",
            "rootHash": B64.encode(root_bytes),
            "treeSize": "4",
            "hashes": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
            "checkpoint": {"envelope": material.checkpoint(4, &root_bytes, checkpoint_key)}
        },
        "canonicalizedBody": B64.encode(body)
    })
}
