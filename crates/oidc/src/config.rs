//! Which issuers are trusted, for which audience, and how their claims map to identities.
//! An issuer that is not configured here is refused (OIDC_E005); nothing is discovered
//! implicitly.

/// How an issuer's claims become a certificate identity (see [`crate::identity::map`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// GitHub Actions; `server_url` is `https://github.com` (or a GHES host).
    GitHubActions {
        /// Base of SAN and repository URIs.
        server_url: String,
    },
    /// GitLab CI; `server_url` is `https://gitlab.com` or the self-managed instance.
    GitLabCi {
        /// Base of repository and job URIs.
        server_url: String,
    },
    /// Buildkite agent tokens.
    Buildkite,
    /// CircleCI tokens.
    CircleCi,
    /// Forgejo Actions; `server_url` is the Forgejo instance.
    ForgejoActions {
        /// Base of SAN and repository URIs.
        server_url: String,
    },
    /// A generic issuer whose tokens carry a verified `email`.
    Email,
}

impl Provider {
    /// Human-readable provider name, used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::GitHubActions { .. } => "GitHub Actions",
            Provider::GitLabCi { .. } => "GitLab CI",
            Provider::Buildkite => "Buildkite",
            Provider::CircleCi => "CircleCI",
            Provider::ForgejoActions { .. } => "Forgejo Actions",
            Provider::Email => "email",
        }
    }

    /// GitHub Actions on github.com.
    pub fn github() -> Self {
        Provider::GitHubActions {
            server_url: "https://github.com".to_owned(),
        }
    }

    /// GitLab CI on gitlab.com.
    pub fn gitlab() -> Self {
        Provider::GitLabCi {
            server_url: "https://gitlab.com".to_owned(),
        }
    }
}

/// The issuer of GitHub Actions tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The issuer of gitlab.com CI tokens.
pub const GITLAB_COM_ISSUER: &str = "https://gitlab.com";
/// The issuer of Buildkite agent tokens.
pub const BUILDKITE_ISSUER: &str = "https://agent.buildkite.com";

/// One trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    issuer: String,
    provider: Provider,
    audience: String,
    require_jti: bool,
}

impl IssuerConfig {
    /// An issuer whose `iss` is exactly `issuer` (discovery is fetched from
    /// `{issuer}/.well-known/openid-configuration`), whose tokens must name exactly
    /// `audience`, mapped by `provider`. Tokens must carry a `jti` unless
    /// [`IssuerConfig::allow_missing_jti`] is called.
    pub fn new(issuer: impl Into<String>, provider: Provider, audience: impl Into<String>) -> Self {
        IssuerConfig {
            issuer: issuer.into(),
            provider,
            audience: audience.into(),
            require_jti: true,
        }
    }

    /// GitHub Actions (`https://token.actions.githubusercontent.com`).
    pub fn github_actions(audience: impl Into<String>) -> Self {
        Self::new(GITHUB_ACTIONS_ISSUER, Provider::github(), audience)
    }

    /// GitLab CI on gitlab.com.
    pub fn gitlab_com(audience: impl Into<String>) -> Self {
        Self::new(GITLAB_COM_ISSUER, Provider::gitlab(), audience)
    }

    /// Buildkite (`https://agent.buildkite.com`).
    pub fn buildkite(audience: impl Into<String>) -> Self {
        Self::new(BUILDKITE_ISSUER, Provider::Buildkite, audience)
    }

    /// CircleCI for one organisation (`https://oidc.circleci.com/org/{org_id}`). CircleCI's
    /// documented claims carry no `jti`, so this preset allows its absence; replay is then
    /// detected on the token's own digest.
    pub fn circleci(org_id: &str, audience: impl Into<String>) -> Self {
        Self::new(
            format!("https://oidc.circleci.com/org/{org_id}"),
            Provider::CircleCi,
            audience,
        )
        .allow_missing_jti()
    }

    /// Forgejo Actions: `issuer` as the instance publishes it, `server_url` the instance.
    pub fn forgejo_actions(
        issuer: impl Into<String>,
        server_url: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self::new(
            issuer,
            Provider::ForgejoActions {
                server_url: server_url.into(),
            },
            audience,
        )
    }

    /// Accept tokens without `jti` from this issuer, for a provider that does not set one. The
    /// verifier then keys the replay store on the SHA-256 of the signed header and payload, so
    /// the same token is still refused twice.
    pub fn allow_missing_jti(mut self) -> Self {
        self.require_jti = false;
        self
    }

    /// The exact `iss` value.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The claim mapping.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The one accepted audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Whether tokens must carry `jti`.
    pub fn requires_jti(&self) -> bool {
        self.require_jti
    }
}
