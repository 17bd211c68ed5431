//! The instance's client trust configuration (`application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`) served at `GET /api/v1/trust-config`: a trusted root v0.1 with this server's CA, transparency log, CT log and TSA, and a signing config v0.2 with its URLs.
//!
//! Key ids, as the clients match them:
//!
//! - `tlogs[].logId.keyId`: the log is a Rekor v2 (tlog-tiles) log whose checkpoints are
//!   C2SP signed notes, so the id is the full SHA-256 of `name || "\n" || 0x01 || key`:
//!   its first four bytes are the note signature's key hint, which is what
//!   sigstore-python compares with the entry's log id (`checkpoint.py`), and entries
//!   name the same 32 bytes as `logId.keyId` (public-good's Rekor v2 log does the same).
//! - the same log again under its Rekor v1 face: the ECDSA P-256 key that signs SETs
//!   and the v1 checkpoint signature line, with `logId.keyId` = SHA-256 of its DER
//!   SubjectPublicKeyInfo (Rekor v1's log ID). The signing config offers the log as
//!   `majorApiVersion` 2 and 1; clients pick 2 unless told otherwise.
//! - `ctlogs[].logId.keyId`: SHA-256 of the CT key's DER SubjectPublicKeyInfo, the
//!   RFC 6962 log id every SCT carries.
//!
//! Every `validFor.start` is the CA root's `notBefore` (generation time, in the past).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_ca::CertificateAuthority;
use vouch_oidc::DevIssuer;
use vouch_timestamp::TimestampAuthority;

use crate::app::AppState;

/// Media type of the whole document.
pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";
/// Media type of the trusted root part.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// Media type of the signing config part.
pub const SIGNING_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";

/// DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// What the trust configuration is built from.
pub struct Inputs<'a> {
    pub public_url: &'a str,
    pub main_log: &'a crate::cluster::LogWriter,
    /// The key of the same log's Rekor v1 face.
    pub rekor_v1: &'a crate::rekor::V1Key,
    pub ca: &'a CertificateAuthority,
    pub ct_origin: &'a str,
    pub tsa: &'a TimestampAuthority,
    pub dev_issuer: Option<&'a DevIssuer>,
}

/// The Rekor v2 log id of a signed-note Ed25519 key: SHA-256(name || "\n" || 0x01 || key).
pub fn note_log_id(name: &str, public_key: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([0x01]);
    h.update(public_key);
    h.finalize().into()
}

/// RFC 3339 UTC with seconds, as protobuf JSON `Timestamp`s are written.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative here).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn subject_of(der: &[u8]) -> Value {
    use der::Decode;
    let mut out = serde_json::Map::new();
    if let Ok(cert) = x509_cert::Certificate::from_der(der) {
        for rdn in cert.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                let name = match atv.oid {
                    const_oid::db::rfc4519::O => "organization",
                    const_oid::db::rfc4519::CN => "commonName",
                    _ => continue,
                };
                let value = der::asn1::Utf8StringRef::try_from(&atv.value)
                    .map(|s| s.as_str().to_owned())
                    .or_else(|_| {
                        der::asn1::PrintableStringRef::try_from(&atv.value)
                            .map(|s| s.as_str().to_owned())
                    });
                if let Ok(v) = value {
                    out.insert(name.to_owned(), Value::String(v));
                }
            }
        }
    }
    Value::Object(out)
}

/// Builds the document. Errors are internal (a certificate that does not re-encode).
pub fn build(i: &Inputs<'_>) -> Result<Bytes, String> {
    let base = i.public_url;
    let start = rfc3339(i.ca.root_validity().0);
    let valid_for = json!({ "start": start });

    let verifier = i.main_log.verifier();
    let log_key = verifier.public_key();
    let mut log_spki = ED25519_SPKI_PREFIX.to_vec();
    log_spki.extend_from_slice(&log_key);
    let log_id = note_log_id(verifier.name(), &log_key);

    let ct = i.ca.ct_log();
    let tsa_chain: Vec<Value> = i
        .tsa
        .chain_pem()
        .iter()
        .map(|pem| {
            vouch_ca::pki::certificate_der_from_pem(pem, "TSA certificate")
                .map(|der| json!({ "rawBytes": b64(&der) }))
                .map_err(|e| format!("{}: {e}", e.code()))
        })
        .collect::<Result<_, _>>()?;
    let tsa_start = rfc3339(i.tsa.signer_validity().0);

    let trusted_root = json!({
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [{
            "baseUrl": base,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": b64(&log_spki),
                "keyDetails": "PKIX_ED25519",
                "validFor": valid_for,
            },
            "logId": { "keyId": b64(&log_id) },
        }, {
            "baseUrl": base,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": b64(i.rekor_v1.spki_der()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": valid_for,
            },
            "logId": { "keyId": b64(i.rekor_v1.log_id()) },
        }],
        "certificateAuthorities": [{
            "subject": subject_of(i.ca.root_der()),
            "uri": base,
            "certChain": { "certificates": [
                { "rawBytes": b64(i.ca.intermediate_der()) },
                { "rawBytes": b64(i.ca.root_der()) },
            ]},
            "validFor": valid_for,
        }],
        "ctlogs": [{
            "baseUrl": format!("{base}/ct"),
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": b64(ct.public_key_der()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": valid_for,
            },
            "logId": { "keyId": b64(&ct.log_id()) },
        }],
        "timestampAuthorities": [{
            "subject": subject_of(i.tsa.root_der()),
            "uri": format!("{base}/api/v1/timestamp"),
            "certChain": { "certificates": tsa_chain },
            "validFor": { "start": tsa_start },
        }],
    });
    let operator = base
        .split_once("://")
        .map_or(base, |(_, rest)| rest)
        .to_owned();
    let service = |url: String, version: u32| {
        json!({
            "url": url,
            "majorApiVersion": version,
            "validFor": valid_for,
            "operator": operator,
        })
    };
    let oidc_urls: Vec<Value> = i
        .dev_issuer
        .map(|d| service(d.issuer().to_owned(), 1))
        .into_iter()
        .collect();
    let signing_config = json!({
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [service(base.to_owned(), 1)],
        "oidcUrls": oidc_urls,
        "rekorTlogUrls": [service(base.to_owned(), 2), service(base.to_owned(), 1)],
        "tsaUrls": [service(format!("{base}/api/v1/timestamp"), 1)],
        "rekorTlogConfig": { "selector": "ANY" },
        "tsaConfig": { "selector": "ANY" },
    });
    let doc = json!({
        "mediaType": MEDIA_TYPE,
        "trustedRoot": trusted_root,
        "signingConfig": signing_config,
    });
    let _ = i.ct_origin;
    serde_json::to_vec_pretty(&doc)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// `GET /api/v1/trust-config`.
pub async fn serve(State(app): State<Arc<AppState>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, MEDIA_TYPE),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        app.sigstore.trust_config.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        let at = |s| UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(1_758_585_600)), "2025-09-23T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400 + 3_661)), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn note_log_id_matches_public_good_rekor_v2() {
        // log2025-1.rekor.sigstore.dev, from the embedded public-good trusted root.
        let spki = STANDARD
            .decode("MCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244=")
            .unwrap();
        let key: [u8; 32] = spki[12..].try_into().unwrap();
        let id = note_log_id("log2025-1.rekor.sigstore.dev", &key);
        assert_eq!(b64(&id), "zxGZFVvd0FEmjR8WrFwMdcAJ9vtaY/QXf44Y1wUeP6A=");
    }
}
