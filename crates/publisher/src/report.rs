//! How the publisher's results read: the one JSON object each command prints with
//! `--json` (stable field names) and its text lines otherwise. Names, versions and
//! identities come from a registry, a token or a bundle: a caller printing lines to a
//! terminal escapes them.

use std::path::PathBuf;

use serde_json::{json, Value};
use vouch_api_client::codes::CLI_FAILED;
use vouch_api_client::CodedError;

use crate::attest_pypi::AttestReport;
use crate::bench::BenchRun;
use crate::sign::{Services, SignRequest, SignedFile};
use crate::{Published, Registered};

impl Services {
    /// The services a command line names: a saved trust configuration wins over a
    /// server; one of them is required.
    pub fn from_flags(
        server: Option<String>,
        trust_config: Option<PathBuf>,
    ) -> Result<Self, CodedError> {
        match (server, trust_config) {
            (_, Some(path)) => Ok(Services::File(path)),
            (Some(server), None) => Ok(Services::Server(server)),
            (None, None) => Err(CodedError::error(
                CLI_FAILED,
                "--server or --trust-config is required",
            )),
        }
    }
}

impl SignedFile {
    /// `vouch sign --json`: what was signed, by whom, and where the bundle is.
    pub fn to_json(&self, req: &SignRequest) -> Value {
        json!({
            "file": req.file.display().to_string(), "sha256": self.sha256, "kind": self.kind,
            "bundle": req.bundle.display().to_string(), "identity": self.identity,
            "issuer": self.issuer, "log_index": self.log_index,
        })
    }

    /// `vouch sign`: file, identity, issuer, log entry, bundle.
    pub fn lines(&self, req: &SignRequest) -> Vec<String> {
        let (file, bundle) = (req.file.display(), req.bundle.display());
        let mut out = vec![
            format!("signed   {file} (sha256:{})", self.sha256),
            format!("as       {}", self.identity),
            format!("issuer   {}", self.issuer.as_deref().unwrap_or("-")),
        ];
        if let Some(i) = self.log_index {
            out.push(format!("logged   entry {i}"));
        }
        out.push(format!("bundle   {bundle}"));
        out
    }
}

impl AttestReport {
    /// `vouch attest pypi`: one line per distribution, then the identity.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = (self.attested.iter())
            .map(|d| {
                format!(
                    "attested {} (sha256:{}) -> {}",
                    d.name, d.sha256, d.attestation
                )
            })
            .collect();
        out.push(format!("as       {}", self.identity));
        out
    }
}

impl Published {
    /// `vouch publish --json`.
    pub fn to_json(&self) -> Value {
        let (up, d) = (&self.upload, &self.digests);
        json!({
            "name": self.name, "version": self.version, "size": d.size, "sha256": d.sha256_hex(),
            "blake3": d.blake3_hex(), "identity": self.identity, "token_source": self.token_source,
            "index_url": up.index_url, "blob_url": up.blob_url, "bundle_url": up.bundle_url,
            "log_index": up.log_index, "files": self.files,
        })
    }

    /// `vouch publish`: the version, its digest, the signer, the index entry, the log index.
    pub fn lines(&self) -> Vec<String> {
        let (up, d) = (&self.upload, &self.digests);
        vec![
            format!(
                "published {}@{}: {} bytes, sha256 {}",
                self.name,
                self.version,
                d.size,
                d.sha256_hex()
            ),
            format!("  signed by {}", self.identity),
            format!("  index     {}", up.index_url.as_deref().unwrap_or("")),
            format!("  log index {}", json!(up.log_index)),
        ]
    }
}

impl Registered {
    /// `vouch publish register`: the binding as stored, and whether it is pending.
    pub fn lines(&self) -> Vec<String> {
        let id = self
            .id
            .map_or_else(|| "null".to_owned(), |id| id.to_string());
        let env = (self.environment.as_deref()).map(|e| format!(" (environment {e})"));
        let mut out = vec![format!(
            "registered publisher #{id} for {}: {} {}{}",
            self.package,
            self.provider,
            self.who(),
            env.unwrap_or_default()
        )];
        if self.pending {
            out.push("  pending: the package does not exist yet; the first publish through this binding creates it".to_owned());
        }
        out
    }
}

impl BenchRun {
    /// `vouch bench publish`'s JSON object against the registry at `base`.
    pub fn to_json(&self, base: &str) -> Value {
        let l = &self.latencies_ms;
        let pct = |q: f64| l.get(((l.len().max(1) - 1) as f64 * q) as usize);
        json!({
            "bench": "publish", "server": base, "count": self.published.len(),
            "concurrency": self.workers, "seconds": self.seconds,
            "publishes_per_sec": self.published.len() as f64 / self.seconds,
            "pack_seconds": self.pack_seconds,
            "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
        })
    }
}
