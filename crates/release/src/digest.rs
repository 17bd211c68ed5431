//! Digest newtypes: a SHA-256 or BLAKE3 value is 32 bytes, printed as 64 lowercase hex
//! digits. Parsing accepts either case (as `sha256sum -c` does) and normalises to lowercase.

use std::fmt;

macro_rules! digest_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps raw digest bytes.
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw digest bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Parses exactly 64 hex digits (either case); anything else is `None`.
            pub fn from_hex(text: &str) -> Option<Self> {
                if text.len() != 64 {
                    return None;
                }
                let mut out = [0u8; 32];
                hex::decode_to_slice(text, &mut out).ok()?;
                Some(Self(out))
            }

            /// The 64 lowercase hex digits.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }
    };
}

digest_type!(
    /// A SHA-256 digest (FIPS 180-4).
    Sha256
);
digest_type!(
    /// A BLAKE3 digest (256-bit default output).
    Blake3
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_case() {
        let lower = "ab".repeat(32);
        let d = Sha256::from_hex(&lower).unwrap();
        assert_eq!(d.to_hex(), lower);
        assert_eq!(Sha256::from_hex(&lower.to_uppercase()), Some(d));
        assert_eq!(Sha256::from_hex(&lower[..62]), None);
        assert_eq!(Sha256::from_hex(&format!("{}zz", &lower[..62])), None);
        // Multi-byte characters must not be sliced mid-char or accepted.
        assert_eq!(Blake3::from_hex(&"é".repeat(32)), None);
    }
}
