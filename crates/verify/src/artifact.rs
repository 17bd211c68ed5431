//! The artifact a bundle is checked against: its bytes, a file, or a digest given as
//! `sha256:<64 hex>` (the sigstore-conformance `FILE_OR_DIGEST` form) or `sha512:<128 hex>`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sigstore_types::{ArtifactDigest, HashAlgorithm};

use crate::error::{DigestProblem, Input, VerifyError};

/// Files up to this size are read into memory (which also allows Ed25519 message
/// signatures, whose scheme cannot verify a prehashed message); larger ones are streamed.
pub const IN_MEMORY_ARTIFACT_LIMIT_BYTES: u64 = 64 << 20;

/// The artifact side of a verification. Cheap to clone and shareable across threads.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Artifact {
    /// The artifact's bytes.
    Bytes(Arc<[u8]>),
    /// A file, read (or streamed, when large) at verification time.
    File(PathBuf),
    /// A digest of the artifact.
    Digest(ArtifactDigest),
    /// Standard input (`-` on a command line, as `sha256sum` and cosign take it), read at
    /// verification time: whole when it ends within [`IN_MEMORY_ARTIFACT_LIMIT_BYTES`],
    /// streamed otherwise. It can be read once: verify it in one job, not many.
    Stdin,
}

impl Artifact {
    /// The artifact's bytes.
    pub fn bytes(bytes: impl Into<Arc<[u8]>>) -> Self {
        Artifact::Bytes(bytes.into())
    }

    /// A file on disk.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Artifact::File(path.into())
    }

    /// Parses `sha256:<64 hex>` or `sha512:<128 hex>` (hex in either case).
    pub fn parse_digest(input: &str) -> Result<Self, VerifyError> {
        let fail = |problem| VerifyError::InvalidDigest {
            input: truncate_for_display(input),
            problem,
        };
        let (algorithm, hex_part) = input
            .split_once(':')
            .ok_or_else(|| fail(DigestProblem::MissingAlgorithm))?;
        let (algorithm, hex_len) = match algorithm {
            "sha256" => (HashAlgorithm::Sha2256, 64),
            "sha512" => (HashAlgorithm::Sha2512, 128),
            other => {
                return Err(fail(DigestProblem::UnsupportedAlgorithm {
                    found: truncate_for_display(other),
                }))
            }
        };
        if hex_part.len() != hex_len {
            return Err(fail(DigestProblem::WrongLength {
                expected: hex_len,
                found: hex_part.chars().count(),
            }));
        }
        let bytes = hex::decode(hex_part).map_err(|_| fail(DigestProblem::NotHex))?;
        // The length was checked above, so the only failure left is one we map anyway.
        let digest = ArtifactDigest::new(algorithm, bytes).map_err(|_| {
            fail(DigestProblem::WrongLength {
                expected: hex_len,
                found: hex_part.len(),
            })
        })?;
        Ok(Artifact::Digest(digest))
    }

    /// The conformance protocol's `FILE_OR_DIGEST`: `sha256:`/`sha512:` followed by hex
    /// is a digest (and must be well formed); `-` is standard input; anything else is a
    /// path.
    pub fn from_file_or_digest(arg: &str) -> Result<Self, VerifyError> {
        if arg.starts_with("sha256:") || arg.starts_with("sha512:") {
            Self::parse_digest(arg)
        } else if arg == "-" {
            Ok(Artifact::Stdin)
        } else {
            Ok(Artifact::file(arg))
        }
    }

    /// A short description for reports: the path, the digest, or the size.
    pub fn describe(&self) -> String {
        match self {
            Artifact::Bytes(b) => format!("{} bytes", b.len()),
            Artifact::File(p) => p.display().to_string(),
            Artifact::Stdin => "standard input".to_owned(),
            Artifact::Digest(d) => format!(
                "{}:{}",
                algorithm_name(d.algorithm()),
                hex::encode(d.as_bytes())
            ),
        }
    }
}

fn algorithm_name(algorithm: HashAlgorithm) -> &'static str {
    match algorithm {
        HashAlgorithm::Sha2256 => "sha256",
        HashAlgorithm::Sha2512 => "sha512",
        HashAlgorithm::Sha2384 => "sha384",
        _ => "unknown",
    }
}

/// Error messages quote user input; a pasted megabyte should not become a megabyte line.
fn truncate_for_display(s: &str) -> String {
    const MAX_CHARS: usize = 80;
    if s.chars().count() <= MAX_CHARS {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX_CHARS).collect();
        t.push('…');
        t
    }
}

/// How a file artifact (or standard input) is presented to the upstream verifier.
pub(crate) enum Opened<R> {
    Bytes(Vec<u8>),
    Stream(R),
}

/// Reads standard input whole when it ends within [`IN_MEMORY_ARTIFACT_LIMIT_BYTES`];
/// otherwise hands back what was read followed by the rest, to stream.
pub(crate) fn open_stdin() -> Result<Opened<impl std::io::Read>, VerifyError> {
    use std::io::Read;
    let mut stdin = std::io::stdin().lock();
    let mut head = Vec::new();
    (&mut stdin)
        .take(IN_MEMORY_ARTIFACT_LIMIT_BYTES + 1)
        .read_to_end(&mut head)
        .map_err(|error| VerifyError::Read {
            input: Input::Artifact,
            path: PathBuf::from("-"),
            error,
        })?;
    if head.len() as u64 <= IN_MEMORY_ARTIFACT_LIMIT_BYTES {
        Ok(Opened::Bytes(head))
    } else {
        Ok(Opened::Stream(std::io::Cursor::new(head).chain(stdin)))
    }
}

/// Opens a file artifact: small files are read whole, large ones are left to stream.
pub(crate) fn open_file(path: &Path) -> Result<Opened<std::fs::File>, VerifyError> {
    let read_err = |error| VerifyError::Read {
        input: Input::Artifact,
        path: path.to_owned(),
        error,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is a directory",
        )));
    }
    // Only regular files have a length to trust; pipes and devices are streamed so
    // their size never decides how much memory is used.
    if meta.is_file() && meta.len() <= IN_MEMORY_ARTIFACT_LIMIT_BYTES {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(read_err)?;
        Ok(Opened::Bytes(bytes))
    } else {
        Ok(Opened::Stream(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_for_length_hex_and_algorithm() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert!(matches!(
            Artifact::parse_digest(&good),
            Ok(Artifact::Digest(_))
        ));
        let upper = format!("sha256:{}", "AB".repeat(32));
        assert!(Artifact::parse_digest(&upper).is_ok());
        let good512 = format!("sha512:{}", "01".repeat(64));
        assert!(Artifact::parse_digest(&good512).is_ok());

        let cases = [
            (
                format!("sha256:{}", "ab".repeat(31)),
                "expected 64 hex characters, found 62",
            ),
            (
                format!("sha256:{}", "ab".repeat(33)),
                "expected 64 hex characters, found 66",
            ),
            (format!("sha256:{}", "zz".repeat(32)), "not a hex string"),
            (
                format!("md5:{}", "ab".repeat(16)),
                "expected algorithm sha256 or sha512",
            ),
            ("deadbeef".to_owned(), "expected ALGORITHM:HEX"),
        ];
        for (input, want) in cases {
            let err = Artifact::parse_digest(&input).unwrap_err();
            assert_eq!(err.code(), "VERIFY_E005");
            assert!(err.to_string().contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn file_or_digest_prefers_digest_syntax() {
        assert!(matches!(
            Artifact::from_file_or_digest("a.txt"),
            Ok(Artifact::File(_))
        ));
        assert!(matches!(
            Artifact::from_file_or_digest("-"),
            Ok(Artifact::Stdin)
        ));
        assert!(Artifact::from_file_or_digest("sha256:abc").is_err());
    }

    #[test]
    fn long_input_is_truncated_in_messages() {
        let long = format!("sha256:{}", "g".repeat(10_000));
        let msg = Artifact::parse_digest(&long).unwrap_err().to_string();
        assert!(msg.len() < 300, "{msg}");
    }
}
