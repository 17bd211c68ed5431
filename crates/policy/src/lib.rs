//! Identity policy files: who may have signed what, as a TOML file of rules, each an
//! allowed signer (identity, issuer and Fulcio CI claims, each exact or an anchored
//! regex) for the packages or artifacts its `subjects` patterns name.
//!
//! This crate's one job is to decide whether a signer that `vouch-verify` has already
//! proven (certificate chain, SCT, log inclusion, signature) is one a policy file
//! allows, and to say, when none is, which rules were tried and the claim each failed
//! on. `verify`, `fetch`, `audit signatures` and `lock --check` call it after their own
//! checks, so a policy file can only narrow what they accept, never widen it.
//!
//! ```toml
//! version = 1
//!
//! [[rule]]
//! name = "release workflow"
//! subjects = ["@acme/*"]            # glob, `*` is any run of characters; default: all
//! issuer = "https://token.actions.githubusercontent.com"
//! identity = { regexp = "https://github\\.com/acme/widget/\\.github/workflows/release\\.yml@refs/tags/v.*" }
//! repository = "https://github.com/acme/widget"
//! environment = "release"
//!
//! [[rule]]
//! name = "maintainer laptop"
//! issuer = "https://accounts.example.com"
//! identity = "alice@example.com"
//! ```
//!
//! **Invariant:** a file that parses is a valid policy: every rule has a unique name, an
//! identity and an issuer; every matcher is non-empty and every regex compiles anchored.

mod error;
mod file;
mod glob;

pub use error::{PolicyError, Tried, CODES};
pub use file::{Accepted, PolicyFile, Rule};

use std::path::Path;

use vouch_verify::request::TrustSpec;
use vouch_verify::{Artifact, ParsedBundle, TrustRoot, Verified, Verifier};

/// What [`verify_request`] proved: the bundle verified, and the rule that accepts its signer.
#[derive(Debug)]
pub struct Checked {
    pub verified: Verified,
    pub root: TrustRoot,
    pub accepted: Accepted,
}

/// `vouch verify --policy FILE`: verifies the bundle for the artifact (a path, `-` or a
/// digest) against the chosen trust root, then checks its signer against the policy's
/// rules for `subject` (by default the artifact's file name; a digest or standard input
/// has the empty name, which only rules without `subjects` cover).
pub fn verify_request(
    artifact: &str,
    bundle: &Path,
    policy: &PolicyFile,
    subject: Option<&str>,
    trust: &TrustSpec,
) -> Result<Checked, PolicyError> {
    let subject = subject.map_or_else(|| default_subject(artifact), str::to_owned);
    let artifact = Artifact::from_file_or_digest(artifact)?;
    let root = trust.load()?;
    let verifier = Verifier::new(&root)?;
    let bundle = ParsedBundle::from_file(bundle)?;
    let verified = verifier.verify(&artifact, &bundle, &PolicyFile::any_signer())?;
    let accepted = policy.check(&subject, &verified.signer)?;
    Ok(Checked {
        verified,
        root,
        accepted,
    })
}

/// The name an artifact argument is matched under: its file name, or empty for `-`
/// and digests.
pub fn default_subject(artifact: &str) -> String {
    if artifact == "-" || artifact.starts_with("sha256:") || artifact.starts_with("sha512:") {
        return String::new();
    }
    Path::new(artifact)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
