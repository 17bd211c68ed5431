//! Size limits for untrusted inputs, and the one bounded file reader that enforces them.
//!
//! Real bundles are a few kilobytes (a DSSE bundle with a large SLSA predicate reaches a
//! few hundred); 16 MiB leaves room for unusual ones while bounding memory per bundle,
//! which matters when a lockfile audit verifies thousands on all cores.

use std::io::Read;
use std::path::Path;

use crate::error::{Input, VerifyError};

/// The largest bundle accepted, in bytes (16 MiB).
pub const MAX_BUNDLE_BYTES: u64 = 16 << 20;
/// The largest trusted root accepted, in bytes (16 MiB).
pub const MAX_TRUSTED_ROOT_BYTES: u64 = 16 << 20;
/// The largest PEM public key file accepted, in bytes (64 KiB).
pub const MAX_PUBLIC_KEY_BYTES: u64 = 64 << 10;

/// The limit that applies to an input kind read whole into memory.
pub fn limit_for(input: Input) -> u64 {
    match input {
        Input::Bundle => MAX_BUNDLE_BYTES,
        Input::TrustedRoot => MAX_TRUSTED_ROOT_BYTES,
        Input::PublicKey => MAX_PUBLIC_KEY_BYTES,
        Input::Artifact => crate::artifact::IN_MEMORY_ARTIFACT_LIMIT_BYTES,
    }
}

/// Reads a whole file, refusing (without reading further) once it passes the limit.
pub fn read_limited(path: &Path, input: Input) -> Result<Vec<u8>, VerifyError> {
    let read_err = |error| VerifyError::Read {
        input,
        path: path.to_owned(),
        error,
    };
    let limit = limit_for(input);
    let file = std::fs::File::open(path).map_err(read_err)?;
    if file.metadata().map_err(read_err)?.is_dir() {
        return Err(read_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is a directory",
        )));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    check_len(&bytes, input)?;
    Ok(bytes)
}

/// Refuses in-memory input over the limit for its kind.
pub fn check_len(bytes: &[u8], input: Input) -> Result<(), VerifyError> {
    let limit = limit_for(input);
    if bytes.len() as u64 > limit {
        return Err(VerifyError::TooLarge {
            input,
            limit_bytes: limit,
            found_bytes: bytes.len() as u64,
        });
    }
    Ok(())
}
