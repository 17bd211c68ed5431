//! `vouch audit`: checks over a lockfile (signatures, transparency).

use clap::Subcommand;

use crate::output::Exit;

/// Audit a lockfile: re-verify every entry's Sigstore bundle (`signatures`), or re-prove
/// every entry against the registry's transparency log (`transparency`).
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Verify every lockfile entry's bundle in parallel; report verified / unverified /
    /// mismatched. Exit 1 unless all verified.
    Signatures(super::audit_signatures::Args),
    /// Prove each entry's inclusion in the log and the log's consistency with the last
    /// checkpoint the lockfile stored (AUDIT_E001 on any disagreement).
    Transparency(super::audit_transparency::Args),
    /// Refresh an instance's Sigstore trust root through TUF, cache it, and report
    /// whether it changed (TUF_E codes on rollback, freeze, mix-and-match, ...).
    Roots(super::audit_roots::Args),
    /// Check every crate a Cargo.lock takes from a vouch registry against the registry's
    /// signed, logged integrity record (AUDIT_E001 on any disagreement).
    Cargo(super::audit_cargo::Args),
}

pub fn run(sub: Sub) -> anyhow::Result<Exit> {
    match sub {
        Sub::Signatures(a) => super::audit_signatures::run(a),
        Sub::Transparency(a) => super::audit_transparency::run(a),
        Sub::Roots(a) => super::audit_roots::run(a),
        Sub::Cargo(a) => super::audit_cargo::run(a),
    }
}
