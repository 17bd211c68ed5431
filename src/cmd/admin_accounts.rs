//! `vouch admin init` (create a production instance from its config) and `vouch admin users|tokens|owners` (accounts, through the server's admin API).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use vouch_api_client::admin::{AdminClient, Reply, TokenRequest, User};
use vouch_registry::init::InitOptions;

use crate::output::{clean, error_chain, outln, print_json, CodedError, Exit};

/// Where the server is and how to authenticate.
#[derive(Debug, clap::Args)]
pub struct Online {
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
    pub json: bool,
}

impl Online {
    /// The admin API client these flags name.
    pub fn client(&self) -> anyhow::Result<AdminClient> {
        let token = match (&self.token, &self.token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(f)
                    .with_context(|| format!("reading the admin token from {}", f.display()))?,
            ),
            (None, None) => None,
        };
        Ok(AdminClient::new(&self.server, token.as_deref())?)
    }

    /// Prints an answer: the registry's JSON with `--json`, else `text`'s lines.
    pub fn print<T>(
        &self,
        reply: &Reply<T>,
        text: impl FnOnce(&T) -> std::io::Result<()>,
    ) -> anyhow::Result<Exit> {
        if self.json {
            print_json(&reply.json)?;
        } else {
            text(&reply.value)?;
        }
        Ok(Exit::Ok)
    }
}

fn user_line(u: &User) -> std::io::Result<()> {
    let state = match &u.disabled_at {
        Some(at) => format!("disabled {}", clean(at)),
        None => "active".to_owned(),
    };
    outln!("user {} {state}", clean(&u.name))
}

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

pub async fn users(sub: UsersSub) -> anyhow::Result<Exit> {
    match sub {
        UsersSub::Add {
            name,
            email,
            online,
        } => {
            let r = online.client()?.add_user(&name, email.as_deref()).await?;
            online.print(&r, |v| user_line(&v.user))
        }
        UsersSub::List(o) => o.print(&o.client()?.users().await?, |v| {
            for u in &v.users {
                let state = match &u.disabled_at {
                    Some(at) => format!("disabled {}", clean(at)),
                    None => "active".to_owned(),
                };
                let email = u.email.as_deref().unwrap_or("-");
                outln!("{} {} {} {state}", u.id, clean(&u.name), clean(email))?;
            }
            Ok(())
        }),
        UsersSub::Disable { name, online } => {
            let r = online.client()?.disable_user(&name).await?;
            online.print(&r, |v| user_line(&v.user))
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
            if let Some(p) = out.as_ref().filter(|p| p.exists()) {
                let msg = format!(
                    "{} already exists; tokens are never written over a file",
                    p.display()
                );
                return Err(CodedError::new("KEYGEN_E002", Exit::Error, msg).into());
            }
            let req = TokenRequest {
                user,
                scope,
                packages,
                expires_in_secs: expires,
                label,
            };
            let r = online.client()?.issue_token(&req).await?;
            let mut shown = r.json.clone();
            if let Some(p) = &out {
                vouch_registry::keygen::write_new_secret(p, &r.value.secret)
                    .map_err(|e| CodedError::new(e.code(), Exit::Error, e.to_string()))?;
                shown["secret"] = serde_json::Value::Null;
                shown["secret_file"] = json!(p.display().to_string());
            }
            if online.json {
                print_json(&shown)?;
                return Ok(Exit::Ok);
            }
            let t = &r.value.token;
            outln!(
                "issued token {} ({} scope) to {}, expires {}",
                t.id,
                clean(&t.scope),
                clean(&t.user),
                clean(t.expires_at.as_deref().unwrap_or("never"))
            )?;
            match &out {
                Some(p) => outln!("token written to {} (mode 0600)", p.display())?,
                None => outln!("token (shown once): {}", r.value.secret)?,
            }
            Ok(Exit::Ok)
        }
        TokensSub::List { user, online } => {
            let r = online.client()?.tokens(user.as_deref()).await?;
            online.print(&r, |v| {
                for t in &v.tokens {
                    outln!(
                        "{} {} {} {} {} expires {} {}",
                        t.id,
                        clean(&t.user),
                        clean(&t.scope),
                        clean(&t.state),
                        clean(&serde_json::to_string(&t.packages).unwrap_or_default()),
                        clean(t.expires_at.as_deref().unwrap_or("never")),
                        clean(t.label.as_deref().unwrap_or(""))
                    )?;
                }
                Ok(())
            })
        }
        TokensSub::Revoke { id, online } => {
            let r = online.client()?.revoke_token(id).await?;
            online.print(&r, |v| {
                outln!("token {} {}", v.token.id, clean(&v.token.state))
            })
        }
    }
}

pub async fn owners(sub: OwnersSub) -> anyhow::Result<Exit> {
    let (r, online) = match sub {
        OwnersSub::Add {
            package,
            user,
            online,
        } => (online.client()?.add_owner(&package, &user).await?, online),
        OwnersSub::Remove {
            package,
            user,
            online,
        } => (
            online.client()?.remove_owner(&package, &user).await?,
            online,
        ),
        OwnersSub::List { package, online } => {
            let r = online.client()?.owners(&package).await?;
            return online.print(&r, |v| {
                for u in &v.owners {
                    outln!("{}", clean(&u.name))?;
                }
                Ok(())
            });
        }
    };
    online.print(&r, |v| {
        let changed = if v.changed { "changed" } else { "unchanged" };
        outln!("{} owner {}: {changed}", clean(&v.package), clean(&v.user))
    })
}

pub async fn init(a: InitArgs) -> anyhow::Result<Exit> {
    if let Some(p) = a.admin_token_out.as_ref().filter(|p| p.exists()) {
        let msg = format!(
            "{} already exists; the admin token is never written over a file",
            p.display()
        );
        return Err(CodedError::new("KEYGEN_E002", Exit::Error, msg).into());
    }
    let opts = InitOptions {
        admin_name: a.admin.clone(),
        admin_email: a.admin_email.clone(),
    };
    let report = vouch_registry::offline::init(&a.config, &a.data, &opts)
        .await
        .map_err(|e| CodedError::new(e.code(), Exit::Error, error_chain(&e)))?;
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
