//! Managed signing keys (`vouch sign --key`): an unencrypted ECDSA P-256 private key in
//! PEM, read as PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`, converted to PKCS#8
//! through aws-lc-rs), and the bundle's `publicKey.hint`: base64 (standard, padded) of
//! SHA-256 of the DER SubjectPublicKeyInfo, as cosign and sigstore-go write it. Encrypted
//! keys (cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`, PKCS#8 `ENCRYPTED PRIVATE KEY`) are
//! refused with a message saying so: no password prompt lives in a library.

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use sigstore_crypto::{KeyAlgorithm, KeyPair};

use crate::error::SignError;

fn unusable(found: impl Into<String>) -> SignError {
    SignError::KeyUnusable {
        expected: "an unencrypted ECDSA P-256 private key in PEM (PRIVATE KEY or EC PRIVATE KEY)",
        found: found.into(),
    }
}

/// Reads an unencrypted P-256 private key from PEM (SIGN_E023 otherwise).
pub(crate) fn load_private_key(pem: &str) -> Result<KeyPair, SignError> {
    let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| unusable(format!("no PEM block ({e})")))?;
    let pkcs8 = match label {
        "PRIVATE KEY" => der,
        "EC PRIVATE KEY" => {
            let key = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                .map_err(|_| unusable("an EC PRIVATE KEY that is not a P-256 key"))?;
            key.to_pkcs8v1()
                .map_err(|_| unusable("an EC PRIVATE KEY that cannot be re-encoded"))?
                .as_ref()
                .to_vec()
        }
        "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => {
            return Err(unusable(format!(
                "{label} (cosign's password-encrypted key: export it unencrypted, e.g. \
                 `openssl`-readable PKCS#8, first)"
            )))
        }
        other => return Err(unusable(format!("a PEM block labelled {other:?}"))),
    };
    let key = KeyPair::from_pkcs8_der(&pkcs8)
        .map_err(|e| unusable(format!("a key that does not load as P-256 PKCS#8 ({e})")))?;
    if key.algorithm() != KeyAlgorithm::EcdsaP256 {
        return Err(unusable(format!("a {:?} key", key.algorithm())));
    }
    Ok(key)
}

/// The bundle's `publicKey.hint` for a DER SubjectPublicKeyInfo.
pub(crate) fn hint(spki_der: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(spki_der))
}

/// A fresh P-256 private key as PKCS#8 PEM (`vouch keygen signing-key`).
pub fn generate_private_key_pem() -> Result<String, SignError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| SignError::local("generate key", "the system random source failed"))?;
    Ok(crate::rekor_v1::pem("PRIVATE KEY", doc.as_ref()))
}

/// The PEM public key (`PUBLIC KEY`, SubjectPublicKeyInfo) of a private key PEM, for
/// `vouch verify --key` (SIGN_E023 for a key that cannot be used).
pub fn public_key_pem(private_key_pem: &str) -> Result<String, SignError> {
    let key = load_private_key(private_key_pem)?;
    let der = key
        .public_key_der()
        .map_err(|e| SignError::local("encode public key", e))?;
    Ok(crate::rekor_v1::pem("PUBLIC KEY", der.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_and_sec1_keys_load_and_others_are_refused() {
        let pem = generate_private_key_pem().unwrap();
        let key = load_private_key(&pem).unwrap();
        let public = public_key_pem(&pem).unwrap();
        assert!(
            public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
            "{public}"
        );
        // The same key as SEC1 (what `openssl ec` writes): the same public key.
        let (_, pkcs8) = der::pem::decode_vec(pem.as_bytes()).unwrap();
        let info = sec1_of(&pkcs8);
        let sec1 = crate::rekor_v1::pem("EC PRIVATE KEY", &info);
        assert_eq!(public_key_pem(&sec1).unwrap(), public);
        let spki = key.public_key_der().unwrap();
        assert_eq!(hint(spki.as_bytes()).len(), 44);
        for bad in [
            "not pem".to_owned(),
            crate::rekor_v1::pem("ENCRYPTED SIGSTORE PRIVATE KEY", b"x"),
            crate::rekor_v1::pem("PUBLIC KEY", spki.as_bytes()),
            crate::rekor_v1::pem("PRIVATE KEY", b"\x30\x00"),
        ] {
            let e = load_private_key(&bad).unwrap_err();
            assert_eq!(e.code(), "SIGN_E023", "{bad}: {e}");
        }
    }

    /// The SEC1 ECPrivateKey inside a PKCS#8 PrivateKeyInfo (its privateKey OCTET STRING).
    fn sec1_of(pkcs8: &[u8]) -> Vec<u8> {
        use der::Decode;
        let info = der::asn1::AnyRef::from_der(pkcs8).unwrap();
        let mut seq = der::SliceReader::new(info.value()).unwrap();
        let _version: u8 = der::Decode::decode(&mut seq).unwrap();
        let _alg: der::asn1::AnyRef<'_> = der::Decode::decode(&mut seq).unwrap();
        let key: der::asn1::OctetStringRef<'_> = der::Decode::decode(&mut seq).unwrap();
        key.as_bytes().to_vec()
    }
}
