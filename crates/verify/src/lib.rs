//! Verification library: Sigstore bundles, identity policy, checksum files. Embeddable by any Rust tool; no network.
