//! What a successful verification established: the signer, the signing times, the log
//! entries and (for DSSE) the attested subjects. Plain data; the CLI renders it.

use sigstore_types::{SignatureContent, Statement};

use crate::bundle::{BundleVersion, ParsedBundle};
use crate::policy::CiClaim;

/// Who signed, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signer {
    /// A Fulcio certificate that chained to the trusted root and matched the policy.
    Certificate {
        /// The certificate's SAN (email or URI).
        identity: String,
        /// The OIDC issuer extension.
        issuer: String,
        /// Every Fulcio CI claim the certificate carries.
        claims: Vec<(CiClaim, String)>,
    },
    /// The managed key given in the policy.
    ManagedKey,
}

/// One in-toto subject of a DSSE statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The subject's name (may be empty).
    pub name: String,
    /// `(algorithm, hex)` pairs for sha256 and sha512.
    pub digests: Vec<(&'static str, String)>,
}

/// What the bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    /// A signature over the artifact (hashedrekord).
    MessageSignature,
    /// A DSSE envelope carrying an in-toto statement about the artifact.
    Dsse {
        /// The DSSE payload type.
        payload_type: String,
        /// The statement's predicate type.
        predicate_type: String,
        /// The statement's subjects.
        subjects: Vec<Subject>,
    },
}

/// One verified transparency-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The entry's index in its log.
    pub log_index: u64,
    /// `hashedrekord`, `dsse` or `intoto`.
    pub kind: &'static str,
    /// The entry schema version (`0.0.1` and `0.0.2` are Rekor v1 and v2 hashedrekord).
    pub version: &'static str,
}

/// A verified bundle. Only constructed by [`crate::Verifier`] after every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The bundle format version.
    pub bundle_version: BundleVersion,
    /// What was signed.
    pub content: Content,
    /// Who signed.
    pub signer: Signer,
    /// Every authenticated signing time (SET-backed integrated times, RFC 3161 times).
    pub signing_times: Vec<jiff::Timestamp>,
    /// The log entries whose inclusion was verified.
    pub log_entries: Vec<LogEntry>,
}

impl Content {
    pub(crate) fn of(bundle: &ParsedBundle) -> Content {
        match &bundle.bundle.content {
            SignatureContent::DsseEnvelope(env) => {
                // Upstream already parsed and bound this statement; a second parse for the
                // report cannot fail differently, but stays total rather than unwrapping.
                let statement: Option<Statement> =
                    serde_json::from_slice(env.payload.as_bytes()).ok();
                Content::Dsse {
                    payload_type: env.payload_type.clone(),
                    predicate_type: statement
                        .as_ref()
                        .map(|s| s.predicate_type.clone())
                        .unwrap_or_default(),
                    subjects: statement
                        .map(|s| s.subject.into_iter().map(subject).collect())
                        .unwrap_or_default(),
                }
            }
            _ => Content::MessageSignature,
        }
    }
}

fn subject(s: sigstore_types::Subject) -> Subject {
    let mut digests = Vec::new();
    if let Some(d) = s.digest.sha256 {
        digests.push(("sha256", d.to_hex()));
    }
    if let Some(d) = s.digest.sha512 {
        digests.push(("sha512", d.to_hex()));
    }
    Subject {
        name: s.name,
        digests,
    }
}

pub(crate) fn log_entries(bundle: &ParsedBundle) -> Vec<LogEntry> {
    bundle
        .bundle
        .verification_material
        .tlog_entries
        .iter()
        .map(|e| LogEntry {
            log_index: e.log_index.get(),
            kind: e.kind_version.kind(),
            version: e.kind_version.version(),
        })
        .collect()
}
