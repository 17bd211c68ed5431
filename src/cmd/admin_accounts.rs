//! `vouch admin init` (create a production instance from its config) and `vouch admin users|tokens|owners` (accounts, through the server's admin API).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;
use vouch_registry::init::{InitError, InitOptions};
use vouch_registry::{Secrets, ServeConfig};

use super::admin::{call, Online};
use crate::output::{outln, print_json, CodedError, Exit};

/// Arguments of `vouch admin init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The server's configuration file: the same one `vouch serve --config` reads.
    /// Secrets come from the environment variables it names.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The data directory `vouch serve --data` uses (relative paths in the config are
    /// resolved against it, as serve does).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// User name of the first administrator.
    #[arg(long, value_name = "NAME", default_value = "admin")]
    admin: String,
    /// Email of the first administrator.
    #[arg(long, value_name = "ADDR")]
    admin_email: Option<String>,
    /// Write the first administrator's token to this new file (mode 0600) instead of
    /// printing it.
    #[arg(long, value_name = "FILE")]
    admin_token_out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsersSub {
    /// Add a user (an owner or an administrator: what it may do is the scope of the
    /// tokens issued to it).
    Add {
        /// User name: 1 to 200 of [A-Za-z0-9._-].
        name: String,
        #[arg(long, value_name = "ADDR")]
        email: Option<String>,
        #[command(flatten)]
        online: Online,
    },
    /// List users.
    List(Online),
    /// Disable a user: every token of it stops working at once (AUTH_E004). Its
    /// packages, bindings and audit trail stay.
    Disable {
        name: String,
        #[command(flatten)]
        online: Online,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensSub {
    /// Issue an API token to a user; it is printed once (only its hash is stored).
    Issue {
        /// The user the token belongs to.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// `owner`: registers publisher bindings for packages the user owns (and new
        /// names); `admin`: the admin API.
        #[arg(long, value_parser = ["owner", "admin"])]
        scope: String,
        /// Owner tokens: limit the token to this package (repeat for several).
        #[arg(long = "package", value_name = "@SCOPE/NAME")]
        packages: Vec<String>,
        /// Expire after this long: `90d`, `12h`, `30m`, `3600s` (default: never).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires: Option<u64>,
        /// What the token is for ("CI for acme", "laptop").
        #[arg(long)]
        label: Option<String>,
        /// Write the token to this new file (mode 0600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        online: Online,
    },
    /// List tokens (metadata only, never a secret).
    List {
        /// Only this user's tokens.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        #[command(flatten)]
        online: Online,
    },
    /// Revoke a token by id: refused from then on (AUTH_E005).
    Revoke {
        id: i64,
        #[command(flatten)]
        online: Online,
    },
}

#[derive(Debug, Subcommand)]
pub enum OwnersSub {
    /// Make a user an owner of a package.
    Add {
        /// The package, `@scope/name`.
        package: String,
        /// The user.
        user: String,
        #[command(flatten)]
        online: Online,
    },
    /// Remove an owner from a package.
    Remove {
        package: String,
        user: String,
        #[command(flatten)]
        online: Online,
    },
    /// List a package's owners.
    List {
        package: String,
        #[command(flatten)]
        online: Online,
    },
}

/// `90d`, `12h`, `30m`, `45s` or plain seconds, as seconds.
fn parse_duration(s: &str) -> Result<u64, String> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 90d, 12h, 30m or 3600s, found {s:?}"))?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}: use s, m, h or d")),
    };
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("duration {s:?} is zero or too large"))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn users(sub: UsersSub) -> anyhow::Result<Exit> {
    match sub {
        UsersSub::Add {
            name,
            email,
            online,
        } => {
            call(
                &online,
                "POST",
                "/api/admin/users",
                Some(json!({"name": name, "email": email})),
            )
            .await
        }
        UsersSub::List(o) => call(&o, "GET", "/api/admin/users", None).await,
        UsersSub::Disable { name, online } => {
            let path = format!("/api/admin/users/{}/disable", urlencode(&name));
            call(&online, "POST", &path, Some(json!({}))).await
        }
    }
}

pub async fn tokens(sub: TokensSub) -> anyhow::Result<Exit> {
    match sub {
        TokensSub::Issue {
            user,
            scope,
            packages,
            expires,
            label,
            out,
            online,
        } => {
            if let Some(p) = &out {
                if p.exists() {
                    return Err(CodedError::new(
                        "KEYGEN_E002",
                        Exit::Error,
                        format!(
                            "{} already exists; tokens are never written over a file",
                            p.display()
                        ),
                    )
                    .into());
                }
            }
            let body = json!({
                "user": user,
                "scope": scope,
                "packages": (!packages.is_empty()).then_some(packages),
                "expires_in_secs": expires,
                "label": label,
            });
            let v = super::admin::request(&online, "POST", "/api/admin/tokens", Some(body)).await?;
            let secret = v["secret"].as_str().unwrap_or_default().to_owned();
            let mut shown = v.clone();
            if let Some(p) = &out {
                vouch_registry::keygen::write_new_secret(p, &secret)
                    .map_err(|e| CodedError::new(e.code(), Exit::Error, e.to_string()))?;
                shown["secret"] = serde_json::Value::Null;
                shown["secret_file"] = json!(p.display().to_string());
            }
            if online.json {
                print_json(&shown)?;
            } else {
                let t = &v["token"];
                outln!(
                    "issued token {} ({} scope) to {}, expires {}",
                    t["id"],
                    t["scope"].as_str().unwrap_or(""),
                    t["user"].as_str().unwrap_or(""),
                    t["expires_at"].as_str().unwrap_or("never")
                )?;
                match &out {
                    Some(p) => outln!("token written to {} (mode 0600)", p.display())?,
                    None => outln!("token (shown once): {secret}")?,
                }
            }
            Ok(Exit::Ok)
        }
        TokensSub::List { user, online } => {
            let path = match user {
                Some(u) => format!("/api/admin/tokens?user={}", urlencode(&u)),
                None => "/api/admin/tokens".to_owned(),
            };
            call(&online, "GET", &path, None).await
        }
        TokensSub::Revoke { id, online } => {
            let path = format!("/api/admin/tokens/{id}/revoke");
            call(&online, "POST", &path, Some(json!({}))).await
        }
    }
}

pub async fn owners(sub: OwnersSub) -> anyhow::Result<Exit> {
    match sub {
        OwnersSub::Add {
            package,
            user,
            online,
        } => {
            let body = json!({"package": package, "user": user});
            call(&online, "POST", "/api/admin/owners", Some(body)).await
        }
        OwnersSub::Remove {
            package,
            user,
            online,
        } => {
            let body = json!({"package": package, "user": user});
            call(&online, "POST", "/api/admin/owners/remove", Some(body)).await
        }
        OwnersSub::List { package, online } => {
            let path = format!("/api/admin/owners?package={}", urlencode(&package));
            call(&online, "GET", &path, None).await
        }
    }
}

fn resolve(data: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = data.join(&*p);
    }
}

fn coded_serve(e: vouch_registry::ServeError) -> anyhow::Error {
    CodedError::new(e.code(), Exit::Error, e.to_string()).into()
}

fn coded_init(e: InitError) -> anyhow::Error {
    let mut msg = e.to_string();
    let mut cur = std::error::Error::source(&e);
    while let Some(c) = cur {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cur = c.source();
    }
    CodedError::new(e.code(), Exit::Error, msg).into()
}

pub async fn init(a: InitArgs) -> anyhow::Result<Exit> {
    let mut cfg = ServeConfig::load(&a.config).map_err(coded_serve)?;
    if let vouch_registry::config::ObjectsConfig::Local { path } = &mut cfg.storage.objects {
        resolve(&a.data, path);
    }
    if let vouch_registry::config::LockConfig::Sqlite { path } = &mut cfg.storage.lock {
        resolve(&a.data, path);
    }
    if let vouch_registry::config::DatabaseConfig::Sqlite { path } = &mut cfg.database {
        resolve(&a.data, path);
    }
    let secrets = Secrets::from_env(&cfg).map_err(coded_serve)?;
    if let Some(p) = &a.admin_token_out {
        if p.exists() {
            return Err(CodedError::new(
                "KEYGEN_E002",
                Exit::Error,
                format!(
                    "{} already exists; the admin token is never written over a file",
                    p.display()
                ),
            )
            .into());
        }
    }
    let opts = InitOptions {
        admin_name: a.admin.clone(),
        admin_email: a.admin_email.clone(),
    };
    let report = vouch_registry::init::init(&cfg, secrets, &opts, Arc::new(vouch_log::SystemClock))
        .await
        .map_err(coded_init)?;
    let mut token_file = None;
    if let (Some(admin), Some(p)) = (&report.admin, &a.admin_token_out) {
        vouch_registry::keygen::write_new_secret(p, admin.token.expose())
            .map_err(|e| CodedError::new(e.code(), Exit::Error, e.to_string()))?;
        token_file = Some(p.display().to_string());
    }
    let shown_token = match (&report.admin, &token_file) {
        (Some(admin), None) => Some(admin.token.expose().to_owned()),
        _ => None,
    };
    if a.json {
        print_json(&json!({
            "already_initialised": report.already_initialised(),
            "created": report.created,
            "log_origin": report.log_origin,
            "log_key": report.log_vkey,
            "admin": report.admin.as_ref().map(|x| x.name.clone()),
            "admin_token": shown_token,
            "admin_token_file": token_file,
        }))?;
        return Ok(Exit::Ok);
    }
    if report.already_initialised() {
        outln!(
            "already initialised: log {} (key {}); nothing changed",
            report.log_origin,
            report.log_vkey
        )?;
        return Ok(Exit::Ok);
    }
    outln!("initialised: created {}", report.created.join(", "))?;
    outln!("log origin {}", report.log_origin)?;
    outln!("log key {}", report.log_vkey)?;
    if let Some(admin) = &report.admin {
        outln!("first administrator: {}", admin.name)?;
        match (&token_file, &shown_token) {
            (Some(f), _) => outln!("admin token written to {f} (mode 0600)")?,
            (None, Some(t)) => outln!("admin token (shown once): {t}")?,
            _ => {}
        }
    }
    Ok(Exit::Ok)
}
