//! End-to-end issuance: Fulcio v2 request in, chain out; the chain verifies with OpenSSL,
//! the embedded SCT verifies as Sigstore clients check it, and bad input is refused.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use der::{Decode, Encode};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use vouch_ca::sct::{verify_embedded_sct, OID_CT_SCT_LIST};
use vouch_ca::{
    CaConfig, CaError, CaMaterial, CertificateAuthority, CertificateIdentity, FixedClock,
    ObjectIdentifier, San, SigningRequest, SystemClock, OID_BUILD_SIGNER_URI,
};
use x509_cert::Certificate;

const SUBJECT: &str = "repo:octo/demo:ref:refs/heads/main";

fn identity() -> CertificateIdentity {
    CertificateIdentity {
        san: San::Uri(
            "https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main".into(),
        ),
        issuer: "https://token.actions.githubusercontent.com".into(),
        extensions: vec![
            (
                OID_BUILD_SIGNER_URI,
                "https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main".into(),
            ),
            (
                ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.12"),
                "https://github.com/octo/demo".into(),
            ),
        ],
    }
}

fn ca_at(clock: Arc<dyn vouch_ca::Clock>) -> CertificateAuthority {
    let material = CaMaterial::generate(&CaConfig::default(), clock.now()).unwrap();
    CertificateAuthority::new(material, clock).unwrap()
}

fn public_key_request(key: &SigningKey, signed: &str) -> Vec<u8> {
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let proof: DerSignature = key.sign(signed.as_bytes());
    serde_json::to_vec(&serde_json::json!({
        "credentials": {"oidcIdentityToken": "header.payload.signature"},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem},
            "proofOfPossession": base64::engine::general_purpose::STANDARD.encode(proof.as_bytes()),
        }
    }))
    .unwrap()
}

fn spki_der(cert_der: &[u8]) -> Vec<u8> {
    Certificate::from_der(cert_der)
        .unwrap()
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap()
}

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn public_key_request_issues_a_chain_openssl_verifies() {
    let ca = ca_at(Arc::new(SystemClock));
    let key = SigningKey::random(&mut rand_core::OsRng);
    let request = SigningRequest::from_json(&public_key_request(&key, SUBJECT)).unwrap();
    assert_eq!(request.identity_token(), Some("header.payload.signature"));
    let proven = request.prove_possession(SUBJECT).unwrap();
    let issued = ca.issue(&proven, &identity()).unwrap();

    assert_eq!(
        issued.not_after.duration_since(issued.not_before).unwrap(),
        Duration::from_secs(600)
    );
    let response = issued.to_response().unwrap();
    let chain = &response.signed_certificate_embedded_sct.chain.certificates;
    assert_eq!(chain.len(), 3);
    let json = serde_json::to_value(&response).unwrap();
    assert!(
        json["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    // openssl ships on every machine this project runs on; its absence is a failure, not a skip.
    assert!(
        openssl_available(),
        "openssl is required for this test (Debian package openssl)"
    );
    let dir = tempfile::tempdir().unwrap();
    let leaf = write(dir.path(), "leaf.pem", &chain[0]);
    let intermediate = write(dir.path(), "intermediate.pem", &chain[1]);
    let root = write(dir.path(), "root.pem", &chain[2]);
    let verify = Command::new("openssl")
        .args([
            "verify",
            "-x509_strict",
            "-CAfile",
            &root,
            "-untrusted",
            &intermediate,
            &leaf,
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // The intermediate alone as trust anchor, as a verifier holding only `certChain[0]`.
    let partial = Command::new("openssl")
        .args(["verify", "-partial_chain", "-CAfile", &intermediate, &leaf])
        .output()
        .unwrap();
    assert!(partial.status.success());

    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", &leaf])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "X509v3 Key Usage: critical",
        "Digital Signature",
        "Code Signing",
        "X509v3 Subject Alternative Name: critical",
        "URI:https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main",
        "1.3.6.1.4.1.57264.1.1:",
        "https://token.actions.githubusercontent.com",
        "1.3.6.1.4.1.57264.1.8:",
        "1.3.6.1.4.1.57264.1.9:",
        "CT Precertificate SCTs:",
        "Signed Certificate Timestamp:",
        "ecdsa-with-SHA256",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn embedded_sct_verifies_and_a_flipped_bit_fails() {
    let ca = ca_at(Arc::new(SystemClock));
    let key = SigningKey::random(&mut rand_core::OsRng);
    let proven = SigningRequest::from_json(&public_key_request(&key, SUBJECT))
        .unwrap()
        .prove_possession(SUBJECT)
        .unwrap();
    let issued = ca.issue(&proven, &identity()).unwrap();
    let issuer_spki = spki_der(ca.intermediate_der());
    let ct_key = ca.ct_log().public_key_der().to_vec();

    let sct = verify_embedded_sct(&issued.certificate_der, &issuer_spki, &ct_key).unwrap();
    assert_eq!(sct, issued.sct);
    assert_eq!(sct.log_id, ca.ct_log().log_id());

    // The TBS the SCT covers is the final TBS minus the SCT list extension, which is the
    // precertificate's TBS minus the poison extension.
    let mut final_tbs = Certificate::from_der(&issued.certificate_der)
        .unwrap()
        .tbs_certificate;
    final_tbs
        .extensions
        .as_mut()
        .unwrap()
        .retain(|e| e.extn_id != OID_CT_SCT_LIST);
    assert_eq!(final_tbs.to_der().unwrap(), issued.precertificate_tbs_der);
    let mut pre_tbs = Certificate::from_der(&issued.precertificate_der)
        .unwrap()
        .tbs_certificate;
    let poison = pre_tbs.extensions.as_mut().unwrap().pop().unwrap();
    assert_eq!(poison.extn_id, vouch_ca::sct::OID_CT_POISON);
    assert!(poison.critical);
    assert_eq!(pre_tbs.to_der().unwrap(), issued.precertificate_tbs_der);

    // Wrong issuer (the root's key hash instead of the intermediate's): the signed data
    // differs, so the signature check is what refuses it.
    let root_spki = spki_der(ca.root_der());
    assert!(matches!(
        verify_embedded_sct(&issued.certificate_der, &root_spki, &ct_key),
        Err(CaError::SctInvalid {
            check: "signature does not verify"
        })
    ));

    // Flip one bit in the SCT's signature, then one in the certified public key: the
    // certificate still parses but the SCT no longer verifies.
    let der = &issued.certificate_der;
    let sig = &issued.sct.signature;
    let at = der
        .windows(sig.len())
        .position(|w| w == sig.as_slice())
        .unwrap();
    let mut tampered = der.clone();
    tampered[at + sig.len() - 1] ^= 0x01;
    assert!(matches!(
        verify_embedded_sct(&tampered, &issuer_spki, &ct_key),
        Err(CaError::SctInvalid {
            check: "signature does not verify"
        })
    ));

    let point = proven.spki().subject_public_key.raw_bytes().to_vec();
    let at = der
        .windows(point.len())
        .position(|w| w == point.as_slice())
        .unwrap();
    let mut tampered = der.clone();
    tampered[at + 10] ^= 0x80;
    assert!(matches!(
        verify_embedded_sct(&tampered, &issuer_spki, &ct_key),
        Err(CaError::SctInvalid {
            check: "signature does not verify"
        })
    ));
}

#[test]
fn merkle_tree_leaf_is_rfc6962_precert_entry() {
    let ca = ca_at(Arc::new(SystemClock));
    let key = SigningKey::random(&mut rand_core::OsRng);
    let proven = SigningRequest::from_json(&public_key_request(&key, SUBJECT))
        .unwrap()
        .prove_possession(SUBJECT)
        .unwrap();
    let issued = ca.issue(&proven, &identity()).unwrap();
    let leaf = &issued.ct_merkle_tree_leaf;
    assert_eq!(&leaf[..2], &[0, 0]);
    assert_eq!(&leaf[2..10], &issued.sct.timestamp_ms.to_be_bytes());
    assert_eq!(&leaf[10..12], &[0, 1]);
    assert_eq!(&leaf[12..44], &ca.issuer_key_hash());
    let len = usize::from(leaf[44]) << 16 | usize::from(leaf[45]) << 8 | usize::from(leaf[46]);
    assert_eq!(
        &leaf[47..47 + len],
        issued.precertificate_tbs_der.as_slice()
    );
    assert_eq!(&leaf[47 + len..], &[0, 0]);
}

#[test]
fn wrong_proof_of_possession_is_refused() {
    let key = SigningKey::random(&mut rand_core::OsRng);
    // Signed over another subject.
    let request = SigningRequest::from_json(&public_key_request(&key, "repo:evil/x")).unwrap();
    let err = request.prove_possession(SUBJECT).unwrap_err();
    assert!(matches!(
        err,
        CaError::ProofOfPossessionInvalid {
            algorithm: "ECDSA P-256"
        }
    ));
    assert_eq!(err.code(), "CA_E009");
    assert!(err.is_client_error());

    // Signed by another key.
    let other = SigningKey::random(&mut rand_core::OsRng);
    let mut body: serde_json::Value =
        serde_json::from_slice(&public_key_request(&key, SUBJECT)).unwrap();
    let foreign: serde_json::Value =
        serde_json::from_slice(&public_key_request(&other, SUBJECT)).unwrap();
    body["publicKeyRequest"]["proofOfPossession"] =
        foreign["publicKeyRequest"]["proofOfPossession"].clone();
    let request = SigningRequest::from_json(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert!(matches!(
        request.prove_possession(SUBJECT),
        Err(CaError::ProofOfPossessionInvalid { .. })
    ));
}

#[test]
fn unsupported_key_algorithm_is_refused() {
    // secp256k1 is an EC key the CA does not certify.
    let pem = "-----BEGIN PUBLIC KEY-----\n\
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEXV6yYpFs2NY9nhS1zwuRt4XSLVXMuMm+\n\
T4Tr7ib1VxFANo7gDCsgdvNKIUPjmsjbA5kl1B9x/jS5mr9LrvcXpg==\n\
-----END PUBLIC KEY-----\n";
    let body = serde_json::json!({
        "publicKeyRequest": {"publicKey": {"content": pem}, "proofOfPossession": "AAAA"}
    });
    let err = SigningRequest::from_json(&serde_json::to_vec(&body).unwrap()).unwrap_err();
    assert!(
        matches!(err, CaError::UnsupportedKeyAlgorithm { ref found } if found.contains("1.3.132.0.10")),
        "{err:?}"
    );
    assert_eq!(err.code(), "CA_E006");
}

#[test]
fn malformed_pem_is_refused() {
    let body = serde_json::json!({
        "publicKeyRequest": {"publicKey": {"content": "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n"}, "proofOfPossession": "AAAA"}
    });
    let err = SigningRequest::from_json(&serde_json::to_vec(&body).unwrap()).unwrap_err();
    assert!(matches!(err, CaError::MalformedPem { .. }));
    assert_eq!(err.code(), "CA_E005");
}

#[test]
fn openssl_csr_is_accepted_and_a_tampered_one_refused() {
    // openssl ships on every machine this project runs on; its absence is a failure, not a skip.
    assert!(
        openssl_available(),
        "openssl is required for this test (Debian package openssl)"
    );
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::random(&mut rand_core::OsRng);
    let key_path = write(
        dir.path(),
        "key.pem",
        &key.to_pkcs8_pem(LineEnding::LF).unwrap(),
    );
    let csr_path = dir.path().join("csr.pem");
    // Shaped like sigstore-python's CSR: emailAddress subject, CA:FALSE request.
    let out = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-sha256",
            "-key",
            &key_path,
            "-subj",
            "/emailAddress=someone@example.com",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-out",
        ])
        .arg(&csr_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read(&csr_path).unwrap();
    let body = serde_json::json!({
        "certificateSigningRequest": base64::engine::general_purpose::STANDARD.encode(&pem)
    });
    let request = SigningRequest::from_json(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(request.identity_token(), None);
    let proven = request.prove_possession("ignored for CSRs").unwrap();
    let expected = key.verifying_key().to_public_key_der().unwrap();
    assert_eq!(proven.spki_der().unwrap(), expected.as_bytes());
    let ca = ca_at(Arc::new(SystemClock));
    ca.issue(&proven, &identity()).unwrap();

    // Flip a bit in the CSR's signature value (the last byte of the DER).
    let text = String::from_utf8(pem).unwrap();
    let (_, mut der) = der::pem::decode_vec(text.as_bytes()).unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let tampered =
        der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &der).unwrap();
    let body = serde_json::json!({
        "certificate_signing_request": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tampered)
    });
    let request = SigningRequest::from_json(&serde_json::to_vec(&body).unwrap()).unwrap();
    let err = request.prove_possession("x").unwrap_err();
    assert!(
        matches!(err, CaError::CsrSignatureInvalid { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "CA_E011");
}

#[test]
fn issuer_validity_is_checked_against_the_clock() {
    let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock = Arc::new(FixedClock::new(start));
    let material = CaMaterial::generate(&CaConfig::default(), start).unwrap();
    let (_, intermediate_end) = material.intermediate().validity();
    let ca = CertificateAuthority::new(material, clock.clone()).unwrap();
    let key = SigningKey::random(&mut rand_core::OsRng);
    let proven = SigningRequest::from_json(&public_key_request(&key, SUBJECT))
        .unwrap()
        .prove_possession(SUBJECT)
        .unwrap();

    // Valid now: notBefore is the clock's time, notAfter ten minutes later.
    let issued = ca.issue(&proven, &identity()).unwrap();
    assert_eq!(issued.not_before, start);
    assert_eq!(issued.sct.timestamp_ms, 1_800_000_000_000);

    // Not yet valid.
    clock.set(start - Duration::from_secs(1));
    let err = ca.issue(&proven, &identity()).unwrap_err();
    assert!(matches!(err, CaError::IssuerNotValid { .. }));
    assert_eq!(err.code(), "CA_E015");

    // The leaf would outlive the intermediate.
    clock.set(intermediate_end - Duration::from_secs(300));
    assert!(matches!(
        ca.issue(&proven, &identity()),
        Err(CaError::IssuerNotValid { .. })
    ));

    // Expired.
    clock.set(intermediate_end + Duration::from_secs(1));
    assert!(matches!(
        ca.issue(&proven, &identity()),
        Err(CaError::IssuerNotValid { .. })
    ));
}

#[test]
fn sealed_material_reloads_into_an_equivalent_ca() {
    let now = SystemTime::now();
    let material = CaMaterial::generate(&CaConfig::default(), now).unwrap();
    let key = vouch_ca::EncryptionKey::from_hex(&"ab".repeat(32)).unwrap();
    let sealed = material.seal(&key).unwrap();
    let stored = vouch_ca::EncryptedKeyMaterial::from_bytes(sealed.as_bytes().to_vec()).unwrap();
    let reopened = CaMaterial::open(&stored, &key).unwrap();
    let a = CertificateAuthority::new(material, Arc::new(SystemClock)).unwrap();
    let b = CertificateAuthority::new(reopened, Arc::new(SystemClock)).unwrap();
    assert_eq!(a.chain_pem(), b.chain_pem());
    assert_eq!(a.ct_log().log_id(), b.ct_log().log_id());

    let wrong = vouch_ca::EncryptionKey::from_hex(&"cd".repeat(32)).unwrap();
    let err = CaMaterial::open(&stored, &wrong).unwrap_err();
    assert_eq!(err.code(), "CA_E020");
    let truncated =
        vouch_ca::EncryptedKeyMaterial::from_bytes(sealed.as_bytes()[..20].to_vec()).unwrap_err();
    assert_eq!(truncated.code(), "CA_E017");
}

/// Cross-check with pyca/cryptography (the library sigstore-python's SCT check is built
/// on): its `tbs_precertificate_bytes` must equal the TBS we signed, and its SCT parser
/// must read our log ID, timestamp and signature. Uses the project's venv (scripts/py-venv.sh),
/// whose sigstore package brings cryptography.
#[test]
fn pyca_cryptography_reads_the_precertificate_and_sct() {
    let python = project_python();
    let ca = ca_at(Arc::new(SystemClock));
    let key = SigningKey::random(&mut rand_core::OsRng);
    let proven = SigningRequest::from_json(&public_key_request(&key, SUBJECT))
        .unwrap()
        .prove_possession(SUBJECT)
        .unwrap();
    let issued = ca.issue(&proven, &identity()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leaf.der"), &issued.certificate_der).unwrap();
    std::fs::write(
        dir.path().join("ct.pem"),
        ca.ct_log().public_key_pem().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("issuer.der"), ca.intermediate_der()).unwrap();
    let script = r#"
import sys, struct, hashlib
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
d = sys.argv[1]
cert = x509.load_der_x509_certificate(open(d + "/leaf.der", "rb").read())
issuer = x509.load_der_x509_certificate(open(d + "/issuer.der", "rb").read())
ct = serialization.load_pem_public_key(open(d + "/ct.pem", "rb").read())
scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
assert len(scts) == 1
sct = scts[0]
assert sct.entry_type == x509.certificate_transparency.LogEntryType.PRE_CERTIFICATE
spki = issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
assert sct.log_id == hashlib.sha256(ct.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
tbs = cert.tbs_precertificate_bytes
millis = int(sct.timestamp.replace(tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000)
data = struct.pack("!BBQH", 0, 0, millis, 1) + hashlib.sha256(spki).digest() + len(tbs).to_bytes(3, "big") + tbs + struct.pack("!H", len(sct.extension_bytes)) + sct.extension_bytes
ct.verify(sct.signature, data, ec.ECDSA(hashes.SHA256()))
sys.stdout.buffer.write(tbs)
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, issued.precertificate_tbs_der);
}

/// The project's Python venv (created on first use by `scripts/py-venv.sh`).
fn project_python() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new("bash")
        .arg(root.join("scripts/py-venv.sh"))
        .status()
        .expect("run scripts/py-venv.sh");
    assert!(status.success(), "scripts/py-venv.sh failed");
    root.join("target/py-venv/bin/python")
}

/// Structured fuzzing of the embedded-SCT check: a real certificate, its real issuer
/// and the real CT log key, with the SCT's own bytes mutated in place (the DER lengths
/// stay valid, so parsing gets through and the log ID and signature checks are reached).
/// No mutation may be accepted, and the sweep must reach the signature check.
#[test]
fn mutated_embedded_scts_reach_the_signature_check_and_never_verify() {
    use proptest::test_runner::{Config, TestRunner};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    let ca = ca_at(Arc::new(SystemClock));
    let key = SigningKey::random(&mut rand_core::OsRng);
    let proven = SigningRequest::from_json(&public_key_request(&key, SUBJECT))
        .unwrap()
        .prove_possession(SUBJECT)
        .unwrap();
    let issued = ca.issue(&proven, &identity()).unwrap();
    let issuer_spki = spki_der(ca.intermediate_der());
    let ct_key = ca.ct_log().public_key_der().to_vec();
    let der = issued.certificate_der.clone();
    let sct = issued.sct.to_tls_bytes();
    let at = der
        .windows(sct.len())
        .position(|w| w == sct.as_slice())
        .expect("the SCT's TLS bytes are embedded in the certificate");
    verify_embedded_sct(&der, &issuer_spki, &ct_key).expect("the unmutated SCT verifies");

    let checks: Mutex<BTreeMap<&'static str, usize>> = Mutex::new(BTreeMap::new());
    let judge = |mutated: &[u8]| -> Result<(), String> {
        match verify_embedded_sct(mutated, &issuer_spki, &ct_key) {
            Ok(_) => Err("a mutated SCT verified".to_owned()),
            Err(CaError::SctInvalid { check }) => {
                *checks.lock().unwrap().entry(check).or_default() += 1;
                Ok(())
            }
            Err(other) => Err(format!("unexpected error {other:?}")),
        }
    };

    // Every byte of the SCT, one bit flipped: version, log ID, timestamp, extension
    // length, algorithms, signature length and the signature itself.
    for i in 0..sct.len() {
        let mut m = der.clone();
        m[at + i] ^= 0x01;
        judge(&m).unwrap_or_else(|e| panic!("byte {i} of the SCT flipped: {e}"));
    }
    // Then random multi-byte mutations.
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    let strategy = proptest::collection::vec((0..sct.len(), 1u8..=255), 1..4);
    runner
        .run(&strategy, |flips| {
            let mut m = der.clone();
            for (i, x) in &flips {
                m[at + i] ^= x;
            }
            if m == der {
                return Ok(()); // two flips cancelled out
            }
            judge(&m).map_err(proptest::test_runner::TestCaseError::fail)
        })
        .unwrap();

    let checks = checks.into_inner().unwrap();
    eprintln!("refusals by check: {checks:?}");
    // The timestamp and signature bytes alone give dozens of cases that reach the
    // cryptographic check; the log ID bytes reach the log ID check.
    assert!(
        checks
            .get("signature does not verify")
            .copied()
            .unwrap_or(0)
            >= 32,
        "too few mutations reached the signature check: {checks:?}"
    );
    assert!(
        checks
            .get("log ID does not match the CT log key")
            .copied()
            .unwrap_or(0)
            >= 32,
        "too few mutations reached the log ID check: {checks:?}"
    );
}
