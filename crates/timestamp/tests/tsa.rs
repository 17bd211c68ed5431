//! End-to-end TSA behaviour: OpenSSL builds the query, parses and verifies the reply;
//! tampered data fails; bad requests get typed errors and rejection replies.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cms::signed_data::SignedData;
use const_oid::db::rfc5912::ID_SHA_256;
use der::asn1::{Int, OctetString};
use der::{Any, Decode, Encode};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use vouch_ca::{EncryptionKey, FixedClock, SystemClock};
use vouch_timestamp::token::{SigningCertificateV2, TimeStampResp, ID_AA_SIGNING_CERTIFICATE_V2};
use vouch_timestamp::{TimestampAuthority, TsaConfig, TsaError, TsaMaterial, DEFAULT_POLICY};
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion, TstInfo};

fn tsa() -> TimestampAuthority {
    let material = TsaMaterial::generate(&TsaConfig::default(), SystemTime::now()).unwrap();
    TimestampAuthority::new(material, Arc::new(SystemClock)).unwrap()
}

fn query(digest: &[u8], nonce: Option<&[u8]>, cert_req: bool) -> Vec<u8> {
    TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ID_SHA_256,
                parameters: None,
            },
            hashed_message: OctetString::new(digest.to_vec()).unwrap(),
        },
        req_policy: None,
        nonce: nonce.map(|n| Int::new(n).unwrap()),
        cert_req,
        extensions: None,
    }
    .to_der()
    .unwrap()
}

fn decode(response: &[u8]) -> (TimeStampResp, Option<(SignedData, TstInfo)>) {
    let resp = TimeStampResp::from_der(response).unwrap();
    let inner = resp.time_stamp_token.as_ref().map(|token| {
        let signed = SignedData::from_der(&token.content.to_der().unwrap()).unwrap();
        let econtent = signed.encap_content_info.econtent.as_ref().unwrap();
        let tst = TstInfo::from_der(econtent.value()).unwrap();
        (signed, tst)
    });
    (resp, inner)
}

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn token_fields_follow_the_request() {
    let tsa = tsa();
    let digest = Sha256::digest(b"artifact signature");
    let granted = tsa
        .timestamp(&query(&digest, Some(&[0x01, 0x02, 0x03]), true))
        .unwrap();
    let (resp, inner) = decode(&granted.response_der);
    assert_eq!(resp.status.status, 0);
    let (signed, tst) = inner.unwrap();
    assert_eq!(tst.policy, DEFAULT_POLICY);
    assert_eq!(
        tst.message_imprint.hashed_message.as_bytes(),
        digest.as_slice()
    );
    assert_eq!(tst.nonce.unwrap().as_bytes(), &[0x01, 0x02, 0x03]);
    assert_eq!(tst.serial_number.as_bytes(), granted.serial.as_slice());
    assert_eq!(tst.gen_time.to_system_time(), granted.gen_time);
    assert_eq!(tst.accuracy.unwrap().seconds, Some(1));
    assert!(signed.certificates.is_some());
    let signer = signed.signer_infos.0.iter().next().unwrap();
    let attrs = signer.signed_attrs.as_ref().unwrap();
    let ess = attrs
        .iter()
        .find(|a| a.oid == ID_AA_SIGNING_CERTIFICATE_V2)
        .unwrap();
    let ess: SigningCertificateV2 = ess.values.iter().next().unwrap().decode_as().unwrap();
    let tsa_cert_der = {
        let (_, der) = der::pem::decode_vec(tsa.chain_pem()[0].as_bytes()).unwrap();
        der
    };
    assert_eq!(
        ess.certs[0].cert_hash.as_bytes(),
        Sha256::digest(&tsa_cert_der).as_slice()
    );
    assert!(
        ess.certs[0].hash_algorithm.is_none(),
        "SHA-256 is the DEFAULT and must be omitted"
    );

    // Without certReq the certificate is left out.
    let granted = tsa.timestamp(&query(&digest, None, false)).unwrap();
    let (_, inner) = decode(&granted.response_der);
    let (signed, tst) = inner.unwrap();
    assert!(signed.certificates.is_none());
    assert!(tst.nonce.is_none());
}

#[test]
fn openssl_parses_and_verifies_and_rejects_tampered_data() {
    // openssl ships on every machine this project runs on; its absence is a failure, not a skip.
    assert!(
        openssl_available(),
        "openssl is required for this test (Debian package openssl)"
    );
    let tsa = tsa();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("data.txt"), b"hello timestamp\n").unwrap();
    std::fs::write(d.join("tampered.txt"), b"hello timestamp!\n").unwrap();
    std::fs::write(d.join("tsa.pem"), &tsa.chain_pem()[0]).unwrap();
    std::fs::write(d.join("root.pem"), &tsa.chain_pem()[1]).unwrap();
    std::fs::write(d.join("chain.pem"), tsa.chain_pem().concat()).unwrap();

    let (ok, text) = run(&[
        "ts",
        "-query",
        "-data",
        &path(d, "data.txt"),
        "-sha256",
        "-cert",
        "-out",
        &path(d, "req.tsq"),
    ]);
    assert!(ok, "{text}");
    let request = std::fs::read(d.join("req.tsq")).unwrap();
    std::fs::write(d.join("resp.tsr"), tsa.respond(&request)).unwrap();

    let (ok, text) = run(&["ts", "-reply", "-in", &path(d, "resp.tsr"), "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("Status: Granted."), "{text}");
    assert!(text.contains("Policy OID: 1.3.6.1.4.1.57264.2"), "{text}");
    assert!(text.contains("Nonce: 0x"), "{text}");
    assert!(text.contains("Accuracy: 0x01 seconds"), "{text}");

    let (ok, text) = run(&[
        "ts",
        "-verify",
        "-data",
        &path(d, "data.txt"),
        "-in",
        &path(d, "resp.tsr"),
        "-CAfile",
        &path(d, "root.pem"),
        "-untrusted",
        &path(d, "tsa.pem"),
    ]);
    assert!(ok && text.contains("Verification: OK"), "{text}");
    let (ok, text) = run(&[
        "ts",
        "-verify",
        "-queryfile",
        &path(d, "req.tsq"),
        "-in",
        &path(d, "resp.tsr"),
        "-CAfile",
        &path(d, "chain.pem"),
    ]);
    assert!(ok && text.contains("Verification: OK"), "{text}");

    let (ok, text) = run(&[
        "ts",
        "-verify",
        "-data",
        &path(d, "tampered.txt"),
        "-in",
        &path(d, "resp.tsr"),
        "-CAfile",
        &path(d, "root.pem"),
        "-untrusted",
        &path(d, "tsa.pem"),
    ]);
    assert!(!ok, "tampered data verified: {text}");

    // A token from another TSA does not verify against this root.
    let other = tsa_chain_of_other();
    std::fs::write(d.join("other-root.pem"), &other[1]).unwrap();
    let (ok, _) = run(&[
        "ts",
        "-verify",
        "-data",
        &path(d, "data.txt"),
        "-in",
        &path(d, "resp.tsr"),
        "-CAfile",
        &path(d, "other-root.pem"),
        "-untrusted",
        &path(d, "tsa.pem"),
    ]);
    assert!(!ok);

    // An OpenSSL SHA-1 query is refused with a parseable rejection.
    let (ok, text) = run(&[
        "ts",
        "-query",
        "-data",
        &path(d, "data.txt"),
        "-sha1",
        "-out",
        &path(d, "sha1.tsq"),
    ]);
    assert!(ok, "{text}");
    let sha1 = std::fs::read(d.join("sha1.tsq")).unwrap();
    assert!(matches!(
        tsa.timestamp(&sha1),
        Err(TsaError::UnsupportedHashAlgorithm { .. })
    ));
    std::fs::write(d.join("rejected.tsr"), tsa.respond(&sha1)).unwrap();
    let (ok, text) = run(&["ts", "-reply", "-in", &path(d, "rejected.tsr"), "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("Status: Rejected"), "{text}");
    assert!(text.contains("TSA_E003"), "{text}");
    assert!(
        text.contains("unrecognized or unsupported algorithm"),
        "{text}"
    );
}

fn tsa_chain_of_other() -> Vec<String> {
    tsa().chain_pem().to_vec()
}

#[test]
fn openssl_accepts_the_tsa_certificate_purpose() {
    // openssl ships on every machine this project runs on; its absence is a failure, not a skip.
    assert!(
        openssl_available(),
        "openssl is required for this test (Debian package openssl)"
    );
    let tsa = tsa();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tsa.pem"), &tsa.chain_pem()[0]).unwrap();
    std::fs::write(d.join("root.pem"), &tsa.chain_pem()[1]).unwrap();
    let (ok, text) = run(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "timestampsign",
        "-CAfile",
        &path(d, "root.pem"),
        &path(d, "tsa.pem"),
    ]);
    assert!(ok, "{text}");
    let (_, text) = run(&["x509", "-noout", "-text", "-in", &path(d, "tsa.pem")]);
    assert!(
        text.contains("X509v3 Extended Key Usage: critical"),
        "{text}"
    );
    assert!(text.contains("Time Stamping"), "{text}");
}

#[test]
fn clock_outside_the_certificate_validity_is_refused() {
    let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let material = TsaMaterial::generate(&TsaConfig::default(), start).unwrap();
    let (_, not_after) = material.signer().validity();
    let clock = Arc::new(FixedClock::new(start));
    let tsa = TimestampAuthority::new(material, clock.clone()).unwrap();
    let request = query(&[7; 32], Some(&[9]), true);

    let granted = tsa.timestamp(&request).unwrap();
    assert_eq!(granted.gen_time, start);

    clock.set(start - Duration::from_secs(10));
    let err = tsa.timestamp(&request).unwrap_err();
    assert!(matches!(err, TsaError::TsaNotValid { .. }));
    assert_eq!(err.code(), "TSA_E008");

    clock.set(not_after + Duration::from_secs(1));
    assert!(matches!(
        tsa.timestamp(&request),
        Err(TsaError::TsaNotValid { .. })
    ));
    let (resp, token) = decode(&tsa.respond(&request));
    assert_eq!(resp.status.status, 2);
    assert!(token.is_none());
}

#[test]
fn policy_and_extension_checks() {
    let tsa = tsa();
    let mut req = TimeStampReq::from_der(&query(&[1; 32], None, false)).unwrap();
    req.req_policy = Some(const_oid::ObjectIdentifier::new_unwrap("1.2.3.4"));
    let err = tsa.timestamp(&req.to_der().unwrap()).unwrap_err();
    assert!(matches!(err, TsaError::UnacceptedPolicy { .. }));
    assert_eq!(err.code(), "TSA_E005");
    req.req_policy = Some(DEFAULT_POLICY);
    assert!(tsa.timestamp(&req.to_der().unwrap()).is_ok());

    req.extensions = Some(vec![x509_cert::ext::Extension {
        extn_id: const_oid::ObjectIdentifier::new_unwrap("1.2.3.5"),
        critical: false,
        extn_value: OctetString::new(Any::null().to_der().unwrap()).unwrap(),
    }]);
    assert!(matches!(
        tsa.timestamp(&req.to_der().unwrap()),
        Err(TsaError::UnacceptedExtension { .. })
    ));
}

#[test]
fn sealed_material_round_trip_and_wrong_key() {
    let material = TsaMaterial::generate(&TsaConfig::default(), SystemTime::now()).unwrap();
    let key = EncryptionKey::generate().unwrap();
    let sealed = material.seal(&key).unwrap();
    let reopened = TsaMaterial::open(&sealed, &key).unwrap();
    assert_eq!(
        reopened.signer().certificate_der(),
        material.signer().certificate_der()
    );
    let err = TsaMaterial::open(&sealed, &EncryptionKey::generate().unwrap()).unwrap_err();
    assert_eq!(err.code(), "TSA_E010");
    assert!(matches!(&err, TsaError::KeyMaterial { source } if source.code() == "CA_E020"));
    // CA material does not open as TSA material.
    let ca =
        vouch_ca::CaMaterial::generate(&vouch_ca::CaConfig::default(), SystemTime::now()).unwrap();
    // The purpose is authenticated: the same key does not open CA material as TSA
    // material (AES-GCM fails exactly as for a wrong key).
    let err = TsaMaterial::open(&ca.seal(&key).unwrap(), &key).unwrap_err();
    assert!(
        matches!(&err, TsaError::KeyMaterial { source } if source.code() == "CA_E020"),
        "{err:?}"
    );
}
