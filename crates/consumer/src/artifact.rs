//! `vouch verify FILE_OR_DIGEST --bundle B`: one artifact against one Sigstore bundle,
//! offline, under an identity policy given as flags ([`PolicySpec`]) or as a policy file,
//! against the trusted root a [`crate::RootChoice`] resolved.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vouch_api_client::CodedError;
use vouch_policy::PolicyFile;
use vouch_verify::request::{report_json, report_lines};
use vouch_verify::{verify_request, PolicySpec, TrustRoot, TrustSpec, Verified};

/// Who must have signed: the flags' policy, or a policy file's rules.
#[derive(Debug, Clone)]
pub enum ArtifactPolicy {
    Flags(PolicySpec),
    File(PathBuf),
}

/// What `verify_artifact` proved.
#[derive(Debug)]
pub struct ArtifactVerified {
    pub artifact: String,
    pub bundle: PathBuf,
    pub verified: Verified,
    pub root: TrustRoot,
    /// The policy file's rule that accepted the signer (with a policy file).
    pub rule: Option<String>,
}

/// Verifies `artifact` (a path, `-` for standard input, or `sha256:`/`sha512:` and hex)
/// against `bundle` under `policy` and the root `trust` names. A refusal keeps the
/// verifier's or the policy's code; a bundle from an instance the embedded root does not
/// know says which root to pass.
pub fn verify_artifact(
    artifact: &str,
    bundle: &Path,
    policy: &ArtifactPolicy,
    trust: &TrustSpec,
) -> Result<ArtifactVerified, CodedError> {
    let result = match policy {
        ArtifactPolicy::File(file) => PolicyFile::load(file)
            .and_then(|p| vouch_policy::verify_request(artifact, bundle, &p, None, trust))
            .map(|c| (c.verified, c.root, Some(c.accepted.rule)))
            .map_err(|e| (CodedError::from(&e), None)),
        ArtifactPolicy::Flags(spec) => verify_request(artifact, bundle, spec, trust)
            .map(|(v, root)| (v, root, None))
            .map_err(|e| (CodedError::from(&e), trust.hint(&e))),
    };
    match result {
        Ok((verified, root, rule)) => Ok(ArtifactVerified {
            artifact: artifact.to_owned(),
            bundle: bundle.to_owned(),
            verified,
            root,
            rule,
        }),
        Err((mut coded, hint)) => {
            if let Some(hint) = hint {
                coded.message = format!("{}; {hint}", coded.message);
            }
            Err(coded)
        }
    }
}

impl ArtifactVerified {
    /// `vouch verify --json`: the verifier's report with the inputs, root and rule.
    pub fn to_json(&self) -> Value {
        let mut obj = report_json(&self.verified);
        obj.insert("artifact".into(), json!(self.artifact));
        obj.insert("bundle".into(), json!(self.bundle.display().to_string()));
        obj.insert("trust_root".into(), json!(self.root.source().to_string()));
        obj.insert("policy_rule".into(), json!(self.rule));
        Value::Object(obj)
    }

    /// `vouch verify`: the verifier's report lines, then the accepting rule. Identities
    /// and claims come from the bundle: untrusted text for the caller to escape.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = report_lines(&self.artifact, &self.verified, &self.root);
        if let Some(rule) = &self.rule {
            lines.push(format!("  policy:     rule {rule:?}"));
        }
        lines
    }
}

/// `vouch verify --json` when the bundle did not verify: the inputs and the error.
pub fn refusal_json(artifact: &str, bundle: &Path, err: &CodedError) -> Value {
    json!({
        "verified": false,
        "artifact": artifact,
        "bundle": bundle.display().to_string(),
        "error": { "code": err.code, "message": err.message },
    })
}
