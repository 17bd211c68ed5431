//! `vouch admin`: the registry's administrator commands: signing keys (rotate, list, and the offline reset after a lost TOKEN_ENC_KEY), the hash budget, the integrity backfill and the audit log.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{json, Value};
use vouch_registry::config::DatabaseConfig;
use vouch_registry::ServeConfig;
use vouch_store::meta::{MetaStore, PostgresMeta, SqliteMeta};

use super::registry_api::{base_url, http, runtime, unreachable};
use crate::output::{outln, print_json, CodedError, Exit};

/// Administer a registry: keys, settings, backfill, audit log. Online commands talk to
/// the server's admin API with an administrator token (`--token-file`, or the
/// VOUCH_ADMIN_TOKEN variable; `vouch serve --dev` writes DATA/admin.token).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

/// Where the server is and how to authenticate.
#[derive(Debug, clap::Args)]
struct Online {
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
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Sub {
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
        Sub::Settings {
            sub: SettingsSub::HashBudget { bytes, online },
        } => rt.block_on(call(
            &online,
            "PUT",
            "/api/admin/instance/security/hash-budget",
            Some(json!({"bytes": bytes})),
        )),
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

async fn call(o: &Online, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Exit> {
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
    let v: Value = resp
        .json()
        .await
        .map_err(|e| unreachable("admin API (the answer is not JSON)", &url, &e))?;
    if o.json {
        print_json(&v)?;
    } else {
        human(&v)?;
    }
    Ok(Exit::Ok)
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
        "INTEGRITY_E103",
        "INTEGRITY_E105",
    ];
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = v["code"].as_str().unwrap_or("");
    match CODES.iter().find(|c| **c == code) {
        Some(c) => CodedError::new(
            c,
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
    if let Some(events) = v["events"].as_array() {
        for e in events {
            outln!(
                "{} {} {} {} {}",
                e["id"],
                e["at"],
                e["action"].as_str().unwrap_or(""),
                e["actor"].as_str().unwrap_or("-"),
                e["details"]
            )?;
        }
        if let Some(c) = v["next_cursor"].as_i64() {
            outln!("more: --cursor {c}")?;
        }
        return Ok(());
    }
    if let (Some(old), Some(new)) = (v["old_kid"].as_str(), v["new_kid"].as_str()) {
        outln!("rotated: {old} -> {new}")?;
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
                k["kid"].as_str().unwrap_or(""),
                k["created_at"]
            )?;
        }
        if let Some(b) = v["hash_budget_bytes"].as_u64() {
            outln!("hash budget: {b} bytes")?;
        }
        return Ok(());
    }
    outln!("{v}")
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
            None => ServeConfig::dev(&a.data),
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
                format!("environment variable {var} is not set (make a new key with `openssl rand -hex 32`)"),
            )
        })?;
        let enc = vouch_registry::app::parse_enc_key(&var, &text).map_err(coded)?;
        (cfg, enc)
    };
    let meta: Box<dyn MetaStore> = match &cfg.database {
        DatabaseConfig::Sqlite { path } => {
            let path = if path.is_relative() {
                a.data.join(path)
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
