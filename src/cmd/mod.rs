//! The command tree. Each subcommand lives in its own module with an `Args` struct (clap
//! derive; doc comments are the `--help` text), or a `Sub` enum when it only has
//! subcommands, and a `run` function returning an [`Exit`].

use clap::{Parser, Subcommand};

use crate::output::Exit;

mod admin;
mod admin_accounts;
mod admin_offline;
mod admin_tuf;
mod attest;
mod audit;
mod audit_cargo;
mod audit_roots;
mod audit_signatures;
mod audit_transparency;
mod bench;
mod bench_audit;
mod bench_ca;
mod bench_http;
mod bench_integrity;
mod bench_log;
mod bench_publish;
mod bench_rekor;
mod bench_verify;
mod conformance;
mod dev;
mod fetch;
mod flags;
mod image_sign;
mod keygen;
mod lock;
mod log;
mod publish;
mod publish_register;
mod quickstart;
mod registry_api;
mod release;
mod serve;
mod sign;
mod trust_config;
mod verify;
mod verify_bundle;
mod verify_checksums;
mod verify_image;
mod verify_integrity;
mod verify_pypi;

/// vouch: publish, fetch and verify software with provenance anyone can check offline.
///
/// Exit codes: 0 success, 1 verification failed, 2 usage or operational error.
/// Every error is printed as `error[CODE]: message`; the codes are listed in docs/errors.md.
#[derive(Debug, Parser)]
#[command(
    name = "vouch",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole story on embedded defaults: a dev server and its log, proofs, a real
    /// Sigstore bundle, a sealed release. Start here.
    Quickstart(quickstart::Args),
    /// Verify an artifact against a Sigstore bundle and an identity policy, or check
    /// checksum files (`vouch verify checksums`).
    Verify(Box<verify::Args>),
    /// The sigstore-conformance CLI protocol, for running that suite against vouch.
    #[command(subcommand)]
    Conformance(conformance::Sub),
    /// Run the registry server with its transparency log.
    Serve(serve::Args),
    /// Read and audit a transparency log: checkpoints, proofs, monitoring.
    #[command(subcommand)]
    Log(log::Command),
    /// Release pipeline tools: seal a release directory, check package indexes against it.
    #[command(subcommand)]
    Release(release::Sub),
    /// Measure throughput of vouch's hot paths on this machine.
    #[command(subcommand)]
    Bench(bench::Sub),
    /// Development helpers for a `vouch serve --dev` server (`vouch dev token`).
    #[command(subcommand)]
    Dev(dev::Sub),
    /// Sign a file (or an in-toto statement) keylessly with your OIDC identity (CI token,
    /// or browser / device sign-in on a laptop) or with a managed key (`--key`): writes a
    /// Sigstore bundle that `vouch verify` and sigstore-python check.
    Sign(sign::Args),
    /// Attest what you ship: `vouch attest pypi` writes PEP 740 DIST.publish.attestation
    /// files (logged in Rekor v1); `vouch attest image` attaches an in-toto statement to a
    /// container image as a cosign-compatible referrer.
    #[command(subcommand)]
    Attest(attest::Sub),
    /// Print a server's Sigstore client trust configuration (trusted root + signing config).
    TrustConfig(trust_config::Args),
    /// Publish a package from CI with its OIDC identity (`vouch publish register` creates
    /// the trusted-publisher binding first).
    Publish(publish::Args),
    /// Download a package version, verify it inline and record it in vouch.lock.
    Fetch(fetch::Args),
    /// Audit a lockfile: re-verify signatures, re-prove transparency-log entries.
    #[command(subcommand)]
    Audit(audit::Sub),
    /// Rewrite vouch.lock normalised, or check it for CI (`--check [--strict-sigstore]`).
    Lock(lock::Args),
    /// Administer a registry: init, users, tokens, owners, signing keys, TUF repository,
    /// hash budget, integrity backfill, audit log.
    #[command(subcommand)]
    Admin(admin::Sub),
    /// Make the secrets a production server needs (log and witness keys, TOKEN_ENC_KEY,
    /// internal token) and signing keys for `vouch sign --key`, each in a new 0600 file.
    #[command(subcommand)]
    Keygen(keygen::Sub),
}

impl Cli {
    /// The log format the command asked for (only `serve` has `--log-format`).
    pub fn log_format(&self) -> crate::output::LogFormat {
        match &self.command {
            Command::Serve(a) => a.log_format(),
            _ => crate::output::LogFormat::Text,
        }
    }
}

/// clap value parser for a data directory: makes it absolute against the working
/// directory once, at parse time. Everything below joins file names onto it, and a
/// relative directory joined twice (`srv/srv/meta.db`, issue 12) split one registry in two.
pub(crate) fn absolute_dir(s: &str) -> Result<std::path::PathBuf, String> {
    std::path::absolute(s)
        .map_err(|e| format!("cannot resolve {s:?} against the working directory: {e}"))
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Quickstart(args) => quickstart::run(args),
        Command::Verify(args) => verify::run(*args),
        Command::Conformance(args) => conformance::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Log(args) => log::run(args),
        Command::Release(args) => release::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Attest(args) => attest::run(args),
        Command::TrustConfig(args) => trust_config::run(args),
        Command::Publish(args) => publish::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Lock(args) => lock::run(args),
        Command::Admin(args) => admin::run(args),
        Command::Keygen(args) => keygen::run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// docs/cli.md is generated from these definitions; `VOUCH_BLESS=1` rewrites it.
    #[test]
    fn cli_reference_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md");
        let regen = "VOUCH_BLESS=1 cargo nextest run -p vouch --bin vouch -E 'test(cli_reference)'";
        let opts = clap_markdown::MarkdownOptions::new().show_footer(false);
        let body = clap_markdown::help_markdown_custom::<super::Cli>(&opts);
        let want = format!("<!-- Generated from the clap definitions in src/: do not edit. Regenerate: {regen} -->\n\n{body}");
        if std::env::var_os("VOUCH_BLESS").is_some() {
            std::fs::write(path, &want).expect("docs/cli.md is writable");
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/cli.md is stale; regenerate it with: {regen}"
        );
    }
}
