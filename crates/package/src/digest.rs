//! BLAKE3 and SHA-256 of a byte stream, computed in the same pass that writes or reads it: `vouch-digest`'s, re-exported so `vouch_package::Digests` stays the type callers name.

pub use vouch_digest::{Digests, Hashing};
