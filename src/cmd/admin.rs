//! `vouch admin`: the registry's administrator commands: init, users, tokens and owners (in `admin_accounts`), signing keys (rotate, list, and the offline reset after a lost TOKEN_ENC_KEY), the hash budget, the integrity backfill and the audit log.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{json, Value};
use vouch_registry::config::DatabaseConfig;
use vouch_registry::ServeConfig;
use vouch_store::meta::{MetaStore, PostgresMeta, SqliteMeta};

use super::registry_api::{base_url, http, runtime, unreachable};
use crate::output::{clean, outln, print_json, CodedError, Exit};

/// Administer a registry: init, users, tokens, owners, keys, settings, backfill, audit
/// log. `init` and `keys reset` work offline on the config; the other commands talk to
/// the server's admin API with an administrator token (`--token-file`, or the
/// VOUCH_ADMIN_TOKEN variable): the one `vouch admin init` issued, one from `vouch admin
/// tokens issue --scope admin`, or DATA/admin.token of `vouch serve --dev`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

/// Where the server is and how to authenticate.
#[derive(Debug, clap::Args)]
pub(super) struct Online {
    /// Registry base URL.
    #[arg(long, value_name = "URL")]
    server: String,
    /// File holding the administrator token.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// The administrator token.
    #[arg(long, env = "VOUCH_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, Subcommand)]
enum Sub {
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
    /// Re-seal every key sealed under TOKEN_ENC_KEY (CA, TSA, CT-log and registry
    /// signing keys) under a new key, with the server STOPPED. The old key is the one
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
    Restore(super::admin_offline::RestoreArgs),
    /// List audit log events.
    Audit {
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
    },
}

#[derive(Debug, Subcommand)]
enum ScopesSub {
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
enum KeysSub {
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
struct ResetSigstoreArgs {
    /// The server's configuration file (without --dev).
    #[arg(long, value_name = "FILE", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// A `vouch serve --dev` instance: TOKEN_ENC_KEY is DATA/token_enc.key (it must
    /// exist: make a new one with `vouch keygen token-enc-key`).
    #[arg(long, requires = "data")]
    dev: bool,
    /// The server's data directory (with --dev).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Confirm: this replaces the instance's trust root.
    #[arg(long)]
    yes: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ResetArgs {
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
struct RotateArgs {
    /// The server's configuration file (without --dev).
    #[arg(long, value_name = "FILE", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// A `vouch serve --dev` instance: the old key is DATA/token_enc.key.
    #[arg(long, requires = "data")]
    dev: bool,
    /// The server's data directory (with --dev).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The environment variable holding the NEW TOKEN_ENC_KEY (64 hex digits).
    #[arg(long, value_name = "VAR")]
    new_key_env: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum SettingsSub {
    /// Set the asset hash budget in bytes (at most 16 GiB; default 500 MiB).
    HashBudget {
        bytes: u64,
        #[command(flatten)]
        online: Online,
    },
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let rt = runtime()?;
    match args.sub {
        Sub::Init(a) => rt.block_on(super::admin_accounts::init(a)),
        Sub::Users { sub } => rt.block_on(super::admin_accounts::users(sub)),
        Sub::Tokens { sub } => rt.block_on(super::admin_accounts::tokens(sub)),
        Sub::Owners { sub } => rt.block_on(super::admin_accounts::owners(sub)),
        Sub::RotateTokenEncKey(a) => rt.block_on(rotate_token_enc_key(a)),
        Sub::Keys {
            sub: KeysSub::Rotate(o),
        } => rt.block_on(call(
            &o,
            "POST",
            "/api/admin/instance/security/rotate",
            Some(json!({})),
        )),
        Sub::Keys {
            sub: KeysSub::List(o),
        } => rt.block_on(call(&o, "GET", "/api/admin/instance/security", None)),
        Sub::Keys {
            sub: KeysSub::Reset(a),
        } => rt.block_on(reset(a)),
        Sub::Keys {
            sub: KeysSub::ResetSigstore(a),
        } => rt.block_on(reset_sigstore(a)),
        Sub::Settings {
            sub: SettingsSub::HashBudget { bytes, online },
        } => rt.block_on(call(
            &online,
            "PUT",
            "/api/admin/instance/security/hash-budget",
            Some(json!({"bytes": bytes})),
        )),
        Sub::Scopes {
            sub:
                ScopesSub::Grant {
                    scope,
                    user,
                    online,
                },
        } => {
            let scope = scope.trim_start_matches('@');
            let path = format!("/api/admin/scopes/{}/owners", urlencode(scope));
            rt.block_on(call(&online, "POST", &path, Some(json!({"user": user}))))
        }
        Sub::Backup(a) => super::admin_offline::backup(a, &rt),
        Sub::Restore(a) => super::admin_offline::restore(a, &rt),
        Sub::Backfill(o) => rt.block_on(call(
            &o,
            "POST",
            "/api/admin/instance/security/backfill",
            Some(json!({})),
        )),
        Sub::Audit {
            online,
            action,
            since,
            limit,
            cursor,
        } => {
            let mut q = vec![format!("limit={limit}")];
            if let Some(a) = action {
                q.push(format!("action={}", urlencode(&a)));
            }
            if let Some(s) = since {
                q.push(format!("since={s}"));
            }
            if let Some(c) = cursor {
                q.push(format!("cursor={c}"));
            }
            let path = format!("/api/admin/audit?{}", q.join("&"));
            rt.block_on(call(&online, "GET", &path, None))
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn token(o: &Online) -> anyhow::Result<String> {
    let t = match (&o.token, &o.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("reading the admin token from {}", f.display()))?,
        (None, None) => {
            return Err(CodedError::new(
                "ADMIN_E001",
                Exit::Error,
                "an administrator token is required: --token-file FILE or VOUCH_ADMIN_TOKEN",
            )
            .into())
        }
    };
    Ok(t.trim().to_owned())
}

pub(super) async fn call(
    o: &Online,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Exit> {
    let v = request(o, method, path, body).await?;
    if o.json {
        print_json(&v)?;
    } else {
        human(&v)?;
    }
    Ok(Exit::Ok)
}

/// One admin API call; the answer's JSON, or the server's refusal as a coded error.
pub(super) async fn request(
    o: &Online,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let base = base_url(&o.server)?;
    let url = format!("{base}{path}");
    let client = http()?;
    let mut req = match method {
        "POST" => client.post(&url),
        "PUT" => client.put(&url),
        _ => client.get(&url),
    }
    .bearer_auth(token(o)?);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| unreachable("admin API", &url, &e))?;
    if !resp.status().is_success() {
        return Err(admin_error(resp).await);
    }
    Ok(super::registry_api::read_json_capped(
        resp,
        super::registry_api::caps::API_ANSWER,
        "admin API",
    )
    .await?)
}

/// Admin API refusals keep their `ADMIN_E…`/`INTEGRITY_E…` code.
async fn admin_error(resp: reqwest::Response) -> anyhow::Error {
    const CODES: &[&str] = &[
        "ADMIN_E001",
        "ADMIN_E002",
        "ADMIN_E003",
        "ADMIN_E004",
        "ADMIN_E005",
        "ADMIN_E006",
        "ADMIN_E008",
        "ADMIN_E009",
        "ADMIN_E010",
        "ADMIN_E011",
        "AUTH_E004",
        "AUTH_E005",
        "AUTH_E006",
        "AUTH_E007",
        "INTEGRITY_E103",
        "INTEGRITY_E105",
    ];
    let status = resp.status();
    let text = match super::registry_api::read_capped(
        resp,
        super::registry_api::caps::ERROR_BODY,
        "admin API",
    )
    .await
    {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            return anyhow::Error::from(e)
                .context(format!("admin API: the server answered {status}"))
        }
    };
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = v["code"].as_str().unwrap_or("");
    match CODES.iter().find(|c| **c == code) {
        Some(c) => CodedError::new(
            *c,
            Exit::Error,
            format!(
                "the registry refused ({status}): {}",
                v["detail"].as_str().unwrap_or("")
            ),
        )
        .into(),
        None => CodedError::new(
            "REG_E003",
            Exit::Error,
            format!(
                "the registry answered {status}: {}",
                text.chars().take(400).collect::<String>()
            ),
        )
        .into(),
    }
}

fn human(v: &Value) -> std::io::Result<()> {
    if let Some(users) = v["users"].as_array() {
        for u in users {
            let state = match u["disabled_at"].as_str() {
                Some(at) => format!("disabled {at}"),
                None => "active".to_owned(),
            };
            outln!(
                "{} {} {} {state}",
                u["id"],
                u["name"].as_str().unwrap_or(""),
                u["email"].as_str().unwrap_or("-")
            )?;
        }
        return Ok(());
    }
    if let Some(tokens) = v["tokens"].as_array() {
        for t in tokens {
            outln!(
                "{} {} {} {} {} expires {} {}",
                t["id"],
                t["user"].as_str().unwrap_or(""),
                t["scope"].as_str().unwrap_or(""),
                t["state"].as_str().unwrap_or(""),
                t["packages"],
                t["expires_at"].as_str().unwrap_or("never"),
                t["label"].as_str().unwrap_or("")
            )?;
        }
        return Ok(());
    }
    if let Some(owners) = v["owners"].as_array() {
        for u in owners {
            outln!("{}", u["name"].as_str().unwrap_or(""))?;
        }
        return Ok(());
    }
    if let Some(u) = v.get("user").filter(|u| u.is_object()) {
        outln!(
            "user {} {}",
            u["name"].as_str().unwrap_or(""),
            match u["disabled_at"].as_str() {
                Some(at) => format!("disabled {at}"),
                None => "active".to_owned(),
            }
        )?;
        return Ok(());
    }
    if let Some(t) = v.get("token").filter(|t| t.is_object()) {
        outln!("token {} {}", t["id"], t["state"].as_str().unwrap_or(""))?;
        return Ok(());
    }
    if let (Some(p), Some(u)) = (v["package"].as_str(), v["user"].as_str()) {
        let changed = if v["changed"].as_bool() == Some(true) {
            "changed"
        } else {
            "unchanged"
        };
        outln!("{p} owner {u}: {changed}")?;
        return Ok(());
    }
    if let Some(events) = v["events"].as_array() {
        for e in events {
            outln!(
                "{} {} {} {} {}",
                clean(&e["id"].to_string()),
                clean(&e["at"].to_string()),
                clean(e["action"].as_str().unwrap_or("")),
                clean(e["actor"].as_str().unwrap_or("-")),
                clean(&e["details"].to_string())
            )?;
        }
        if let Some(c) = v["next_cursor"].as_i64() {
            outln!("more: --cursor {c}")?;
        }
        return Ok(());
    }
    if let (Some(scope), Some(owners)) = (v["scope"].as_str(), v["owners"].as_array()) {
        let names: Vec<String> = owners
            .iter()
            .map(|o| clean(o.as_str().unwrap_or("")).into_owned())
            .collect();
        outln!("@{} owners: {}", clean(scope), names.join(", "))?;
        return Ok(());
    }
    if let (Some(old), Some(new)) = (v["old_kid"].as_str(), v["new_kid"].as_str()) {
        outln!("rotated: {} -> {}", clean(old), clean(new))?;
        return Ok(());
    }
    if let Some(keys) = v["keys"].as_array() {
        for k in keys {
            let state = if k["current"].as_bool() == Some(true) {
                "current"
            } else {
                "retired"
            };
            outln!(
                "{} {state} created {}",
                clean(k["kid"].as_str().unwrap_or("")),
                clean(&k["created_at"].to_string())
            )?;
        }
        if let Some(b) = v["hash_budget_bytes"].as_u64() {
            outln!("hash budget: {b} bytes")?;
        }
        return Ok(());
    }
    outln!("{}", clean(&v.to_string()))?;
    Ok(())
}

async fn reset(a: ResetArgs) -> anyhow::Result<Exit> {
    if !a.yes {
        return Err(CodedError::new(
            "ADMIN_E007",
            Exit::Error,
            "`vouch admin keys reset` starts a new registry signing key; stop the server, \
             then re-run with --yes to confirm",
        )
        .into());
    }
    let (cfg, enc) = if a.dev {
        let cfg = match &a.config {
            Some(p) => ServeConfig::load(p).map_err(coded)?,
            None => ServeConfig::dev_existing(&a.data),
        };
        let path = a.data.join("token_enc.key");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(_) => {
                let mut raw = [0u8; 32];
                getrandom_fill(&mut raw)?;
                let t = raw.iter().map(|b| format!("{b:02x}")).collect::<String>();
                write_secret(&path, &t)?;
                t
            }
        };
        let enc = vouch_registry::app::parse_enc_key(&path.display().to_string(), &text)
            .map_err(coded)?;
        (cfg, enc)
    } else {
        let Some(p) = &a.config else {
            return Err(CodedError::new(
                "SERVE_E101",
                Exit::Error,
                "--config FILE is required without --dev",
            )
            .into());
        };
        let cfg = ServeConfig::load(p).map_err(coded)?;
        let var = cfg.registry.token_enc_key_env.clone();
        let text = std::env::var(&var).map_err(|_| {
            CodedError::new(
                "SERVE_E102",
                Exit::Error,
                format!("environment variable {var} is not set (make a new key with `vouch keygen token-enc-key --out FILE`)"),
            )
        })?;
        let enc = vouch_registry::app::parse_enc_key(&var, &text).map_err(coded)?;
        (cfg, enc)
    };
    let meta = offline_meta(&cfg, &a.data).await?;
    let (old, new) =
        vouch_registry::integrity::keys::reset(meta.as_ref(), &enc, "cli:admin keys reset")
            .await
            .map_err(|e| CodedError::new(e.code(), Exit::Error, e.to_string()))?;
    if a.json {
        print_json(&json!({"old_kid": old, "new_kid": new}))?;
    } else {
        outln!(
            "reset: new current key {new} (retired {}); old public keys stay in the key set",
            old.as_deref().unwrap_or("none")
        )?;
    }
    Ok(Exit::Ok)
}

/// The instance an offline command works on: its config, the TOKEN_ENC_KEY it uses
/// now (text and parsed), and where that key lives.
struct Offline {
    cfg: ServeConfig,
    data: PathBuf,
    enc: vouch_ca::EncryptionKey,
    /// DATA/token_enc.key with --dev; None: the config's environment variable.
    dev_key_file: Option<PathBuf>,
}

fn offline(config: Option<&PathBuf>, dev: bool, data: Option<&PathBuf>) -> anyhow::Result<Offline> {
    let data = match data {
        Some(d) => std::path::absolute(d).with_context(|| format!("resolving {}", d.display()))?,
        None => PathBuf::from("."),
    };
    if dev {
        let cfg = match config {
            Some(p) => ServeConfig::load(p).map_err(coded)?,
            None => ServeConfig::dev_existing(&data),
        };
        let path = data.join("token_enc.key");
        // Never made here: an offline command on a missing key would seal under a
        // key nobody else has.
        let text = std::fs::read_to_string(&path).map_err(|e| {
            CodedError::new(
                "SERVE_E102",
                Exit::Error,
                format!(
                    "cannot read the instance's TOKEN_ENC_KEY at {}: {e}",
                    path.display()
                ),
            )
        })?;
        let enc = vouch_registry::app::parse_enc_key(&path.display().to_string(), &text)
            .map_err(coded)?;
        return Ok(Offline {
            cfg,
            data,
            enc,
            dev_key_file: Some(path),
        });
    }
    let Some(p) = config else {
        return Err(CodedError::new(
            "SERVE_E101",
            Exit::Error,
            "--config FILE is required without --dev",
        )
        .into());
    };
    let cfg = ServeConfig::load(p).map_err(coded)?;
    let var = cfg.registry.token_enc_key_env.clone();
    let enc = enc_from_env(&var)?;
    Ok(Offline {
        cfg,
        data,
        enc,
        dev_key_file: None,
    })
}

fn enc_from_env(var: &str) -> anyhow::Result<vouch_ca::EncryptionKey> {
    let text = std::env::var(var).map_err(|_| {
        CodedError::new(
            "SERVE_E102",
            Exit::Error,
            format!("environment variable {var} is not set (make a new key with `vouch keygen token-enc-key --out FILE`)"),
        )
    })?;
    vouch_registry::app::parse_enc_key(var, &text).map_err(coded)
}

async fn offline_meta(
    cfg: &ServeConfig,
    data: &std::path::Path,
) -> anyhow::Result<Box<dyn MetaStore>> {
    let meta: Box<dyn MetaStore> = match &cfg.database {
        DatabaseConfig::Sqlite { path } => {
            let path = if path.is_relative() {
                data.join(path)
            } else {
                path.clone()
            };
            Box::new(SqliteMeta::open(&path, false).await.map_err(meta_err)?)
        }
        DatabaseConfig::Postgres { url_env } => {
            let url = std::env::var(url_env).map_err(|_| {
                CodedError::new(
                    "SERVE_E102",
                    Exit::Error,
                    format!("environment variable {url_env} is not set"),
                )
            })?;
            Box::new(PostgresMeta::connect(&url).await.map_err(meta_err)?)
        }
        _ => {
            return Err(
                CodedError::new("SERVE_E101", Exit::Error, "unsupported [database] kind").into(),
            )
        }
    };
    meta.check_schema().await.map_err(meta_err)?;
    Ok(meta)
}

async fn rotate_token_enc_key(a: RotateArgs) -> anyhow::Result<Exit> {
    let o = offline(a.config.as_ref(), a.dev, a.data.as_ref())?;
    let new = enc_from_env(&a.new_key_env)?;
    let new_text = std::env::var(&a.new_key_env).unwrap_or_default();
    let meta = offline_meta(&o.cfg, &o.data).await?;
    let objects = vouch_registry::app::open_objects(&o.cfg, false).map_err(coded)?;
    let outcome = vouch_registry::reseal::rotate_token_enc_key(
        meta.as_ref(),
        &*objects,
        &o.enc,
        &new,
        "cli:admin rotate-token-enc-key",
    )
    .await
    .map_err(|e| CodedError::new(e.code(), Exit::Error, e.to_string()))?;
    // Committed (or already done): the new key opens the instance. Only now does the
    // dev key file change, atomically (temp file, then rename).
    let opens_with = match &o.dev_key_file {
        Some(path) => {
            replace_secret(path, new_text.trim())?;
            path.display().to_string()
        }
        None => format!(
            "the key in {} (set {} to it before `vouch serve`)",
            a.new_key_env, o.cfg.registry.token_enc_key_env
        ),
    };
    if a.json {
        let mut v = serde_json::to_value(&outcome)?;
        v["opens_with"] = json!(opens_with);
        print_json(&v)?;
    } else if outcome.already_rotated {
        outln!(
            "already rotated: generation {} opens with the new key; nothing changed",
            outcome.generation
        )?;
        outln!("the instance now opens with {opens_with}")?;
    } else {
        outln!(
            "re-sealed {} objects (generation {} -> {}) and {} registry key(s) under the new key",
            outcome.objects.len(),
            outcome.from_generation,
            outcome.generation,
            outcome.registry_keys.len()
        )?;
        if !outcome.left_sealed.is_empty() {
            outln!(
                "left as they were (retired, sealed under a key lost before): {}",
                outcome.left_sealed.join(", ")
            )?;
        }
        outln!("the instance now opens with {opens_with}; the old key no longer opens it")?;
    }
    Ok(Exit::Ok)
}

async fn reset_sigstore(a: ResetSigstoreArgs) -> anyhow::Result<Exit> {
    if !a.yes {
        return Err(CodedError::new(
            "ADMIN_E035",
            Exit::Error,
            "`vouch admin keys reset-sigstore` replaces the CA, TSA and CT-log keys, so every \
             verifier needs the new trusted root; stop the server, then re-run with --yes to confirm",
        )
        .into());
    }
    let mut o = offline(a.config.as_ref(), a.dev, a.data.as_ref())?;
    // The new CT log is named after the log's origin, settled as `vouch serve` settles
    // it: a `--dev` directory's log key name, else the config (with its public URL).
    if a.dev && a.config.is_none() {
        if let Some(name) = super::serve::existing_log_name(&o.data) {
            o.cfg.log.origin = name;
        }
    }
    if o.cfg.log.origin.is_empty() {
        return Err(CodedError::new(
            "SERVE_E101",
            Exit::Error,
            "the log origin is not known offline: set [registry] public_url (or [log] origin) in the config",
        )
        .into());
    }
    let meta = offline_meta(&o.cfg, &o.data).await?;
    let objects = vouch_registry::app::open_objects(&o.cfg, false).map_err(coded)?;
    let lock: std::sync::Arc<dyn vouch_store::CheckpointLock> = match &o.cfg.storage.lock {
        vouch_registry::config::LockConfig::Sqlite { path } => {
            let path = if path.is_relative() {
                o.data.join(path)
            } else {
                path.clone()
            };
            std::sync::Arc::new(
                vouch_store::SqliteLock::open(&path, false)
                    .await
                    .map_err(store_err)?,
            )
        }
        vouch_registry::config::LockConfig::Postgres { url_env } => {
            let url = std::env::var(url_env).map_err(|_| {
                CodedError::new(
                    "SERVE_E102",
                    Exit::Error,
                    format!("environment variable {url_env} is not set"),
                )
            })?;
            std::sync::Arc::new(
                vouch_store::PostgresLock::connect(&url, false)
                    .await
                    .map_err(store_err)?,
            )
        }
        _ => {
            return Err(CodedError::new(
                "SERVE_E101",
                Exit::Error,
                "unsupported [storage.lock] kind",
            )
            .into())
        }
    };
    let outcome = vouch_registry::reseal::reset_sigstore_keys(
        &o.cfg,
        meta.as_ref(),
        &objects,
        lock,
        &o.enc,
        &vouch_log::SystemClock,
        "cli:admin keys reset-sigstore",
    )
    .await
    .map_err(|e| CodedError::new(e.code(), Exit::Error, e.to_string()))?;
    if a.json {
        print_json(&serde_json::to_value(&outcome)?)?;
    } else {
        outln!(
            "new CA, TSA and CT-log keys sealed under the current TOKEN_ENC_KEY (generation {} -> {}); new CT log {}",
            outcome.from_generation,
            outcome.generation,
            clean(&outcome.ct_origin)
        )?;
        outln!("kept (evidence, not used): {}", outcome.kept.join(", "))?;
        outln!(
            "next: `vouch admin keys reset` if the registry key was sealed under the lost key, start the server, \
             and redistribute the NEW trust root (`vouch trust-config --server URL --out FILE`)"
        )?;
        outln!(
            "bundles signed before this verify only against the OLD trusted root: keep a copy of it"
        )?;
    }
    Ok(Exit::Ok)
}

fn store_err(e: vouch_store::StoreError) -> anyhow::Error {
    CodedError::new("ADMIN_E034", Exit::Error, format!("checkpoint lock: {e}")).into()
}

/// Replaces a secret file atomically: a 0600 temp file beside it, synced, renamed over.
fn replace_secret(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    write_secret(&tmp, text)?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

fn coded(e: vouch_registry::ServeError) -> anyhow::Error {
    CodedError::new(e.code(), Exit::Error, e.to_string()).into()
}

fn meta_err(e: vouch_store::meta::MetaError) -> anyhow::Error {
    CodedError::new(e.code(), Exit::Error, e.to_string()).into()
}

fn getrandom_fill(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("reading randomness for a new TOKEN_ENC_KEY")
}

fn write_secret(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}
