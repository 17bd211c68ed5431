//! vouch's benchmark drivers, one module per `vouch bench` command. Each measures by
//! driving the library function the user's command (or the server) uses, never a copy
//! of it, and returns a report struct whose fields are the command's `--json` object.
//! No printing: progress goes through [`vouch_api_client::Progress`], errors are
//! [`CodedError`]s (`BENCH_E001` bad arguments or targets, `BENCH_E002` bad log-bench
//! sizes, `BENCH_E004` a bench that could not run: runtime, storage, keys; and the codes
//! of the libraries driven).

pub mod ca;
pub mod http;
pub mod integrity;
pub mod log;
pub mod rekor;
pub mod verify;

use std::net::IpAddr;

pub use vouch_api_client::CodedError;

/// The result type of the drivers.
pub type Result<T, E = CodedError> = std::result::Result<T, E>;

/// A bench's report: its fields are the command's `--json` object (`Serialize`), its
/// `Display` the summary line, and [`Report::ran_clean`] whether the run saw no errors
/// (a command exits 2 after a run with errors).
pub trait Report: serde::Serialize + std::fmt::Display {
    fn ran_clean(&self) -> bool {
        true
    }
}

impl Report for verify::VerifyReport {}
impl Report for log::LogReport {}
impl Report for http::HttpReport {
    fn ran_clean(&self) -> bool {
        self.clean()
    }
}
impl Report for rekor::RekorReport {
    fn ran_clean(&self) -> bool {
        self.clean()
    }
}
impl Report for ca::CaReport {
    fn ran_clean(&self) -> bool {
        self.clean()
    }
}

/// `BENCH_E001`: an argument or a target the bench refuses.
fn refuse(msg: impl Into<String>) -> CodedError {
    CodedError::new(
        vouch_api_client::codes::BENCH_REFUSED_TARGET,
        vouch_api_client::Outcome::Error,
        msg,
    )
}

/// `BENCH_E004`: the bench could not run (a runtime that does not start, storage that
/// cannot be opened, a key that cannot be made).
fn failed(what: &str, err: impl std::fmt::Display) -> CodedError {
    CodedError::new(
        vouch_api_client::codes::BENCH_SETUP,
        vouch_api_client::Outcome::Error,
        format!("{what}: {err}"),
    )
}

/// A multi-threaded async runtime on all cores, for the load generators.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| failed("starting the async runtime", e))
}

/// `host` (a bracketed IPv6 address, an IP or `localhost`) as a loopback address; the
/// load generators only target this machine. `bench` names the command in the refusal.
fn loopback(url: &str, host: &str, bench: &str) -> Result<IpAddr> {
    let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        h => h
            .parse()
            .map_err(|_| refuse(format!("{url}: host must be a loopback IP or localhost")))?,
    };
    if !ip.is_loopback() {
        return Err(refuse(format!(
            "{url}: {ip} is not a loopback address; {bench} only targets this machine"
        )));
    }
    Ok(ip)
}

/// The `p` quantile (0..=1) of latencies in microseconds, sorted, in milliseconds; 0
/// when there are none.
fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * p).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    sorted_us.get(i).map_or(0.0, |us| f64::from(*us) / 1000.0)
}

/// Microseconds since `t0`, saturating.
fn micros_since(t0: std::time::Instant) -> u32 {
    u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX)
}
