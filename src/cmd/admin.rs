//! `vouch admin`: the registry's administrator commands: init, users, tokens and owners (in `admin_accounts`), signing keys (rotate, list, and the offline reset after a lost TOKEN_ENC_KEY), the hash budget, the integrity backfill and the audit log.

use std::path::PathBuf;

use clap::Subcommand;
use vouch_api_client::admin::AuditQuery;
use vouch_registry::offline;

use super::admin_accounts::Online;
use super::admin_offline::print_offline;
use super::flags::ServerPlace;
use super::registry_api::runtime;
use crate::output::{answer, Exit};

/// Administer a registry: init, users, tokens, owners, keys, settings, backfill, audit
/// log. `init` and `keys reset` work offline on the config; the other commands talk to
/// the server's admin API with an administrator token (`--token-file`, or the
/// VOUCH_ADMIN_TOKEN variable): the one `vouch admin init` issued, one from `vouch admin
/// tokens issue --scope admin`, or DATA/admin.token of `vouch serve --dev`.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Create a production instance from its config, with the server STOPPED: runs
    /// every migration (metadata and the checkpoint lock table), creates the log and
    /// the CT log with their first signed checkpoints, generates the CA, TSA, CT and
    /// registry keys sealed under TOKEN_ENC_KEY, and creates the first administrator,
    /// whose admin token is shown once. Idempotent: on an initialised instance it
    /// changes nothing and says "already initialised"; it never replaces a key or a
    /// checkpoint. A database or object store of another instance is refused
    /// (INIT_E001), as is a leftover it cannot complete safely (INIT_E002); nothing is
    /// written then. Then start `vouch serve --config FILE` (no --dev).
    Init(super::admin_accounts::InitArgs),
    /// Users: add, list, disable (online, admin token).
    Users {
        #[command(subcommand)]
        sub: super::admin_accounts::UsersSub,
    },
    /// API tokens: issue (admin or owner scope, optional expiry; shown once), list,
    /// revoke (online, admin token).
    Tokens {
        #[command(subcommand)]
        sub: super::admin_accounts::TokensSub,
    },
    /// Package owners: add, remove, list (online, admin token).
    Owners {
        #[command(subcommand)]
        sub: super::admin_accounts::OwnersSub,
    },
    /// Re-seal every key sealed under TOKEN_ENC_KEY (CA, TSA, CT-log, registry signing
    /// and TUF role keys) under a new key, with the server STOPPED. The old key is the one
    /// the server uses now (the variable the config names; with --dev the file
    /// DATA/token_enc.key); the new one is read from --new-key-env (make one with
    /// `vouch keygen token-enc-key --out FILE`). Atomic: new sealed objects are written beside the old
    /// ones and checked, then one database transaction switches the instance over
    /// (audited as `instance.token_enc_key_rotated`); a crash before it leaves the old
    /// key in force, a rerun finishes. A wrong old key is refused (SIGSTORE_E001) with
    /// nothing written. With --dev, DATA/token_enc.key is replaced afterwards; without
    /// it, put the new key in the config's variable before `vouch serve`.
    RotateTokenEncKey(RotateArgs),
    /// The registry signing key.
    Keys {
        #[command(subcommand)]
        sub: KeysSub,
    },
    /// Instance settings.
    Settings {
        #[command(subcommand)]
        sub: SettingsSub,
    },
    /// Start the integrity backfill (records every release and version without one);
    /// progress and the result land in the audit log (`release.backfill_run`).
    Backfill(Online),
    /// Package scopes: who may create packages and pending publishers in them.
    Scopes {
        #[command(subcommand)]
        sub: ScopesSub,
    },
    // Their help text is the doc comment of each Args struct.
    Backup(super::admin_offline::BackupArgs),
    Tuf(super::admin_tuf::Args),
    Restore(super::admin_offline::RestoreArgs),
    /// List audit log events.
    Audit(AuditArgs),
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    online: Online,
    /// Only events whose action starts with this (`registry.`).
    #[arg(long)]
    action: Option<String>,
    /// Events at or after this Unix time.
    #[arg(long)]
    since: Option<i64>,
    /// At most this many events per page (1..=1000).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Continue after this event id (the previous page's `next_cursor`).
    #[arg(long)]
    cursor: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum ScopesSub {
    /// Make a user an owner of a scope (claiming it if nobody owns it yet). The first
    /// user to create a package or a pending publisher in a scope owns it; this adds
    /// more owners. Audited as `scope.grant`.
    ///
    /// Example: vouch admin scopes grant @acme --user alice --server URL
    Grant {
        /// The scope, with or without `@`.
        scope: String,
        /// The user to make an owner.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        online: Online,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysSub {
    /// Make a new key current; every retired key stays in the published key set.
    Rotate(Online),
    /// List the current and retired keys.
    List(Online),
    /// Starts a new registry signing key with the server STOPPED (recovery after
    /// TOKEN_ENC_KEY was lost, or a suspect key): seals it under the TOKEN_ENC_KEY given
    /// now and makes it current. The old public keys stay published (old records keep
    /// verifying); audited as `registry.signing_key.reset`. This covers the registry
    /// key only: CA, TSA and CT-log keys sealed under a lost TOKEN_ENC_KEY stay sealed,
    /// and the server refuses to start (SIGSTORE_E001) until they are restored together
    /// with the key they were sealed under.
    Reset(ResetArgs),
    /// Starts new CA, TSA and CT-log keys with the server STOPPED, after TOKEN_ENC_KEY
    /// was lost (the server refuses to start with SIGSTORE_E001): seals them under the
    /// TOKEN_ENC_KEY given now as the next sealed generation and starts a new, empty CT
    /// log (`<origin>/ct-g<N>`); the old log cannot be continued without its key.
    /// Audited as `instance.sigstore_keys_reset`; the old sealed objects are kept.
    /// Afterwards: `vouch admin keys reset` (the registry key), start the server,
    /// redistribute the new trust root (`vouch trust-config --out`), and keep a copy of
    /// the OLD trusted root: bundles signed before verify only against it.
    ResetSigstore(ResetSigstoreArgs),
}

#[derive(Debug, clap::Args)]
pub struct ResetSigstoreArgs {
    #[command(flatten)]
    place: ServerPlace,
    /// Confirm: this replaces the instance's trust root.
    #[arg(long)]
    yes: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// The server's data directory.
    #[arg(long, value_name = "DIR", value_parser = super::absolute_dir)]
    data: PathBuf,
    /// The server's configuration file (without --dev).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A `vouch serve --dev` data directory: TOKEN_ENC_KEY is DATA/token_enc.key (a new
    /// one is made if it is missing).
    #[arg(long)]
    dev: bool,
    /// Confirm: this starts a new signing key.
    #[arg(long)]
    yes: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    place: ServerPlace,
    /// The environment variable holding the NEW TOKEN_ENC_KEY (64 hex digits).
    #[arg(long, value_name = "VAR")]
    new_key_env: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SettingsSub {
    /// Set the asset hash budget (at most 16 GiB; default 500 MiB): a size like
    /// `500MiB`, `2GiB`, `1.5GB` or a number of bytes, as the web form takes it.
    HashBudget {
        #[arg(value_name = "SIZE", value_parser = vouch_registry::web::html::parse_size)]
        bytes: u64,
        #[command(flatten)]
        online: Online,
    },
}

pub fn run(sub: Sub) -> anyhow::Result<Exit> {
    let rt = runtime()?;
    match sub {
        Sub::Init(a) => rt.block_on(super::admin_accounts::init(a)),
        Sub::Users { sub } => rt.block_on(super::admin_accounts::users(sub)),
        Sub::Tokens { sub } => rt.block_on(super::admin_accounts::tokens(sub)),
        Sub::Owners { sub } => rt.block_on(super::admin_accounts::owners(sub)),
        Sub::RotateTokenEncKey(a) => {
            let (config, dev, data) = a.place.parts();
            let r = offline::rotate_token_enc_key(config, dev, data, &a.new_key_env);
            print_offline(a.json, rt.block_on(r))
        }
        Sub::Keys { sub } => rt.block_on(keys(sub)),
        Sub::Settings {
            sub: SettingsSub::HashBudget { bytes, online },
        } => {
            let r = rt.block_on(online.client()?.set_hash_budget(bytes))?;
            let size = vouch_registry::web::html::bytes(r.value.hash_budget_bytes);
            answer(
                online.json,
                &r.json,
                &[format!("hash budget set to {size}")],
            )
        }
        Sub::Scopes {
            sub:
                ScopesSub::Grant {
                    scope,
                    user,
                    online: o,
                },
        } => o.print(&rt.block_on(o.client()?.grant_scope(&scope, &user))?),
        Sub::Backup(a) => super::admin_offline::backup(a, &rt),
        Sub::Tuf(a) => super::admin_tuf::run(a, &rt),
        Sub::Restore(a) => super::admin_offline::restore(a, &rt),
        Sub::Backfill(o) => o.print(&rt.block_on(o.client()?.backfill())?),
        Sub::Audit(a) => {
            let (action, since, limit, cursor) = (a.action, a.since, a.limit, a.cursor);
            let q = AuditQuery {
                action,
                since,
                limit,
                cursor,
            };
            a.online.print(&rt.block_on(a.online.client()?.audit(&q))?)
        }
    }
}

async fn keys(sub: KeysSub) -> anyhow::Result<Exit> {
    match sub {
        KeysSub::Rotate(o) => o.print(&o.client()?.rotate_key().await?),
        KeysSub::List(o) => o.print(&o.client()?.security().await?),
        KeysSub::Reset(a) => {
            let (config, data) = (a.config.as_deref(), &a.data);
            let r = offline::reset_registry_key(config, a.dev, data, a.yes).await;
            print_offline(a.json, r)
        }
        KeysSub::ResetSigstore(a) => {
            let (config, dev, data) = a.place.parts();
            let r = offline::reset_sigstore(config, dev, data, a.yes).await;
            print_offline(a.json, r)
        }
    }
}
