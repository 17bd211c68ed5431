//! The log step (Rekor v2): `POST {rekor}/api/v2/log/entries` with a
//! `hashedRekordRequestV002`, and the checks before the answer is accepted: the logged
//! body is exactly what we sent, the checkpoint is signed by a transparency log of the
//! trusted root, and the inclusion proof leads from our entry to that checkpoint's root.
//!
//! DSSE envelopes are logged as a hashedrekord over SHA-256 of their PAE, as
//! sigstore-python 4.x and sigstore-rust do (rekor-v2 spec §6.1.4); verifiers accept it.

use sigstore_rekor::body::RekorEntryBody;
use sigstore_rekor::{HashedRekordV2, RekorV2KeyDetails};
use sigstore_trust_root::TrustedRoot;
use sigstore_types::{
    DerCertificate, DerPublicKey, KindVersion, Sha256Hash, SignatureBytes, TransparencyLogEntry,
};

use crate::error::SignError;
use crate::http;

/// Who the log is told signed: a certificate (keyless) or a managed public key, DER.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Verifier<'a> {
    Certificate(&'a [u8]),
    PublicKey(&'a [u8]),
}

impl Verifier<'_> {
    /// PEM as Rekor v1 canonicalizes a verifier (64-column lines, LF, final newline).
    pub(crate) fn pem(&self) -> String {
        match self {
            Verifier::Certificate(der) => crate::rekor_v1::pem("CERTIFICATE", der),
            Verifier::PublicKey(der) => crate::rekor_v1::pem("PUBLIC KEY", der),
        }
    }
}

/// What was submitted, for comparing with what was logged.
pub(crate) struct Submission<'a> {
    pub(crate) digest: [u8; 32],
    pub(crate) signature: &'a [u8],
    pub(crate) verifier: Verifier<'a>,
}

impl Submission<'_> {
    fn request(&self) -> HashedRekordV2 {
        let digest = Sha256Hash::from(self.digest);
        let signature = SignatureBytes::new(self.signature.to_vec());
        let details = RekorV2KeyDetails::PkixEcdsaP256Sha256;
        match self.verifier {
            Verifier::Certificate(der) => HashedRekordV2::new_with_certificate(
                &digest,
                &signature,
                &DerCertificate::new(der.to_vec()),
                details,
            ),
            Verifier::PublicKey(der) => HashedRekordV2::new_with_public_key(
                &digest,
                &signature,
                &DerPublicKey::new(der.to_vec()),
                details,
            ),
        }
    }
}

/// Submits the entry to the log at `rekor_url` and returns it once checked.
pub(crate) async fn submit(
    http_client: &reqwest::Client,
    rekor_url: &str,
    submission: &Submission<'_>,
    root: &TrustedRoot,
) -> Result<TransparencyLogEntry, SignError> {
    let url = format!("{rekor_url}/api/v2/log/entries");
    let answer = http::post_log_entry(http_client, &url, &submission.request()).await?;
    let entry: TransparencyLogEntry =
        serde_json::from_slice(&answer).map_err(|e| SignError::LogEntryMismatch {
            check: format!("expected a TransparencyLogEntry JSON object: {e}"),
        })?;
    check_entry(&entry, submission, root)?;
    Ok(entry)
}

/// Checks a returned entry against the submission and the trusted root. Fails closed.
pub(crate) fn check_entry(
    entry: &TransparencyLogEntry,
    submission: &Submission<'_>,
    root: &TrustedRoot,
) -> Result<(), SignError> {
    let mismatch = |check: String| SignError::LogEntryMismatch { check };
    if entry.kind_version != KindVersion::HashedRekordV002 {
        return Err(mismatch(format!(
            "expected kindVersion hashedrekord/0.0.2, found {}/{}",
            entry.kind_version.kind(),
            entry.kind_version.version()
        )));
    }
    let body = RekorEntryBody::parse(&entry.canonicalized_body, entry.kind_version)
        .map_err(|e| mismatch(format!("canonicalizedBody does not parse: {e}")))?;
    let RekorEntryBody::HashedRekordV002(body) = body else {
        return Err(mismatch(
            "canonicalizedBody is not a hashedrekord/0.0.2".into(),
        ));
    };
    let logged = &body.spec.hashed_rekord_v002;
    if logged.data.digest.as_bytes() != submission.digest {
        return Err(mismatch(format!(
            "logged digest {} is not the submitted {}",
            hex::encode(logged.data.digest.as_bytes()),
            hex::encode(submission.digest)
        )));
    }
    if logged.signature.content.as_bytes() != submission.signature {
        return Err(mismatch("logged signature is not the submitted one".into()));
    }
    let logged_verifier = &logged.signature.verifier;
    let (logged_der, submitted, what) = match submission.verifier {
        Verifier::Certificate(der) => (
            logged_verifier
                .x509_certificate
                .as_ref()
                .map(|c| c.raw_bytes.as_bytes()),
            der,
            "certificate",
        ),
        Verifier::PublicKey(der) => (
            logged_verifier
                .public_key
                .as_ref()
                .map(|k| k.raw_bytes.as_bytes()),
            der,
            "public key",
        ),
    };
    if logged_der != Some(submitted) {
        return Err(mismatch(format!(
            "logged verifier is not the submitted {what}"
        )));
    }
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or_else(|| mismatch("expected an inclusionProof, found none".into()))?;
    let checkpoint = proof_checkpoint(proof)?;

    // Checkpoint first: its root is what the proof must reach, so it must be a log's.
    check_checkpoint(checkpoint, root)?;

    check_leaf_inclusion(entry, proof, checkpoint)
}

/// The checkpoint an inclusion proof carries (`CheckpointInvalid` when none).
pub(crate) fn proof_checkpoint(
    proof: &sigstore_types::InclusionProof,
) -> Result<&sigstore_types::Checkpoint, SignError> {
    proof
        .checkpoint
        .checkpoint()
        .ok_or_else(|| SignError::CheckpointInvalid {
            detail: "expected a checkpoint in the inclusion proof, found none".into(),
        })
}

/// The entry's leaf reaches `checkpoint`'s root (a tree of its size) by `proof`'s hashes.
pub(crate) fn check_leaf_inclusion(
    entry: &TransparencyLogEntry,
    proof: &sigstore_types::InclusionProof,
    checkpoint: &sigstore_types::Checkpoint,
) -> Result<(), SignError> {
    let leaf = sigstore_merkle::hash_leaf(entry.canonicalized_body.as_bytes());
    sigstore_merkle::verify_inclusion_proof(
        &leaf,
        entry.log_index.get(),
        checkpoint.tree_size(),
        &proof.hashes,
        checkpoint.root_hash(),
    )
    .map_err(|e| SignError::InclusionProofInvalid {
        detail: format!(
            "entry {} in a tree of {}: {e}",
            entry.log_index.get(),
            checkpoint.tree_size()
        ),
    })
}

/// The checkpoint carries a valid signature by a tlog key of the trusted root (found by
/// its key hint; every matching key is tried).
pub(crate) fn check_checkpoint(
    checkpoint: &sigstore_types::Checkpoint,
    root: &TrustedRoot,
) -> Result<(), SignError> {
    let keys = root
        .rekor_keys()
        .map_err(|e| SignError::CheckpointInvalid {
            detail: format!("trusted root tlog keys unusable: {e}"),
        })?;
    let now = jiff::Timestamp::now();
    let message = checkpoint.signed_data();
    for signature in checkpoint.signatures() {
        for key in keys.keys_by_hint(&signature.key_id, now) {
            if key.verify(message, &signature.signature).is_ok() {
                return Ok(());
            }
        }
    }
    let matched_key = checkpoint
        .signatures()
        .iter()
        .any(|s| keys.keys_by_hint(&s.key_id, now).next().is_some());
    Err(SignError::CheckpointInvalid {
        detail: if matched_key {
            "a signature names a trusted log key but does not verify".into()
        } else {
            format!(
                "no signature by a key of the trusted root's {} tlog(s) (origin {:?})",
                root.tlogs.len(),
                checkpoint.origin()
            )
        },
    })
}
