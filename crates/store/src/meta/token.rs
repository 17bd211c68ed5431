//! API token secrets: generation, hashing at rest, constant-time comparison.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::TokenSecret;

/// Prefix of every token, so secret scanners can recognise leaked ones.
pub const TOKEN_PREFIX: &str = "vouch_";

/// A fresh token: `vouch_` followed by 32 random bytes in hex.
pub(crate) fn generate() -> Result<TokenSecret, getrandom::Error> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw)?;
    Ok(TokenSecret(format!("{TOKEN_PREFIX}{}", hex::encode(raw))))
}

/// The SHA-256 stored for a token (of its full text, prefix included). A fast hash is
/// enough: the token has 256 bits of entropy, so there is nothing to brute-force.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two token hashes without an early exit.
pub(crate) fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hash_stably() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(a.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(a.expose().len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(a, b);
        assert_eq!(hash(a.expose()), hash(a.expose()));
        assert!(hashes_equal(&hash("x"), &hash("x")));
        assert!(!hashes_equal(&hash("x"), &hash("y")));
        assert!(!format!("{a:?}").contains(&a.expose()[6..]));
    }
}
