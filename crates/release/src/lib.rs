//! Release pipeline tools: sealing a release directory (SHA256SUMS, .sha256 files, dist-manifest.json, crates-manifest.json) and comparing package indexes against it.
