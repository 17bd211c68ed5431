//! `vouch admin init` (create a production instance from its config) and `vouch admin users|tokens|owners` (accounts, through the server's admin API).

use std::path::PathBuf;

use clap::Subcommand;
use vouch_api_client::admin::{
    given_token, parse_duration, AdminClient, Lines, Reply, TokenRequest,
};
use vouch_registry::init::InitOptions;

use crate::output::{answer, error_chain, CodedError, Exit};

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
        let token = given_token(self.token.as_deref(), self.token_file.as_deref())?;
        let token = token.ok_or_else(|| {
            CodedError::error(
                vouch_registry::integrity::ADMIN_TOKEN_MISSING,
                "an administrator token is required: --token-file FILE or VOUCH_ADMIN_TOKEN",
            )
        })?;
        Ok(AdminClient::new(&self.server, &token)?)
    }

    /// Prints an answer: the registry's JSON with `--json`, else its lines.
    pub fn print<T: Lines>(&self, reply: &Reply<T>) -> anyhow::Result<Exit> {
        answer(self.json, &reply.json, &reply.value.lines())
    }
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
    Issue(IssueArgs),
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

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
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

pub async fn users(sub: UsersSub) -> anyhow::Result<Exit> {
    match sub {
        UsersSub::Add {
            name,
            email,
            online,
        } => online.print(&online.client()?.add_user(&name, email.as_deref()).await?),
        UsersSub::List(o) => o.print(&o.client()?.users().await?),
        UsersSub::Disable { name, online } => {
            online.print(&online.client()?.disable_user(&name).await?)
        }
    }
}

pub async fn tokens(sub: TokensSub) -> anyhow::Result<Exit> {
    match sub {
        TokensSub::Issue(a) => {
            if let Some(p) = a.out.as_ref().filter(|p| p.exists()) {
                let msg = format!(
                    "{} already exists; tokens are never written over a file",
                    p.display()
                );
                let code = vouch_registry::keygen::KeygenError::Exists { path: p.clone() }.code();
                return Err(CodedError::error(code, msg).into());
            }
            let req = TokenRequest {
                user: a.user,
                scope: a.scope,
                packages: a.packages,
                expires_in_secs: a.expires,
                label: a.label,
            };
            let r = a.online.client()?.issue_token(&req).await?;
            let Some(p) = &a.out else {
                return a.online.print(&r);
            };
            vouch_registry::keygen::write_new_secret(p, &r.value.secret)
                .map_err(|e| CodedError::error(e.code(), e.to_string()))?;
            a.online.print(&r.saved_to(p))
        }
        TokensSub::List { user, online } => {
            online.print(&online.client()?.tokens(user.as_deref()).await?)
        }
        TokensSub::Revoke { id, online } => online.print(&online.client()?.revoke_token(id).await?),
    }
}

pub async fn owners(sub: OwnersSub) -> anyhow::Result<Exit> {
    match sub {
        OwnersSub::Add {
            package,
            user,
            online,
        } => online.print(&online.client()?.add_owner(&package, &user).await?),
        OwnersSub::Remove {
            package,
            user,
            online,
        } => online.print(&online.client()?.remove_owner(&package, &user).await?),
        OwnersSub::List { package, online } => {
            online.print(&online.client()?.owners(&package).await?)
        }
    }
}

pub async fn init(a: InitArgs) -> anyhow::Result<Exit> {
    let opts = InitOptions {
        admin_name: a.admin,
        admin_email: a.admin_email,
    };
    let token_out = a.admin_token_out.as_deref();
    let r = vouch_registry::offline::init(&a.config, &a.data, &opts, token_out)
        .await
        .map_err(|e| CodedError::error(e.code(), error_chain(&e)))?;
    answer(a.json, &r.json, &r.lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No token, or a blank one, is refused before any request with the registry's
    /// ADMIN_E001 (the code its admin API answers a missing token with).
    #[test]
    fn no_token_is_admin_e001() {
        for token in [None, Some(" \n".to_owned())] {
            let online = Online {
                server: "http://127.0.0.1:1".into(),
                token_file: None,
                token,
                json: false,
            };
            let Err(e) = online.client() else {
                panic!("no token is refused")
            };
            let coded = e.downcast_ref::<CodedError>().expect("a coded error");
            assert_eq!(coded.code(), "ADMIN_E001");
        }
        let online = Online {
            server: "http://127.0.0.1:1".into(),
            token_file: None,
            token: Some(" vouch_admin_x \n".into()),
            json: false,
        };
        assert!(online.client().is_ok());
    }
}
