//! Recovery from a lost TOKEN_ENC_KEY through the binary, against a stopped `vouch serve --dev` instance: `vouch admin keys reset-sigstore` (new CA, TSA and CT keys, a new CT log) plus `vouch admin keys reset` (registry key) bring the server back; new bundles verify against the new trusted root, old bundles only against the saved old one; the confirmation refusal (ADMIN_E035) writes nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const REPOSITORY: &str = "octo/demo";
const WORKFLOW: &str = ".github/workflows/release.yml";
const REF: &str = "refs/heads/main";

fn vouch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
    c.env_remove("VOUCH_ADMIN_TOKEN");
    c
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vouch serve --dev` on a fixed port: the public URL (and so the trust
/// config) must be the same before and after the rotation.
fn start(data: &Path, port: u16) -> Server {
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

fn get(base: &str, path: &str) -> Vec<u8> {
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
fn ok(out: Output) -> Output {
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
fn refused(out: Output, code: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
    err
}

fn sign(base: &str, file: &Path, bundle: &Path) {
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

fn verify(base: &str, file: &Path, bundle: &Path, root: &Path) -> Output {
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
fn sealed_objects(data: &Path) -> Vec<(String, Vec<u8>)> {
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

fn reset_sigstore(data: &Path, extra: &[&str]) -> Output {
    vouch()
        .args(["admin", "keys", "reset-sigstore", "--dev", "--data"])
        .arg(data)
        .args(extra)
        .output()
        .unwrap()
}

fn audit(base: &str, data: &Path, action: &str) -> Vec<serde_json::Value> {
    let out = ok(vouch()
        .args(["admin", "audit", "--server", base, "--token-file"])
        .arg(data.join("admin.token"))
        .args(["--action", action, "--json"])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["events"].as_array().unwrap().clone()
}

#[test]
fn lost_token_enc_key_recovers_with_a_new_trust_root() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed before the key was lost\n").unwrap();
    let old_bundle = dir.path().join("old.sigstore.json");
    let old_root = dir.path().join("old_trusted_root.json");
    let new_root = dir.path().join("new_trusted_root.json");

    let server = start(&data, port);
    let trust_before = get(&server.base, "/api/v1/trust-config");
    let config: serde_json::Value = serde_json::from_slice(&trust_before).unwrap();
    std::fs::write(
        &old_root,
        serde_json::to_vec(&config["trustedRoot"]).unwrap(),
    )
    .unwrap();
    sign(&server.base, &artifact, &old_bundle);
    ok(verify(&server.base, &artifact, &old_bundle, &old_root));
    drop(server);

    // TOKEN_ENC_KEY lost: a new random one in its place; the server refuses to start.
    let key_file = data.join("token_enc.key");
    std::fs::remove_file(&key_file).unwrap();
    ok(vouch()
        .args(["keygen", "token-enc-key", "--out"])
        .arg(&key_file)
        .output()
        .unwrap());
    let out = vouch()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("error[SIGSTORE_E001]"), "{err}");

    // Without --yes: refused, nothing written.
    let before = sealed_objects(&data);
    let tiles_before = tree(&data.join("tiles"));
    refused(reset_sigstore(&data, &[]), "ADMIN_E035");
    assert_eq!(sealed_objects(&data), before, "nothing was written");
    assert_eq!(tree(&data.join("tiles")), tiles_before);

    let out = ok(reset_sigstore(&data, &["--yes", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["from_generation"].as_u64(), v["generation"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert!(v["ct_origin"].as_str().unwrap().ends_with("/ct-g2"), "{v}");
    // The old objects are kept (evidence), the new generation sits beside them, and
    // the new CT log has its own objects.
    let names: Vec<String> = sealed_objects(&data).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "ca.sealed",
            "ca.sealed.g2",
            "ct-note.sealed",
            "ct-note.sealed.g2",
            "tsa.sealed",
            "tsa.sealed.g2"
        ]
    );
    assert_eq!(sealed_objects(&data)[0], before[0], "ca.sealed untouched");
    assert!(data.join("tiles/ct-g2").is_dir());
    assert!(data.join("tiles/ct").is_dir(), "the old CT log is kept");

    // The registry key was sealed under the lost key too.
    ok(vouch()
        .args(["admin", "keys", "reset", "--dev", "--yes", "--data"])
        .arg(&data)
        .output()
        .unwrap());

    let server = start(&data, port);
    let trust_after = get(&server.base, "/api/v1/trust-config");
    assert_ne!(trust_after, trust_before, "a new trust root");
    let config: serde_json::Value = serde_json::from_slice(&trust_after).unwrap();
    std::fs::write(
        &new_root,
        serde_json::to_vec(&config["trustedRoot"]).unwrap(),
    )
    .unwrap();
    let ct = String::from_utf8(get(&server.base, "/ct/checkpoint")).unwrap();
    assert!(ct.starts_with(v["ct_origin"].as_str().unwrap()), "{ct}");

    let new_bundle = dir.path().join("new.sigstore.json");
    sign(&server.base, &artifact, &new_bundle);
    ok(verify(&server.base, &artifact, &new_bundle, &new_root));
    // The old bundle chains to the old root only.
    verify_refused(
        verify(&server.base, &artifact, &old_bundle, &new_root),
        WRONG_ROOT,
    );
    ok(verify(&server.base, &artifact, &old_bundle, &old_root));
    verify_refused(
        verify(&server.base, &artifact, &new_bundle, &old_root),
        WRONG_ROOT,
    );

    let events = audit(&server.base, &data, "instance.sigstore_keys_reset");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        audit(&server.base, &data, "registry.signing_key.reset").len(),
        1
    );
}

/// A bundle checked against the other generation's trusted root: its timestamp's TSA
/// is not in that root (checked before the certificate chain).
const WRONG_ROOT: &str = "VERIFY_E022";

/// `vouch verify` refused the bundle (exit 1) with exactly `code`.
#[track_caller]
fn verify_refused(out: Output, code: &str) {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// An instance whose current sealed objects are not there (not initialised) is refused
/// before anything is written: no next generation, no new CT log.
#[test]
fn reset_sigstore_refuses_an_uninitialised_instance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    drop(start(&data, port));
    std::fs::remove_file(data.join("tiles/sigstore/tsa.sealed")).unwrap();
    let before = tree(&data.join("tiles"));
    let err = refused(reset_sigstore(&data, &["--yes"]), "ADMIN_E032");
    assert!(err.contains("sigstore/tsa.sealed"), "{err}");
    assert_eq!(tree(&data.join("tiles")), before, "nothing was written");
}
