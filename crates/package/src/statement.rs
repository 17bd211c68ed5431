//! What a published package's signed statement must say: a DSSE in-toto Statement v1 with SLSA provenance v1 whose subject is the archive's SHA-256.

use serde_json::Value;
use sigstore_types::SignatureContent;
use vouch_verify::ParsedBundle;

use crate::publish_error::{BundleProblem, PublishError};

/// The in-toto Statement v1 type.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Parses a bundle, refusing what does not parse as PUB_E005 with the verifier's code.
pub(crate) fn parse_bundle(bundle: &[u8]) -> Result<ParsedBundle, PublishError> {
    ParsedBundle::from_json(bundle).map_err(|e| {
        BundleProblem::Format {
            code: e.code(),
            detail: e.to_string(),
        }
        .into()
    })
}

/// The cheap half of [`crate::verify_published_bundle`], run before the archive is
/// decompressed: the bundle parses and its statement names the uploaded bytes' SHA-256
/// as a subject. No signature is checked here; the full verification does it all again.
pub fn bundle_names_archive(bundle: &[u8], sha256: &[u8; 32]) -> Result<(), PublishError> {
    check_statement(&parse_bundle(bundle)?, sha256)
}

/// The statement checks: DSSE, in-toto Statement v1, SLSA provenance v1, a subject
/// with the archive's SHA-256. (The signature over it is checked by the verifier.)
pub fn check_statement(parsed: &ParsedBundle, sha256: &[u8; 32]) -> Result<(), PublishError> {
    let SignatureContent::DsseEnvelope(env) = &parsed.inner().content else {
        return Err(BundleProblem::NotDsse.into());
    };
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(BundleProblem::PayloadType {
            found: env.payload_type.clone(),
        }
        .into());
    }
    let statement: Value = serde_json::from_slice(env.payload.as_bytes()).map_err(|e| {
        BundleProblem::StatementNotJson {
            reason: e.to_string(),
        }
    })?;
    let field = |k: &str| {
        statement
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_owned()
    };
    if field("_type") != STATEMENT_V1 {
        return Err(BundleProblem::StatementType {
            found: field("_type"),
        }
        .into());
    }
    if field("predicateType") != SLSA_PROVENANCE_V1 {
        return Err(BundleProblem::PredicateType {
            found: field("predicateType"),
        }
        .into());
    }
    let expected = hex::encode(sha256);
    let found: Vec<String> = statement
        .get("subject")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|sub| sub.pointer("/digest/sha256").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    if !found.contains(&expected) {
        return Err(BundleProblem::SubjectDigest { expected, found }.into());
    }
    Ok(())
}
