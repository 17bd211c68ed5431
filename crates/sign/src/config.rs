//! The client trust configuration (`application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`):
//! the trusted root every answer is checked against, and the services chosen from the
//! signing config (v0.2) the way sigstore-python chooses them.

use jiff::Timestamp;
use sigstore_trust_root::{ServiceConfiguration, ServiceEndpoint, ServiceSelector};
use sigstore_trust_root::{SigningConfig, TrustedRoot};

use crate::error::SignError;
use crate::http;

/// Media type of a client trust configuration.
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// Fulcio's signing config `majorApiVersion` 1 is the API served at `/api/v2/signingCert`.
const FULCIO_VERSIONS: &[u32] = &[1];
/// Rekor v2 logs (`/api/v2/log/entries`), the default.
const REKOR_VERSIONS: &[u32] = &[2];
/// Rekor v1 logs (`/api/v1/log/entries`), written when asked or when no v2 log is offered.
const REKOR_V1_VERSIONS: &[u32] = &[1];
const TSA_VERSIONS: &[u32] = &[1];

/// A parsed client trust configuration with its services selected.
#[derive(Debug, Clone)]
pub struct TrustConfig {
    trusted_root_json: Vec<u8>,
    trusted_root: TrustedRoot,
    services: Services,
}

/// The endpoints one signing submits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    /// Fulcio base URL (`{ca}/api/v2/signingCert`).
    pub ca_url: String,
    /// Rekor v2 base URLs (`{rekor}/api/v2/log/entries`), one entry per log.
    pub rekor_urls: Vec<String>,
    /// Rekor v1 base URLs (`{rekor}/api/v1/log/entries`), chosen among the
    /// `majorApiVersion` 1 entries the same way; used by a signer set to Rekor v1.
    pub rekor_v1_urls: Vec<String>,
    /// Full RFC 3161 endpoints, one timestamp per TSA. May be empty when only Rekor v1
    /// logs are offered (their SET is the signing time).
    pub tsa_urls: Vec<String>,
}

impl TrustConfig {
    /// Parses a client trust configuration document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SignError> {
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| SignError::ConfigMalformed {
                what: "client trust config",
                detail: e.to_string(),
            })?;
        let media_type = doc.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
        if media_type != CLIENT_TRUST_CONFIG_MEDIA_TYPE {
            return Err(SignError::ConfigMalformed {
                what: "client trust config",
                detail: format!(
                    "expected mediaType {CLIENT_TRUST_CONFIG_MEDIA_TYPE}, found {media_type:?}"
                ),
            });
        }
        let part = |name: &'static str| {
            doc.get(name)
                .filter(|v| v.is_object())
                .ok_or(SignError::ConfigMalformed {
                    what: "client trust config",
                    detail: format!("expected an object {name:?}, found none"),
                })
                .and_then(|v| {
                    serde_json::to_vec(v).map_err(|e| SignError::local("re-encode trust config", e))
                })
        };
        Self::from_parts(&part("trustedRoot")?, &part("signingConfig")?)
    }

    /// Builds the configuration from a trusted root and a signing config (v0.2)
    /// given separately, as the conformance protocol's `--trusted-root` and
    /// `--signing-config` do.
    pub fn from_parts(trusted_root: &[u8], signing_config: &[u8]) -> Result<Self, SignError> {
        Self::from_parts_at(trusted_root, signing_config, Timestamp::now())
    }

    pub(crate) fn from_parts_at(
        trusted_root_json: &[u8],
        signing_config: &[u8],
        now: Timestamp,
    ) -> Result<Self, SignError> {
        let root_text =
            std::str::from_utf8(trusted_root_json).map_err(|e| SignError::ConfigMalformed {
                what: "trusted root",
                detail: e.to_string(),
            })?;
        let trusted_root =
            TrustedRoot::from_json(root_text).map_err(|e| SignError::ConfigMalformed {
                what: "trusted root",
                detail: e.to_string(),
            })?;
        if !trusted_root
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(SignError::ConfigMalformed {
                what: "trusted root",
                detail: format!(
                    "expected mediaType application/vnd.dev.sigstore.trustedroot+json;version=0.1, found {:?}",
                    trusted_root.media_type
                ),
            });
        }
        for (count, what) in [
            (
                trusted_root.certificate_authorities.len(),
                "certificateAuthorities",
            ),
            (trusted_root.ctlogs.len(), "ctlogs"),
            (trusted_root.tlogs.len(), "tlogs"),
            (
                trusted_root.timestamp_authorities.len(),
                "timestampAuthorities",
            ),
        ] {
            if count == 0 {
                return Err(SignError::ConfigMalformed {
                    what: "trusted root",
                    detail: format!("expected at least one entry in {what}, found none"),
                });
            }
        }
        let config_text =
            std::str::from_utf8(signing_config).map_err(|e| SignError::ConfigMalformed {
                what: "signing config",
                detail: e.to_string(),
            })?;
        let signing_config =
            SigningConfig::from_json(config_text).map_err(|e| SignError::ConfigMalformed {
                what: "signing config",
                detail: e.to_string(),
            })?;
        let services = Services::select(&signing_config, now)?;
        Ok(TrustConfig {
            trusted_root_json: trusted_root_json.to_vec(),
            trusted_root,
            services,
        })
    }

    /// The public-good instance, from the trusted root and signing config embedded in
    /// sigstore-trust-root 0.15.1 (its signing config offers only Rekor v1 today, so a
    /// signer made from it writes Rekor v1 entries).
    pub fn public_good() -> Result<Self, SignError> {
        Self::from_parts(
            sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT.as_bytes(),
            sigstore_trust_root::SIGSTORE_PRODUCTION_SIGNING_CONFIG.as_bytes(),
        )
    }

    /// The Sigstore staging instance, from the embedded trusted root and signing config.
    pub fn staging() -> Result<Self, SignError> {
        Self::from_parts(
            sigstore_trust_root::SIGSTORE_STAGING_TRUSTED_ROOT.as_bytes(),
            sigstore_trust_root::SIGSTORE_STAGING_SIGNING_CONFIG.as_bytes(),
        )
    }

    /// Fetches `GET {server}/api/v1/trust-config` (size-capped, with a timeout).
    pub async fn fetch(http: &reqwest::Client, server: &str) -> Result<Self, SignError> {
        let url = format!("{}/api/v1/trust-config", server.trim_end_matches('/'));
        let body = http::exchange(
            http.get(&url).header("accept", "application/json"),
            http::CONFIG_TIMEOUT,
            http::MAX_CONFIG_BYTES,
        )
        .await
        .map_err(|failure| match failure {
            http::Failure::Refused { status, detail } => SignError::ConfigFetch {
                url: url.clone(),
                detail: format!("HTTP {status}: {detail}"),
            },
            http::Failure::Unavailable { detail } => SignError::ConfigFetch {
                url: url.clone(),
                detail,
            },
            http::Failure::TooLarge { limit } => http::too_large(crate::Stage::Local, &url, limit),
        })?;
        Self::from_json(&body)
    }

    /// The trusted root document, for `vouch_verify::TrustRoot::from_json`.
    pub fn trusted_root_json(&self) -> &[u8] {
        &self.trusted_root_json
    }

    /// The services a signing submits to.
    pub fn services(&self) -> &Services {
        &self.services
    }

    pub(crate) fn trusted_root(&self) -> &TrustedRoot {
        &self.trusted_root
    }
}

impl Services {
    /// Chooses services as sigstore-python 4.x does: entries valid at `now`, supported
    /// API versions only, one per operator at its highest version, then pruned by the
    /// selector (ANY: one, EXACT n: n, ALL: every one).
    fn select(config: &SigningConfig, now: Timestamp) -> Result<Self, SignError> {
        let ca = eligible("CA", &config.ca_urls, FULCIO_VERSIONS, None, now)?;
        let ca_url = ca
            .first()
            .map(|e| e.url.clone())
            .ok_or_else(|| SignError::NoService {
                service: "CA",
                detail: format!(
                    "expected a caUrls entry valid now with majorApiVersion 1, found {}",
                    summary(&config.ca_urls)
                ),
            })?;

        let tlogs = |versions: &[u32]| {
            eligible(
                "transparency log",
                &config.rekor_tlog_urls,
                versions,
                Some(&config.rekor_tlog_config),
                now,
            )
        };
        let rekor = tlogs(REKOR_VERSIONS)?;
        let rekor_v1 = tlogs(REKOR_V1_VERSIONS)?;
        if rekor.is_empty() && rekor_v1.is_empty() {
            return Err(SignError::NoService {
                service: "transparency log",
                detail: format!(
                    "expected a rekorTlogUrls entry valid now with majorApiVersion 2 or 1, found {}",
                    summary(&config.rekor_tlog_urls)
                ),
            });
        }

        let tsa = eligible(
            "timestamp authority",
            &config.tsa_urls,
            TSA_VERSIONS,
            Some(&config.tsa_config),
            now,
        )?;
        if tsa.is_empty() && !rekor.is_empty() {
            return Err(SignError::NoService {
                service: "timestamp authority",
                detail: format!(
                    "Rekor v2 bundles need an RFC 3161 timestamp: expected a tsaUrls entry valid now \
                     with majorApiVersion 1, found {}",
                    summary(&config.tsa_urls)
                ),
            });
        }
        Ok(Services {
            ca_url: ca_url.trim_end_matches('/').to_string(),
            rekor_urls: rekor
                .iter()
                .map(|e| e.url.trim_end_matches('/').to_string())
                .collect(),
            rekor_v1_urls: rekor_v1
                .iter()
                .map(|e| e.url.trim_end_matches('/').to_string())
                .collect(),
            tsa_urls: tsa.iter().map(|e| e.url.clone()).collect(),
        })
    }
}

/// sigstore-python's `_get_valid_services`.
/// The eligible `services` of one kind (`service`, named in a SIGN_E002 refusal).
fn eligible<'a>(
    service: &'static str,
    services: &'a [ServiceEndpoint],
    versions: &[u32],
    config: Option<&ServiceConfiguration>,
    now: Timestamp,
) -> Result<Vec<&'a ServiceEndpoint>, SignError> {
    select_eligible(services, versions, config, now)
        .map_err(|detail| SignError::NoService { service, detail })
}

fn select_eligible<'a>(
    services: &'a [ServiceEndpoint],
    versions: &[u32],
    config: Option<&ServiceConfiguration>,
    now: Timestamp,
) -> Result<Vec<&'a ServiceEndpoint>, String> {
    // One service per operator, at the highest supported version; operators keep the
    // order they first appear in.
    let mut by_operator: Vec<(Option<&str>, &ServiceEndpoint)> = Vec::new();
    for service in services {
        if !versions.contains(&service.major_api_version) || !service.valid_for.contains(now) {
            continue;
        }
        let operator = service.operator.as_deref();
        match by_operator.iter_mut().find(|(op, _)| *op == operator) {
            Some((_, best)) => {
                if service.major_api_version >= best.major_api_version {
                    *best = service;
                }
            }
            None => by_operator.push((operator, service)),
        }
    }
    let result: Vec<_> = by_operator.into_iter().map(|(_, s)| s).collect();
    let Some(config) = config else {
        return Ok(result);
    };
    match config.selector {
        ServiceSelector::All => Ok(result),
        ServiceSelector::Any => Ok(result.into_iter().take(1).collect()),
        ServiceSelector::Exact => {
            let count = config.count.filter(|c| *c > 0).unwrap_or(1) as usize;
            if result.len() < count {
                return Err(format!(
                    "selector EXACT asks for {count} services, found {} eligible",
                    result.len()
                ));
            }
            Ok(result.into_iter().take(count).collect())
        }
        other => Err(format!("selector {other:?} is not one of ANY, EXACT, ALL")),
    }
}

fn summary(services: &[ServiceEndpoint]) -> String {
    if services.is_empty() {
        return "none".to_string();
    }
    services
        .iter()
        .map(|s| format!("{} (v{})", s.url, s.major_api_version))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const ROOT: &str = r#"{
      "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
      "tlogs": [{"baseUrl": "http://x", "hashAlgorithm": "SHA2_256",
                 "publicKey": {"rawBytes": "AAAA", "keyDetails": "PKIX_ED25519"},
                 "logId": {"keyId": "AAAA"}}],
      "certificateAuthorities": [{"uri": "http://x", "certChain": {"certificates": [{"rawBytes": "AAAA"}]}}],
      "ctlogs": [{"baseUrl": "http://x", "hashAlgorithm": "SHA2_256",
                  "publicKey": {"rawBytes": "AAAA", "keyDetails": "PKIX_ECDSA_P256_SHA_256"},
                  "logId": {"keyId": "AAAA"}}],
      "timestampAuthorities": [{"certChain": {"certificates": [{"rawBytes": "AAAA"}]}}]
    }"#;

    fn endpoint(url: &str, version: u32, start: &str, end: Option<&str>, op: &str) -> String {
        let end = end
            .map(|e| format!(r#", "end": "{e}""#))
            .unwrap_or_default();
        format!(
            r#"{{"url": "{url}", "majorApiVersion": {version}, "operator": "{op}",
                "validFor": {{"start": "{start}"{end}}}}}"#
        )
    }

    fn signing_config(ca: &[String], rekor: &[String], tsa: &[String], rekor_sel: &str) -> String {
        format!(
            r#"{{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
                "caUrls": [{}], "oidcUrls": [], "rekorTlogUrls": [{}], "tsaUrls": [{}],
                "rekorTlogConfig": {rekor_sel}, "tsaConfig": {{"selector": "ANY"}}}}"#,
            ca.join(","),
            rekor.join(","),
            tsa.join(",")
        )
    }

    fn now() -> Timestamp {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    const PAST: &str = "2025-01-01T00:00:00Z";

    #[test]
    fn selects_valid_highest_versions() {
        let sc = signing_config(
            &[
                endpoint("http://old-ca", 1, PAST, Some("2025-06-01T00:00:00Z"), "a"),
                endpoint("http://ca/", 1, PAST, None, "a"),
            ],
            &[
                endpoint("http://rekor1", 1, PAST, None, "a"),
                endpoint("http://rekor2/", 2, PAST, None, "a"),
                endpoint("http://future", 2, "2027-01-01T00:00:00Z", None, "b"),
            ],
            &[
                endpoint("http://tsa/api/v1/timestamp", 1, PAST, None, "a"),
                endpoint("http://tsa2/api/v1/timestamp", 1, PAST, None, "b"),
            ],
            r#"{"selector": "ANY"}"#,
        );
        let cfg = TrustConfig::from_parts_at(ROOT.as_bytes(), sc.as_bytes(), now()).unwrap();
        assert_eq!(
            cfg.services(),
            &Services {
                ca_url: "http://ca".into(),
                rekor_urls: vec!["http://rekor2".into()],
                rekor_v1_urls: vec!["http://rekor1".into()],
                tsa_urls: vec!["http://tsa/api/v1/timestamp".into()],
            }
        );
    }

    #[test]
    fn rekor_v1_only_is_selected_without_a_tsa() {
        let sc = signing_config(
            &[endpoint("http://ca", 1, PAST, None, "a")],
            &[endpoint("http://rekor1/", 1, PAST, None, "a")],
            &[],
            r#"{"selector": "ANY"}"#,
        );
        let cfg = TrustConfig::from_parts_at(ROOT.as_bytes(), sc.as_bytes(), now()).unwrap();
        assert!(cfg.services().rekor_urls.is_empty());
        assert_eq!(cfg.services().rekor_v1_urls, vec!["http://rekor1"]);
        assert!(cfg.services().tsa_urls.is_empty());
        // No log of either version: refused, naming both.
        let sc = signing_config(
            &[endpoint("http://ca", 1, PAST, None, "a")],
            &[endpoint("http://rekor3", 3, PAST, None, "a")],
            &[endpoint("http://tsa", 1, PAST, None, "a")],
            r#"{"selector": "ANY"}"#,
        );
        let err = TrustConfig::from_parts_at(ROOT.as_bytes(), sc.as_bytes(), now()).unwrap_err();
        assert_eq!(err.code(), "SIGN_E002");
        assert!(err.to_string().contains("majorApiVersion 2 or 1"), "{err}");
    }

    #[test]
    fn exact_and_all_selectors() {
        let logs = [
            endpoint("http://r1", 2, PAST, None, "a"),
            endpoint("http://r2", 2, PAST, None, "b"),
        ];
        let ca = [endpoint("http://ca", 1, PAST, None, "a")];
        let tsa = [endpoint("http://tsa", 1, PAST, None, "a")];
        let all = signing_config(&ca, &logs, &tsa, r#"{"selector": "ALL"}"#);
        let cfg = TrustConfig::from_parts_at(ROOT.as_bytes(), all.as_bytes(), now()).unwrap();
        assert_eq!(cfg.services().rekor_urls, vec!["http://r1", "http://r2"]);
        let exact3 = signing_config(&ca, &logs, &tsa, r#"{"selector": "EXACT", "count": 3}"#);
        let err =
            TrustConfig::from_parts_at(ROOT.as_bytes(), exact3.as_bytes(), now()).unwrap_err();
        assert_eq!(err.code(), "SIGN_E002");
        assert!(err.to_string().contains("EXACT asks for 3"), "{err}");
    }

    #[test]
    fn missing_services_and_bad_documents() {
        let ca = [endpoint("http://ca", 1, PAST, None, "a")];
        let logs = [endpoint("http://r", 2, PAST, None, "a")];
        let no_tsa = signing_config(&ca, &logs, &[], r#"{"selector": "ANY"}"#);
        let err =
            TrustConfig::from_parts_at(ROOT.as_bytes(), no_tsa.as_bytes(), now()).unwrap_err();
        assert_eq!(err.code(), "SIGN_E002");
        assert!(err.to_string().contains("timestamp authority"), "{err}");
        let expired_ca = [endpoint(
            "http://ca",
            1,
            PAST,
            Some("2025-02-01T00:00:00Z"),
            "a",
        )];
        let tsa = [endpoint("http://tsa", 1, PAST, None, "a")];
        let sc = signing_config(&expired_ca, &logs, &tsa, r#"{"selector": "ANY"}"#);
        let err = TrustConfig::from_parts_at(ROOT.as_bytes(), sc.as_bytes(), now()).unwrap_err();
        assert_eq!(err.code(), "SIGN_E002");

        let err = TrustConfig::from_json(b"{}").unwrap_err();
        assert_eq!(err.code(), "SIGN_E001");
        let err = TrustConfig::from_json(b"not json").unwrap_err();
        assert_eq!(err.code(), "SIGN_E001");
        let doc = format!(
            r#"{{"mediaType": "{CLIENT_TRUST_CONFIG_MEDIA_TYPE}", "trustedRoot": {ROOT}}}"#
        );
        let err = TrustConfig::from_json(doc.as_bytes()).unwrap_err();
        assert_eq!(err.code(), "SIGN_E001");
        assert!(err.to_string().contains("signingConfig"), "{err}");
        let sc = signing_config(&ca, &logs, &tsa, r#"{"selector": "ANY"}"#)
            .replace("v0.2+json", "v0.1+json");
        let err = TrustConfig::from_parts_at(ROOT.as_bytes(), sc.as_bytes(), now()).unwrap_err();
        assert_eq!(err.code(), "SIGN_E001");
    }

    #[test]
    fn embedded_public_good_offers_rekor_v1() {
        let cfg = TrustConfig::public_good().unwrap();
        let s = cfg.services();
        assert!(!s.rekor_urls.is_empty() || !s.rekor_v1_urls.is_empty());
    }

    #[test]
    fn full_document_round_trips_the_trusted_root() {
        let sc = signing_config(
            &[endpoint("http://ca", 1, PAST, None, "a")],
            &[endpoint("http://r", 2, PAST, None, "a")],
            &[endpoint("http://tsa", 1, PAST, None, "a")],
            r#"{"selector": "ANY"}"#,
        );
        let doc = format!(
            r#"{{"mediaType": "{CLIENT_TRUST_CONFIG_MEDIA_TYPE}", "trustedRoot": {ROOT}, "signingConfig": {sc}}}"#
        );
        let cfg = TrustConfig::from_json(doc.as_bytes()).unwrap();
        let root: serde_json::Value = serde_json::from_slice(cfg.trusted_root_json()).unwrap();
        assert_eq!(root["tlogs"][0]["baseUrl"], "http://x");
    }
}
