//! Shared by the tests that stop a `vouch serve --dev`, work on its sealed keys offline (TOKEN_ENC_KEY rotation, lost-key recovery) and start it again: a server on a fixed port, signing and verifying through the binary, and the sealed objects' bytes.
#![allow(dead_code)] // each test binary uses a subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub const REPOSITORY: &str = "octo/demo";
pub const WORKFLOW: &str = ".github/workflows/release.yml";
pub const REF: &str = "refs/heads/main";

pub fn vouch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
    c.env_remove("VOUCH_ADMIN_TOKEN");
    c
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

pub fn get(base: &str, path: &str) -> Vec<u8> {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    resp[split + 4..].to_vec()
}

#[track_caller]
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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

pub fn sign(base: &str, file: &Path, bundle: &Path) {
    let token = ok(vouch()
        .args(["dev", "token", "--server", base, "--repository", REPOSITORY])
        .args(["--workflow", WORKFLOW, "--ref", REF])
        .output()
        .unwrap());
    let token = String::from_utf8(token.stdout).unwrap();
    ok(vouch()
        .arg("sign")
        .arg(file)
        .args(["--identity-token", token.trim(), "--server", base])
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
