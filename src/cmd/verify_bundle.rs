//! `vouch verify FILE_OR_DIGEST --bundle B <policy>`: verify one artifact against a Sigstore
//! bundle and an identity policy, offline. Also home of the policy and trust-root flags
//! that `vouch conformance verify-bundle` and `vouch bench verify` build on.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use vouch_verify::{
    Artifact, Authority, CiClaim, Content, ErrorClass, IdentityPolicy, Input, ManagedKey, Matcher,
    ParsedBundle, Policy, PolicyField, Signer, TrustRoot, Verified, Verifier, VerifyError,
};

use crate::output::{clean, outln, print_json, CodedError, Exit};

/// Exit status: 0 verified; 1 the bundle did not verify (signature, certificate, log proof,
/// identity or claim mismatch); 2 the inputs could not be read or understood.
#[derive(Debug, clap::Args)]
// Flattened into `verify::Args`; clap's implicit group would clash with that one's name.
#[group(skip)]
pub struct Args {
    /// The artifact: a file path, or its digest as `sha256:<64 hex>` (or `sha512:<128 hex>`).
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
pub struct PolicyArgs {
    /// The certificate identity (SAN: email or URI), matched exactly.
    #[arg(long, value_name = "ID", help_heading = "Policy",
          required_unless_present_any = ["certificate_identity_regexp", "key"])]
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
          required_unless_present_any = ["certificate_oidc_issuer_regexp", "key"])]
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
}

impl TrustArgs {
    pub fn new(staging: bool, trusted_root: Option<PathBuf>) -> Self {
        Self {
            staging,
            trusted_root,
        }
    }

    pub fn load(&self) -> Result<TrustRoot, VerifyError> {
        match (&self.trusted_root, self.staging) {
            (Some(path), _) => TrustRoot::from_file(path),
            (None, true) => TrustRoot::staging(),
            (None, false) => TrustRoot::public_good(),
        }
    }

    /// What to tell the user when the bundle's log is not in an embedded root: the
    /// bundle most likely comes from another instance (a vouch server), whose root has
    /// to be given explicitly.
    pub fn hint(&self, err: &VerifyError) -> Option<String> {
        if self.trusted_root.is_some() {
            return None;
        }
        let VerifyError::MissingAuthority {
            authority: Authority::TransparencyLog,
            ..
        } = err
        else {
            return None;
        };
        let which = if self.staging {
            "staging"
        } else {
            "public-good"
        };
        Some(format!(
            "the bundle's log is not in the embedded Sigstore {which} root; a bundle from \
             another instance (such as a vouch server) needs that instance's root: pass \
             --trusted-root FILE (`vouch trust-config --server URL --out FILE` writes one)"
        ))
    }
}

impl PolicyArgs {
    /// The exact-identity form the conformance protocol and the bench use.
    pub fn exact(identity: Option<String>, issuer: Option<String>, key: Option<PathBuf>) -> Self {
        Self {
            certificate_identity: identity,
            certificate_identity_regexp: None,
            certificate_oidc_issuer: issuer,
            certificate_oidc_issuer_regexp: None,
            source_repository: None,
            source_ref: None,
            source_digest: None,
            build_config: None,
            build_signer: None,
            build_trigger: None,
            runner_environment: None,
            deployment_environment: None,
            key,
        }
    }

    /// Builds the policy; parse errors (bad regex, empty value, unreadable key) are coded.
    pub fn build(&self) -> Result<Policy, VerifyError> {
        if let Some(path) = &self.key {
            let bytes = vouch_verify::limits::read_limited(path, Input::PublicKey)?;
            let pem = String::from_utf8_lossy(&bytes);
            return Ok(Policy::ManagedKey(ManagedKey::from_pem(&pem)?));
        }
        let identity = matcher(
            PolicyField::Identity,
            &self.certificate_identity,
            &self.certificate_identity_regexp,
        )?;
        let issuer = matcher(
            PolicyField::Issuer,
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        )?;
        let mut policy = IdentityPolicy::new(identity, issuer);
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
        for (claim, value) in claims {
            if let Some(value) = value {
                let m = Matcher::exact(PolicyField::Claim(claim), value.clone())?;
                policy = policy.require_claim(claim, m);
            }
        }
        Ok(Policy::Keyless(policy))
    }
}

fn matcher(
    field: PolicyField,
    exact: &Option<String>,
    regex: &Option<String>,
) -> Result<Matcher, VerifyError> {
    match (exact, regex) {
        (Some(v), _) => Ok(Matcher::exact(field, v.clone())?),
        (None, Some(r)) => Ok(Matcher::regex(field, r)?),
        // clap requires one of the two unless --key is given, which returns earlier.
        (None, None) => Err(vouch_verify::PolicyError::Empty { field }.into()),
    }
}

/// The whole verification from command-line inputs to a [`Verified`].
pub fn verify_inputs(
    artifact: &str,
    bundle: &Path,
    policy: &PolicyArgs,
    trust: &TrustArgs,
) -> Result<(Verified, TrustRoot), VerifyError> {
    let artifact = Artifact::from_file_or_digest(artifact)?;
    let policy = policy.build()?;
    let root = trust.load()?;
    let verifier = Verifier::new(&root)?;
    let bundle = ParsedBundle::from_file(bundle)?;
    let verified = verifier.verify(&artifact, &bundle, &policy)?;
    Ok((verified, root))
}

/// The CLI error for a library error: its code, and exit 1 for a rejection, 2 for bad input.
pub fn coded(err: &VerifyError) -> CodedError {
    let exit = match err.class() {
        ErrorClass::Rejected => Exit::VerifyFailed,
        _ => Exit::Error,
    };
    CodedError::new(err.code(), exit, err.to_string())
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    // clap marks both as required unless `vouch verify checksums` was chosen.
    let (Some(artifact), Some(bundle)) = (args.artifact.as_deref(), args.bundle.as_deref()) else {
        anyhow::bail!("FILE_OR_DIGEST and --bundle are required");
    };
    match verify_inputs(artifact, bundle, &args.policy, &args.trust) {
        Ok((verified, root)) => {
            if args.json {
                let mut obj = report_json(&verified);
                obj.insert("artifact".into(), json!(artifact));
                obj.insert("bundle".into(), json!(bundle.display().to_string()));
                obj.insert("trust_root".into(), json!(root.source().to_string()));
                print_json(&Value::Object(obj))?;
            } else {
                print_human(artifact, &verified, &root)?;
            }
            Ok(Exit::Ok)
        }
        Err(err) => {
            let mut coded = coded(&err);
            if let Some(hint) = args.trust.hint(&err) {
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

/// The stable JSON fields of a verified result.
fn report_json(v: &Verified) -> Map<String, Value> {
    let content = match &v.content {
        Content::Dsse {
            payload_type,
            predicate_type,
            subjects,
        } => json!({
            "kind": "dsse",
            "payload_type": payload_type,
            "predicate_type": predicate_type,
            "subjects": subjects.iter().map(|s| json!({
                "name": s.name,
                "digest": s.digests.iter().map(|(a, h)| ((*a).to_owned(), json!(h))).collect::<Map<_, _>>(),
            })).collect::<Vec<_>>(),
        }),
        _ => json!({ "kind": "message_signature" }),
    };
    let signer = match &v.signer {
        Signer::Certificate {
            identity,
            issuer,
            claims,
        } => json!({
            "kind": "certificate",
            "identity": identity,
            "issuer": issuer,
            "claims": claims.iter().map(|(c, val)| (c.key().to_owned(), json!(val))).collect::<Map<_, _>>(),
        }),
        _ => json!({ "kind": "managed_key" }),
    };
    let mut obj = Map::new();
    obj.insert("verified".into(), json!(true));
    obj.insert("bundle_version".into(), json!(v.bundle_version.as_str()));
    obj.insert("content".into(), content);
    obj.insert("signer".into(), signer);
    obj.insert(
        "signing_times".into(),
        json!(v
            .signing_times
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()),
    );
    obj.insert(
        "log_entries".into(),
        json!(v
            .log_entries
            .iter()
            .map(|e| json!({"log_index": e.log_index, "kind": e.kind, "version": e.version}))
            .collect::<Vec<_>>()),
    );
    obj
}

fn print_human(artifact: &str, v: &Verified, root: &TrustRoot) -> std::io::Result<()> {
    // Identities, claims, predicate types and subject names come from the bundle.
    outln!("verified: {}", clean(artifact))?;
    match &v.signer {
        Signer::Certificate {
            identity,
            issuer,
            claims,
        } => {
            outln!("  signer:     {}", clean(identity))?;
            outln!("  issuer:     {}", clean(issuer))?;
            for (claim, value) in claims {
                outln!(
                    "  {:<11} {}",
                    format!("{}:", short_claim(*claim)),
                    clean(value)
                )?;
            }
        }
        _ => outln!("  signer:     managed key (--key)")?,
    }
    match &v.content {
        Content::Dsse {
            predicate_type,
            subjects,
            ..
        } => {
            outln!(
                "  content:    DSSE in-toto statement, predicate {}",
                clean(predicate_type)
            )?;
            for s in subjects {
                let digests: Vec<String> =
                    s.digests.iter().map(|(a, h)| format!("{a}:{h}")).collect();
                outln!(
                    "  subject:    {} {}",
                    clean(&s.name),
                    clean(&digests.join(" "))
                )?;
            }
        }
        _ => outln!("  content:    message signature")?,
    }
    for e in &v.log_entries {
        outln!(
            "  log entry:  index {} ({} {})",
            e.log_index,
            e.kind,
            e.version
        )?;
    }
    for t in &v.signing_times {
        outln!("  signed at:  {t}")?;
    }
    outln!("  bundle:     v{}", v.bundle_version.as_str())?;
    outln!("  trust root: {}", root.source())?;
    Ok(())
}

fn short_claim(claim: CiClaim) -> &'static str {
    match claim {
        CiClaim::SourceRepository => "repository",
        CiClaim::SourceRepositoryRef => "ref",
        CiClaim::SourceRepositoryDigest => "commit",
        CiClaim::BuildConfig => "workflow",
        CiClaim::BuildSigner => "signer wf",
        CiClaim::BuildTrigger => "trigger",
        CiClaim::RunnerEnvironment => "runner",
        CiClaim::DeploymentEnvironment => "environment",
        _ => claim.key(),
    }
}
