//! The verified identity a certificate is issued for, and its encoding into the
//! subjectAltName and the Fulcio OID extensions (Fulcio's `docs/oid-info.md`).
//!
//! The OIDC crate produces the same information from a verified token; the registry
//! glues the two. This crate never looks at a token itself.

use const_oid::db::rfc5912::ID_CE_SUBJECT_ALT_NAME;
use der::asn1::{Ia5String, Utf8StringRef};
use der::Encode;
use spki::ObjectIdentifier;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::Extension;

use crate::error::{CaError, Result};
use crate::pki;

/// Fulcio OID arc `1.3.6.1.4.1.57264.1`.
const FULCIO_ARC: &[u32] = &[1, 3, 6, 1, 4, 1, 57264, 1];

/// `1.3.6.1.4.1.57264.1.1`: issuer, legacy encoding (raw string as `extnValue`).
pub const OID_ISSUER_LEGACY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// `1.3.6.1.4.1.57264.1.8`: issuer (V2), DER UTF8String.
pub const OID_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// `1.3.6.1.4.1.57264.1.9`: build signer URI.
pub const OID_BUILD_SIGNER_URI: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.9");

/// The certificate's subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum San {
    /// A URI SAN (workload identities such as `https://github.com/o/r/.github/workflows/x.yml@refs/heads/main`).
    Uri(String),
    /// An rfc822Name SAN (email identities).
    Email(String),
}

/// Who the certificate is for, as established by OIDC verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// Subject alternative name.
    pub san: San,
    /// The OIDC issuer URL; written to `1.3.6.1.4.1.57264.1.8` and (legacy) `.1.1`.
    pub issuer: String,
    /// Further Fulcio extensions `(oid, value)`, in the order they should appear.
    ///
    /// OIDs `.1.2`–`.1.6` (the deprecated GitHub workflow extensions) are written as raw
    /// strings, as Fulcio does; OIDs `.1.9` and above as DER UTF8String. `.1.1`, `.1.7`
    /// and `.1.8` are reserved to the CA, and OIDs outside the arc are refused.
    pub extensions: Vec<(ObjectIdentifier, String)>,
}

/// How a Fulcio extension's value is encoded.
enum Encoding {
    Raw,
    Utf8String,
}

#[allow(
    clippy::indexing_slicing,
    reason = "arcs.len() == FULCIO_ARC.len() + 1 checked first"
)]
fn fulcio_encoding(oid: &ObjectIdentifier) -> Option<Encoding> {
    let arcs: Vec<u32> = oid.arcs().collect();
    if arcs.len() != FULCIO_ARC.len() + 1 || &arcs[..FULCIO_ARC.len()] != FULCIO_ARC {
        return None;
    }
    match arcs[FULCIO_ARC.len()] {
        2..=6 => Some(Encoding::Raw),
        n if n >= 9 => Some(Encoding::Utf8String),
        _ => None,
    }
}

fn utf8_string_der(value: &str, field: &'static str) -> Result<Vec<u8>> {
    Utf8StringRef::new(value)
        .and_then(|s| s.to_der())
        .map_err(|_| CaError::IdentityInvalid {
            field,
            expected: "a string shorter than 64 KiB",
        })
}

/// Upper bound on any single identity value: far above real claims, low enough to keep
/// certificates small.
const MAX_VALUE_LEN: usize = 4096;

impl CertificateIdentity {
    /// The subjectAltName and Fulcio extensions, in Fulcio's order: SAN (critical,
    /// because the subject is empty; RFC 5280 §4.2.1.6), issuer legacy, issuer V2,
    /// then the requested extensions.
    pub(crate) fn to_extensions(&self) -> Result<Vec<Extension>> {
        let mut out = Vec::with_capacity(3 + self.extensions.len());
        let san = match &self.san {
            San::Uri(uri) => {
                check_value(uri, "san")?;
                GeneralName::UniformResourceIdentifier(ia5(uri, "san")?)
            }
            San::Email(email) => {
                check_value(email, "san")?;
                GeneralName::Rfc822Name(ia5(email, "san")?)
            }
        };
        out.push(pki::extension(
            ID_CE_SUBJECT_ALT_NAME,
            true,
            &SubjectAltName(vec![san]),
        )?);

        check_value(&self.issuer, "issuer")?;
        out.push(pki::raw_extension(
            OID_ISSUER_LEGACY,
            false,
            self.issuer.as_bytes().to_vec(),
        )?);
        out.push(pki::raw_extension(
            OID_ISSUER_V2,
            false,
            utf8_string_der(&self.issuer, "issuer")?,
        )?);

        let mut seen: Vec<&ObjectIdentifier> = Vec::with_capacity(self.extensions.len());
        for (oid, value) in &self.extensions {
            if seen.contains(&oid) {
                return Err(CaError::DuplicateExtension {
                    oid: oid.to_string(),
                });
            }
            seen.push(oid);
            check_value(value, "extension value")?;
            let der = match fulcio_encoding(oid) {
                Some(Encoding::Raw) => value.as_bytes().to_vec(),
                Some(Encoding::Utf8String) => utf8_string_der(value, "extension value")?,
                None => {
                    return Err(CaError::ExtensionNotAllowed {
                        oid: oid.to_string(),
                    })
                }
            };
            out.push(pki::raw_extension(*oid, false, der)?);
        }
        Ok(out)
    }
}

fn check_value(value: &str, field: &'static str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_VALUE_LEN {
        return Err(CaError::IdentityInvalid {
            field,
            expected: "a non-empty value of at most 4096 bytes",
        });
    }
    Ok(())
}

fn ia5(value: &str, field: &'static str) -> Result<Ia5String> {
    Ia5String::new(value).map_err(|_| CaError::IdentityInvalid {
        field,
        expected: "ASCII (IA5String)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(extensions: Vec<(ObjectIdentifier, String)>) -> CertificateIdentity {
        CertificateIdentity {
            san: San::Uri("https://github.com/o/r/.github/workflows/r.yml@refs/heads/main".into()),
            issuer: "https://token.actions.githubusercontent.com".into(),
            extensions,
        }
    }

    #[test]
    fn reserved_and_foreign_oids_are_refused() {
        for oid in [
            "1.3.6.1.4.1.57264.1.8",
            "1.3.6.1.4.1.57264.1.1",
            "1.3.6.1.4.1.57264.1.7",
            "1.2.3.4",
            "1.3.6.1.4.1.57264.1.9.1",
        ] {
            let err = identity(vec![(ObjectIdentifier::new_unwrap(oid), "x".into())])
                .to_extensions()
                .unwrap_err();
            assert!(matches!(err, CaError::ExtensionNotAllowed { .. }), "{oid}");
        }
    }

    #[test]
    fn duplicates_are_refused() {
        let err = identity(vec![
            (OID_BUILD_SIGNER_URI, "a".into()),
            (OID_BUILD_SIGNER_URI, "b".into()),
        ])
        .to_extensions()
        .unwrap_err();
        assert!(matches!(err, CaError::DuplicateExtension { .. }));
    }

    #[test]
    fn non_ascii_san_is_refused() {
        let mut id = identity(vec![]);
        id.san = San::Email("jürgen@example.com".into());
        assert!(matches!(
            id.to_extensions(),
            Err(CaError::IdentityInvalid { field: "san", .. })
        ));
    }

    #[test]
    fn encodings_follow_fulcio() {
        let exts = identity(vec![
            (
                ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.3"),
                "abc".into(),
            ),
            (OID_BUILD_SIGNER_URI, "abc".into()),
        ])
        .to_extensions()
        .unwrap();
        assert_eq!(exts[0].extn_id, ID_CE_SUBJECT_ALT_NAME);
        assert!(exts[0].critical);
        assert_eq!(
            exts[1].extn_value.as_bytes(),
            b"https://token.actions.githubusercontent.com"
        );
        assert_eq!(exts[2].extn_value.as_bytes()[0], 0x0c); // UTF8String tag
        assert_eq!(exts[3].extn_value.as_bytes(), b"abc");
        assert_eq!(exts[4].extn_value.as_bytes(), &[0x0c, 3, b'a', b'b', b'c']);
    }
}
