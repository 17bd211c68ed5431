//! Shared by the tests that stop a `vouch serve --dev`, work on its sealed keys offline (TOKEN_ENC_KEY rotation, lost-key recovery) and start it again: a server on a fixed port, signing and verifying through the binary, and the sealed objects' bytes.
#![allow(dead_code)] // each test binary uses a subset

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use vouch_testkit::process::ChildGuard;

pub use vouch_testkit::free_port;

pub const REPOSITORY: &str = "octo/demo";
pub const WORKFLOW: &str = ".github/workflows/release.yml";
pub const REF: &str = "refs/heads/main";

pub fn vouch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
    c.env_remove("VOUCH_ADMIN_TOKEN");
    c
}

pub struct Server {
    pub child: ChildGuard,
    pub base: String,
}

/// Starts `vouch serve --dev` on a fixed port: the public URL (and so the trust
/// config) must be the same before and after the rotation.
pub fn start(data: &Path, port: u16) -> Server {
    let mut child = vouch()
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("log key ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child: ChildGuard(child),
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// `GET path`: it answered 200, not chunked; the body.
pub fn get(base: &str, path: &str) -> Vec<u8> {
    let (head, body) = vouch_testkit::http1::get(base, path);
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    body
}

#[track_caller]
pub fn ok(out: Output) -> Output {
    vouch_testkit::process::assert_success(&out, "vouch");
    out
}

#[track_caller]
pub fn refused(out: Output, code: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
    err
}

/// A dev identity token for [`REPOSITORY`]'s release workflow on [`REF`], trimmed.
pub fn dev_token(base: &str) -> String {
    let token = ok(vouch()
        .args(["dev", "token", "--server", base, "--repository", REPOSITORY])
        .args(["--workflow", WORKFLOW, "--ref", REF])
        .output()
        .unwrap());
    String::from_utf8(token.stdout).unwrap().trim().to_owned()
}

pub fn sign(base: &str, file: &Path, bundle: &Path) {
    let token = dev_token(base);
    ok(vouch()
        .arg("sign")
        .arg(file)
        .args(["--identity-token", &token, "--server", base])
        .arg("--bundle")
        .arg(bundle)
        .output()
        .unwrap());
}

pub fn verify(base: &str, file: &Path, bundle: &Path, root: &Path) -> Output {
    vouch()
        .arg("verify")
        .arg(file)
        .arg("--bundle")
        .arg(bundle)
        .args([
            "--certificate-identity",
            &format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}"),
            "--certificate-oidc-issuer",
            &format!("{base}/oidc"),
        ])
        .arg("--trusted-root")
        .arg(root)
        .arg("--json")
        .output()
        .unwrap()
}

/// Every sealed object's name and bytes.
pub fn sealed_objects(data: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(data.join("tiles/sigstore"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `vouch admin keys reset-sigstore --dev --data DATA EXTRA..` on a stopped server's data
/// (new CA, TSA and CT keys).
pub fn reset_sigstore(data: &Path, extra: &[&str]) -> Output {
    vouch()
        .args(["admin", "keys", "reset-sigstore", "--dev", "--data"])
        .arg(data)
        .args(extra)
        .output()
        .unwrap()
}

/// `vouch ARGS` in `cwd` with `env`, and none of the caller's CI, server or trust-root
/// variables.
pub fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = vouch();
    for var in [
        "GITHUB_ACTIONS",
        "SIGSTORE_ID_TOKEN",
        "VOUCH_SERVER",
        "VOUCH_TOKEN",
        "VOUCH_TRUST_ROOT_DIR",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).current_dir(cwd).output().unwrap()
}

/// The command failed verification (exit 1) with `error[CODE]` first; its stdout.
#[track_caller]
pub fn refused_with(out: &Output, code: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.starts_with(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The package `@acme/widget`, registered by the owner for acme/widget's release
/// workflow and published at `version` from `work/pkg-VERSION` with a dev token.
pub fn publish_widget(work: &Path, data: &Path, base: &str, version: &str) {
    let run = |args: &[&str]| ok(run_in(work, args, &[]));
    let owner = data.join("owner.token");
    run(&[
        "publish",
        "register",
        "--server",
        base,
        "--token-file",
        owner.to_str().unwrap(),
        "--package",
        "@acme/widget",
        "--provider",
        "github",
        "--repo",
        "acme/widget",
        "--workflow",
        "release.yml",
    ]);
    let token = run(&[
        "dev",
        "token",
        "--server",
        base,
        "--repository",
        "acme/widget",
        "--workflow",
        ".github/workflows/release.yml",
        "--ref",
        "refs/heads/main",
    ]);
    let token_file = work.join("token");
    std::fs::write(&token_file, String::from_utf8(token.stdout).unwrap().trim()).unwrap();
    let pkg = work.join(format!("pkg-{version}"));
    std::fs::create_dir_all(pkg.join("src")).unwrap();
    std::fs::write(
        pkg.join("vouch.toml"),
        format!("[package]\nname = \"@acme/widget\"\nversion = \"{version}\"\n"),
    )
    .unwrap();
    std::fs::write(pkg.join("src/lib.txt"), version).unwrap();
    run(&[
        "publish",
        pkg.to_str().unwrap(),
        "--server",
        base,
        "--identity-token-file",
        token_file.to_str().unwrap(),
    ]);
}

/// `vouch fetch @acme/widget@1.0.0 --server BASE --out out EXTRA..` in `dir`.
pub fn fetch_widget(dir: &Path, base: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "fetch",
        "@acme/widget@1.0.0",
        "--server",
        base,
        "--out",
        "out",
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args, &[])
}

/// Trusts `base`'s first TUF root once (`vouch audit roots --root`), refreshing into
/// `cache`.
pub fn trust_instance(work: &Path, base: &str, cache: &Path) {
    let tuf_root = work.join(format!(
        "tuf-root-{}.json",
        base.len() + cache.as_os_str().len()
    ));
    std::fs::write(&tuf_root, get(base, "/tuf/1.root.json")).unwrap();
    ok(run_in(
        work,
        &[
            "audit",
            "roots",
            "--instance",
            base,
            "--root",
            tuf_root.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ],
        &[],
    ));
}
