//! Shared by the tests that run the `vouch` binary: a command that inherits none of the caller's CI or vouch variables, and an install as docs/deployment.md makes it with no `--dev` (a root holding etc/, data/ and work/, the environment every command sees, the secrets step).
#![allow(dead_code, reason = "each test binary uses part of this")]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};

pub use vouch_testkit::free_port;

/// One install: its files and the environment every command of it sees (the secrets,
/// as systemd's EnvironmentFile would give them).
pub struct Install {
    pub root: tempfile::TempDir,
    pub env: HashMap<String, String>,
    /// Each node's listen address, fixed up front: the public URL names the first, and
    /// the log's origin is derived from that URL.
    pub listens: Vec<String>,
}

impl Install {
    /// A fresh root with etc/, data/ and work/, `nodes` free loopback addresses, and `env`.
    pub fn new(nodes: usize, env: HashMap<String, String>) -> Self {
        let listens = (0..nodes)
            .map(|_| format!("127.0.0.1:{}", free_port()))
            .collect();
        Self::with(listens, env)
    }

    fn with(listens: Vec<String>, env: HashMap<String, String>) -> Self {
        let root = tempfile::tempdir().unwrap();
        for d in ["etc", "data", "work"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        Install { root, env, listens }
    }

    /// Another, empty root with the same addresses and environment (a second instance,
    /// a restore target, a machine missing a secret).
    pub fn beside(&self) -> Self {
        Self::with(self.listens.clone(), self.env.clone())
    }

    /// The first node's address, which is also the log's origin (`host:port` of the
    /// public URL, as Rekor v2 logs name theirs).
    pub fn origin(&self) -> String {
        self.listens[0].clone()
    }

    /// `rel` under the root, as a string argument.
    pub fn p(&self, rel: &str) -> String {
        self.root.path().join(rel).to_str().unwrap().to_owned()
    }

    pub fn etc(&self) -> PathBuf {
        self.root.path().join("etc")
    }
    pub fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }
    pub fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// `vouch ARGS` in work/, with this install's environment and none of the caller's
    /// vouch or CI variables.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = clean_command();
        cmd.envs(&self.env).args(args).current_dir(self.work());
        cmd
    }

    pub fn vouch(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run vouch")
    }

    /// docs/deployment.md, "1. Secrets": the log key for this install's origin, a witness
    /// key named `witness`, the token-encryption key and the internal token, each in
    /// etc/, then given to every later command. Returns `keygen log --json`'s answer.
    pub fn keygen(&mut self, witness: &str) -> serde_json::Value {
        let origin = self.origin();
        let log = ok(&self.vouch(&[
            "keygen",
            "log",
            &origin,
            "--out",
            &self.p("etc/log.key"),
            "--json",
        ]));
        ok(&self.vouch(&[
            "keygen",
            "witness",
            witness,
            "--out",
            &self.p("etc/witness.key"),
        ]));
        for (kind, file) in [
            ("token-enc-key", "etc/token_enc.key"),
            ("internal-token", "etc/internal.token"),
        ] {
            ok(&self.vouch(&["keygen", kind, "--out", &self.p(file)]));
        }
        for (var, file) in [
            ("VOUCH_LOG_KEY", "etc/log.key"),
            ("VOUCH_WITNESS_KEY", "etc/witness.key"),
            ("TOKEN_ENC_KEY", "etc/token_enc.key"),
            ("VOUCH_INTERNAL_TOKEN", "etc/internal.token"),
        ] {
            let value = std::fs::read_to_string(self.p(file)).unwrap();
            self.env.insert(var.into(), value.trim().to_owned());
        }
        log
    }
}

impl Install {
    /// docs/deployment.md's config file for one machine, as etc/vouch.toml: the log
    /// (this install's origin, its key), objects under data/tiles, `lock` and `database`
    /// as the `[storage.lock]` and `[database]` tables' bodies, the witness, internal
    /// token and registry sections, then `extra` (more tables, or nothing).
    pub fn write_config(&self, lock: &str, database: &str, extra: &str) {
        let config = format!(
            r#"[log]
origin = "{origin}"
signing_key_env = "VOUCH_LOG_KEY"

[storage.objects]
kind = "local"
path = "{data}/tiles"

[storage.lock]
{lock}

[database]
{database}

[witness]
signing_key_env = "VOUCH_WITNESS_KEY"

[internal]
token_env = "VOUCH_INTERNAL_TOKEN"

[registry]
public_url = "http://{origin}"
token_enc_key_env = "TOKEN_ENC_KEY"
{extra}"#,
            origin = self.origin(),
            data = self.data().display(),
        );
        std::fs::write(self.etc().join("vouch.toml"), config).unwrap();
    }

    /// docs/deployment.md, "3. Initialise": `vouch admin init` with etc/vouch.toml on
    /// `data`, the admin token written to etc/admin.token, then `extra`.
    pub fn admin_init(&self, data: &str, extra: &[&str]) -> Output {
        let (config, token) = (self.p("etc/vouch.toml"), self.p("etc/admin.token"));
        let mut args = vec![
            "admin",
            "init",
            "--config",
            &config,
            "--data",
            data,
            "--admin-token-out",
            &token,
        ];
        args.extend_from_slice(extra);
        self.vouch(&args)
    }
}

/// The command succeeded; its stdout as JSON (Null when it is not JSON).
#[track_caller]
pub fn ok(out: &Output) -> serde_json::Value {
    vouch_testkit::process::assert_success(out, "the command");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// The command was refused (exit 2) with `error[CODE]`; its stderr.
#[track_caller]
pub fn refused(out: &Output, code: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
    err
}

/// `vouch` with none of the caller's CI token or vouch variables (a developer's shell or
/// a CI runner must not change what a test sees).
pub fn clean_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    for var in [
        "GITHUB_ACTIONS",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GITLAB_CI",
        "SIGSTORE_ID_TOKEN",
        "VOUCH_SERVER",
        "VOUCH_TOKEN",
        "VOUCH_IDENTITY_TOKEN",
        "VOUCH_ADMIN_TOKEN",
        "VOUCH_DATABASE_URL",
        "TOKEN_ENC_KEY",
        "VOUCH_LOG_KEY",
        "VOUCH_WITNESS_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `vouch ARGS` in `cwd`, with a clean environment.
pub fn vouch_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    clean_command()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run vouch")
}
