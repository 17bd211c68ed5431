//! `[limits]`: every per-connection, per-client and per-request bound of `vouch serve` that a deployment may tune, with the defaults a small public registry needs.
//!
//! ```toml
//! [limits]
//! header_read_timeout_secs = 10    # headers of each request, also the keep-alive idle time
//! body_timeout_secs = 300          # a request body must arrive within this (408 SERVE_E008)
//! max_connections = 512            # open connections in all (503 SERVE_E009 past it)
//! max_connections_per_ip = 32      # open connections from one client address
//! tls_handshake_timeout_secs = 10
//! max_tls_handshakes = 128         # TLS handshakes in progress at once
//! rekor_verify_workers = 0         # Rekor entry checks at once (0: one per core)
//! rekor_verify_queue = 512         # Rekor entries waiting for a check (503 REKOR_E012 past it)
//! ```

use std::time::Duration;

use serde::Deserialize;

/// `[limits]`: bounds on connections, request bodies and queued work.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LimitsSection {
    /// Seconds a client has to send a request's complete headers, counted from the
    /// moment the server waits for a request: right after the connection opens and
    /// after each response on a kept-alive connection, so this is also how long an
    /// idle keep-alive connection stays open. The connection is closed when it passes.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body has, from its headers to its last byte. A slower body is
    /// answered 408 `SERVE_E008` and its connection closed.
    pub body_timeout_secs: u64,
    /// Most connections open at once. Past it a new connection is answered 503
    /// `SERVE_E009` (plain HTTP) or closed (TLS) at once. Keep it well under the
    /// process's open-file limit (`ulimit -n`): the log, the databases and blob reads
    /// need descriptors too.
    pub max_connections: usize,
    /// Most connections open at once from one client IP address (IPv6 clients are
    /// counted per /64). Past it the same refusal as `max_connections`.
    pub max_connections_per_ip: usize,
    /// Seconds a TLS client has to finish its handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Most TLS handshakes in progress at once; further connections wait in the
    /// kernel's accept queue.
    pub max_tls_handshakes: usize,
    /// Rekor entries whose signatures are checked at once, off the async workers
    /// (0: one per core).
    pub rekor_verify_workers: usize,
    /// Rekor entries that may wait for a check; past it `POST /api/v2/log/entries`
    /// answers 503 `REKOR_E012` with `Retry-After`. Each waiting request holds its body
    /// (at most 256 KiB) in memory.
    pub rekor_verify_queue: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            header_read_timeout_secs: 10,
            body_timeout_secs: 300,
            max_connections: 512,
            max_connections_per_ip: 32,
            tls_handshake_timeout_secs: 10,
            max_tls_handshakes: 128,
            rekor_verify_workers: 0,
            rekor_verify_queue: 512,
        }
    }
}

impl LimitsSection {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.max(1))
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs.max(1))
    }

    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.tls_handshake_timeout_secs.max(1))
    }

    /// Rekor check workers, resolving 0 to the number of cores.
    pub fn rekor_workers(&self) -> usize {
        match self.rekor_verify_workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}
