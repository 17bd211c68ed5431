//! The client-side codes other crates report through this crate, so that each code
//! prefix is minted by one crate only (`crates/registry/tests/codes_unique.rs`): the
//! catch-all `CLI_E001`, the registry transport and usage codes `REG_E…`, the dev
//! helpers' `DEV_E…` and the benchmarks' `BENCH_E…` (the `bench` commands measure the
//! consumer and publisher libraries, which all build on this crate).

/// CLI_E001: a local failure with no more specific code (the command line's catch-all).
pub const CLI_FAILED: &str = "CLI_E001";

/// REG_E001: the registry could not be reached (or the client could not start).
pub const REG_UNREACHABLE: &str = "REG_E001";
/// REG_E007: `vouch publisher register` without a token, or with flags that do not fit
/// the provider.
pub const REG_USAGE: &str = "REG_E007";

/// DEV_E001: the server has no development OIDC issuer (`vouch serve --dev`).
pub const DEV_NO_ISSUER: &str = "DEV_E001";

/// BENCH_E001: `bench http` refused a non-loopback target or out-of-bounds settings.
pub const BENCH_REFUSED_TARGET: &str = "BENCH_E001";
/// BENCH_E002: invalid bench arguments (`bench log`, `bench publish`).
pub const BENCH_BAD_ARGS: &str = "BENCH_E002";
/// BENCH_E003: an entry failed during `bench audit`.
pub const BENCH_AUDIT_FAILED: &str = "BENCH_E003";
/// BENCH_E004: a bench could not run: its runtime, storage, log or key setup failed.
pub const BENCH_SETUP: &str = "BENCH_E004";
