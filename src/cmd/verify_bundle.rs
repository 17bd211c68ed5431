//! `vouch verify FILE_OR_DIGEST --bundle B <policy>`: verify one artifact against a Sigstore
//! bundle and an identity policy, offline (`vouch_verify::verify_request`).

use std::path::PathBuf;

use serde_json::{json, Value};
use vouch_verify::request::{report_json, report_lines};
use vouch_verify::{verify_request, CiClaim, PolicySpec, TrustSpec};

use crate::output::{clean, outln, print_json, CodedError, Exit};

/// Exit status: 0 verified; 1 the bundle did not verify (signature, certificate, log proof,
/// identity or claim mismatch); 2 the inputs could not be read or understood.
#[derive(Debug, clap::Args)]
// Flattened into `verify::Args`; clap's implicit group would clash with that one's name.
#[group(skip)]
pub struct Args {
    /// The artifact: a file path, `-` for standard input, or its digest as `sha256:<64 hex>`
    /// (or `sha512:<128 hex>`).
    #[arg(value_name = "FILE_OR_DIGEST", required = true)]
    artifact: Option<String>,
    /// The Sigstore bundle (.sigstore.json; bundle v0.1, v0.2 or v0.3, at most 16 MiB).
    #[arg(long, value_name = "FILE", required = true)]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// Print one JSON object on stdout (also on failure) instead of text.
    #[arg(long)]
    json: bool,
}

/// Who must have signed. Keyless bundles need an identity and an issuer; `--key` is for
/// managed-key bundles and excludes the identity flags.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct PolicyArgs {
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
pub(super) struct TrustArgs {
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

/// The verified `trusted_root.json` of the instance at `url`, refreshed through TUF (or
/// read from the cache with `offline`, or from VOUCH_TRUST_ROOT_DIR without `cache`).
fn instance_root(
    url: &str,
    cache: Option<&std::path::Path>,
    offline: bool,
) -> Result<PathBuf, CodedError> {
    let env = |k: &str| std::env::var(k).ok();
    let (path, _) = vouch_trust::instance_trusted_root(url, cache, offline, env).map_err(|e| {
        match e.is_refusal() {
            true => CodedError::refused(e.code(), e.to_string()),
            false => CodedError::error(e.code(), e.to_string()),
        }
    })?;
    Ok(path)
}

/// `--instance URL` for the lockfile audits: verify against that instance's root.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct InstanceArgs {
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
    pub(super) fn root(&self) -> Result<Option<PathBuf>, CodedError> {
        self.instance
            .as_deref()
            .map(|url| instance_root(url, self.trust_cache.as_deref(), self.offline))
            .transpose()
    }
}

impl TrustArgs {
    /// The root to verify against; `--instance` refreshes (or reads offline) through TUF.
    pub(super) fn spec(&self) -> Result<TrustSpec, CodedError> {
        let trusted_root = match &self.instance {
            None => self.trusted_root.clone(),
            Some(url) => Some(instance_root(
                url,
                self.trust_cache.as_deref(),
                self.offline,
            )?),
        };
        Ok(TrustSpec {
            staging: self.staging,
            trusted_root,
        })
    }
}

impl TrustArgs {
    /// The root `vouch fetch` pins (`--trusted-root` or `--instance`), as bytes.
    pub(super) fn pinned_root(&self) -> Result<Option<Vec<u8>>, CodedError> {
        let usage = |m: String| CodedError::error(vouch_api_client::codes::CLI_FAILED, m);
        if self.staging {
            return Err(usage(
                "--staging: fetch pins a root with --trusted-root or --instance".into(),
            ));
        }
        let Some(path) = self.spec()?.trusted_root else {
            return Ok(None);
        };
        std::fs::read(&path)
            .map(Some)
            .map_err(|e| usage(format!("reading {}: {e}", path.display())))
    }
}

impl PolicyArgs {
    pub(super) fn spec(&self) -> PolicySpec {
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

pub fn run(args: Args) -> anyhow::Result<Exit> {
    // clap marks both as required unless `vouch verify checksums` was chosen.
    let (Some(artifact), Some(bundle)) = (args.artifact.as_deref(), args.bundle.as_deref()) else {
        anyhow::bail!("FILE_OR_DIGEST and --bundle are required");
    };
    let trust = args
        .trust
        .spec()
        .map_err(|e| crate::output::fail_json(args.json, e))?;
    let result = match &args.policy.policy {
        Some(file) => vouch_policy::PolicyFile::load(file)
            .and_then(|p| vouch_policy::verify_request(artifact, bundle, &p, None, &trust))
            .map(|c| (c.verified, c.root, Some(c.accepted.rule)))
            .map_err(|e| (CodedError::from(&e), None)),
        None => verify_request(artifact, bundle, &args.policy.spec(), &trust)
            .map(|(v, root)| (v, root, None))
            .map_err(|e| (CodedError::from(&e), trust.hint(&e))),
    };
    match result {
        Ok((verified, root, rule)) => {
            if args.json {
                let mut obj = report_json(&verified);
                obj.insert("artifact".into(), json!(artifact));
                obj.insert("bundle".into(), json!(bundle.display().to_string()));
                obj.insert("trust_root".into(), json!(root.source().to_string()));
                obj.insert("policy_rule".into(), json!(rule));
                print_json(&Value::Object(obj))?;
            } else {
                for line in report_lines(artifact, &verified, &root) {
                    outln!("{}", clean(&line))?;
                }
                if let Some(rule) = rule {
                    outln!("  policy:     rule {:?}", clean(&rule))?;
                }
            }
            Ok(Exit::Ok)
        }
        Err((mut coded, hint)) => {
            if let Some(hint) = hint {
                coded.message = format!("{}; {hint}", coded.message);
            }
            if args.json {
                print_json(&json!({
                    "verified": false,
                    "artifact": artifact,
                    "bundle": bundle.display().to_string(),
                    "error": { "code": coded.code, "message": coded.message },
                }))?;
            }
            Err(coded.into())
        }
    }
}
