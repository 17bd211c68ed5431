//! The `[oidc]`, `[ca]` and `[tsa]` sections of the server configuration; every field has a default, so configurations without them still parse.
//!
//! ```toml
//! [oidc]
//! audience = "sigstore"                 # the one `aud` accepted (sigstore clients ask for this)
//! allow_loopback_http = false           # true: also plain http to loopback issuers (same host only)
//! dev_device_code_secs = 600            # --dev: device-code sign-in lifetime (RFC 8628)
//! # Presets by name, an issuer URL (tokens with a verified `email`), or a table:
//! issuers = [
//!   "github",                                                # token.actions.githubusercontent.com
//!   "gitlab",                                                # gitlab.com
//!   "buildkite",
//!   { provider = "circleci", org_id = "c6a4..." },
//!   { provider = "forgejo", issuer = "https://code.example.org/api/actions", server_url = "https://code.example.org" },
//!   { provider = "gitlab", issuer = "https://gitlab.example.org" },  # self-managed
//!   "https://accounts.example.org",                          # email identities
//! ]
//!
//! [ca]
//! organization = "vouch"                # O= of the generated root and intermediate
//! leaf_validity_secs = 600              # certificate lifetime (Fulcio: 10 minutes)
//!
//! [tsa]
//! organization = "vouch"
//! ```

use serde::Deserialize;
use vouch_oidc::{IssuerConfig, Provider};

use super::SetupError;

/// `[oidc]`: which issuers' tokens the CA accepts.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OidcSection {
    /// The one accepted audience.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Trusted issuers (default: GitHub Actions). `--dev` adds its own issuer.
    #[serde(default = "default_issuers")]
    pub issuers: Vec<IssuerSpec>,
    /// Also fetch discovery documents and key sets over plain http from loopback
    /// issuers (127.0.0.0/8, ::1, `localhost`), for an issuer on the same host (an
    /// SSO proxy, a test). Default false: https only. Non-loopback http is never
    /// accepted.
    #[serde(default)]
    pub allow_loopback_http: bool,
    /// With `--dev`: how long the email issuer's device codes live (RFC 8628), 1 to
    /// 3600 seconds (default 600).
    #[serde(default = "default_device_code_secs")]
    pub dev_device_code_secs: u64,
}

impl Default for OidcSection {
    fn default() -> Self {
        OidcSection {
            audience: default_audience(),
            issuers: default_issuers(),
            allow_loopback_http: false,
            dev_device_code_secs: default_device_code_secs(),
        }
    }
}

/// One trusted issuer: a preset name, an issuer URL (email identities), or a table.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(untagged)]
#[non_exhaustive]
pub enum IssuerSpec {
    /// `"github"`, `"gitlab"`, `"buildkite"`, or an `https://` issuer URL.
    Name(String),
    /// A table with `provider` and its parameters.
    Table(IssuerTable),
}

/// `{ provider = ..., issuer = ..., server_url = ..., org_id = ..., audience = ... }`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IssuerTable {
    /// `github`, `gitlab`, `buildkite`, `circleci`, `forgejo` or `email`.
    pub provider: String,
    /// The exact `iss`; defaults to the provider's public issuer where it has one.
    pub issuer: Option<String>,
    /// The instance URL SANs and repository URIs are built on (GitHub Enterprise,
    /// self-managed GitLab, Forgejo); defaults to the issuer's origin.
    pub server_url: Option<String>,
    /// CircleCI organisation id.
    pub org_id: Option<String>,
    /// Overrides `[oidc] audience` for this issuer.
    pub audience: Option<String>,
}

/// `[ca]`: the generated hierarchy and the leaf lifetime.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CaSection {
    /// `O=` of the root and intermediate generated at first start.
    #[serde(default = "default_org")]
    pub organization: String,
    /// Lifetime of issued certificates, seconds (60 to 3600).
    #[serde(default = "default_leaf_validity")]
    pub leaf_validity_secs: u64,
}

impl Default for CaSection {
    fn default() -> Self {
        CaSection {
            organization: default_org(),
            leaf_validity_secs: default_leaf_validity(),
        }
    }
}

/// `[tsa]`: the generated timestamping hierarchy.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TsaSection {
    /// `O=` of the TSA root and timestamping certificate generated at first start.
    #[serde(default = "default_org")]
    pub organization: String,
}

impl Default for TsaSection {
    fn default() -> Self {
        TsaSection {
            organization: default_org(),
        }
    }
}

fn default_audience() -> String {
    vouch_oidc::DEFAULT_AUDIENCE.to_owned()
}
fn default_device_code_secs() -> u64 {
    vouch_oidc::DEVICE_CODE_LIFETIME_SECS.unsigned_abs()
}
fn default_issuers() -> Vec<IssuerSpec> {
    vec![IssuerSpec::Name("github".to_owned())]
}
fn default_org() -> String {
    "vouch".to_owned()
}
fn default_leaf_validity() -> u64 {
    vouch_ca::DEFAULT_LEAF_VALIDITY.as_secs()
}

fn bad(reason: String) -> SetupError {
    SetupError::Config { reason }
}

/// The origin (`scheme://host[:port]`) of a URL, for the default `server_url`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

impl IssuerSpec {
    /// The verifier configuration of this issuer.
    pub fn to_issuer_config(&self, default_audience: &str) -> Result<IssuerConfig, SetupError> {
        let table = match self {
            IssuerSpec::Name(name)
                if name.starts_with("https://") || name.starts_with("http://") =>
            {
                IssuerTable {
                    provider: "email".to_owned(),
                    issuer: Some(name.clone()),
                    server_url: None,
                    org_id: None,
                    audience: None,
                }
            }
            IssuerSpec::Name(name) => IssuerTable {
                provider: name.clone(),
                issuer: None,
                server_url: None,
                org_id: None,
                audience: None,
            },
            IssuerSpec::Table(t) => t.clone(),
        };
        let audience = table.audience.as_deref().unwrap_or(default_audience);
        let need_issuer = |provider: &str| {
            table.issuer.clone().ok_or_else(|| {
                bad(format!(
                    "oidc.issuers: provider {provider:?} needs `issuer = \"https://...\"`"
                ))
            })
        };
        let server_for = |issuer: &str| {
            table
                .server_url
                .clone()
                .or_else(|| origin_of(issuer))
                .ok_or_else(|| {
                    bad(format!(
                        "oidc.issuers: cannot derive server_url from {issuer:?}"
                    ))
                })
        };
        let config = match table.provider.as_str() {
            "github" => match &table.issuer {
                None => IssuerConfig::github_actions(audience),
                Some(iss) => IssuerConfig::new(
                    iss.clone(),
                    Provider::GitHubActions {
                        server_url: server_for(iss)?,
                    },
                    audience,
                ),
            },
            "gitlab" => match &table.issuer {
                None => IssuerConfig::gitlab_com(audience),
                Some(iss) => IssuerConfig::new(
                    iss.clone(),
                    Provider::GitLabCi {
                        server_url: server_for(iss)?,
                    },
                    audience,
                ),
            },
            "buildkite" => match &table.issuer {
                None => IssuerConfig::buildkite(audience),
                Some(iss) => IssuerConfig::new(iss.clone(), Provider::Buildkite, audience),
            },
            "circleci" => {
                let org = table.org_id.as_deref().ok_or_else(|| {
                    bad("oidc.issuers: provider \"circleci\" needs `org_id`".to_owned())
                })?;
                IssuerConfig::circleci(org, audience)
            }
            "forgejo" => {
                let iss = need_issuer("forgejo")?;
                let server = server_for(&iss)?;
                IssuerConfig::forgejo_actions(iss, server, audience)
            }
            "email" => IssuerConfig::new(need_issuer("email")?, Provider::Email, audience),
            other => {
                return Err(bad(format!(
                    "oidc.issuers: unknown provider {other:?}; expected github, gitlab, \
                     buildkite, circleci, forgejo, email or an https:// issuer URL"
                )))
            }
        };
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrap {
        oidc: OidcSection,
    }

    #[test]
    fn presets_urls_and_tables_parse() {
        let text = r#"
            [oidc]
            issuers = ["github", "gitlab", "buildkite", "https://id.example.org",
              { provider = "circleci", org_id = "abc" },
              { provider = "forgejo", issuer = "https://code.example.org/api/actions" }]
        "#;
        let w: Wrap = toml::from_str(text).unwrap();
        let configs: Vec<IssuerConfig> = w
            .oidc
            .issuers
            .iter()
            .map(|s| s.to_issuer_config("sigstore").unwrap())
            .collect();
        assert_eq!(configs[0].issuer(), vouch_oidc::GITHUB_ACTIONS_ISSUER);
        assert_eq!(configs[3].provider(), &Provider::Email);
        assert_eq!(configs[4].issuer(), "https://oidc.circleci.com/org/abc");
        assert_eq!(
            configs[5].provider(),
            &Provider::ForgejoActions {
                server_url: "https://code.example.org".into()
            }
        );
    }

    #[test]
    fn bad_issuers_are_coded() {
        for spec in [
            IssuerSpec::Name("jenkins".into()),
            IssuerSpec::Table(IssuerTable {
                provider: "forgejo".into(),
                issuer: None,
                server_url: None,
                org_id: None,
                audience: None,
            }),
        ] {
            let err = spec.to_issuer_config("sigstore").unwrap_err();
            assert_eq!(err.code(), "SIGSTORE_E002", "{err}");
        }
    }
}
