//! One verification as a command line states it: the artifact as a path, `-` or a
//! digest; the bundle's path; who must have signed ([`PolicySpec`]); which instance to
//! trust ([`TrustSpec`]). `vouch verify`, `vouch conformance verify-bundle` and
//! `vouch bench verify` all resolve their inputs here, and the stable JSON fields and
//! text lines of a verified result are written here once.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::{
    Artifact, Authority, CiClaim, Content, IdentityPolicy, Input, ManagedKey, Matcher,
    ParsedBundle, Policy, PolicyError, PolicyField, Signer, TrustRoot, Verified, Verifier,
    VerifyError,
};

/// Who must have signed: an identity and an issuer (each exact or an anchored regex)
/// with optional CI claims, or a managed key's PEM file.
#[derive(Debug, Clone, Default)]
pub struct PolicySpec {
    /// The certificate identity (SAN), exact.
    pub identity: Option<String>,
    /// The certificate identity as a regex, anchored at both ends.
    pub identity_regexp: Option<String>,
    /// The OIDC issuer, exact.
    pub issuer: Option<String>,
    /// The OIDC issuer as a regex, anchored at both ends.
    pub issuer_regexp: Option<String>,
    /// CI claims that must match exactly.
    pub claims: Vec<(CiClaim, String)>,
    /// A managed-key bundle's PEM public key; excludes everything above.
    pub key: Option<PathBuf>,
}

impl PolicySpec {
    /// The exact-identity form the conformance protocol and the bench use.
    pub fn exact(identity: Option<String>, issuer: Option<String>, key: Option<PathBuf>) -> Self {
        Self {
            identity,
            issuer,
            key,
            ..Self::default()
        }
    }

    /// Builds the policy; parse errors (bad regex, empty value, unreadable key) are coded.
    pub fn build(&self) -> Result<Policy, VerifyError> {
        if let Some(path) = &self.key {
            let bytes = crate::limits::read_limited(path, Input::PublicKey)?;
            let pem = String::from_utf8_lossy(&bytes);
            return Ok(Policy::ManagedKey(ManagedKey::from_pem(&pem)?));
        }
        let identity = matcher(PolicyField::Identity, &self.identity, &self.identity_regexp)?;
        let issuer = matcher(PolicyField::Issuer, &self.issuer, &self.issuer_regexp)?;
        let mut policy = IdentityPolicy::new(identity, issuer);
        for (claim, value) in &self.claims {
            let m = Matcher::exact(PolicyField::Claim(*claim), value.clone())?;
            policy = policy.require_claim(*claim, m);
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
        (None, None) => Err(PolicyError::Empty { field }.into()),
    }
}

/// Which Sigstore instance to trust: a trusted_root.json file, else the embedded
/// staging root, else the embedded public-good root.
#[derive(Debug, Clone, Default)]
pub struct TrustSpec {
    /// The embedded staging root instead of public-good.
    pub staging: bool,
    /// A trusted_root.json (or client trust config) file; wins over `staging`.
    pub trusted_root: Option<PathBuf>,
}

impl TrustSpec {
    /// Loads the chosen root.
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

/// The whole verification from command-line inputs: `artifact` is a path, `-` for
/// standard input, or `sha256:`/`sha512:` and hex.
pub fn verify_request(
    artifact: &str,
    bundle: &Path,
    policy: &PolicySpec,
    trust: &TrustSpec,
) -> Result<(Verified, TrustRoot), VerifyError> {
    let artifact = Artifact::from_file_or_digest(artifact)?;
    let policy = policy.build()?;
    let root = trust.load()?;
    let verifier = Verifier::new(&root)?;
    let bundle = ParsedBundle::from_file(bundle)?;
    let verified = verifier.verify(&artifact, &bundle, &policy)?;
    Ok((verified, root))
}

/// The stable JSON fields of a verified result (`vouch verify --json`).
pub fn report_json(v: &Verified) -> Map<String, Value> {
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
    let times: Vec<String> = v.signing_times.iter().map(|t| t.to_string()).collect();
    obj.insert("signing_times".into(), json!(times));
    let entries: Vec<Value> = v
        .log_entries
        .iter()
        .map(|e| json!({"log_index": e.log_index, "kind": e.kind, "version": e.version}))
        .collect();
    obj.insert("log_entries".into(), json!(entries));
    obj
}

/// The text report of a verified result, one line per item. Identities, claims,
/// predicate types and subject names come from the bundle: a caller printing to a
/// terminal must neutralise control characters in each line.
pub fn report_lines(artifact: &str, v: &Verified, root: &TrustRoot) -> Vec<String> {
    let mut out = vec![format!("verified: {artifact}")];
    match &v.signer {
        Signer::Certificate {
            identity,
            issuer,
            claims,
        } => {
            out.push(format!("  signer:     {identity}"));
            out.push(format!("  issuer:     {issuer}"));
            for (claim, value) in claims {
                let label = format!("{}:", short_claim(*claim));
                out.push(format!("  {label:<11} {value}"));
            }
        }
        _ => out.push("  signer:     managed key (--key)".into()),
    }
    match &v.content {
        Content::Dsse {
            predicate_type,
            subjects,
            ..
        } => {
            out.push(format!(
                "  content:    DSSE in-toto statement, predicate {predicate_type}"
            ));
            for s in subjects {
                let digests: Vec<String> =
                    s.digests.iter().map(|(a, h)| format!("{a}:{h}")).collect();
                out.push(format!("  subject:    {} {}", s.name, digests.join(" ")));
            }
        }
        _ => out.push("  content:    message signature".into()),
    }
    for e in &v.log_entries {
        out.push(format!(
            "  log entry:  index {} ({} {})",
            e.log_index, e.kind, e.version
        ));
    }
    for t in &v.signing_times {
        out.push(format!("  signed at:  {t}"));
    }
    out.push(format!("  bundle:     v{}", v.bundle_version.as_str()));
    out.push(format!("  trust root: {}", root.source()));
    out
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
    }
}
