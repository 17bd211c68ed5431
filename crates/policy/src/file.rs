//! The policy file's format (TOML, strict: unknown keys are errors), its compiled rules
//! and the check of a verified signer against them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use sha2::Digest as _;
use vouch_verify::{CiClaim, IdentityPolicy, Matcher, Policy, PolicyField, Signer, VerifyError};

use crate::error::{PolicyError, Tried};
use crate::glob;

/// Largest policy file read (a policy is a page of text, not a database).
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// The format version this crate reads.
const FORMAT_VERSION: u32 = 1;

/// The claims a rule may require, by their key in the file, with the Fulcio claim each
/// reads. `workflow` is the calling workflow (Build Config URI, GitHub's
/// `workflow_ref`); `signer_workflow` the workflow that asked for the certificate
/// (Build Signer URI, `job_workflow_ref`), a reusable workflow when the two differ.
pub const CLAIM_KEYS: [(&str, CiClaim); 8] = [
    ("repository", CiClaim::SourceRepository),
    ("ref", CiClaim::SourceRepositoryRef),
    ("commit", CiClaim::SourceRepositoryDigest),
    ("workflow", CiClaim::BuildConfig),
    ("signer_workflow", CiClaim::BuildSigner),
    ("trigger", CiClaim::BuildTrigger),
    ("runner", CiClaim::RunnerEnvironment),
    ("environment", CiClaim::DeploymentEnvironment),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: u32,
    #[serde(default, rename = "rule")]
    rules: Vec<WireRule>,
}

/// Not `deny_unknown_fields` (serde cannot combine it with `flatten`): every key that is
/// not a field lands in `claims`, and [`compile`] refuses any that is not a claim.
#[derive(Debug, Deserialize)]
struct WireRule {
    name: String,
    #[serde(default)]
    subjects: Option<Vec<String>>,
    identity: Option<WireMatch>,
    issuer: Option<WireMatch>,
    #[serde(flatten)]
    claims: BTreeMap<String, WireMatch>,
}

/// A value: `"exact"` or `{ regexp = "..." }` (or `{ exact = "..." }`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireMatch {
    Exact(String),
    Table(WireTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTable {
    exact: Option<String>,
    regexp: Option<String>,
}

/// One allowed signer.
#[derive(Debug, Clone)]
pub struct Rule {
    name: String,
    subjects: Vec<String>,
    identity: Matcher,
    issuer: Matcher,
    claims: Vec<(&'static str, CiClaim, Matcher)>,
}

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the rule covers `subject`.
    pub fn covers(&self, subject: &str) -> bool {
        self.subjects.iter().any(|p| glob::matches(p, subject))
    }

    /// The first requirement the signer fails, in the order identity, issuer, claims.
    fn check(
        &self,
        identity: &str,
        issuer: &str,
        claims: &[(CiClaim, String)],
    ) -> Result<(), Tried> {
        let tried = |claim: &'static str, expected: &Matcher, found: Option<&str>| Tried {
            rule: self.name.clone(),
            claim,
            expected: expected.to_string(),
            found: found.unwrap_or("none").to_owned(),
        };
        if !self.identity.matches(identity) {
            return Err(tried("identity", &self.identity, Some(identity)));
        }
        if !self.issuer.matches(issuer) {
            return Err(tried("issuer", &self.issuer, Some(issuer)));
        }
        for (key, claim, matcher) in &self.claims {
            let found = claims
                .iter()
                .find(|(c, _)| c == claim)
                .map(|(_, v)| v.as_str());
            if !found.is_some_and(|v| matcher.matches(v)) {
                return Err(tried(key, matcher, found));
            }
        }
        Ok(())
    }
}

/// The rule that accepted a signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The rule's name.
    pub rule: String,
}

/// A parsed, valid policy file.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    rules: Vec<Rule>,
    digest: String,
    source: String,
}

impl PolicyFile {
    /// Reads and parses a policy file (at most [`MAX_POLICY_BYTES`]).
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        use std::io::Read as _;
        let read = |error| PolicyError::Read {
            path: path.to_owned(),
            error,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(read)?
            .take(MAX_POLICY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read)?;
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(PolicyError::Invalid {
                source_name: path.display().to_string(),
                detail: format!("expected at most {MAX_POLICY_BYTES} bytes, found more"),
            });
        }
        Self::parse(&bytes, &path.display().to_string())
    }

    /// Reads and parses the policy file a command was given, if any (`--policy`).
    pub fn load_given(path: Option<&Path>) -> Result<Option<Self>, PolicyError> {
        path.map(Self::load).transpose()
    }

    /// Parses a policy from its bytes; `source` names it in errors.
    pub fn parse(bytes: &[u8], source: &str) -> Result<Self, PolicyError> {
        let invalid = |detail: String| PolicyError::Invalid {
            source_name: source.to_owned(),
            detail,
        };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8".into()))?;
        let wire: Wire = toml::from_str(text).map_err(|e| invalid(e.message().to_owned()))?;
        if wire.version != FORMAT_VERSION {
            return Err(invalid(format!(
                "expected version = {FORMAT_VERSION}, found {}",
                wire.version
            )));
        }
        if wire.rules.is_empty() {
            return Err(invalid("expected at least one [[rule]], found none".into()));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(wire.rules.len());
        for w in wire.rules {
            let rule = compile(w).map_err(&invalid)?;
            if rules.iter().any(|r| r.name == rule.name) {
                return Err(invalid(format!("rule name {:?} is used twice", rule.name)));
            }
            rules.push(rule);
        }
        Ok(Self {
            rules,
            digest: format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes))),
            source: source.to_owned(),
        })
    }

    /// `sha256:HEX` of the file's bytes, as a lockfile records it.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Where the policy was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The policy a bundle is cryptographically verified under before its signer is
    /// checked against the rules: any keyless signer (a managed-key bundle is refused,
    /// `VERIFY_E010`). Never use it alone: it decides nothing about who signed.
    pub fn any_signer() -> Policy {
        let any = |field| Matcher::regex(field, ".+").expect("`.+` is a valid regex");
        Policy::Keyless(IdentityPolicy::new(
            any(PolicyField::Identity),
            any(PolicyField::Issuer),
        ))
    }

    /// Checks a verified signer against the rules covering `subject`: the first rule that
    /// accepts it is named; otherwise every rule tried is listed with the claim it
    /// failed on (`POLICY_E004`). No rule for the subject is `POLICY_E003`.
    pub fn check(&self, subject: &str, signer: &Signer) -> Result<Accepted, PolicyError> {
        let covering: Vec<&Rule> = self.rules.iter().filter(|r| r.covers(subject)).collect();
        if covering.is_empty() {
            let mut patterns: Vec<String> =
                self.rules.iter().flat_map(|r| r.subjects.clone()).collect();
            patterns.dedup();
            return Err(PolicyError::NoRule {
                subject: subject.to_owned(),
                patterns,
            });
        }
        let Signer::Certificate {
            identity,
            issuer,
            claims,
        } = signer
        else {
            return Err(PolicyError::NotKeyless {
                subject: subject.to_owned(),
            });
        };
        let mut tried = Vec::with_capacity(covering.len());
        for rule in covering {
            match rule.check(identity, issuer, claims) {
                Ok(()) => {
                    return Ok(Accepted {
                        rule: rule.name.clone(),
                    })
                }
                Err(t) => tried.push(t),
            }
        }
        Err(PolicyError::Refused {
            subject: subject.to_owned(),
            tried,
        })
    }
}

fn compile(w: WireRule) -> Result<Rule, String> {
    let name = w.name.trim().to_owned();
    if name.is_empty() {
        return Err("a rule's name must not be empty".into());
    }
    let at = |what: &str| format!("rule {name:?}: {what}");
    let subjects = w.subjects.unwrap_or_else(|| vec!["*".to_owned()]);
    if subjects.is_empty() || subjects.iter().any(String::is_empty) {
        return Err(at(
            "subjects must be non-empty patterns (omit the key to cover everything)",
        ));
    }
    let identity = w
        .identity
        .ok_or_else(|| at("expected an identity, found none"))
        .and_then(|m| matcher(PolicyField::Identity, m).map_err(|e| at(&e)))?;
    let issuer = w
        .issuer
        .ok_or_else(|| at("expected an issuer, found none"))
        .and_then(|m| matcher(PolicyField::Issuer, m).map_err(|e| at(&e)))?;
    let mut claims = Vec::new();
    for (key, value) in w.claims {
        let Some((key, claim)) = CLAIM_KEYS.iter().find(|(k, _)| *k == key) else {
            let known: Vec<&str> = CLAIM_KEYS.iter().map(|(k, _)| *k).collect();
            return Err(at(&format!(
                "unknown key {key:?}; expected name, subjects, identity, issuer or a claim ({})",
                known.join(", ")
            )));
        };
        let m = matcher(PolicyField::Claim(*claim), value).map_err(|e| at(&e))?;
        claims.push((*key, *claim, m));
    }
    Ok(Rule {
        name,
        subjects,
        identity,
        issuer,
        claims,
    })
}

fn matcher(field: PolicyField, m: WireMatch) -> Result<Matcher, String> {
    let built = match m {
        WireMatch::Exact(v) => Matcher::exact(field, v),
        WireMatch::Table(WireTable {
            exact: Some(v),
            regexp: None,
        }) => Matcher::exact(field, v),
        WireMatch::Table(WireTable {
            exact: None,
            regexp: Some(r),
        }) => Matcher::regex(field, &r),
        WireMatch::Table(_) => {
            return Err(format!(
                "{field}: expected a string, {{ exact = \"...\" }} or {{ regexp = \"...\" }}"
            ))
        }
    };
    built.map_err(|e| VerifyError::from(e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GH: &str = "https://token.actions.githubusercontent.com";
    const POLICY: &str = r#"
version = 1

[[rule]]
name = "release workflow"
subjects = ["@acme/*"]
issuer = "https://token.actions.githubusercontent.com"
identity = { regexp = "https://github\\.com/acme/widget/\\.github/workflows/release\\.yml@refs/tags/v.*" }
repository = "https://github.com/acme/widget"

[[rule]]
name = "shared publisher"
subjects = ["@acme/*"]
issuer = "https://token.actions.githubusercontent.com"
identity = { regexp = "https://github\\.com/acme/shared/.*" }
workflow = { regexp = "https://github\\.com/acme/widget/\\.github/workflows/ci\\.yml@.*" }

[[rule]]
name = "maintainer"
subjects = ["@acme/*", "*.whl"]
issuer = "https://accounts.example.com"
identity = "alice@example.com"
"#;

    fn cert(identity: &str, issuer: &str, claims: &[(CiClaim, &str)]) -> Signer {
        Signer::Certificate {
            identity: identity.into(),
            issuer: issuer.into(),
            claims: claims.iter().map(|(c, v)| (*c, (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn two_signers_accepted_and_a_third_refused_naming_every_rule() {
        let p = PolicyFile::parse(POLICY.as_bytes(), "p.toml").unwrap();
        let ci = cert(
            "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0",
            GH,
            &[(CiClaim::SourceRepository, "https://github.com/acme/widget")],
        );
        assert_eq!(
            p.check("@acme/widget", &ci).unwrap().rule,
            "release workflow"
        );
        let laptop = cert("alice@example.com", "https://accounts.example.com", &[]);
        assert_eq!(p.check("@acme/widget", &laptop).unwrap().rule, "maintainer");

        let mallory = cert("mallory@example.com", "https://accounts.example.com", &[]);
        let err = p.check("@acme/widget", &mallory).unwrap_err();
        assert_eq!(err.code(), "POLICY_E004");
        let PolicyError::Refused { tried, .. } = &err else {
            panic!("{err}")
        };
        let names: Vec<&str> = tried.iter().map(|t| t.rule.as_str()).collect();
        assert_eq!(
            names,
            ["release workflow", "shared publisher", "maintainer"]
        );
        assert_eq!(tried[0].claim, "identity");
        assert_eq!(tried[2].claim, "identity");
        assert_eq!(tried[2].found, "mallory@example.com");
        let text = err.to_string();
        assert!(text.contains("rule \"maintainer\" failed on identity: expected alice@example.com, found mallory@example.com"), "{text}");
    }

    #[test]
    fn a_claim_failure_names_the_claim_and_a_missing_claim_is_none() {
        let p = PolicyFile::parse(POLICY.as_bytes(), "p.toml").unwrap();
        // The reusable workflow of acme/shared, called from another repository's ci.yml.
        let wrong_caller = cert(
            "https://github.com/acme/shared/.github/workflows/publish.yml@refs/heads/main",
            GH,
            &[(
                CiClaim::BuildConfig,
                "https://github.com/evil/fork/.github/workflows/ci.yml@refs/heads/main",
            )],
        );
        let err = p.check("@acme/widget", &wrong_caller).unwrap_err();
        let PolicyError::Refused { tried, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(tried[1].claim, "workflow");
        assert!(tried[1].found.contains("evil/fork"));
        let ok = cert(
            "https://github.com/acme/shared/.github/workflows/publish.yml@refs/heads/main",
            GH,
            &[(
                CiClaim::BuildConfig,
                "https://github.com/acme/widget/.github/workflows/ci.yml@refs/heads/main",
            )],
        );
        assert_eq!(
            p.check("@acme/gadget", &ok).unwrap().rule,
            "shared publisher"
        );
        let bare = cert(
            "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1",
            GH,
            &[],
        );
        let err = p.check("@acme/widget", &bare).unwrap_err();
        let PolicyError::Refused { tried, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            (tried[0].claim, tried[0].found.as_str()),
            ("repository", "none")
        );
    }

    #[test]
    fn subjects_select_the_rules() {
        let p = PolicyFile::parse(POLICY.as_bytes(), "p.toml").unwrap();
        let laptop = cert("alice@example.com", "https://accounts.example.com", &[]);
        assert_eq!(
            p.check("pkg-1.0-py3-none-any.whl", &laptop).unwrap().rule,
            "maintainer"
        );
        let err = p.check("@other/thing", &laptop).unwrap_err();
        assert_eq!(err.code(), "POLICY_E003");
        assert!(err.to_string().contains("@acme/*"), "{err}");
        assert_eq!(
            p.check("@acme/x", &Signer::ManagedKey).unwrap_err().code(),
            "POLICY_E005"
        );
    }

    #[test]
    fn invalid_files_are_refused_with_a_reason() {
        let cases = [
            ("version = 2\n[[rule]]\nname='a'\nidentity='i'\nissuer='s'\n", "version"),
            ("version = 1\n", "at least one"),
            ("version = 1\n[[rule]]\nname='a'\nissuer='s'\n", "identity"),
            ("version = 1\n[[rule]]\nname='a'\nidentity='i'\n", "issuer"),
            ("version = 1\n[[rule]]\nname='a'\nidentity=''\nissuer='s'\n", "empty"),
            ("version = 1\n[[rule]]\nname='a'\nidentity={regexp='('}\nissuer='s'\n", "regexp"),
            ("version = 1\n[[rule]]\nname='a'\nidentity='i'\nissuer='s'\nbranch='main'\n", "unknown key \"branch\""),
            ("version = 1\n[[rule]]\nname='a'\nidentity={exact='i',regexp='j'}\nissuer='s'\n", "expected a string"),
            ("version = 1\n[[rule]]\nname='a'\nidentity='i'\nissuer='s'\n[[rule]]\nname='a'\nidentity='i'\nissuer='s'\n", "twice"),
            ("version = 1\n[[rule]]\nname='a'\nsubjects=[]\nidentity='i'\nissuer='s'\n", "subjects"),
            ("version = 1\nextra = 1\n", "extra"),
        ];
        for (text, why) in cases {
            let err = PolicyFile::parse(text.as_bytes(), "p.toml").unwrap_err();
            assert_eq!(err.code(), "POLICY_E002", "{text}");
            assert!(err.to_string().contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn the_digest_is_the_files_sha256() {
        let p = PolicyFile::parse(POLICY.as_bytes(), "p.toml").unwrap();
        assert_eq!(
            p.digest(),
            format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(POLICY.as_bytes()))
            )
        );
        let missing = PolicyFile::load(Path::new("/nonexistent/policy.toml")).unwrap_err();
        assert_eq!(missing.code(), "POLICY_E001");
    }
}
