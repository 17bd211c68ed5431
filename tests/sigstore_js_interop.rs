//! Interoperability with sigstore-js (issue 12): `@sigstore/verify` 4.1.3 from npm, the
//! Sigstore client npm itself uses, verifies `vouch sign` bundles (message signature and
//! DSSE in-toto) against a running `vouch serve --dev`'s trusted root, and refuses them
//! for another identity.
//!
//! sigstore-js finds the log of a checkpoint signature by key hint AND requires the
//! signer's name (the log origin) to appear in that log's `baseUrl`, as public Rekor v2
//! logs do; vouch derives its origin from its public URL for this. Before that it
//! refused every vouch bundle with "invalid checkpoint signature".
//!
//! Needs node and npm: `npm ci` installs exactly what tests/sigstore_js/package-lock.json
//! pins into target/sigstore-js/. A missing tool FAILS the test, it never skips.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const REPOSITORY: &str = "octo/demo";
const WORKFLOW: &str = ".github/workflows/release.yml";
const REF: &str = "refs/heads/main";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

/// Copies the node project into target/sigstore-js and runs `npm ci` there.
fn install_sigstore_js() -> PathBuf {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "sigstore_js_interop needs node on PATH (found: {node:?}); CI must install it"
    );
    let dir = root().join("target/sigstore-js");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["package.json", "package-lock.json", "verify.mjs"] {
        std::fs::copy(root().join("tests/sigstore_js").join(f), dir.join(f)).unwrap();
    }
    let out = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`npm ci` in {} failed (is the npm registry reachable?): {}",
            dir.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("sigstore_js_interop needs npm on PATH: {e}; CI must install it"),
    }
    dir
}

/// Kills the server when the test ends, however it ends.
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

fn start(data: &Path) -> Server {
    let mut child = vouch()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

/// `GET path` with `Connection: close`; returns status and body.
fn get(base: &str, path: &str) -> (u16, Vec<u8>) {
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
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "chunked answers are not handled here"
    );
    (status, resp[split + 4..].to_vec())
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh single-use dev token (each `jti` is spent by one signing).
fn token(base: &str) -> String {
    let out = ok(
        vouch()
            .args(["dev", "token", "--server", base, "--repository", REPOSITORY])
            .args(["--workflow", WORKFLOW, "--ref", REF])
            .output()
            .unwrap(),
        "vouch dev token",
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// sigstore-js's verdict on one bundle, as the script's JSON line, and its exit status.
fn sigstore_js(
    js: &Path,
    trust_config: &Path,
    bundle: &Path,
    artifact: Option<&Path>,
    identity: &str,
    issuer: &str,
) -> (Option<i32>, serde_json::Value) {
    let out = Command::new("node")
        .arg(js.join("verify.mjs"))
        .arg(trust_config)
        .arg(bundle)
        .arg(artifact.map_or_else(|| "-".into(), |a| a.as_os_str().to_owned()))
        .args([identity, issuer])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let verdict = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
        panic!(
            "sigstore-js printed no verdict ({e}):\nstdout: {line}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), verdict)
}

#[test]
fn sigstore_js_verifies_vouch_sign_bundles() {
    let js = install_sigstore_js();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let base = server.base.clone();
    let issuer = format!("{base}/oidc");
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}");

    let (status, body) = get(&base, "/api/v1/trust-config");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let trust_config = dir.path().join("trust-config.json");
    std::fs::write(&trust_config, &body).unwrap();
    // The log's origin is its public URL's host:port, which its baseUrl contains.
    let (_, checkpoint) = get(&base, "/log/checkpoint");
    let origin = String::from_utf8_lossy(&checkpoint)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(format!("http://{origin}"), base);

    // A message signature over a file.
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"hello from vouch's sigstore-js interop test\n").unwrap();
    let signed = dir.path().join("artifact.sigstore.json");
    ok(
        vouch()
            .arg("sign")
            .arg(&artifact)
            .args(["--identity-token", &token(&base), "--server", &base])
            .arg("--bundle")
            .arg(&signed)
            .output()
            .unwrap(),
        "vouch sign",
    );
    // A DSSE envelope over an in-toto statement.
    let statement = root().join("../shared/vectors/sigstore-conformance/statement.json");
    let attested = dir.path().join("statement.sigstore.json");
    ok(
        vouch()
            .arg("sign")
            .arg(&statement)
            .args(["--in-toto", "--identity-token", &token(&base)])
            .args(["--server", &base, "--bundle"])
            .arg(&attested)
            .output()
            .unwrap(),
        "vouch sign --in-toto",
    );

    for (bundle, artifact) in [(&signed, Some(artifact.as_path())), (&attested, None)] {
        let (code, verdict) = sigstore_js(&js, &trust_config, bundle, artifact, &identity, &issuer);
        assert_eq!(code, Some(0), "{}: {verdict}", bundle.display());
        assert_eq!(verdict["verified"], true, "{verdict}");
        assert_eq!(
            verdict["identity"]["subjectAlternativeName"], identity,
            "{verdict}"
        );

        // Another identity is refused, for that reason and no other.
        let other = format!("https://github.com/{REPOSITORY}/.github/workflows/evil.yml@{REF}");
        let (code, verdict) = sigstore_js(&js, &trust_config, bundle, artifact, &other, &issuer);
        assert_eq!(code, Some(1), "{}: {verdict}", bundle.display());
        assert_eq!(verdict["verified"], false, "{verdict}");
        assert_eq!(verdict["code"], "UNTRUSTED_SIGNER_ERROR", "{verdict}");
        let message = verdict["message"].as_str().unwrap();
        assert!(message.contains("identity"), "{verdict}");
    }
}
