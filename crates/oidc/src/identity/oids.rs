//! The Fulcio certificate extensions under 1.3.6.1.4.1.57264.1 and how each value is encoded
//! (Fulcio `docs/oid-info.md`: .1–.6 raw bytes, .8 onwards a DER UTF8String).

/// One Fulcio extension OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FulcioExtension {
    /// 1.1 Issuer (deprecated: raw string).
    Issuer,
    /// 1.2 GitHub Workflow Trigger (deprecated).
    GithubWorkflowTrigger,
    /// 1.3 GitHub Workflow SHA (deprecated).
    GithubWorkflowSha,
    /// 1.4 GitHub Workflow Name (deprecated).
    GithubWorkflowName,
    /// 1.5 GitHub Workflow Repository (deprecated).
    GithubWorkflowRepository,
    /// 1.6 GitHub Workflow Ref (deprecated).
    GithubWorkflowRef,
    /// 1.8 Issuer (V2).
    IssuerV2,
    /// 1.9 Build Signer URI.
    BuildSignerUri,
    /// 1.10 Build Signer Digest.
    BuildSignerDigest,
    /// 1.11 Runner Environment.
    RunnerEnvironment,
    /// 1.12 Source Repository URI.
    SourceRepositoryUri,
    /// 1.13 Source Repository Digest.
    SourceRepositoryDigest,
    /// 1.14 Source Repository Ref.
    SourceRepositoryRef,
    /// 1.15 Source Repository Identifier.
    SourceRepositoryIdentifier,
    /// 1.16 Source Repository Owner URI.
    SourceRepositoryOwnerUri,
    /// 1.17 Source Repository Owner Identifier.
    SourceRepositoryOwnerIdentifier,
    /// 1.18 Build Config URI.
    BuildConfigUri,
    /// 1.19 Build Config Digest.
    BuildConfigDigest,
    /// 1.20 Build Trigger.
    BuildTrigger,
    /// 1.21 Run Invocation URI.
    RunInvocationUri,
    /// 1.22 Source Repository Visibility At Signing.
    SourceRepositoryVisibilityAtSigning,
    /// 1.23 Deployment Environment.
    DeploymentEnvironment,
}

/// How an extension's value is placed in the certificate's `extnValue` OCTET STRING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionEncoding {
    /// The UTF-8 bytes as they are (1.1–1.6, kept for old verifiers).
    Raw,
    /// A DER UTF8String (tag 0x0C) of the value (1.8 onwards).
    Utf8String,
}

impl FulcioExtension {
    /// The last arc under 1.3.6.1.4.1.57264.1.
    pub fn arc(self) -> u32 {
        use FulcioExtension::*;
        match self {
            Issuer => 1,
            GithubWorkflowTrigger => 2,
            GithubWorkflowSha => 3,
            GithubWorkflowName => 4,
            GithubWorkflowRepository => 5,
            GithubWorkflowRef => 6,
            IssuerV2 => 8,
            BuildSignerUri => 9,
            BuildSignerDigest => 10,
            RunnerEnvironment => 11,
            SourceRepositoryUri => 12,
            SourceRepositoryDigest => 13,
            SourceRepositoryRef => 14,
            SourceRepositoryIdentifier => 15,
            SourceRepositoryOwnerUri => 16,
            SourceRepositoryOwnerIdentifier => 17,
            BuildConfigUri => 18,
            BuildConfigDigest => 19,
            BuildTrigger => 20,
            RunInvocationUri => 21,
            SourceRepositoryVisibilityAtSigning => 22,
            DeploymentEnvironment => 23,
        }
    }

    /// The dotted OID, e.g. `1.3.6.1.4.1.57264.1.8`.
    pub fn oid(self) -> &'static str {
        use FulcioExtension::*;
        match self {
            Issuer => "1.3.6.1.4.1.57264.1.1",
            GithubWorkflowTrigger => "1.3.6.1.4.1.57264.1.2",
            GithubWorkflowSha => "1.3.6.1.4.1.57264.1.3",
            GithubWorkflowName => "1.3.6.1.4.1.57264.1.4",
            GithubWorkflowRepository => "1.3.6.1.4.1.57264.1.5",
            GithubWorkflowRef => "1.3.6.1.4.1.57264.1.6",
            IssuerV2 => "1.3.6.1.4.1.57264.1.8",
            BuildSignerUri => "1.3.6.1.4.1.57264.1.9",
            BuildSignerDigest => "1.3.6.1.4.1.57264.1.10",
            RunnerEnvironment => "1.3.6.1.4.1.57264.1.11",
            SourceRepositoryUri => "1.3.6.1.4.1.57264.1.12",
            SourceRepositoryDigest => "1.3.6.1.4.1.57264.1.13",
            SourceRepositoryRef => "1.3.6.1.4.1.57264.1.14",
            SourceRepositoryIdentifier => "1.3.6.1.4.1.57264.1.15",
            SourceRepositoryOwnerUri => "1.3.6.1.4.1.57264.1.16",
            SourceRepositoryOwnerIdentifier => "1.3.6.1.4.1.57264.1.17",
            BuildConfigUri => "1.3.6.1.4.1.57264.1.18",
            BuildConfigDigest => "1.3.6.1.4.1.57264.1.19",
            BuildTrigger => "1.3.6.1.4.1.57264.1.20",
            RunInvocationUri => "1.3.6.1.4.1.57264.1.21",
            SourceRepositoryVisibilityAtSigning => "1.3.6.1.4.1.57264.1.22",
            DeploymentEnvironment => "1.3.6.1.4.1.57264.1.23",
        }
    }

    /// The OID's arcs, for DER encoders that take them.
    pub fn oid_arcs(self) -> [u32; 9] {
        [1, 3, 6, 1, 4, 1, 57264, 1, self.arc()]
    }

    /// How the value is encoded.
    pub fn encoding(self) -> ExtensionEncoding {
        if self.arc() <= 6 {
            ExtensionEncoding::Raw
        } else {
            ExtensionEncoding::Utf8String
        }
    }
}

/// One extension: which OID and its string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Which extension.
    pub kind: FulcioExtension,
    /// The value before encoding.
    pub value: String,
}

impl Extension {
    /// The dotted OID.
    pub fn oid(&self) -> &'static str {
        self.kind.oid()
    }

    /// The bytes to place in `extnValue` (raw, or a DER UTF8String with definite length).
    pub fn der_value(&self) -> Vec<u8> {
        let bytes = self.value.as_bytes();
        match self.kind.encoding() {
            ExtensionEncoding::Raw => bytes.to_vec(),
            ExtensionEncoding::Utf8String => {
                let mut out = Vec::with_capacity(bytes.len() + 6);
                out.push(0x0C);
                let len = bytes.len();
                if len < 0x80 {
                    out.push(len as u8);
                } else {
                    let be = len.to_be_bytes();
                    let significant: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
                    out.push(0x80 | significant.len() as u8);
                    out.extend_from_slice(&significant);
                }
                out.extend_from_slice(bytes);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_oid_info() {
        let raw = Extension {
            kind: FulcioExtension::Issuer,
            value: "https://x".into(),
        };
        assert_eq!(raw.der_value(), b"https://x");
        let v2 = Extension {
            kind: FulcioExtension::IssuerV2,
            value: "https://x".into(),
        };
        assert_eq!(v2.der_value(), [&[0x0C, 9][..], b"https://x"].concat());
        let long = Extension {
            kind: FulcioExtension::BuildSignerUri,
            value: "a".repeat(300),
        };
        assert_eq!(&long.der_value()[..4], &[0x0C, 0x82, 0x01, 0x2C]);
        let mid = Extension {
            kind: FulcioExtension::BuildSignerUri,
            value: "a".repeat(200),
        };
        assert_eq!(&mid.der_value()[..3], &[0x0C, 0x81, 200]);
    }

    #[test]
    fn oid_strings_match_arcs() {
        for kind in [
            FulcioExtension::Issuer,
            FulcioExtension::GithubWorkflowRef,
            FulcioExtension::IssuerV2,
            FulcioExtension::DeploymentEnvironment,
        ] {
            let dotted: Vec<String> = kind.oid_arcs().iter().map(u32::to_string).collect();
            assert_eq!(dotted.join("."), kind.oid());
        }
    }
}
