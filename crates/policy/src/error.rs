//! The crate's one error type, with stable `POLICY_E…` codes (a verification error
//! from `vouch-verify` keeps its own `VERIFY_E…` code).

use std::path::PathBuf;

use vouch_verify::{ErrorClass, VerifyError};

/// One rule a signer was tried against, and the claim it failed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    /// The rule's name.
    pub rule: String,
    /// The claim that differed (`identity`, `issuer`, `repository`, `workflow`...).
    pub claim: &'static str,
    /// What the rule asks for (a value or `a match for regexp "..."`).
    pub expected: String,
    /// What the certificate carries (`none` when it lacks the claim).
    pub found: String,
}

impl std::fmt::Display for Tried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rule {:?} failed on {}: expected {}, found {}",
            self.rule, self.claim, self.expected, self.found
        )
    }
}

fn list(tried: &[Tried]) -> String {
    tried
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a policy file could not be used, or refused a signer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("cannot read policy file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not a valid policy (TOML, schema, empty value, bad regex, duplicate name).
    #[error("invalid policy file {source_name}: {detail}")]
    Invalid { source_name: String, detail: String },
    /// No rule's `subjects` pattern names this package or artifact.
    #[error("the policy has no rule for {subject:?}: its rules cover {}", patterns.join(", "))]
    NoRule {
        subject: String,
        patterns: Vec<String>,
    },
    /// Every rule for the subject was tried and none accepts the signer.
    #[error(
        "no rule of the policy accepts the signer of {subject:?}: {}",
        list(tried)
    )]
    Refused { subject: String, tried: Vec<Tried> },
    /// The bundle is signed by a managed key; policy rules name keyless identities.
    #[error("the bundle of {subject:?} is signed by a managed key; the policy's rules accept only certificate identities")]
    NotKeyless { subject: String },
    /// The bundle itself did not verify (or its inputs could not be read).
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl PolicyError {
    /// The stable code; a verification error keeps `vouch-verify`'s.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Read { .. } => "POLICY_E001",
            PolicyError::Invalid { .. } => "POLICY_E002",
            PolicyError::NoRule { .. } => "POLICY_E003",
            PolicyError::Refused { .. } => "POLICY_E004",
            PolicyError::NotKeyless { .. } => "POLICY_E005",
            PolicyError::Verify(e) => e.code(),
        }
    }

    /// Input problems (exit 2) versus refusals (exit 1).
    pub fn class(&self) -> ErrorClass {
        match self {
            PolicyError::Read { .. } | PolicyError::Invalid { .. } => ErrorClass::Input,
            PolicyError::Verify(e) => e.class(),
            _ => ErrorClass::Rejected,
        }
    }
}

/// Every code with a one-line description, in code order.
pub const CODES: &[(&str, &str)] = &[
    ("POLICY_E001", "the policy file could not be read"),
    (
        "POLICY_E002",
        "the policy file is not a valid policy (TOML, schema, empty value, bad regex)",
    ),
    ("POLICY_E003", "no rule of the policy covers this package or artifact"),
    (
        "POLICY_E004",
        "no rule of the policy accepts the signer (each rule tried is named with the claim it failed on)",
    ),
    (
        "POLICY_E005",
        "the bundle is signed by a managed key, which policy rules do not accept",
    ),
];
