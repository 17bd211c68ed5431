//! Flag groups several commands share: who must have signed ([`PolicyArgs`]), which
//! trusted root to verify against ([`TrustArgs`]), the signer's token and services
//! ([`TokenArgs`], [`ServicesArgs`]) and where an offline admin command finds the server
//! ([`ServerPlace`]), turned into the libraries' inputs.

use std::path::{Path, PathBuf};

use vouch_consumer::{ArtifactPolicy, RootChoice};
use vouch_publisher::sign::Services;
use vouch_verify::{CiClaim, PolicySpec, TrustSpec};

use crate::output::CodedError;

/// Who must have signed. Keyless bundles need an identity and an issuer; `--key` is for
/// managed-key bundles and excludes the identity flags.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// The certificate identity (SAN: email or URI), matched exactly.
    #[arg(long, value_name = "ID", help_heading = "Policy",
          required_unless_present_any = ["certificate_identity_regexp", "key", "policy"])]
    certificate_identity: Option<String>,
    /// The certificate identity as a regular expression, anchored at both ends.
    #[arg(
        long,
        value_name = "REGEX",
        help_heading = "Policy",
        conflicts_with = "certificate_identity"
    )]
    certificate_identity_regexp: Option<String>,
    /// The OIDC issuer that authenticated the signer, matched exactly.
    #[arg(long, value_name = "URL", help_heading = "Policy",
          required_unless_present_any = ["certificate_oidc_issuer_regexp", "key", "policy"])]
    certificate_oidc_issuer: Option<String>,
    /// The OIDC issuer as a regular expression, anchored at both ends.
    #[arg(
        long,
        value_name = "REGEX",
        help_heading = "Policy",
        conflicts_with = "certificate_oidc_issuer"
    )]
    certificate_oidc_issuer_regexp: Option<String>,
    /// CI claim: the source repository URI (Fulcio OID .12), e.g. https://github.com/org/repo.
    #[arg(long, value_name = "URI", help_heading = "Policy")]
    source_repository: Option<String>,
    /// CI claim: the source ref (OID .14), e.g. refs/heads/main or refs/tags/v1.2.0.
    #[arg(long, value_name = "REF", help_heading = "Policy")]
    source_ref: Option<String>,
    /// CI claim: the source commit digest (OID .13).
    #[arg(long, value_name = "SHA", help_heading = "Policy")]
    source_digest: Option<String>,
    /// CI claim: the build config / workflow URI that ran (OID .18), with its @ref.
    #[arg(long, value_name = "URI", help_heading = "Policy")]
    build_config: Option<String>,
    /// CI claim: the build signer / workflow URI that requested the certificate (OID .9).
    #[arg(long, value_name = "URI", help_heading = "Policy")]
    build_signer: Option<String>,
    /// CI claim: the event that triggered the build (OID .20), e.g. push, release.
    #[arg(long, value_name = "EVENT", help_heading = "Policy")]
    build_trigger: Option<String>,
    /// CI claim: the runner environment (OID .11), e.g. github-hosted.
    #[arg(long, value_name = "ENV", help_heading = "Policy")]
    runner_environment: Option<String>,
    /// CI claim: the deployment environment (OID .23), e.g. production.
    #[arg(long, value_name = "ENV", help_heading = "Policy")]
    deployment_environment: Option<String>,
    /// A managed-key bundle: verify with this PEM public key instead of an identity.
    #[arg(long, value_name = "FILE", help_heading = "Policy", conflicts_with_all = [
        "certificate_identity", "certificate_identity_regexp", "certificate_oidc_issuer",
        "certificate_oidc_issuer_regexp", "source_repository", "source_ref", "source_digest",
        "build_config", "build_signer", "build_trigger", "runner_environment",
        "deployment_environment"])]
    key: Option<PathBuf>,
    /// A policy file (TOML, docs/policy.md): several allowed signers, each a rule of
    /// identity, issuer and CI claims for the artifacts its `subjects` patterns name
    /// (matched against the artifact's file name). Excludes the flags above.
    #[arg(long, value_name = "FILE", help_heading = "Policy", conflicts_with_all = [
        "certificate_identity", "certificate_identity_regexp", "certificate_oidc_issuer",
        "certificate_oidc_issuer_regexp", "key"])]
    policy: Option<PathBuf>,
}

/// Which Sigstore instance to trust.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// Trust the embedded Sigstore staging root instead of public-good.
    #[arg(long, help_heading = "Trust")]
    staging: bool,
    /// Trust this trusted_root.json instead (a private or other Sigstore instance).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Trust",
        conflicts_with = "staging"
    )]
    trusted_root: Option<PathBuf>,
    /// Trust this vouch instance's root, refreshed through its TUF repository (URL/tuf)
    /// and cached; the first TUF root comes from `vouch audit roots --instance URL --root`.
    #[arg(long, value_name = "URL", help_heading = "Trust",
          conflicts_with_all = ["staging", "trusted_root"])]
    instance: Option<String>,
    /// With --instance: use the cached, verified root only; no connection is ever made.
    #[arg(long, help_heading = "Trust", requires = "instance")]
    offline: bool,
    /// With --instance: where verified roots are cached (as for `vouch audit roots`).
    /// Without it, VOUCH_TRUST_ROOT_DIR names an air-gapped copy read as if --offline.
    #[arg(long, value_name = "DIR", help_heading = "Trust")]
    trust_cache: Option<PathBuf>,
}

impl TrustArgs {
    fn choice(&self) -> RootChoice {
        RootChoice {
            staging: self.staging,
            trusted_root: self.trusted_root.clone(),
            instance: self.instance.clone(),
            offline: self.offline,
            trust_cache: self.trust_cache.clone(),
        }
    }

    /// The root to verify against; `--instance` refreshes (or reads offline) through TUF.
    pub fn spec(&self) -> Result<TrustSpec, CodedError> {
        self.choice().spec(|k| std::env::var(k).ok())
    }

    /// The root `vouch fetch` pins (`--trusted-root` or `--instance`), as bytes.
    pub fn pinned_root(&self) -> Result<Option<Vec<u8>>, CodedError> {
        self.choice().pinned_root(|k| std::env::var(k).ok())
    }
}

/// `--instance URL` for the lockfile audits: verify against that instance's root.
#[derive(Debug, Clone, clap::Args)]
pub struct InstanceArgs {
    /// Verify every entry against this vouch instance's root, refreshed through its TUF
    /// repository and cached (as `vouch verify --instance`), instead of the root cached
    /// beside the lockfile.
    #[arg(long, value_name = "URL", help_heading = "Trust")]
    instance: Option<String>,
    /// With --instance: use the cached, verified root only; no connection is ever made.
    #[arg(long, help_heading = "Trust", requires = "instance")]
    offline: bool,
    /// With --instance: where verified roots are cached (as for `vouch audit roots`).
    /// Without it, VOUCH_TRUST_ROOT_DIR names an air-gapped copy read as if --offline.
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Trust",
        requires = "instance"
    )]
    trust_cache: Option<PathBuf>,
}

impl InstanceArgs {
    /// The instance's verified root, when --instance was given.
    pub fn root(&self) -> Result<Option<PathBuf>, CodedError> {
        if self.instance.is_none() {
            return Ok(None);
        }
        let choice = RootChoice {
            staging: false,
            trusted_root: None,
            instance: self.instance.clone(),
            offline: self.offline,
            trust_cache: self.trust_cache.clone(),
        };
        Ok(choice.spec(|k| std::env::var(k).ok())?.trusted_root)
    }
}

impl PolicyArgs {
    /// The policy file, or else the flags' policy.
    pub fn artifact_policy(&self) -> ArtifactPolicy {
        match &self.policy {
            Some(file) => ArtifactPolicy::File(file.clone()),
            None => ArtifactPolicy::Flags(self.spec()),
        }
    }

    pub fn spec(&self) -> PolicySpec {
        let claims = [
            (CiClaim::SourceRepository, &self.source_repository),
            (CiClaim::SourceRepositoryRef, &self.source_ref),
            (CiClaim::SourceRepositoryDigest, &self.source_digest),
            (CiClaim::BuildConfig, &self.build_config),
            (CiClaim::BuildSigner, &self.build_signer),
            (CiClaim::BuildTrigger, &self.build_trigger),
            (CiClaim::RunnerEnvironment, &self.runner_environment),
            (CiClaim::DeploymentEnvironment, &self.deployment_environment),
        ];
        PolicySpec {
            identity: self.certificate_identity.clone(),
            identity_regexp: self.certificate_identity_regexp.clone(),
            issuer: self.certificate_oidc_issuer.clone(),
            issuer_regexp: self.certificate_oidc_issuer_regexp.clone(),
            claims: claims
                .into_iter()
                .filter_map(|(c, v)| Some((c, v.clone()?)))
                .collect(),
            key: self.key.clone(),
        }
    }
}

/// The OIDC identity token the CA certifies: given, or read from a file.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// The OIDC identity token (a JWT) the CA certifies.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SIGSTORE_ID_TOKEN",
        hide_env_values = true
    )]
    pub identity_token: Option<String>,
    /// Read the identity token from FILE instead.
    #[arg(long, value_name = "FILE", conflicts_with = "identity_token")]
    pub identity_token_file: Option<PathBuf>,
}

/// The signing services: a vouch server's trust configuration, or a saved one.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["server", "trust_config"])))]
pub struct ServicesArgs {
    /// The vouch server whose trust configuration names the services.
    #[arg(long, env = "VOUCH_SERVER", value_name = "URL")]
    server: Option<String>,
    /// A saved client trust configuration (any Sigstore instance) instead of --server.
    #[arg(long, value_name = "FILE", conflicts_with = "server")]
    trust_config: Option<PathBuf>,
    /// PEM certificate to trust for https signing services.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
}

impl ServicesArgs {
    /// The services the flags name (a saved configuration wins over a server).
    pub fn services(&self) -> Result<Services, CodedError> {
        Services::from_flags(self.server.clone(), self.trust_config.clone())
    }
}

/// Where an offline admin command finds the server: its configuration file, or a
/// `vouch serve --dev` data directory.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerPlace {
    /// The server's configuration file (production; TOKEN_ENC_KEY from the variable it names).
    #[arg(long, value_name = "FILE", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// A `vouch serve --dev` instance: its keys, TOKEN_ENC_KEY included, are files in --data.
    #[arg(long, requires = "data")]
    dev: bool,
    /// The server's data directory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

impl ServerPlace {
    /// (config, dev, data), as `vouch_registry::offline` takes them.
    pub fn parts(&self) -> (Option<&Path>, bool, Option<&Path>) {
        (self.config.as_deref(), self.dev, self.data.as_deref())
    }
}
